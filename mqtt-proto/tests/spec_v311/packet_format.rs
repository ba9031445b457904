//! 2 Control Packet format: fixed header flags, remaining length, packet identifier.

use mqtt_proto::{
    AckProperties, Auth, ConnAck, Connect, DecodeError, DecodeOptions, Disconnect, EncodeError,
    FixedHeader, MAX_VAR_INT, Packet, PacketId, PacketType, ProtocolVersion, PubAck, PubComp,
    PubRec, PubRel, Publish, QoSPid, ReasonCode, SubAck, Subscribe, SubscribeProperties,
    SubscriptionOptions, TopicFilter, TopicName, UnsubAck, Unsubscribe, UnsubscribeProperties,
    decode, decode_var_int, var_int_len,
};

use crate::common::{decode_in, hex, pid};
use crate::helpers::{
    V311, dec, enc, frame, minimal_body, mstr, not_in_3_1_1, roundtrip, table_2_2_flags,
    unwrap_publish, unwrap_subscribe,
};

#[test]
fn mqtt_2_2_2_1_mqtt_2_2_2_2_reserved_flags_every_first_byte() {
    // [MQTT-2.2.2-1] reserved flag bits hold the value of Table 2.2; [MQTT-2.2.2-2] any
    // other value is malformed. Also [MQTT-3.6.1-1], [MQTT-3.8.1-1], [MQTT-3.10.1-1] and
    // [MQTT-3.14.1-1], which repeat it for PUBREL, SUBSCRIBE, UNSUBSCRIBE and DISCONNECT.
    for ty in (1..=14).filter(|&t| t != 3) {
        let packet = PacketType::from_u8(ty).unwrap();
        for flags in 0..=15 {
            let bytes = frame((ty << 4) | flags, minimal_body(ty));
            let got = decode_in(V311, &bytes);
            if flags == table_2_2_flags(ty) {
                assert!(got.is_ok(), "{packet} flags {flags:04b}: {got:?}");
            } else {
                assert_eq!(
                    got,
                    Err(DecodeError::InvalidFlags { packet, flags }),
                    "{packet} flags {flags:04b}"
                );
            }
        }
    }
}

#[test]
fn mqtt_2_2_2_1_publish_flags_every_value() {
    // Table 2.2: PUBLISH uses its four bits for DUP, QoS and RETAIN. QoS 3 is malformed
    // [MQTT-3.3.1-4], DUP with QoS 0 is malformed [MQTT-3.3.1-2].
    for flags in 0..=15u8 {
        let qos = (flags >> 1) & 3;
        let body = if qos == 0 {
            "00 01 61"
        } else {
            "00 01 61 00 01"
        };
        let got = decode_in(V311, &frame(0x30 | flags, body));
        match (qos, flags & 0b1000 != 0) {
            (3, _) => assert_eq!(got, Err(DecodeError::InvalidQoS(3)), "{flags:04b}"),
            (0, true) => assert_eq!(got, Err(DecodeError::DupOnQoS0), "{flags:04b}"),
            _ => {
                let p = unwrap_publish(got.unwrap());
                assert_eq!(p.qos().as_u8(), qos);
                assert_eq!(p.dup, flags & 0b1000 != 0);
                assert_eq!(p.retain, flags & 1 != 0);
            }
        }
    }
}

#[test]
fn mqtt_2_2_2_1_encoder_writes_the_flags_of_table_2_2() {
    // [MQTT-2.2.2-1], sending side: every packet starts with its type and Table 2.2 flags.
    let id = pid(1);
    let cases: Vec<(Packet, u8)> = vec![
        (Connect::new(V311, mstr("c")).into(), 0x10),
        (ConnAck::new(false, ReasonCode::Success).into(), 0x20),
        (
            Publish::new(TopicName::from_static("a"), QoSPid::AtMostOnce, "").into(),
            0x30,
        ),
        (PubAck::new(id).into(), 0x40),
        (PubRec::new(id).into(), 0x50),
        (PubRel::new(id).into(), 0x62),
        (PubComp::new(id).into(), 0x70),
        (
            Subscribe {
                packet_id: id,
                properties: SubscribeProperties::default(),
                filters: vec![(
                    TopicFilter::from_static("a"),
                    SubscriptionOptions::default(),
                )],
            }
            .into(),
            0x82,
        ),
        (
            SubAck {
                packet_id: id,
                properties: AckProperties::default(),
                reason_codes: vec![ReasonCode::Success],
            }
            .into(),
            0x90,
        ),
        (
            Unsubscribe {
                packet_id: id,
                properties: UnsubscribeProperties::default(),
                filters: vec![TopicFilter::from_static("a")],
            }
            .into(),
            0xa2,
        ),
        (
            UnsubAck {
                packet_id: id,
                properties: AckProperties::default(),
                reason_codes: vec![],
            }
            .into(),
            0xb0,
        ),
        (Packet::PingReq, 0xc0),
        (Packet::PingResp, 0xd0),
        (Disconnect::default().into(), 0xe0),
    ];
    for (packet, first) in cases {
        let bytes = enc(packet.clone()).unwrap();
        assert_eq!(bytes[0], first, "{}", packet.packet_type());
        assert_eq!(decode_in(V311, &bytes), Ok(packet));
    }
}

