//! CONNECT, SUBSCRIBE and UNSUBSCRIBE are sized from their field lengths and written in
//! one pass ([`Laid`]). These tests check them against the plain encoding they replace:
//! the body written once to a counter and once to the buffer, every check made in field
//! order. Both must give the same bytes, or the same error, for every combination below.

use bytes::Bytes;

use super::*;
use crate::property::write_list;
use crate::{
    ConnectProperties, MqttString, PacketId, QoS, RetainHandling, SubscribeProperties,
    SubscriptionId, SubscriptionOptions, TopicFilter, TopicName, UnsubscribeProperties,
    WillProperties,
};

const VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V3_1,
    ProtocolVersion::V3_1_1,
    ProtocolVersion::V5,
];

/// The plain encoding of a packet.
struct Plain<'a, P>(&'a P);

impl Body for Plain<'_, Subscribe> {
    const TYPE: PacketType = PacketType::Subscribe;

    fn write<S: Sink>(&self, version: ProtocolVersion, s: &mut S) -> Result<(), EncodeError> {
        let p = self.0;
        if p.filters.is_empty() {
            return Err(EncodeError::Empty(Self::TYPE));
        }
        s.put_u16(p.packet_id.get());
        if version.is_v5() {
            write_list(s, &p.properties)?;
        } else if !p.properties.is_empty() {
            return Err(EncodeError::NotInVersion {
                field: "SUBSCRIBE properties",
                version,
            });
        }
        for (filter, options) in &p.filters {
            if options.no_local && filter.is_shared() {
                return Err(EncodeError::InvalidValue(
                    "No Local on a shared subscription",
                ));
            }
            let v5_bits = u8::from(options.no_local) << 2
                | u8::from(options.retain_as_published) << 3
                | (options.retain_handling as u8) << 4;
            if v5_bits != 0 && !version.is_v5() {
                return Err(EncodeError::NotInVersion {
                    field: "subscription options other than QoS",
                    version,
                });
            }
            s.put_string(filter.as_mqtt_str());
            s.put_u8(options.qos.as_u8() | v5_bits);
        }
        Ok(())
    }
}

impl Body for Plain<'_, Unsubscribe> {
    const TYPE: PacketType = PacketType::Unsubscribe;

    fn write<S: Sink>(&self, version: ProtocolVersion, s: &mut S) -> Result<(), EncodeError> {
        let p = self.0;
        if p.filters.is_empty() {
            return Err(EncodeError::Empty(Self::TYPE));
        }
        s.put_u16(p.packet_id.get());
        if version.is_v5() {
            write_list(s, &p.properties)?;
        } else if !p.properties.is_empty() {
            return Err(EncodeError::NotInVersion {
                field: "UNSUBSCRIBE properties",
                version,
            });
        }
        for filter in &p.filters {
            s.put_string(filter.as_mqtt_str());
        }
        Ok(())
    }
}

impl Body for Plain<'_, Connect> {
    const TYPE: PacketType = PacketType::Connect;

    fn write<S: Sink>(&self, _: ProtocolVersion, s: &mut S) -> Result<(), EncodeError> {
        let p = self.0;
        let v5 = p.protocol.is_v5();
        let not_in = |field| EncodeError::NotInVersion {
            field,
            version: p.protocol,
        };
        if !v5 {
            if !p.properties.is_empty() {
                return Err(not_in("CONNECT properties"));
            }
            if p.will.as_ref().is_some_and(|w| !w.properties.is_empty()) {
                return Err(not_in("will properties"));
            }
            if p.password.is_some() && p.username.is_none() {
                return Err(not_in("a password without a user name"));
            }
        }
        if p.properties.authentication_data.is_some()
            && p.properties.authentication_method.is_none()
        {
            return Err(EncodeError::InvalidValue(
                "Authentication Data without Authentication Method",
            ));
        }
        let mut flags = 0;
        if p.clean_start {
            flags |= 0b10;
        }
        if let Some(will) = &p.will {
            flags |= 0b100 | (will.qos.as_u8() << 3);
            if will.retain {
                flags |= 0b10_0000;
            }
        }
        if p.password.is_some() {
            flags |= 0b100_0000;
        }
        if p.username.is_some() {
            flags |= 0b1000_0000;
        }
        s.put_binary("protocol name", p.protocol.protocol_name().as_bytes())?;
        s.put_u8(p.protocol.level());
        s.put_u8(flags);
        s.put_u16(p.keep_alive);
        if v5 {
            write_list(s, &p.properties)?;
        }
        s.put_string(&p.client_id);
        if let Some(will) = &p.will {
            if v5 {
                write_list(s, &will.properties)?;
            }
            s.put_string(will.topic.as_mqtt_str());
            s.put_binary("will payload", &will.payload)?;
        }
        if let Some(u) = &p.username {
            s.put_string(u);
        }
        if let Some(pw) = &p.password {
            s.put_binary("password", pw)?;
        }
        Ok(())
    }
}

