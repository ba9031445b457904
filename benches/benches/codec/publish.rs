//! PUBLISH: building, checking, decoding and encoding with the three codecs.

use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mqtt_proto as mp;
use mqtt_protocol_core::mqtt::common::Cursor;
use mqtt_protocol_core::mqtt::connection::{PacketBuilder, PacketData, RawPacket};
use mqtt_protocol_core::mqtt::packet::{
    self as mpc, ContentType, MessageExpiryInterval, Property, UserProperty, v3_1_1 as mpc3,
    v5_0 as mpc5,
};
use mqttbytes::{v4 as mb4, v5 as mb5};

use crate::drivers::{
    LARGE_BATCH, SMALL_BATCH, STREAM, bench_decode, bench_decode_stream, bench_encode, copy_slices,
    mpc_frame, mpc_next, payload_inside,
};
use crate::inputs::{
    CONTENT_TYPE, MAX_PACKET, MESSAGE_EXPIRY, MPC, MQTT_PROTO, MQTTBYTES, PACKET_ID, TOPIC,
    USER_KEY, USER_VALUE, mb_qos, mp_str, version, version_label,
};
use crate::suite::{Group, Suite};

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

pub(crate) fn publish_benches(s: &mut impl Suite) {
    for v5 in [false, true] {
        for qos1 in [false, true] {
            for payload_len in [64, 16 * 1024] {
                let c = PubCase {
                    v5,
                    qos1,
                    payload_len,
                };
                publish_decode(s, c);
                publish_decode_stream(s, c);
                publish_encode(s, c);
            }
        }
    }
}

fn publish_decode(s: &mut impl Suite, c: PubCase) {
    let wire = check_publish(c);
    let v5 = c.v5;
    let mut g = s.group(format!("publish-decode/{}", c.label()));
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
        bench_decode(&mut g, MPC, &wire, batch, move |buf| {
            mpc5_decode_publish(&mut builder, buf)
        });
    } else {
        bench_decode(&mut g, MQTTBYTES, &wire, batch, mb4_decode_publish);
        let mut builder = PacketBuilder::new();
        bench_decode(&mut g, MPC, &wire, batch, move |buf| {
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
        g.iter_batched(&name, batch, setup, move |arc| {
            mpc5::Publish::parse(flags, black_box(arc))
                .expect("parse")
                .0
        });
    } else {
        g.iter_batched(&name, batch, setup, move |arc| {
            mpc3::Publish::parse(flags, black_box(arc))
                .expect("parse")
                .0
        });
    }
    g.finish();
}

fn publish_decode_stream(s: &mut impl Suite, c: PubCase) {
    let wire = check_publish(c);
    let v5 = c.v5;
    let mut g = s.group(format!("publish-decode-stream{STREAM}/{}", c.label()));
    g.elements(STREAM as u64);
    let batch = if c.payload_len > 1024 {
        // 16 packets of 16 KiB are 256 KiB to copy per iteration (setup): shorter.
        g.measurement_time(Duration::from_millis(400));
        4
    } else {
        32
    };
    bench_decode_stream(&mut g, MQTT_PROTO, &wire, batch, move |buf, out| {
        for _ in 0..STREAM {
            out.push(mp_decode_publish(buf, v5));
        }
    });
    let mut builder = PacketBuilder::new();
    if v5 {
        bench_decode_stream(&mut g, MQTTBYTES, &wire, batch, move |buf, out| {
            for _ in 0..STREAM {
                out.push(mb5_decode_publish(buf));
            }
        });
        bench_decode_stream(&mut g, MPC, &wire, batch, move |buf, out| {
            let mut cursor = Cursor::new(&buf[..]);
            for _ in 0..STREAM {
                let (flags, body) = mpc_publish_body(mpc_next(&mut builder, &mut cursor));
                out.push(mpc5::Publish::parse(flags, body).expect("parse").0);
            }
        });
    } else {
        bench_decode_stream(&mut g, MQTTBYTES, &wire, batch, move |buf, out| {
            for _ in 0..STREAM {
                out.push(mb4_decode_publish(buf));
            }
        });
        bench_decode_stream(&mut g, MPC, &wire, batch, move |buf, out| {
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

fn publish_encode(s: &mut impl Suite, c: PubCase) {
    let v = version(c.v5);
    let cap = c.payload_len + 256;
    // Declared before the group, which may hold the routines that borrow it.
    let p = mp_publish(c);
    let mut g = s.group(format!("publish-encode/{}", c.label()));
    bench_encode(&mut g, MQTT_PROTO, cap, |buf| {
        black_box(&p).encode(v, buf).expect("encode");
    });
    if c.v5 {
        let p = mb5_publish(c);
        bench_encode(&mut g, MQTTBYTES, cap, move |buf| {
            black_box(&p).write(buf).expect("encode");
        });
        let p = mpc5_publish(c);
        bench_encode(&mut g, MPC, cap, move |buf| {
            copy_slices(&black_box(&p).to_buffers(), buf);
        });
    } else {
        let p = mb4_publish(c);
        bench_encode(&mut g, MQTTBYTES, cap, move |buf| {
            black_box(&p).write(buf).expect("encode");
        });
        let p = mpc3_publish(c);
        bench_encode(&mut g, MPC, cap, move |buf| {
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
    let to_buffers = format!("{MPC} to_buffers");
    // Its other whole-packet encoding, into a new Vec each time.
    let to_continuous = format!("{MPC} to_continuous_buffer");
    if c.v5 {
        let p = mpc5_publish(c);
        g.iter(&to_buffers, move || {
            black_box(black_box(&p).to_buffers()).len()
        });
        let p = mpc5_publish(c);
        g.iter(&to_continuous, move || {
            black_box(black_box(&p).to_continuous_buffer()).len()
        });
    } else {
        let p = mpc3_publish(c);
        g.iter(&to_buffers, move || {
            black_box(black_box(&p).to_buffers()).len()
        });
        let p = mpc3_publish(c);
        g.iter(&to_continuous, move || {
            black_box(black_box(&p).to_continuous_buffer()).len()
        });
    }
    g.finish();
}
