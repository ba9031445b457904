use bytes::Bytes;

use super::*;
use crate::ProtocolVersion;

fn reader(bytes: &'static [u8]) -> Reader {
    Reader::new(Bytes::from_static(bytes), ProtocolVersion::V5, false)
}

#[test]
fn user_properties_repeat_and_keep_their_order() {
    // Two User Properties (0x26) with the same name: both kept, in order.
    let mut r = reader(b"\x0E\x26\x00\x01k\x00\x01a\x26\x00\x01k\x00\x01b");
    let p = PublishProperties::read(&mut r).unwrap();
    let values: Vec<&str> = p.user_properties.iter().map(|(_, v)| v.as_str()).collect();
    assert_eq!(values, ["a", "b"]);
    assert!(r.is_empty());
}

#[test]
fn a_single_valued_property_given_twice_is_a_protocol_error() {
    // Message Expiry Interval (0x02) twice.
    let mut r = reader(b"\x0A\x02\x00\x00\x00\x01\x02\x00\x00\x00\x02");
    let err = PublishProperties::read(&mut r).unwrap_err();
    assert_eq!(
        err,
        DecodeError::DuplicateProperty(PropertyId::MessageExpiryInterval)
    );
    assert_eq!(err.reason_code(), crate::ReasonCode::ProtocolError);
}

#[test]
fn subscription_identifier_repeats_in_publish_but_not_in_subscribe() {
    let mut r = reader(b"\x04\x0B\x01\x0B\x02");
    let p = PublishProperties::read(&mut r).unwrap();
    let ids: Vec<u32> = p.subscription_identifiers.iter().map(|s| s.get()).collect();
    assert_eq!(ids, [1, 2]);
    let mut r = reader(b"\x04\x0B\x01\x0B\x02");
    assert_eq!(
        SubscribeProperties::read(&mut r),
        Err(DecodeError::DuplicateProperty(
            PropertyId::SubscriptionIdentifier
        ))
    );
}

#[test]
fn a_property_the_packet_may_not_carry_is_malformed() {
    // Topic Alias (0x23) in CONNECT.
    let mut r = reader(b"\x03\x23\x00\x01");
    let err = ConnectProperties::read(&mut r).unwrap_err();
    assert_eq!(
        err,
        DecodeError::PropertyNotAllowed {
            id: PropertyId::TopicAlias,
            context: "CONNECT"
        }
    );
    assert_eq!(err.reason_code(), crate::ReasonCode::MalformedPacket);
}

#[test]
fn an_unknown_property_identifier_is_malformed() {
    let mut r = reader(b"\x02\x7F\x00");
    assert_eq!(
        ConnectProperties::read(&mut r),
        Err(DecodeError::UnknownProperty(0x7F))
    );
}

#[test]
fn property_length_beyond_the_packet_is_malformed() {
    let mut r = reader(b"\x10\x02\x00");
    assert_eq!(
        PublishProperties::read(&mut r),
        Err(DecodeError::UnexpectedEnd)
    );
}

#[test]
fn a_value_running_past_the_property_list_is_malformed() {
    // The list claims 3 bytes but Message Expiry Interval needs 4 after its identifier;
    // the byte after the list must not be read as part of the value.
    let mut r = reader(b"\x03\x02\x00\x00\x00\x00");
    assert_eq!(
        PublishProperties::read(&mut r),
        Err(DecodeError::UnexpectedEnd)
    );
}

#[test]
fn zero_values_that_the_specification_forbids() {
    // Receive Maximum 0, Maximum Packet Size 0, Subscription Identifier 0: Protocol Error.
    let mut r = reader(b"\x03\x21\x00\x00");
    assert_eq!(
        ConnectProperties::read(&mut r),
        Err(DecodeError::InvalidPropertyValue(
            PropertyId::ReceiveMaximum
        ))
    );
    let mut r = reader(b"\x05\x27\x00\x00\x00\x00");
    assert_eq!(
        ConnectProperties::read(&mut r),
        Err(DecodeError::InvalidPropertyValue(
            PropertyId::MaximumPacketSize
        ))
    );
    let mut r = reader(b"\x02\x0B\x00");
    assert_eq!(
        SubscribeProperties::read(&mut r),
        Err(DecodeError::InvalidPropertyValue(
            PropertyId::SubscriptionIdentifier
        ))
    );
    // Topic Alias 0 is "Topic Alias invalid" [MQTT-3.3.2-8].
    let mut r = reader(b"\x03\x23\x00\x00");
    let err = PublishProperties::read(&mut r).unwrap_err();
    assert_eq!(err, DecodeError::TopicAliasZero);
    assert_eq!(err.reason_code(), crate::ReasonCode::TopicAliasInvalid);
}

#[test]
fn boolean_bytes_other_than_0_and_1_are_protocol_errors() {
    let mut r = reader(b"\x02\x17\x02");
    assert_eq!(
        ConnectProperties::read(&mut r),
        Err(DecodeError::InvalidPropertyValue(
            PropertyId::RequestProblemInformation
        ))
    );
    // Maximum QoS 2 is not a value that may be sent [MQTT-3.2.2-9 (5.0)].
    let mut r = reader(b"\x02\x24\x02");
    assert_eq!(
        ConnAckProperties::read(&mut r),
        Err(DecodeError::InvalidPropertyValue(PropertyId::MaximumQoS))
    );
}

#[test]
fn response_topic_is_a_topic_name_without_wildcards() {
    let mut r = reader(b"\x04\x08\x00\x01#");
    assert!(matches!(
        PublishProperties::read(&mut r),
        Err(DecodeError::InvalidTopicName(_))
    ));
}

#[test]
fn write_list_counts_what_it_writes() {
    let p = ConnAckProperties {
        receive_maximum: NonZeroU16::new(10),
        maximum_qos: Some(QoS::AtLeastOnce),
        assigned_client_identifier: Some(MqttString::from_static("auto-1")),
        user_properties: vec![(MqttString::from_static("a"), MqttString::from_static("b"))],
        ..ConnAckProperties::default()
    };
    let mut out = Vec::new();
    write_list(&mut crate::codec::Writer(&mut out), &p).unwrap();
    let mut c = Counter::default();
    write_list(&mut c, &p).unwrap();
    assert_eq!(c.0, out.len());
    assert_eq!(out[0] as usize, out.len() - 1);
    let mut r = Reader::new(Bytes::from(out), ProtocolVersion::V5, false);
    assert_eq!(ConnAckProperties::read(&mut r).unwrap(), p);
}

#[test]
fn maximum_qos_2_cannot_be_encoded() {
    let p = ConnAckProperties {
        maximum_qos: Some(QoS::ExactlyOnce),
        ..ConnAckProperties::default()
    };
    assert!(write_list(&mut Counter::default(), &p).is_err());
}
