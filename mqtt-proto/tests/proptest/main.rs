//! Property tests of the codec, for every packet type and every protocol version.
//!
//! The strategies generate packets that are valid for one protocol version: every field,
//! every property of every 5.0 property set (present or not, values within the ranges the
//! specification allows, repeated user property names), wills, credentials, packet
//! identifiers, topic names and filters with wildcards, shared subscriptions, empty levels
//! and multi-byte UTF-8, and only the reason codes each packet may carry in that version.
//!
//! The properties:
//! - encode then decode is the identity, `encoded_len` is what `encode` writes, and
//!   `Publish::encode_header` plus the payload is `encode`;
//! - a stream of packets split at arbitrary points decodes to the same packets, and
//!   `Ok(None)` never consumes bytes;
//! - arbitrary (random, framed or mutated) bytes never panic the decoder, whatever the
//!   version and options, and whatever decodes re-encodes to the same packet (also checked
//!   exhaustively for every short body of every packet type);
//! - a declared size above the maximum packet size fails on the fixed header alone;
//! - what 3.x cannot carry is an encode error in 3.x, never dropped;
//! - encoding never panics: it returns `Ok` or an `EncodeError`, also into a fixed buffer
//!   that is too small, and packets the specification forbids are encode errors.

// The tests stay in this file: proptest keeps the regression seeds of the tests of
// `tests/proptest/main.rs` in `tests/proptest-regressions/main.txt` and replays them first.
mod checks;
mod invalid;
mod packets;
mod properties;
mod values;

use bytes::BytesMut;
use mqtt_proto::ProtocolVersion::{V3_1, V3_1_1, V5};
use mqtt_proto::{
    DecodeError, DecodeOptions, MAX_VAR_INT, Packet, PacketType, TopicFilter, decode, decode_exact,
    decode_var_int, var_int_len,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};

use crate::checks::{
    VALID_FIRST_BYTES, body_bytes, check_arbitrary_bytes, check_encode_error, check_reencodes,
    check_roundtrip, chunk_sizes, decode_chunked, decode_options, fail, first_byte, fits_in_v3,
    frame, lenient, mutate, mutation, strict, var_int,
};
use crate::invalid::invalid_packet;
use crate::packets::{any_packet, connect, in_every_version, subscribe};
use crate::values::{VERSIONS, binary_data, chars, per_version, version};

macro_rules! roundtrip_tests {
    ($($name:ident => $ty:ident,)*) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            $(
                #[test]
                fn $name(
                    packets in in_every_version(PacketType::$ty),
                    cut in any::<Index>(),
                    trailing in vec(any::<u8>(), 0..6),
                ) {
                    for (v, p) in &packets {
                        check_roundtrip(*v, p, cut, &trailing)?;
                    }
                }
            )*
        }
    };
}

