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

use bytes::Bytes;
use mqtt_proto::{
    AckProperties, Auth, ConnAck, ConnAckProperties, Connect, ConnectProperties, DecodeError,
    DecodeOptions, Disconnect, EncodeError, FixedHeader, MAX_VAR_INT, MqttString, Packet, PacketId,
    PacketType, ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, PublishProperties, QoS,
    QoSPid, ReasonCode, RetainHandling, StringError, SubAck, Subscribe, SubscribeProperties,
    SubscriptionId, SubscriptionOptions, TopicError, TopicFilter, TopicName, UnsubAck, Unsubscribe,
    UnsubscribeProperties, Will, WillProperties, decode, decode_exact, decode_var_int, var_int_len,
};

const V311: ProtocolVersion = ProtocolVersion::V3_1_1;
const V31: ProtocolVersion = ProtocolVersion::V3_1;

// ------------------------------------------------------------------------------- helpers

/// Bytes from space-separated hex pairs: `hex("10 0c 00 04")`.
fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap_or_else(|e| panic!("bad hex {b:?}: {e}")))
        .collect()
}

/// A whole packet: the first byte, the remaining length (computed) and `body` in hex.
fn frame(first: u8, body: &str) -> Vec<u8> {
    frame_bytes(first, &hex(body))
}

fn frame_bytes(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    let mut n = body.len();
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        out.push(b);
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
    out
}

/// A 3.1.1 CONNECT ("MQTT", level 4, keep alive 60) with these connect flags and payload.
fn connect(flags: u8, payload: &str) -> Vec<u8> {
    frame(
        0x10,
        &format!("00 04 4d 51 54 54 04 {flags:02x} 00 3c {payload}"),
    )
}

/// A length-prefixed string in hex.
fn str_hex(s: &str) -> String {
    let mut out = format!("{:02x} {:02x}", s.len() >> 8, s.len() & 0xff);
    for b in s.bytes() {
        out.push_str(&format!(" {b:02x}"));
    }
    out
}

/// A 3.1.1 SUBSCRIBE, packet identifier 10, of one filter with requested QoS 0.
fn subscribe_to(filter: &str) -> Vec<u8> {
    frame(0x82, &format!("00 0a {} 00", str_hex(filter)))
}

/// A 3.1.1 PUBLISH QoS 0 to `topic`, no payload.
fn publish_to(topic: &str) -> Vec<u8> {
    frame(0x30, &str_hex(topic))
}

fn decode_in(version: ProtocolVersion, bytes: &[u8]) -> Result<Packet, DecodeError> {
    decode_exact(bytes, version, &DecodeOptions::default())
}

/// Decodes a 3.1.1 packet written in hex.
fn dec(s: &str) -> Result<Packet, DecodeError> {
    decode_in(V311, &hex(s))
}

/// Encodes a packet, checking that `encoded_len` agrees with what is written.
fn encode_in(version: ProtocolVersion, p: impl Into<Packet>) -> Result<Vec<u8>, EncodeError> {
    let p = p.into();
    let mut out = Vec::new();
    let n = p.encode(version, &mut out)?;
    assert_eq!(n, out.len(), "encode returned a wrong length");
    assert_eq!(p.encoded_len(version), Ok(n), "encoded_len disagrees");
    Ok(out)
}

fn enc(p: impl Into<Packet>) -> Result<Vec<u8>, EncodeError> {
    encode_in(V311, p)
}

/// Decodes `bytes` for `version`, checks that the packet encodes back to the same bytes,
/// and returns it.
fn roundtrip_bytes(version: ProtocolVersion, bytes: &[u8]) -> Packet {
    let p = decode_in(version, bytes).unwrap_or_else(|e| panic!("decode {bytes:02x?}: {e}"));
    let again = encode_in(version, p.clone()).unwrap_or_else(|e| panic!("encode {p:?}: {e}"));
    assert_eq!(again, bytes, "re-encoding {p:?} changed the bytes");
    p
}

fn roundtrip(s: &str) -> Packet {
    roundtrip_bytes(V311, &hex(s))
}

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn mstr(s: &str) -> MqttString {
    MqttString::try_from(s).unwrap()
}

fn unwrap_connect(p: Packet) -> Connect {
    match p {
        Packet::Connect(c) => c,
        other => panic!("expected CONNECT, got {other:?}"),
    }
}

fn unwrap_publish(p: Packet) -> Publish {
    match p {
        Packet::Publish(p) => p,
        other => panic!("expected PUBLISH, got {other:?}"),
    }
}

fn unwrap_subscribe(p: Packet) -> Subscribe {
    match p {
        Packet::Subscribe(s) => s,
        other => panic!("expected SUBSCRIBE, got {other:?}"),
    }
}

fn not_in_3_1_1(r: Result<Vec<u8>, EncodeError>) {
    match r {
        Err(EncodeError::NotInVersion { version, .. }) => assert_eq!(version, V311),
        other => panic!("expected NotInVersion for 3.1.1, got {other:?}"),
    }
}

fn bad_name(e: TopicError) -> Result<Packet, DecodeError> {
    Err(DecodeError::InvalidTopicName(e))
}

fn bad_filter(e: TopicError) -> Result<Packet, DecodeError> {
    Err(DecodeError::InvalidTopicFilter(e))
}

/// A string that is not valid UTF-8 (or holds U+0000) is malformed wherever it stands,
/// topics included.
fn bad_string(e: StringError) -> Result<Packet, DecodeError> {
    Err(DecodeError::InvalidString(e))
}

// ------------------------------------------------------ 1.5.3 UTF-8 encoded strings

#[test]
fn mqtt_1_5_3_1_ill_formed_utf8_is_malformed() {
    // [MQTT-1.5.3-1]: an encoded surrogate (U+D800 = ED A0 80), a lone continuation byte
    // and an overlong '/' (C0 AF) are not well-formed UTF-8, wherever the string is.
    let invalid = DecodeError::InvalidString(StringError::InvalidUtf8);
    for bad in ["ed a0 80", "61 80", "c0 af", "ed bf bf"] {
        let n = hex(bad).len();
        let string = format!("00 {n:02x} {bad}");
        // Client identifier, will topic, user name.
        assert_eq!(
            decode_in(V311, &connect(0x02, &string)),
            Err(invalid.clone())
        );
        assert_eq!(
            decode_in(
                V311,
                &connect(0x06, &format!("00 01 63 {string} {}", str_hex("m")))
            ),
            Err(invalid.clone())
        );
        assert_eq!(
            decode_in(V311, &connect(0x82, &format!("00 01 63 {string}"))),
            Err(invalid.clone())
        );
        // Topic name, topic filters.
        let e = StringError::InvalidUtf8;
        assert_eq!(decode_in(V311, &frame(0x30, &string)), bad_string(e));
        assert_eq!(
            decode_in(V311, &frame(0x82, &format!("00 0a {string} 00"))),
            bad_string(e)
        );
        assert_eq!(
            decode_in(V311, &frame(0xa2, &format!("00 0a {string}"))),
            bad_string(e)
        );
    }
}

#[test]
fn mqtt_1_5_3_2_null_character_is_malformed() {
    // [MQTT-1.5.3-2]: U+0000 in any string: client identifier, user name, topic, filter.
    let null = DecodeError::InvalidString(StringError::NullCharacter);
    assert_eq!(
        decode_in(V311, &connect(0x02, "00 03 61 00 62")),
        Err(null.clone())
    );
    assert_eq!(
        decode_in(V311, &connect(0x82, "00 01 63 00 01 00")),
        Err(null)
    );
    let e = StringError::NullCharacter;
    assert_eq!(dec("30 05 00 03 61 00 62"), bad_string(e));
    assert_eq!(dec("82 08 00 0a 00 03 61 00 62 00"), bad_string(e));
    assert_eq!(dec("a2 07 00 0a 00 03 61 00 62"), bad_string(e));
    // Encoding cannot produce one: the string types refuse it.
    assert_eq!(
        MqttString::try_from("a\0b"),
        Err(StringError::NullCharacter)
    );
}

#[test]
fn mqtt_1_5_3_3_byte_order_mark_is_kept() {
    // [MQTT-1.5.3-3]: EF BB BF is U+FEFF wherever it is, never skipped or stripped.
    let p = unwrap_publish(roundtrip("30 06 00 04 ef bb bf 61"));
    assert_eq!(p.topic.unwrap().as_str(), "\u{FEFF}a");
    let c = unwrap_connect(roundtrip_bytes(V311, &connect(0x02, "00 04 61 ef bb bf")));
    assert_eq!(c.client_id.as_str(), "a\u{FEFF}");
    assert_eq!(c.client_id.len(), 4);
}

