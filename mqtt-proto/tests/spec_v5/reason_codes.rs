//! Reason codes (2.4, Table 2-6, and the per-packet tables of chapter 3).

use mqtt_proto::{
    AckProperties, Auth, AuthProperties, ConnAck, DecodeError, Disconnect, EncodeError, Packet,
    PacketType, PubAck, PubComp, PubRec, PubRel, ReasonCode, SubAck, UnsubAck,
};

use crate::common::{hex, pid, pkt};
use crate::helpers::{AUTH_METHOD, cat, enc, enc_err, ok, props, rejects, s};

/// A packet of type `ty` carrying reason code `code`, otherwise minimal and valid.
fn reason_packet(ty: PacketType, code: u8) -> Vec<u8> {
    match ty {
        PacketType::ConnAck => pkt(0x20, &[0x00, code, 0x00]),
        PacketType::PubAck => pkt(0x40, &[0x00, 0x01, code]),
        PacketType::PubRec => pkt(0x50, &[0x00, 0x01, code]),
        PacketType::PubRel => pkt(0x62, &[0x00, 0x01, code]),
        PacketType::PubComp => pkt(0x70, &[0x00, 0x01, code]),
        PacketType::SubAck => pkt(0x90, &[0x00, 0x01, 0x00, code]),
        PacketType::UnsubAck => pkt(0xb0, &[0x00, 0x01, 0x00, code]),
        PacketType::Disconnect => pkt(0xe0, &[code]),
        PacketType::Auth => pkt(0xf0, &cat(&[&[code], &props(&hex(AUTH_METHOD))])),
        _ => unreachable!("{ty} has no reason code"),
    }
}

fn reason_of(p: &Packet) -> ReasonCode {
    match p {
        Packet::ConnAck(x) => x.reason_code,
        Packet::PubAck(x) => x.reason_code,
        Packet::PubRec(x) => x.reason_code,
        Packet::PubRel(x) => x.reason_code,
        Packet::PubComp(x) => x.reason_code,
        Packet::SubAck(x) => x.reason_codes[0],
        Packet::UnsubAck(x) => x.reason_codes[0],
        Packet::Disconnect(x) => x.reason_code,
        Packet::Auth(x) => x.reason_code,
        _ => unreachable!(),
    }
}

fn packet_with_reason(ty: PacketType, rc: ReasonCode) -> Packet {
    let ack = AckProperties::default();
    match ty {
        PacketType::ConnAck => ConnAck::new(false, rc).into(),
        PacketType::PubAck => PubAck {
            packet_id: pid(1),
            reason_code: rc,
            properties: ack,
        }
        .into(),
        PacketType::PubRec => PubRec {
            packet_id: pid(1),
            reason_code: rc,
            properties: ack,
        }
        .into(),
        PacketType::PubRel => PubRel {
            packet_id: pid(1),
            reason_code: rc,
            properties: ack,
        }
        .into(),
        PacketType::PubComp => PubComp {
            packet_id: pid(1),
            reason_code: rc,
            properties: ack,
        }
        .into(),
        PacketType::SubAck => SubAck {
            packet_id: pid(1),
            properties: ack,
            reason_codes: vec![rc],
        }
        .into(),
        PacketType::UnsubAck => UnsubAck {
            packet_id: pid(1),
            properties: ack,
            reason_codes: vec![rc],
        }
        .into(),
        PacketType::Disconnect => Disconnect::new(rc).into(),
        PacketType::Auth => Auth {
            reason_code: rc,
            properties: AuthProperties {
                authentication_method: Some(s("m")),
                ..AuthProperties::default()
            },
        }
        .into(),
        _ => unreachable!(),
    }
}

