//! 3.12 PINGREQ, 3.13 PINGRESP, 3.14 DISCONNECT, 3.15 AUTH.

use mqtt_proto::{
    Auth, AuthProperties, DecodeError, DecodeOptions, Disconnect, EncodeError, Packet, PacketType,
    ProtocolVersion, ReasonCode, decode_exact,
};

use crate::common::{hex, pkt};
use crate::helpers::{V5, check_reserved_flags, decode5, enc, ok, rejects, roundtrip};

#[test]
fn pingreq_and_pingresp_have_no_variable_header_or_payload() {
    // 3.12.2, 3.12.3, 3.13.2, 3.13.3 (untagged).
    assert_eq!(roundtrip(&hex("c0 00")), Packet::PingReq);
    assert_eq!(roundtrip(&hex("d0 00")), Packet::PingResp);
    rejects(
        &hex("c0 01 00"),
        DecodeError::TrailingBytes(1),
        ReasonCode::MalformedPacket,
    );
    rejects(
        &hex("d0 02 00 00"),
        DecodeError::TrailingBytes(2),
        ReasonCode::MalformedPacket,
    );
}

// ---------------------------------------------------------------------------------------------
// 3.14 DISCONNECT
// ---------------------------------------------------------------------------------------------

#[test]
fn mqtt_3_14_1_1_disconnect_reserved_flags_are_malformed() {
    // [MQTT-3.14.1-1]: "If they are not zero it sends a DISCONNECT packet with a Reason code of
    // 0x81 (Malformed Packet)".
    check_reserved_flags(PacketType::Disconnect, 0);
}

#[test]
fn disconnect_short_forms() {
    // [MQTT-3.14.2-1]
    // 3.14.2.1 (untagged): Remaining Length 0 is Normal disconnection; below 2 there is no
    // Property Length.
    assert_eq!(
        roundtrip(&hex("e0 00")),
        Packet::from(Disconnect::new(ReasonCode::NORMAL_DISCONNECTION))
    );
    assert_eq!(
        roundtrip(&hex("e0 01 8e")),
        Packet::from(Disconnect::new(ReasonCode::SessionTakenOver))
    );
    // Reason Code and an empty property list: valid, written back in the short form.
    assert_eq!(enc(ok(&hex("e0 02 00 00"))), hex("e0 00"));
    assert_eq!(enc(ok(&hex("e0 02 04 00"))), hex("e0 01 04"));
    rejects(
        &hex("e0 03 00 00 00"),
        DecodeError::TrailingBytes(1),
        ReasonCode::MalformedPacket,
    );
}

#[test]
fn spec_example_figure_3_24_disconnect() {
    // Figure 3-24: Reason Code 0, Session Expiry Interval 0.
    let bytes = hex("e0 07 00 05 11 00 00 00 00");
    let Packet::Disconnect(d) = roundtrip(&bytes) else {
        panic!("not a DISCONNECT")
    };
    assert_eq!(d.reason_code, ReasonCode::NORMAL_DISCONNECTION);
    assert_eq!(d.properties.session_expiry_interval, Some(0));
}

// ---------------------------------------------------------------------------------------------
// 3.15 AUTH
// ---------------------------------------------------------------------------------------------

#[test]
fn mqtt_3_15_1_1_auth_flags_are_0000() {
    // [MQTT-3.15.1-1]
    check_reserved_flags(PacketType::Auth, 0);
}

#[test]
fn auth_short_form_and_full_form() {
    // [MQTT-3.15.2-1]
    // 3.15.2.1 (untagged): Success without properties may be a Remaining Length of 0.
    assert_eq!(roundtrip(&hex("f0 00")), Packet::from(Auth::default()));
    let bytes = hex("f0 0d 18 0b 15 00 03 61 62 63 16 00 02 01 02");
    let Packet::Auth(a) = roundtrip(&bytes) else {
        panic!("not an AUTH")
    };
    assert_eq!(a.reason_code, ReasonCode::ContinueAuthentication);
    assert_eq!(a.properties.authentication_method.as_deref(), Some("abc"));
    assert_eq!(
        a.properties.authentication_data.as_deref(),
        Some(&[1u8, 2][..])
    );
}

#[test]
fn auth_without_authentication_method_is_a_protocol_error() {
    // 3.15.2.2.2 (untagged): "It is a Protocol Error to omit the Authentication Method".
    // Continue authentication and Re-authenticate with an empty property list, and with only a
    // Reason String.
    for body in ["18 00", "19 00", "18 04 1f 00 01 72"] {
        let bytes = pkt(0xf0, &hex(body));
        assert_eq!(
            decode5(&bytes).map_err(|e| e.reason_code()),
            Err(ReasonCode::ProtocolError),
            "input {:02x?} decodes as {:?}",
            bytes,
            decode5(&bytes)
        );
    }
}

#[test]
fn auth_without_authentication_method_cannot_be_encoded() {
    // 3.15.2.2.2 (untagged): the encoder must not write an AUTH that omits the method (other than
    // the short Success form, which has no properties at all).
    let a = Auth {
        reason_code: ReasonCode::ContinueAuthentication,
        properties: AuthProperties::default(),
    };
    let mut out = Vec::new();
    let res = a.encode(V5, &mut out);
    assert!(res.is_err(), "encoded {:02x?}", out);
}

#[test]
fn auth_does_not_exist_before_mqtt_5() {
    // 2.1.2 Table 2-1: AUTH (15) is new in 5.0; in 3.1.1 the type is reserved.
    let opts = DecodeOptions::default();
    assert_eq!(
        decode_exact(&hex("f0 00"), ProtocolVersion::V3_1_1, &opts),
        Err(DecodeError::ReservedPacketType(15))
    );
    assert_eq!(
        Auth::default().encode(ProtocolVersion::V3_1_1, &mut Vec::new()),
        Err(EncodeError::NotInVersion {
            field: "AUTH",
            version: ProtocolVersion::V3_1_1
        })
    );
}
