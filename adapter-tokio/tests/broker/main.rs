//! The broker against the outside world: real MQTT clients (mosquitto's command-line
//! clients, Python's paho-mqtt), hand-made and malformed bytes, and the `mqttd` binary's
//! shutdown. Everything runs on 127.0.0.1 with system-chosen ports, and every test bounds
//! its own time. A missing peer program fails the test when `CI` is "true" and skips it
//! (with "SKIP: ..." on stderr) otherwise.

mod our_client;
mod paho;
mod peers;
mod protocol;
mod raw;
mod robustness;
mod shutdown;
mod support;
