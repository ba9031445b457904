//! One packet, protocol version picked by the first byte: see `mqtt_proto::fuzz::decode_packet`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mqtt_proto::fuzz::decode_packet(data));
