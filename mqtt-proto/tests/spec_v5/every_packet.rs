//! Every packet, every property: encode then decode.

use std::num::{NonZeroU16, NonZeroU32};

use bytes::Bytes;
use mqtt_proto::{
    AckProperties, Auth, AuthProperties, ConnAck, ConnAckProperties, Connect, ConnectProperties,
    Disconnect, DisconnectProperties, Packet, PubAck, PubComp, PubRec, PubRel, Publish,
    PublishProperties, QoS, QoSPid, ReasonCode, RetainHandling, SubAck, Subscribe,
    SubscribeProperties, SubscriptionId, SubscriptionOptions, TopicName, UnsubAck, Unsubscribe,
    UnsubscribeProperties, Will, WillProperties,
};

use crate::common::{hex, pid};
use crate::helpers::{V5, enc, filter, ok, s, user_props};

#[test]
fn every_packet_round_trips_with_all_its_properties() {
    // Codec part of [MQTT-3.9.3-1] [MQTT-3.11.3-1]: SUBACK and UNSUBACK codes keep their order.
    // Table 2-4 from the encoder's side: each packet built with every property it may carry
    // encodes, measures its own length, and decodes back to the same packet.
    let up = user_props();
    let ack = AckProperties {
        reason_string: Some(s("why")),
        user_properties: up.clone(),
    };
    let packets: Vec<Packet> = vec![
        Connect {
            protocol: V5,
            clean_start: false,
            keep_alive: 30,
            properties: ConnectProperties {
                session_expiry_interval: Some(u32::MAX),
                receive_maximum: NonZeroU16::new(20),
                maximum_packet_size: NonZeroU32::new(1 << 20),
                topic_alias_maximum: Some(10),
                request_response_information: Some(true),
                request_problem_information: Some(false),
                user_properties: up.clone(),
                authentication_method: Some(s("SCRAM-SHA-1")),
                authentication_data: Some(Bytes::from_static(b"\x00\x01")),
            },
            client_id: s("client-1"),
            will: Some(Will {
                topic: TopicName::from_static("will/t"),
                payload: Bytes::from_static(b"bye"),
                qos: QoS::ExactlyOnce,
                retain: true,
                properties: WillProperties {
                    will_delay_interval: Some(5),
                    payload_format_indicator: Some(true),
                    message_expiry_interval: Some(60),
                    content_type: Some(s("text/plain")),
                    response_topic: Some(TopicName::from_static("resp")),
                    correlation_data: Some(Bytes::from_static(b"id")),
                    user_properties: up.clone(),
                },
            }),
            username: Some(s("u")),
            password: Some(Bytes::from_static(b"p")),
        }
        .into(),
        ConnAck {
            session_present: true,
            reason_code: ReasonCode::Success,
            properties: ConnAckProperties {
                session_expiry_interval: Some(0),
                receive_maximum: NonZeroU16::new(1),
                maximum_qos: Some(QoS::AtLeastOnce),
                retain_available: Some(false),
                maximum_packet_size: NonZeroU32::new(1024),
                assigned_client_identifier: Some(s("auto")),
                topic_alias_maximum: Some(0),
                reason_string: Some(s("ok")),
                user_properties: up.clone(),
                wildcard_subscription_available: Some(true),
                subscription_identifiers_available: Some(false),
                shared_subscription_available: Some(true),
                server_keep_alive: Some(120),
                response_information: Some(s("resp/")),
                server_reference: Some(s("other:1883")),
                authentication_method: Some(s("SCRAM-SHA-1")),
                authentication_data: Some(Bytes::from_static(b"v=")),
            },
        }
        .into(),
        Publish {
            dup: true,
            qos_pid: QoSPid::ExactlyOnce(pid(65_535)),
            retain: true,
            topic: Some(TopicName::from_static("a/b")),
            properties: PublishProperties {
                payload_format_indicator: Some(true),
                message_expiry_interval: Some(9),
                topic_alias: NonZeroU16::new(3),
                response_topic: Some(TopicName::from_static("r")),
                correlation_data: Some(Bytes::from_static(b"c")),
                user_properties: up.clone(),
                subscription_identifiers: vec![
                    SubscriptionId::new(1).unwrap(),
                    SubscriptionId::new(SubscriptionId::MAX).unwrap(),
                ],
                content_type: Some(s("t")),
            }
            .into(),
            payload: Bytes::from_static(b"payload"),
        }
        .into(),
        PubAck {
            packet_id: pid(1),
            reason_code: ReasonCode::QuotaExceeded,
            properties: ack.clone(),
        }
        .into(),
        PubRec {
            packet_id: pid(2),
            reason_code: ReasonCode::Success,
            properties: ack.clone(),
        }
        .into(),
        PubRel {
            packet_id: pid(3),
            reason_code: ReasonCode::PacketIdentifierNotFound,
            properties: ack.clone(),
        }
        .into(),
        PubComp {
            packet_id: pid(4),
            reason_code: ReasonCode::Success,
            properties: ack.clone(),
        }
        .into(),
        Subscribe {
            packet_id: pid(5),
            properties: SubscribeProperties {
                subscription_identifier: SubscriptionId::new(77),
                user_properties: up.clone(),
            },
            filters: vec![
                (
                    filter("a/+/#"),
                    SubscriptionOptions {
                        qos: QoS::ExactlyOnce,
                        no_local: true,
                        retain_as_published: true,
                        retain_handling: RetainHandling::DoNotSend,
                    },
                ),
                (
                    filter("$share/g/x"),
                    SubscriptionOptions::new(QoS::AtLeastOnce),
                ),
            ],
        }
        .into(),
        SubAck {
            packet_id: pid(5),
            properties: ack.clone(),
            reason_codes: vec![ReasonCode::GrantedQoS2, ReasonCode::NotAuthorized],
        }
        .into(),
        Unsubscribe {
            packet_id: pid(6),
            properties: UnsubscribeProperties {
                user_properties: up.clone(),
            },
            filters: vec![filter("a/+/#"), filter("$share/g/x")],
        }
        .into(),
        UnsubAck {
            packet_id: pid(6),
            properties: ack.clone(),
            reason_codes: vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted],
        }
        .into(),
        Packet::PingReq,
        Packet::PingResp,
        Disconnect {
            reason_code: ReasonCode::UseAnotherServer,
            properties: DisconnectProperties {
                session_expiry_interval: Some(10),
                reason_string: Some(s("moving")),
                user_properties: up.clone(),
                server_reference: Some(s("b:1883")),
            },
        }
        .into(),
        Auth {
            reason_code: ReasonCode::ReAuthenticate,
            properties: AuthProperties {
                authentication_method: Some(s("SCRAM-SHA-1")),
                authentication_data: Some(Bytes::from_static(b"n,,n=u")),
                reason_string: Some(s("again")),
                user_properties: up.clone(),
            },
        }
        .into(),
    ];
    for p in packets {
        let out = enc(p.clone());
        assert_eq!(ok(&out), p);
    }
    // One of them byte for byte: PUBACK 0x97 with Reason String "r".
    let ack = PubAck {
        packet_id: pid(1),
        reason_code: ReasonCode::QuotaExceeded,
        properties: AckProperties {
            reason_string: Some(s("r")),
            user_properties: Vec::new(),
        },
    };
    assert_eq!(enc(ack), hex("40 08 00 01 97 04 1f 00 01 72"));
}
