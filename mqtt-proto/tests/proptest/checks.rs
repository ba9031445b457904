//! The checks the tests run, and the strategies for arbitrary bytes and decode options.

use std::fmt::{Debug, Display};

use bytes::BytesMut;
use mqtt_proto::ProtocolVersion::{V3_1, V3_1_1};
use mqtt_proto::{
    AckProperties, DecodeError, DecodeOptions, EncodeError, FixedHeader, Packet, ProtocolVersion,
    Publish, ReasonCode, RetainHandling, StringError, TopicError, decode, decode_exact,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::TestCaseError;

use crate::values::{VERSIONS, v3_suback_codes};

pub(crate) fn fail(what: impl Display) -> TestCaseError {
    TestCaseError::fail(what.to_string())
}

pub(crate) fn lenient() -> DecodeOptions {
    DecodeOptions::default()
}

pub(crate) fn strict() -> DecodeOptions {
    DecodeOptions {
        strict_strings: true,
        ..DecodeOptions::default()
    }
}

/// The minimal variable byte integer encoding of `v`, written independently of the codec.
pub(crate) fn var_int(mut v: u32) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut b = (v % 128) as u8;
        v /= 128;
        if v > 0 {
            b |= 0x80;
        }
        out.push(b);
        if v == 0 {
            return out;
        }
    }
}

/// A fixed header and `body`: a packet of any type, flags and content.
pub(crate) fn frame(first_byte: u8, body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len()).expect("short body");
    let mut out = vec![first_byte];
    out.extend(var_int(len));
    out.extend_from_slice(body);
    out
}

/// Whether strict decoding refused a code point that lenient decoding accepts.
fn is_discouraged(e: &DecodeError) -> bool {
    let discouraged = |s: &StringError| matches!(s, StringError::DiscouragedCodePoint(_));
    match e {
        DecodeError::InvalidString(s) => discouraged(s),
        DecodeError::InvalidTopicName(TopicError::String(s))
        | DecodeError::InvalidTopicFilter(TopicError::String(s)) => discouraged(s),
        _ => false,
    }
}

/// Everything that must hold for a valid packet `p` of version `v`. `cut` picks a size
/// below the encoded length, `trailing` is what follows the packet in the buffer.
pub(crate) fn check_roundtrip(
    v: ProtocolVersion,
    p: &Packet,
    cut: Index,
    trailing: &[u8],
) -> Result<(), TestCaseError> {
    // encode, and encoded_len is what it writes.
    let mut out = Vec::new();
    let n = p
        .encode(v, &mut out)
        .map_err(|e| fail(format!("a valid {v} packet does not encode: {e}")))?;
    prop_assert_eq!(n, out.len());
    prop_assert_eq!(p.encoded_len(v), Ok(n));

    // The fixed header declares exactly the bytes written.
    let header = FixedHeader::parse(&out, v)
        .map_err(fail)?
        .ok_or_else(|| fail("incomplete fixed header"))?;
    prop_assert_eq!(header.packet_len(), n);
    prop_assert_eq!(header.first_byte >> 4, p.packet_type() as u8);

    // decode is the inverse of encode; a CONNECT is read by its own protocol level,
    // whatever the connection's version.
    prop_assert_eq!(decode_exact(&out, v, &lenient()), Ok(p.clone()));
    if let Packet::Connect(_) = p {
        for other in VERSIONS {
            prop_assert_eq!(decode_exact(&out, other, &lenient()), Ok(p.clone()));
        }
    }

    // In a buffer, exactly the packet's bytes are taken and what follows is left.
    let mut buf = BytesMut::from(&out[..]);
    buf.extend_from_slice(trailing);
    prop_assert_eq!(decode(&mut buf, v, &lenient()), Ok(Some(p.clone())));
    prop_assert_eq!(&buf[..], trailing);

    // Any incomplete prefix is Ok(None) and untouched.
    let prefixes = [0, 1, header.header_len - 1, header.header_len, cut.index(n)];
    for k in prefixes.into_iter().filter(|&k| k < n) {
        let mut buf = BytesMut::from(&out[..k]);
        prop_assert_eq!(decode(&mut buf, v, &lenient()), Ok(None));
        prop_assert_eq!(&buf[..], &out[..k]);
    }

    // A maximum packet size of exactly the packet passes; one byte less fails as soon as
    // the fixed header is there.
    let size = u32::try_from(n).map_err(fail)?;
    let at_limit = DecodeOptions {
        max_packet_size: size,
        ..lenient()
    };
    prop_assert_eq!(decode_exact(&out, v, &at_limit), Ok(p.clone()));
    let below = DecodeOptions {
        max_packet_size: size - 1,
        ..lenient()
    };
    let mut head = BytesMut::from(&out[..header.header_len]);
    prop_assert_eq!(
        decode(&mut head, v, &below),
        Err(DecodeError::PacketTooLarge {
            size: n,
            max: size - 1
        })
    );

    // Strict strings decode the same packet, or refuse a discouraged code point.
    match decode_exact(&out, v, &strict()) {
        Ok(q) => prop_assert_eq!(&q, p),
        Err(e) => prop_assert!(is_discouraged(&e), "strict decoding failed: {e}"),
    }

    // Into a fixed buffer of exactly the right size, the same bytes.
    let mut exact = vec![0u8; n];
    let mut dst: &mut [u8] = &mut exact;
    prop_assert_eq!(p.encode(v, &mut dst), Ok(n));
    prop_assert!(dst.is_empty());
    prop_assert_eq!(&exact, &out);

    // Into a smaller one, BufferTooSmall and nothing written.
    let small_len = cut.index(n);
    let mut small = vec![0xEE; small_len];
    let mut dst: &mut [u8] = &mut small;
    prop_assert_eq!(
        p.encode(v, &mut dst),
        Err(EncodeError::BufferTooSmall {
            needed: n,
            available: small_len
        })
    );
    prop_assert_eq!(dst.len(), small_len);
    prop_assert!(small.iter().all(|&b| b == 0xEE));

    if let Packet::Publish(publish) = p {
        check_publish_header(v, publish, &out, cut)?;
    }
    Ok(())
}

