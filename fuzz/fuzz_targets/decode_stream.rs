//! A stream of packets, whole and in chunks: see `mqtt_proto::fuzz::decode_stream`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mqtt_proto::fuzz::decode_stream(data));
