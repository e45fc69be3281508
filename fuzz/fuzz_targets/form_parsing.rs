//! libFuzzer entry point for [`mep24web_fuzz::form_parsing::check`].

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mep24web_fuzz::form_parsing::check(data));
