//! Strategies for the building blocks: protocol versions, strings, topics, binary data,
//! numbers, identifiers and reason codes.

use std::fmt::Debug;
use std::num::{NonZeroU16, NonZeroU32};
use std::ops::Range;

use bytes::Bytes;
use mqtt_proto::ProtocolVersion::{V3_1, V3_1_1, V5};
use mqtt_proto::{
    MAX_VAR_INT, MqttString, PacketId, PacketType, ProtocolVersion, QoS, QoSPid, ReasonCode,
    SubscriptionId, TopicFilter, TopicName,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;

pub(crate) const VERSIONS: [ProtocolVersion; 3] = [V3_1, V3_1_1, V5];

pub(crate) fn version() -> impl Strategy<Value = ProtocolVersion> {
    select(VERSIONS.to_vec())
}

/// One strategy per protocol version, tagged with the version.
pub(crate) fn per_version<T: Debug + 'static>(
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
pub(crate) fn v5_or_default<T: Default + Clone + Debug + 'static>(
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
pub(crate) fn chars(extra: &'static [char], len: Range<usize>) -> BoxedStrategy<String> {
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

pub(crate) fn mqtt(s: String) -> MqttString {
    MqttString::try_from(s).expect("generated strings are valid MQTT strings")
}

/// A UTF-8 encoded string, now and then the longest one (65,535 bytes).
pub(crate) fn mqtt_string() -> BoxedStrategy<MqttString> {
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
pub(crate) fn topic_name() -> BoxedStrategy<TopicName> {
    vec(topic_level(), 1..5)
        .prop_filter_map("a topic name is not empty", |levels| {
            TopicName::try_from(levels.join("/")).ok()
        })
        .boxed()
}

/// A topic filter: levels, `+` levels, a trailing `#`, and now and then a shared
/// subscription `$share/{group}/{filter}`.
pub(crate) fn topic_filter() -> BoxedStrategy<TopicFilter> {
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
pub(crate) fn binary_data() -> BoxedStrategy<Bytes> {
    prop_oneof![
        30 => vec(any::<u8>(), 0..32).prop_map(Bytes::from),
        1 => Just(Bytes::from(vec![0xA5; 65_535])),
    ]
    .boxed()
}

/// A PUBLISH payload: short, a few kilobytes (2- and 3-byte remaining lengths), or now and
/// then two megabytes (a 4-byte remaining length).
pub(crate) fn payload() -> BoxedStrategy<Bytes> {
    prop_oneof![
        40 => vec(any::<u8>(), 0..48).prop_map(Bytes::from),
        4 => (100usize..20_000, any::<u8>()).prop_map(|(n, b)| Bytes::from(vec![b; n])),
        1 => Just(Bytes::from(vec![0x5A; 2_097_152])),
    ]
    .boxed()
}

/// A payload that is UTF-8, for a Payload Format Indicator of 1.
pub(crate) fn utf8_payload() -> BoxedStrategy<Bytes> {
    text().prop_map(Bytes::from).boxed()
}

// ---------------------------------------------------------------------------------------
// Numbers, identifiers, reason codes
// ---------------------------------------------------------------------------------------

pub(crate) fn packet_id() -> BoxedStrategy<PacketId> {
    prop_oneof![Just(1u16), Just(u16::MAX), 1..=u16::MAX]
        .prop_map(|v| PacketId::new(v).expect("non-zero"))
        .boxed()
}

pub(crate) fn qos() -> BoxedStrategy<QoS> {
    select(vec![QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]).boxed()
}

pub(crate) fn qos_pid() -> BoxedStrategy<QoSPid> {
    prop_oneof![
        Just(QoSPid::AtMostOnce),
        packet_id().prop_map(QoSPid::AtLeastOnce),
        packet_id().prop_map(QoSPid::ExactlyOnce),
    ]
    .boxed()
}

pub(crate) fn u32_value() -> BoxedStrategy<u32> {
    prop_oneof![Just(0), Just(u32::MAX), any::<u32>()].boxed()
}

pub(crate) fn non_zero_u16() -> BoxedStrategy<NonZeroU16> {
    prop_oneof![Just(1), Just(u16::MAX), 1..=u16::MAX]
        .prop_map(|v| NonZeroU16::new(v).expect("non-zero"))
        .boxed()
}

pub(crate) fn non_zero_u32() -> BoxedStrategy<NonZeroU32> {
    prop_oneof![Just(1), Just(u32::MAX), 1..=u32::MAX]
        .prop_map(|v| NonZeroU32::new(v).expect("non-zero"))
        .boxed()
}

/// 1 to 268,435,455, with the boundaries of each variable byte integer length.
pub(crate) fn subscription_id() -> BoxedStrategy<SubscriptionId> {
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

pub(crate) fn all_reason_codes() -> Vec<ReasonCode> {
    (0..=u8::MAX).filter_map(ReasonCode::from_u8).collect()
}

pub(crate) fn codes_allowed_in(ty: PacketType) -> Vec<ReasonCode> {
    all_reason_codes()
        .into_iter()
        .filter(|rc| rc.is_allowed_in(ty))
        .collect()
}

pub(crate) fn codes_not_allowed_in(ty: PacketType) -> Vec<ReasonCode> {
    all_reason_codes()
        .into_iter()
        .filter(|rc| !rc.is_allowed_in(ty))
        .collect()
}

/// A reason code a 5.0 packet of type `ty` may carry, Success a third of the time (so the
/// short forms of acknowledgements and DISCONNECT are exercised).
pub(crate) fn v5_reason_code(ty: PacketType) -> BoxedStrategy<ReasonCode> {
    prop_oneof![1 => Just(ReasonCode::Success), 2 => select(codes_allowed_in(ty))].boxed()
}

/// The SUBACK return codes of 3.x: granted QoS 0 to 2, and in 3.1.1 also 0x80 Failure
/// (MQTT 3.1 has no failure code).
pub(crate) fn v3_suback_codes(v: ProtocolVersion) -> Vec<ReasonCode> {
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
