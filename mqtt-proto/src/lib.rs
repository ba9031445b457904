//! MQTT 3.1, 3.1.1 and 5.0 packets and their codec.
//!
//! `mqtt-proto` is the wire layer of the stack: one version-aware model of the fifteen
//! control packets ([`Packet`]), a streaming decoder that turns the front of a
//! [`BytesMut`](bytes::BytesMut) into packets without copying payloads, topics or strings,
//! and an encoder into any [`BufMut`](bytes::BufMut) whose length computation is the same
//! code as its writer. It performs no I/O and holds no connection state: packet
//! identifiers, QoS flows, keepalive and topic aliases live in `mqtt-session`.
//!
//! # Decoding
//! [`decode`] takes the connection's [`ProtocolVersion`] and [`DecodeOptions`]; it returns
//! `Ok(None)` until a whole packet is buffered, checks the declared size against the
//! maximum packet size before the body arrives, and validates every field the
//! specification constrains. A [`DecodeError`] names the rule broken and the MQTT 5.0
//! reason code to close the connection with ([`DecodeError::reason_code`]).
//!
//! ```
//! use bytes::BytesMut;
//! use mqtt_proto::{DecodeOptions, Packet, ProtocolVersion, decode};
//!
//! // PUBLISH QoS 0 to "a/b" with payload "hi" (MQTT 3.1.1).
//! let mut buf = BytesMut::from(&b"\x30\x07\x00\x03a/bhi"[..]);
//! let packet = decode(&mut buf, ProtocolVersion::V3_1_1, &DecodeOptions::default())?;
//! let Some(Packet::Publish(p)) = packet else { unreachable!() };
//! assert_eq!(p.topic.as_ref().map(|t| t.as_str()), Some("a/b"));
//! assert_eq!(&p.payload[..], b"hi");
//! # Ok::<(), mqtt_proto::DecodeError>(())
//! ```
//!
//! # Encoding
//! Every packet type has `encode(version, buf)` and `encoded_len(version)`. Asking for a
//! field the version does not have (properties in 3.1.1, a 5.0-only reason code) is an
//! [`EncodeError`], never silently dropped. [`Publish::encode_header`] writes everything
//! but the payload, for vectored writes of a shared payload.
//!
//! ```
//! use mqtt_proto::{Packet, ProtocolVersion, Publish, QoSPid, TopicName};
//!
//! let p = Publish::new(TopicName::from_static("a/b"), QoSPid::AtMostOnce, "hi");
//! let mut out = Vec::new();
//! let n = p.encode(ProtocolVersion::V3_1_1, &mut out)?;
//! assert_eq!(n, p.encoded_len(ProtocolVersion::V3_1_1)?);
//! assert_eq!(out, b"\x30\x07\x00\x03a/bhi");
//! # Ok::<(), mqtt_proto::EncodeError>(())
//! ```
//!
//! # Panics
//! Nothing reachable from received bytes panics. The only panicking functions are the
//! `from_static` constructors, for invalid literals.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic_in_result_fn
    )
)]

mod codec;
mod decoder;
mod error;
#[doc(hidden)]
pub mod fuzz;
mod optbox;
mod packet;
mod property;
mod qos;
mod reason;
mod string;
mod topic;
mod version;

pub use codec::{MAX_VAR_INT, decode_var_int, var_int_len};
pub use decoder::{DecodeOptions, FixedHeader, decode, decode_exact};
pub use error::{DecodeError, EncodeError};
pub use optbox::{EmptySet, OptBox};
pub use packet::{
    Auth, ConnAck, Connect, Disconnect, Packet, PacketType, PubAck, PubComp, PubRec, PubRel,
    Publish, QoSPid, RetainHandling, SubAck, Subscribe, SubscriptionOptions, UnsubAck, Unsubscribe,
    Will,
};
pub use property::{
    AckProperties, AuthProperties, ConnAckProperties, ConnectProperties, DisconnectProperties,
    PropertyId, PublishProperties, SubscribeProperties, SubscriptionId, UnsubscribeProperties,
    UserProperty, WillProperties,
};
pub use qos::{PacketId, QoS};
pub use reason::ReasonCode;
pub use string::{MqttString, StringError};
pub use topic::{TopicError, TopicFilter, TopicName};
pub use version::ProtocolVersion;
