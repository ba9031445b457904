//! MQTT 5.0 (OASIS Standard, 7 March 2019) conformance of the codec.
//!
//! One test (or more) per normative statement of chapters 1, 2, 3, 4.7 and 4.8.2 that is about
//! the format, encoding or validity of a packet. Each test names the statements it proves in a
//! `// [MQTT-x.y.z-n]` comment, so that grepping a tag finds its test; rules the standard
//! states without a tag are cited by section (`// 3.8.3.1 (untagged)`).
//! `docs/conformance.md` maps every statement of those chapters to these tests or to the
//! session and broker layers.
//!
//! Packets are written in hex as they appear on the wire. Every rejection checks the exact
//! [`DecodeError`](mqtt_proto::DecodeError) and the reason code the connection is closed with.

#[path = "../common/mod.rs"]
mod common;
mod helpers;

mod connect;
mod data_representation;
mod every_packet;
mod limits_and_errors;
mod packet_format;
mod ping_disconnect_auth;
mod properties;
mod publish;
mod reason_codes;
mod subscribe;
mod topics;
