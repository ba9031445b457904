//! Arbitrary operation sequences applied to a `Broker`: see
//! `mqtt_broker_core::fuzz::broker_ops`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mqtt_broker_core::fuzz::broker_ops(std::time::Instant::now(), data)
});
