//! Packets that the specification forbids.

use bytes::Bytes;
use mqtt_proto::ProtocolVersion::{V3_1, V3_1_1, V5};
use mqtt_proto::{Auth, MqttString, Packet, PacketType, ProtocolVersion, QoS, QoSPid, ReasonCode};
use proptest::prelude::*;
use proptest::sample::{Index, select};

use crate::packets::{
    auth, connack, connect, disconnect, puback, pubcomp, publish, pubrec, pubrel, suback,
    subscribe, unsuback, unsubscribe, will,
};
use crate::properties::auth_properties;
use crate::values::{binary_data, codes_allowed_in, codes_not_allowed_in, per_version, version};

/// A valid 5.0 packet changed to carry a reason code its type may not carry.
fn disallowed_reason_code() -> BoxedStrategy<Packet> {
    fn bad(ty: PacketType) -> BoxedStrategy<ReasonCode> {
        select(codes_not_allowed_in(ty)).boxed()
    }
    prop_oneof![
        (connack(V5), bad(PacketType::ConnAck)).prop_map(|(mut p, rc)| {
            p.reason_code = rc;
            Packet::from(p)
        }),
        (puback(V5), bad(PacketType::PubAck)).prop_map(|(mut p, rc)| {
            p.reason_code = rc;
            Packet::PubAck(p)
        }),
        (pubrec(V5), bad(PacketType::PubRec)).prop_map(|(mut p, rc)| {
            p.reason_code = rc;
            Packet::PubRec(p)
        }),
        (pubrel(V5), bad(PacketType::PubRel)).prop_map(|(mut p, rc)| {
            p.reason_code = rc;
            Packet::PubRel(p)
        }),
        (pubcomp(V5), bad(PacketType::PubComp)).prop_map(|(mut p, rc)| {
            p.reason_code = rc;
            Packet::PubComp(p)
        }),
        (suback(V5), bad(PacketType::SubAck), any::<Index>()).prop_map(|(mut p, rc, i)| {
            let i = i.index(p.reason_codes.len());
            p.reason_codes[i] = rc;
            Packet::SubAck(p)
        }),
        (unsuback(V5), bad(PacketType::UnsubAck), any::<Index>()).prop_map(|(mut p, rc, i)| {
            let i = i.index(p.reason_codes.len());
            p.reason_codes[i] = rc;
            Packet::UnsubAck(p)
        }),
        (disconnect(V5), bad(PacketType::Disconnect)).prop_map(|(mut p, rc)| {
            p.reason_code = rc;
            Packet::from(p)
        }),
        (auth(), bad(PacketType::Auth)).prop_map(|(mut p, rc)| {
            p.reason_code = rc;
            Packet::from(p)
        }),
    ]
    .boxed()
}

/// A packet with one binary field of 65,536 bytes, one more than a two-byte length allows.
fn oversized_binary() -> BoxedStrategy<Packet> {
    let huge = || Bytes::from(vec![0x3C; 65_536]);
    prop_oneof![
        (per_version(connect), will(V3_1_1)).prop_map(move |((_, mut c), mut w)| {
            w.payload = huge();
            c.will = Some(w);
            Packet::from(c)
        }),
        per_version(connect).prop_map(move |(_, mut c)| {
            c.username = Some(MqttString::from_static("user"));
            c.password = Some(huge());
            Packet::from(c)
        }),
        connect(V5).prop_map(move |mut c| {
            c.properties.authentication_method = Some(MqttString::from_static("SCRAM"));
            c.properties.authentication_data = Some(huge());
            Packet::from(c)
        }),
        (connect(V5), will(V5)).prop_map(move |(mut c, mut w)| {
            w.properties.correlation_data = Some(huge());
            c.will = Some(w);
            Packet::from(c)
        }),
        connack(V5).prop_map(move |mut c| {
            c.properties.authentication_method = Some(MqttString::from_static("SCRAM"));
            c.properties.authentication_data = Some(huge());
            Packet::from(c)
        }),
        publish(V5).prop_map(move |mut p| {
            p.properties.correlation_data = Some(huge());
            Packet::Publish(p)
        }),
        auth_properties().prop_map(move |mut properties| {
            properties.authentication_data = Some(huge());
            Packet::from(Auth {
                reason_code: ReasonCode::ContinueAuthentication,
                properties,
            })
        }),
    ]
    .boxed()
}

