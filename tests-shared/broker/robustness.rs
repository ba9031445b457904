//! Hostile and broken clients on raw sockets: malformed packets, oversize packets, connect
//! floods, half-open connections and random bytes. Each must cost only its own connection.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mqtt_proto::{
    Packet, PacketId, ProtocolVersion, Publish, QoS, QoSPid, ReasonCode, Subscribe,
    SubscriptionOptions,
};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::adapter::config::{Config, ListenerKind};
use crate::raw::{self, Raw, assert_disconnect, encode, topic_filter, topic_name};
use crate::support::{self, Rng, TestBroker, within};

const V311: ProtocolVersion = ProtocolVersion::V3_1_1;
const V5: ProtocolVersion = ProtocolVersion::V5;

/// Two well-behaved clients that keep exchanging messages while others misbehave.
struct Bystanders {
    sub: Raw,
    publisher: Raw,
    sent: u32,
}

impl Bystanders {
    async fn connect(addr: SocketAddr) -> Self {
        let mut sub = Raw::connect(addr, V5, "bystander-sub").await;
        sub.subscribe("alive/#", QoS::AtLeastOnce).await;
        let publisher = Raw::connect(addr, V311, "bystander-pub").await;
        let mut b = Self {
            sub,
            publisher,
            sent: 0,
        };
        b.check().await;
        b
    }

    /// A QoS 1 message goes from one to the other.
    async fn check(&mut self) {
        self.sent += 1;
        let topic = format!("alive/{}", self.sent);
        self.publisher.publish_qos1(&topic, b"still fine").await;
        let (got, p) = self.sub.expect_publish().await;
        assert_eq!(got, topic);
        assert_eq!(&p.payload[..], b"still fine");
        if let Some(id) = p.packet_id() {
            self.sub.send(&mqtt_proto::PubAck::new(id).into()).await;
        }
    }
}

/// What the offending connection must see before it is closed.
enum Expect {
    /// The close, nothing before it.
    SilentClose,
    /// One DISCONNECT with this reason code, then the close.
    Disconnect(ReasonCode),
    /// One CONNACK with this reason code, then the close.
    ConnAck(ReasonCode),
}

/// Sends `bad` (after a successful CONNECT of `connect_first`, if given) and checks the
/// broker's answer and that only that connection is closed.
async fn only_offender_closed(connect_first: Option<ProtocolVersion>, bad: &[u8], expect: Expect) {
    let broker = TestBroker::tcp().await;
    let addr = broker.tcp_addr();
    within(30, async {
        let mut bystanders = Bystanders::connect(addr).await;
        let mut offender = match connect_first {
            Some(v) => Raw::connect(addr, v, "offender").await,
            // A refused CONNECT is answered in the 3.1.1 form.
            None => Raw::open(addr, V311).await,
        };
        offender.send_bytes(bad).await;
        let got = offender.closed_within(Duration::from_secs(2)).await;
        match expect {
            Expect::SilentClose => assert!(got.is_empty(), "expected no packet, got {got:?}"),
            Expect::Disconnect(code) => assert_disconnect(&got, code),
            Expect::ConnAck(code) => match &got[..] {
                [Packet::ConnAck(ack)] => assert_eq!(ack.reason_code, code, "{ack:?}"),
                other => panic!("expected one CONNACK {code:?}, got {other:?}"),
            },
        }
        assert_eq!(broker.counters.violations.load(Ordering::Relaxed), 1);
        bystanders.check().await;
        // A new client is served too.
        let mut late = Raw::connect(addr, V5, "late").await;
        late.ping().await;
    })
    .await;
    broker.stop().await;
}

/// A CONNECT with the given protocol name and level, clean session, client id "x".
fn connect_bytes(name: &[u8], level: u8) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend((name.len() as u16).to_be_bytes());
    body.extend(name);
    body.extend([level, 0x02, 0x00, 0x3c]);
    if level == 5 {
        body.push(0); // no properties
    }
    body.extend([0x00, 0x01, b'x']);
    let mut packet = vec![0x10, body.len() as u8];
    packet.extend(body);
    packet
}

#[test]
fn connect_bytes_match_the_encoder() {
    // Guards the hand-made CONNECTs below: with a good name they equal the encoder's.
    for v in [V311, V5] {
        let mut c = raw::connect(v, "x");
        c.keep_alive = 60;
        assert_eq!(connect_bytes(b"MQTT", v.level()), encode(c, v));
    }
}

