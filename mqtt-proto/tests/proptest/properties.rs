//! Strategies for the 5.0 property sets.

use std::fmt::Debug;

use mqtt_proto::{
    AckProperties, AuthProperties, ConnAckProperties, ConnectProperties, DisconnectProperties,
    MqttString, PublishProperties, QoS, SubscribeProperties, UnsubscribeProperties, UserProperty,
    WillProperties,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;

use crate::values::{
    binary_data, mqtt_string, non_zero_u16, non_zero_u32, subscription_id, topic_name, u32_value,
};

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

pub(crate) fn connect_properties() -> BoxedStrategy<ConnectProperties> {
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

pub(crate) fn will_properties() -> BoxedStrategy<WillProperties> {
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

pub(crate) fn connack_properties() -> BoxedStrategy<ConnAckProperties> {
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

pub(crate) fn publish_properties() -> BoxedStrategy<PublishProperties> {
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

pub(crate) fn ack_properties() -> BoxedStrategy<AckProperties> {
    props(
        (option::of(mqtt_string()), user_properties()).prop_map(|(rs, up)| AckProperties {
            reason_string: rs,
            user_properties: up,
        }),
    )
}

pub(crate) fn subscribe_properties() -> BoxedStrategy<SubscribeProperties> {
    props(
        (option::of(subscription_id()), user_properties()).prop_map(|(sid, up)| {
            SubscribeProperties {
                subscription_identifier: sid,
                user_properties: up,
            }
        }),
    )
}

pub(crate) fn unsubscribe_properties() -> BoxedStrategy<UnsubscribeProperties> {
    props(user_properties().prop_map(|up| UnsubscribeProperties {
        user_properties: up,
    }))
}

pub(crate) fn disconnect_properties() -> BoxedStrategy<DisconnectProperties> {
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
pub(crate) fn auth_properties() -> BoxedStrategy<AuthProperties> {
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