/// A packet that breaks a rule of the specification, with the version to encode it for
/// and the rule. None of them may encode.
pub(crate) fn invalid_packet() -> BoxedStrategy<(Packet, ProtocolVersion, &'static str)> {
    let any_version = |s: BoxedStrategy<Packet>, rule: &'static str| {
        (s, version()).prop_map(move |(p, v)| (p, v, rule)).boxed()
    };
    prop_oneof![
        any_version(
            per_version(publish)
                .prop_map(|(_, mut p)| {
                    p.qos_pid = QoSPid::AtMostOnce;
                    p.dup = true;
                    Packet::Publish(p)
                })
                .boxed(),
            "DUP on a QoS 0 PUBLISH [MQTT-3.3.1-2]",
        ),
        any_version(
            publish(V5)
                .prop_map(|mut p| {
                    p.topic = None;
                    p.properties.topic_alias = None;
                    Packet::Publish(p)
                })
                .boxed(),
            "PUBLISH with neither topic name nor topic alias [MQTT-3.3.2-1]",
        ),
        any_version(
            (
                connack(V5),
                select(codes_allowed_in(PacketType::ConnAck)[1..].to_vec())
            )
                .prop_map(|(mut c, rc)| {
                    c.session_present = true;
                    c.reason_code = rc;
                    Packet::from(c)
                })
                .boxed(),
            "Session Present on a refused connection [MQTT-3.2.2-4] [MQTT-3.2.2-6]",
        ),
        any_version(
            connack(V5)
                .prop_map(|mut c| {
                    c.properties.maximum_qos = Some(QoS::ExactlyOnce);
                    Packet::from(c)
                })
                .boxed(),
            "Maximum QoS 2 [MQTT-3.2.2-9]",
        ),
        any_version(
            per_version(subscribe)
                .prop_map(|(_, mut s)| {
                    s.filters.clear();
                    Packet::Subscribe(s)
                })
                .boxed(),
            "SUBSCRIBE without topic filters [MQTT-3.8.3-2]",
        ),
        any_version(
            per_version(unsubscribe)
                .prop_map(|(_, mut u)| {
                    u.filters.clear();
                    Packet::Unsubscribe(u)
                })
                .boxed(),
            "UNSUBSCRIBE without topic filters [MQTT-3.10.3-2]",
        ),
        any_version(
            per_version(suback)
                .prop_map(|(_, mut s)| {
                    s.reason_codes.clear();
                    Packet::SubAck(s)
                })
                .boxed(),
            "SUBACK without reason codes (3.9.3)",
        ),
        unsuback(V5)
            .prop_map(|mut u| {
                u.reason_codes.clear();
                (
                    Packet::UnsubAck(u),
                    V5,
                    "5.0 UNSUBACK without reason codes (3.11.3)",
                )
            })
            .boxed(),
        any_version(
            disallowed_reason_code(),
            "a reason code the packet may not carry (Table 2-6)",
        ),
        any_version(
            (
                select(vec![V3_1, V3_1_1]).prop_flat_map(connect),
                binary_data()
            )
                .prop_map(|(mut c, password)| {
                    c.username = None;
                    c.password = Some(password);
                    Packet::from(c)
                })
                .boxed(),
            "3.x password without a user name [MQTT-3.1.2-22]",
        ),
        any_version(
            oversized_binary(),
            "binary data longer than 65,535 bytes (1.5.6)",
        ),
    ]
    .boxed()
}
