//! One whole packet under every protocol version, lenient and strict: see
//! `checks/roundtrip.rs`.
#![no_main]

include!("../checks/roundtrip.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| roundtrip_all_versions(data));