#[test]
fn figure_1_2_utf8_string_example() {
    // Section 1.5.3.1: "A" followed by U+2A6D4 is 00 05 41 F0 AA 9B 94.
    let p = unwrap_publish(roundtrip("30 07 00 05 41 f0 aa 9b 94"));
    assert_eq!(p.topic.unwrap().as_str(), "A\u{2A6D4}");
}

#[test]
fn discouraged_code_points_are_refused_only_when_strict() {
    // Section 1.5.3 (SHOULD NOT, no tag): U+0001..U+001F, U+007F..U+009F and non-characters
    // should not be sent; a receiver may close the connection. Lenient by default.
    let bytes = connect(0x02, "00 02 61 01");
    assert!(decode_in(V311, &bytes).is_ok());
    let strict = DecodeOptions {
        strict_strings: true,
        ..DecodeOptions::default()
    };
    assert_eq!(
        decode_exact(&bytes, V311, &strict),
        Err(DecodeError::InvalidString(
            StringError::DiscouragedCodePoint(1)
        ))
    );
}

#[test]
fn strings_are_length_prefixed_and_at_most_65535_bytes() {
    // Section 1.5.3, Figure 1.1: a two-byte length, then that many bytes. A length running
    // past the packet is malformed; a string longer than 65,535 bytes cannot be built.
    assert_eq!(dec("30 03 00 05 61"), Err(DecodeError::UnexpectedEnd));
    assert_eq!(
        MqttString::try_from("x".repeat(65_536)),
        Err(StringError::TooLong(65_536))
    );
    assert_eq!(mstr(&"x".repeat(65_535)).len(), 65_535);
    // An empty string is allowed where the field allows it (a zero-length client id).
    assert!(decode_in(V311, &connect(0x02, "00 00")).is_ok());
}

// --------------------------------------------------------- 2 Control Packet format

/// A minimal valid 3.1.1 body for every packet type but PUBLISH (whose flags are its own).
fn minimal_body(ty: u8) -> &'static str {
    match ty {
        1 => "00 04 4d 51 54 54 04 02 00 3c 00 00",
        2 => "00 00",
        4..=7 | 11 => "00 01",
        8 => "00 01 00 01 61 00",
        9 => "00 01 00",
        10 => "00 01 00 01 61",
        12..=14 => "",
        _ => unreachable!(),
    }
}

/// The flags of Table 2.2 for every type but PUBLISH.
fn table_2_2_flags(ty: u8) -> u8 {
    match ty {
        6 | 8 | 10 => 0b0010,
        _ => 0,
    }
}

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

// ------------------------------------------------------------------------ 3.1 CONNECT

#[test]
fn figure_3_6_connect_variable_header_example() {
    // Figure 3.6: "MQTT", level 4, flags CE (user name, password, will QoS 1, will, clean
    // session), keep alive 10; then the payload in the order of [MQTT-3.1.3-1]: client id
    // "c1", will topic "w/t", will message "bye", user name "u", password "pw".
    let bytes = hex("10 1f 00 04 4d 51 54 54 04 ce 00 0a \
         00 02 63 31 00 03 77 2f 74 00 03 62 79 65 00 01 75 00 02 70 77");
    let c = unwrap_connect(roundtrip_bytes(V311, &bytes));
    assert_eq!(c.protocol, V311);
    assert!(c.clean_start);
    assert_eq!(c.keep_alive, 10);
    assert_eq!(c.client_id, "c1");
    let will = c.will.as_ref().unwrap();
    assert_eq!(will.topic.as_str(), "w/t");
    assert_eq!(&will.payload[..], b"bye");
    assert_eq!(will.qos, QoS::AtLeastOnce);
    assert!(!will.retain);
    assert_eq!(c.username.as_ref().unwrap(), "u");
    assert_eq!(&c.password.as_ref().unwrap()[..], b"pw");
    // Built from fields, the same bytes come out.
    let built = Connect {
        keep_alive: 10,
        will: Some(Will {
            topic: TopicName::from_static("w/t"),
            payload: Bytes::from_static(b"bye"),
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: WillProperties::default(),
        }),
        username: Some(mstr("u")),
        password: Some(Bytes::from_static(b"pw")),
        ..Connect::new(V311, mstr("c1"))
    };
    assert_eq!(enc(built).unwrap(), bytes);
}

#[test]
fn connect_minimal() {
    // Sections 3.1.1 and 3.1.2: remaining length 10 + payload; clean session, keep alive
    // 60, client id "abc".
    let bytes = hex("10 0f 00 04 4d 51 54 54 04 02 00 3c 00 03 61 62 63");
    let c = unwrap_connect(roundtrip_bytes(V311, &bytes));
    assert_eq!(c, Connect::new(V311, mstr("abc")));
    assert_eq!(enc(Connect::new(V311, mstr("abc"))).unwrap(), bytes);
}

#[test]
fn mqtt_3_1_2_1_protocol_name_must_be_mqtt() {
    // [MQTT-3.1.2-1]: a CONNECT whose protocol name is not "MQTT" (case matters) is not a
    // 3.1.1 CONNECT.
    for name in ["MQTX", "mqtt", "MQT", "MQTTT", ""] {
        let bytes = frame(0x10, &format!("{} 04 02 00 3c 00 01 63", str_hex(name)));
        assert_eq!(
            decode_in(V311, &bytes),
            Err(DecodeError::UnsupportedProtocolName),
            "{name:?}"
        );
    }
    // The Protocol Name of section 3.1.2.1 is on the wire as 00 04 'M' 'Q' 'T' 'T'.
    let bytes = enc(Connect::new(V311, mstr("c"))).unwrap();
    assert_eq!(&bytes[2..9], &hex("00 04 4d 51 54 54 04")[..]);
}

#[test]
fn mqtt_3_1_2_2_unsupported_protocol_level_is_reported() {
    // [MQTT-3.1.2-2]: the server answers an unsupported level with return code 0x01, so the
    // codec reports the level apart from other errors, with the reason that maps to 0x01.
    for level in [0u8, 1, 2, 3, 6, 0xff] {
        let bytes = frame(
            0x10,
            &format!("00 04 4d 51 54 54 {level:02x} 02 00 3c 00 01 63"),
        );
        let err = decode_in(V311, &bytes).unwrap_err();
        assert_eq!(err, DecodeError::UnsupportedProtocolVersion(level));
        assert_eq!(
            err.reason_code().to_v3_connect_return_code(),
            Some(0x01),
            "level {level}"
        );
    }
}

#[test]
fn mqtt_3_1_2_3_reserved_connect_flag_is_malformed() {
    // [MQTT-3.1.2-3]: bit 0 of the connect flags is reserved and must be 0.
    assert_eq!(
        decode_in(V311, &connect(0x03, "00 01 63")),
        Err(DecodeError::ReservedConnectFlag)
    );
    assert_eq!(
        decode_in(V311, &connect(0x01, "00 01 63")),
        Err(DecodeError::ReservedConnectFlag)
    );
    // The encoder leaves it 0 (byte 8 of the variable header).
    let bytes = enc(Connect::new(V311, mstr("c"))).unwrap();
    assert_eq!(bytes[9] & 1, 0);
}

#[test]
fn connect_clean_session_flag() {
    // Section 3.1.2.4: bit 1. What it does is the session's ([MQTT-3.1.2-4] to -6).
    let c = unwrap_connect(roundtrip_bytes(V311, &connect(0x00, "00 01 63")));
    assert!(!c.clean_start);
    let c = unwrap_connect(roundtrip_bytes(V311, &connect(0x02, "00 01 63")));
    assert!(c.clean_start);
}

#[test]
fn mqtt_3_1_2_9_will_flag_requires_will_topic_and_message() {
    // [MQTT-3.1.2-9]: with the Will Flag the payload has a will topic and a will message.
    assert_eq!(
        decode_in(V311, &connect(0x06, "00 01 63")),
        Err(DecodeError::UnexpectedEnd)
    );
    assert_eq!(
        decode_in(V311, &connect(0x06, "00 01 63 00 01 74")),
        Err(DecodeError::UnexpectedEnd)
    );
    let c = unwrap_connect(roundtrip_bytes(
        V311,
        &connect(0x06, "00 01 63 00 01 74 00 02 6d 6d"),
    ));
    let will = c.will.unwrap();
    assert_eq!(will.topic.as_str(), "t");
    assert_eq!(&will.payload[..], b"mm");
    assert_eq!((will.qos, will.retain), (QoS::AtMostOnce, false));
}

