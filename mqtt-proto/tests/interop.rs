//! Live-wire interoperability of the codec with real MQTT peers, in both directions.
//!
//! * Real clients against us: `mosquitto_pub`, `mosquitto_sub` (Debian mosquitto-clients
//!   2.0.11) and a paho-mqtt 2.x script connect to a listener of the test, which plays a
//!   minimal server with nothing but `mqtt-proto`: every packet the client sends is decoded
//!   and checked, every answer is encoded by the codec, and the client must be satisfied
//!   with the answers (exit status 0, and its output shows what we sent).
//! * Us against a real broker: a private `mosquitto` on an OS-assigned port, driven over a
//!   plain `TcpStream` with packets encoded by the codec, and everything it sends back
//!   decoded and checked.
//!
//! MQTT 3.1, 3.1.1 and 5.0 are covered where the peer supports them. Everything runs on
//! 127.0.0.1 with ports from the OS; every test has an overall deadline, socket timeouts,
//! and runs each program under `timeout` in a process group that is killed on drop.
//!
//! A missing peer program skips the test with a `SKIPPED: <program> not installed` line on
//! stderr, or fails it when `CI=true`.
#![allow(
    clippy::disallowed_methods,
    reason = "the clock and thread bans of clippy.toml are for the pure library; these \
              tests do real I/O and need deadlines"
)]

#[path = "interop/support.rs"]
mod support;

use std::num::{NonZeroU16, NonZeroU32};
use std::time::Duration;

use bytes::Bytes;
use mqtt_proto::{
    AckProperties, ConnAck, ConnAckProperties, Connect, ConnectProperties, Disconnect,
    DisconnectProperties, MqttString, Packet, ProtocolVersion, PubAck, PubComp, PubRec, PubRel,
    Publish, PublishProperties, QoS, QoSPid, ReasonCode, RetainHandling, SubAck, Subscribe,
    SubscribeProperties, SubscriptionId, SubscriptionOptions, UnsubAck, Unsubscribe,
    UnsubscribeProperties, Will, WillProperties,
};
use support::{
    Broker, ChildGuard, Conn, Deadline, Listener, TOOL_LIMIT, filter, mosquitto_version_arg, pid,
    require, require_paho, s, tag, topic,
};

use ProtocolVersion::{V3_1, V3_1_1, V5};

/// Overall budget of one test; a normal run takes a few seconds.
const BUDGET: Duration = Duration::from_secs(90);

fn sid(v: u32) -> SubscriptionId {
    SubscriptionId::new(v).expect("valid subscription identifier")
}

fn nz16(v: u16) -> Option<NonZeroU16> {
    NonZeroU16::new(v)
}

fn user(pairs: &[(&str, &str)]) -> Vec<(MqttString, MqttString)> {
    pairs.iter().map(|&(k, v)| (s(k), s(v))).collect()
}

fn topic_str(p: &Publish) -> Option<&str> {
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

fn expect_publish(conn: &mut Conn, topic_name: &str) -> Publish {
    conn.expect(&format!("PUBLISH to {topic_name}"), |p| match p {
        Packet::Publish(p) if topic_str(p) == Some(topic_name) => Some(p.clone()),
        _ => None,
    })
}

fn expect_puback(conn: &mut Conn, id: u16) -> PubAck {
    conn.expect(&format!("PUBACK {id}"), |p| match p {
        Packet::PubAck(a) if a.packet_id.get() == id => Some(a.clone()),
        _ => None,
    })
}

fn expect_pubrec(conn: &mut Conn, id: u16) -> PubRec {
    conn.expect(&format!("PUBREC {id}"), |p| match p {
        Packet::PubRec(a) if a.packet_id.get() == id => Some(a.clone()),
        _ => None,
    })
}

fn expect_pubrel(conn: &mut Conn, id: u16) -> PubRel {
    conn.expect(&format!("PUBREL {id}"), |p| match p {
        Packet::PubRel(a) if a.packet_id.get() == id => Some(a.clone()),
        _ => None,
    })
}

fn expect_pubcomp(conn: &mut Conn, id: u16) -> PubComp {
    conn.expect(&format!("PUBCOMP {id}"), |p| match p {
        Packet::PubComp(a) if a.packet_id.get() == id => Some(a.clone()),
        _ => None,
    })
}

fn expect_suback(conn: &mut Conn, id: u16) -> SubAck {
    conn.expect(&format!("SUBACK {id}"), |p| match p {
        Packet::SubAck(a) if a.packet_id.get() == id => Some(a.clone()),
        _ => None,
    })
}

fn expect_unsuback(conn: &mut Conn, id: u16) -> UnsubAck {
    conn.expect(&format!("UNSUBACK {id}"), |p| match p {
        Packet::UnsubAck(a) if a.packet_id.get() == id => Some(a.clone()),
        _ => None,
    })
}

fn expect_disconnect(conn: &mut Conn) -> Disconnect {
    conn.expect("DISCONNECT", |p| match p {
        Packet::Disconnect(d) => Some(d.clone()),
        _ => None,
    })
}

/// Completes the receiver's side of a delivered PUBLISH (PUBACK, or PUBREC/PUBREL/PUBCOMP).
fn ack_delivery(conn: &mut Conn, p: &Publish) {
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
fn publish_flow(conn: &mut Conn, p: Publish) -> ReasonCode {
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

// ==========================================================================================
// A. Real clients -> our codec playing the server.

/// Receives the client's CONNECT on a freshly accepted connection.
fn accept_connect(
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
            (conn, c)
        }
        other => panic!("{name}: expected CONNECT, got {other:?}"),
    }
}

fn mosquitto_pub_case(
    tools: &support::Tools,
    version: ProtocolVersion,
    qos: QoS,
    deadline: Deadline,
) {
    let t = tag(version);
    let q = qos.as_u8();
    let name = format!("mosquitto_pub {t} QoS {q}");
    let listener = Listener::bind();
    let client_id = format!("pub-{t}-q{q}");
    let topic_name = format!("interop/{t}/q{q}");
    let will_topic = format!("will/{t}/q{q}");
    let payload = format!("hello {t} QoS {q} \u{fc}\u{1F600}");
    let retain = qos == QoS::ExactlyOnce;
    let v5 = version == V5;

    let mut args: Vec<String> = [
        "-h",
        "127.0.0.1",
        "-p",
        &listener.port.to_string(),
        "-V",
        mosquitto_version_arg(version),
        "-i",
        &client_id,
        "-k",
        "17",
        "-u",
        "alice",
        "-P",
        "s3cret",
        "--will-topic",
        &will_topic,
        "--will-payload",
        "gone",
        "--will-qos",
        "1",
        "--will-retain",
        "-t",
        &topic_name,
        "-m",
        &payload,
        "-q",
        &q.to_string(),
    ]
    .map(String::from)
    .to_vec();
    if retain {
        args.push("-r".into());
    }
    if v5 {
        #[rustfmt::skip]
        let extra = [
            "-x", "30",
            "-D", "connect", "user-property", "ck", "cv",
            "-D", "connect", "receive-maximum", "7",
            "-D", "connect", "maximum-packet-size", "100000",
            "-D", "will", "content-type", "text/will",
            "-D", "will", "user-property", "wk", "wv",
            "-D", "will", "message-expiry-interval", "90",
            "-D", "will", "will-delay-interval", "4",
            "-D", "publish", "user-property", "k", "v1",
            "-D", "publish", "user-property", "k", "v2",
            "-D", "publish", "message-expiry-interval", "120",
            "-D", "publish", "content-type", "text/plain",
            "-D", "publish", "payload-format-indicator", "1",
            "-D", "publish", "response-topic", "reply/here",
            "-D", "publish", "correlation-data", "corr-7",
            "-D", "publish", "topic-alias", "3",
        ];
        args.extend(extra.map(String::from));
    }
    let mut client = ChildGuard::spawn(&name, tools, "mosquitto_pub", &args, TOOL_LIMIT);
    let (mut conn, connect) = accept_connect(&listener, &mut client, &name, deadline);

    // CONNECT: everything given on the command line, decoded by us.
    assert_eq!(connect.protocol, version);
    assert_eq!(connect.client_id.as_str(), client_id);
    assert!(connect.clean_start);
    assert_eq!(connect.keep_alive, 17);
    assert_eq!(connect.username.as_deref(), Some("alice"));
    assert_eq!(connect.password.as_deref(), Some(&b"s3cret"[..]));
    let will = connect.will.as_ref().expect("will");
    assert_eq!(will.topic.as_str(), will_topic);
    assert_eq!(&will.payload[..], b"gone");
    assert_eq!(will.qos, QoS::AtLeastOnce);
    assert!(will.retain);
    if v5 {
        let p = &connect.properties;
        assert_eq!(p.session_expiry_interval, Some(30));
        assert_eq!(p.receive_maximum, nz16(7));
        assert_eq!(p.maximum_packet_size, NonZeroU32::new(100_000));
        assert_eq!(p.user_properties, user(&[("ck", "cv")]));
        let w = &will.properties;
        assert_eq!(w.content_type.as_deref(), Some("text/will"));
        assert_eq!(w.user_properties, user(&[("wk", "wv")]));
        assert_eq!(w.message_expiry_interval, Some(90));
        assert_eq!(w.will_delay_interval, Some(4));
    } else {
        assert!(connect.properties.is_empty());
        assert!(will.properties.is_empty());
    }

    let mut connack = ConnAck::new(false, ReasonCode::Success);
    if v5 {
        connack.properties = ConnAckProperties {
            topic_alias_maximum: Some(10),
            receive_maximum: nz16(20),
            user_properties: user(&[("server", "mqtt-proto")]),
            ..ConnAckProperties::default()
        };
    }
    conn.send(connack);

    // PUBLISH.
    let p = next!(conn, Packet::Publish(x) => x);
    assert_eq!(topic_str(&p), Some(topic_name.as_str()));
    assert_eq!(&p.payload[..], payload.as_bytes());
    assert_eq!(p.qos(), qos);
    assert_eq!(p.retain, retain);
    assert!(!p.dup);
    if v5 {
        let expected = PublishProperties {
            payload_format_indicator: Some(true),
            message_expiry_interval: Some(120),
            topic_alias: nz16(3),
            response_topic: Some(topic("reply/here")),
            correlation_data: Some(Bytes::from_static(b"corr-7")),
            user_properties: user(&[("k", "v1"), ("k", "v2")]),
            subscription_identifiers: Vec::new(),
            content_type: Some(s("text/plain")),
        };
        assert_eq!(p.properties, expected);
    } else {
        assert!(p.properties.is_empty());
    }
    match p.qos_pid {
        QoSPid::AtMostOnce => {}
        QoSPid::AtLeastOnce(id) => {
            let mut ack = PubAck::new(id);
            if v5 {
                ack.reason_code = ReasonCode::NoMatchingSubscribers;
                ack.properties = AckProperties {
                    reason_string: Some(s("nobody is listening")),
                    user_properties: user(&[("ack", "1")]),
                };
            }
            conn.send(ack);
        }
        QoSPid::ExactlyOnce(id) => {
            let mut rec = PubRec::new(id);
            if v5 {
                rec.properties.user_properties = user(&[("rec", "1")]);
            }
            conn.send(rec);
            let rel = next!(conn, Packet::PubRel(x) => x);
            assert_eq!(rel.packet_id, id);
            assert_eq!(rel.reason_code, ReasonCode::Success);
            conn.send(PubComp::new(id));
        }
    }

    let d = next!(conn, Packet::Disconnect(x) => x);
    assert_eq!(d.reason_code, ReasonCode::Success);
    conn.expect_eof();
    client.wait_success(deadline);
}

fn mosquitto_pub_all_qos(version: ProtocolVersion) {
    let deadline = Deadline::after(BUDGET);
    let Some(tools) = require(&["mosquitto_pub"]) else {
        return;
    };
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        mosquitto_pub_case(&tools, version, qos, deadline);
    }
}