/// `Publish::encode_header` then the payload is `Publish::encode`.
fn check_publish_header(
    v: ProtocolVersion,
    p: &Publish,
    encoded: &[u8],
    cut: Index,
) -> Result<(), TestCaseError> {
    let mut whole = Vec::new();
    prop_assert_eq!(p.encode(v, &mut whole), Ok(encoded.len()));
    prop_assert_eq!(&whole[..], encoded);

    let header_len = encoded.len() - p.payload.len();
    let mut header = Vec::new();
    prop_assert_eq!(p.encode_header(v, &mut header), Ok(header_len));
    prop_assert_eq!(header.len(), header_len);
    header.extend_from_slice(&p.payload);
    prop_assert_eq!(&header[..], encoded);

    // The header alone into a fixed buffer: exactly enough, then too little.
    let mut exact = vec![0u8; header_len];
    let mut dst: &mut [u8] = &mut exact;
    prop_assert_eq!(p.encode_header(v, &mut dst), Ok(header_len));
    prop_assert_eq!(&exact[..], &encoded[..header_len]);
    let small_len = cut.index(header_len);
    let mut small = vec![0xEE; small_len];
    let mut dst: &mut [u8] = &mut small;
    prop_assert_eq!(
        p.encode_header(v, &mut dst),
        Err(EncodeError::BufferTooSmall {
            needed: header_len,
            available: small_len
        })
    );
    prop_assert!(small.iter().all(|&b| b == 0xEE));
    Ok(())
}

/// Packets decoded from a stream, each with the number of bytes it took, and the error
/// that ended the stream.
type Decoded = (Vec<(Packet, usize)>, Option<DecodeError>);