#[test]
fn mqtt_3_1_2_11_mqtt_3_1_2_13_mqtt_3_1_2_15_will_qos_and_retain_need_the_will_flag() {
    // [MQTT-3.1.2-13] Will QoS 0 without the Will Flag; [MQTT-3.1.2-15] Will Retain 0
    // without it; [MQTT-3.1.2-11] both, and no will fields in the payload.
    for flags in [0x0a, 0x12, 0x22, 0x2a, 0x32] {
        assert_eq!(
            decode_in(V311, &connect(flags, "00 01 63")),
            Err(DecodeError::WillFlagsWithoutWill),
            "flags {flags:#04x}"
        );
    }
    // Will fields without the Will Flag are bytes after the last field.
    assert_eq!(
        decode_in(V311, &connect(0x02, "00 01 63 00 01 74 00 01 6d")),
        Err(DecodeError::TrailingBytes(6))
    );
    // The encoder sets will QoS and retain only with a will.
    let bytes = enc(Connect::new(V311, mstr("c"))).unwrap();
    assert_eq!(bytes[9] & 0b0011_1100, 0);
}

#[test]
fn mqtt_3_1_2_14_will_qos_3_is_malformed() {
    // [MQTT-3.1.2-14]: with the Will Flag, Will QoS is 0, 1 or 2, never 3.
    assert_eq!(
        decode_in(V311, &connect(0x1e, "00 01 63 00 01 74 00 00")),
        Err(DecodeError::InvalidQoS(3))
    );
    // Sections 3.1.2.6 and 3.1.2.7: QoS in bits 4-3, retain in bit 5.
    for (flags, qos, retain) in [
        (0x06, QoS::AtMostOnce, false),
        (0x0e, QoS::AtLeastOnce, false),
        (0x16, QoS::ExactlyOnce, false),
        (0x36, QoS::ExactlyOnce, true),
        (0x26, QoS::AtMostOnce, true),
    ] {
        let c = unwrap_connect(roundtrip_bytes(
            V311,
            &connect(flags, "00 01 63 00 01 74 00 00"),
        ));
        let will = c.will.unwrap();
        assert_eq!((will.qos, will.retain), (qos, retain), "flags {flags:#04x}");
    }
}

#[test]
fn mqtt_3_1_2_18_mqtt_3_1_2_19_user_name_flag() {
    // [MQTT-3.1.2-19]: flag 1, a user name follows; [MQTT-3.1.2-18]: flag 0, none does.
    assert_eq!(
        decode_in(V311, &connect(0x82, "00 01 63")),
        Err(DecodeError::UnexpectedEnd)
    );
    assert_eq!(
        decode_in(V311, &connect(0x02, "00 01 63 00 01 75")),
        Err(DecodeError::TrailingBytes(3))
    );
    let c = unwrap_connect(roundtrip_bytes(V311, &connect(0x82, "00 01 63 00 01 75")));
    assert_eq!(c.username.unwrap(), "u");
    assert_eq!(c.password, None);
}

#[test]
fn mqtt_3_1_2_20_mqtt_3_1_2_21_password_flag() {
    // [MQTT-3.1.2-21]: flag 1, a password follows; [MQTT-3.1.2-20]: flag 0, none does.
    assert_eq!(
        decode_in(V311, &connect(0xc2, "00 01 63 00 01 75")),
        Err(DecodeError::UnexpectedEnd)
    );
    assert_eq!(
        decode_in(V311, &connect(0x82, "00 01 63 00 01 75 00 01 70")),
        Err(DecodeError::TrailingBytes(3))
    );
    // Section 3.1.3.5: the password is binary data, any bytes.
    let c = unwrap_connect(roundtrip_bytes(
        V311,
        &connect(0xc2, "00 01 63 00 01 75 00 03 ff 00 80"),
    ));
    assert_eq!(&c.password.unwrap()[..], &[0xff, 0x00, 0x80]);
}

#[test]
fn mqtt_3_1_2_22_password_needs_a_user_name() {
    // [MQTT-3.1.2-22]: user name flag 0 means password flag 0.
    assert_eq!(
        decode_in(V311, &connect(0x42, "00 01 63 00 01 70")),
        Err(DecodeError::PasswordWithoutUsername)
    );
    let c = Connect {
        password: Some(Bytes::from_static(b"p")),
        ..Connect::new(V311, mstr("c"))
    };
    not_in_3_1_1(enc(c));
}

#[test]
fn connect_keep_alive_field() {
    // Section 3.1.2.10, Figure 3.5: two bytes, MSB first; the largest is 65,535 s.
    let bytes = frame(0x10, "00 04 4d 51 54 54 04 02 ff ff 00 01 63");
    let c = unwrap_connect(roundtrip_bytes(V311, &bytes));
    assert_eq!(c.keep_alive, 65_535);
    let bytes = frame(0x10, "00 04 4d 51 54 54 04 02 00 00 00 01 63");
    assert_eq!(unwrap_connect(roundtrip_bytes(V311, &bytes)).keep_alive, 0);
}

#[test]
fn mqtt_3_1_3_1_payload_fields_in_order() {
    // [MQTT-3.1.3-1]: client id, will topic, will message, user name, password. With five
    // strings of one byte each, only the order tells them apart.
    let c = unwrap_connect(roundtrip_bytes(
        V311,
        &connect(0xc6, "00 01 31 00 01 32 00 01 33 00 01 34 00 01 35"),
    ));
    assert_eq!(c.client_id, "1");
    let will = c.will.unwrap();
    assert_eq!(will.topic.as_str(), "2");
    assert_eq!(&will.payload[..], b"3");
    assert_eq!(c.username.unwrap(), "4");
    assert_eq!(&c.password.unwrap()[..], b"5");
}

#[test]
fn mqtt_3_1_3_3_client_identifier_must_be_present() {
    // [MQTT-3.1.3-3]: the client identifier is the first payload field and always there.
    assert_eq!(
        dec("10 0a 00 04 4d 51 54 54 04 02 00 3c"),
        Err(DecodeError::UnexpectedEnd)
    );
    assert_eq!(
        dec("10 0b 00 04 4d 51 54 54 04 02 00 3c 00"),
        Err(DecodeError::UnexpectedEnd)
    );
}

#[test]
fn mqtt_3_1_3_4_client_identifier_is_utf8() {
    // [MQTT-3.1.3-4]
    assert_eq!(
        decode_in(V311, &connect(0x02, "00 02 c3 28")),
        Err(DecodeError::InvalidString(StringError::InvalidUtf8))
    );
    let c = unwrap_connect(roundtrip_bytes(V311, &connect(0x02, "00 02 c3 a9")));
    assert_eq!(c.client_id, "\u{e9}");
}

#[test]
fn mqtt_3_1_3_5_client_identifiers_a_server_must_allow_decode() {
    // [MQTT-3.1.3-5] (broker rule): 1 to 23 bytes of [0-9a-zA-Z] must be allowed; the codec
    // puts no limit of its own, so longer identifiers (which a server MAY allow) decode too.
    for id in [
        "0",
        "0123456789abcdefghijklm",
        "nopqrstuvwxyzABCDEFGHIJ",
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    ] {
        let c = unwrap_connect(roundtrip_bytes(V311, &connect(0x02, &str_hex(id))));
        assert_eq!(c.client_id, id);
    }
}

#[test]
fn mqtt_3_1_3_6_mqtt_3_1_3_8_zero_length_client_identifier_decodes() {
    // [MQTT-3.1.3-6]: a server may accept a zero-byte client id (and assign one);
    // [MQTT-3.1.3-8]: with Clean Session 0 it must answer CONNACK 0x02. Either way the
    // CONNECT itself is well-formed, so it decodes and the broker decides.
    let c = unwrap_connect(roundtrip("10 0c 00 04 4d 51 54 54 04 02 00 3c 00 00"));
    assert!(c.client_id.is_empty() && c.clean_start);
    let c = unwrap_connect(roundtrip("10 0c 00 04 4d 51 54 54 04 00 00 3c 00 00"));
    assert!(c.client_id.is_empty() && !c.clean_start);
    assert_eq!(
        ReasonCode::ClientIdentifierNotValid.to_v3_connect_return_code(),
        Some(0x02)
    );
}