/// Decoding accepts exactly the codes of the packet's table (any other byte is refused), and
/// encoding refuses every defined code outside it.
#[track_caller]
fn check_reason_codes(ty: PacketType, table: &[u8]) {
    for code in 0..=255u8 {
        let bytes = reason_packet(ty, code);
        if table.contains(&code) {
            let p = ok(&bytes);
            assert_eq!(reason_of(&p).as_u8(), code, "{ty}");
        } else {
            // The standard names no reason code for this; the codec uses Protocol Error.
            rejects(
                &bytes,
                DecodeError::InvalidReasonCode { code, packet: ty },
                ReasonCode::ProtocolError,
            );
        }
    }
    for code in 0..=255u8 {
        let Some(rc) = ReasonCode::from_u8(code) else {
            continue;
        };
        let p = packet_with_reason(ty, rc);
        if table.contains(&code) {
            let out = enc(p.clone());
            assert_eq!(ok(&out), p, "{ty} {rc}");
        } else {
            assert_eq!(
                enc_err(p),
                EncodeError::InvalidReasonCode {
                    code: rc,
                    packet: ty
                },
                "{ty} {rc}"
            );
        }
    }
}

#[test]
fn reason_codes_table_2_6_has_43_values() {
    // 2.4 Table 2-6: the defined values; the same value may have several names.
    let defined: Vec<u8> = (0..=255u8)
        .filter(|&b| ReasonCode::from_u8(b).is_some())
        .collect();
    assert_eq!(defined.len(), 43);
    assert!(ReasonCode::UnspecifiedError.is_error());
    assert!(!ReasonCode::NoMatchingSubscribers.is_error());
}

#[test]
fn mqtt_3_2_2_8_connack_reason_codes_table_3_1() {
    // [MQTT-3.2.2-8]
    check_reason_codes(
        PacketType::ConnAck,
        &[
            0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90,
            0x95, 0x97, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9f,
        ],
    );
}

const PUBACK_PUBREC_CODES: [u8; 9] = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];

#[test]
fn mqtt_3_4_2_1_puback_reason_codes_table_3_4() {
    // [MQTT-3.4.2-1]
    check_reason_codes(PacketType::PubAck, &PUBACK_PUBREC_CODES);
}

#[test]
fn mqtt_3_5_2_1_pubrec_reason_codes_table_3_5() {
    // [MQTT-3.5.2-1]
    check_reason_codes(PacketType::PubRec, &PUBACK_PUBREC_CODES);
}

#[test]
fn mqtt_3_6_2_1_pubrel_reason_codes_table_3_6() {
    // [MQTT-3.6.2-1]
    check_reason_codes(PacketType::PubRel, &[0x00, 0x92]);
}

#[test]
fn mqtt_3_7_2_1_pubcomp_reason_codes_table_3_7() {
    // [MQTT-3.7.2-1]
    check_reason_codes(PacketType::PubComp, &[0x00, 0x92]);
}

#[test]
fn mqtt_3_9_3_2_suback_reason_codes_table_3_8() {
    // [MQTT-3.9.3-2]
    check_reason_codes(
        PacketType::SubAck,
        &[
            0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2,
        ],
    );
}

#[test]
fn mqtt_3_11_3_2_unsuback_reason_codes_table_3_9() {
    // [MQTT-3.11.3-2]
    check_reason_codes(
        PacketType::UnsubAck,
        &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91],
    );
}

#[test]
fn mqtt_3_14_2_1_disconnect_reason_codes_table_3_10() {
    // [MQTT-3.14.2-1] Table 3-10, plus 0x8C (Bad authentication method): Table 2-6 lists 0x8C
    // for DISCONNECT but Table 3-10 does not; the codec follows Table 2-6 (see
    // docs/conformance.md).
    check_reason_codes(
        PacketType::Disconnect,
        &[
            0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f, 0x90,
            0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0,
            0xa1, 0xa2,
        ],
    );
}

#[test]
fn mqtt_3_15_2_1_auth_reason_codes_table_3_11() {
    // [MQTT-3.15.2-1]
    check_reason_codes(PacketType::Auth, &[0x00, 0x18, 0x19]);
}