#[test]
fn table_2_1_reserved_packet_types() {
    // Table 2.1: types 0 and 15 are reserved ("Forbidden") in 3.1.1; AUTH is 5.0 only.
    assert_eq!(dec("00 00"), Err(DecodeError::ReservedPacketType(0)));
    assert_eq!(dec("f0 00"), Err(DecodeError::ReservedPacketType(15)));
    not_in_3_1_1(enc(Auth::default()));
}

#[test]
fn table_2_4_remaining_length_boundaries() {
    // Section 2.2.3, Table 2.4: each length of the remaining length field, on real
    // packets (a PUBLISH to "a" whose payload fills the rest), encoded and decoded.
    let cases: &[(usize, &str)] = &[
        (127, "7f"),
        (128, "80 01"),
        (16_383, "ff 7f"),
        (16_384, "80 80 01"),
        (2_097_151, "ff ff 7f"),
        (2_097_152, "80 80 80 01"),
    ];
    for &(rem, wire) in cases {
        let p = Publish::new(
            TopicName::from_static("a"),
            QoSPid::AtMostOnce,
            vec![0x55; rem - 3],
        );
        let bytes = enc(p.clone()).unwrap();
        let header = hex(&format!("30 {wire}"));
        assert_eq!(
            &bytes[..header.len()],
            &header[..],
            "remaining length {rem}"
        );
        assert_eq!(bytes.len(), header.len() + rem);
        assert_eq!(decode_in(V311, &bytes), Ok(p.into()));
    }
    // The largest value, 268,435,455 = FF FF FF 7F.
    let h = FixedHeader::parse(&hex("30 ff ff ff 7f"), V311)
        .unwrap()
        .unwrap();
    assert_eq!((h.remaining_len, h.header_len), (268_435_455, 5));
    assert_eq!(MAX_VAR_INT, 268_435_455);
    assert_eq!(var_int_len(MAX_VAR_INT), 4);
    // The non-normative examples: 64 is one byte 0x40, 321 is C1 02.
    assert_eq!(decode_var_int(&hex("40"), false), Ok(Some((64, 1))));
    assert_eq!(decode_var_int(&hex("c1 02"), false), Ok(Some((321, 2))));
}

#[test]
fn remaining_length_above_268_435_455_cannot_be_encoded() {
    // Section 2.2.3: at most four bytes. Only counted, never written: the zeroed payload
    // is not touched.
    let topic = TopicName::from_static("a");
    let fits = Publish::new(
        topic.clone(),
        QoSPid::AtMostOnce,
        vec![0u8; MAX_VAR_INT as usize - 3],
    );
    assert_eq!(fits.encoded_len(V311), Ok(1 + 4 + MAX_VAR_INT as usize));
    let too_big = Publish::new(
        topic,
        QoSPid::AtMostOnce,
        vec![0u8; MAX_VAR_INT as usize - 2],
    );
    assert_eq!(too_big.encoded_len(V311), Err(EncodeError::PacketTooLarge));
}

#[test]
fn remaining_length_of_five_bytes_is_malformed() {
    // Section 2.2.3: the decoding algorithm fails on a fifth byte ("Malformed Remaining
    // Length").
    assert_eq!(dec("30 ff ff ff ff 01"), Err(DecodeError::VarIntTooLong));
    let mut buf = bytes::BytesMut::from(&hex("30 80 80 80 80")[..]);
    assert_eq!(
        decode(&mut buf, V311, &DecodeOptions::default()),
        Err(DecodeError::VarIntTooLong)
    );
}

