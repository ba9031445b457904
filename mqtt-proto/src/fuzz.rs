//! The properties the fuzz targets in `fuzz/` check, kept here so that the regression
//! tests run exactly the same checks over the committed corpus and every crash found.
//!
//! Each function panics when the codec breaks a property; otherwise it returns normally,
//! whatever the input.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use bytes::BytesMut;

use crate::{DecodeError, DecodeOptions, Packet, ProtocolVersion, decode};

/// The protocol version a fuzz input's first byte selects.
#[must_use]
pub fn version_for(byte: u8) -> ProtocolVersion {
    match byte % 3 {
        0 => ProtocolVersion::V3_1,
        1 => ProtocolVersion::V3_1_1,
        _ => ProtocolVersion::V5,
    }
}

/// Decodes one packet from `data[1..]` with the version picked by `data[0]`; whatever
/// decodes must re-encode, with `encoded_len` equal to the bytes written, and decode back
/// to the same packet.
pub fn decode_packet(data: &[u8]) {
    let Some((&first, bytes)) = data.split_first() else {
        return;
    };
    let version = version_for(first);
    let options = DecodeOptions {
        strict_strings: first & 0x80 != 0,
        ..DecodeOptions::default()
    };
    let mut buf = BytesMut::from(bytes);
    if let Ok(Some(packet)) = decode(&mut buf, version, &options) {
        roundtrip(&packet, version);
    }
}

/// Checks that `packet` survives encode then decode for `version` (a CONNECT for its own).
pub fn roundtrip(packet: &Packet, version: ProtocolVersion) {
    let mut out = Vec::new();
    let written = packet
        .encode(version, &mut out)
        .unwrap_or_else(|e| panic!("decoded packet does not encode: {e}: {packet:?}"));
    assert_eq!(written, out.len(), "encode reported a wrong length");
    assert_eq!(
        packet.encoded_len(version),
        Ok(written),
        "encoded_len disagrees with encode"
    );
    let version = match packet {
        Packet::Connect(c) => c.protocol,
        _ => version,
    };
    let back = crate::decode_exact(&out, version, &DecodeOptions::default())
        .unwrap_or_else(|e| panic!("re-encoded packet does not decode: {e}: {packet:?}"));
    assert_eq!(&back, packet, "packet changed through encode and decode");
}

/// Decodes `data[2..]` as a stream twice, once whole and once fed in chunks whose sizes
/// come from the data, with the version from `data[0]` and a maximum packet size from
/// `data[1]`; both must yield the same packets and the same error, and every packet must
/// round-trip.
pub fn decode_stream(data: &[u8]) {
    let [first, limit, bytes @ ..] = data else {
        return;
    };
    let version = version_for(*first);
    let options = DecodeOptions {
        max_packet_size: u32::from(*limit).max(2) * 16,
        strict_strings: false,
    };
    let whole = decode_all(bytes, &[bytes.len()], version, &options);
    let chunks: Vec<usize> = bytes.iter().map(|b| usize::from(b % 7) + 1).collect();
    let chunked = decode_all(bytes, &chunks, version, &options);
    assert_eq!(whole, chunked, "chunked stream decodes differently");
    for p in &whole.0 {
        roundtrip(p, version);
    }
}

type StreamResult = (Vec<Packet>, Option<DecodeError>);

fn decode_all(
    bytes: &[u8],
    chunks: &[usize],
    version: ProtocolVersion,
    options: &DecodeOptions,
) -> StreamResult {
    let mut buf = BytesMut::new();
    let mut packets = Vec::new();
    let mut rest = bytes;
    let mut sizes = chunks.iter().cycle();
    loop {
        let n = sizes.next().copied().unwrap_or(rest.len()).min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        buf.extend_from_slice(chunk);
        rest = tail;
        loop {
            let before = buf.len();
            match decode(&mut buf, version, options) {
                Ok(Some(p)) => packets.push(p),
                Ok(None) => {
                    assert_eq!(buf.len(), before, "Ok(None) consumed bytes");
                    break;
                }
                Err(e) => return (packets, Some(e)),
            }
        }
        if rest.is_empty() {
            return (packets, None);
        }
    }
}