#[test]
fn mosquitto_pub_v31_to_our_server() {
    mosquitto_pub_all_qos(V3_1);
}

#[test]
fn mosquitto_pub_v311_to_our_server() {
    mosquitto_pub_all_qos(V3_1_1);
}

#[test]
fn mosquitto_pub_v5_to_our_server() {
    mosquitto_pub_all_qos(V5);
}

/// A 5.0 PUBACK with an error reason code reaches mosquitto_pub as a failed publish.
#[test]
fn mosquitto_pub_v5_reads_our_error_reason_code() {
    let deadline = Deadline::after(BUDGET);
    let Some(tools) = require(&["mosquitto_pub"]) else {
        return;
    };
    let name = "mosquitto_pub v5 refused";
    let listener = Listener::bind();
    let port = listener.port.to_string();
    #[rustfmt::skip]
    let args = [
        "-h", "127.0.0.1", "-p", &port, "-V", "mqttv5", "-i", "pub-v5-refused",
        "-t", "interop/v5/refused", "-m", "x", "-q", "1",
    ];
    let mut client = ChildGuard::spawn(name, &tools, "mosquitto_pub", args, TOOL_LIMIT);
    let (mut conn, connect) = accept_connect(&listener, &mut client, name, deadline);
    assert_eq!(connect.client_id.as_str(), "pub-v5-refused");
    conn.send(ConnAck::new(false, ReasonCode::Success));
    let p = next!(conn, Packet::Publish(x) => x);
    let mut ack = PubAck::new(p.packet_id().expect("QoS 1 has an id"));
    ack.reason_code = ReasonCode::NotAuthorized;
    ack.properties.reason_string = Some(s("not for you"));
    conn.send(ack);
    let d = expect_disconnect(&mut conn);
    assert_eq!(d.reason_code, ReasonCode::Success);
    conn.expect_eof();
    let done = client.wait(deadline);
    assert!(
        done.stderr.contains("Not authorized"),
        "mosquitto_pub should report our reason code 0x87: {done:?}"
    );
}

/// A CONNACK refusal encoded by us is understood by mosquitto_pub.
#[test]
fn mosquitto_pub_reads_our_connack_refusal() {
    let deadline = Deadline::after(BUDGET);
    let Some(tools) = require(&["mosquitto_pub"]) else {
        return;
    };
    for (version, code, text) in [
        (
            V3_1_1,
            ReasonCode::BadUserNameOrPassword,
            "bad user name or password",
        ),
        (V5, ReasonCode::Banned, "Banned"),
    ] {
        let name = format!("mosquitto_pub {} refused", tag(version));
        let listener = Listener::bind();
        let port = listener.port.to_string();
        #[rustfmt::skip]
        let args = [
            "-h", "127.0.0.1", "-p", &port, "-V", mosquitto_version_arg(version),
            "-i", "pub-refused", "-t", "interop/refused", "-m", "x",
        ];
        let mut client = ChildGuard::spawn(&name, &tools, "mosquitto_pub", args, TOOL_LIMIT);
        let (mut conn, _) = accept_connect(&listener, &mut client, &name, deadline);
        conn.send(ConnAck::new(false, code));
        conn.expect_eof();
        let done = client.wait(deadline);
        assert!(
            !done.status.success(),
            "{name}: refusal not noticed: {done:?}"
        );
        assert!(
            done.stderr.to_lowercase().contains(&text.to_lowercase()),
            "{name}: expected {text:?} in stderr: {done:?}"
        );
    }
}

// ------------------------------------------------------------------------------------------