/// [MQTT-3.1.2-1] (3.1.1) / section 3.1.2.1 (5.0): a protocol name that is not "MQTT" gets
/// the connection closed, here without a CONNACK.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_with_bad_protocol_name_is_closed_v311() {
    only_offender_closed(None, &connect_bytes(b"MQTX", 4), Expect::SilentClose).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_with_bad_protocol_name_is_closed_v5() {
    only_offender_closed(None, &connect_bytes(b"MQTX", 5), Expect::SilentClose).await;
}

/// [MQTT-3.1.2-2]: an unsupported protocol level is answered with CONNACK return code 1
/// (0x84 in 5.0), in the 3.1.1 form any client can read, and the connection is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_with_unsupported_level_gets_connack_then_close() {
    let bad = connect_bytes(b"MQTT", 6);
    only_offender_closed(
        None,
        &bad,
        Expect::ConnAck(ReasonCode::UnsupportedProtocolVersion),
    )
    .await;
}

/// A SUBSCRIBE with its reserved flag bits 0000 instead of 0010 [MQTT-3.8.1-1] is
/// malformed.
fn subscribe_with_bad_flags(v: ProtocolVersion) -> Vec<u8> {
    let subscribe = Subscribe {
        packet_id: PacketId::new(1).expect("non-zero"),
        properties: Default::default(),
        filters: vec![(
            topic_filter("a/b"),
            SubscriptionOptions::new(QoS::AtMostOnce),
        )],
    };
    let mut bytes = encode(subscribe, v);
    assert_eq!(bytes[0], 0x82);
    bytes[0] = 0x80;
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_with_reserved_flags_is_closed_v311() {
    let bad = subscribe_with_bad_flags(V311);
    only_offender_closed(Some(V311), &bad, Expect::SilentClose).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_with_reserved_flags_gets_disconnect_0x81_v5() {
    let bad = subscribe_with_bad_flags(V5);
    only_offender_closed(
        Some(V5),
        &bad,
        Expect::Disconnect(ReasonCode::MalformedPacket),
    )
    .await;
}

/// A QoS 0 PUBLISH whose topic is the ill-formed UTF-8 `ff fe` [MQTT-1.5.4-1] (3.1.1
/// [MQTT-1.5.3-1]).
fn publish_with_invalid_utf8(v: ProtocolVersion) -> Vec<u8> {
    let mut body = vec![0x00, 0x02, 0xff, 0xfe];
    if v.is_v5() {
        body.push(0); // no properties
    }
    body.extend(b"payload");
    let mut packet = vec![0x30, body.len() as u8];
    packet.extend(body);
    packet
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_with_invalid_utf8_topic_is_closed_v311() {
    let bad = publish_with_invalid_utf8(V311);
    only_offender_closed(Some(V311), &bad, Expect::SilentClose).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_with_invalid_utf8_topic_gets_disconnect_0x81_v5() {
    let bad = publish_with_invalid_utf8(V5);
    only_offender_closed(
        Some(V5),
        &bad,
        Expect::Disconnect(ReasonCode::MalformedPacket),
    )
    .await;
}

/// [MQTT-3.1.0-2]: a second CONNECT is a Protocol Error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_connect_gets_disconnect_0x82_v5() {
    let again = encode(raw::connect(V5, "offender"), V5);
    only_offender_closed(
        Some(V5),
        &again,
        Expect::Disconnect(ReasonCode::ProtocolError),
    )
    .await;
}

const MAX_PACKET: u32 = 1024;

fn small_packets() -> Config {
    let mut config = support::config(&[ListenerKind::Tcp]);
    config.connection.max_packet_size = MAX_PACKET;
    config
}

/// A PUBLISH of exactly `size` bytes on the wire.
fn publish_of_size(v: ProtocolVersion, topic: &str, size: usize) -> Publish {
    let mut p = Publish::new(topic_name(topic), QoSPid::AtMostOnce, Vec::new());
    let overhead = p.encoded_len(v).expect("encodable");
    // Growing the payload past 127 bytes adds a byte of remaining length.
    p.payload = vec![b'x'; size - overhead - 1].into();
    assert_eq!(p.encoded_len(v).expect("encodable"), size);
    p
}

/// A packet whose declared size exceeds `connection.max_packet_size` is refused as soon as
/// its fixed header arrives, before any of the body (5.0: DISCONNECT 0x95, 3.1.1: close);
/// one of exactly the maximum size goes through.
async fn oversize(v: ProtocolVersion) {
    let broker = TestBroker::start(small_packets()).await;
    let addr = broker.tcp_addr();
    within(30, async {
        let mut sub = Raw::connect(addr, V311, "big-sub").await;
        sub.subscribe("big/#", QoS::AtMostOnce).await;

        let (mut client, ack) = Raw::connect_with(addr, raw::connect(v, "big")).await;
        assert_eq!(ack.reason_code, ReasonCode::Success);
        if v.is_v5() {
            // 5.0 section 3.2.2.3.6: the limit is advertised as Maximum Packet Size.
            assert_eq!(
                ack.properties.maximum_packet_size.map(|m| m.get()),
                Some(MAX_PACKET),
                "{ack:?}"
            );
        }
        let fits = publish_of_size(v, "big/fits", MAX_PACKET as usize);
        client.send(&fits.clone().into()).await;
        let (topic, p) = sub.expect_publish().await;
        assert_eq!(topic, "big/fits");
        assert_eq!(p.payload, fits.payload);

        // PUBLISH QoS 0 declaring 1,000,000 bytes of body: only the fixed header is sent.
        let start = Instant::now();
        client.send_bytes(&[0x30, 0xC0, 0x84, 0x3D]).await;
        let got = client.closed_within(Duration::from_secs(1)).await;
        let elapsed = start.elapsed();
        if v.is_v5() {
            assert_disconnect(&got, ReasonCode::PacketTooLarge);
        } else {
            assert!(got.is_empty(), "{got:?}");
        }
        assert!(
            elapsed < Duration::from_millis(500),
            "closed after {elapsed:?}"
        );
        assert_eq!(broker.counters.violations.load(Ordering::Relaxed), 1);

        // One byte over the limit, sent whole, is refused too.
        let (mut again, _) = Raw::connect_with(addr, raw::connect(v, "big2")).await;
        let over = publish_of_size(v, "big/over", MAX_PACKET as usize + 1);
        again.send(&over.into()).await;
        let got = again.closed_within(Duration::from_secs(1)).await;
        if v.is_v5() {
            assert_disconnect(&got, ReasonCode::PacketTooLarge);
        } else {
            assert!(got.is_empty(), "{got:?}");
        }
        sub.ping().await;
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_packet_refused_before_its_body_v311() {
    oversize(V311).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_packet_refused_before_its_body_v5() {
    oversize(V5).await;
}

fn quick_connect_timeout() -> Config {
    let mut config = support::config(&[ListenerKind::Tcp]);
    config.connection.connect_timeout = 1;
    config
}

/// 500 connections, half of which never send CONNECT: the broker keeps serving, the
/// connected half stays usable, and the silent half is closed after the 1 s connect
/// timeout, not before.
///
/// The connections open in waves of 50, each wave once the previous one is connected:
/// the listen backlog is 128 (the std default), and a connection the kernel dropped from a
/// full accept queue is established only on the client's side, under SYN cookies, until it
/// sends something. A silent one would then never reach the broker at all.
#[test]
fn connect_flood_with_silent_half() {
    const N: usize = 500;
    const WAVE: usize = 50;
    let (broker_host, broker) =
        support::broker_on_own_runtime(quick_connect_timeout(), "flood-broker");
    let addr = broker.tcp_addr();
    let clients = support::client_runtime();
    clients.block_on(within(60, async {
        let mut bystanders = Bystanders::connect(addr).await;
        let mut silent = JoinSet::new();
        let mut talkers = JoinSet::new();
        let (opened_tx, mut opened_rx) = tokio::sync::mpsc::unbounded_channel();
        for i in 0..N {
            let opened_tx = opened_tx.clone();
            if i % 2 == 0 {
                silent.spawn(async move {
                    let mut raw = Raw::open(addr, V311).await;
                    let opened = Instant::now();
                    let _ = opened_tx.send(());
                    let got = raw.closed_within(Duration::from_secs(5)).await;
                    assert!(got.is_empty(), "{got:?}");
                    opened.elapsed()
                });
            } else {
                let v = if i % 4 == 1 { V311 } else { V5 };
                talkers.spawn(async move {
                    let mut raw = Raw::open(addr, v).await;
                    let _ = opened_tx.send(());
                    raw.send(&raw::connect(v, &format!("flood-{i}")).into())
                        .await;
                    match raw.packet().await {
                        Packet::ConnAck(ack) if ack.reason_code == ReasonCode::Success => raw,
                        other => panic!("flood-{i}: expected CONNACK, got {other:?}"),
                    }
                });
            }
            if (i + 1) % WAVE == 0 {
                for _ in 0..WAVE {
                    opened_rx.recv().await.expect("a wave connects");
                }
            }
        }
        // While the silent ones still hold their sockets, the broker serves.
        bystanders.check().await;
        let mut connected = Vec::new();
        while let Some(r) = talkers.join_next().await {
            connected.push(r.expect("CONNECT answered"));
        }
        let mut waits = Vec::new();
        while let Some(r) = silent.join_next().await {
            waits.push(r.expect("silent connection closed"));
        }
        let min = waits.iter().min().copied().unwrap_or_default();
        let max = waits.iter().max().copied().unwrap_or_default();
        assert!(min >= Duration::from_millis(900), "closed after {min:?}");
        assert!(max <= Duration::from_secs(4), "closed after {max:?}");
        assert_eq!(connected.len(), N / 2);
        for raw in &mut connected {
            raw.ping().await;
        }
        bystanders.check().await;
        broker.stop().await;
    }));
    broker_host.close();
}

/// A client that connects with keep alive 1 s and then goes quiet, its socket still open, is
/// closed at one and a half times the keep alive [MQTT-3.1.2-24] (5.0 [MQTT-3.1.2-22]; 5.0
/// gets DISCONNECT 0x8D first) and its will is published.
async fn half_open(v: ProtocolVersion) {
    let broker = TestBroker::tcp().await;
    let addr = broker.tcp_addr();
    within(30, async {
        let mut watcher = Raw::connect(addr, V311, "watcher").await;
        watcher.subscribe("half/will", QoS::AtMostOnce).await;
        let connect = raw::connect_with_will(v, "half-open", 1, "half/will", b"it went quiet");
        let (mut quiet, ack) = Raw::connect_with(addr, connect).await;
        assert_eq!(ack.reason_code, ReasonCode::Success);
        let start = Instant::now();
        let got = quiet.closed_within(Duration::from_secs(4)).await;
        let closed = start.elapsed();
        if v.is_v5() {
            assert_disconnect(&got, ReasonCode::KeepAliveTimeout);
        } else {
            assert!(got.is_empty(), "{got:?}");
        }
        assert!(
            (Duration::from_millis(1400)..Duration::from_millis(2500)).contains(&closed),
            "closed after {closed:?}"
        );
        let (topic, will) = watcher.expect_publish().await;
        assert_eq!(topic, "half/will");
        assert_eq!(&will.payload[..], b"it went quiet");
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_client_closed_at_one_and_a_half_keep_alive_v311() {
    half_open(V311).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_client_closed_at_one_and_a_half_keep_alive_v5() {
    half_open(V5).await;
}

/// Panics on the garbage test's broker threads.
static BROKER_PANICS: AtomicUsize = AtomicUsize::new(0);
const BROKER_THREAD: &str = "garbage-broker";

/// One byte string of the seeded garbage.
fn garbage(rng: &mut Rng) -> Vec<u8> {
    let version = if rng.below(2) == 0 { V311 } else { V5 };
    let connect = encode(raw::connect(version, "garbage"), version);
    match rng.below(5) {
        // Random bytes.
        0 => {
            let len = 1 + rng.below(256);
            rng.bytes(len)
        }
        // A valid CONNECT, then random bytes.
        1 => {
            let len = 1 + rng.below(128);
            let mut b = connect;
            b.extend(rng.bytes(len));
            b
        }
        // A CONNECT with a few bytes changed.
        2 => {
            let mut b = connect;
            for _ in 0..1 + rng.below(3) {
                let i = rng.below(b.len());
                b[i] = rng.next_u64() as u8;
            }
            b
        }
        // A random first byte and a remaining length of random bytes (continuation bits
        // and all), then a random tail.
        3 => {
            let header = 1 + rng.below(5);
            let mut b = rng.bytes(header);
            let len = rng.below(64);
            b.extend(rng.bytes(len));
            b
        }
        // A valid CONNECT and SUBSCRIBE, the SUBSCRIBE with bytes changed.
        _ => {
            let subscribe = Subscribe {
                packet_id: PacketId::new(7).expect("non-zero"),
                properties: Default::default(),
                filters: vec![(
                    topic_filter("g/+/#"),
                    SubscriptionOptions::new(QoS::ExactlyOnce),
                )],
            };
            let mut sub = encode(subscribe, version);
            for _ in 0..1 + rng.below(3) {
                let i = rng.below(sub.len());
                sub[i] = rng.next_u64() as u8;
            }
            let mut b = connect;
            b.extend(sub);
            b
        }
    }
}

/// 100 seeded random byte strings, each on its own connection, never take the broker down
/// nor panic one of its tasks; a bystander keeps being served throughout. Set
/// `MQTT_GARBAGE_SEED` to replay a seed.
#[test]
fn garbage_never_takes_the_broker_down() {
    let seed = std::env::var("MQTT_GARBAGE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x6a72_6261_6765_u64);
    eprintln!("garbage seed: {seed} (replay with MQTT_GARBAGE_SEED={seed})");
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if support::is_broker_thread(BROKER_THREAD) {
            BROKER_PANICS.fetch_add(1, Ordering::Relaxed);
        }
        previous(info);
    }));
    let (broker_host, broker) =
        support::broker_on_own_runtime(quick_connect_timeout(), BROKER_THREAD);
    let addr = broker.tcp_addr();
    let client_rt = support::client_runtime();
    client_rt.block_on(within(90, async {
        let mut rng = Rng::new(seed);
        let inputs: Vec<Vec<u8>> = (0..100).map(|_| garbage(&mut rng)).collect();
        let mut bystanders = Bystanders::connect(addr).await;
        for (batch, chunk) in inputs.chunks(25).enumerate() {
            let mut set = JoinSet::new();
            for (i, bytes) in chunk.iter().enumerate() {
                let bytes = bytes.clone();
                set.spawn(async move {
                    let mut raw = Raw::open(addr, V5).await;
                    raw.send_bytes(&bytes).await;
                    // Closed (a violation or the connect timeout), or still open because
                    // the bytes happened to be valid: both are fine, the broker decides.
                    let _closed = raw.discard_until_closed(Duration::from_secs(3)).await;
                    (batch * 25 + i, bytes)
                });
            }
            while let Some(r) = set.join_next().await {
                r.expect("garbage client task");
            }
            assert!(broker.is_running(), "broker stopped after batch {batch}");
            bystanders.check().await;
            let mut fresh = Raw::connect(addr, V311, "fresh").await;
            fresh.ping().await;
        }
        assert!(
            broker.counters.violations.load(Ordering::Relaxed) > 0,
            "the garbage never reached the decoder"
        );
    }));
    client_rt.block_on(broker.stop());
    broker_host.close();
    assert_eq!(
        BROKER_PANICS.load(Ordering::Relaxed),
        0,
        "a broker task panicked (seed {seed})"
    );
}

/// A subscriber that stops acknowledging fills its in-flight window, then its session queue;
/// what its connection drops beyond the queue bound is counted in
/// `$SYS/broker/messages/dropped`, not lost silently.
#[tokio::test]
async fn messages_dropped_for_a_stuck_subscriber_are_counted_in_sys() {
    within(30, async {
        let mut config = support::config(&[ListenerKind::Tcp]);
        config.limits.max_queued_messages = 5;
        config.limits.sys_interval = 1;
        config.connection.max_inflight = 2;
        let broker = TestBroker::start(config).await;
        let addr = broker.tcp_addr();
        // Subscribes at QoS 1, then never acknowledges nor reads.
        let mut stuck = Raw::connect(addr, V311, "stuck").await;
        stuck.subscribe("load/#", QoS::AtLeastOnce).await;
        let mut watcher = Raw::connect(addr, V311, "watcher").await;
        watcher
            .subscribe("$SYS/broker/messages/dropped", QoS::AtMostOnce)
            .await;
        let mut publisher = Raw::connect(addr, V311, "load").await;
        for i in 0..20u32 {
            publisher.publish_qos1("load/x", &i.to_be_bytes()).await;
        }
        // 2 in flight, 5 queued: 13 dropped (the statistics may come in several steps).
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut dropped = 0;
        while dropped < 13 && Instant::now() < deadline {
            let (topic, p) = watcher.expect_publish().await;
            assert_eq!(topic, "$SYS/broker/messages/dropped");
            dropped = String::from_utf8_lossy(&p.payload).parse().unwrap();
        }
        assert_eq!(dropped, 13);
        drop(stuck);
        broker.stop().await;
    })
    .await;
}