#[test]
fn mqtt_3_1_3_10_will_topic_is_a_utf8_topic_name() {
    // [MQTT-3.1.3-10]: UTF-8; and, being a topic name, non-empty [MQTT-4.7.3-1] and
    // without wildcards [MQTT-4.7.1-1].
    assert_eq!(
        decode_in(V311, &connect(0x06, "00 01 63 00 01 ff 00 00")),
        Err(DecodeError::InvalidString(StringError::InvalidUtf8))
    );
    assert_eq!(
        decode_in(V311, &connect(0x06, "00 01 63 00 00 00 00")),
        bad_name(TopicError::Empty)
    );
    for topic in ["a/+", "#", "a/#"] {
        assert_eq!(
            decode_in(
                V311,
                &connect(0x06, &format!("00 01 63 {} 00 00", str_hex(topic)))
            ),
            bad_name(TopicError::WildcardInName),
            "{topic}"
        );
    }
}

#[test]
fn will_message_is_binary_data() {
    // Section 3.1.3.3: a two-byte length and that many bytes, which need not be UTF-8;
    // zero length is allowed.
    let c = unwrap_connect(roundtrip_bytes(
        V311,
        &connect(0x06, "00 01 63 00 01 74 00 03 00 ff fe"),
    ));
    assert_eq!(&c.will.unwrap().payload[..], &[0x00, 0xff, 0xfe]);
    // A will message longer than 65,535 bytes cannot be encoded.
    let c = Connect {
        will: Some(Will {
            topic: TopicName::from_static("t"),
            payload: Bytes::from(vec![0u8; 65_536]),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: WillProperties::default(),
        }),
        ..Connect::new(V311, mstr("c"))
    };
    assert!(matches!(enc(c), Err(EncodeError::FieldTooLong(_))));
}

#[test]
fn mqtt_3_1_3_11_user_name_is_utf8() {
    // [MQTT-3.1.3-11]
    assert_eq!(
        decode_in(V311, &connect(0x82, "00 01 63 00 02 c3 28")),
        Err(DecodeError::InvalidString(StringError::InvalidUtf8))
    );
}

#[test]
fn mqtt_3_1_4_1_bytes_after_the_last_connect_field_are_malformed() {
    // [MQTT-3.1.4-1]: a CONNECT that does not conform to section 3.1 is refused before any
    // CONNACK; the codec is the part that tells (with every rejection above), including
    // bytes beyond the fields the flags announce.
    assert_eq!(
        decode_in(V311, &connect(0xc2, "00 01 63 00 01 75 00 01 70 00")),
        Err(DecodeError::TrailingBytes(1))
    );
    assert_eq!(
        decode_in(V311, &connect(0x02, "00 01 63 00")),
        Err(DecodeError::TrailingBytes(1))
    );
}

#[test]
fn encoding_v5_only_connect_content_for_3_1_1_fails() {
    // Properties exist only in 5.0: asking for them in a 3.1.1 CONNECT is an error.
    let c = Connect {
        properties: ConnectProperties {
            session_expiry_interval: Some(30),
            ..ConnectProperties::default()
        },
        ..Connect::new(V311, mstr("c"))
    };
    not_in_3_1_1(enc(c));
    let c = Connect {
        will: Some(Will {
            topic: TopicName::from_static("t"),
            payload: Bytes::new(),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: WillProperties {
                will_delay_interval: Some(5),
                ..WillProperties::default()
            },
        }),
        ..Connect::new(V311, mstr("c"))
    };
    not_in_3_1_1(enc(c));
}

// ------------------------------------------------------------------------ 3.2 CONNACK

#[test]
fn figure_3_8_and_3_9_connack() {
    // Figures 3.8 and 3.9: 20 02, acknowledge flags (bit 0 Session Present), return code.
    let p = roundtrip("20 02 00 00");
    assert_eq!(p, ConnAck::new(false, ReasonCode::Success).into());
    let p = roundtrip("20 02 01 00");
    assert_eq!(p, ConnAck::new(true, ReasonCode::Success).into());
}

#[test]
fn table_3_1_connect_return_codes() {
    // Table 3.1: 0 accepted, 1 to 5 refusals, 6 to 255 reserved.
    let codes = [
        ReasonCode::Success,
        ReasonCode::UnsupportedProtocolVersion,
        ReasonCode::ClientIdentifierNotValid,
        ReasonCode::ServerUnavailable,
        ReasonCode::BadUserNameOrPassword,
        ReasonCode::NotAuthorized,
    ];
    for (value, rc) in codes.into_iter().enumerate() {
        let p = roundtrip(&format!("20 02 00 {value:02x}"));
        assert_eq!(p, ConnAck::new(false, rc).into());
    }
    for value in 6..=255u8 {
        assert_eq!(
            dec(&format!("20 02 00 {value:02x}")),
            Err(DecodeError::InvalidReasonCode {
                code: value,
                packet: PacketType::ConnAck
            })
        );
    }
}

#[test]
fn connack_reserved_acknowledge_flags() {
    // Section 3.2.2.1 (no tag): bits 7-1 of the acknowledge flags are reserved, 0.
    for flags in [0x02u8, 0x03, 0x80, 0xfe] {
        assert_eq!(
            dec(&format!("20 02 {flags:02x} 00")),
            Err(DecodeError::ReservedConnAckFlags(flags))
        );
    }
}

#[test]
fn connack_remaining_length_is_2() {
    // Section 3.2.1: remaining length 2, no payload (3.2.3).
    assert_eq!(dec("20 03 00 00 00"), Err(DecodeError::TrailingBytes(1)));
    assert_eq!(dec("20 01 00"), Err(DecodeError::UnexpectedEnd));
}

#[test]
fn mqtt_3_2_2_4_refusal_never_has_session_present_encode() {
    // [MQTT-3.2.2-4]: a non-zero return code goes with Session Present 0.
    assert!(matches!(
        enc(ConnAck::new(true, ReasonCode::NotAuthorized)),
        Err(EncodeError::InvalidValue(_))
    ));
}

#[test]
fn mqtt_3_2_2_4_refusal_with_session_present_is_rejected_on_decode() {
    // [MQTT-3.2.2-4] on the receiving side: CONNACK 01 05 (Session Present with "not
    // authorized") breaks the rule, so it is a protocol violation the client closes on
    // ([MQTT-4.8.0-1]). Whatever the codec decodes must also encode again (the fuzz
    // round-trip property), and the encoder refuses this combination.
    let got = dec("20 02 01 05");
    assert!(
        got.is_err(),
        "CONNACK 20 02 01 05 decoded to {got:?}, which the encoder refuses"
    );
}

#[test]
fn encoding_v5_only_connack_content_for_3_1_1_fails() {
    // Only the six return codes of Table 3.1 exist in 3.1.1, and no properties.
    not_in_3_1_1(enc(ConnAck::new(false, ReasonCode::Banned)));
    not_in_3_1_1(enc(ConnAck::new(false, ReasonCode::ServerBusy)));
    let c = ConnAck {
        properties: ConnAckProperties {
            server_keep_alive: Some(10),
            ..ConnAckProperties::default()
        },
        ..ConnAck::new(false, ReasonCode::Success)
    };
    not_in_3_1_1(enc(c));
}

// ----------------------------------------------------------------------- 3.3 PUBLISH

#[test]
fn figure_3_11_publish_variable_header_example() {
    // Figure 3.11 / Table 3.3: topic "a/b", packet identifier 10 (QoS 1, no payload).
    let p = unwrap_publish(roundtrip("32 07 00 03 61 2f 62 00 0a"));
    assert_eq!(p.topic.as_ref().unwrap().as_str(), "a/b");
    assert_eq!(p.qos_pid, QoSPid::AtLeastOnce(pid(10)));
    assert!(p.payload.is_empty());
}

#[test]
fn figure_3_10_publish_fixed_header_flags() {
    // Figure 3.10: bit 3 DUP, bits 2-1 QoS, bit 0 RETAIN.
    let p = unwrap_publish(roundtrip("3b 08 00 03 61 2f 62 00 0a 78"));
    assert!(p.dup && p.retain);
    assert_eq!(p.qos_pid, QoSPid::AtLeastOnce(pid(10)));
    assert_eq!(&p.payload[..], b"x");
    let p = unwrap_publish(roundtrip("35 07 00 03 61 2f 62 00 0b"));
    assert!(!p.dup && p.retain);
    assert_eq!(p.qos_pid, QoSPid::ExactlyOnce(pid(11)));
    let p = unwrap_publish(roundtrip("31 05 00 03 61 2f 62"));
    assert!(p.retain && p.qos_pid == QoSPid::AtMostOnce);
}