/// mosquitto_sub subscribes and unsubscribes through us, and prints (with `-v`) the
/// messages we encode and send it at QoS 0, 1 and 2.
fn mosquitto_sub_case(version: ProtocolVersion) {
    let deadline = Deadline::after(BUDGET);
    let Some(tools) = require(&["mosquitto_sub"]) else {
        return;
    };
    let t = tag(version);
    let v5 = version == V5;
    let name = format!("mosquitto_sub {t}");
    let listener = Listener::bind();
    let client_id = format!("sub-{t}");
    let mut args: Vec<String> = [
        "-h",
        "127.0.0.1",
        "-p",
        &listener.port.to_string(),
        "-V",
        mosquitto_version_arg(version),
        "-i",
        &client_id,
        "-k",
        "45",
        "-q",
        "2",
        "-t",
        "interop/sub/+",
        "-t",
        "interop/other/#",
        "-U",
        "interop/gone",
        "-C",
        "4",
        "-v",
    ]
    .map(String::from)
    .to_vec();
    if v5 {
        #[rustfmt::skip]
        let extra = [
            "-D", "subscribe", "subscription-identifier", "42",
            "-D", "subscribe", "user-property", "sk", "sv",
            "-D", "unsubscribe", "user-property", "uk", "uv",
        ];
        args.extend(extra.map(String::from));
    }
    let mut client = ChildGuard::spawn(&name, &tools, "mosquitto_sub", &args, TOOL_LIMIT);
    let (mut conn, connect) = accept_connect(&listener, &mut client, &name, deadline);
    assert_eq!(connect.protocol, version);
    assert_eq!(connect.client_id.as_str(), client_id);
    assert_eq!(connect.keep_alive, 45);
    assert!(connect.will.is_none() && connect.username.is_none() && connect.password.is_none());

    let mut connack = ConnAck::new(false, ReasonCode::Success);
    if v5 {
        // A Server Keep Alive of 2 s replaces the client's 45 s: libmosquitto adopting it
        // shows that it read our CONNACK properties (it pings within two seconds).
        connack.properties.server_keep_alive = Some(2);
    }
    conn.send(connack);

    // SUBSCRIBE and UNSUBSCRIBE (-U), in whichever order they come.
    let mut subscribed = false;
    let mut unsubscribed = false;
    while !(subscribed && unsubscribed) {
        match conn.recv() {
            Packet::Subscribe(sub) => {
                let filters: Vec<(&str, SubscriptionOptions)> =
                    sub.filters.iter().map(|(f, o)| (f.as_str(), *o)).collect();
                let two = SubscriptionOptions::new(QoS::ExactlyOnce);
                assert_eq!(filters, [("interop/sub/+", two), ("interop/other/#", two)]);
                if v5 {
                    assert_eq!(sub.properties.subscription_identifier, Some(sid(42)));
                    assert_eq!(sub.properties.user_properties, user(&[("sk", "sv")]));
                } else {
                    assert!(sub.properties.is_empty());
                }
                let mut ack = SubAck {
                    packet_id: sub.packet_id,
                    properties: AckProperties::default(),
                    // The second filter is granted QoS 1 only.
                    reason_codes: vec![ReasonCode::GrantedQoS2, ReasonCode::GrantedQoS1],
                };
                if v5 {
                    ack.properties.reason_string = Some(s("granted"));
                }
                conn.send(ack);
                subscribed = true;
            }
            Packet::Unsubscribe(unsub) => {
                let filters: Vec<&str> = unsub.filters.iter().map(|f| f.as_str()).collect();
                assert_eq!(filters, ["interop/gone"]);
                let mut ack = UnsubAck {
                    packet_id: unsub.packet_id,
                    properties: AckProperties::default(),
                    reason_codes: Vec::new(),
                };
                if v5 {
                    assert_eq!(unsub.properties.user_properties, user(&[("uk", "uv")]));
                    ack.reason_codes = vec![ReasonCode::NoSubscriptionExisted];
                }
                conn.send(ack);
                unsubscribed = true;
            }
            other => panic!("{name}: expected SUBSCRIBE or UNSUBSCRIBE, got {other:?}"),
        }
    }

    if v5 {
        // The client pings at the keep alive we imposed, and is happy with our PINGRESP.
        conn.wait_pings(1);
    }

    // Four messages, one per QoS flow, with payloads mosquitto_sub prints verbatim.
    let mut m0 = Publish::new(topic("interop/sub/zero"), QoSPid::AtMostOnce, "m0");
    if v5 {
        m0.properties.subscription_identifiers = vec![sid(42)];
    }
    conn.send(m0);

    conn.send(Publish::new(
        topic("interop/sub/one"),
        QoSPid::AtLeastOnce(pid(1)),
        "m1",
    ));
    let ack = next!(conn, Packet::PubAck(x) => x);
    assert_eq!(ack.packet_id, pid(1));
    assert_eq!(ack.reason_code, ReasonCode::Success);

    let mut m2 = Publish::new(
        topic("interop/other/deep/two"),
        QoSPid::ExactlyOnce(pid(2)),
        "m2 retained",
    );
    m2.retain = true;
    conn.send(m2);
    let rec = next!(conn, Packet::PubRec(x) => x);
    assert_eq!(rec.packet_id, pid(2));
    conn.send(PubRel::new(pid(2)));
    let comp = next!(conn, Packet::PubComp(x) => x);
    assert_eq!(comp.packet_id, pid(2));

    let mut m3 = Publish::new(
        topic("interop/sub/\u{fc}nicode"),
        QoSPid::AtLeastOnce(pid(3)),
        "m3 \u{e9}t\u{e9} \u{1F600}",
    );
    m3.dup = true;
    conn.send(m3);
    let ack = next!(conn, Packet::PubAck(x) => x);
    assert_eq!(ack.packet_id, pid(3));

    // -C 4: the client has what it wanted and leaves.
    let d = expect_disconnect(&mut conn);
    assert_eq!(d.reason_code, ReasonCode::Success);
    conn.expect_eof();
    let stdout = client.wait_success(deadline);
    assert_eq!(
        stdout,
        "interop/sub/zero m0\n\
         interop/sub/one m1\n\
         interop/other/deep/two m2 retained\n\
         interop/sub/\u{fc}nicode m3 \u{e9}t\u{e9} \u{1F600}\n",
        "{name}: printed messages"
    );
}

#[test]
fn mosquitto_sub_v31_from_our_server() {
    mosquitto_sub_case(V3_1);
}

#[test]
fn mosquitto_sub_v311_from_our_server() {
    mosquitto_sub_case(V3_1_1);
}

#[test]
fn mosquitto_sub_v5_from_our_server() {
    mosquitto_sub_case(V5);
}

/// mosquitto_sub's `-F` output shows every 5.0 PUBLISH property we encode, the topic alias
/// included.
#[test]
fn mosquitto_sub_v5_prints_our_publish_properties() {
    let deadline = Deadline::after(BUDGET);
    let Some(tools) = require(&["mosquitto_sub"]) else {
        return;
    };
    let name = "mosquitto_sub v5 -F";
    let listener = Listener::bind();
    let port = listener.port.to_string();
    #[rustfmt::skip]
    let args = [
        "-h", "127.0.0.1", "-p", &port, "-V", "mqttv5", "-i", "sub-fmt-v5",
        "-t", "interop/fmt/#", "-q", "2", "-C", "2",
        "-D", "connect", "topic-alias-maximum", "5",
        "-F", "%t|%x|%q|%r|%C|%E|%P|%S|%R|%D|%F|%A",
    ];
    let mut client = ChildGuard::spawn(name, &tools, "mosquitto_sub", args, TOOL_LIMIT);
    let (mut conn, connect) = accept_connect(&listener, &mut client, name, deadline);
    assert_eq!(connect.properties.topic_alias_maximum, Some(5));
    conn.send(ConnAck::new(false, ReasonCode::Success));
    let sub = next!(conn, Packet::Subscribe(x) => x);
    conn.send(SubAck {
        packet_id: sub.packet_id,
        properties: AckProperties::default(),
        reason_codes: vec![ReasonCode::GrantedQoS2],
    });

    let mut m1 = Publish::new(topic("interop/fmt/a"), QoSPid::AtLeastOnce(pid(1)), "f1");
    m1.retain = true;
    m1.properties = PublishProperties {
        payload_format_indicator: Some(true),
        message_expiry_interval: Some(42),
        topic_alias: nz16(1),
        response_topic: Some(topic("interop/fmt/reply")),
        correlation_data: Some(Bytes::from_static(b"cd")),
        user_properties: user(&[("k1", "v1"), ("k2", "v2")]),
        subscription_identifiers: vec![sid(9)],
        content_type: Some(s("text/f")),
    };
    conn.send(m1);
    assert_eq!(next!(conn, Packet::PubAck(x) => x), PubAck::new(pid(1)));

    // (libmosquitto 2.0.11 cannot resolve an incoming topic alias without a topic name,
    // so the alias-only form is checked with paho instead.)
    let m2 = Publish::new(
        topic("interop/fmt/b"),
        QoSPid::ExactlyOnce(pid(2)),
        Bytes::from_static(b"\x00\xff"),
    );
    conn.send(m2);
    assert_eq!(next!(conn, Packet::PubRec(x) => x), PubRec::new(pid(2)));
    conn.send(PubRel::new(pid(2)));
    assert_eq!(next!(conn, Packet::PubComp(x) => x), PubComp::new(pid(2)));

    let d = expect_disconnect(&mut conn);
    assert_eq!(d.reason_code, ReasonCode::Success);
    conn.expect_eof();
    let stdout = client.wait_success(deadline);
    assert_eq!(
        stdout,
        "interop/fmt/a|6631|1|1|text/f|42|k1:v1 k2:v2|9|interop/fmt/reply|cd|1|1\n\
         interop/fmt/b|00ff|2|0||||||||\n",
        "{name}: printed messages"
    );
}

