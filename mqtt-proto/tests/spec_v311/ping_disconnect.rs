//! 3.12 PINGREQ, 3.13 PINGRESP, 3.14 DISCONNECT.

use mqtt_proto::{DecodeError, Disconnect, Packet, PacketType, ReasonCode};

use crate::common::decode_in;
use crate::helpers::{V311, dec, enc, frame, not_in_3_1_1, roundtrip};

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
