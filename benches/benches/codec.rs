//! Codec benchmarks: `mqtt-proto` measured side by side, in the same run, with
//! `mqttbytes` 0.6 (rumqtt's codec, `v4` and `v5` modules) and `mqtt-protocol-core` 0.7
//! (a sans-I/O MQTT library).
//!
//! Workloads: PUBLISH decode and encode (MQTT 3.1.1 and 5.0, QoS 0 and 1, 64 B and
//! 16 KiB payloads), CONNECT decode and encode (will and credentials; 5.0 with
//! properties), SUBSCRIBE with 10 filters, and topic-filter matching. `benches/README.md`
//! says what each benchmark measures, how to run it, and the results.
//!
//! Ground rules, the same for every codec:
//! - every packet is built once, and its encodings by all three codecs are asserted to be
//!   byte-identical, so decode benches feed each codec the very same bytes;
//! - before a decode bench runs, each codec's decode of those bytes is asserted to yield
//!   the expected topic, payload, properties, so no codec is measured on an error path;
//! - a decode iteration decodes one packet from an owned buffer holding exactly its bytes:
//!   `iter_batched` builds the buffers (the copy) outside the timing, and the decoded
//!   packet and the buffer are returned, so their drop is outside the timing too (batches
//!   of a fixed size, see [`SMALL_BATCH`]); a stream variant decodes 16 packets from one
//!   buffer per iteration;
//! - an encode iteration clears one reused, pre-reserved buffer and encodes into it;
//! - the clock is the thread's CPU time (`MQTT_BENCH_WALL_CLOCK=1` for wall-clock time):
//!   the machine these run on is shared, and CPU time leaves out the time the benchmark
//!   thread is descheduled.

use std::hint::black_box;
use std::num::NonZeroU16;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use cpu_time::ThreadTime;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{BatchSize, BenchmarkGroup, Criterion, Throughput};
use mqtt_proto as mp;
use mqtt_protocol_core::mqtt::common::Cursor;
use mqtt_protocol_core::mqtt::connection::{
    PacketBuildResult, PacketBuilder, PacketData, RawPacket,
};
use mqtt_protocol_core::mqtt::packet::{
    self as mpc, ContentType, MessageExpiryInterval, Property, ReceiveMaximum,
    SessionExpiryInterval, SubEntry, SubOpts, SubscriptionIdentifier, UserProperty,
    WillDelayInterval, v3_1_1 as mpc3, v5_0 as mpc5,
};
use mqttbytes::{v4 as mb4, v5 as mb5};

// ---------------------------------------------------------------------------------------
// Names and shared inputs
// ---------------------------------------------------------------------------------------

const MQTT_PROTO: &str = "mqtt-proto";
const MQTTBYTES: &str = "mqttbytes";
const MPC: &str = "mqtt-protocol-core";

const TOPIC: &str = "sensors/building-7/floor-3/room-42/temperature";
const PACKET_ID: u16 = 4242;
const MESSAGE_EXPIRY: u32 = 3600;
const CONTENT_TYPE: &str = "application/json";
const USER_KEY: &str = "trace-id";
const USER_VALUE: &str = "4bf92f3577b34da6";

const CLIENT_ID: &str = "bench-client-0001";
const WILL_TOPIC: &str = "clients/bench-client-0001/status";
const WILL_PAYLOAD: &[u8] = b"offline";
const USERNAME: &str = "bench-user";
const PASSWORD: &str = "bench-password";
const KEEP_ALIVE: u16 = 30;
const SESSION_EXPIRY: u32 = 3600;
const RECEIVE_MAXIMUM: u16 = 100;
const WILL_DELAY: u32 = 10;

const SUBSCRIPTION_ID: u32 = 42;
/// The 10 filters of the SUBSCRIBE: literal, `+` and `#`, with their maximum QoS.
const FILTERS: [(&str, u8); 10] = [
    ("sensors/+/temperature", 0),
    ("sensors/building-7/#", 1),
    ("alerts/critical", 2),
    ("devices/+/status", 1),
    ("devices/+/config/+", 1),
    ("home/kitchen/light", 0),
    ("#", 0),
    ("+/+/+", 1),
    ("metrics/cpu/+", 0),
    ("fleet/+/gps/#", 2),
];
/// Topics matched against every filter of [`FILTERS`]. No topic starts with `$`:
/// `mqttbytes::matches` refuses every such topic, even for a literal filter, where MQTT
/// (and `mqtt-proto`) only keeps wildcards in the first level from matching them.
const TOPICS: [&str; 10] = [
    "sensors/building-7/temperature",
    "sensors/building-7/floor-3/room-42/temperature",
    "alerts/critical",
    "alerts/warning",
    "devices/dev-0042/status",
    "devices/dev-0042/config/network",
    "home/kitchen/light",
    "fleet/truck-17/gps",
    "metrics/cpu/core-1",
    "a/b",
];

/// Large enough for the remaining length of any packet here.
const MAX_PACKET: usize = 1 << 28;

fn version(v5: bool) -> mp::ProtocolVersion {
    if v5 {
        mp::ProtocolVersion::V5
    } else {
        mp::ProtocolVersion::V3_1_1
    }
}

fn version_label(v5: bool) -> &'static str {
    if v5 { "v5.0" } else { "v3.1.1" }
}

fn mp_qos(q: u8) -> mp::QoS {
    mp::QoS::from_u8(q).expect("QoS 0, 1 or 2")
}

fn mb_qos(q: u8) -> mqttbytes::QoS {
    mqttbytes::qos(q).expect("QoS 0, 1 or 2")
}

fn mpc_qos(q: u8) -> mpc::Qos {
    match q {
        0 => mpc::Qos::AtMostOnce,
        1 => mpc::Qos::AtLeastOnce,
        _ => mpc::Qos::ExactlyOnce,
    }
}

fn mp_str(s: &'static str) -> mp::MqttString {
    mp::MqttString::from_static(s)
}

// ---------------------------------------------------------------------------------------
// Shared bench drivers
// ---------------------------------------------------------------------------------------

