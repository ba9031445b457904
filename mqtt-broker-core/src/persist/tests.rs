use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use mqtt_proto::{
    MqttString, ProtocolVersion, PublishProperties, QoS, RetainHandling, SubscriptionId,
    SubscriptionOptions, TopicFilter, TopicName, Will, WillProperties,
};
use mqtt_session::{OutgoingMessage, SessionState};

use super::*;
use crate::Subscription;

fn session_record() -> SessionRecord {
    #[allow(clippy::disallowed_methods)]
    let now = Instant::now();
    let mut state = SessionState::new();
    state.enqueue(
        now,
        OutgoingMessage::new(TopicName::from_static("q"), QoS::AtLeastOnce, "queued"),
    );
    let mut buf = BytesMut::new();
    state.encode(now, &mut buf).unwrap();
    let options = SubscriptionOptions {
        qos: QoS::ExactlyOnce,
        no_local: true,
        retain_as_published: true,
        retain_handling: RetainHandling::DoNotSend,
    };
    let filter = |s: &str, v| TopicFilter::for_version(MqttString::try_from(s).unwrap(), v);
    let will = Will {
        topic: TopicName::from_static("wills/c"),
        payload: Bytes::from_static(b"gone"),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: WillProperties {
            will_delay_interval: Some(30),
            message_expiry_interval: Some(60),
            correlation_data: Some(Bytes::from_static(b"x")),
            user_properties: vec![(MqttString::from_static("k"), MqttString::from_static("v"))],
            ..WillProperties::default()
        },
    };
    SessionRecord {
        client_id: MqttString::from_static("client-1"),
        version: ProtocolVersion::V5,
        expiry_interval: 3600,
        expires_in: Some(Duration::from_millis(1_234_567)),
        subscriptions: vec![
            (
                filter("a/+/#", ProtocolVersion::V5).unwrap(),
                Subscription {
                    options,
                    id: SubscriptionId::new(268_435_455),
                },
            ),
            (
                filter("$share/g/jobs/#", ProtocolVersion::V5).unwrap(),
                Subscription {
                    options: SubscriptionOptions::new(QoS::AtLeastOnce),
                    id: None,
                },
            ),
            (
                // An ordinary filter for 3.1.1, not a valid shared subscription.
                filter("$share//x", ProtocolVersion::V3_1_1).unwrap(),
                Subscription {
                    options: SubscriptionOptions::new(QoS::AtMostOnce),
                    id: None,
                },
            ),
        ],
        will: Some(will),
        will_in: Some(Duration::from_secs(12)),
        state: Some(buf.freeze()),
    }
}

fn retained_record() -> RetainedRecord {
    RetainedRecord {
        topic: TopicName::from_static("sensors/1"),
        qos: QoS::ExactlyOnce,
        properties: PublishProperties {
            message_expiry_interval: Some(100),
            content_type: Some(MqttString::from_static("text/plain")),
            ..PublishProperties::default()
        }
        .into(),
        payload: Bytes::from_static(b"21.5"),
        expires_in: Some(Duration::from_secs(99)),
    }
}

fn bytes_of(encode: impl FnOnce(&mut BytesMut) -> Result<(), RecordError>) -> Bytes {
    let mut buf = BytesMut::new();
    encode(&mut buf).unwrap();
    buf.freeze()
}

#[test]
fn session_record_round_trip_keeps_everything() {
    let record = session_record();
    let back = SessionRecord::decode(bytes_of(|b| record.encode(b))).unwrap();
    assert_eq!(back, record);
    assert!(!back.subscriptions[2].0.is_shared());

    let bare = SessionRecord {
        version: ProtocolVersion::V3_1_1,
        expiry_interval: u32::MAX,
        expires_in: None,
        subscriptions: Vec::new(),
        will: None,
        will_in: None,
        state: None,
        ..record
    };
    assert_eq!(
        SessionRecord::decode(bytes_of(|b| bare.encode(b))).unwrap(),
        bare
    );
}

#[test]
fn retained_record_round_trip_keeps_everything() {
    let record = retained_record();
    let back = RetainedRecord::decode(bytes_of(|b| record.encode(b))).unwrap();
    assert_eq!(back, record);
}

#[test]
fn truncated_or_foreign_bytes_are_errors_not_panics() {
    let session = bytes_of(|b| session_record().encode(b));
    let retained = bytes_of(|b| retained_record().encode(b));
    for n in 0..session.len() {
        assert!(
            SessionRecord::decode(session.slice(..n)).is_err(),
            "prefix {n}"
        );
    }
    for n in 0..retained.len() {
        assert!(
            RetainedRecord::decode(retained.slice(..n)).is_err(),
            "prefix {n}"
        );
    }
    assert_eq!(
        SessionRecord::decode(retained.clone()),
        Err(RecordError::Format)
    );
    assert_eq!(
        RetainedRecord::decode(session.clone()),
        Err(RecordError::Format)
    );
    for bytes in [session, retained] {
        let mut longer = BytesMut::from(&bytes[..]);
        longer.put_u8(0);
        let longer = longer.freeze();
        assert!(SessionRecord::decode(longer.clone()).is_err());
        assert!(RetainedRecord::decode(longer).is_err());
    }
}