/// Feeds `bytes` to the decoder in chunks of the given sizes (repeated as needed), and
/// decodes all complete packets after each chunk. Checks that `Ok(None)` leaves the buffer
/// as it was.
pub(crate) fn decode_chunked(
    bytes: &[u8],
    chunks: &[usize],
    v: ProtocolVersion,
    options: &DecodeOptions,
) -> Result<Decoded, TestCaseError> {
    let mut buf = BytesMut::new();
    let mut packets = Vec::new();
    let mut rest = bytes;
    let mut sizes = chunks.iter().copied().cycle();
    loop {
        let n = sizes
            .next()
            .unwrap_or(usize::MAX)
            .clamp(1, rest.len().max(1));
        let (chunk, tail) = rest.split_at(n.min(rest.len()));
        buf.extend_from_slice(chunk);
        rest = tail;
        loop {
            let (len, ptr) = (buf.len(), buf.as_ptr());
            let before = (len <= 4096).then(|| buf.to_vec());
            match decode(&mut buf, v, options) {
                Ok(Some(p)) => packets.push((p, len - buf.len())),
                Ok(None) => {
                    prop_assert_eq!(buf.len(), len, "Ok(None) consumed bytes");
                    prop_assert_eq!(buf.as_ptr(), ptr, "Ok(None) moved the buffer");
                    if let Some(before) = before {
                        prop_assert_eq!(&buf[..], &before[..], "Ok(None) changed bytes");
                    }
                    break;
                }
                Err(e) => return Ok((packets, Some(e))),
            }
        }
        if rest.is_empty() {
            return Ok((packets, None));
        }
    }
}

/// A decoded packet encodes again, for the version it was decoded with, to bytes that
/// decode to the same packet.
pub(crate) fn check_reencodes(p: &Packet, v: ProtocolVersion) -> Result<(), TestCaseError> {
    let mut out = Vec::new();
    let n = p
        .encode(v, &mut out)
        .map_err(|e| fail(format!("decoded {v} packet does not encode: {e}: {p:?}")))?;
    prop_assert_eq!(n, out.len());
    prop_assert_eq!(p.encoded_len(v), Ok(n));
    prop_assert_eq!(decode_exact(&out, v, &lenient()), Ok(p.clone()));
    Ok(())
}

/// Arbitrary bytes: decoding never panics, whole and chunked give the same packets and
/// error, and whatever decodes re-encodes.
pub(crate) fn check_arbitrary_bytes(
    bytes: &[u8],
    v: ProtocolVersion,
    options: &DecodeOptions,
    chunks: &[usize],
) -> Result<(), TestCaseError> {
    let whole = decode_chunked(bytes, &[usize::MAX], v, options)?;
    let chunked = decode_chunked(bytes, chunks, v, options)?;
    prop_assert_eq!(&whole, &chunked);
    for (p, len) in &whole.0 {
        prop_assert!(*len <= options.max_packet_size as usize);
        check_reencodes(p, v)?;
    }
    Ok(())
}

/// What a 5.0 packet carries that 3.x (in version `v`) cannot, by the 3.1 and 3.1.1
/// specifications; independent of the codec.
pub(crate) fn fits_in_v3(p: &Packet, v: ProtocolVersion) -> bool {
    let ack = |rc: ReasonCode, props: &AckProperties| rc == ReasonCode::Success && props.is_empty();
    match p {
        Packet::Connect(c) => {
            c.properties.is_empty()
                && c.will.as_ref().is_none_or(|w| w.properties.is_empty())
                && (c.password.is_none() || c.username.is_some())
        }
        Packet::ConnAck(c) => {
            c.properties.is_empty()
                && c.reason_code.to_v3_connect_return_code().is_some()
                && !(v == V3_1 && c.session_present)
        }
        Packet::Publish(p) => p.properties.is_empty() && p.topic.is_some(),
        Packet::PubAck(a) => ack(a.reason_code, &a.properties),
        Packet::PubRec(a) => ack(a.reason_code, &a.properties),
        Packet::PubRel(a) => ack(a.reason_code, &a.properties),
        Packet::PubComp(a) => ack(a.reason_code, &a.properties),
        Packet::Subscribe(s) => {
            s.properties.is_empty()
                && s.filters.iter().all(|(_, o)| {
                    !o.no_local
                        && !o.retain_as_published
                        && o.retain_handling == RetainHandling::SendAtSubscribe
                })
        }
        Packet::SubAck(s) => {
            // The codec lets 3.1 carry 0x80 as 3.1.1 does.
            s.properties.is_empty()
                && s.reason_codes
                    .iter()
                    .all(|rc| v3_suback_codes(V3_1_1).contains(rc))
        }
        Packet::Unsubscribe(u) => u.properties.is_empty(),
        Packet::UnsubAck(u) => u.properties.is_empty() && u.reason_codes.is_empty(),
        Packet::PingReq | Packet::PingResp => true,
        Packet::Disconnect(d) => d.reason_code == ReasonCode::Success && d.properties.is_empty(),
        Packet::Auth(_) => false,
    }
}