#[test]
fn mqtt_3_3_1_1_dup_flag_is_carried() {
    // [MQTT-3.3.1-1] (session rule: set DUP on redelivery): the codec carries the bit both
    // ways for QoS 1 and 2.
    let mut p = Publish::new(TopicName::from_static("a"), QoSPid::ExactlyOnce(pid(1)), "");
    p.dup = true;
    assert_eq!(enc(p.clone()).unwrap(), hex("3c 05 00 01 61 00 01"));
    assert_eq!(dec("3c 05 00 01 61 00 01"), Ok(p.into()));
}

#[test]
fn mqtt_3_3_1_2_dup_must_be_0_for_qos_0() {
    // [MQTT-3.3.1-2]
    assert_eq!(dec("38 03 00 01 61"), Err(DecodeError::DupOnQoS0));
    assert_eq!(dec("39 03 00 01 61"), Err(DecodeError::DupOnQoS0));
    let mut p = Publish::new(TopicName::from_static("a"), QoSPid::AtMostOnce, "");
    p.dup = true;
    assert!(matches!(enc(p), Err(EncodeError::InvalidValue(_))));
}

#[test]
fn mqtt_3_3_1_4_qos_3_is_malformed() {
    // [MQTT-3.3.1-4]: both QoS bits set; whatever follows.
    for first in ["36", "37", "3e", "3f"] {
        assert_eq!(
            dec(&format!("{first} 05 00 01 61 00 01")),
            Err(DecodeError::InvalidQoS(3)),
            "{first}"
        );
    }
    // Nothing can ask the encoder for QoS 3.
    assert_eq!(QoS::from_u8(3), None);
}

#[test]
fn mqtt_3_3_2_1_topic_name_is_the_first_field_and_utf8() {
    // [MQTT-3.3.2-1]: the topic name is present, first, and UTF-8.
    assert_eq!(dec("30 00"), Err(DecodeError::UnexpectedEnd));
    assert_eq!(dec("30 01 00"), Err(DecodeError::UnexpectedEnd));
    assert_eq!(
        dec("30 04 00 02 c3 28"),
        bad_string(StringError::InvalidUtf8)
    );
    // A zero-length topic name is not a topic name in 3.1.1 [MQTT-4.7.3-1] (only 5.0 has
    // topic aliases).
    assert_eq!(dec("30 02 00 00"), bad_name(TopicError::Empty));
    assert_eq!(dec("32 04 00 00 00 01"), bad_name(TopicError::Empty));
}

#[test]
fn mqtt_3_3_2_2_topic_name_has_no_wildcards() {
    // [MQTT-3.3.2-2], [MQTT-4.7.1-1]
    for topic in ["+", "#", "a/+", "a/#", "+/b", "a+", "a#b"] {
        assert_eq!(
            decode_in(V311, &publish_to(topic)),
            bad_name(TopicError::WildcardInName),
            "{topic}"
        );
    }
    // The encoder cannot be given one.
    assert_eq!(TopicName::try_from("a/+"), Err(TopicError::WildcardInName));
}

#[test]
fn publish_qos_1_and_2_need_a_packet_identifier() {
    // Section 3.3.2.2: the identifier follows the topic when QoS is 1 or 2.
    assert_eq!(dec("32 05 00 03 61 2f 62"), Err(DecodeError::UnexpectedEnd));
    assert_eq!(
        dec("34 06 00 03 61 2f 62 00"),
        Err(DecodeError::UnexpectedEnd)
    );
}

#[test]
fn publish_payload_is_the_rest_and_may_be_empty() {
    // Section 3.3.3: remaining length minus the variable header; zero length is valid,
    // and the bytes are the application's (not UTF-8).
    let p = unwrap_publish(roundtrip("30 03 00 01 61"));
    assert!(p.payload.is_empty());
    let p = unwrap_publish(roundtrip("32 08 00 01 61 00 02 00 ff 80"));
    assert_eq!(&p.payload[..], &[0x00, 0xff, 0x80]);
}

#[test]
fn encoding_v5_only_publish_content_for_3_1_1_fails() {
    let mut p = Publish::new(TopicName::from_static("a"), QoSPid::AtMostOnce, "");
    p.properties = PublishProperties {
        message_expiry_interval: Some(60),
        ..PublishProperties::default()
    };
    not_in_3_1_1(enc(p.clone()));
    // Without a topic name (a 5.0 topic alias) there is nothing to send in 3.1.1.
    p.properties = PublishProperties::default();
    p.topic = None;
    assert_eq!(enc(p), Err(EncodeError::MissingTopic));
}

// ----------------------------------------------------- 3.4 to 3.7 PUBACK ... PUBCOMP

#[test]
fn figures_3_12_to_3_19_publish_acknowledgements() {
    // PUBACK 40, PUBREC 50, PUBREL 62, PUBCOMP 70; remaining length 2, the identifier.
    assert_eq!(roundtrip("40 02 00 0a"), PubAck::new(pid(10)).into());
    assert_eq!(roundtrip("50 02 00 0a"), PubRec::new(pid(10)).into());
    assert_eq!(roundtrip("62 02 00 0a"), PubRel::new(pid(10)).into());
    assert_eq!(roundtrip("70 02 00 0a"), PubComp::new(pid(10)).into());
}

#[test]
fn publish_acknowledgements_have_remaining_length_2() {
    // Sections 3.4.1 to 3.7.1: no reason code, no properties, no payload in 3.1.1.
    for first in ["40", "50", "62", "70"] {
        assert_eq!(
            dec(&format!("{first} 03 00 0a 00")),
            Err(DecodeError::TrailingBytes(1)),
            "{first}"
        );
        assert_eq!(
            dec(&format!("{first} 01 00")),
            Err(DecodeError::UnexpectedEnd),
            "{first}"
        );
    }
}

#[test]
fn mqtt_3_6_1_1_pubrel_reserved_flags() {
    // [MQTT-3.6.1-1]: PUBREL flags are 0010; anything else is malformed.
    for flags in [0b0000u8, 0b0011, 0b0110, 0b1010, 0b1111] {
        assert_eq!(
            decode_in(V311, &frame(0x60 | flags, "00 0a")),
            Err(DecodeError::InvalidFlags {
                packet: PacketType::PubRel,
                flags
            })
        );
    }
    assert_eq!(enc(PubRel::new(pid(10))).unwrap(), hex("62 02 00 0a"));
}

#[test]
fn encoding_v5_only_acknowledgement_content_for_3_1_1_fails() {
    let mut ack = PubAck::new(pid(1));
    ack.reason_code = ReasonCode::NoMatchingSubscribers;
    not_in_3_1_1(enc(ack));
    let mut rel = PubRel::new(pid(1));
    rel.reason_code = ReasonCode::PacketIdentifierNotFound;
    not_in_3_1_1(enc(rel));
    let mut rec = PubRec::new(pid(1));
    rec.properties.reason_string = Some(mstr("why"));
    not_in_3_1_1(enc(rec));
}

// --------------------------------------------------------------------- 3.8 SUBSCRIBE

#[test]
fn figures_3_21_and_3_23_subscribe_example() {
    // Figure 3.21: packet identifier 10; Figure 3.23 / Table 3.5: "a/b" QoS 1, "c/d" QoS 2.
    let s = unwrap_subscribe(roundtrip("82 0e 00 0a 00 03 61 2f 62 01 00 03 63 2f 64 02"));
    assert_eq!(s.packet_id, pid(10));
    let filters: Vec<(&str, QoS)> = s.filters.iter().map(|(f, o)| (f.as_str(), o.qos)).collect();
    assert_eq!(
        filters,
        [("a/b", QoS::AtLeastOnce), ("c/d", QoS::ExactlyOnce)]
    );
}

#[test]
fn mqtt_3_8_1_1_subscribe_reserved_flags() {
    // [MQTT-3.8.1-1]: SUBSCRIBE flags are 0010.
    for flags in [0b0000u8, 0b0011, 0b0110, 0b1010] {
        assert_eq!(
            decode_in(V311, &frame(0x80 | flags, "00 0a 00 01 61 00")),
            Err(DecodeError::InvalidFlags {
                packet: PacketType::Subscribe,
                flags
            })
        );
    }
}

