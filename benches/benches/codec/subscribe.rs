//! SUBSCRIBE with 10 filters: building, checking, decoding and encoding with the three
//! codecs.

use std::hint::black_box;

use bytes::BytesMut;
use mqtt_proto as mp;
use mqtt_protocol_core::mqtt::connection::PacketBuilder;
use mqtt_protocol_core::mqtt::packet::{
    Property, SubEntry, SubOpts, SubscriptionIdentifier, v3_1_1 as mpc3, v5_0 as mpc5,
};
use mqttbytes::{v4 as mb4, v5 as mb5};

use crate::drivers::{SMALL_BATCH, bench_decode, bench_encode, copy_slices, mpc_frame};
use crate::inputs::{
    FILTERS, MAX_PACKET, MPC, MQTT_PROTO, MQTTBYTES, PACKET_ID, SUBSCRIPTION_ID, mb_qos, mp_qos,
    mpc_qos, version, version_label,
};
use crate::suite::{Group, Suite};

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

pub(crate) fn subscribe_benches(s: &mut impl Suite) {
    for v5 in [false, true] {
        let wire = check_subscribe(v5);
        let batch = SMALL_BATCH;
        let mut g = s.group(format!("subscribe-decode/{}", version_label(v5)));
        bench_decode(&mut g, MQTT_PROTO, &wire, batch, |buf| {
            mp_decode_subscribe(buf, v5)
        });
        let mut builder = PacketBuilder::new();
        if v5 {
            bench_decode(&mut g, MQTTBYTES, &wire, batch, mb5_decode_subscribe);
            bench_decode(&mut g, MPC, &wire, batch, move |buf| {
                mpc5_decode_subscribe(&mut builder, buf)
            });
        } else {
            bench_decode(&mut g, MQTTBYTES, &wire, batch, mb4_decode_subscribe);
            bench_decode(&mut g, MPC, &wire, batch, move |buf| {
                mpc3_decode_subscribe(&mut builder, buf)
            });
        }
        g.finish();

        let v = version(v5);
        // Declared before the group, which may hold the routines that borrow it.
        let p = mp_subscribe(v5);
        let mut g = s.group(format!("subscribe-encode/{}", version_label(v5)));
        bench_encode(&mut g, MQTT_PROTO, 512, |buf| {
            black_box(&p).encode(v, buf).expect("encode");
        });
        if v5 {
            let p = mb5_subscribe();
            bench_encode(&mut g, MQTTBYTES, 512, move |buf| {
                black_box(&p).write(buf).expect("encode");
            });
            let p = mpc5_subscribe();
            bench_encode(&mut g, MPC, 512, move |buf| {
                copy_slices(&black_box(&p).to_buffers(), buf);
            });
        } else {
            let p = mb4_subscribe();
            bench_encode(&mut g, MQTTBYTES, 512, move |buf| {
                black_box(&p).write(buf).expect("encode");
            });
            let p = mpc3_subscribe();
            bench_encode(&mut g, MPC, 512, move |buf| {
                copy_slices(&black_box(&p).to_buffers(), buf);
            });
        }
        g.finish();
    }
}
