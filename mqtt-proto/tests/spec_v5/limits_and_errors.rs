//! Maximum Packet Size (receiver side) and the encoder's errors.

use bytes::{Bytes, BytesMut};
use mqtt_proto::{
    ConnAck, Connect, DecodeError, DecodeOptions, Disconnect, EncodeError, MAX_VAR_INT, MqttString,
    Packet, ProtocolVersion, Publish, QoS, QoSPid, ReasonCode, StringError, TopicName, Will,
    WillProperties, decode,
};

use crate::common::hex;
use crate::helpers::{V5, enc_err, s};

#[test]
fn packet_larger_than_maximum_packet_size_is_packet_too_large() {
    // 3.1.2.11.4 / 3.2.2.3.6 (untagged, receiver side of [MQTT-3.1.2-24] and [MQTT-3.2.2-15]):
    // a packet whose size (fixed header included, 2.1.4) exceeds the Maximum Packet Size gets
    // 0x95 Packet too large; it is refused from the header alone.
    let opts = DecodeOptions {
        max_packet_size: 10,
        ..DecodeOptions::default()
    };
    // 2 + 8 = 10 bytes: accepted.
    let exact = hex("32 08 00 03 61 2f 62 00 0a 00");
    let mut buf = BytesMut::from(&exact[..]);
    assert!(matches!(
        decode(&mut buf, V5, &opts),
        Ok(Some(Packet::Publish(_)))
    ));
    // 11 bytes, body not yet received: refused at once.
    let mut buf = BytesMut::from(&hex("30 09")[..]);
    let err = decode(&mut buf, V5, &opts).unwrap_err();
    assert_eq!(err, DecodeError::PacketTooLarge { size: 11, max: 10 });
    assert_eq!(err.reason_code(), ReasonCode::PacketTooLarge);
    // A Remaining Length of 268,435,455 with the default options only waits for more bytes.
    let mut buf = BytesMut::from(&hex("30 ff ff ff 7f")[..]);
    assert_eq!(decode(&mut buf, V5, &DecodeOptions::default()), Ok(None));
}

#[test]
fn encode_error_packet_too_large() {
    // 2.1.4: the Remaining Length cannot exceed 268,435,455.
    let payload = Bytes::from(vec![0u8; MAX_VAR_INT as usize]);
    let p = Publish::new(TopicName::from_static("t"), QoSPid::AtMostOnce, payload);
    assert_eq!(p.encoded_len(V5), Err(EncodeError::PacketTooLarge));
    assert_eq!(
        p.encode(V5, &mut Vec::new()),
        Err(EncodeError::PacketTooLarge)
    );
}

#[test]
fn encode_error_field_too_long() {
    // 1.5.6: Binary Data is at most 65,535 bytes (its length is a Two Byte Integer).
    let big = Bytes::from(vec![0u8; 65_536]);
    let mut c = Connect::new(V5, s("c"));
    c.password = Some(big.clone());
    assert_eq!(enc_err(c), EncodeError::FieldTooLong("password"));
    let mut c = Connect::new(V5, s("c"));
    c.will = Some(Will {
        topic: TopicName::from_static("w"),
        payload: big.clone(),
        qos: QoS::AtMostOnce,
        retain: false,
        properties: WillProperties::default(),
    });
    assert_eq!(enc_err(c), EncodeError::FieldTooLong("will payload"));
    let mut p = Publish::new(TopicName::from_static("t"), QoSPid::AtMostOnce, "");
    p.properties.correlation_data = Some(big);
    assert_eq!(enc_err(p), EncodeError::FieldTooLong("binary property"));
    // A string can never be too long: the type holds at most 65,535 bytes.
    assert_eq!(
        MqttString::try_from("x".repeat(65_536)),
        Err(StringError::TooLong(65_536))
    );
}

#[test]
fn encode_error_buffer_too_small_writes_nothing() {
    let p = Publish::new(TopicName::from_static("a/b"), QoSPid::AtMostOnce, "hi");
    let mut small = [0u8; 7];
    let mut dst = &mut small[..];
    assert_eq!(
        p.encode(V5, &mut dst),
        Err(EncodeError::BufferTooSmall {
            needed: 10,
            available: 7
        })
    );
    assert_eq!(small, [0u8; 7]);
    let mut exact = [0u8; 10];
    let mut dst = &mut exact[..];
    assert_eq!(p.encode(V5, &mut dst), Ok(10));
    assert_eq!(exact[..], hex("30 08 00 03 61 2f 62 00 68 69")[..]);
}

#[test]
fn encode_error_not_in_version() {
    // Fields MQTT 3.1.1 does not have are refused, never dropped.
    let v311 = ProtocolVersion::V3_1_1;
    let mut p = Publish::new(TopicName::from_static("t"), QoSPid::AtMostOnce, "");
    p.properties.content_type = Some(s("x"));
    assert_eq!(
        p.encode(v311, &mut Vec::new()),
        Err(EncodeError::NotInVersion {
            field: "PUBLISH properties",
            version: v311
        })
    );
    assert!(matches!(
        Disconnect::new(ReasonCode::ServerShuttingDown).encode(v311, &mut Vec::new()),
        Err(EncodeError::NotInVersion { .. })
    ));
    assert!(matches!(
        ConnAck::new(false, ReasonCode::Banned).encode(v311, &mut Vec::new()),
        Err(EncodeError::NotInVersion { .. })
    ));
}