/// Encodes `p` both ways, into a growable buffer and into fixed ones one byte too small
/// and exactly large enough, and checks that the results agree.
fn check<P>(p: &P, plain: &Plain<'_, P>, version: ProtocolVersion)
where
    P: Laid + fmt::Debug,
    for<'a> Plain<'a, P>: Body,
{
    let laid_len = laid_encoded_len(p, version);
    let plain_len = encoded_len(plain, version);
    assert_eq!(laid_len, plain_len, "encoded_len {version:?} {p:?}");
    let mut laid = Vec::new();
    let mut want = Vec::new();
    let laid_result = laid_encode(p, version, &mut laid);
    assert_eq!(
        laid_result,
        encode(plain, version, &mut want),
        "encode {version:?} {p:?}"
    );
    assert_eq!(laid, want, "bytes {version:?} {p:?}");
    if laid_result.is_ok() {
        assert_eq!(direct_encode(p, version), Ok(want.clone()), "direct");
    }
    if let Ok(n) = laid_result {
        assert_eq!(laid_len, Ok(n));
        let mut small = vec![0xEE; n - 1];
        let mut dst: &mut [u8] = &mut small;
        assert_eq!(
            laid_encode(p, version, &mut dst),
            Err(EncodeError::BufferTooSmall {
                needed: n,
                available: n - 1
            })
        );
        assert!(small.iter().all(|&b| b == 0xEE), "nothing written");
        let mut exact = vec![0u8; n];
        let mut dst: &mut [u8] = &mut exact;
        assert_eq!(laid_encode(p, version, &mut dst), Ok(n));
        assert_eq!(exact, want);
    }
}

fn laid_encoded_len<P: Laid>(p: &P, version: ProtocolVersion) -> Result<usize, EncodeError> {
    Ok(packet_len(p.layout(version)?.0))
}

fn laid_encode<P: Laid, B: BufMut + ?Sized>(
    p: &P,
    version: ProtocolVersion,
    buf: &mut B,
) -> Result<usize, EncodeError> {
    encode_laid(p, version, buf)
}

/// [`encode_laid`] without the stage: written straight into the buffer.
fn direct_encode<P: Laid>(p: &P, version: ProtocolVersion) -> Result<Vec<u8>, EncodeError> {
    let (rem, layout) = p.layout(version)?;
    let mut out = Vec::new();
    p.write(version, rem, &layout, &mut Writer(&mut out))?;
    assert_eq!(out.len(), packet_len(rem));
    Ok(out)
}

fn options() -> Vec<SubscriptionOptions> {
    let mut all = Vec::new();
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        for no_local in [false, true] {
            for retain_as_published in [false, true] {
                for retain_handling in [
                    RetainHandling::SendAtSubscribe,
                    RetainHandling::SendAtSubscribeIfNew,
                    RetainHandling::DoNotSend,
                ] {
                    all.push(SubscriptionOptions {
                        qos,
                        no_local,
                        retain_as_published,
                        retain_handling,
                    });
                }
            }
        }
    }
    all
}

fn s(v: &'static str) -> MqttString {
    MqttString::from_static(v)
}

#[test]
fn subscribe_and_unsubscribe_match_the_plain_encoding() {
    let filters = [
        TopicFilter::from_static("a/+"),
        TopicFilter::from_static("$share/g/#"),
    ];
    let long = "x".repeat(200);
    let long = TopicFilter::try_from(long.as_str()).unwrap();
    let props = [
        SubscribeProperties::default(),
        SubscribeProperties {
            subscription_identifier: SubscriptionId::new(SubscriptionId::MAX),
            ..SubscribeProperties::default()
        },
        SubscribeProperties {
            user_properties: vec![(s("k"), s("v"))],
            ..SubscribeProperties::default()
        },
        SubscribeProperties {
            user_properties: (0..10).map(|_| (s("key"), s("value"))).collect(),
            ..SubscribeProperties::default()
        },
    ];
    let packet_id = PacketId::new(0x1234).unwrap();
    let options = options();
    for properties in &props {
        let mut lists = vec![Vec::new(), vec![(long.clone(), options[1])]];
        for f1 in &filters {
            for &o1 in &options {
                lists.push(vec![(f1.clone(), o1)]);
                for f2 in &filters {
                    for &o2 in [options[0], options[5], options[6], options[35]].iter() {
                        lists.push(vec![(f1.clone(), o1), (f2.clone(), o2)]);
                        lists.push(vec![(f2.clone(), o2), (f1.clone(), o1)]);
                    }
                }
            }
        }
        for filters in lists {
            let unsub = Unsubscribe {
                packet_id,
                properties: UnsubscribeProperties {
                    user_properties: properties.user_properties.clone(),
                },
                filters: filters.iter().map(|(f, _)| f.clone()).collect(),
            };
            let sub = Subscribe {
                packet_id,
                properties: properties.clone(),
                filters,
            };
            for v in VERSIONS {
                check(&sub, &Plain(&sub), v);
                check(&unsub, &Plain(&unsub), v);
            }
        }
    }
}

