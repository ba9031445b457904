//! Helpers shared by the `spec_v5` and `spec_v311` test targets: packets written in hex as
//! they appear on the wire, and decode and encode wrappers that check the codec agrees with
//! itself.

use mqtt_proto::{
    DecodeError, DecodeOptions, EncodeError, Packet, PacketId, ProtocolVersion, decode_exact,
};

/// Bytes from space-separated hex pairs: `hex("10 00")`.
pub(crate) fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap_or_else(|e| panic!("bad hex {b:?}: {e}")))
        .collect()
}

/// The Variable Byte Integer encoding of `n` (section 1.5.5), written here independently of
/// the codec.
pub(crate) fn vbi(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        out.push(b);
        if n == 0 {
            return out;
        }
    }
}

/// A whole packet: the first byte, the remaining length (computed), the body.
pub(crate) fn pkt(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    out.extend(vbi(body.len()));
    out.extend_from_slice(body);
    out
}

pub(crate) fn pid(v: u16) -> PacketId {
    PacketId::new(v).expect("non-zero")
}

/// Decodes exactly one packet of `version`.
pub(crate) fn decode_in(version: ProtocolVersion, bytes: &[u8]) -> Result<Packet, DecodeError> {
    decode_exact(bytes, version, &DecodeOptions::default())
}

/// Encodes a packet, checking that `encoded_len` agrees with what is written.
#[track_caller]
pub(crate) fn encode_in(
    version: ProtocolVersion,
    p: impl Into<Packet>,
) -> Result<Vec<u8>, EncodeError> {
    let p = p.into();
    let mut out = Vec::new();
    let n = p.encode(version, &mut out)?;
    assert_eq!(n, out.len(), "encode returned a wrong length");
    assert_eq!(p.encoded_len(version), Ok(n), "encoded_len disagrees");
    Ok(out)
}

/// Decodes `bytes` for `version`, checks that the packet encodes back to the same bytes,
/// and returns it.
#[track_caller]
pub(crate) fn roundtrip_bytes(version: ProtocolVersion, bytes: &[u8]) -> Packet {
    let p = decode_in(version, bytes).unwrap_or_else(|e| panic!("decode {bytes:02x?}: {e}"));
    let again = encode_in(version, p.clone()).unwrap_or_else(|e| panic!("encode {p:?}: {e}"));
    assert_eq!(again, bytes, "re-encoding {p:?} changed the bytes");
    p
}