/// Decode iterations per timed batch of `iter_batched`, for packets up to a few hundred
/// bytes. A fixed size, not `BatchSize::SmallInput`: that makes batches of a tenth of a
/// sample's iterations (up to ~10^5 here), and criterion writes the routine outputs (the
/// decoded packets, 100-500 bytes each) into a fresh vector of that many inside the
/// timed loop, so the timing measured the page faults of tens of MB of new memory more
/// than the decoding. 128 outputs stay in cache, and the timer overhead per iteration is
/// negligible (see the `overhead` group).
const SMALL_BATCH: BatchSize = BatchSize::NumIterations(128);
/// Decode iterations per timed batch for the 16 KiB payloads: 32 inputs are 512 KiB,
/// which stay in L2 as a just-received buffer would be in cache.
const LARGE_BATCH: BatchSize = BatchSize::NumIterations(32);

/// Benchmarks decoding one packet per iteration from an owned buffer holding `wire`.
///
/// The buffers are made by `iter_batched`'s setup (outside the timing); the routine gets
/// the buffer by value and returns it with the decoded packet, so the drop of both is
/// outside the timing as well.
fn bench_decode<M: Measurement, O>(
    g: &mut BenchmarkGroup<'_, M>,
    codec: &str,
    wire: &[u8],
    batch: BatchSize,
    mut decode: impl FnMut(&mut BytesMut) -> O,
) {
    g.bench_function(codec, |b| {
        b.iter_batched(
            || BytesMut::from(wire),
            |mut buf| {
                let out = decode(black_box(&mut buf));
                (buf, black_box(out))
            },
            batch,
        );
    });
}

/// Packets in one buffer for the stream variant of the PUBLISH decode benches.
const STREAM: usize = 16;

/// Benchmarks decoding a stream of [`STREAM`] copies of `wire` from one buffer, as a
/// connection decodes what one read brought in. The setup makes the buffer and a vector
/// with room for every decoded packet; the routine decodes them all into the vector.
fn bench_decode_stream<M: Measurement, O>(
    g: &mut BenchmarkGroup<'_, M>,
    codec: &str,
    wire: &[u8],
    batch: BatchSize,
    mut decode: impl FnMut(&mut BytesMut, &mut Vec<O>),
) {
    let stream = wire.repeat(STREAM);
    g.bench_function(codec, |b| {
        b.iter_batched(
            || (BytesMut::from(&stream[..]), Vec::with_capacity(STREAM)),
            |(mut buf, mut out)| {
                decode(black_box(&mut buf), &mut out);
                assert_eq!(out.len(), STREAM);
                (buf, black_box(out))
            },
            batch,
        );
    });
}

/// Benchmarks encoding into one reused buffer, reserved once and cleared every iteration.
fn bench_encode<M: Measurement>(
    g: &mut BenchmarkGroup<'_, M>,
    codec: &str,
    capacity: usize,
    mut encode: impl FnMut(&mut BytesMut),
) {
    let mut buf = BytesMut::with_capacity(capacity);
    g.bench_function(codec, |b| {
        b.iter(|| {
            buf.clear();
            encode(&mut buf);
            black_box(&buf);
        });
    });
}

/// `mqtt-protocol-core`'s framing: its `PacketBuilder` (one per connection, reused) reads
/// one whole packet from the front of `bytes`.
fn mpc_frame(builder: &mut PacketBuilder, bytes: &[u8]) -> RawPacket {
    mpc_next(builder, &mut Cursor::new(bytes))
}

/// `mqtt-protocol-core`'s framing of the next packet of a stream.
fn mpc_next(builder: &mut PacketBuilder, cursor: &mut Cursor<&[u8]>) -> RawPacket {
    match builder.feed(cursor) {
        PacketBuildResult::Complete(raw) => raw,
        PacketBuildResult::Incomplete => panic!("mqtt-protocol-core: incomplete packet"),
        PacketBuildResult::Error(e) => panic!("mqtt-protocol-core: {e:?}"),
    }
}

