//! MQTT broker and client on tokio.
//!
//! This crate will wire `mqtt-broker-core` and `mqtt-session` to tokio sockets (TCP, TLS,
//! WebSockets), and provide the `mqttd` broker binary and the async client.
