//! What the interop tests share: small value constructors, waiting for particular packets,
//! completing the flows of a PUBLISH, and accepting a client's CONNECT.

use std::num::NonZeroU16;
use std::time::Duration;

use mqtt_proto::{
    Connect, Disconnect, MqttString, Packet, ProtocolVersion, PubAck, PubComp, PubRec, PubRel,
    Publish, QoSPid, ReasonCode, SubAck, SubscriptionId, UnsubAck,
};

use crate::support::{ChildGuard, Conn, Deadline, Listener, s};

use ProtocolVersion::V3_1_1;

/// Overall budget of one test; a normal run takes a few seconds.
pub(crate) const BUDGET: Duration = Duration::from_secs(90);

pub(crate) fn sid(v: u32) -> SubscriptionId {
    SubscriptionId::new(v).expect("valid subscription identifier")
}

pub(crate) fn nz16(v: u16) -> Option<NonZeroU16> {
    NonZeroU16::new(v)
}

pub(crate) fn user(pairs: &[(&str, &str)]) -> Vec<(MqttString, MqttString)> {
    pairs.iter().map(|&(k, v)| (s(k), s(v))).collect()
}

pub(crate) fn topic_str(p: &Publish) -> Option<&str> {
    p.topic.as_ref().map(|t| t.as_str())
}

// ------------------------------------------------------------------------------------------
// Waiting for particular packets.

/// The next packet, which must match `$pat`; evaluates to `$out`.
macro_rules! next {
    ($conn:expr, $pat:pat => $out:expr) => {
        match $conn.recv() {
            $pat => $out,
            other => panic!("expected {}, got {other:?}", stringify!($pat)),
        }
    };
}
pub(crate) use next;

pub(crate) fn expect_publish(conn: &mut Conn, topic_name: &str) -> Publish {
    conn.expect(&format!("PUBLISH to {topic_name}"), |p| match p {
        Packet::Publish(p) if topic_str(p) == Some(topic_name) => Some(p.clone()),
        _ => None,
    })
}

pub(crate) fn expect_puback(conn: &mut Conn, id: u16) -> PubAck {
    conn.expect(&format!("PUBACK {id}"), |p| match p {
        Packet::PubAck(a) if a.packet_id.get() == id => Some(a.clone()),
        _ => None,
    })
}

pub(crate) fn expect_pubrec(conn: &mut Conn, id: u16) -> PubRec {
    conn.expect(&format!("PUBREC {id}"), |p| match p {
        Packet::PubRec(a) if a.packet_id.get() == id => Some(a.clone()),
        _ => None,
    })
}

pub(crate) fn expect_pubrel(conn: &mut Conn, id: u16) -> PubRel {
    conn.expect(&format!("PUBREL {id}"), |p| match p {
        Packet::PubRel(a) if a.packet_id.get() == id => Some(a.clone()),
        _ => None,
    })
}

pub(crate) fn expect_pubcomp(conn: &mut Conn, id: u16) -> PubComp {
    conn.expect(&format!("PUBCOMP {id}"), |p| match p {
        Packet::PubComp(a) if a.packet_id.get() == id => Some(a.clone()),
        _ => None,
    })
}

pub(crate) fn expect_suback(conn: &mut Conn, id: u16) -> SubAck {
    conn.expect(&format!("SUBACK {id}"), |p| match p {
        Packet::SubAck(a) if a.packet_id.get() == id => Some(a.clone()),
        _ => None,
    })
}

pub(crate) fn expect_unsuback(conn: &mut Conn, id: u16) -> UnsubAck {
    conn.expect(&format!("UNSUBACK {id}"), |p| match p {
        Packet::UnsubAck(a) if a.packet_id.get() == id => Some(a.clone()),
        _ => None,
    })
}

pub(crate) fn expect_disconnect(conn: &mut Conn) -> Disconnect {
    conn.expect("DISCONNECT", |p| match p {
        Packet::Disconnect(d) => Some(Disconnect::clone(d)),
        _ => None,
    })
}

/// Completes the receiver's side of a delivered PUBLISH (PUBACK, or PUBREC/PUBREL/PUBCOMP).
pub(crate) fn ack_delivery(conn: &mut Conn, p: &Publish) {
    match p.qos_pid {
        QoSPid::AtMostOnce => {}
        QoSPid::AtLeastOnce(id) => conn.send(PubAck::new(id)),
        QoSPid::ExactlyOnce(id) => {
            conn.send(PubRec::new(id));
            let rel = expect_pubrel(conn, id.get());
            assert_eq!(rel.reason_code, ReasonCode::Success);
            conn.send(PubComp::new(id));
        }
    }
}

/// Sends a PUBLISH and completes the sender's side of its flow; returns the reason code of
/// the PUBACK or PUBREC (`Success` for QoS 0).
pub(crate) fn publish_flow(conn: &mut Conn, p: Publish) -> ReasonCode {
    let qos_pid = p.qos_pid;
    conn.send(p);
    match qos_pid {
        QoSPid::AtMostOnce => ReasonCode::Success,
        QoSPid::AtLeastOnce(id) => expect_puback(conn, id.get()).reason_code,
        QoSPid::ExactlyOnce(id) => {
            let rec = expect_pubrec(conn, id.get());
            assert!(!rec.reason_code.is_error(), "PUBREC {rec:?}");
            conn.send(PubRel::new(id));
            let comp = expect_pubcomp(conn, id.get());
            assert_eq!(comp.reason_code, ReasonCode::Success);
            rec.reason_code
        }
    }
}

/// Receives the client's CONNECT on a freshly accepted connection.
pub(crate) fn accept_connect(
    listener: &Listener,
    client: &mut ChildGuard,
    name: &str,
    deadline: Deadline,
) -> (Conn, Connect) {
    let stream = listener.accept(client, deadline);
    // The version is a placeholder: a CONNECT is decoded by the version it declares, and
    // the connection adopts it.
    let mut conn = Conn::new(stream, V3_1_1, deadline, name);
    conn.answer_pings();
    match conn.recv() {
        Packet::Connect(c) => {
            assert_eq!(conn.version, c.protocol);
            (conn, *c)
        }
        other => panic!("{name}: expected CONNECT, got {other:?}"),
    }
}
