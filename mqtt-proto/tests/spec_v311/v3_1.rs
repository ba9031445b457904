//! MQTT 3.1: protocol name `MQIsdp`, level 3, its CONNECT and CONNACK, and the DUP flag
//! it allowed on PUBREL, SUBSCRIBE and UNSUBSCRIBE.

use mqtt_proto::{
    Auth, ConnAck, Connect, DecodeError, EncodeError, Packet, PacketType, QoS, ReasonCode,
    Subscribe, SubscribeProperties, SubscriptionOptions, TopicFilter,
};

use crate::common::{decode_in, encode_in, hex, pid, roundtrip_bytes};
use crate::helpers::{
    V31, V311, dec, enc, frame, minimal_body, mstr, table_2_2_flags, unwrap_connect,
};

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
