//! A. Real clients -> our codec playing the server: `mosquitto_sub`.

use bytes::Bytes;
use mqtt_proto::{
    AckProperties, ConnAck, Packet, ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish,
    PublishProperties, QoS, QoSPid, ReasonCode, SubAck, SubscriptionOptions, UnsubAck,
};

use crate::flows::{BUDGET, accept_connect, expect_disconnect, next, nz16, sid, user};
use crate::support::{
    ChildGuard, Deadline, Listener, TOOL_LIMIT, mosquitto_version_arg, pid, require, s, tag, topic,
};

use ProtocolVersion::{V3_1, V3_1_1, V5};

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
    }
    .into();
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