/// Encoding `p` for `v` must fail with an error other than lack of room, the same from
/// `encode` (into a growable and a fixed buffer) and `encoded_len`, writing nothing.
pub(crate) fn check_encode_error(
    p: &Packet,
    v: ProtocolVersion,
    why: &str,
) -> Result<(), TestCaseError> {
    let mut out = Vec::new();
    let err = match p.encode(v, &mut out) {
        Ok(_) => {
            return Err(fail(format!(
                "{why}: encoded for {v} as {:02x?}, decoded back as {:?}",
                out,
                decode_exact(&out, v, &lenient())
            )));
        }
        Err(e) => e,
    };
    prop_assert!(out.is_empty(), "{why}: bytes written before {err}");
    prop_assert!(
        !matches!(err, EncodeError::BufferTooSmall { .. }),
        "{why}: {err}"
    );
    prop_assert_eq!(p.encoded_len(v), Err(err.clone()));
    let mut dst: &mut [u8] = &mut [];
    prop_assert_eq!(p.encode(v, &mut dst), Err(err));
    Ok(())
}

/// Decode options with small, zero and unlimited maximum packet sizes, strict or not.
pub(crate) fn decode_options() -> BoxedStrategy<DecodeOptions> {
    let max = prop_oneof![
        2 => Just(DecodeOptions::MAX_PACKET_SIZE),
        1 => 0u32..8,
        1 => 0u32..512,
    ];
    (max, any::<bool>())
        .prop_map(|(max_packet_size, strict_strings)| DecodeOptions {
            max_packet_size,
            strict_strings,
        })
        .boxed()
}

/// Chunk sizes for feeding a stream: byte by byte, small, or large.
pub(crate) fn chunk_sizes() -> BoxedStrategy<Vec<usize>> {
    vec(prop_oneof![1usize..4, 1usize..64, 1usize..5000], 1..8).boxed()
}

/// First bytes of valid packets of every type (with 3.1's DUP on PUBREL, SUBSCRIBE and
/// UNSUBSCRIBE, and PUBLISH flags).
pub(crate) const VALID_FIRST_BYTES: [u8; 23] = [
    0x10, 0x20, 0x30, 0x31, 0x32, 0x35, 0x3A, 0x3C, 0x40, 0x50, 0x62, 0x6A, 0x70, 0x82, 0x8A, 0x90,
    0xA2, 0xAA, 0xB0, 0xC0, 0xD0, 0xE0, 0xF0,
];

/// A first byte: any, or one of a valid packet.
pub(crate) fn first_byte() -> BoxedStrategy<u8> {
    prop_oneof![any::<u8>(), select(VALID_FIRST_BYTES.to_vec())].boxed()
}

/// Body bytes that look a little like fields: small lengths, property identifiers.
pub(crate) fn body_bytes() -> BoxedStrategy<Vec<u8>> {
    let ids: Vec<u8> = (0..=0x2A).collect();
    let byte = prop_oneof![4 => any::<u8>(), 2 => 0u8..6, 1 => select(ids)];
    prop_oneof![vec(byte.clone(), 0..4), vec(byte, 0..64)].boxed()
}

/// How to damage an encoded packet.
#[derive(Debug, Clone)]
pub(crate) enum Mutation {
    Xor(Index, u8),
    Set(Index, u8),
    Insert(Index, u8),
    Remove(Index),
    Truncate(Index),
}

pub(crate) fn mutation() -> BoxedStrategy<Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 0..8u32).prop_map(|(i, bit)| Mutation::Xor(i, 1 << bit)),
        2 => (any::<Index>(), 1..=u8::MAX).prop_map(|(i, b)| Mutation::Xor(i, b)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => any::<Index>().prop_map(Mutation::Remove),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
    .boxed()
}

pub(crate) fn mutate(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    match m {
        Mutation::Xor(i, b) => {
            let i = i.index(bytes.len());
            bytes[i] ^= b;
        }
        Mutation::Set(i, b) => {
            let i = i.index(bytes.len());
            bytes[i] = *b;
        }
        Mutation::Insert(i, b) => bytes.insert(i.index(bytes.len() + 1), *b),
        Mutation::Remove(i) => {
            bytes.remove(i.index(bytes.len()));
        }
        Mutation::Truncate(i) => bytes.truncate(i.index(bytes.len())),
    }
}