#[test]
fn connect_matches_the_plain_encoding() {
    let too_long = Bytes::from(vec![b'p'; 65_536]);
    let auth_data = ConnectProperties {
        authentication_data: Some(Bytes::from_static(b"data")),
        ..ConnectProperties::default()
    };
    let property_sets = [
        ConnectProperties::default(),
        ConnectProperties {
            session_expiry_interval: Some(3600),
            receive_maximum: core::num::NonZeroU16::new(100),
            user_properties: vec![(s("trace-id"), s("4bf92f3577b34da6"))],
            ..ConnectProperties::default()
        },
        auth_data.clone(),
        ConnectProperties {
            authentication_method: Some(s("SCRAM")),
            ..auth_data
        },
        ConnectProperties {
            authentication_data: Some(too_long.clone()),
            authentication_method: Some(s("SCRAM")),
            ..ConnectProperties::default()
        },
        ConnectProperties {
            user_properties: (0..20).map(|_| (s("key"), s("value"))).collect(),
            ..ConnectProperties::default()
        },
    ];
    let will_props = WillProperties {
        will_delay_interval: Some(10),
        ..WillProperties::default()
    };
    let will = |properties: WillProperties, payload: Bytes| Will {
        topic: TopicName::from_static("clients/c/status"),
        payload,
        qos: QoS::AtLeastOnce,
        retain: true,
        properties,
    };
    let wills = [
        None,
        Some(will(
            WillProperties::default(),
            Bytes::from_static(b"offline"),
        )),
        Some(will(will_props.clone(), Bytes::from_static(b"offline"))),
        Some(will(will_props, too_long.clone())),
    ];
    let passwords = [None, Some(Bytes::from_static(b"pw")), Some(too_long)];
    for protocol in VERSIONS {
        for properties in &property_sets {
            for will in &wills {
                for username in [None, Some(s("user"))] {
                    for password in &passwords {
                        for client_id in [s(""), s("bench-client-0001")] {
                            let c = Connect {
                                protocol,
                                clean_start: client_id.is_empty(),
                                keep_alive: 30,
                                properties: properties.clone(),
                                client_id,
                                will: will.clone(),
                                username: username.clone(),
                                password: password.clone(),
                            };
                            // A CONNECT is encoded for its own protocol, whatever the
                            // connection's version.
                            for v in VERSIONS {
                                check(&c, &Plain(&c), v);
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn remaining_lengths_beyond_the_largest_are_too_large() {
    assert_eq!(
        checked_rem(crate::MAX_VAR_INT as usize),
        Ok(crate::MAX_VAR_INT)
    );
    assert_eq!(
        checked_rem(crate::MAX_VAR_INT as usize + 1),
        Err(EncodeError::PacketTooLarge)
    );
    assert_eq!(checked_rem(usize::MAX), Err(EncodeError::PacketTooLarge));
}

#[test]
fn fixed_headers_of_every_length() {
    for rem in [
        0,
        127,
        128,
        16_383,
        16_384,
        2_097_151,
        2_097_152,
        crate::MAX_VAR_INT,
    ] {
        let mut want = vec![0x82];
        Writer(&mut want).put_var_int(rem).unwrap();
        want.extend_from_slice(&[0xAB, 0xCD, 0xEF]);
        let mut got = Vec::new();
        put_header(&mut Writer(&mut got), 0x82, rem, [0xAB, 0xCD, 0xEF]);
        assert_eq!(got, want, "{rem}");
    }
}

#[test]
fn the_stage_copies_every_length() {
    let src: Vec<u8> = (1..=80).collect();
    for n in 0..=80 {
        for bytes_path in [false, true] {
            let mut array = [0; STAGE];
            let mut stage = Stage {
                buf: &mut array,
                len: 0,
            };
            stage.put_array([0xAA]);
            if bytes_path {
                stage.put_bytes(&src[..n]);
            } else {
                stage.put_slice(&src[..n]);
            }
            stage.put_u16(0xBBCC);
            let mut want = vec![0xAA];
            want.extend_from_slice(&src[..n]);
            want.extend_from_slice(&[0xBB, 0xCC]);
            assert_eq!(stage.len, want.len());
            assert_eq!(&stage.buf[..stage.len], &want[..], "{n} {bytes_path}");
        }
    }
}

#[test]
fn writing_past_the_stage_is_counted_not_stored() {
    let mut array = [0; STAGE];
    let mut stage = Stage {
        buf: &mut array,
        len: 0,
    };
    stage.put_bytes(&[7; STAGE - 1]);
    stage.put_array([1, 2]);
    stage.put_slice(&[3; 40]);
    assert_eq!(stage.len, STAGE + 41);
    assert!(stage.buf.iter().all(|&b| b == 7 || b == 0));
}
