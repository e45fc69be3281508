//! libFuzzer entry point for [`mep24web_fuzz::host_normalization::check`].

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mep24web_fuzz::host_normalization::check(data));