/// `mqtt-protocol-core`'s whole encoding of a packet, copied into `buf`. The library has no
/// "encode into this buffer" call: it hands out the packet's pieces as `IoSlice`s
/// (`to_buffers`) or as a freshly allocated `Vec` (`to_continuous_buffer`); copying the
/// slices into the reused buffer is the cheaper of the two (both are measured).
fn copy_slices(slices: &[std::io::IoSlice<'_>], buf: &mut BytesMut) {
    for s in slices {
        buf.extend_from_slice(s);
    }
}

fn payload_inside(payload: &[u8], input: &std::ops::Range<*const u8>) -> bool {
    input.contains(&payload.as_ptr())
}

// ---------------------------------------------------------------------------------------
// PUBLISH
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
struct PubCase {
    v5: bool,
    qos1: bool,
    payload_len: usize,
}

impl PubCase {
    fn label(self) -> String {
        let size = if self.payload_len >= 1024 {
            format!("{}KiB", self.payload_len / 1024)
        } else {
            format!("{}B", self.payload_len)
        };
        format!(
            "{}-qos{}-{size}",
            version_label(self.v5),
            u8::from(self.qos1)
        )
    }

    fn payload(self) -> Bytes {
        (0..self.payload_len)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>()
            .into()
    }
}

fn mp_publish(c: PubCase) -> mp::Publish {
    let qos_pid = if c.qos1 {
        mp::QoSPid::AtLeastOnce(mp::PacketId::new(PACKET_ID).expect("non-zero"))
    } else {
        mp::QoSPid::AtMostOnce
    };
    let mut p = mp::Publish::new(mp::TopicName::from_static(TOPIC), qos_pid, c.payload());
    if c.v5 {
        p.properties.message_expiry_interval = Some(MESSAGE_EXPIRY);
        p.properties.content_type = Some(mp_str(CONTENT_TYPE));
        p.properties
            .user_properties
            .push((mp_str(USER_KEY), mp_str(USER_VALUE)));
    }
    p
}

fn mb4_publish(c: PubCase) -> mb4::Publish {
    let mut p = mb4::Publish::from_bytes(TOPIC, mb_qos(u8::from(c.qos1)), c.payload());
    p.pkid = if c.qos1 { PACKET_ID } else { 0 };
    p
}

fn mb5_publish(c: PubCase) -> mb5::Publish {
    let mut p = mb5::Publish::from_bytes(TOPIC, mb_qos(u8::from(c.qos1)), c.payload());
    p.pkid = if c.qos1 { PACKET_ID } else { 0 };
    p.properties = Some(mb5::PublishProperties {
        payload_format_indicator: None,
        message_expiry_interval: Some(MESSAGE_EXPIRY),
        topic_alias: None,
        response_topic: None,
        correlation_data: None,
        user_properties: vec![(USER_KEY.into(), USER_VALUE.into())],
        subscription_identifiers: Vec::new(),
        content_type: Some(CONTENT_TYPE.into()),
    });
    p
}

fn mpc3_publish(c: PubCase) -> mpc3::Publish {
    let mut b = mpc3::Publish::builder()
        .topic_name(TOPIC)
        .expect("topic")
        .payload(c.payload().to_vec());
    if c.qos1 {
        b = b.qos(mpc::Qos::AtLeastOnce).packet_id(PACKET_ID);
    }
    b.build().expect("mqtt-protocol-core v3.1.1 PUBLISH")
}

/// Properties in the order the other two codecs write them, so all encodings are equal.
fn mpc_publish_props() -> Vec<Property> {
    vec![
        Property::MessageExpiryInterval(MessageExpiryInterval::new(MESSAGE_EXPIRY).expect("ok")),
        Property::UserProperty(UserProperty::new(USER_KEY, USER_VALUE).expect("ok")),
        Property::ContentType(ContentType::new(CONTENT_TYPE).expect("ok")),
    ]
}

fn mpc5_publish(c: PubCase) -> mpc5::Publish {
    let mut b = mpc5::Publish::builder()
        .topic_name(TOPIC)
        .expect("topic")
        .props(mpc_publish_props())
        .payload(c.payload().to_vec());
    if c.qos1 {
        b = b.qos(mpc::Qos::AtLeastOnce).packet_id(PACKET_ID);
    }
    b.build().expect("mqtt-protocol-core v5.0 PUBLISH")
}

fn mp_decode_publish(buf: &mut BytesMut, v5: bool) -> mp::Publish {
    match mp::decode(buf, version(v5), &mp::DecodeOptions::default()) {
        Ok(Some(mp::Packet::Publish(p))) => p,
        other => panic!("mqtt-proto: {other:?}"),
    }
}

fn mb4_decode_publish(buf: &mut BytesMut) -> mb4::Publish {
    match mb4::read(buf, MAX_PACKET) {
        Ok(mb4::Packet::Publish(p)) => p,
        other => panic!("mqttbytes v4: {other:?}"),
    }
}

fn mb5_decode_publish(buf: &mut BytesMut) -> mb5::Publish {
    match mb5::read(buf, MAX_PACKET) {
        Ok(mb5::Packet::Publish(p)) => p,
        other => panic!("mqttbytes v5: {other:?}"),
    }
}

fn mpc_publish_body(raw: RawPacket) -> (u8, std::sync::Arc<[u8]>) {
    let flags = raw.flags();
    match raw.data {
        PacketData::Publish(arc) => (flags, arc),
        PacketData::Normal(_) => panic!("mqtt-protocol-core: not a PUBLISH"),
    }
}

fn mpc3_decode_publish(builder: &mut PacketBuilder, bytes: &[u8]) -> mpc3::Publish {
    let (flags, body) = mpc_publish_body(mpc_frame(builder, bytes));
    mpc3::Publish::parse(flags, body)
        .expect("mqtt-protocol-core v3.1.1")
        .0
}

fn mpc5_decode_publish(builder: &mut PacketBuilder, bytes: &[u8]) -> mpc5::Publish {
    let (flags, body) = mpc_publish_body(mpc_frame(builder, bytes));
    mpc5::Publish::parse(flags, body)
        .expect("mqtt-protocol-core v5.0")
        .0
}

/// Asserts that every codec encodes `c` to the same bytes and decodes those bytes to the
/// expected packet, and checks which decoders copy the payload. Returns the bytes.
fn check_publish(c: PubCase) -> Vec<u8> {
    let v = version(c.v5);
    let payload = c.payload();
    let mut wire = Vec::new();
    mp_publish(c)
        .encode(v, &mut wire)
        .expect("mqtt-proto encode");

    // Equal encodings.
    let mut mb = BytesMut::new();
    let mut mpc_out = BytesMut::new();
    if c.v5 {
        mb5_publish(c).write(&mut mb).expect("mqttbytes encode");
        copy_slices(&mpc5_publish(c).to_buffers(), &mut mpc_out);
    } else {
        mb4_publish(c).write(&mut mb).expect("mqttbytes encode");
        copy_slices(&mpc3_publish(c).to_buffers(), &mut mpc_out);
    }
    assert_eq!(&mb[..], &wire[..], "mqttbytes encodes {}", c.label());
    assert_eq!(
        &mpc_out[..],
        &wire[..],
        "mqtt-protocol-core encodes {}",
        c.label()
    );

    // mqtt-proto: right packet, and topic and payload are slices of the input buffer.
    let mut buf = BytesMut::from(&wire[..]);
    let input = buf.as_ptr_range();
    let p = mp_decode_publish(&mut buf, c.v5);
    let topic = p.topic.as_ref().expect("topic");
    assert_eq!(topic.as_str(), TOPIC);
    assert_eq!(p.payload, payload);
    assert_eq!(
        p.packet_id().map(|id| id.get()),
        c.qos1.then_some(PACKET_ID)
    );
    if c.v5 {
        assert_eq!(p.properties.message_expiry_interval, Some(MESSAGE_EXPIRY));
        assert_eq!(
            p.properties.content_type.as_ref().map(|s| s.as_str()),
            Some(CONTENT_TYPE)
        );
        assert_eq!(p.properties.user_properties.len(), 1);
    }
    assert!(
        payload_inside(&p.payload, &input),
        "mqtt-proto copied the payload"
    );
    assert!(
        input.contains(&topic.as_str().as_ptr()),
        "mqtt-proto copied the topic"
    );

    // mqttbytes: payload is a slice of the input; the topic is copied into a String.
    let mut buf = BytesMut::from(&wire[..]);
    let input = buf.as_ptr_range();
    let (topic, pkid, pl) = if c.v5 {
        let p = mb5_decode_publish(&mut buf);
        let props = p.properties.as_ref().expect("properties");
        assert_eq!(props.message_expiry_interval, Some(MESSAGE_EXPIRY));
        assert_eq!(props.content_type.as_deref(), Some(CONTENT_TYPE));
        assert_eq!(props.user_properties.len(), 1);
        (p.topic, p.pkid, p.payload)
    } else {
        let p = mb4_decode_publish(&mut buf);
        (p.topic, p.pkid, p.payload)
    };
    assert_eq!(topic, TOPIC);
    assert_eq!(pkid, if c.qos1 { PACKET_ID } else { 0 });
    assert_eq!(pl, payload);
    assert!(payload_inside(&pl, &input), "mqttbytes copied the payload");
    assert!(
        !input.contains(&topic.as_ptr()),
        "mqttbytes shares the topic"
    );

    // mqtt-protocol-core: its PacketBuilder copies the packet body out of the input (into a
    // Vec, then into an Arc<[u8]>); the payload is a slice of that copy.
    let mut builder = PacketBuilder::new();
    let input = wire.as_ptr_range();
    let (topic, pkid, pl) = if c.v5 {
        let p = mpc5_decode_publish(&mut builder, &wire);
        let inside = payload_inside(p.payload().as_slice(), &input);
        assert!(!inside, "mqtt-protocol-core shares the payload");
        assert_eq!(p.props().len(), 3);
        assert!(matches!(
            &p.props()[0],
            Property::MessageExpiryInterval(e) if e.val() == MESSAGE_EXPIRY
        ));
        assert!(matches!(&p.props()[2], Property::ContentType(t) if t.val() == CONTENT_TYPE));
        (
            p.topic_name().to_owned(),
            p.packet_id(),
            p.payload().as_slice().to_vec(),
        )
    } else {
        let p = mpc3_decode_publish(&mut builder, &wire);
        let inside = payload_inside(p.payload().as_slice(), &input);
        assert!(!inside, "mqtt-protocol-core shares the payload");
        (
            p.topic_name().to_owned(),
            p.packet_id(),
            p.payload().as_slice().to_vec(),
        )
    };
    assert_eq!(topic, TOPIC);
    assert_eq!(pkid, c.qos1.then_some(PACKET_ID));
    assert_eq!(pl, payload);
    wire
}

fn publish_benches<M: Measurement>(cr: &mut Criterion<M>) {
    for v5 in [false, true] {
        for qos1 in [false, true] {
            for payload_len in [64, 16 * 1024] {
                let c = PubCase {
                    v5,
                    qos1,
                    payload_len,
                };
                publish_decode(cr, c);
                publish_decode_stream(cr, c);
                publish_encode(cr, c);
            }
        }
    }
}

fn publish_decode<M: Measurement>(cr: &mut Criterion<M>, c: PubCase) {
    let wire = check_publish(c);
    let v5 = c.v5;
    let mut g = cr.benchmark_group(format!("publish-decode/{}", c.label()));
    let batch = if c.payload_len > 1024 {
        // Copying a 16 KiB input (setup) takes far longer than a zero-copy decode of it:
        // a shorter measurement keeps the wall time of the run in bounds.
        g.measurement_time(Duration::from_millis(600));
        LARGE_BATCH
    } else {
        SMALL_BATCH
    };

    bench_decode(&mut g, MQTT_PROTO, &wire, batch, |buf| {
        mp_decode_publish(buf, v5)
    });
    if v5 {
        bench_decode(&mut g, MQTTBYTES, &wire, batch, mb5_decode_publish);
        let mut builder = PacketBuilder::new();
        bench_decode(&mut g, MPC, &wire, batch, |buf| {
            mpc5_decode_publish(&mut builder, buf)
        });
    } else {
        bench_decode(&mut g, MQTTBYTES, &wire, batch, mb4_decode_publish);
        let mut builder = PacketBuilder::new();
        bench_decode(&mut g, MPC, &wire, batch, |buf| {
            mpc3_decode_publish(&mut builder, buf)
        });
    }

    // Supplementary, not in the comparison: mqtt-protocol-core's parser alone, handed the
    // packet body already framed and copied into the Arc<[u8]> it needs (setup).
    let flags = wire[0] & 0x0F;
    let body = &wire[1 + mp::var_int_len(wire_remaining(&wire))..];
    // The parsed packet is returned, so its drop is outside the timing as elsewhere.
    let name = format!("{MPC} (parse only, pre-framed)");
    let setup = || std::sync::Arc::<[u8]>::from(body);
    if v5 {
        g.bench_function(name, |b| {
            b.iter_batched(
                setup,
                |arc| {
                    mpc5::Publish::parse(flags, black_box(arc))
                        .expect("parse")
                        .0
                },
                batch,
            );
        });
    } else {
        g.bench_function(name, |b| {
            b.iter_batched(
                setup,
                |arc| {
                    mpc3::Publish::parse(flags, black_box(arc))
                        .expect("parse")
                        .0
                },
                batch,
            );
        });
    }
    g.finish();
}

fn publish_decode_stream<M: Measurement>(cr: &mut Criterion<M>, c: PubCase) {
    let wire = check_publish(c);
    let v5 = c.v5;
    let mut g = cr.benchmark_group(format!("publish-decode-stream{STREAM}/{}", c.label()));
    g.throughput(Throughput::Elements(STREAM as u64));
    let batch = if c.payload_len > 1024 {
        // 16 packets of 16 KiB are 256 KiB to copy per iteration (setup): shorter.
        g.measurement_time(Duration::from_millis(400));
        BatchSize::NumIterations(4)
    } else {
        BatchSize::NumIterations(32)
    };
    bench_decode_stream(&mut g, MQTT_PROTO, &wire, batch, |buf, out| {
        for _ in 0..STREAM {
            out.push(mp_decode_publish(buf, v5));
        }
    });
    let mut builder = PacketBuilder::new();
    if v5 {
        bench_decode_stream(&mut g, MQTTBYTES, &wire, batch, |buf, out| {
            for _ in 0..STREAM {
                out.push(mb5_decode_publish(buf));
            }
        });
        bench_decode_stream(&mut g, MPC, &wire, batch, |buf, out| {
            let mut cursor = Cursor::new(&buf[..]);
            for _ in 0..STREAM {
                let (flags, body) = mpc_publish_body(mpc_next(&mut builder, &mut cursor));
                out.push(mpc5::Publish::parse(flags, body).expect("parse").0);
            }
        });
    } else {
        bench_decode_stream(&mut g, MQTTBYTES, &wire, batch, |buf, out| {
            for _ in 0..STREAM {
                out.push(mb4_decode_publish(buf));
            }
        });
        bench_decode_stream(&mut g, MPC, &wire, batch, |buf, out| {
            let mut cursor = Cursor::new(&buf[..]);
            for _ in 0..STREAM {
                let (flags, body) = mpc_publish_body(mpc_next(&mut builder, &mut cursor));
                out.push(mpc3::Publish::parse(flags, body).expect("parse").0);
            }
        });
    }
    g.finish();
}

/// The remaining length of the packet in `wire`.
fn wire_remaining(wire: &[u8]) -> u32 {
    mp::decode_var_int(&wire[1..], true)
        .expect("var int")
        .expect("complete")
        .0
}

fn publish_encode<M: Measurement>(cr: &mut Criterion<M>, c: PubCase) {
    let v = version(c.v5);
    let cap = c.payload_len + 256;
    let mut g = cr.benchmark_group(format!("publish-encode/{}", c.label()));

    let p = mp_publish(c);
    bench_encode(&mut g, MQTT_PROTO, cap, |buf| {
        black_box(&p).encode(v, buf).expect("encode");
    });
    if c.v5 {
        let p = mb5_publish(c);
        bench_encode(&mut g, MQTTBYTES, cap, |buf| {
            black_box(&p).write(buf).expect("encode");
        });
        let p = mpc5_publish(c);
        bench_encode(&mut g, MPC, cap, |buf| {
            copy_slices(&black_box(&p).to_buffers(), buf);
        });
    } else {
        let p = mb4_publish(c);
        bench_encode(&mut g, MQTTBYTES, cap, |buf| {
            black_box(&p).write(buf).expect("encode");
        });
        let p = mpc3_publish(c);
        bench_encode(&mut g, MPC, cap, |buf| {
            copy_slices(&black_box(&p).to_buffers(), buf);
        });
    }

    // Zero-copy vectored paths (header written or listed, payload shared, not copied):
    // mqtt-proto's `encode_header` and mqtt-protocol-core's `to_buffers` (a Vec of
    // IoSlices). mqttbytes has none.
    bench_encode(&mut g, &format!("{MQTT_PROTO} encode_header"), 256, |buf| {
        let p = black_box(&p);
        p.encode_header(v, buf).expect("encode_header");
        black_box(&p.payload);
    });
    if c.v5 {
        let p = mpc5_publish(c);
        g.bench_function(format!("{MPC} to_buffers"), |b| {
            b.iter(|| black_box(black_box(&p).to_buffers()).len());
        });
        // Its other whole-packet encoding, into a new Vec each time.
        g.bench_function(format!("{MPC} to_continuous_buffer"), |b| {
            b.iter(|| black_box(black_box(&p).to_continuous_buffer()).len());
        });
    } else {
        let p = mpc3_publish(c);
        g.bench_function(format!("{MPC} to_buffers"), |b| {
            b.iter(|| black_box(black_box(&p).to_buffers()).len());
        });
        g.bench_function(format!("{MPC} to_continuous_buffer"), |b| {
            b.iter(|| black_box(black_box(&p).to_continuous_buffer()).len());
        });
    }
    g.finish();
}

// ---------------------------------------------------------------------------------------
// CONNECT
// ---------------------------------------------------------------------------------------

fn mp_connect(v5: bool) -> mp::Connect {
    let mut will = mp::Will {
        topic: mp::TopicName::from_static(WILL_TOPIC),
        payload: Bytes::from_static(WILL_PAYLOAD),
        qos: mp::QoS::AtLeastOnce,
        retain: true,
        properties: mp::WillProperties::default(),
    };
    let mut c = mp::Connect::new(version(v5), mp_str(CLIENT_ID));
    c.keep_alive = KEEP_ALIVE;
    c.username = Some(mp_str(USERNAME));
    c.password = Some(Bytes::from_static(PASSWORD.as_bytes()));
    if v5 {
        c.properties.session_expiry_interval = Some(SESSION_EXPIRY);
        c.properties.receive_maximum = NonZeroU16::new(RECEIVE_MAXIMUM);
        c.properties
            .user_properties
            .push((mp_str(USER_KEY), mp_str(USER_VALUE)));
        will.properties.will_delay_interval = Some(WILL_DELAY);
    }
    c.will = Some(will);
    c
}

fn mb4_connect() -> mb4::Connect {
    let mut c = mb4::Connect::new(CLIENT_ID);
    c.keep_alive = KEEP_ALIVE;
    c.last_will = Some(mb4::LastWill::new(
        WILL_TOPIC,
        WILL_PAYLOAD,
        mqttbytes::QoS::AtLeastOnce,
        true,
    ));
    c.set_login(USERNAME, PASSWORD);
    c
}

fn mb5_connect() -> mb5::Connect {
    let mut c = mb5::Connect::new(CLIENT_ID);
    c.keep_alive = KEEP_ALIVE;
    let mut will = mb5::LastWill::new(WILL_TOPIC, WILL_PAYLOAD, mqttbytes::QoS::AtLeastOnce, true);
    will.properties = Some(mb5::WillProperties {
        delay_interval: Some(WILL_DELAY),
        payload_format_indicator: None,
        message_expiry_interval: None,
        content_type: None,
        response_topic: None,
        correlation_data: None,
        user_properties: Vec::new(),
    });
    c.last_will = Some(will);
    c.set_login(USERNAME, PASSWORD);
    c.properties = Some(mb5::ConnectProperties {
        session_expiry_interval: Some(SESSION_EXPIRY),
        receive_maximum: Some(RECEIVE_MAXIMUM),
        max_packet_size: None,
        topic_alias_max: None,
        request_response_info: None,
        request_problem_info: None,
        user_properties: vec![(USER_KEY.into(), USER_VALUE.into())],
        authentication_method: None,
        authentication_data: None,
    });
    c
}

fn mpc3_connect() -> mpc3::Connect {
    mpc3::Connect::builder()
        .client_id(CLIENT_ID)
        .expect("client id")
        .clean_session(true)
        .keep_alive(KEEP_ALIVE)
        .will_message(
            WILL_TOPIC,
            WILL_PAYLOAD.to_vec(),
            mpc::Qos::AtLeastOnce,
            true,
        )
        .expect("will")
        .user_name(USERNAME)
        .expect("user name")
        .password(PASSWORD)
        .expect("password")
        .build()
        .expect("mqtt-protocol-core v3.1.1 CONNECT")
}

fn mpc5_connect() -> mpc5::Connect {
    mpc5::Connect::builder()
        .client_id(CLIENT_ID)
        .expect("client id")
        .clean_start(true)
        .keep_alive(KEEP_ALIVE)
        .props(vec![
            Property::SessionExpiryInterval(
                SessionExpiryInterval::new(SESSION_EXPIRY).expect("ok"),
            ),
            Property::ReceiveMaximum(ReceiveMaximum::new(RECEIVE_MAXIMUM).expect("ok")),
            Property::UserProperty(UserProperty::new(USER_KEY, USER_VALUE).expect("ok")),
        ])
        .will_message(
            WILL_TOPIC,
            WILL_PAYLOAD.to_vec(),
            mpc::Qos::AtLeastOnce,
            true,
        )
        .expect("will")
        .will_props(vec![Property::WillDelayInterval(
            WillDelayInterval::new(WILL_DELAY).expect("ok"),
        )])
        .user_name(USERNAME)
        .expect("user name")
        .password(PASSWORD)
        .expect("password")
        .build()
        .expect("mqtt-protocol-core v5.0 CONNECT")
}

fn mp_decode_connect(buf: &mut BytesMut, v5: bool) -> mp::Connect {
    match mp::decode(buf, version(v5), &mp::DecodeOptions::default()) {
        Ok(Some(mp::Packet::Connect(c))) => c,
        other => panic!("mqtt-proto: {other:?}"),
    }
}

fn mb4_decode_connect(buf: &mut BytesMut) -> mb4::Connect {
    match mb4::read(buf, MAX_PACKET) {
        Ok(mb4::Packet::Connect(c)) => c,
        other => panic!("mqttbytes v4: {other:?}"),
    }
}

fn mb5_decode_connect(buf: &mut BytesMut) -> mb5::Connect {
    match mb5::read(buf, MAX_PACKET) {
        Ok(mb5::Packet::Connect(c)) => c,
        other => panic!("mqttbytes v5: {other:?}"),
    }
}

fn mpc3_decode_connect(builder: &mut PacketBuilder, bytes: &[u8]) -> mpc3::Connect {
    mpc_frame(builder, bytes)
        .parse_exact(mpc3::Connect::parse)
        .expect("mqtt-protocol-core v3.1.1")
}

fn mpc5_decode_connect(builder: &mut PacketBuilder, bytes: &[u8]) -> mpc5::Connect {
    mpc_frame(builder, bytes)
        .parse_exact(mpc5::Connect::parse)
        .expect("mqtt-protocol-core v5.0")
}

fn check_connect(v5: bool) -> Vec<u8> {
    let mut wire = Vec::new();
    mp_connect(v5)
        .encode(version(v5), &mut wire)
        .expect("encode");
    let mut mb = BytesMut::new();
    let mut mpc_out = BytesMut::new();
    if v5 {
        mb5_connect().write(&mut mb).expect("encode");
        copy_slices(&mpc5_connect().to_buffers(), &mut mpc_out);
    } else {
        mb4_connect().write(&mut mb).expect("encode");
        copy_slices(&mpc3_connect().to_buffers(), &mut mpc_out);
    }
    assert_eq!(&mb[..], &wire[..], "mqttbytes encodes CONNECT {v5}");
    assert_eq!(
        &mpc_out[..],
        &wire[..],
        "mqtt-protocol-core encodes CONNECT {v5}"
    );

    let c = mp_decode_connect(&mut BytesMut::from(&wire[..]), v5);
    assert_eq!(c, mp_connect(v5));
    let mut builder = PacketBuilder::new();
    if v5 {
        let c = mb5_decode_connect(&mut BytesMut::from(&wire[..]));
        assert_eq!(c, mb5_connect());
        let c = mpc5_decode_connect(&mut builder, &wire);
        assert_eq!(c, mpc5_connect());
    } else {
        let c = mb4_decode_connect(&mut BytesMut::from(&wire[..]));
        assert_eq!(c, mb4_connect());
        let c = mpc3_decode_connect(&mut builder, &wire);
        assert_eq!(c, mpc3_connect());
    }
    wire
}

fn connect_benches<M: Measurement>(cr: &mut Criterion<M>) {
    for v5 in [false, true] {
        let wire = check_connect(v5);
        let batch = SMALL_BATCH;
        let mut g = cr.benchmark_group(format!("connect-decode/{}", version_label(v5)));
        bench_decode(&mut g, MQTT_PROTO, &wire, batch, |buf| {
            mp_decode_connect(buf, v5)
        });
        let mut builder = PacketBuilder::new();
        if v5 {
            bench_decode(&mut g, MQTTBYTES, &wire, batch, mb5_decode_connect);
            bench_decode(&mut g, MPC, &wire, batch, |buf| {
                mpc5_decode_connect(&mut builder, buf)
            });
        } else {
            bench_decode(&mut g, MQTTBYTES, &wire, batch, mb4_decode_connect);
            bench_decode(&mut g, MPC, &wire, batch, |buf| {
                mpc3_decode_connect(&mut builder, buf)
            });
        }
        g.finish();

        let mut g = cr.benchmark_group(format!("connect-encode/{}", version_label(v5)));
        let v = version(v5);
        let p = mp_connect(v5);
        bench_encode(&mut g, MQTT_PROTO, 256, |buf| {
            black_box(&p).encode(v, buf).expect("encode");
        });
        if v5 {
            let p = mb5_connect();
            bench_encode(&mut g, MQTTBYTES, 256, |buf| {
                black_box(&p).write(buf).expect("encode");
            });
            let p = mpc5_connect();
            bench_encode(&mut g, MPC, 256, |buf| {
                copy_slices(&black_box(&p).to_buffers(), buf);
            });
        } else {
            let p = mb4_connect();
            bench_encode(&mut g, MQTTBYTES, 256, |buf| {
                black_box(&p).write(buf).expect("encode");
            });
            let p = mpc3_connect();
            bench_encode(&mut g, MPC, 256, |buf| {
                copy_slices(&black_box(&p).to_buffers(), buf);
            });
        }
        g.finish();
    }
}

// ---------------------------------------------------------------------------------------
// SUBSCRIBE
// ---------------------------------------------------------------------------------------

fn mp_subscribe(v5: bool) -> mp::Subscribe {
    let mut properties = mp::SubscribeProperties::default();
    if v5 {
        properties.subscription_identifier = mp::SubscriptionId::new(SUBSCRIPTION_ID);
    }
    mp::Subscribe {
        packet_id: mp::PacketId::new(PACKET_ID).expect("non-zero"),
        properties,
        filters: FILTERS
            .iter()
            .map(|&(f, q)| {
                (
                    mp::TopicFilter::from_static(f),
                    mp::SubscriptionOptions::new(mp_qos(q)),
                )
            })
            .collect(),
    }
}

fn mb4_subscribe() -> mb4::Subscribe {
    mb4::Subscribe {
        pkid: PACKET_ID,
        filters: FILTERS
            .iter()
            .map(|&(f, q)| mb4::SubscribeFilter::new(f.into(), mb_qos(q)))
            .collect(),
    }
}

fn mb5_subscribe() -> mb5::Subscribe {
    mb5::Subscribe {
        pkid: PACKET_ID,
        filters: FILTERS
            .iter()
            .map(|&(f, q)| mb5::SubscribeFilter::new(f.into(), mb_qos(q)))
            .collect(),
        properties: Some(mb5::SubscribeProperties {
            id: Some(SUBSCRIPTION_ID as usize),
            user_properties: Vec::new(),
        }),
    }
}

fn mpc_entries() -> Vec<SubEntry> {
    FILTERS
        .iter()
        .map(|&(f, q)| SubEntry::new(f, SubOpts::new().set_qos(mpc_qos(q))).expect("entry"))
        .collect()
}

fn mpc3_subscribe() -> mpc3::Subscribe {
    mpc3::Subscribe::builder()
        .packet_id(PACKET_ID)
        .entries(mpc_entries())
        .build()
        .expect("mqtt-protocol-core v3.1.1 SUBSCRIBE")
}

fn mpc5_subscribe() -> mpc5::Subscribe {
    mpc5::Subscribe::builder()
        .packet_id(PACKET_ID)
        .props(vec![Property::SubscriptionIdentifier(
            SubscriptionIdentifier::new(SUBSCRIPTION_ID).expect("ok"),
        )])
        .entries(mpc_entries())
        .build()
        .expect("mqtt-protocol-core v5.0 SUBSCRIBE")
}

fn mp_decode_subscribe(buf: &mut BytesMut, v5: bool) -> mp::Subscribe {
    match mp::decode(buf, version(v5), &mp::DecodeOptions::default()) {
        Ok(Some(mp::Packet::Subscribe(s))) => s,
        other => panic!("mqtt-proto: {other:?}"),
    }
}

fn mb4_decode_subscribe(buf: &mut BytesMut) -> mb4::Subscribe {
    match mb4::read(buf, MAX_PACKET) {
        Ok(mb4::Packet::Subscribe(s)) => s,
        other => panic!("mqttbytes v4: {other:?}"),
    }
}

fn mb5_decode_subscribe(buf: &mut BytesMut) -> mb5::Subscribe {
    match mb5::read(buf, MAX_PACKET) {
        Ok(mb5::Packet::Subscribe(s)) => s,
        other => panic!("mqttbytes v5: {other:?}"),
    }
}

fn mpc3_decode_subscribe(builder: &mut PacketBuilder, bytes: &[u8]) -> mpc3::Subscribe {
    mpc_frame(builder, bytes)
        .parse_exact(mpc3::Subscribe::parse)
        .expect("mqtt-protocol-core v3.1.1")
}

fn mpc5_decode_subscribe(builder: &mut PacketBuilder, bytes: &[u8]) -> mpc5::Subscribe {
    mpc_frame(builder, bytes)
        .parse_exact(mpc5::Subscribe::parse)
        .expect("mqtt-protocol-core v5.0")
}

fn check_subscribe(v5: bool) -> Vec<u8> {
    let mut wire = Vec::new();
    mp_subscribe(v5)
        .encode(version(v5), &mut wire)
        .expect("encode");
    let mut mb = BytesMut::new();
    let mut mpc_out = BytesMut::new();
    if v5 {
        mb5_subscribe().write(&mut mb).expect("encode");
        copy_slices(&mpc5_subscribe().to_buffers(), &mut mpc_out);
    } else {
        mb4_subscribe().write(&mut mb).expect("encode");
        copy_slices(&mpc3_subscribe().to_buffers(), &mut mpc_out);
    }
    assert_eq!(&mb[..], &wire[..], "mqttbytes encodes SUBSCRIBE {v5}");
    assert_eq!(
        &mpc_out[..],
        &wire[..],
        "mqtt-protocol-core encodes SUBSCRIBE {v5}"
    );

    let s = mp_decode_subscribe(&mut BytesMut::from(&wire[..]), v5);
    assert_eq!(s, mp_subscribe(v5));
    let mut builder = PacketBuilder::new();
    if v5 {
        assert!(mb5_decode_subscribe(&mut BytesMut::from(&wire[..])) == mb5_subscribe());
        let s = mpc5_decode_subscribe(&mut builder, &wire);
        assert_eq!(s, mpc5_subscribe());
    } else {
        assert!(mb4_decode_subscribe(&mut BytesMut::from(&wire[..])) == mb4_subscribe());
        let s = mpc3_decode_subscribe(&mut builder, &wire);
        assert_eq!(s, mpc3_subscribe());
    }
    wire
}

fn subscribe_benches<M: Measurement>(cr: &mut Criterion<M>) {
    for v5 in [false, true] {
        let wire = check_subscribe(v5);
        let batch = SMALL_BATCH;
        let mut g = cr.benchmark_group(format!("subscribe-decode/{}", version_label(v5)));
        bench_decode(&mut g, MQTT_PROTO, &wire, batch, |buf| {
            mp_decode_subscribe(buf, v5)
        });
        let mut builder = PacketBuilder::new();
        if v5 {
            bench_decode(&mut g, MQTTBYTES, &wire, batch, mb5_decode_subscribe);
            bench_decode(&mut g, MPC, &wire, batch, |buf| {
                mpc5_decode_subscribe(&mut builder, buf)
            });
        } else {
            bench_decode(&mut g, MQTTBYTES, &wire, batch, mb4_decode_subscribe);
            bench_decode(&mut g, MPC, &wire, batch, |buf| {
                mpc3_decode_subscribe(&mut builder, buf)
            });
        }
        g.finish();

        let mut g = cr.benchmark_group(format!("subscribe-encode/{}", version_label(v5)));
        let v = version(v5);
        let p = mp_subscribe(v5);
        bench_encode(&mut g, MQTT_PROTO, 512, |buf| {
            black_box(&p).encode(v, buf).expect("encode");
        });
        if v5 {
            let p = mb5_subscribe();
            bench_encode(&mut g, MQTTBYTES, 512, |buf| {
                black_box(&p).write(buf).expect("encode");
            });
            let p = mpc5_subscribe();
            bench_encode(&mut g, MPC, 512, |buf| {
                copy_slices(&black_box(&p).to_buffers(), buf);
            });
        } else {
            let p = mb4_subscribe();
            bench_encode(&mut g, MQTTBYTES, 512, |buf| {
                black_box(&p).write(buf).expect("encode");
            });
            let p = mpc3_subscribe();
            bench_encode(&mut g, MPC, 512, |buf| {
                copy_slices(&black_box(&p).to_buffers(), buf);
            });
        }
        g.finish();
    }
}

// ---------------------------------------------------------------------------------------
// Topic-filter matching
// ---------------------------------------------------------------------------------------

fn matching_benches<M: Measurement>(cr: &mut Criterion<M>) {
    let filters: Vec<mp::TopicFilter> = FILTERS
        .iter()
        .map(|&(f, _)| mp::TopicFilter::from_static(f))
        .collect();
    // Both matchers agree on every pair, and the mix has matches and misses.
    let mut hits = 0;
    for f in &filters {
        for t in TOPICS {
            let ours = f.matches(t);
            assert_eq!(ours, mqttbytes::matches(t, f.as_str()), "{f} vs {t}");
            hits += usize::from(ours);
        }
    }
    assert!(hits > 20 && hits < 80, "{hits} matches");

    let pairs = (filters.len() * TOPICS.len()) as u64;
    let mut g = cr.benchmark_group("topic-match/10x10");
    g.throughput(Throughput::Elements(pairs));
    g.bench_function(MQTT_PROTO, |b| {
        b.iter(|| {
            let mut n = 0usize;
            for f in black_box(&filters) {
                for t in black_box(TOPICS) {
                    n += usize::from(f.matches(t));
                }
            }
            n
        });
    });
    g.bench_function(MQTTBYTES, |b| {
        b.iter(|| {
            let mut n = 0usize;
            for &(f, _) in black_box(&FILTERS) {
                for t in black_box(TOPICS) {
                    n += usize::from(mqttbytes::matches(t, f));
                }
            }
            n
        });
    });
    g.finish();
}

/// Thread CPU time (`CLOCK_THREAD_CPUTIME_ID`): on a shared, loaded machine it leaves out
/// the time the benchmark thread spends descheduled, which wall-clock time counts.
struct ThreadCpuTime;

/// Criterion's own nanosecond formatter, borrowed from its wall-clock measurement.
static WALL_TIME: WallTime = WallTime;

impl Measurement for ThreadCpuTime {
    type Intermediate = ThreadTime;
    type Value = Duration;

    fn start(&self) -> ThreadTime {
        ThreadTime::now()
    }
    fn end(&self, start: ThreadTime) -> Duration {
        start.elapsed()
    }
    fn add(&self, v1: &Duration, v2: &Duration) -> Duration {
        *v1 + *v2
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        WALL_TIME.formatter()
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(40)
        .warm_up_time(Duration::from_millis(400))
        .measurement_time(Duration::from_millis(1200))
}

/// The floor of the decode benches: the same batched loop with a routine that does nothing.
fn overhead_benches<M: Measurement>(cr: &mut Criterion<M>) {
    let wire = vec![0u8; 100];
    let mut g = cr.benchmark_group("overhead/empty-routine");
    for (name, batch) in [
        ("batch of 128 (packets up to 1 KiB)", SMALL_BATCH),
        ("batch of 32 (16 KiB payloads)", LARGE_BATCH),
    ] {
        bench_decode(&mut g, name, &wire, batch, |buf| buf.len());
    }
    g.finish();
}

fn run<M: Measurement>(cr: Criterion<M>) {
    let mut cr = cr.configure_from_args();
    overhead_benches(&mut cr);
    publish_benches(&mut cr);
    connect_benches(&mut cr);
    subscribe_benches(&mut cr);
    matching_benches(&mut cr);
    cr.final_summary();
}

/// Measures thread CPU time, or wall-clock time when `MQTT_BENCH_WALL_CLOCK` is set.
fn main() {
    if std::env::var_os("MQTT_BENCH_WALL_CLOCK").is_some() {
        run(config());
    } else {
        run(config().with_measurement(ThreadCpuTime));
    }
}
