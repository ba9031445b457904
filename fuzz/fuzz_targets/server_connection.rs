//! A `ServerConnection` driven by arbitrary bytes and actions: see
//! `mqtt_session::fuzz::server_connection`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mqtt_session::fuzz::server_connection(std::time::Instant::now(), data)
});