#[test]
fn remaining_length_not_minimal_is_accepted_in_3_1_1() {
    // 3.1.1 gives the encoding algorithm (which is minimal) but no rule for receivers;
    // only 5.0 makes a non-minimal encoding malformed.
    assert_eq!(dec("c0 80 00"), Ok(Packet::PingReq));
    assert_eq!(
        decode_in(ProtocolVersion::V5, &hex("c0 80 00")),
        Err(DecodeError::VarIntNotMinimal)
    );
}

#[test]
fn remaining_length_bounds_the_packet() {
    // Section 2.2.3: the remaining length counts the variable header and payload. Fields
    // cannot run past it, and an incomplete packet waits for more bytes.
    assert_eq!(dec("40 01 00"), Err(DecodeError::UnexpectedEnd));
    let mut buf = bytes::BytesMut::from(&hex("40 02 00")[..]);
    assert_eq!(decode(&mut buf, V311, &DecodeOptions::default()), Ok(None));
    buf.extend_from_slice(&[0x07]);
    assert_eq!(
        decode(&mut buf, V311, &DecodeOptions::default()),
        Ok(Some(PubAck::new(pid(7)).into()))
    );
}

#[test]
fn mqtt_2_3_1_1_packet_identifier_zero_is_malformed() {
    // [MQTT-2.3.1-1]: SUBSCRIBE, UNSUBSCRIBE and PUBLISH with QoS > 0 carry a non-zero
    // packet identifier.
    for bad in [
        "32 05 00 01 61 00 00",    // PUBLISH QoS 1
        "34 05 00 01 61 00 00",    // PUBLISH QoS 2
        "82 06 00 00 00 01 61 00", // SUBSCRIBE
        "a2 05 00 00 00 01 61",    // UNSUBSCRIBE
    ] {
        assert_eq!(dec(bad), Err(DecodeError::ZeroPacketId), "{bad}");
    }
    // The encoder cannot be given one: identifiers are non-zero by type.
    assert_eq!(PacketId::new(0), None);
}

#[test]
fn acknowledgement_with_packet_identifier_0_is_malformed() {
    // Table 2.5 with [MQTT-2.3.1-1]: an acknowledgement echoes the (non-zero) identifier
    // of the packet it answers, so 0 can never be valid.
    for bad in [
        "40 02 00 00",
        "50 02 00 00",
        "62 02 00 00",
        "70 02 00 00",
        "90 03 00 00 00",
        "b0 02 00 00",
    ] {
        assert_eq!(dec(bad), Err(DecodeError::ZeroPacketId), "{bad}");
    }
}

#[test]
fn table_2_5_packet_identifier_fields() {
    // Table 2.5 / Figure 2.3: the identifier is two bytes, MSB first, in PUBLISH (QoS > 0),
    // PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE and UNSUBACK. The
    // codec carries it unchanged (matching it to the request is the session's
    // [MQTT-2.3.1-6] / [MQTT-2.3.1-7]).
    let p = unwrap_publish(roundtrip("34 05 00 01 61 12 34"));
    assert_eq!(p.packet_id(), Some(pid(0x1234)));
    assert_eq!(roundtrip("40 02 12 34"), PubAck::new(pid(0x1234)).into());
    assert_eq!(roundtrip("50 02 12 34"), PubRec::new(pid(0x1234)).into());
    assert_eq!(roundtrip("62 02 12 34"), PubRel::new(pid(0x1234)).into());
    assert_eq!(roundtrip("70 02 ff ff"), PubComp::new(pid(0xffff)).into());
    let s = unwrap_subscribe(roundtrip("82 06 12 34 00 01 61 00"));
    assert_eq!(s.packet_id, pid(0x1234));
    let Packet::UnsubAck(u) = roundtrip("b0 02 12 34") else {
        panic!()
    };
    assert_eq!(u.packet_id, pid(0x1234));
}

#[test]
fn mqtt_2_3_1_5_qos_0_publish_has_no_packet_identifier() {
    // [MQTT-2.3.1-5]: after the topic of a QoS 0 PUBLISH comes the payload, not an
    // identifier; the encoder writes none.
    let p = unwrap_publish(roundtrip("30 07 00 03 61 2f 62 00 0a"));
    assert_eq!(p.packet_id(), None);
    assert_eq!(&p.payload[..], &[0x00, 0x0a]);
    let p = Publish::new(TopicName::from_static("a/b"), QoSPid::AtMostOnce, "hi");
    assert_eq!(enc(p).unwrap(), hex("30 07 00 03 61 2f 62 68 69"));
}
