//! CONNECT: building, checking, decoding and encoding with the three codecs.

use std::hint::black_box;
use std::num::NonZeroU16;

use bytes::{Bytes, BytesMut};
use mqtt_proto as mp;
use mqtt_protocol_core::mqtt::connection::PacketBuilder;
use mqtt_protocol_core::mqtt::packet::{
    self as mpc, Property, ReceiveMaximum, SessionExpiryInterval, UserProperty, WillDelayInterval,
    v3_1_1 as mpc3, v5_0 as mpc5,
};
use mqttbytes::{v4 as mb4, v5 as mb5};

use crate::drivers::{SMALL_BATCH, bench_decode, bench_encode, copy_slices, mpc_frame};
use crate::inputs::{
    CLIENT_ID, KEEP_ALIVE, MAX_PACKET, MPC, MQTT_PROTO, MQTTBYTES, PASSWORD, RECEIVE_MAXIMUM,
    SESSION_EXPIRY, USER_KEY, USER_VALUE, USERNAME, WILL_DELAY, WILL_PAYLOAD, WILL_TOPIC, mp_str,
    version, version_label,
};
use crate::suite::{Group, Suite};

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
        Ok(Some(mp::Packet::Connect(c))) => *c,
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

pub(crate) fn connect_benches(s: &mut impl Suite) {
    for v5 in [false, true] {
        let wire = check_connect(v5);
        let batch = SMALL_BATCH;
        let mut g = s.group(format!("connect-decode/{}", version_label(v5)));
        bench_decode(&mut g, MQTT_PROTO, &wire, batch, |buf| {
            mp_decode_connect(buf, v5)
        });
        let mut builder = PacketBuilder::new();
        if v5 {
            bench_decode(&mut g, MQTTBYTES, &wire, batch, mb5_decode_connect);
            bench_decode(&mut g, MPC, &wire, batch, move |buf| {
                mpc5_decode_connect(&mut builder, buf)
            });
        } else {
            bench_decode(&mut g, MQTTBYTES, &wire, batch, mb4_decode_connect);
            bench_decode(&mut g, MPC, &wire, batch, move |buf| {
                mpc3_decode_connect(&mut builder, buf)
            });
        }
        g.finish();

        let v = version(v5);
        // Declared before the group, which may hold the routines that borrow it.
        let p = mp_connect(v5);
        let mut g = s.group(format!("connect-encode/{}", version_label(v5)));
        bench_encode(&mut g, MQTT_PROTO, 256, |buf| {
            black_box(&p).encode(v, buf).expect("encode");
        });
        if v5 {
            let p = mb5_connect();
            bench_encode(&mut g, MQTTBYTES, 256, move |buf| {
                black_box(&p).write(buf).expect("encode");
            });
            let p = mpc5_connect();
            bench_encode(&mut g, MPC, 256, move |buf| {
                copy_slices(&black_box(&p).to_buffers(), buf);
            });
        } else {
            let p = mb4_connect();
            bench_encode(&mut g, MQTTBYTES, 256, move |buf| {
                black_box(&p).write(buf).expect("encode");
            });
            let p = mpc3_connect();
            bench_encode(&mut g, MPC, 256, move |buf| {
                copy_slices(&black_box(&p).to_buffers(), buf);
            });
        }
        g.finish();
    }
}
