//! The codec rules of the OASIS MQTT Version 3.1.1 specification (ISO/IEC 20922), one test
//! per rule or per group of closely related rules, with the wire bytes written out in hex.
//!
//! Every test names the normative statements it proves, in its name (`mqtt_3_1_2_3_...`) or
//! in a comment (`// [MQTT-3.1.2-3]`), so that grepping a tag finds its test. Statements
//! about the session or the broker (who sends what when, keep alive, retained messages...)
//! are not codec rules and are not tested here: `docs/conformance.md` lists every
//! statement of sections 1.5, 2, 3 and 4.7 with its layer.
//!
//! The last part covers what the codec accepts of MQTT 3.1 (protocol name `MQIsdp`, level
//! 3): its CONNECT and CONNACK, and the DUP flag that 3.1 allowed on PUBREL, SUBSCRIBE and
//! UNSUBSCRIBE.

#[path = "../common/mod.rs"]
mod common;
mod helpers;

mod connect;
mod data_representation;
mod packet_format;
mod ping_disconnect;
mod publish;
mod subscribe;
mod topics;
mod v3_1;
