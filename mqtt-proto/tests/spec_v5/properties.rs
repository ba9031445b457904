//! Properties (2.2.2.2 and Table 2-4).

use mqtt_proto::{DecodeError, Packet, PropertyId, ReasonCode};

use crate::common::hex;
use crate::helpers::{
    ALL_CTX, AUTH_METHOD, Ctx, cat, decode5, enc, ok, rejects, user_props, with_props,
};

/// Table 2-4: identifier, a valid value of its data type, and where it may appear.
fn property_table() -> Vec<(u8, &'static str, Vec<Ctx>)> {
    use Ctx::*;
    let reason_string = vec![
        ConnAck, PubAck, PubRec, PubRel, PubComp, SubAck, UnsubAck, Disconnect, Auth,
    ];
    vec![
        (0x01, "01", vec![Publish, Will]), // Payload Format Indicator
        (0x02, "00 00 00 0a", vec![Publish, Will]), // Message Expiry Interval
        (0x03, "00 01 78", vec![Publish, Will]), // Content Type
        (0x08, "00 01 78", vec![Publish, Will]), // Response Topic
        (0x09, "00 01 00", vec![Publish, Will]), // Correlation Data
        (0x0b, "01", vec![Publish, Subscribe]), // Subscription Identifier
        (0x11, "00 00 00 0a", vec![Connect, ConnAck, Disconnect]), // Session Expiry Interval
        (0x12, "00 01 78", vec![ConnAck]), // Assigned Client Identifier
        (0x13, "00 0a", vec![ConnAck]),    // Server Keep Alive
        (0x15, "00 01 78", vec![Connect, ConnAck, Auth]), // Authentication Method
        (0x16, "00 01 00", vec![Connect, ConnAck, Auth]), // Authentication Data
        (0x17, "01", vec![Connect]),       // Request Problem Information
        (0x18, "00 00 00 0a", vec![Will]), // Will Delay Interval
        (0x19, "01", vec![Connect]),       // Request Response Information
        (0x1a, "00 01 78", vec![ConnAck]), // Response Information
        (0x1c, "00 01 78", vec![ConnAck, Disconnect]), // Server Reference
        (0x1f, "00 01 78", reason_string), // Reason String
        (0x21, "00 0a", vec![Connect, ConnAck]), // Receive Maximum
        (0x22, "00 0a", vec![Connect, ConnAck]), // Topic Alias Maximum
        (0x23, "00 0a", vec![Publish]),    // Topic Alias
        (0x24, "01", vec![ConnAck]),       // Maximum QoS
        (0x25, "01", vec![ConnAck]),       // Retain Available
        (0x26, "00 01 6b 00 01 76", ALL_CTX.to_vec()), // User Property
        (0x27, "00 00 00 0a", vec![Connect, ConnAck]), // Maximum Packet Size
        (0x28, "01", vec![ConnAck]),       // Wildcard Subscription Available
        (0x29, "01", vec![ConnAck]),       // Subscription Identifier Available
        (0x2a, "01", vec![ConnAck]),       // Shared Subscription Available
    ]
}

/// The properties a test adds before the one under test, so that the packet is otherwise
/// valid.
fn base(ctx: Ctx, id: u8) -> Vec<u8> {
    match (ctx, id) {
        (Ctx::Auth, 0x15) => Vec::new(),
        (Ctx::Auth, _) | (Ctx::Connect, 0x16) => hex(AUTH_METHOD),
        _ => Vec::new(),
    }
}

#[test]
fn property_not_allowed_in_its_packet_is_malformed_table_2_4() {
    // 2.2.2.2 (untagged): "A Control Packet which contains an Identifier which is not valid for
    // its packet type ... is a Malformed Packet". Every defined property in every property list
    // (13 packets and the Will Properties): accepted exactly where Table 2-4 allows it.
    let mut refused = 0;
    for (id, value, allowed) in property_table() {
        let prop = cat(&[&[id], &hex(value)]);
        for ctx in ALL_CTX {
            let bytes = with_props(ctx, &cat(&[&base(ctx, id), &prop]));
            if allowed.contains(&ctx) {
                let p = ok(&bytes);
                // What decodes re-encodes to a packet that decodes the same.
                assert_eq!(ok(&enc(p.clone())), p, "{ctx:?} {id:#04x}");
            } else {
                let err = decode5(&bytes).expect_err("not allowed");
                assert!(
                    matches!(err, DecodeError::PropertyNotAllowed { id: got, .. } if got as u8 == id),
                    "{ctx:?} {id:#04x}: {err:?}"
                );
                assert_eq!(err.reason_code(), ReasonCode::MalformedPacket);
                refused += 1;
            }
        }
    }
    // 27 properties x 14 lists = 378 cases, 64 of them allowed.
    let allowed: usize = property_table().iter().map(|(_, _, a)| a.len()).sum();
    assert_eq!(allowed, 64);
    assert_eq!(refused, 27 * 14 - allowed);
}

