//! The async MQTT client.
