//! Property tests of the codec, for every packet type and every protocol version.
//!
//! The strategies generate packets that are valid for one protocol version: every field,
//! every property of every 5.0 property set (present or not, values within the ranges the
//! specification allows, repeated user property names), wills, credentials, packet
//! identifiers, topic names and filters with wildcards, shared subscriptions, empty levels
//! and multi-byte UTF-8, and only the reason codes each packet may carry in that version.
//!
//! The properties:
//! - encode then decode is the identity, `encoded_len` is what `encode` writes, and
//!   `Publish::encode_header` plus the payload is `encode`;
//! - a stream of packets split at arbitrary points decodes to the same packets, and
//!   `Ok(None)` never consumes bytes;
//! - arbitrary (random, framed or mutated) bytes never panic the decoder, whatever the
//!   version and options, and whatever decodes re-encodes to the same packet (also checked
//!   exhaustively for every short body of every packet type);
//! - a declared size above the maximum packet size fails on the fixed header alone;
//! - what 3.x cannot carry is an encode error in 3.x, never dropped;
//! - encoding never panics: it returns `Ok` or an `EncodeError`, also into a fixed buffer
//!   that is too small, and packets the specification forbids are encode errors.

use std::fmt::{Debug, Display};
use std::num::{NonZeroU16, NonZeroU32};
use std::ops::Range;

use bytes::{Bytes, BytesMut};
use mqtt_proto::ProtocolVersion::{V3_1, V3_1_1, V5};
use mqtt_proto::{
    AckProperties, Auth, AuthProperties, ConnAck, ConnAckProperties, Connect, ConnectProperties,
    DecodeError, DecodeOptions, Disconnect, DisconnectProperties, EncodeError, FixedHeader,
    MAX_VAR_INT, MqttString, Packet, PacketId, PacketType, ProtocolVersion, PubAck, PubComp,
    PubRec, PubRel, Publish, PublishProperties, QoS, QoSPid, ReasonCode, RetainHandling,
    StringError, SubAck, Subscribe, SubscribeProperties, SubscriptionId, SubscriptionOptions,
    TopicError, TopicFilter, TopicName, UnsubAck, Unsubscribe, UnsubscribeProperties, UserProperty,
    Will, WillProperties, decode, decode_exact, decode_var_int, var_int_len,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::TestCaseError;

const VERSIONS: [ProtocolVersion; 3] = [V3_1, V3_1_1, V5];

fn version() -> impl Strategy<Value = ProtocolVersion> {
    select(VERSIONS.to_vec())
}

/// One strategy per protocol version, tagged with the version.
fn per_version<T: Debug + 'static>(
    f: impl Fn(ProtocolVersion) -> BoxedStrategy<T>,
) -> BoxedStrategy<(ProtocolVersion, T)> {
    prop_oneof![
        f(V3_1).prop_map(|x| (V3_1, x)),
        f(V3_1_1).prop_map(|x| (V3_1_1, x)),
        f(V5).prop_map(|x| (V5, x)),
    ]
    .boxed()
}

/// `strategy` in 5.0; the default (an empty property set) in 3.x.
fn v5_or_default<T: Default + Clone + Debug + 'static>(
    v: ProtocolVersion,
    strategy: BoxedStrategy<T>,
) -> BoxedStrategy<T> {
    if v.is_v5() {
        strategy
    } else {
        Just(T::default()).boxed()
    }
}

// ---------------------------------------------------------------------------------------
// Strings, topics and binary data
// ---------------------------------------------------------------------------------------

/// Characters of ordinary strings: ASCII, `$`, 2-, 3- and 4-byte UTF-8, and a byte order
/// mark. No `/`, `+` or `#`: topic levels are built from these.
const PLAIN: &[char] = &[
    'a', 'b', 'z', 'Q', '0', '7', ' ', '-', '_', '.', '$', 'é', 'ß', '€', '水', '😀', '\u{FEFF}',
];
/// Code points a string may hold but SHOULD NOT (strict decoding rejects them).
const DISCOURAGED: &[char] = &[
    '\u{1}',
    '\u{1F}',
    '\u{7F}',
    '\u{9F}',
    '\u{FDD0}',
    '\u{FFFE}',
    '\u{10FFFF}',
];
/// Separators and wildcards, for strings that are not topics.
const TOPIC_SYNTAX: &[char] = &['/', '+', '#'];

/// A string of `len` characters from `PLAIN` and `extra`, now and then with discouraged
/// code points.
fn chars(extra: &'static [char], len: Range<usize>) -> BoxedStrategy<String> {
    let plain: Vec<char> = PLAIN.iter().chain(extra).copied().collect();
    let all: Vec<char> = plain.iter().chain(DISCOURAGED).copied().collect();
    prop_oneof![
        8 => vec(select(plain), len.clone()).prop_map(String::from_iter),
        1 => vec(select(all), len).prop_map(String::from_iter),
    ]
    .boxed()
}

/// Free text: short, sometimes a few hundred bytes of 2-byte characters.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        16 => chars(TOPIC_SYNTAX, 0..12),
        1 => (100usize..300).prop_map(|n| "é".repeat(n)),
    ]
    .boxed()
}

fn mqtt(s: String) -> MqttString {
    MqttString::try_from(s).expect("generated strings are valid MQTT strings")
}

/// A UTF-8 encoded string, now and then the longest one (65,535 bytes).
fn mqtt_string() -> BoxedStrategy<MqttString> {
    prop_oneof![
        100 => text().prop_map(mqtt),
        1 => Just(mqtt("x".repeat(MqttString::MAX_LEN))),
    ]
    .boxed()
}

/// One topic level: possibly empty, never `/`, `+` or `#`.
fn topic_level() -> BoxedStrategy<String> {
    chars(&[], 0..6)
}

/// A topic name: levels (possibly empty), non-empty overall, no wildcards.
fn topic_name() -> BoxedStrategy<TopicName> {
    vec(topic_level(), 1..5)
        .prop_filter_map("a topic name is not empty", |levels| {
            TopicName::try_from(levels.join("/")).ok()
        })
        .boxed()
}