// ------------------------------------------------------------------------------------------

const PAHO_SCRIPT: &str = include_str!("interop/paho_client.py");

/// The paho-mqtt script (tests/interop/paho_client.py) against our server: CONNECT with
/// will and credentials, SUBSCRIBE, PUBLISH at QoS 0/1/2 (5.0: with properties and a topic
/// alias), three messages from us (5.0: four, one by topic alias only), keep-alive pings,
/// UNSUBSCRIBE and DISCONNECT.
fn paho_case(version: ProtocolVersion) {
    let deadline = Deadline::after(BUDGET);
    let Some(tools) = require_paho(deadline) else {
        return;
    };
    let ver = match version {
        V3_1 => "31",
        V3_1_1 => "311",
        V5 => "5",
    };
    let v5 = version == V5;
    let name = format!("paho {}", tag(version));
    let listener = Listener::bind();
    let port = listener.port.to_string();
    let mut client = ChildGuard::spawn(
        &name,
        &tools,
        "python3",
        ["-c", PAHO_SCRIPT, &port, ver],
        TOOL_LIMIT,
    );
    // The connection answers paho's keep-alive pings whenever they come.
    let (mut conn, c) = accept_connect(&listener, &mut client, &name, deadline);

    assert_eq!(c.protocol, version);
    assert_eq!(c.client_id.as_str(), format!("paho-{ver}"));
    assert!(!c.clean_start);
    assert_eq!(c.keep_alive, 3);
    assert_eq!(c.username.as_deref(), Some("paho-user"));
    assert_eq!(c.password.as_deref(), Some(&b"paho-\x00\xffpass"[..]));
    let will = c.will.as_ref().expect("will");
    assert_eq!(will.topic.as_str(), "paho/will");
    assert_eq!(&will.payload[..], b"paho died");
    assert_eq!(will.qos, QoS::ExactlyOnce);
    assert!(!will.retain);
    if v5 {
        assert_eq!(
            c.properties,
            ConnectProperties {
                session_expiry_interval: Some(60),
                receive_maximum: nz16(9),
                topic_alias_maximum: Some(4),
                user_properties: user(&[("ck", "cv1"), ("ck", "cv2")]),
                ..ConnectProperties::default()
            }
        );
        assert_eq!(
            will.properties,
            WillProperties {
                will_delay_interval: Some(5),
                content_type: Some(s("text/will")),
                user_properties: user(&[("wk", "wv")]),
                ..WillProperties::default()
            }
        );
    }

    // 3.1 has no Session Present flag.
    let mut connack = ConnAck::new(version != V3_1, ReasonCode::Success);
    if v5 {
        connack.properties = ConnAckProperties {
            receive_maximum: nz16(20),
            topic_alias_maximum: Some(5),
            user_properties: user(&[("srv", "mqtt-proto")]),
            ..ConnAckProperties::default()
        };
    }
    conn.send(connack);

    let sub = next!(conn, Packet::Subscribe(x) => x);
    let filters: Vec<(&str, SubscriptionOptions)> =
        sub.filters.iter().map(|(f, o)| (f.as_str(), *o)).collect();
    let first = if v5 {
        SubscriptionOptions {
            qos: QoS::ExactlyOnce,
            no_local: true,
            retain_as_published: true,
            retain_handling: RetainHandling::SendAtSubscribeIfNew,
        }
    } else {
        SubscriptionOptions::new(QoS::ExactlyOnce)
    };
    assert_eq!(
        filters,
        [
            ("paho/in/#", first),
            ("paho/deny", SubscriptionOptions::new(QoS::AtLeastOnce))
        ]
    );
    if v5 {
        assert_eq!(
            sub.properties,
            SubscribeProperties {
                subscription_identifier: Some(sid(7)),
                user_properties: user(&[("sk", "sv")]),
            }
        );
    }
    let (second_code, suback_props) = match version {
        // 3.1 has no failure code in SUBACK.
        V3_1 => (ReasonCode::GrantedQoS1, AckProperties::default()),
        V3_1_1 => (ReasonCode::UnspecifiedError, AckProperties::default()),
        V5 => (
            ReasonCode::NotAuthorized,
            AckProperties {
                reason_string: Some(s("deny is denied")),
                user_properties: Vec::new(),
            },
        ),
    };
    conn.send(SubAck {
        packet_id: sub.packet_id,
        properties: suback_props,
        reason_codes: vec![ReasonCode::GrantedQoS2, second_code],
    });

    // QoS 0.
    let p0 = next!(conn, Packet::Publish(x) => x);
    assert_eq!(topic_str(&p0), Some("paho/out/zero"));
    assert_eq!(&p0.payload[..], b"z");
    assert_eq!(p0.qos_pid, QoSPid::AtMostOnce);
    if v5 {
        assert_eq!(
            p0.properties,
            PublishProperties {
                payload_format_indicator: Some(true),
                content_type: Some(s("text/plain")),
                message_expiry_interval: Some(30),
                user_properties: user(&[("a", "1"), ("a", "2")]),
                ..PublishProperties::default()
            }
        );
    }

    // QoS 1, retained; 5.0 sets topic alias 1.
    let p1 = next!(conn, Packet::Publish(x) => x);
    assert_eq!(topic_str(&p1), Some("paho/out/one"));
    assert_eq!(&p1.payload[..], "one \u{fc}".as_bytes());
    assert_eq!(p1.qos(), QoS::AtLeastOnce);
    assert!(p1.retain);
    let mut puback = PubAck::new(p1.packet_id().expect("id"));
    if v5 {
        assert_eq!(
            p1.properties,
            PublishProperties {
                response_topic: Some(topic("paho/reply")),
                correlation_data: Some(Bytes::from_static(b"\x00\x01corr")),
                topic_alias: nz16(1),
                ..PublishProperties::default()
            }
        );
        puback.reason_code = ReasonCode::NoMatchingSubscribers;
        puback.properties.reason_string = Some(s("nobody listens"));
    }
    conn.send(puback);

    // QoS 2; 5.0 sends an empty topic name and alias 1 for it.
    let p2 = next!(conn, Packet::Publish(x) => x);
    if v5 {
        assert_eq!(p2.topic, None, "paho should use the topic alias");
        assert_eq!(p2.properties.topic_alias, nz16(1));
    } else {
        assert_eq!(topic_str(&p2), Some("paho/out/one"));
    }
    assert_eq!(&p2.payload[..], b"\x00\xff two");
    let id2 = match p2.qos_pid {
        QoSPid::ExactlyOnce(id) => id,
        other => panic!("{name}: expected QoS 2, got {other:?}"),
    };
    let mut pubrec = PubRec::new(id2);
    if v5 {
        pubrec.properties.user_properties = user(&[("rec", "1")]);
    }
    conn.send(pubrec);
    let rel = next!(conn, Packet::PubRel(x) => x);
    assert_eq!(rel.packet_id, id2);
    let mut pubcomp = PubComp::new(id2);
    if v5 {
        pubcomp.properties.reason_string = Some(s("done"));
    }
    conn.send(pubcomp);

    // Three messages to paho.
    let mut s0 = Publish::new(topic("paho/in/a"), QoSPid::AtMostOnce, "s0");
    let mut s1 = Publish::new(topic("paho/in/b"), QoSPid::AtLeastOnce(pid(10)), "s1");
    s1.retain = true;
    let mut s2 = Publish::new(
        topic("paho/in/c"),
        QoSPid::ExactlyOnce(pid(11)),
        Bytes::from_static(b"\x00\x01\xfe\xff"),
    );
    if v5 {
        s0.properties = PublishProperties {
            subscription_identifiers: vec![sid(7)],
            user_properties: user(&[("from", "server")]),
            content_type: Some(s("text/x-s0")),
            payload_format_indicator: Some(true),
            ..PublishProperties::default()
        };
        s1.properties = PublishProperties {
            subscription_identifiers: vec![sid(7)],
            message_expiry_interval: Some(99),
            topic_alias: nz16(2),
            ..PublishProperties::default()
        };
        s2.properties = PublishProperties {
            subscription_identifiers: vec![sid(7), sid(268_435_455)],
            response_topic: Some(topic("paho/in/reply")),
            correlation_data: Some(Bytes::from_static(b"\x01\x02")),
            ..PublishProperties::default()
        };
    }
    conn.send(s0);
    conn.send(s1);
    let a = next!(conn, Packet::PubAck(x) => x);
    assert_eq!(a.packet_id, pid(10));
    assert_eq!(a.reason_code, ReasonCode::Success);
    conn.send(s2);
    let a = next!(conn, Packet::PubRec(x) => x);
    assert_eq!(a.packet_id, pid(11));
    conn.send(PubRel::new(pid(11)));
    let a = next!(conn, Packet::PubComp(x) => x);
    assert_eq!(a.packet_id, pid(11));
    if v5 {
        // An empty topic name standing for the alias 2 that s1 set (paho 2.1 reports the
        // alias without resolving it).
        let mut s3 = Publish::new(topic("unused"), QoSPid::AtMostOnce, "s3");
        s3.topic = None;
        s3.properties.topic_alias = nz16(2);
        conn.send(s3);
    }

    // UNSUBSCRIBE (after paho has pinged: the script waits for a PINGRESP first).
    let unsub = next!(conn, Packet::Unsubscribe(x) => x);
    let filters: Vec<&str> = unsub.filters.iter().map(|f| f.as_str()).collect();
    assert_eq!(filters, ["paho/in/#", "paho/never"]);
    let mut unsuback = UnsubAck {
        packet_id: unsub.packet_id,
        properties: AckProperties::default(),
        reason_codes: Vec::new(),
    };
    if v5 {
        assert_eq!(
            unsub.properties,
            UnsubscribeProperties {
                user_properties: user(&[("uk", "uv")])
            }
        );
        unsuback.reason_codes = vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted];
    }
    conn.send(unsuback);

    let d = next!(conn, Packet::Disconnect(x) => x);
    if v5 {
        assert_eq!(d.reason_code, ReasonCode::DisconnectWithWill);
        assert_eq!(
            d.properties,
            DisconnectProperties {
                session_expiry_interval: Some(0),
                reason_string: Some(s("bye")),
                ..DisconnectProperties::default()
            }
        );
    } else {
        assert_eq!(d, Disconnect::default());
    }
    conn.expect_eof();
    assert!(conn.pings() >= 1, "{name}: paho never pinged");

    let stdout = client.wait_success(deadline);
    let expected: Vec<String> = match version {
        V5 => vec![
            r#"connack {"props": {"ReceiveMaximum": 20, "TopicAliasMaximum": 5, "UserProperty": [["srv", "mqtt-proto"]]}, "rc": 0, "session_present": true}"#.into(),
            r#"suback {"codes": [2, 135], "props": {"ReasonString": "deny is denied"}}"#.into(),
            r#"published {"props": {}, "qos": 0, "rc": 0}"#.into(),
            r#"published {"props": {"ReasonString": "nobody listens"}, "qos": 1, "rc": 16}"#.into(),
            r#"published {"props": {"ReasonString": "done"}, "qos": 2, "rc": 0}"#.into(),
            r#"message {"payload": "7330", "props": {"ContentType": "text/x-s0", "PayloadFormatIndicator": 1, "SubscriptionIdentifier": [7], "UserProperty": [["from", "server"]]}, "qos": 0, "retain": false, "topic": "paho/in/a"}"#.into(),
            r#"message {"payload": "7331", "props": {"MessageExpiryInterval": 99, "SubscriptionIdentifier": [7], "TopicAlias": 2}, "qos": 1, "retain": true, "topic": "paho/in/b"}"#.into(),
            r#"message {"payload": "0001feff", "props": {"CorrelationData": "0102", "ResponseTopic": "paho/in/reply", "SubscriptionIdentifier": [7, 268435455]}, "qos": 2, "retain": false, "topic": "paho/in/c"}"#.into(),
            r#"message {"payload": "7333", "props": {"TopicAlias": 2}, "qos": 0, "retain": false, "topic": ""}"#.into(),
            "pingresp true".into(),
            r#"unsuback {"codes": [0, 17], "props": {}}"#.into(),
            "disconnected 0".into(),
        ],
        V3_1 | V3_1_1 => vec![
            format!(
                r#"connack {{"props": {{}}, "rc": 0, "session_present": {}}}"#,
                version == V3_1_1
            ),
            format!(
                r#"suback {{"codes": [2, {}], "props": {{}}}}"#,
                second_code.as_u8()
            ),
            r#"published {"props": {}, "qos": 0, "rc": 0}"#.into(),
            r#"published {"props": {}, "qos": 1, "rc": 0}"#.into(),
            r#"published {"props": {}, "qos": 2, "rc": 0}"#.into(),
            r#"message {"payload": "7330", "props": {}, "qos": 0, "retain": false, "topic": "paho/in/a"}"#.into(),
            r#"message {"payload": "7331", "props": {}, "qos": 1, "retain": true, "topic": "paho/in/b"}"#.into(),
            r#"message {"payload": "0001feff", "props": {}, "qos": 2, "retain": false, "topic": "paho/in/c"}"#.into(),
            "pingresp true".into(),
            r#"unsuback {"codes": [], "props": {}}"#.into(),
            "disconnected 0".into(),
        ],
    };
    let got: Vec<&str> = stdout.lines().collect();
    assert_eq!(got, expected, "{name}: paho's view of our packets");
}

