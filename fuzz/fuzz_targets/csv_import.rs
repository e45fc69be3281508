//! libFuzzer entry point for [`mep24web_fuzz::csv_import::check`].

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mep24web_fuzz::csv_import::check(data));
