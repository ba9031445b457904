//! Packets, one strategy per type, valid for the version they are generated for.

use mqtt_proto::ProtocolVersion::{V3_1, V3_1_1};
use mqtt_proto::{
    AckProperties, Auth, ConnAck, Connect, Disconnect, Packet, PacketId, PacketType,
    ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, QoSPid, ReasonCode, RetainHandling,
    SubAck, Subscribe, SubscriptionOptions, UnsubAck, Unsubscribe, Will,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;

use crate::properties::{
    ack_properties, auth_properties, connack_properties, connect_properties, disconnect_properties,
    publish_properties, subscribe_properties, unsubscribe_properties, will_properties,
};
use crate::values::{
    VERSIONS, all_reason_codes, binary_data, chars, codes_allowed_in, mqtt, mqtt_string, packet_id,
    payload, qos, qos_pid, topic_filter, topic_name, utf8_payload, v3_suback_codes, v5_or_default,
    v5_reason_code,
};

pub(crate) fn will(v: ProtocolVersion) -> BoxedStrategy<Will> {
    (
        topic_name(),
        binary_data(),
        utf8_payload(),
        qos(),
        any::<bool>(),
        v5_or_default(v, will_properties()),
    )
        .prop_map(|(topic, binary, text, qos, retain, properties)| {
            // A Payload Format Indicator of 1 says the payload is UTF-8 (3.1.3.2.3).
            let payload = if properties.payload_format_indicator == Some(true) {
                text
            } else {
                binary
            };
            Will {
                topic,
                payload,
                qos,
                retain,
                properties,
            }
        })
        .boxed()
}

pub(crate) fn connect(v: ProtocolVersion) -> BoxedStrategy<Connect> {
    let client_id = if v == V3_1 {
        // MQTT 3.1: the client identifier has 1 to 23 characters.
        chars(&[], 1..24).prop_map(mqtt).boxed()
    } else {
        mqtt_string()
    };
    (
        any::<bool>(),
        any::<u16>(),
        v5_or_default(v, connect_properties()),
        client_id,
        option::of(will(v)),
        option::of(mqtt_string()),
        option::of(binary_data()),
    )
        .prop_map(
            move |(clean_start, keep_alive, properties, client_id, will, username, password)| {
                // 3.x: a password needs a user name [MQTT-3.1.2-22].
                let password = password.filter(|_| v.is_v5() || username.is_some());
                // 3.1.1: an empty client identifier needs Clean Session [MQTT-3.1.3-7].
                let clean_start = clean_start || (v == V3_1_1 && client_id.is_empty());
                Connect {
                    protocol: v,
                    clean_start,
                    keep_alive,
                    properties,
                    client_id,
                    will,
                    username,
                    password,
                }
            },
        )
        .boxed()
}

pub(crate) fn connack(v: ProtocolVersion) -> BoxedStrategy<ConnAck> {
    let reason_code = if v.is_v5() {
        v5_reason_code(PacketType::ConnAck)
    } else {
        let v3: Vec<_> = all_reason_codes()
            .into_iter()
            .filter(|rc| rc.to_v3_connect_return_code().is_some())
            .collect();
        select(v3).boxed()
    };
    (
        any::<bool>(),
        reason_code,
        v5_or_default(v, connack_properties()),
    )
        .prop_map(move |(session_present, reason_code, properties)| ConnAck {
            // A refusal has Session Present 0 [MQTT-3.2.2-4] [MQTT-3.2.2-6]; 3.1 has no
            // Session Present at all.
            session_present: session_present && reason_code == ReasonCode::Success && v != V3_1,
            reason_code,
            properties,
        })
        .boxed()
}

pub(crate) fn publish(v: ProtocolVersion) -> BoxedStrategy<Publish> {
    (
        any::<bool>(),
        qos_pid(),
        any::<bool>(),
        topic_name(),
        any::<bool>(),
        v5_or_default(v, publish_properties()),
        payload(),
        utf8_payload(),
    )
        .prop_map(
            |(dup, qos_pid, retain, topic, omit_topic, properties, binary, text)| {
                // The topic name may be left out (5.0) only when a topic alias stands in.
                let topic = (!omit_topic || properties.topic_alias.is_none()).then_some(topic);
                let payload = if properties.payload_format_indicator == Some(true) {
                    text
                } else {
                    binary
                };
                Publish {
                    // DUP only on QoS 1 and 2 [MQTT-3.3.1-2].
                    dup: dup && qos_pid != QoSPid::AtMostOnce,
                    qos_pid,
                    retain,
                    topic,
                    properties: properties.into(),
                    payload,
                }
            },
        )
        .boxed()
}

/// Packet identifier, reason code and properties of PUBACK, PUBREC, PUBREL or PUBCOMP.
fn ack_parts(
    v: ProtocolVersion,
    ty: PacketType,
) -> BoxedStrategy<(PacketId, ReasonCode, AckProperties)> {
    let reason_code = if v.is_v5() {
        v5_reason_code(ty)
    } else {
        Just(ReasonCode::Success).boxed()
    };
    (packet_id(), reason_code, v5_or_default(v, ack_properties())).boxed()
}

pub(crate) fn puback(v: ProtocolVersion) -> BoxedStrategy<PubAck> {
    ack_parts(v, PacketType::PubAck)
        .prop_map(|(packet_id, reason_code, properties)| PubAck {
            packet_id,
            reason_code,
            properties,
        })
        .boxed()
}

pub(crate) fn pubrec(v: ProtocolVersion) -> BoxedStrategy<PubRec> {
    ack_parts(v, PacketType::PubRec)
        .prop_map(|(packet_id, reason_code, properties)| PubRec {
            packet_id,
            reason_code,
            properties,
        })
        .boxed()
}

pub(crate) fn pubrel(v: ProtocolVersion) -> BoxedStrategy<PubRel> {
    ack_parts(v, PacketType::PubRel)
        .prop_map(|(packet_id, reason_code, properties)| PubRel {
            packet_id,
            reason_code,
            properties,
        })
        .boxed()
}

pub(crate) fn pubcomp(v: ProtocolVersion) -> BoxedStrategy<PubComp> {
    ack_parts(v, PacketType::PubComp)
        .prop_map(|(packet_id, reason_code, properties)| PubComp {
            packet_id,
            reason_code,
            properties,
        })
        .boxed()
}

fn subscription_options(v: ProtocolVersion) -> BoxedStrategy<SubscriptionOptions> {
    if !v.is_v5() {
        return qos().prop_map(SubscriptionOptions::new).boxed();
    }
    let retain_handling = select(vec![
        RetainHandling::SendAtSubscribe,
        RetainHandling::SendAtSubscribeIfNew,
        RetainHandling::DoNotSend,
    ]);
    (qos(), any::<bool>(), any::<bool>(), retain_handling)
        .prop_map(
            |(qos, no_local, retain_as_published, retain_handling)| SubscriptionOptions {
                qos,
                no_local,
                retain_as_published,
                retain_handling,
            },
        )
        .boxed()
}

pub(crate) fn subscribe(v: ProtocolVersion) -> BoxedStrategy<Subscribe> {
    (
        packet_id(),
        v5_or_default(v, subscribe_properties()),
        vec((topic_filter(), subscription_options(v)), 1..5),
    )
        .prop_map(|(packet_id, properties, mut filters)| {
            // No Local on a shared subscription is a Protocol Error [MQTT-3.8.3-4].
            for (filter, options) in &mut filters {
                options.no_local &= !filter.is_shared();
            }
            Subscribe {
                packet_id,
                properties,
                filters,
            }
        })
        .boxed()
}

pub(crate) fn suback(v: ProtocolVersion) -> BoxedStrategy<SubAck> {
    let codes = if v.is_v5() {
        codes_allowed_in(PacketType::SubAck)
    } else {
        v3_suback_codes(v)
    };
    (
        packet_id(),
        v5_or_default(v, ack_properties()),
        vec(select(codes), 1..6),
    )
        .prop_map(|(packet_id, properties, reason_codes)| SubAck {
            packet_id,
            properties,
            reason_codes,
        })
        .boxed()
}

pub(crate) fn unsubscribe(v: ProtocolVersion) -> BoxedStrategy<Unsubscribe> {
    (
        packet_id(),
        v5_or_default(v, unsubscribe_properties()),
        vec(topic_filter(), 1..5),
    )
        .prop_map(|(packet_id, properties, filters)| Unsubscribe {
            packet_id,
            properties,
            filters,
        })
        .boxed()
}

pub(crate) fn unsuback(v: ProtocolVersion) -> BoxedStrategy<UnsubAck> {
    // 3.x UNSUBACK is just the packet identifier.
    let codes = if v.is_v5() {
        vec(select(codes_allowed_in(PacketType::UnsubAck)), 1..6).boxed()
    } else {
        Just(Vec::new()).boxed()
    };
    (packet_id(), v5_or_default(v, ack_properties()), codes)
        .prop_map(|(packet_id, properties, reason_codes)| UnsubAck {
            packet_id,
            properties,
            reason_codes,
        })
        .boxed()
}

pub(crate) fn disconnect(v: ProtocolVersion) -> BoxedStrategy<Disconnect> {
    if !v.is_v5() {
        return Just(Disconnect::default()).boxed();
    }
    (
        v5_reason_code(PacketType::Disconnect),
        disconnect_properties(),
    )
        .prop_map(|(reason_code, properties)| Disconnect {
            reason_code,
            properties,
        })
        .boxed()
}

/// AUTH (5.0 only): the empty Success form, or a reason code with properties.
pub(crate) fn auth() -> BoxedStrategy<Auth> {
    prop_oneof![
        1 => Just(Auth::default()),
        4 => (select(codes_allowed_in(PacketType::Auth)), auth_properties())
            .prop_map(|(reason_code, properties)| Auth { reason_code, properties }),
    ]
    .boxed()
}

/// A valid packet of type `ty` for `v`, or `None` where the version has no such packet.
fn packet_of(ty: PacketType, v: ProtocolVersion) -> Option<BoxedStrategy<Packet>> {
    Some(match ty {
        PacketType::Connect => connect(v).prop_map(Packet::from).boxed(),
        PacketType::ConnAck => connack(v).prop_map(Packet::from).boxed(),
        PacketType::Publish => publish(v).prop_map(Packet::Publish).boxed(),
        PacketType::PubAck => puback(v).prop_map(Packet::PubAck).boxed(),
        PacketType::PubRec => pubrec(v).prop_map(Packet::PubRec).boxed(),
        PacketType::PubRel => pubrel(v).prop_map(Packet::PubRel).boxed(),
        PacketType::PubComp => pubcomp(v).prop_map(Packet::PubComp).boxed(),
        PacketType::Subscribe => subscribe(v).prop_map(Packet::Subscribe).boxed(),
        PacketType::SubAck => suback(v).prop_map(Packet::SubAck).boxed(),
        PacketType::Unsubscribe => unsubscribe(v).prop_map(Packet::Unsubscribe).boxed(),
        PacketType::UnsubAck => unsuback(v).prop_map(Packet::UnsubAck).boxed(),
        PacketType::PingReq => Just(Packet::PingReq).boxed(),
        PacketType::PingResp => Just(Packet::PingResp).boxed(),
        PacketType::Disconnect => disconnect(v).prop_map(Packet::from).boxed(),
        PacketType::Auth if v.is_v5() => auth().prop_map(Packet::from).boxed(),
        PacketType::Auth => return None,
    })
}

/// A valid packet of any type for `v`.
pub(crate) fn any_packet(v: ProtocolVersion) -> BoxedStrategy<Packet> {
    let common = prop_oneof![
        connect(v).prop_map(Packet::from),
        connack(v).prop_map(Packet::from),
        publish(v).prop_map(Packet::Publish),
        puback(v).prop_map(Packet::PubAck),
        pubrec(v).prop_map(Packet::PubRec),
        pubrel(v).prop_map(Packet::PubRel),
        pubcomp(v).prop_map(Packet::PubComp),
        subscribe(v).prop_map(Packet::Subscribe),
        suback(v).prop_map(Packet::SubAck),
        unsubscribe(v).prop_map(Packet::Unsubscribe),
        unsuback(v).prop_map(Packet::UnsubAck),
        Just(Packet::PingReq),
        Just(Packet::PingResp),
        disconnect(v).prop_map(Packet::from),
    ];
    if v.is_v5() {
        prop_oneof![14 => common, 1 => auth().prop_map(Packet::from)].boxed()
    } else {
        common.boxed()
    }
}

/// A packet of type `ty` for each version that has it.
pub(crate) fn in_every_version(ty: PacketType) -> Vec<BoxedStrategy<(ProtocolVersion, Packet)>> {
    VERSIONS
        .iter()
        .filter_map(|&v| Some(packet_of(ty, v)?.prop_map(move |p| (v, p)).boxed()))
        .collect()
}