/// A topic filter: levels, `+` levels, a trailing `#`, and now and then a shared
/// subscription `$share/{group}/{filter}`.
fn topic_filter() -> BoxedStrategy<TopicFilter> {
    let level = prop_oneof![3 => topic_level(), 1 => Just("+".to_owned())];
    let filter = (vec(level, 0..5), any::<bool>()).prop_map(|(mut levels, hash)| {
        if hash || levels.is_empty() {
            levels.push("#".to_owned());
        }
        match levels.join("/") {
            f if f.is_empty() => "/".to_owned(),
            f => f,
        }
    });
    let group = option::weighted(0.25, chars(&[], 1..6));
    (group, filter)
        .prop_map(|(group, filter)| {
            let raw = match group {
                Some(g) => format!("$share/{g}/{filter}"),
                None => filter,
            };
            TopicFilter::try_from(raw.as_str())
                .unwrap_or_else(|e| panic!("generated an invalid filter {raw:?}: {e}"))
        })
        .boxed()
}

/// Binary data (a two-byte length): short, now and then the longest (65,535 bytes).
fn binary_data() -> BoxedStrategy<Bytes> {
    prop_oneof![
        30 => vec(any::<u8>(), 0..32).prop_map(Bytes::from),
        1 => Just(Bytes::from(vec![0xA5; 65_535])),
    ]
    .boxed()
}

/// A PUBLISH payload: short, a few kilobytes (2- and 3-byte remaining lengths), or now and
/// then two megabytes (a 4-byte remaining length).
fn payload() -> BoxedStrategy<Bytes> {
    prop_oneof![
        40 => vec(any::<u8>(), 0..48).prop_map(Bytes::from),
        4 => (100usize..20_000, any::<u8>()).prop_map(|(n, b)| Bytes::from(vec![b; n])),
        1 => Just(Bytes::from(vec![0x5A; 2_097_152])),
    ]
    .boxed()
}

/// A payload that is UTF-8, for a Payload Format Indicator of 1.
fn utf8_payload() -> BoxedStrategy<Bytes> {
    text().prop_map(Bytes::from).boxed()
}

// ---------------------------------------------------------------------------------------
// Numbers, identifiers, reason codes
// ---------------------------------------------------------------------------------------

fn packet_id() -> BoxedStrategy<PacketId> {
    prop_oneof![Just(1u16), Just(u16::MAX), 1..=u16::MAX]
        .prop_map(|v| PacketId::new(v).expect("non-zero"))
        .boxed()
}

fn qos() -> BoxedStrategy<QoS> {
    select(vec![QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]).boxed()
}

fn qos_pid() -> BoxedStrategy<QoSPid> {
    prop_oneof![
        Just(QoSPid::AtMostOnce),
        packet_id().prop_map(QoSPid::AtLeastOnce),
        packet_id().prop_map(QoSPid::ExactlyOnce),
    ]
    .boxed()
}

fn u32_value() -> BoxedStrategy<u32> {
    prop_oneof![Just(0), Just(u32::MAX), any::<u32>()].boxed()
}

fn non_zero_u16() -> BoxedStrategy<NonZeroU16> {
    prop_oneof![Just(1), Just(u16::MAX), 1..=u16::MAX]
        .prop_map(|v| NonZeroU16::new(v).expect("non-zero"))
        .boxed()
}

fn non_zero_u32() -> BoxedStrategy<NonZeroU32> {
    prop_oneof![Just(1), Just(u32::MAX), 1..=u32::MAX]
        .prop_map(|v| NonZeroU32::new(v).expect("non-zero"))
        .boxed()
}

/// 1 to 268,435,455, with the boundaries of each variable byte integer length.
fn subscription_id() -> BoxedStrategy<SubscriptionId> {
    let edges = vec![
        1,
        127,
        128,
        16_383,
        16_384,
        2_097_151,
        2_097_152,
        MAX_VAR_INT,
    ];
    prop_oneof![select(edges), 1..=MAX_VAR_INT]
        .prop_map(|v| SubscriptionId::new(v).expect("in range"))
        .boxed()
}

fn all_reason_codes() -> Vec<ReasonCode> {
    (0..=u8::MAX).filter_map(ReasonCode::from_u8).collect()
}

fn codes_allowed_in(ty: PacketType) -> Vec<ReasonCode> {
    all_reason_codes()
        .into_iter()
        .filter(|rc| rc.is_allowed_in(ty))
        .collect()
}

fn codes_not_allowed_in(ty: PacketType) -> Vec<ReasonCode> {
    all_reason_codes()
        .into_iter()
        .filter(|rc| !rc.is_allowed_in(ty))
        .collect()
}

/// A reason code a 5.0 packet of type `ty` may carry, Success a third of the time (so the
/// short forms of acknowledgements and DISCONNECT are exercised).
fn v5_reason_code(ty: PacketType) -> BoxedStrategy<ReasonCode> {
    prop_oneof![1 => Just(ReasonCode::Success), 2 => select(codes_allowed_in(ty))].boxed()
}

/// The SUBACK return codes of 3.x: granted QoS 0 to 2, and in 3.1.1 also 0x80 Failure
/// (MQTT 3.1 has no failure code).
fn v3_suback_codes(v: ProtocolVersion) -> Vec<ReasonCode> {
    let mut codes = vec![
        ReasonCode::Success,
        ReasonCode::GrantedQoS1,
        ReasonCode::GrantedQoS2,
    ];
    if v == V3_1_1 {
        codes.push(ReasonCode::UnspecifiedError);
    }
    codes
}

// ---------------------------------------------------------------------------------------
// 5.0 property sets
// ---------------------------------------------------------------------------------------

/// User properties: several, with repeated names.
fn user_properties() -> BoxedStrategy<Vec<UserProperty>> {
    let name = prop_oneof![
        2 => Just(MqttString::from_static("key")),
        1 => Just(MqttString::from_static("é水")),
        2 => mqtt_string(),
    ];
    vec((name, mqtt_string()), 0..5).boxed()
}

/// A property set: empty a quarter of the time, otherwise each property present or not.
fn props<T: Default + Clone + Debug + 'static>(
    full: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<T> {
    prop_oneof![1 => Just(T::default()), 3 => full].boxed()
}