#[test]
fn paho_v31_against_our_server() {
    paho_case(V3_1);
}

#[test]
fn paho_v311_against_our_server() {
    paho_case(V3_1_1);
}

#[test]
fn paho_v5_against_our_server() {
    paho_case(V5);
}

// ==========================================================================================
// B. Our codec -> a real mosquitto broker.

/// CONNECT, SUBSCRIBE, PUBLISH at every QoS, retained messages, UNSUBSCRIBE, will, persistent
/// session, PINGREQ and DISCONNECT in MQTT 3.1 or 3.1.1.
fn broker_v3(version: ProtocolVersion) {
    let deadline = Deadline::after(BUDGET);
    let Some(tools) = require(&["mosquitto"]) else {
        return;
    };
    let mut broker = Broker::start(&tools, deadline);
    let t = tag(version);
    let tp = |suffix: &str| format!("b/{t}/{suffix}");
    let d = deadline;

    // A: credentials (binary password) and a will.
    let mut connect = Connect::new(version, s(&format!("ours-a-{t}")));
    connect.keep_alive = 30;
    connect.username = Some(s("user"));
    connect.password = Some(Bytes::from_static(b"pw\x00\xff"));
    connect.will = Some(Will {
        topic: topic(&tp("will/a")),
        payload: Bytes::from_static(b"a died"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: WillProperties::default(),
    });
    let (mut a, ack) = broker.session(connect, "A", d);
    assert!(!ack.session_present);
    assert!(ack.properties.is_empty());

    a.send(Subscribe {
        packet_id: pid(1),
        properties: SubscribeProperties::default(),
        filters: vec![
            (
                filter(&tp("+/x")),
                SubscriptionOptions::new(QoS::ExactlyOnce),
            ),
            (
                filter(&tp("one")),
                SubscriptionOptions::new(QoS::AtLeastOnce),
            ),
            (
                filter(&tp("zero/#")),
                SubscriptionOptions::new(QoS::AtMostOnce),
            ),
        ],
    });
    let suback = expect_suback(&mut a, 1);
    assert_eq!(
        suback.reason_codes,
        [
            ReasonCode::GrantedQoS2,
            ReasonCode::GrantedQoS1,
            ReasonCode::GRANTED_QOS_0
        ]
    );

    // Each QoS, routed back to our own subscription.
    for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
        .into_iter()
        .enumerate()
    {
        let q = qos.as_u8();
        let name = tp(&format!("q{q}/x"));
        let payload = format!("payload at QoS {q}");
        let id = pid(10 + i as u16);
        let rc = publish_flow(
            &mut a,
            Publish::new(topic(&name), QoSPid::new(qos, id), payload.clone()),
        );
        assert_eq!(rc, ReasonCode::Success);
        let got = expect_publish(&mut a, &name);
        assert_eq!(got.qos(), qos);
        assert_eq!(&got.payload[..], payload.as_bytes());
        assert!(!got.retain && !got.dup);
        ack_delivery(&mut a, &got);
    }

    // Delivery QoS is the lower of the publication's and the subscription's.
    publish_flow(
        &mut a,
        Publish::new(topic(&tp("one")), QoSPid::ExactlyOnce(pid(20)), "down to 1"),
    );
    let got = expect_publish(&mut a, &tp("one"));
    assert_eq!(got.qos(), QoS::AtLeastOnce);
    ack_delivery(&mut a, &got);
    publish_flow(
        &mut a,
        Publish::new(
            topic(&tp("zero/deep")),
            QoSPid::AtLeastOnce(pid(21)),
            "down to 0",
        ),
    );
    let got = expect_publish(&mut a, &tp("zero/deep"));
    assert_eq!(got.qos_pid, QoSPid::AtMostOnce);
    a.assert_quiet("every publication was consumed");

    // A retained message: live delivery has RETAIN clear [MQTT-3.3.1-9].
    let mut keep = Publish::new(topic(&tp("r/x")), QoSPid::AtLeastOnce(pid(22)), "kept");
    keep.retain = true;
    publish_flow(&mut a, keep);
    let live = expect_publish(&mut a, &tp("r/x"));
    assert!(!live.retain);
    ack_delivery(&mut a, &live);

    // B subscribes afterwards and gets it with RETAIN set [MQTT-3.3.1-8].
    let (mut b, _) = broker.session(Connect::new(version, s(&format!("ours-b-{t}"))), "B", d);
    b.send(Subscribe {
        packet_id: pid(1),
        properties: SubscribeProperties::default(),
        filters: vec![(
            filter(&tp("r/+")),
            SubscriptionOptions::new(QoS::AtLeastOnce),
        )],
    });
    assert_eq!(
        expect_suback(&mut b, 1).reason_codes,
        [ReasonCode::GrantedQoS1]
    );
    let ret = expect_publish(&mut b, &tp("r/x"));
    assert!(ret.retain);
    assert_eq!(&ret.payload[..], b"kept");
    assert_eq!(ret.qos(), QoS::AtLeastOnce);
    ack_delivery(&mut b, &ret);
    b.assert_quiet("one retained message only");

    // A retained PUBLISH with an empty payload deletes it, and is delivered as usual.
    let mut del = Publish::new(topic(&tp("r/x")), QoSPid::AtLeastOnce(pid(23)), "");
    del.retain = true;
    publish_flow(&mut a, del);
    for conn in [&mut a, &mut b] {
        let live = expect_publish(conn, &tp("r/x"));
        assert!(live.payload.is_empty() && !live.retain);
        ack_delivery(conn, &live);
    }
    let (mut c, _) = broker.session(Connect::new(version, s(&format!("ours-c-{t}"))), "C", d);
    c.send(Subscribe {
        packet_id: pid(1),
        properties: SubscribeProperties::default(),
        filters: vec![
            (
                filter(&tp("r/+")),
                SubscriptionOptions::new(QoS::AtLeastOnce),
            ),
            (
                filter(&tp("will/+")),
                SubscriptionOptions::new(QoS::AtLeastOnce),
            ),
        ],
    });
    assert_eq!(
        expect_suback(&mut c, 1).reason_codes,
        [ReasonCode::GrantedQoS1, ReasonCode::GrantedQoS1]
    );
    c.assert_quiet("the retained message was deleted");

    // UNSUBSCRIBE: afterwards nothing comes back.
    a.send(Unsubscribe {
        packet_id: pid(24),
        properties: UnsubscribeProperties::default(),
        filters: vec![filter(&tp("+/x")), filter(&tp("one"))],
    });
    let unsuback = expect_unsuback(&mut a, 24);
    assert!(unsuback.reason_codes.is_empty() && unsuback.properties.is_empty());
    publish_flow(
        &mut a,
        Publish::new(topic(&tp("q1/x")), QoSPid::AtLeastOnce(pid(25)), "unheard"),
    );
    a.assert_quiet("unsubscribed");

    // A's connection dies without DISCONNECT: the broker publishes its will.
    a.abort();
    let will = expect_publish(&mut c, &tp("will/a"));
    assert_eq!(&will.payload[..], b"a died");
    assert_eq!(will.qos(), QoS::AtLeastOnce);
    assert!(!will.retain);
    ack_delivery(&mut c, &will);

    // A persistent session keeps a subscription and queues a QoS 1 message for it.
    let mut dc = Connect::new(version, s(&format!("ours-d-{t}")));
    dc.clean_start = false;
    let (mut dconn, ack) = broker.session(dc.clone(), "D", d);
    assert!(!ack.session_present);
    dconn.send(Subscribe {
        packet_id: pid(1),
        properties: SubscribeProperties::default(),
        filters: vec![(
            filter(&tp("sess")),
            SubscriptionOptions::new(QoS::AtLeastOnce),
        )],
    });
    expect_suback(&mut dconn, 1);
    dconn.send(Disconnect::default());
    dconn.expect_eof();
    publish_flow(
        &mut b,
        Publish::new(topic(&tp("sess")), QoSPid::AtLeastOnce(pid(2)), "queued"),
    );
    let (mut dconn, ack) = broker.session(dc, "D again", d);
    // 3.1 has no Session Present flag; 3.1.1 sets it [MQTT-3.2.2-2].
    assert_eq!(ack.session_present, version == V3_1_1);
    let queued = expect_publish(&mut dconn, &tp("sess"));
    assert_eq!(&queued.payload[..], b"queued");
    assert_eq!(queued.qos(), QoS::AtLeastOnce);
    ack_delivery(&mut dconn, &queued);

    // PINGREQ / PINGRESP, then DISCONNECT: the broker closes the connection.
    for conn in [&mut b, &mut c, &mut dconn] {
        conn.assert_quiet("all messages consumed");
        conn.send(Disconnect::default());
        conn.expect_eof();
    }
}

#[test]
fn our_client_v31_against_mosquitto() {
    broker_v3(V3_1);
}

#[test]
fn our_client_v311_against_mosquitto() {
    broker_v3(V3_1_1);
}

/// The 5.0 scenario: properties everywhere, subscription identifiers, No Local, Retain As
/// Published, Retain Handling, topic aliases, reason codes, will on DISCONNECT 0x04, and a
/// persistent session.
#[test]
fn our_client_v5_against_mosquitto() {
    let deadline = Deadline::after(BUDGET);
    let Some(tools) = require(&["mosquitto"]) else {
        return;
    };
    let mut broker = Broker::start(&tools, deadline);
    let tp = |suffix: &str| format!("b/v5/{suffix}");
    let d = deadline;

    // A: CONNECT properties, credentials and a will with every will property.
    let mut connect = Connect::new(V5, s("ours-a-v5"));
    connect.keep_alive = 30;
    connect.properties = ConnectProperties {
        session_expiry_interval: Some(0),
        receive_maximum: nz16(10),
        maximum_packet_size: NonZeroU32::new(65_536),
        topic_alias_maximum: Some(5),
        request_response_information: Some(false),
        request_problem_information: Some(true),
        user_properties: user(&[("ck", "cv")]),
        ..ConnectProperties::default()
    };
    connect.username = Some(s("user"));
    connect.password = Some(Bytes::from_static(b"pw"));
    let will_props = WillProperties {
        will_delay_interval: Some(0),
        payload_format_indicator: Some(true),
        message_expiry_interval: Some(600),
        content_type: Some(s("text/will")),
        response_topic: Some(topic(&tp("will/reply"))),
        correlation_data: Some(Bytes::from_static(b"wcd")),
        user_properties: user(&[("wk", "wv")]),
    };
    connect.will = Some(Will {
        topic: topic(&tp("will/a")),
        payload: Bytes::from_static(b"a left with its will"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: will_props.clone(),
    });
    let (mut a, ack) = broker.session(connect, "A", d);
    assert!(!ack.session_present);
    let alias_max = ack.properties.topic_alias_maximum.unwrap_or(0);
    assert!(alias_max >= 1, "mosquitto grants topic aliases: {ack:?}");

    // An empty client id gets one assigned in the CONNACK.
    let (mut e, ack) = broker.session(Connect::new(V5, MqttString::default()), "E", d);
    let assigned = ack
        .properties
        .assigned_client_identifier
        .clone()
        .expect("Assigned Client Identifier");
    assert!(!assigned.is_empty());
    e.send(Disconnect::default());
    e.expect_eof();

    // SUBSCRIBE with a subscription identifier, user property and 5.0 options.
    a.send(Subscribe {
        packet_id: pid(1),
        properties: SubscribeProperties {
            subscription_identifier: Some(sid(42)),
            user_properties: user(&[("sk", "sv")]),
        },
        filters: vec![
            (
                filter(&tp("+/x")),
                SubscriptionOptions {
                    qos: QoS::ExactlyOnce,
                    retain_as_published: true,
                    ..SubscriptionOptions::default()
                },
            ),
            (
                filter(&tp("nl")),
                SubscriptionOptions {
                    qos: QoS::AtLeastOnce,
                    no_local: true,
                    ..SubscriptionOptions::default()
                },
            ),
        ],
    });
    let suback = expect_suback(&mut a, 1);
    assert_eq!(
        suback.reason_codes,
        [ReasonCode::GrantedQoS2, ReasonCode::GrantedQoS1]
    );

    // Every PUBLISH property survives the trip through the broker, plus our subscription
    // identifier; the expiry interval counts down.
    let props = PublishProperties {
        payload_format_indicator: Some(true),
        message_expiry_interval: Some(300),
        topic_alias: None,
        response_topic: Some(topic(&tp("props/reply"))),
        correlation_data: Some(Bytes::from_static(b"\x00corr\xff")),
        user_properties: user(&[("k", "v1"), ("k", "v2"), ("\u{fc}", "\u{1F600}")]),
        subscription_identifiers: Vec::new(),
        content_type: Some(s("text/plain; charset=utf-8")),
    };
    for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
        .into_iter()
        .enumerate()
    {
        let name = tp(&format!("q{}/x", qos.as_u8()));
        let mut p = Publish::new(
            topic(&name),
            QoSPid::new(qos, pid(10 + i as u16)),
            "with properties",
        );
        p.properties = props.clone();
        assert_eq!(publish_flow(&mut a, p), ReasonCode::Success);
        let got = expect_publish(&mut a, &name);
        assert_eq!(got.qos(), qos);
        assert_eq!(&got.payload[..], b"with properties");
        let expiry = got.properties.message_expiry_interval.expect("expiry");
        assert!((1..=300).contains(&expiry), "expiry {expiry}");
        let mut expected = props.clone();
        expected.message_expiry_interval = Some(expiry);
        expected.subscription_identifiers = vec![sid(42)];
        assert_eq!(got.properties, expected);
        ack_delivery(&mut a, &got);
    }

    // No subscribers: reason code 0x10 in PUBACK.
    let rc = publish_flow(
        &mut a,
        Publish::new(topic(&tp("nobody")), QoSPid::AtLeastOnce(pid(20)), "x"),
    );
    assert_eq!(rc, ReasonCode::NoMatchingSubscribers);
    let rc = publish_flow(
        &mut a,
        Publish::new(topic(&tp("nobody")), QoSPid::ExactlyOnce(pid(21)), "x"),
    );
    // mosquitto 2.0.11 answers Success here; 0x10 would be as valid.
    assert!(
        matches!(rc, ReasonCode::Success | ReasonCode::NoMatchingSubscribers),
        "{rc:?}"
    );

    // No Local: our own publication is not sent back to us.
    let rc = publish_flow(
        &mut a,
        Publish::new(topic(&tp("nl")), QoSPid::AtLeastOnce(pid(22)), "not for me"),
    );
    assert!(!rc.is_error());
    a.assert_quiet("No Local subscription");

    // Topic alias: set alias 1, then publish with an empty topic name and alias 1.
    let mut set = Publish::new(
        topic(&tp("alias/x")),
        QoSPid::AtLeastOnce(pid(23)),
        "alias set",
    );
    set.properties.topic_alias = nz16(1);
    publish_flow(&mut a, set);
    let got = expect_publish(&mut a, &tp("alias/x"));
    assert_eq!(&got.payload[..], b"alias set");
    ack_delivery(&mut a, &got);
    let mut used = Publish::new(topic("unused"), QoSPid::AtLeastOnce(pid(24)), "alias used");
    used.topic = None;
    used.properties.topic_alias = nz16(1);
    publish_flow(&mut a, used);
    let got = expect_publish(&mut a, &tp("alias/x"));
    assert_eq!(&got.payload[..], b"alias used");
    assert_eq!(got.properties.topic_alias, None);
    ack_delivery(&mut a, &got);

    // Retained message; Retain As Published keeps RETAIN on A's live delivery.
    let mut keep = Publish::new(topic(&tp("ret/x")), QoSPid::AtLeastOnce(pid(25)), "kept v5");
    keep.retain = true;
    keep.properties.content_type = Some(s("text/kept"));
    keep.properties.user_properties = user(&[("rk", "rv")]);
    publish_flow(&mut a, keep);
    let live = expect_publish(&mut a, &tp("ret/x"));
    assert!(live.retain, "Retain As Published");
    ack_delivery(&mut a, &live);

    // B: Retain Handling 0 sends it at subscribe time, with its properties.
    let (mut b, _) = broker.session(Connect::new(V5, s("ours-b-v5")), "B", d);
    let sub_ret = |id: u16, rh: RetainHandling, sub_id: Option<SubscriptionId>| Subscribe {
        packet_id: pid(id),
        properties: SubscribeProperties {
            subscription_identifier: sub_id,
            user_properties: Vec::new(),
        },
        filters: vec![(
            filter(&tp("ret/#")),
            SubscriptionOptions {
                qos: QoS::AtLeastOnce,
                retain_handling: rh,
                ..SubscriptionOptions::default()
            },
        )],
    };
    b.send(sub_ret(1, RetainHandling::SendAtSubscribe, Some(sid(7))));
    assert_eq!(
        expect_suback(&mut b, 1).reason_codes,
        [ReasonCode::GrantedQoS1]
    );
    let ret = expect_publish(&mut b, &tp("ret/x"));
    assert!(ret.retain);
    assert_eq!(&ret.payload[..], b"kept v5");
    assert_eq!(
        ret.properties,
        PublishProperties {
            content_type: Some(s("text/kept")),
            user_properties: user(&[("rk", "rv")]),
            subscription_identifiers: vec![sid(7)],
            ..PublishProperties::default()
        }
    );
    ack_delivery(&mut b, &ret);
    // Retain Handling 1 on an existing subscription: nothing.
    b.send(sub_ret(
        2,
        RetainHandling::SendAtSubscribeIfNew,
        Some(sid(7)),
    ));
    expect_suback(&mut b, 2);
    b.assert_quiet("Retain Handling 1, subscription existed");

    // C: Retain Handling 2: nothing.
    let (mut c, _) = broker.session(Connect::new(V5, s("ours-c-v5")), "C", d);
    c.send(sub_ret(1, RetainHandling::DoNotSend, None));
    expect_suback(&mut c, 1);
    c.assert_quiet("Retain Handling 2");
    c.send(Subscribe {
        packet_id: pid(2),
        properties: SubscribeProperties::default(),
        filters: vec![(
            filter(&tp("will/#")),
            SubscriptionOptions::new(QoS::AtLeastOnce),
        )],
    });
    expect_suback(&mut c, 2);

    // An empty retained payload deletes it; subscribers still get the empty message.
    let mut del = Publish::new(topic(&tp("ret/x")), QoSPid::AtLeastOnce(pid(26)), "");
    del.retain = true;
    publish_flow(&mut a, del);
    for (conn, rap) in [(&mut a, true), (&mut b, false), (&mut c, false)] {
        let live = expect_publish(conn, &tp("ret/x"));
        assert!(live.payload.is_empty());
        assert_eq!(live.retain, rap);
        ack_delivery(conn, &live);
    }
    let (mut f, _) = broker.session(Connect::new(V5, s("ours-f-v5")), "F", d);
    f.send(sub_ret(1, RetainHandling::SendAtSubscribe, None));
    expect_suback(&mut f, 1);
    f.assert_quiet("the retained message was deleted");
    f.send(Disconnect::default());
    f.expect_eof();

    // UNSUBSCRIBE: one filter that exists, one that does not.
    a.send(Unsubscribe {
        packet_id: pid(27),
        properties: UnsubscribeProperties {
            user_properties: user(&[("uk", "uv")]),
        },
        filters: vec![filter(&tp("+/x")), filter(&tp("never/x"))],
    });
    assert_eq!(
        expect_unsuback(&mut a, 27).reason_codes,
        [ReasonCode::Success, ReasonCode::NoSubscriptionExisted]
    );
    let rc = publish_flow(
        &mut a,
        Publish::new(topic(&tp("q1/x")), QoSPid::AtLeastOnce(pid(28)), "unheard"),
    );
    assert_eq!(rc, ReasonCode::NoMatchingSubscribers);
    a.assert_quiet("unsubscribed");

    // DISCONNECT with reason 0x04: the broker publishes the will, with its properties.
    a.send(Disconnect {
        reason_code: ReasonCode::DisconnectWithWill,
        properties: DisconnectProperties {
            reason_string: Some(s("leaving with my will")),
            user_properties: user(&[("dk", "dv")]),
            ..DisconnectProperties::default()
        },
    });
    a.expect_eof();
    let will = expect_publish(&mut c, &tp("will/a"));
    assert_eq!(&will.payload[..], b"a left with its will");
    assert_eq!(will.qos(), QoS::AtLeastOnce);
    let expiry = will
        .properties
        .message_expiry_interval
        .expect("will expiry");
    assert!((1..=600).contains(&expiry));
    assert_eq!(
        will.properties,
        PublishProperties {
            payload_format_indicator: Some(true),
            message_expiry_interval: Some(expiry),
            response_topic: will_props.response_topic.clone(),
            correlation_data: will_props.correlation_data.clone(),
            user_properties: user(&[("wk", "wv")]),
            content_type: Some(s("text/will")),
            ..PublishProperties::default()
        }
    );
    ack_delivery(&mut c, &will);

    // A persistent session: Clean Start 0 with a Session Expiry Interval.
    let mut dc = Connect::new(V5, s("ours-d-v5"));
    dc.clean_start = false;
    dc.properties.session_expiry_interval = Some(300);
    let (mut dconn, ack) = broker.session(dc.clone(), "D", d);
    assert!(!ack.session_present);
    dconn.send(Subscribe {
        packet_id: pid(1),
        properties: SubscribeProperties {
            subscription_identifier: Some(sid(5)),
            user_properties: Vec::new(),
        },
        filters: vec![(
            filter(&tp("sess")),
            SubscriptionOptions::new(QoS::AtLeastOnce),
        )],
    });
    expect_suback(&mut dconn, 1);
    dconn.send(Disconnect::default());
    dconn.expect_eof();
    let mut queued = Publish::new(topic(&tp("sess")), QoSPid::AtLeastOnce(pid(2)), "queued v5");
    queued.properties.message_expiry_interval = Some(100);
    assert_eq!(publish_flow(&mut b, queued), ReasonCode::Success);
    let (mut dconn, ack) = broker.session(dc, "D again", d);
    assert!(ack.session_present);
    let got = expect_publish(&mut dconn, &tp("sess"));
    assert_eq!(&got.payload[..], b"queued v5");
    assert_eq!(got.properties.subscription_identifiers, [sid(5)]);
    ack_delivery(&mut dconn, &got);
    // Ending the session on DISCONNECT.
    dconn.send(Disconnect {
        reason_code: ReasonCode::NORMAL_DISCONNECTION,
        properties: DisconnectProperties {
            session_expiry_interval: Some(0),
            ..DisconnectProperties::default()
        },
    });
    dconn.expect_eof();

    for conn in [&mut b, &mut c] {
        conn.assert_quiet("all messages consumed");
        conn.send(Disconnect::default());
        conn.expect_eof();
    }
}

/// Packets mosquitto sends when it refuses or ends a 5.0 connection decode correctly:
/// CONNACK with an error reason, and DISCONNECT with a reason code.
#[test]
fn our_client_v5_decodes_mosquitto_refusals() {
    let deadline = Deadline::after(BUDGET);
    let Some(tools) = require(&["mosquitto"]) else {
        return;
    };
    let mut broker = Broker::start(&tools, deadline);
    let d = deadline;

    // A topic alias above the broker's Topic Alias Maximum: DISCONNECT 0x94.
    let (mut a, ack) = broker.session(Connect::new(V5, s("ours-alias-v5")), "alias", d);
    let max = ack.properties.topic_alias_maximum.unwrap_or(0);
    let mut p = Publish::new(topic("b/v5/alias"), QoSPid::AtMostOnce, "x");
    p.properties.topic_alias = nz16(max.saturating_add(1));
    a.send(p);
    let disc = expect_disconnect(&mut a);
    assert_eq!(disc.reason_code, ReasonCode::TopicAliasInvalid, "{disc:?}");
    a.expect_eof();

    // A second connection with the same client id takes the session over. The first one
    // may get DISCONNECT 0x8E (mosquitto 2.0.11 just closes it).
    let (mut first, _) = broker.session(Connect::new(V5, s("ours-twin-v5")), "twin 1", d);
    let (mut second, _) = broker.session(Connect::new(V5, s("ours-twin-v5")), "twin 2", d);
    if let Some(p) = first.recv_or_eof() {
        assert_eq!(
            p,
            Packet::Disconnect(Disconnect::new(ReasonCode::SessionTakenOver))
        );
        first.expect_eof();
    }
    second.send(Disconnect::default());
    second.expect_eof();

    // An authentication method the broker does not know: CONNACK 0x8C.
    let mut auth = Connect::new(V5, s("ours-auth-v5"));
    auth.properties.authentication_method = Some(s("NO-SUCH-METHOD"));
    let mut conn = broker.connect(V5, "auth", d);
    conn.send(auth);
    let ack = conn.expect("CONNACK", |p| match p {
        Packet::ConnAck(a) => Some(a.clone()),
        _ => None,
    });
    assert_eq!(
        ack.reason_code,
        ReasonCode::BadAuthenticationMethod,
        "{ack:?}"
    );
    assert!(!ack.session_present);
    conn.expect_eof();
}