#[test]
fn properties_not_allowed_one_per_packet() {
    // The same rule, one explicit hex case per packet and for the Will Properties.
    let cases = [
        (Ctx::Connect, "23 00 01", PropertyId::TopicAlias),
        (
            Ctx::Will,
            "11 00 00 00 01",
            PropertyId::SessionExpiryInterval,
        ),
        (
            Ctx::ConnAck,
            "18 00 00 00 01",
            PropertyId::WillDelayInterval,
        ),
        (
            Ctx::Publish,
            "11 00 00 00 01",
            PropertyId::SessionExpiryInterval,
        ),
        (Ctx::PubAck, "03 00 01 78", PropertyId::ContentType),
        (Ctx::PubRec, "0b 01", PropertyId::SubscriptionIdentifier),
        (Ctx::PubRel, "1c 00 01 78", PropertyId::ServerReference),
        (
            Ctx::PubComp,
            "15 00 01 78",
            PropertyId::AuthenticationMethod,
        ),
        (Ctx::Subscribe, "1f 00 01 78", PropertyId::ReasonString),
        (Ctx::SubAck, "0b 01", PropertyId::SubscriptionIdentifier),
        (
            Ctx::Unsubscribe,
            "0b 01",
            PropertyId::SubscriptionIdentifier,
        ),
        (Ctx::UnsubAck, "08 00 01 78", PropertyId::ResponseTopic),
        (Ctx::Disconnect, "21 00 01", PropertyId::ReceiveMaximum),
        (
            Ctx::Auth,
            "11 00 00 00 01",
            PropertyId::SessionExpiryInterval,
        ),
    ];
    for (ctx, prop, id) in cases {
        let bytes = with_props(ctx, &cat(&[&base(ctx, 0), &hex(prop)]));
        let err = decode5(&bytes).expect_err("not allowed");
        assert!(
            matches!(err, DecodeError::PropertyNotAllowed { id: got, .. } if got == id),
            "{ctx:?}: {err:?}"
        );
        assert_eq!(err.reason_code(), ReasonCode::MalformedPacket);
    }
}

#[test]
fn unknown_property_identifier_is_malformed() {
    // 2.2.2.2 (untagged): an identifier the specification does not define is not valid for any
    // packet type.
    for ctx in ALL_CTX {
        for (id, raw) in [
            (0x00, "00"),
            (0x04, "04"),
            (0x2b, "2b"),
            (0x7f, "7f"),
            (128, "80 01"),
        ] {
            let bytes = with_props(ctx, &cat(&[&base(ctx, 0), &hex(raw), &hex("00")]));
            rejects(
                &bytes,
                DecodeError::UnknownProperty(id),
                ReasonCode::MalformedPacket,
            );
        }
    }
}

#[test]
fn property_given_twice_is_a_protocol_error() {
    // 3.x.x (untagged, stated for each property): "It is a Protocol Error to include the <X>
    // more than once". Every single-valued property in every list where it is allowed.
    for (id, value, allowed) in property_table() {
        if id == 0x26 {
            continue; // User Property may repeat
        }
        let prop = cat(&[&[id], &hex(value)]);
        for ctx in allowed {
            if id == 0x0b && ctx == Ctx::Publish {
                continue; // one Subscription Identifier per matching subscription
            }
            let bytes = with_props(ctx, &cat(&[&base(ctx, id), &prop, &prop]));
            let err = decode5(&bytes).expect_err("duplicate");
            assert!(
                matches!(err, DecodeError::DuplicateProperty(got) if got as u8 == id),
                "{ctx:?} {id:#04x}: {err:?}"
            );
            assert_eq!(err.reason_code(), ReasonCode::ProtocolError);
        }
    }
}

#[test]
fn user_property_may_repeat_everywhere_and_keeps_its_order() {
    // 3.x.x (untagged): "The User Property is allowed to appear multiple times ... The same name
    // is allowed to appear more than once." Order is kept (see [MQTT-3.3.2-18]).
    let list = hex("26 00 01 6b 00 01 32 26 00 01 61 00 01 62 26 00 01 6b 00 01 31");
    for ctx in ALL_CTX {
        let bytes = with_props(ctx, &cat(&[&base(ctx, 0), &list]));
        let p = ok(&bytes);
        let ups = match &p {
            Packet::Connect(c) if ctx == Ctx::Will => {
                c.will.as_ref().unwrap().properties.user_properties.clone()
            }
            Packet::Connect(c) => c.properties.user_properties.clone(),
            Packet::ConnAck(c) => c.properties.user_properties.clone(),
            Packet::Publish(x) => x.properties.user_properties.clone(),
            Packet::PubAck(x) => x.properties.user_properties.clone(),
            Packet::PubRec(x) => x.properties.user_properties.clone(),
            Packet::PubRel(x) => x.properties.user_properties.clone(),
            Packet::PubComp(x) => x.properties.user_properties.clone(),
            Packet::Subscribe(x) => x.properties.user_properties.clone(),
            Packet::SubAck(x) => x.properties.user_properties.clone(),
            Packet::Unsubscribe(x) => x.properties.user_properties.clone(),
            Packet::UnsubAck(x) => x.properties.user_properties.clone(),
            Packet::Disconnect(x) => x.properties.user_properties.clone(),
            Packet::Auth(x) => x.properties.user_properties.clone(),
            Packet::PingReq | Packet::PingResp => unreachable!(),
        };
        assert_eq!(ups, user_props(), "{ctx:?}");
        assert_eq!(enc(p), bytes, "{ctx:?} re-encodes in the same order");
    }
}

#[test]
fn property_value_not_of_its_data_type_is_malformed() {
    // 2.2.2.2 (untagged): a value "not of the specified data type" is a Malformed Packet: one that
    // runs past the property list, and a property list that runs past the packet.
    // Message Expiry Interval (Four Byte Integer) with two bytes, list length 3.
    rejects(
        &hex("30 09 00 01 74 03 02 00 00 61 62"),
        DecodeError::UnexpectedEnd,
        ReasonCode::MalformedPacket,
    );
    // Property Length 9 in a packet with 2 bytes left.
    rejects(
        &hex("40 06 00 01 00 09 26 00"),
        DecodeError::UnexpectedEnd,
        ReasonCode::MalformedPacket,
    );
    // A Reason String whose length runs past the list.
    rejects(
        &hex("40 08 00 01 00 04 1f 00 05 61"),
        DecodeError::UnexpectedEnd,
        ReasonCode::MalformedPacket,
    );
}
