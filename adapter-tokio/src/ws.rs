//! MQTT over WebSocket: byte streams over binary frames.