#[test]
fn mqtt_3_8_3_1_subscribe_topic_filters_are_utf8() {
    // [MQTT-3.8.3-1]
    assert_eq!(
        dec("82 07 00 0a 00 02 c3 28 00"),
        bad_string(StringError::InvalidUtf8)
    );
    assert_eq!(
        dec("82 08 00 0a 00 03 61 00 62 00"),
        bad_string(StringError::NullCharacter)
    );
}

#[test]
fn mqtt_3_8_3_3_subscribe_needs_at_least_one_filter() {
    // [MQTT-3.8.3-3]: a SUBSCRIBE without payload is a protocol violation.
    assert_eq!(
        dec("82 02 00 0a"),
        Err(DecodeError::NoTopicFilters(PacketType::Subscribe))
    );
    let s = Subscribe {
        packet_id: pid(10),
        properties: SubscribeProperties::default(),
        filters: vec![],
    };
    assert_eq!(enc(s), Err(EncodeError::Empty(PacketType::Subscribe)));
}

#[test]
fn mqtt_3_8_3_4_requested_qos_reserved_bits_and_qos_3() {
    // [MQTT-3-8.3-4] (the tag is spelled so in the standard): bits 7-2 of the requested
    // QoS byte are reserved, and QoS 3 is malformed. Bits 2-5 mean something only in 5.0.
    for b in [0x03u8, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff] {
        assert_eq!(
            decode_in(V311, &frame(0x82, &format!("00 0a 00 01 61 {b:02x}"))),
            Err(DecodeError::InvalidSubscriptionOptions(b)),
            "{b:#04x}"
        );
    }
    // Figure 3.22: the filter is followed by its requested QoS byte.
    assert_eq!(dec("82 05 00 0a 00 01 61"), Err(DecodeError::UnexpectedEnd));
}

#[test]
fn encoding_v5_only_subscribe_content_for_3_1_1_fails() {
    let filter = TopicFilter::from_static("a/b");
    let with = |options: SubscriptionOptions| Subscribe {
        packet_id: pid(1),
        properties: SubscribeProperties::default(),
        filters: vec![(filter.clone(), options)],
    };
    let base = SubscriptionOptions::new(QoS::AtLeastOnce);
    not_in_3_1_1(enc(with(SubscriptionOptions {
        no_local: true,
        ..base
    })));
    not_in_3_1_1(enc(with(SubscriptionOptions {
        retain_as_published: true,
        ..base
    })));
    not_in_3_1_1(enc(with(SubscriptionOptions {
        retain_handling: RetainHandling::DoNotSend,
        ..base
    })));
    let mut s = with(base);
    s.properties.subscription_identifier = SubscriptionId::new(5);
    not_in_3_1_1(enc(s));
    assert_eq!(
        enc(with(base)).unwrap(),
        hex("82 08 00 01 00 03 61 2f 62 01")
    );
}

// ------------------------------------------------------------------------ 3.9 SUBACK

#[test]
fn figure_3_27_suback_example() {
    // Figure 3.27 / Table 3.6: Success QoS 0, Success QoS 2, Failure.
    let p = roundtrip("90 05 00 0a 00 02 80");
    let Packet::SubAck(s) = p else { panic!() };
    assert_eq!(s.packet_id, pid(10));
    assert_eq!(
        s.reason_codes,
        [
            ReasonCode::GRANTED_QOS_0,
            ReasonCode::GrantedQoS2,
            ReasonCode::UnspecifiedError
        ]
    );
}

#[test]
fn mqtt_3_9_3_1_return_codes_keep_their_order() {
    // [MQTT-3.9.3-1] (the broker orders them): the codec keeps the wire order both ways.
    let codes = [
        ReasonCode::GrantedQoS2,
        ReasonCode::Success,
        ReasonCode::UnspecifiedError,
        ReasonCode::GrantedQoS1,
    ];
    let s = SubAck {
        packet_id: pid(7),
        properties: AckProperties::default(),
        reason_codes: codes.to_vec(),
    };
    assert_eq!(enc(s.clone()).unwrap(), hex("90 06 00 07 02 00 80 01"));
    assert_eq!(dec("90 06 00 07 02 00 80 01"), Ok(s.into()));
}

#[test]
fn mqtt_3_9_3_2_reserved_suback_return_codes() {
    // [MQTT-3.9.3-2]: only 0x00, 0x01, 0x02 and 0x80.
    for code in (0..=255u8).filter(|c| ![0x00, 0x01, 0x02, 0x80].contains(c)) {
        assert_eq!(
            dec(&format!("90 03 00 0a {code:02x}")),
            Err(DecodeError::InvalidReasonCode {
                code,
                packet: PacketType::SubAck
            })
        );
    }
    // The 5.0 SUBACK reason codes are not 3.1.1 return codes.
    for rc in [
        ReasonCode::NotAuthorized,
        ReasonCode::TopicFilterInvalid,
        ReasonCode::QuotaExceeded,
    ] {
        let s = SubAck {
            packet_id: pid(1),
            properties: AckProperties::default(),
            reason_codes: vec![rc],
        };
        assert_eq!(
            enc(s),
            Err(EncodeError::InvalidReasonCode {
                code: rc,
                packet: PacketType::SubAck
            })
        );
    }
}

#[test]
fn suback_has_a_return_code_per_filter() {
    // Section 3.9.3 with [MQTT-3.8.3-3]: at least one filter, so at least one return code.
    assert_eq!(
        dec("90 02 00 0a"),
        Err(DecodeError::NoReasonCodes(PacketType::SubAck))
    );
    let s = SubAck {
        packet_id: pid(1),
        properties: AckProperties::default(),
        reason_codes: vec![],
    };
    assert_eq!(enc(s), Err(EncodeError::Empty(PacketType::SubAck)));
    let s = SubAck {
        packet_id: pid(1),
        properties: AckProperties {
            reason_string: Some(mstr("x")),
            ..AckProperties::default()
        },
        reason_codes: vec![ReasonCode::Success],
    };
    not_in_3_1_1(enc(s));
}

// ------------------------------------------------------------------- 3.10 UNSUBSCRIBE

#[test]
fn figure_3_30_unsubscribe_example() {
    // Figures 3.28 to 3.30 / Table 3.7: identifier 10, filters "a/b" and "c/d".
    let p = roundtrip("a2 0c 00 0a 00 03 61 2f 62 00 03 63 2f 64");
    let Packet::Unsubscribe(u) = p else { panic!() };
    assert_eq!(u.packet_id, pid(10));
    let filters: Vec<&str> = u.filters.iter().map(TopicFilter::as_str).collect();
    assert_eq!(filters, ["a/b", "c/d"]);
}

#[test]
fn mqtt_3_10_1_1_unsubscribe_reserved_flags() {
    // [MQTT-3.10.1-1]: UNSUBSCRIBE flags are 0010.
    for flags in [0b0000u8, 0b0011, 0b0110, 0b1010] {
        assert_eq!(
            decode_in(V311, &frame(0xa0 | flags, "00 0a 00 01 61")),
            Err(DecodeError::InvalidFlags {
                packet: PacketType::Unsubscribe,
                flags
            })
        );
    }
}

#[test]
fn mqtt_3_10_3_1_unsubscribe_topic_filters_are_utf8() {
    // [MQTT-3.10.3-1]: UTF-8 strings, packed one after the other.
    assert_eq!(
        dec("a2 06 00 0a 00 02 c3 28"),
        bad_string(StringError::InvalidUtf8)
    );
    // A filter cut short by the remaining length.
    assert_eq!(
        dec("a2 07 00 0a 00 01 61 00 03"),
        Err(DecodeError::UnexpectedEnd)
    );
    // Filters follow the wildcard rules of 4.7.
    assert_eq!(
        dec("a2 06 00 0a 00 02 61 23"),
        bad_filter(TopicError::InvalidMultiLevelWildcard)
    );
}

#[test]
fn mqtt_3_10_3_2_unsubscribe_needs_at_least_one_filter() {
    // [MQTT-3.10.3-2]
    assert_eq!(
        dec("a2 02 00 0a"),
        Err(DecodeError::NoTopicFilters(PacketType::Unsubscribe))
    );
    let u = Unsubscribe {
        packet_id: pid(10),
        properties: UnsubscribeProperties::default(),
        filters: vec![],
    };
    assert_eq!(enc(u), Err(EncodeError::Empty(PacketType::Unsubscribe)));
    let u = Unsubscribe {
        packet_id: pid(10),
        properties: UnsubscribeProperties {
            user_properties: vec![(mstr("k"), mstr("v"))],
        },
        filters: vec![TopicFilter::from_static("a")],
    };
    not_in_3_1_1(enc(u));
}