// One test per packet type; each case checks that type in every version that has it.
roundtrip_tests! {
    roundtrip_connect => Connect,
    roundtrip_connack => ConnAck,
    roundtrip_publish => Publish,
    roundtrip_puback => PubAck,
    roundtrip_pubrec => PubRec,
    roundtrip_pubrel => PubRel,
    roundtrip_pubcomp => PubComp,
    roundtrip_subscribe => Subscribe,
    roundtrip_suback => SubAck,
    roundtrip_unsubscribe => Unsubscribe,
    roundtrip_unsuback => UnsubAck,
    roundtrip_pingreq => PingReq,
    roundtrip_pingresp => PingResp,
    roundtrip_disconnect => Disconnect,
    roundtrip_auth => Auth,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Several packets in one byte stream, fed in chunks of arbitrary sizes, decode to the
    /// same packets, each taking exactly its encoded length.
    #[test]
    fn stream_split_anywhere_decodes_to_the_same_packets(
        (v, packets) in per_version(|v| vec(any_packet(v), 1..8).boxed()),
        chunks in chunk_sizes(),
    ) {
        let mut bytes = Vec::new();
        let mut lens = Vec::new();
        for p in &packets {
            lens.push(p.encode(v, &mut bytes).map_err(fail)?);
        }
        let (decoded, error) = decode_chunked(&bytes, &chunks, v, &lenient())?;
        prop_assert_eq!(error, None);
        let (got, taken): (Vec<Packet>, Vec<usize>) = decoded.into_iter().unzip();
        prop_assert_eq!(got, packets);
        prop_assert_eq!(taken, lens);
    }

    /// A 5.0 packet encoded for 3.1 or 3.1.1 either fits (nothing 5.0-only in it) and
    /// round-trips unchanged, or is an EncodeError: nothing is silently dropped.
    #[test]
    fn v5_only_fields_are_encode_errors_in_3x(
        packet in any_packet(V5),
        target in select(vec![V3_1, V3_1_1]),
    ) {
        let mut p = packet;
        if let Packet::Connect(c) = &mut p {
            c.protocol = target;
        }
        if fits_in_v3(&p, target) {
            let mut out = Vec::new();
            let n = p.encode(target, &mut out).map_err(|e| fail(format!("{target}: {e}")))?;
            prop_assert_eq!(p.encoded_len(target), Ok(n));
            prop_assert_eq!(decode_exact(&out, target, &lenient()), Ok(p));
        } else {
            check_encode_error(&p, target, "5.0-only content")?;
        }
    }

    /// A valid packet of any version, encoded for any version, is Ok or an EncodeError,
    /// never a panic; Ok means it decodes back unchanged, an error is the same from
    /// `encode` and `encoded_len`.
    #[test]
    fn any_packet_encodes_for_any_version_or_errors(
        (_, p) in per_version(any_packet),
        target in version(),
    ) {
        let mut out = Vec::new();
        match p.encode(target, &mut out) {
            Ok(n) => {
                prop_assert_eq!(n, out.len());
                prop_assert_eq!(p.encoded_len(target), Ok(n));
                prop_assert_eq!(decode_exact(&out, target, &lenient()), Ok(p));
            }
            Err(e) => {
                prop_assert!(out.is_empty());
                prop_assert_eq!(p.encoded_len(target), Err(e));
            }
        }
    }

    /// Packets the specification forbids are encode errors, in every version.
    #[test]
    fn invalid_packets_are_encode_errors((p, v, rule) in invalid_packet()) {
        check_encode_error(&p, v, rule)?;
    }

    /// "It is a Protocol Error to include Authentication Data if there is no
    /// Authentication Method" (MQTT 5.0 3.1.2.11.10); the decoder refuses it.
    #[test]
    fn connect_authentication_data_without_method_is_an_encode_error(
        c in connect(V5),
        data in binary_data(),
    ) {
        let mut c = c;
        c.properties.authentication_method = None;
        c.properties.authentication_data = Some(data);
        check_encode_error(&Packet::from(c), V5, "Authentication Data without Method")?;
    }

    /// "It is a Protocol Error to set the No Local bit to 1 on a Shared Subscription"
    /// [MQTT-3.8.3-4]; the decoder refuses it.
    #[test]
    fn no_local_on_a_shared_subscription_is_an_encode_error(
        s in subscribe(V5),
        group in chars(&[], 1..6),
        i in any::<Index>(),
    ) {
        let mut s = s;
        let i = i.index(s.filters.len());
        let filter = format!("$share/{group}/{}", s.filters[i].0.filter());
        s.filters[i].0 = TopicFilter::try_from(filter).map_err(fail)?;
        s.filters[i].1.no_local = true;
        check_encode_error(&Packet::Subscribe(s), V5, "No Local on a shared subscription")?;
    }

    /// A declared size above the maximum packet size fails as soon as the fixed header is
    /// complete, before any body byte (or with only some) has arrived.
    #[test]
    fn declared_size_over_the_maximum_fails_on_the_fixed_header(
        v in version(),
        first in any::<u8>(),
        remaining in prop_oneof![0u32..200, 0u32..70_000, 0u32..=MAX_VAR_INT],
        pad in any::<bool>(),
        below in any::<Index>(),
        body in 0usize..8,
    ) {
        let mut len = var_int(remaining);
        prop_assert_eq!(len.len(), var_int_len(remaining));
        prop_assert_eq!(decode_var_int(&len, true), Ok(Some((remaining, len.len()))));
        // 3.x does not require the shortest encoding of the remaining length; 5.0 does.
        if pad && !v.is_v5() && len.len() < 4 {
            *len.last_mut().expect("not empty") |= 0x80;
            len.push(0);
        }
        let mut header = vec![first];
        header.extend(&len);
        let size = header.len() + remaining as usize;
        let max = u32::try_from(below.index(size)).map_err(fail)?;
        let options = DecodeOptions { max_packet_size: max, strict_strings: false };

        // Every part of the fixed header is still incomplete.
        for k in 0..header.len() {
            let mut buf = BytesMut::from(&header[..k]);
            prop_assert_eq!(decode(&mut buf, v, &options), Ok(None));
            prop_assert_eq!(buf.len(), k);
        }
        // The complete fixed header, with at most a few body bytes, is refused.
        let body = body.min(remaining as usize);
        let mut buf = BytesMut::from(&header[..]);
        buf.extend_from_slice(&vec![0; body]);
        prop_assert_eq!(
            decode(&mut buf, v, &options),
            Err(DecodeError::PacketTooLarge { size, max })
        );
        // With the limit at the declared size, the same bytes wait for the rest.
        if body < remaining as usize {
            let at_limit = DecodeOptions {
                max_packet_size: u32::try_from(size).map_err(fail)?,
                ..options
            };
            let mut buf = BytesMut::from(&header[..]);
            buf.extend_from_slice(&vec![0; body]);
            prop_assert_eq!(decode(&mut buf, v, &at_limit), Ok(None));
            prop_assert_eq!(buf.len(), header.len() + body);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Random bytes, any version and options: no panic.
    #[test]
    fn random_bytes_never_panic(
        v in version(),
        options in decode_options(),
        bytes in vec(any::<u8>(), 0..256),
        chunks in chunk_sizes(),
    ) {
        check_arbitrary_bytes(&bytes, v, &options, &chunks)?;
    }

    /// Correctly framed packets of any first byte with random bodies: no panic, and
    /// whatever decodes re-encodes.
    #[test]
    fn random_bodies_never_panic(
        v in version(),
        options in decode_options(),
        frames in vec((first_byte(), body_bytes()), 1..4),
        chunks in chunk_sizes(),
    ) {
        let bytes: Vec<u8> = frames.iter().flat_map(|(b, body)| frame(*b, body)).collect();
        check_arbitrary_bytes(&bytes, v, &options, &chunks)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Valid packets of one version, damaged a little and decoded with any version and
    /// options: no panic, and whatever decodes re-encodes.
    #[test]
    fn mutated_packets_never_panic(
        (generated, packets) in per_version(|v| vec(any_packet(v), 1..3).boxed()),
        mutations in vec(mutation(), 1..4),
        v in version(),
        options in decode_options(),
        chunks in chunk_sizes(),
    ) {
        let mut bytes = Vec::new();
        for p in &packets {
            p.encode(generated, &mut bytes).map_err(fail)?;
        }
        for m in &mutations {
            mutate(&mut bytes, m);
        }
        check_arbitrary_bytes(&bytes, v, &options, &chunks)?;
    }
}

/// Every valid first byte with every body of up to three bytes from an alphabet of telling
/// values (lengths, flags, QoS, reason codes, property identifiers), in every version,
/// strict or not: decoding never panics, and whatever decodes re-encodes to the same
/// packet. Exhaustive where the random tests above are sparse.
#[test]
fn every_short_body_decodes_or_fails_cleanly() {
    const ALPHABET: [u8; 12] = [
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x08, 0x10, 0x18, 0x80, 0x81, 0xFF,
    ];
    let mut bodies: Vec<Vec<u8>> = vec![Vec::new()];
    let mut last = bodies.clone();
    for _ in 0..3 {
        last = last
            .iter()
            .flat_map(|b| {
                ALPHABET.iter().map(move |&x| {
                    let mut b = b.clone();
                    b.push(x);
                    b
                })
            })
            .collect();
        bodies.extend(last.iter().cloned());
    }
    let mut failures = Vec::new();
    for first in VALID_FIRST_BYTES {
        for body in &bodies {
            let bytes = frame(first, body);
            for v in VERSIONS {
                // Strictness only matters for strings, which three bytes barely hold: each
                // input is reported once.
                let strict_result = decode(&mut BytesMut::from(&bytes[..]), v, &strict());
                let lenient_result = decode(&mut BytesMut::from(&bytes[..]), v, &lenient());
                for decoded in [strict_result, lenient_result] {
                    if let Ok(Some(p)) = decoded
                        && let Err(e) = check_reencodes(&p, v)
                    {
                        failures.push(format!("{v}: {bytes:02x?}: {e}"));
                        break;
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} inputs decode but do not re-encode, e.g.:\n{}",
        failures.len(),
        failures[..failures.len().min(12)].join("\n")
    );
}