fn connect_properties() -> BoxedStrategy<ConnectProperties> {
    props(
        (
            option::of(u32_value()),
            option::of(non_zero_u16()),
            option::of(non_zero_u32()),
            option::of(any::<u16>()),
            option::of(any::<bool>()),
            option::of(any::<bool>()),
            user_properties(),
            option::of(mqtt_string()),
            option::of(binary_data()),
        )
            .prop_map(|(sei, rm, mps, tam, rri, rpi, up, method, data)| {
                ConnectProperties {
                    session_expiry_interval: sei,
                    receive_maximum: rm,
                    maximum_packet_size: mps,
                    topic_alias_maximum: tam,
                    request_response_information: rri,
                    request_problem_information: rpi,
                    user_properties: up,
                    // Authentication Data needs an Authentication Method (3.1.2.11.10).
                    authentication_data: data.filter(|_| method.is_some()),
                    authentication_method: method,
                }
            }),
    )
}

fn will_properties() -> BoxedStrategy<WillProperties> {
    props(
        (
            option::of(u32_value()),
            option::of(any::<bool>()),
            option::of(u32_value()),
            option::of(mqtt_string()),
            option::of(topic_name()),
            option::of(binary_data()),
            user_properties(),
        )
            .prop_map(|(wdi, pfi, mei, ct, rt, cd, up)| WillProperties {
                will_delay_interval: wdi,
                payload_format_indicator: pfi,
                message_expiry_interval: mei,
                content_type: ct,
                response_topic: rt,
                correlation_data: cd,
                user_properties: up,
            }),
    )
}

fn connack_properties() -> BoxedStrategy<ConnAckProperties> {
    let first = (
        option::of(u32_value()),
        option::of(non_zero_u16()),
        // Maximum QoS is 0 or 1; 2 is said by leaving it out [MQTT-3.2.2-9].
        option::of(select(vec![QoS::AtMostOnce, QoS::AtLeastOnce])),
        option::of(any::<bool>()),
        option::of(non_zero_u32()),
        option::of(mqtt_string()),
        option::of(any::<u16>()),
        option::of(mqtt_string()),
        user_properties(),
    );
    let second = (
        option::of(any::<bool>()),
        option::of(any::<bool>()),
        option::of(any::<bool>()),
        option::of(any::<u16>()),
        option::of(mqtt_string()),
        option::of(mqtt_string()),
        option::of(mqtt_string()),
        option::of(binary_data()),
    );
    props((first, second).prop_map(
        |((sei, rm, mq, ra, mps, aci, tam, rs, up), (wsa, sia, ssa, ska, ri, sr, method, data))| {
            ConnAckProperties {
                session_expiry_interval: sei,
                receive_maximum: rm,
                maximum_qos: mq,
                retain_available: ra,
                maximum_packet_size: mps,
                assigned_client_identifier: aci,
                topic_alias_maximum: tam,
                reason_string: rs,
                user_properties: up,
                wildcard_subscription_available: wsa,
                subscription_identifiers_available: sia,
                shared_subscription_available: ssa,
                server_keep_alive: ska,
                response_information: ri,
                server_reference: sr,
                authentication_data: data.filter(|_| method.is_some()),
                authentication_method: method,
            }
        },
    ))
}

fn publish_properties() -> BoxedStrategy<PublishProperties> {
    props(
        (
            option::of(any::<bool>()),
            option::of(u32_value()),
            option::of(non_zero_u16()),
            option::of(topic_name()),
            option::of(binary_data()),
            user_properties(),
            vec(subscription_id(), 0..4),
            option::of(mqtt_string()),
        )
            .prop_map(|(pfi, mei, ta, rt, cd, up, sids, ct)| PublishProperties {
                payload_format_indicator: pfi,
                message_expiry_interval: mei,
                topic_alias: ta,
                response_topic: rt,
                correlation_data: cd,
                user_properties: up,
                subscription_identifiers: sids,
                content_type: ct,
            }),
    )
}

fn ack_properties() -> BoxedStrategy<AckProperties> {
    props(
        (option::of(mqtt_string()), user_properties()).prop_map(|(rs, up)| AckProperties {
            reason_string: rs,
            user_properties: up,
        }),
    )
}

fn subscribe_properties() -> BoxedStrategy<SubscribeProperties> {
    props(
        (option::of(subscription_id()), user_properties()).prop_map(|(sid, up)| {
            SubscribeProperties {
                subscription_identifier: sid,
                user_properties: up,
            }
        }),
    )
}

fn unsubscribe_properties() -> BoxedStrategy<UnsubscribeProperties> {
    props(user_properties().prop_map(|up| UnsubscribeProperties {
        user_properties: up,
    }))
}

fn disconnect_properties() -> BoxedStrategy<DisconnectProperties> {
    props(
        (
            option::of(u32_value()),
            option::of(mqtt_string()),
            user_properties(),
            option::of(mqtt_string()),
        )
            .prop_map(|(sei, rs, up, sr)| DisconnectProperties {
                session_expiry_interval: sei,
                reason_string: rs,
                user_properties: up,
                server_reference: sr,
            }),
    )
}

/// AUTH properties always name the method: omitting it is a Protocol Error (3.15.2.2.2).
fn auth_properties() -> BoxedStrategy<AuthProperties> {
    (
        mqtt_string(),
        option::of(binary_data()),
        option::of(mqtt_string()),
        user_properties(),
    )
        .prop_map(|(method, data, rs, up)| AuthProperties {
            authentication_method: Some(method),
            authentication_data: data,
            reason_string: rs,
            user_properties: up,
        })
        .boxed()
}

// ---------------------------------------------------------------------------------------
// Packets, one strategy per type, valid for the version they are generated for
// ---------------------------------------------------------------------------------------