// ---------------------------------------------------------------------- 3.11 UNSUBACK

#[test]
fn figure_3_31_unsuback() {
    // Figures 3.31 and 3.32: remaining length 2, the identifier, no payload.
    let p = roundtrip("b0 02 00 0a");
    let Packet::UnsubAck(u) = p else { panic!() };
    assert_eq!(u.packet_id, pid(10));
    assert!(u.reason_codes.is_empty());
    assert_eq!(dec("b0 03 00 0a 00"), Err(DecodeError::TrailingBytes(1)));
    // 5.0 reason codes per filter do not exist in 3.1.1.
    let u = UnsubAck {
        packet_id: pid(10),
        properties: AckProperties::default(),
        reason_codes: vec![ReasonCode::NoSubscriptionExisted],
    };
    not_in_3_1_1(enc(u));
}

// ------------------------------------------------------ 3.12 to 3.14 PING, DISCONNECT

#[test]
fn figures_3_33_and_3_34_pingreq_pingresp() {
    // No variable header, no payload.
    assert_eq!(roundtrip("c0 00"), Packet::PingReq);
    assert_eq!(roundtrip("d0 00"), Packet::PingResp);
    assert_eq!(dec("c0 01 00"), Err(DecodeError::TrailingBytes(1)));
    assert_eq!(dec("d0 01 00"), Err(DecodeError::TrailingBytes(1)));
}

#[test]
fn mqtt_3_14_1_1_disconnect_reserved_flags() {
    // [MQTT-3.14.1-1]: the reserved bits are 0; figure 3.35: remaining length 0.
    assert_eq!(roundtrip("e0 00"), Disconnect::default().into());
    for flags in [1u8, 2, 4, 8, 15] {
        assert_eq!(
            decode_in(V311, &frame(0xe0 | flags, "")),
            Err(DecodeError::InvalidFlags {
                packet: PacketType::Disconnect,
                flags
            })
        );
    }
    assert_eq!(dec("e0 01 00"), Err(DecodeError::TrailingBytes(1)));
    // A 3.1.1 DISCONNECT has no reason code.
    not_in_3_1_1(enc(Disconnect::new(ReasonCode::ServerBusy)));
}

// ------------------------------------------------------ 4.7 Topic names and filters

#[test]
fn mqtt_4_7_1_1_wildcards_in_filters_not_in_names() {
    // [MQTT-4.7.1-1]
    let s = unwrap_subscribe(roundtrip_bytes(V311, &subscribe_to("+/tennis/#")));
    assert_eq!(s.filters[0].0.as_str(), "+/tennis/#");
    assert_eq!(
        decode_in(V311, &publish_to("+/tennis/#")),
        bad_name(TopicError::WildcardInName)
    );
}

#[test]
fn mqtt_4_7_1_2_multi_level_wildcard() {
    // [MQTT-4.7.1-2]: '#' alone or after '/', and last. The examples of 4.7.1.2.
    for ok in ["#", "sport/#", "sport/tennis/#", "/#", "+/#"] {
        assert!(decode_in(V311, &subscribe_to(ok)).is_ok(), "{ok}");
    }
    for bad in [
        "sport/tennis#",
        "sport/tennis/#/ranking",
        "#/",
        "##",
        "a/#b",
    ] {
        assert_eq!(
            decode_in(V311, &subscribe_to(bad)),
            bad_filter(TopicError::InvalidMultiLevelWildcard),
            "{bad}"
        );
    }
    // Matching (broker side, helper here): '#' covers the parent and any children.
    let f = TopicFilter::from_static("sport/tennis/player1/#");
    assert!(f.matches("sport/tennis/player1"));
    assert!(f.matches("sport/tennis/player1/ranking"));
    assert!(f.matches("sport/tennis/player1/score/wimbledon"));
    assert!(TopicFilter::from_static("sport/#").matches("sport"));
    assert!(TopicFilter::from_static("#").matches("any/thing"));
}

#[test]
fn mqtt_4_7_1_3_single_level_wildcard() {
    // [MQTT-4.7.1-3]: '+' occupies a whole level. The examples of 4.7.1.3.
    for ok in ["+", "+/tennis/#", "sport/+/player1", "+/+", "/+"] {
        assert!(decode_in(V311, &subscribe_to(ok)).is_ok(), "{ok}");
    }
    for bad in ["sport+", "+a", "a/b+/c", "++"] {
        assert_eq!(
            decode_in(V311, &subscribe_to(bad)),
            bad_filter(TopicError::InvalidSingleLevelWildcard),
            "{bad}"
        );
    }
    let f = TopicFilter::from_static("sport/tennis/+");
    assert!(f.matches("sport/tennis/player1"));
    assert!(f.matches("sport/tennis/player2"));
    assert!(!f.matches("sport/tennis/player1/ranking"));
    assert!(!TopicFilter::from_static("sport/+").matches("sport"));
    assert!(TopicFilter::from_static("sport/+").matches("sport/"));
    assert!(TopicFilter::from_static("+/+").matches("/finance"));
    assert!(TopicFilter::from_static("/+").matches("/finance"));
    assert!(!TopicFilter::from_static("+").matches("/finance"));
}

#[test]
fn mqtt_4_7_2_1_wildcards_do_not_match_dollar_topics() {
    // [MQTT-4.7.2-1] (broker rule; the matching helper lives in mqtt-proto).
    assert!(!TopicFilter::from_static("#").matches("$SYS/broker/uptime"));
    assert!(!TopicFilter::from_static("+/monitor/Clients").matches("$SYS/monitor/Clients"));
    assert!(TopicFilter::from_static("$SYS/#").matches("$SYS/monitor/Clients"));
    assert!(TopicFilter::from_static("$SYS/monitor/+").matches("$SYS/monitor/Clients"));
    // '$' topics are valid topic names on the wire.
    assert!(decode_in(V311, &publish_to("$SYS/x")).is_ok());
}

#[test]
fn mqtt_4_7_3_1_topics_are_at_least_one_character() {
    // [MQTT-4.7.3-1]: in PUBLISH, SUBSCRIBE, UNSUBSCRIBE and the will topic.
    assert_eq!(dec("30 02 00 00"), bad_name(TopicError::Empty));
    assert_eq!(dec("82 05 00 0a 00 00 00"), bad_filter(TopicError::Empty));
    assert_eq!(dec("a2 04 00 0a 00 00"), bad_filter(TopicError::Empty));
    assert_eq!(TopicName::try_from(""), Err(TopicError::Empty));
    assert_eq!(TopicFilter::try_from(""), Err(TopicError::Empty));
}

#[test]
fn topic_semantics_of_4_7_3() {
    // Section 4.7.3 (no tags): case sensitive, spaces allowed, a leading or trailing '/'
    // makes a different topic, "/" alone is valid.
    for topic in ["/", "Accounts payable", "/finance", "finance/", "a//b"] {
        assert!(decode_in(V311, &publish_to(topic)).is_ok(), "{topic}");
        assert!(decode_in(V311, &subscribe_to(topic)).is_ok(), "{topic}");
    }
    assert!(!TopicFilter::from_static("ACCOUNTS").matches("Accounts"));
    assert!(!TopicFilter::from_static("finance").matches("/finance"));
    assert!(TopicFilter::from_static("Accounts payable").matches("Accounts payable"));
}

#[test]
fn mqtt_4_7_3_2_topics_have_no_null_character() {
    // [MQTT-4.7.3-2]
    let e = StringError::NullCharacter;
    assert_eq!(dec("30 03 00 01 00"), bad_string(e));
    assert_eq!(dec("82 06 00 0a 00 01 00 00"), bad_string(e));
    assert_eq!(TopicName::try_from("a\0"), Err(TopicError::String(e)));
}

#[test]
fn mqtt_4_7_3_3_topics_are_at_most_65535_bytes() {
    // [MQTT-4.7.3-3]: the two-byte length makes more impossible on the wire; the types
    // refuse to hold more, and 65,535 bytes is fine.
    let long = "a".repeat(65_535);
    let p = unwrap_publish(roundtrip_bytes(V311, &publish_to(&long)));
    assert_eq!(p.topic.unwrap().len(), 65_535);
    let e = TopicError::String(StringError::TooLong(65_536));
    assert_eq!(TopicName::try_from("a".repeat(65_536)), Err(e));
    assert_eq!(TopicFilter::try_from("a".repeat(65_536)), Err(e));
}

