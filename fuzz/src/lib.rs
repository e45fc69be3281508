//! Property checks for the code that reads untrusted input before anyone is signed in: the
//! request host, uploaded employee CSV files and form bodies.
//!
//! Each module has one `check(data: &[u8])` function. The cargo-fuzz binaries in
//! `fuzz_targets/` call it with libFuzzer's inputs, and `tests/properties.rs` calls it with
//! inputs from a seeded random generator, so that stable Rust and CI run the same checks. A
//! check panics when a property fails. Each one reads the bytes twice: once as raw text, and once
//! through `arbitrary::Unstructured` as choices that build realistic input (host names, CSV
//! files, form values), which random bytes alone would rarely hit.

pub mod csv_import;
pub mod form_parsing;
pub mod host_normalization;