fn will(v: ProtocolVersion) -> BoxedStrategy<Will> {
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

fn connect(v: ProtocolVersion) -> BoxedStrategy<Connect> {
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

fn connack(v: ProtocolVersion) -> BoxedStrategy<ConnAck> {
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

fn publish(v: ProtocolVersion) -> BoxedStrategy<Publish> {
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
                    properties,
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

fn puback(v: ProtocolVersion) -> BoxedStrategy<PubAck> {
    ack_parts(v, PacketType::PubAck)
        .prop_map(|(packet_id, reason_code, properties)| PubAck {
            packet_id,
            reason_code,
            properties,
        })
        .boxed()
}

fn pubrec(v: ProtocolVersion) -> BoxedStrategy<PubRec> {
    ack_parts(v, PacketType::PubRec)
        .prop_map(|(packet_id, reason_code, properties)| PubRec {
            packet_id,
            reason_code,
            properties,
        })
        .boxed()
}

fn pubrel(v: ProtocolVersion) -> BoxedStrategy<PubRel> {
    ack_parts(v, PacketType::PubRel)
        .prop_map(|(packet_id, reason_code, properties)| PubRel {
            packet_id,
            reason_code,
            properties,
        })
        .boxed()
}

fn pubcomp(v: ProtocolVersion) -> BoxedStrategy<PubComp> {
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

fn subscribe(v: ProtocolVersion) -> BoxedStrategy<Subscribe> {
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

fn suback(v: ProtocolVersion) -> BoxedStrategy<SubAck> {
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

fn unsubscribe(v: ProtocolVersion) -> BoxedStrategy<Unsubscribe> {
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

fn unsuback(v: ProtocolVersion) -> BoxedStrategy<UnsubAck> {
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

fn disconnect(v: ProtocolVersion) -> BoxedStrategy<Disconnect> {
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
fn auth() -> BoxedStrategy<Auth> {
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
        PacketType::Connect => connect(v).prop_map(Packet::Connect).boxed(),
        PacketType::ConnAck => connack(v).prop_map(Packet::ConnAck).boxed(),
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
        PacketType::Disconnect => disconnect(v).prop_map(Packet::Disconnect).boxed(),
        PacketType::Auth if v.is_v5() => auth().prop_map(Packet::Auth).boxed(),
        PacketType::Auth => return None,
    })
}

/// A valid packet of any type for `v`.
fn any_packet(v: ProtocolVersion) -> BoxedStrategy<Packet> {
    let common = prop_oneof![
        connect(v).prop_map(Packet::Connect),
        connack(v).prop_map(Packet::ConnAck),
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
        disconnect(v).prop_map(Packet::Disconnect),
    ];
    if v.is_v5() {
        prop_oneof![14 => common, 1 => auth().prop_map(Packet::Auth)].boxed()
    } else {
        common.boxed()
    }
}

/// A packet of type `ty` for each version that has it.
fn in_every_version(ty: PacketType) -> Vec<BoxedStrategy<(ProtocolVersion, Packet)>> {
    VERSIONS
        .iter()
        .filter_map(|&v| Some(packet_of(ty, v)?.prop_map(move |p| (v, p)).boxed()))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Packets that the specification forbids
// ---------------------------------------------------------------------------------------

/// A valid 5.0 packet changed to carry a reason code its type may not carry.
fn disallowed_reason_code() -> BoxedStrategy<Packet> {
    fn bad(ty: PacketType) -> BoxedStrategy<ReasonCode> {
        select(codes_not_allowed_in(ty)).boxed()
    }
    prop_oneof![
        (connack(V5), bad(PacketType::ConnAck)).prop_map(|(mut p, rc)| {
            p.reason_code = rc;
            Packet::ConnAck(p)
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
            Packet::Disconnect(p)
        }),
        (auth(), bad(PacketType::Auth)).prop_map(|(mut p, rc)| {
            p.reason_code = rc;
            Packet::Auth(p)
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
            Packet::Connect(c)
        }),
        per_version(connect).prop_map(move |(_, mut c)| {
            c.username = Some(MqttString::from_static("user"));
            c.password = Some(huge());
            Packet::Connect(c)
        }),
        connect(V5).prop_map(move |mut c| {
            c.properties.authentication_method = Some(MqttString::from_static("SCRAM"));
            c.properties.authentication_data = Some(huge());
            Packet::Connect(c)
        }),
        (connect(V5), will(V5)).prop_map(move |(mut c, mut w)| {
            w.properties.correlation_data = Some(huge());
            c.will = Some(w);
            Packet::Connect(c)
        }),
        connack(V5).prop_map(move |mut c| {
            c.properties.authentication_method = Some(MqttString::from_static("SCRAM"));
            c.properties.authentication_data = Some(huge());
            Packet::ConnAck(c)
        }),
        publish(V5).prop_map(move |mut p| {
            p.properties.correlation_data = Some(huge());
            Packet::Publish(p)
        }),
        auth_properties().prop_map(move |mut properties| {
            properties.authentication_data = Some(huge());
            Packet::Auth(Auth {
                reason_code: ReasonCode::ContinueAuthentication,
                properties,
            })
        }),
    ]
    .boxed()
}

/// A packet that breaks a rule of the specification, with the version to encode it for
/// and the rule. None of them may encode.
fn invalid_packet() -> BoxedStrategy<(Packet, ProtocolVersion, &'static str)> {
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
                    Packet::ConnAck(c)
                })
                .boxed(),
            "Session Present on a refused connection [MQTT-3.2.2-4] [MQTT-3.2.2-6]",
        ),
        any_version(
            connack(V5)
                .prop_map(|mut c| {
                    c.properties.maximum_qos = Some(QoS::ExactlyOnce);
                    Packet::ConnAck(c)
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
                    Packet::Connect(c)
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

// ---------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------

fn fail(what: impl Display) -> TestCaseError {
    TestCaseError::fail(what.to_string())
}

fn lenient() -> DecodeOptions {
    DecodeOptions::default()
}

fn strict() -> DecodeOptions {
    DecodeOptions {
        strict_strings: true,
        ..DecodeOptions::default()
    }
}

/// The minimal variable byte integer encoding of `v`, written independently of the codec.
fn var_int(mut v: u32) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut b = (v % 128) as u8;
        v /= 128;
        if v > 0 {
            b |= 0x80;
        }
        out.push(b);
        if v == 0 {
            return out;
        }
    }
}

/// A fixed header and `body`: a packet of any type, flags and content.
fn frame(first_byte: u8, body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len()).expect("short body");
    let mut out = vec![first_byte];
    out.extend(var_int(len));
    out.extend_from_slice(body);
    out
}

/// Whether strict decoding refused a code point that lenient decoding accepts.
fn is_discouraged(e: &DecodeError) -> bool {
    let discouraged = |s: &StringError| matches!(s, StringError::DiscouragedCodePoint(_));
    match e {
        DecodeError::InvalidString(s) => discouraged(s),
        DecodeError::InvalidTopicName(TopicError::String(s))
        | DecodeError::InvalidTopicFilter(TopicError::String(s)) => discouraged(s),
        _ => false,
    }
}

/// Everything that must hold for a valid packet `p` of version `v`. `cut` picks a size
/// below the encoded length, `trailing` is what follows the packet in the buffer.
fn check_roundtrip(
    v: ProtocolVersion,
    p: &Packet,
    cut: Index,
    trailing: &[u8],
) -> Result<(), TestCaseError> {
    // encode, and encoded_len is what it writes.
    let mut out = Vec::new();
    let n = p
        .encode(v, &mut out)
        .map_err(|e| fail(format!("a valid {v} packet does not encode: {e}")))?;
    prop_assert_eq!(n, out.len());
    prop_assert_eq!(p.encoded_len(v), Ok(n));

    // The fixed header declares exactly the bytes written.
    let header = FixedHeader::parse(&out, v)
        .map_err(fail)?
        .ok_or_else(|| fail("incomplete fixed header"))?;
    prop_assert_eq!(header.packet_len(), n);
    prop_assert_eq!(header.first_byte >> 4, p.packet_type() as u8);

    // decode is the inverse of encode; a CONNECT is read by its own protocol level,
    // whatever the connection's version.
    prop_assert_eq!(decode_exact(&out, v, &lenient()), Ok(p.clone()));
    if let Packet::Connect(_) = p {
        for other in VERSIONS {
            prop_assert_eq!(decode_exact(&out, other, &lenient()), Ok(p.clone()));
        }
    }

    // In a buffer, exactly the packet's bytes are taken and what follows is left.
    let mut buf = BytesMut::from(&out[..]);
    buf.extend_from_slice(trailing);
    prop_assert_eq!(decode(&mut buf, v, &lenient()), Ok(Some(p.clone())));
    prop_assert_eq!(&buf[..], trailing);

    // Any incomplete prefix is Ok(None) and untouched.
    let prefixes = [0, 1, header.header_len - 1, header.header_len, cut.index(n)];
    for k in prefixes.into_iter().filter(|&k| k < n) {
        let mut buf = BytesMut::from(&out[..k]);
        prop_assert_eq!(decode(&mut buf, v, &lenient()), Ok(None));
        prop_assert_eq!(&buf[..], &out[..k]);
    }

    // A maximum packet size of exactly the packet passes; one byte less fails as soon as
    // the fixed header is there.
    let size = u32::try_from(n).map_err(fail)?;
    let at_limit = DecodeOptions {
        max_packet_size: size,
        ..lenient()
    };
    prop_assert_eq!(decode_exact(&out, v, &at_limit), Ok(p.clone()));
    let below = DecodeOptions {
        max_packet_size: size - 1,
        ..lenient()
    };
    let mut head = BytesMut::from(&out[..header.header_len]);
    prop_assert_eq!(
        decode(&mut head, v, &below),
        Err(DecodeError::PacketTooLarge {
            size: n,
            max: size - 1
        })
    );

    // Strict strings decode the same packet, or refuse a discouraged code point.
    match decode_exact(&out, v, &strict()) {
        Ok(q) => prop_assert_eq!(&q, p),
        Err(e) => prop_assert!(is_discouraged(&e), "strict decoding failed: {e}"),
    }

    // Into a fixed buffer of exactly the right size, the same bytes.
    let mut exact = vec![0u8; n];
    let mut dst: &mut [u8] = &mut exact;
    prop_assert_eq!(p.encode(v, &mut dst), Ok(n));
    prop_assert!(dst.is_empty());
    prop_assert_eq!(&exact, &out);

    // Into a smaller one, BufferTooSmall and nothing written.
    let small_len = cut.index(n);
    let mut small = vec![0xEE; small_len];
    let mut dst: &mut [u8] = &mut small;
    prop_assert_eq!(
        p.encode(v, &mut dst),
        Err(EncodeError::BufferTooSmall {
            needed: n,
            available: small_len
        })
    );
    prop_assert_eq!(dst.len(), small_len);
    prop_assert!(small.iter().all(|&b| b == 0xEE));

    if let Packet::Publish(publish) = p {
        check_publish_header(v, publish, &out, cut)?;
    }
    Ok(())
}

/// `Publish::encode_header` then the payload is `Publish::encode`.
fn check_publish_header(
    v: ProtocolVersion,
    p: &Publish,
    encoded: &[u8],
    cut: Index,
) -> Result<(), TestCaseError> {
    let mut whole = Vec::new();
    prop_assert_eq!(p.encode(v, &mut whole), Ok(encoded.len()));
    prop_assert_eq!(&whole[..], encoded);

    let header_len = encoded.len() - p.payload.len();
    let mut header = Vec::new();
    prop_assert_eq!(p.encode_header(v, &mut header), Ok(header_len));
    prop_assert_eq!(header.len(), header_len);
    header.extend_from_slice(&p.payload);
    prop_assert_eq!(&header[..], encoded);

    // The header alone into a fixed buffer: exactly enough, then too little.
    let mut exact = vec![0u8; header_len];
    let mut dst: &mut [u8] = &mut exact;
    prop_assert_eq!(p.encode_header(v, &mut dst), Ok(header_len));
    prop_assert_eq!(&exact[..], &encoded[..header_len]);
    let small_len = cut.index(header_len);
    let mut small = vec![0xEE; small_len];
    let mut dst: &mut [u8] = &mut small;
    prop_assert_eq!(
        p.encode_header(v, &mut dst),
        Err(EncodeError::BufferTooSmall {
            needed: header_len,
            available: small_len
        })
    );
    prop_assert!(small.iter().all(|&b| b == 0xEE));
    Ok(())
}

/// Packets decoded from a stream, each with the number of bytes it took, and the error
/// that ended the stream.
type Decoded = (Vec<(Packet, usize)>, Option<DecodeError>);

/// Feeds `bytes` to the decoder in chunks of the given sizes (repeated as needed), and
/// decodes all complete packets after each chunk. Checks that `Ok(None)` leaves the buffer
/// as it was.
fn decode_chunked(
    bytes: &[u8],
    chunks: &[usize],
    v: ProtocolVersion,
    options: &DecodeOptions,
) -> Result<Decoded, TestCaseError> {
    let mut buf = BytesMut::new();
    let mut packets = Vec::new();
    let mut rest = bytes;
    let mut sizes = chunks.iter().copied().cycle();
    loop {
        let n = sizes
            .next()
            .unwrap_or(usize::MAX)
            .clamp(1, rest.len().max(1));
        let (chunk, tail) = rest.split_at(n.min(rest.len()));
        buf.extend_from_slice(chunk);
        rest = tail;
        loop {
            let (len, ptr) = (buf.len(), buf.as_ptr());
            let before = (len <= 4096).then(|| buf.to_vec());
            match decode(&mut buf, v, options) {
                Ok(Some(p)) => packets.push((p, len - buf.len())),
                Ok(None) => {
                    prop_assert_eq!(buf.len(), len, "Ok(None) consumed bytes");
                    prop_assert_eq!(buf.as_ptr(), ptr, "Ok(None) moved the buffer");
                    if let Some(before) = before {
                        prop_assert_eq!(&buf[..], &before[..], "Ok(None) changed bytes");
                    }
                    break;
                }
                Err(e) => return Ok((packets, Some(e))),
            }
        }
        if rest.is_empty() {
            return Ok((packets, None));
        }
    }
}

/// A decoded packet encodes again, for the version it was decoded with, to bytes that
/// decode to the same packet.
fn check_reencodes(p: &Packet, v: ProtocolVersion) -> Result<(), TestCaseError> {
    let mut out = Vec::new();
    let n = p
        .encode(v, &mut out)
        .map_err(|e| fail(format!("decoded {v} packet does not encode: {e}: {p:?}")))?;
    prop_assert_eq!(n, out.len());
    prop_assert_eq!(p.encoded_len(v), Ok(n));
    prop_assert_eq!(decode_exact(&out, v, &lenient()), Ok(p.clone()));
    Ok(())
}

/// Arbitrary bytes: decoding never panics, whole and chunked give the same packets and
/// error, and whatever decodes re-encodes.
fn check_arbitrary_bytes(
    bytes: &[u8],
    v: ProtocolVersion,
    options: &DecodeOptions,
    chunks: &[usize],
) -> Result<(), TestCaseError> {
    let whole = decode_chunked(bytes, &[usize::MAX], v, options)?;
    let chunked = decode_chunked(bytes, chunks, v, options)?;
    prop_assert_eq!(&whole, &chunked);
    for (p, len) in &whole.0 {
        prop_assert!(*len <= options.max_packet_size as usize);
        check_reencodes(p, v)?;
    }
    Ok(())
}

/// What a 5.0 packet carries that 3.x (in version `v`) cannot, by the 3.1 and 3.1.1
/// specifications; independent of the codec.
fn fits_in_v3(p: &Packet, v: ProtocolVersion) -> bool {
    let ack = |rc: ReasonCode, props: &AckProperties| rc == ReasonCode::Success && props.is_empty();
    match p {
        Packet::Connect(c) => {
            c.properties.is_empty()
                && c.will.as_ref().is_none_or(|w| w.properties.is_empty())
                && (c.password.is_none() || c.username.is_some())
        }
        Packet::ConnAck(c) => {
            c.properties.is_empty()
                && c.reason_code.to_v3_connect_return_code().is_some()
                && !(v == V3_1 && c.session_present)
        }
        Packet::Publish(p) => p.properties.is_empty() && p.topic.is_some(),
        Packet::PubAck(a) => ack(a.reason_code, &a.properties),
        Packet::PubRec(a) => ack(a.reason_code, &a.properties),
        Packet::PubRel(a) => ack(a.reason_code, &a.properties),
        Packet::PubComp(a) => ack(a.reason_code, &a.properties),
        Packet::Subscribe(s) => {
            s.properties.is_empty()
                && s.filters.iter().all(|(_, o)| {
                    !o.no_local
                        && !o.retain_as_published
                        && o.retain_handling == RetainHandling::SendAtSubscribe
                })
        }
        Packet::SubAck(s) => {
            // The codec lets 3.1 carry 0x80 as 3.1.1 does.
            s.properties.is_empty()
                && s.reason_codes
                    .iter()
                    .all(|rc| v3_suback_codes(V3_1_1).contains(rc))
        }
        Packet::Unsubscribe(u) => u.properties.is_empty(),
        Packet::UnsubAck(u) => u.properties.is_empty() && u.reason_codes.is_empty(),
        Packet::PingReq | Packet::PingResp => true,
        Packet::Disconnect(d) => d.reason_code == ReasonCode::Success && d.properties.is_empty(),
        Packet::Auth(_) => false,
    }
}

/// Encoding `p` for `v` must fail with an error other than lack of room, the same from
/// `encode` (into a growable and a fixed buffer) and `encoded_len`, writing nothing.
fn check_encode_error(p: &Packet, v: ProtocolVersion, why: &str) -> Result<(), TestCaseError> {
    let mut out = Vec::new();
    let err = match p.encode(v, &mut out) {
        Ok(_) => {
            return Err(fail(format!(
                "{why}: encoded for {v} as {:02x?}, decoded back as {:?}",
                out,
                decode_exact(&out, v, &lenient())
            )));
        }
        Err(e) => e,
    };
    prop_assert!(out.is_empty(), "{why}: bytes written before {err}");
    prop_assert!(
        !matches!(err, EncodeError::BufferTooSmall { .. }),
        "{why}: {err}"
    );
    prop_assert_eq!(p.encoded_len(v), Err(err.clone()));
    let mut dst: &mut [u8] = &mut [];
    prop_assert_eq!(p.encode(v, &mut dst), Err(err));
    Ok(())
}

/// Decode options with small, zero and unlimited maximum packet sizes, strict or not.
fn decode_options() -> BoxedStrategy<DecodeOptions> {
    let max = prop_oneof![
        2 => Just(DecodeOptions::MAX_PACKET_SIZE),
        1 => 0u32..8,
        1 => 0u32..512,
    ];
    (max, any::<bool>())
        .prop_map(|(max_packet_size, strict_strings)| DecodeOptions {
            max_packet_size,
            strict_strings,
        })
        .boxed()
}

/// Chunk sizes for feeding a stream: byte by byte, small, or large.
fn chunk_sizes() -> BoxedStrategy<Vec<usize>> {
    vec(prop_oneof![1usize..4, 1usize..64, 1usize..5000], 1..8).boxed()
}

/// First bytes of valid packets of every type (with 3.1's DUP on PUBREL, SUBSCRIBE and
/// UNSUBSCRIBE, and PUBLISH flags).
const VALID_FIRST_BYTES: [u8; 23] = [
    0x10, 0x20, 0x30, 0x31, 0x32, 0x35, 0x3A, 0x3C, 0x40, 0x50, 0x62, 0x6A, 0x70, 0x82, 0x8A, 0x90,
    0xA2, 0xAA, 0xB0, 0xC0, 0xD0, 0xE0, 0xF0,
];

/// A first byte: any, or one of a valid packet.
fn first_byte() -> BoxedStrategy<u8> {
    prop_oneof![any::<u8>(), select(VALID_FIRST_BYTES.to_vec())].boxed()
}

/// Body bytes that look a little like fields: small lengths, property identifiers.
fn body_bytes() -> BoxedStrategy<Vec<u8>> {
    let ids: Vec<u8> = (0..=0x2A).collect();
    let byte = prop_oneof![4 => any::<u8>(), 2 => 0u8..6, 1 => select(ids)];
    prop_oneof![vec(byte.clone(), 0..4), vec(byte, 0..64)].boxed()
}

/// How to damage an encoded packet.
#[derive(Debug, Clone)]
enum Mutation {
    Xor(Index, u8),
    Set(Index, u8),
    Insert(Index, u8),
    Remove(Index),
    Truncate(Index),
}

fn mutation() -> BoxedStrategy<Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 0..8u32).prop_map(|(i, bit)| Mutation::Xor(i, 1 << bit)),
        2 => (any::<Index>(), 1..=u8::MAX).prop_map(|(i, b)| Mutation::Xor(i, b)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => any::<Index>().prop_map(Mutation::Remove),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
    .boxed()
}

fn mutate(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    match m {
        Mutation::Xor(i, b) => {
            let i = i.index(bytes.len());
            bytes[i] ^= b;
        }
        Mutation::Set(i, b) => {
            let i = i.index(bytes.len());
            bytes[i] = *b;
        }
        Mutation::Insert(i, b) => bytes.insert(i.index(bytes.len() + 1), *b),
        Mutation::Remove(i) => {
            bytes.remove(i.index(bytes.len()));
        }
        Mutation::Truncate(i) => bytes.truncate(i.index(bytes.len())),
    }
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

macro_rules! roundtrip_tests {
    ($($name:ident => $ty:ident,)*) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            $(
                #[test]
                fn $name(
                    packets in in_every_version(PacketType::$ty),
                    cut in any::<Index>(),
                    trailing in vec(any::<u8>(), 0..6),
                ) {
                    for (v, p) in &packets {
                        check_roundtrip(*v, p, cut, &trailing)?;
                    }
                }
            )*
        }
    };
}

// One test per packet type; each case checks that type in every version that has it.
roundtrip_tests! {
    roundtrip_connect => Connect,
    roundtrip_connack => ConnAck,
    roundtrip_publish => Publish,
    roundtrip_puback => PubAck,
    roundtrip_pubrec => PubRec,
    roundtrip_pubrel => PubRel,
    roundtrip_pubcomp => PubComp,
    roundtrip_subscribe => Subscribe,
    roundtrip_suback => SubAck,
    roundtrip_unsubscribe => Unsubscribe,
    roundtrip_unsuback => UnsubAck,
    roundtrip_pingreq => PingReq,
    roundtrip_pingresp => PingResp,
    roundtrip_disconnect => Disconnect,
    roundtrip_auth => Auth,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Several packets in one byte stream, fed in chunks of arbitrary sizes, decode to the
    /// same packets, each taking exactly its encoded length.
    #[test]
    fn stream_split_anywhere_decodes_to_the_same_packets(
        (v, packets) in per_version(|v| vec(any_packet(v), 1..8).boxed()),
        chunks in chunk_sizes(),
    ) {
        let mut bytes = Vec::new();
        let mut lens = Vec::new();
        for p in &packets {
            lens.push(p.encode(v, &mut bytes).map_err(fail)?);
        }
        let (decoded, error) = decode_chunked(&bytes, &chunks, v, &lenient())?;
        prop_assert_eq!(error, None);
        let (got, taken): (Vec<Packet>, Vec<usize>) = decoded.into_iter().unzip();
        prop_assert_eq!(got, packets);
        prop_assert_eq!(taken, lens);
    }

    /// A 5.0 packet encoded for 3.1 or 3.1.1 either fits (nothing 5.0-only in it) and
    /// round-trips unchanged, or is an EncodeError: nothing is silently dropped.
    #[test]
    fn v5_only_fields_are_encode_errors_in_3x(
        packet in any_packet(V5),
        target in select(vec![V3_1, V3_1_1]),
    ) {
        let mut p = packet;
        if let Packet::Connect(c) = &mut p {
            c.protocol = target;
        }
        if fits_in_v3(&p, target) {
            let mut out = Vec::new();
            let n = p.encode(target, &mut out).map_err(|e| fail(format!("{target}: {e}")))?;
            prop_assert_eq!(p.encoded_len(target), Ok(n));
            prop_assert_eq!(decode_exact(&out, target, &lenient()), Ok(p));
        } else {
            check_encode_error(&p, target, "5.0-only content")?;
        }
    }

    /// A valid packet of any version, encoded for any version, is Ok or an EncodeError,
    /// never a panic; Ok means it decodes back unchanged, an error is the same from
    /// `encode` and `encoded_len`.
    #[test]
    fn any_packet_encodes_for_any_version_or_errors(
        (_, p) in per_version(any_packet),
        target in version(),
    ) {
        let mut out = Vec::new();
        match p.encode(target, &mut out) {
            Ok(n) => {
                prop_assert_eq!(n, out.len());
                prop_assert_eq!(p.encoded_len(target), Ok(n));
                prop_assert_eq!(decode_exact(&out, target, &lenient()), Ok(p));
            }
            Err(e) => {
                prop_assert!(out.is_empty());
                prop_assert_eq!(p.encoded_len(target), Err(e));
            }
        }
    }

    /// Packets the specification forbids are encode errors, in every version.
    #[test]
    fn invalid_packets_are_encode_errors((p, v, rule) in invalid_packet()) {
        check_encode_error(&p, v, rule)?;
    }

    /// "It is a Protocol Error to include Authentication Data if there is no
    /// Authentication Method" (MQTT 5.0 3.1.2.11.10); the decoder refuses it.
    #[test]
    fn connect_authentication_data_without_method_is_an_encode_error(
        c in connect(V5),
        data in binary_data(),
    ) {
        let mut c = c;
        c.properties.authentication_method = None;
        c.properties.authentication_data = Some(data);
        check_encode_error(&Packet::Connect(c), V5, "Authentication Data without Method")?;
    }

    /// "It is a Protocol Error to set the No Local bit to 1 on a Shared Subscription"
    /// [MQTT-3.8.3-4]; the decoder refuses it.
    #[test]
    fn no_local_on_a_shared_subscription_is_an_encode_error(
        s in subscribe(V5),
        group in chars(&[], 1..6),
        i in any::<Index>(),
    ) {
        let mut s = s;
        let i = i.index(s.filters.len());
        let filter = format!("$share/{group}/{}", s.filters[i].0.filter());
        s.filters[i].0 = TopicFilter::try_from(filter).map_err(fail)?;
        s.filters[i].1.no_local = true;
        check_encode_error(&Packet::Subscribe(s), V5, "No Local on a shared subscription")?;
    }

    /// A declared size above the maximum packet size fails as soon as the fixed header is
    /// complete, before any body byte (or with only some) has arrived.
    #[test]
    fn declared_size_over_the_maximum_fails_on_the_fixed_header(
        v in version(),
        first in any::<u8>(),
        remaining in prop_oneof![0u32..200, 0u32..70_000, 0u32..=MAX_VAR_INT],
        pad in any::<bool>(),
        below in any::<Index>(),
        body in 0usize..8,
    ) {
        let mut len = var_int(remaining);
        prop_assert_eq!(len.len(), var_int_len(remaining));
        prop_assert_eq!(decode_var_int(&len, true), Ok(Some((remaining, len.len()))));
        // 3.x does not require the shortest encoding of the remaining length; 5.0 does.
        if pad && !v.is_v5() && len.len() < 4 {
            *len.last_mut().expect("not empty") |= 0x80;
            len.push(0);
        }
        let mut header = vec![first];
        header.extend(&len);
        let size = header.len() + remaining as usize;
        let max = u32::try_from(below.index(size)).map_err(fail)?;
        let options = DecodeOptions { max_packet_size: max, strict_strings: false };

        // Every part of the fixed header is still incomplete.
        for k in 0..header.len() {
            let mut buf = BytesMut::from(&header[..k]);
            prop_assert_eq!(decode(&mut buf, v, &options), Ok(None));
            prop_assert_eq!(buf.len(), k);
        }
        // The complete fixed header, with at most a few body bytes, is refused.
        let body = body.min(remaining as usize);
        let mut buf = BytesMut::from(&header[..]);
        buf.extend_from_slice(&vec![0; body]);
        prop_assert_eq!(
            decode(&mut buf, v, &options),
            Err(DecodeError::PacketTooLarge { size, max })
        );
        // With the limit at the declared size, the same bytes wait for the rest.
        if body < remaining as usize {
            let at_limit = DecodeOptions {
                max_packet_size: u32::try_from(size).map_err(fail)?,
                ..options
            };
            let mut buf = BytesMut::from(&header[..]);
            buf.extend_from_slice(&vec![0; body]);
            prop_assert_eq!(decode(&mut buf, v, &at_limit), Ok(None));
            prop_assert_eq!(buf.len(), header.len() + body);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Random bytes, any version and options: no panic.
    #[test]
    fn random_bytes_never_panic(
        v in version(),
        options in decode_options(),
        bytes in vec(any::<u8>(), 0..256),
        chunks in chunk_sizes(),
    ) {
        check_arbitrary_bytes(&bytes, v, &options, &chunks)?;
    }

    /// Correctly framed packets of any first byte with random bodies: no panic, and
    /// whatever decodes re-encodes.
    #[test]
    fn random_bodies_never_panic(
        v in version(),
        options in decode_options(),
        frames in vec((first_byte(), body_bytes()), 1..4),
        chunks in chunk_sizes(),
    ) {
        let bytes: Vec<u8> = frames.iter().flat_map(|(b, body)| frame(*b, body)).collect();
        check_arbitrary_bytes(&bytes, v, &options, &chunks)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Valid packets of one version, damaged a little and decoded with any version and
    /// options: no panic, and whatever decodes re-encodes.
    #[test]
    fn mutated_packets_never_panic(
        (generated, packets) in per_version(|v| vec(any_packet(v), 1..3).boxed()),
        mutations in vec(mutation(), 1..4),
        v in version(),
        options in decode_options(),
        chunks in chunk_sizes(),
    ) {
        let mut bytes = Vec::new();
        for p in &packets {
            p.encode(generated, &mut bytes).map_err(fail)?;
        }
        for m in &mutations {
            mutate(&mut bytes, m);
        }
        check_arbitrary_bytes(&bytes, v, &options, &chunks)?;
    }
}

/// Every valid first byte with every body of up to three bytes from an alphabet of telling
/// values (lengths, flags, QoS, reason codes, property identifiers), in every version,
/// strict or not: decoding never panics, and whatever decodes re-encodes to the same
/// packet. Exhaustive where the random tests above are sparse.
#[test]
fn every_short_body_decodes_or_fails_cleanly() {
    const ALPHABET: [u8; 12] = [
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x08, 0x10, 0x18, 0x80, 0x81, 0xFF,
    ];
    let mut bodies: Vec<Vec<u8>> = vec![Vec::new()];
    let mut last = bodies.clone();
    for _ in 0..3 {
        last = last
            .iter()
            .flat_map(|b| {
                ALPHABET.iter().map(move |&x| {
                    let mut b = b.clone();
                    b.push(x);
                    b
                })
            })
            .collect();
        bodies.extend(last.iter().cloned());
    }
    let mut failures = Vec::new();
    for first in VALID_FIRST_BYTES {
        for body in &bodies {
            let bytes = frame(first, body);
            for v in VERSIONS {
                // Strictness only matters for strings, which three bytes barely hold: each
                // input is reported once.
                let strict_result = decode(&mut BytesMut::from(&bytes[..]), v, &strict());
                let lenient_result = decode(&mut BytesMut::from(&bytes[..]), v, &lenient());
                for decoded in [strict_result, lenient_result] {
                    if let Ok(Some(p)) = decoded
                        && let Err(e) = check_reencodes(&p, v)
                    {
                        failures.push(format!("{v}: {bytes:02x?}: {e}"));
                        break;
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} inputs decode but do not re-encode, e.g.:\n{}",
        failures.len(),
        failures[..failures.len().min(12)].join("\n")
    );
}