#[test]
fn mqtt_4_7_3_4_matching_does_not_normalize() {
    // [MQTT-4.7.3-4] (broker rule; the matching helper lives in mqtt-proto): precomposed
    // U+00E9 and 'e' + U+0301 are different topics; the bytes are compared as they are.
    assert!(!TopicFilter::from_static("caf\u{e9}").matches("cafe\u{301}"));
    assert!(TopicFilter::from_static("caf\u{e9}/+").matches("caf\u{e9}/x"));
    let p = unwrap_publish(roundtrip("30 07 00 05 63 61 66 c3 a9"));
    assert_eq!(p.topic.unwrap().as_str(), "caf\u{e9}");
}

#[test]
fn share_prefix_has_no_meaning_in_3_1_1() {
    // 3.1.1 has no shared subscriptions: "$share/g" and "$share//x" are ordinary filters
    // under [MQTT-4.7.1-2], [MQTT-4.7.1-3] and [MQTT-4.7.3-1], so a 3.1.1 SUBSCRIBE with
    // them is well-formed (the broker may still refuse it with return code 0x80).
    // A well-formed shared subscription is still recognised, as brokers accept it from
    // 3.1.1 clients.
    for filter in ["$share/g", "$share//x", "$share/g/"] {
        let packet = decode_in(V311, &subscribe_to(filter));
        let Ok(Packet::Subscribe(s)) = &packet else {
            panic!("{filter}: {packet:?}")
        };
        assert!(!s.filters[0].0.is_shared(), "{filter}");
    }
    let packet = decode_in(V311, &subscribe_to("$share/g/x"));
    let Ok(Packet::Subscribe(s)) = &packet else {
        panic!("{packet:?}")
    };
    assert!(s.filters[0].0.is_shared());
}

// ----------------------------------------------------------------------------- MQTT 3.1

#[test]
fn mqtt_3_1_connect_mqisdp_level_3() {
    // MQTT 3.1: protocol name "MQIsdp", level 3. Recorded from mosquitto_pub 2.0.11 -V 31
    // (tests/data/captures/mosquitto_pub-v31-qos1.c2s.bin): client id "pub-v31-qos1".
    let bytes = hex("10 1a 00 06 4d 51 49 73 64 70 03 02 00 3c \
         00 0c 70 75 62 2d 76 33 31 2d 71 6f 73 31");
    // A CONNECT is decoded by the version it declares, whatever the connection assumed.
    for assumed in [V31, V311] {
        let c = unwrap_connect(decode_in(assumed, &bytes).unwrap());
        assert_eq!(c, Connect::new(V31, mstr("pub-v31-qos1")));
    }
    assert_eq!(enc(Connect::new(V31, mstr("pub-v31-qos1"))).unwrap(), bytes);
    // The same flag rules as 3.1.1 apply after the level.
    let bad = frame(0x10, "00 06 4d 51 49 73 64 70 03 03 00 3c 00 01 63");
    assert_eq!(decode_in(V31, &bad), Err(DecodeError::ReservedConnectFlag));
}

#[test]
fn mqtt_3_1_protocol_name_and_level_go_together() {
    // "MQIsdp" is level 3 only, "MQTT" is 4 or 5 only.
    let mqisdp_4 = frame(0x10, "00 06 4d 51 49 73 64 70 04 02 00 3c 00 01 63");
    assert_eq!(
        decode_in(V31, &mqisdp_4),
        Err(DecodeError::UnsupportedProtocolVersion(4))
    );
    let mqtt_3 = frame(0x10, "00 04 4d 51 54 54 03 02 00 3c 00 01 63");
    assert_eq!(
        decode_in(V31, &mqtt_3),
        Err(DecodeError::UnsupportedProtocolVersion(3))
    );
}

#[test]
fn mqtt_3_1_connect_with_will_and_credentials() {
    // 3.1 has the same flags and payload order as 3.1.1 (will QoS 1 retained, user, pass).
    let bytes = frame(
        0x10,
        "00 06 4d 51 49 73 64 70 03 ee 00 1e \
         00 01 63 00 01 74 00 01 6d 00 01 75 00 01 70",
    );
    let c = unwrap_connect(roundtrip_bytes(V31, &bytes));
    assert_eq!(c.protocol, V31);
    let will = c.will.unwrap();
    assert_eq!((will.qos, will.retain), (QoS::AtLeastOnce, true));
    assert_eq!(c.username.unwrap(), "u");
}

#[test]
fn mqtt_3_1_connack() {
    // 3.1 CONNACK: a reserved byte (no Session Present) and the same return codes 0 to 5.
    for code in 0..=5u8 {
        let p = roundtrip_bytes(V31, &hex(&format!("20 02 00 {code:02x}")));
        let Packet::ConnAck(c) = p else { panic!() };
        assert!(!c.session_present);
    }
    assert_eq!(
        decode_in(V31, &hex("20 02 00 06")),
        Err(DecodeError::InvalidReasonCode {
            code: 6,
            packet: PacketType::ConnAck
        })
    );
    // Session Present does not exist in 3.1.
    assert!(matches!(
        encode_in(V31, ConnAck::new(true, ReasonCode::Success)),
        Err(EncodeError::NotInVersion { .. })
    ));
}

#[test]
fn mqtt_3_1_connack_first_byte_decodes_to_something_encodable() {
    // The first CONNACK byte is unused in 3.1. A decoded 3.1 CONNACK whose bit 0 is set
    // must not carry a Session Present that the 3.1 encoder then refuses: either the bit
    // is rejected (like the reserved bits 7-1) or it is ignored.
    match decode_in(V31, &hex("20 02 01 00")) {
        Err(_) => {}
        Ok(p) => assert!(
            encode_in(V31, p.clone()).is_ok(),
            "3.1 CONNACK 20 02 01 00 decoded to {p:?}, which does not encode for 3.1"
        ),
    }
}

#[test]
fn mqtt_3_1_dup_on_pubrel_subscribe_unsubscribe_is_accepted() {
    // MQTT 3.1 sent PUBREL, SUBSCRIBE and UNSUBSCRIBE as QoS 1 messages with a DUP flag on
    // retransmission: flags 1010 are accepted from a 3.1 peer, never from a 3.1.1 one.
    let cases = [
        ("6a 02 00 01", PacketType::PubRel),
        ("8a 06 00 01 00 01 61 01", PacketType::Subscribe),
        ("aa 05 00 01 00 01 61", PacketType::Unsubscribe),
    ];
    for (wire, packet) in cases {
        let p = decode_in(V31, &hex(wire)).unwrap();
        assert_eq!(p.packet_type(), packet);
        // Re-encoded without DUP (the flag carries nothing the model keeps).
        let again = encode_in(V31, p).unwrap();
        assert_eq!(again[0], hex(wire)[0] & !0b1000);
        assert_eq!(
            dec(wire),
            Err(DecodeError::InvalidFlags {
                packet,
                flags: 0b1010
            })
        );
    }
}

#[test]
fn mqtt_3_1_other_reserved_flags_stay_strict() {
    // The leniency is DUP on the three QoS 1 packets only: the same first-byte table as
    // 3.1.1 otherwise.
    for ty in (1..=14).filter(|&t| t != 3) {
        let packet = PacketType::from_u8(ty).unwrap();
        for flags in 0..=15 {
            let got = decode_in(V31, &frame((ty << 4) | flags, minimal_body(ty)));
            let expected = table_2_2_flags(ty);
            if flags == expected || (expected != 0 && flags == expected | 0b1000) {
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
fn mqtt_3_1_has_no_v5_content() {
    // 3.1 has no AUTH packet and no properties, like 3.1.1.
    assert_eq!(
        decode_in(V31, &hex("f0 00")),
        Err(DecodeError::ReservedPacketType(15))
    );
    assert!(matches!(
        encode_in(V31, Auth::default()),
        Err(EncodeError::NotInVersion { .. })
    ));
    let s = Subscribe {
        packet_id: pid(1),
        properties: SubscribeProperties::default(),
        filters: vec![(
            TopicFilter::from_static("a"),
            SubscriptionOptions {
                no_local: true,
                ..SubscriptionOptions::default()
            },
        )],
    };
    assert!(matches!(
        encode_in(V31, s),
        Err(EncodeError::NotInVersion { .. })
    ));
}
