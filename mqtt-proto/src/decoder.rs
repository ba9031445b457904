//! Streaming decode: complete packets at the front of a growing buffer.

use bytes::{Buf, BytesMut};

use crate::codec::{MAX_VAR_INT, decode_var_int};
use crate::{DecodeError, Packet, ProtocolVersion};

/// Limits and options of decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Largest whole packet accepted (fixed header included), as MQTT 5.0's Maximum Packet
    /// Size. A larger declared size fails before the body is buffered.
    pub max_packet_size: u32,
    /// Also reject the control characters and non-characters that the specification says
    /// SHOULD NOT appear in strings (a receiver MAY treat them as malformed).
    pub strict_strings: bool,
}

impl DecodeOptions {
    /// The largest packet MQTT can frame: five header bytes and 268,435,455 more.
    pub const MAX_PACKET_SIZE: u32 = MAX_VAR_INT + 5;
}

impl Default for DecodeOptions {
    /// No size limit beyond the protocol's, lenient strings.
    fn default() -> Self {
        Self {
            max_packet_size: Self::MAX_PACKET_SIZE,
            strict_strings: false,
        }
    }
}

/// The parsed fixed header of a packet at the front of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedHeader {
    /// The first byte: packet type and flags.
    pub first_byte: u8,
    /// The remaining length: bytes of variable header and payload.
    pub remaining_len: usize,
    /// Bytes the fixed header itself takes (2 to 5).
    pub header_len: usize,
}

impl FixedHeader {
    /// Parses the fixed header at the front of `bytes`; `Ok(None)` if it is incomplete.
    ///
    /// # Errors
    /// A remaining length longer than four bytes, or (with `version` 5.0) not minimal.
    pub fn parse(bytes: &[u8], version: ProtocolVersion) -> Result<Option<Self>, DecodeError> {
        let Some((&first_byte, rest)) = bytes.split_first() else {
            return Ok(None);
        };
        Ok(decode_var_int(rest, version.is_v5())?.map(|(len, n)| Self {
            first_byte,
            remaining_len: len as usize,
            header_len: 1 + n,
        }))
    }

    /// Size of the whole packet.
    #[must_use]
    pub fn packet_len(&self) -> usize {
        self.header_len + self.remaining_len
    }
}

/// Decodes one packet from the front of `buf`.
///
/// Returns `Ok(Some(packet))` and removes exactly that packet's bytes, or `Ok(None)` when
/// `buf` does not yet hold a whole packet, leaving `buf` untouched. The declared size is
/// checked against `options.max_packet_size` as soon as the fixed header is complete,
/// before waiting for (or reserving room for) the body. Strings, topics and payloads of
/// the packet share `buf`'s memory; nothing is copied.
///
/// `version` is the connection's protocol version; a CONNECT is decoded by the version it
/// declares itself.
///
/// ```
/// use bytes::BytesMut;
/// use mqtt_proto::{DecodeOptions, Packet, ProtocolVersion, decode};
///
/// let mut buf = BytesMut::from(&[0xC0, 0x00, 0xD0][..]);
/// let v = ProtocolVersion::V3_1_1;
/// let opts = DecodeOptions::default();
/// assert_eq!(decode(&mut buf, v, &opts).unwrap(), Some(Packet::PingReq));
/// assert_eq!(decode(&mut buf, v, &opts).unwrap(), None); // half a PINGRESP
/// buf.extend_from_slice(&[0x00]);
/// assert_eq!(decode(&mut buf, v, &opts).unwrap(), Some(Packet::PingResp));
/// ```
///
/// # Errors
/// A [`DecodeError`] when the bytes are not a valid packet for `version`; its
/// [`reason_code`](DecodeError::reason_code) is the one to close the connection with. The
/// stream cannot continue after an error.
pub fn decode(
    buf: &mut BytesMut,
    version: ProtocolVersion,
    options: &DecodeOptions,
) -> Result<Option<Packet>, DecodeError> {
    let Some(header) = FixedHeader::parse(buf, version)? else {
        return Ok(None);
    };
    let size = header.packet_len();
    if size > options.max_packet_size as usize {
        return Err(DecodeError::PacketTooLarge {
            size,
            max: options.max_packet_size,
        });
    }
    if buf.len() < size {
        return Ok(None);
    }
    let mut body = buf.split_to(size).freeze();
    body.advance(header.header_len);
    Packet::read(header.first_byte, body, version, options.strict_strings).map(Some)
}

/// Decodes a buffer that must hold exactly one whole packet.
///
/// # Errors
/// As [`decode`], plus [`DecodeError::UnexpectedEnd`] for an incomplete packet and
/// [`DecodeError::TrailingBytes`] for bytes after it.
pub fn decode_exact(
    bytes: &[u8],
    version: ProtocolVersion,
    options: &DecodeOptions,
) -> Result<Packet, DecodeError> {
    let mut buf = BytesMut::from(bytes);
    let packet = decode(&mut buf, version, options)?.ok_or(DecodeError::UnexpectedEnd)?;
    if buf.is_empty() {
        Ok(packet)
    } else {
        Err(DecodeError::TrailingBytes(buf.len()))
    }
}
