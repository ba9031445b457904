//! Wire primitives shared by every packet: a bounded reader over a received packet and a
//! sink that either counts or writes, so that `encoded_len` and `encode` run the same code.

use bytes::{Buf, BufMut, Bytes};

use crate::{DecodeError, EncodeError, MqttString, PacketId, ProtocolVersion};

/// The largest value of a variable byte integer (MQTT 5.0 section 1.5.5).
pub const MAX_VAR_INT: u32 = 268_435_455;

/// Decodes a variable byte integer at the front of `bytes`.
///
/// Returns `Ok(None)` when `bytes` ends before the integer does, otherwise the value and
/// the number of bytes it took. With `minimal`, a non-minimal encoding is an error
/// (MQTT 5.0 [MQTT-1.5.5-1]); a fifth byte is always an error.
///
/// # Errors
/// [`DecodeError::VarIntTooLong`] and [`DecodeError::VarIntNotMinimal`].
pub fn decode_var_int(bytes: &[u8], minimal: bool) -> Result<Option<(u32, usize)>, DecodeError> {
    let mut value: u32 = 0;
    for (i, &b) in bytes.iter().take(4).enumerate() {
        value |= u32::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            // A multi-byte encoding whose last byte is zero could have been shorter.
            if minimal && i > 0 && b == 0 {
                return Err(DecodeError::VarIntNotMinimal);
            }
            return Ok(Some((value, i + 1)));
        }
    }
    if bytes.len() >= 4 {
        Err(DecodeError::VarIntTooLong)
    } else {
        Ok(None)
    }
}

/// Number of bytes the variable byte integer encoding of `v` takes.
#[must_use]
pub const fn var_int_len(v: u32) -> usize {
    match v {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// A received packet body, read field by field. Every read checks the bytes that are
/// left, so no peer-controlled length can make it panic or over-allocate.
///
/// Reads stop at a limit: the end of the body, or while a property list is read
/// ([`Reader::with_limit`]) the end of that list. Limiting does not split the buffer, so a
/// property list costs no reference count update.
pub(crate) struct Reader {
    buf: Bytes,
    /// How many bytes at the front of `buf` may be read; never more than `buf.len()`.
    limit: usize,
    pub(crate) version: ProtocolVersion,
    pub(crate) strict_strings: bool,
}

impl Reader {
    pub(crate) fn new(buf: Bytes, version: ProtocolVersion, strict_strings: bool) -> Self {
        Self {
            limit: buf.len(),
            buf,
            version,
            strict_strings,
        }
    }

    /// Bytes left before the limit.
    pub(crate) fn remaining(&self) -> usize {
        self.limit
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.limit == 0
    }

    /// The bytes left before the limit.
    #[inline]
    fn available(&self) -> &[u8] {
        self.buf.get(..self.limit).unwrap_or_default()
    }

    /// Consumes `n` bytes that [`Reader::available`] holds.
    #[inline]
    fn consume(&mut self, n: usize) {
        let n = n.min(self.limit);
        self.buf.advance(n);
        self.limit -= n;
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let a = *self
            .available()
            .first_chunk::<N>()
            .ok_or(DecodeError::UnexpectedEnd)?;
        self.consume(N);
        Ok(a)
    }

    #[inline]
    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }

    #[inline]
    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    #[inline]
    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    #[inline]
    pub(crate) fn var_int(&mut self) -> Result<u32, DecodeError> {
        // Property identifiers and most lengths take one byte.
        if let Some(&b) = self.available().first()
            && b < 0x80
        {
            self.consume(1);
            return Ok(u32::from(b));
        }
        match decode_var_int(self.available(), self.version.is_v5())? {
            Some((v, n)) => {
                self.consume(n);
                Ok(v)
            }
            None => Err(DecodeError::UnexpectedEnd),
        }
    }

    #[inline]
    pub(crate) fn packet_id(&mut self) -> Result<PacketId, DecodeError> {
        PacketId::new(self.u16()?).ok_or(DecodeError::ZeroPacketId)
    }

    /// The next `n` bytes, shared with the packet buffer.
    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> Result<Bytes, DecodeError> {
        if n > self.limit {
            return Err(DecodeError::UnexpectedEnd);
        }
        self.limit -= n;
        Ok(self.buf.split_to(n))
    }

    /// Runs `read` with the limit set `n` bytes ahead (a property list of `n` bytes), then
    /// restores the outer limit after those `n` bytes.
    #[inline]
    pub(crate) fn with_limit<T>(
        &mut self,
        n: usize,
        read: impl FnOnce(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<T, DecodeError> {
        if n > self.limit {
            return Err(DecodeError::UnexpectedEnd);
        }
        let outer = self.limit - n;
        self.limit = n;
        let value = read(self)?;
        // Whatever the inner read left of its `n` bytes is not read by the outer one.
        self.consume(self.limit);
        self.limit = outer;
        Ok(value)
    }

    /// Binary data: a two-byte length and that many bytes.
    #[inline]
    pub(crate) fn binary(&mut self) -> Result<Bytes, DecodeError> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }

    /// A UTF-8 encoded string: a two-byte length and that many bytes.
    #[inline]
    pub(crate) fn string(&mut self) -> Result<MqttString, DecodeError> {
        let bytes = self.binary()?;
        Ok(MqttString::from_bytes(bytes, self.strict_strings)?)
    }

    /// Everything that is left before the limit (a payload).
    #[inline]
    pub(crate) fn rest(&mut self) -> Bytes {
        if self.limit == self.buf.len() {
            self.limit = 0;
            core::mem::take(&mut self.buf)
        } else {
            let n = self.limit;
            self.limit = 0;
            self.buf.split_to(n)
        }
    }

    /// Ends a packet that has no payload: anything left over is malformed.
    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        if self.limit == 0 {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes(self.limit))
        }
    }
}

/// Where encoded bytes go: a [`Counter`] that only adds up lengths, or a [`Writer`] over a
/// [`BufMut`]. Each packet has one `write` function generic over the sink, so the length
/// used in its fixed header and the bytes it writes cannot disagree.
pub(crate) trait Sink {
    /// Whether this sink only counts bytes (lets a property list be counted once).
    const COUNTS_ONLY: bool = false;
    /// Counts `n` bytes without writing them; only called when `COUNTS_ONLY`.
    #[inline]
    fn add_len(&mut self, _n: usize) {}
    fn put_u8(&mut self, v: u8);
    fn put_u16(&mut self, v: u16);
    fn put_slice(&mut self, s: &[u8]);

    #[inline]
    fn put_var_int(&mut self, v: u32) -> Result<(), EncodeError> {
        if v > MAX_VAR_INT {
            return Err(EncodeError::PacketTooLarge);
        }
        let mut v = v;
        loop {
            let mut b = (v & 0x7F) as u8;
            v >>= 7;
            if v > 0 {
                b |= 0x80;
            }
            self.put_u8(b);
            if v == 0 {
                return Ok(());
            }
        }
    }

    #[inline]
    fn put_binary(&mut self, what: &'static str, s: &[u8]) -> Result<(), EncodeError> {
        let n = u16::try_from(s.len()).map_err(|_| EncodeError::FieldTooLong(what))?;
        self.put_u16(n);
        self.put_slice(s);
        Ok(())
    }

    #[inline]
    fn put_string(&mut self, s: &MqttString) {
        // An MqttString is at most 65,535 bytes by construction.
        self.put_u16(s.len() as u16);
        self.put_slice(s.as_bytes());
    }
}

/// A sink that counts bytes.
#[derive(Default)]
pub(crate) struct Counter(pub(crate) usize);

impl Sink for Counter {
    const COUNTS_ONLY: bool = true;
    #[inline]
    fn add_len(&mut self, n: usize) {
        self.0 += n;
    }
    #[inline]
    fn put_u8(&mut self, _: u8) {
        self.0 += 1;
    }
    #[inline]
    fn put_u16(&mut self, _: u16) {
        self.0 += 2;
    }
    #[inline]
    fn put_slice(&mut self, s: &[u8]) {
        self.0 += s.len();
    }
    #[inline]
    fn put_var_int(&mut self, v: u32) -> Result<(), EncodeError> {
        if v > MAX_VAR_INT {
            return Err(EncodeError::PacketTooLarge);
        }
        self.0 += var_int_len(v);
        Ok(())
    }
}

/// A sink that writes into a buffer whose free space was checked beforehand.
pub(crate) struct Writer<'a, B: ?Sized>(pub(crate) &'a mut B);

impl<B: BufMut + ?Sized> Sink for Writer<'_, B> {
    #[inline]
    fn put_u8(&mut self, v: u8) {
        self.0.put_u8(v);
    }
    #[inline]
    fn put_u16(&mut self, v: u16) {
        self.0.put_u16(v);
    }
    #[inline]
    fn put_slice(&mut self, s: &[u8]) {
        self.0.put_slice(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(v: u32) -> Vec<u8> {
        let mut out = Vec::new();
        Writer(&mut out).put_var_int(v).unwrap();
        out
    }

    #[test]
    fn var_int_boundaries_from_table_1_1() {
        // MQTT 5.0 Table 1-1 / MQTT 3.1.1 Table 2.4: the boundaries of each length.
        let cases: &[(u32, &[u8])] = &[
            (0, &[0x00]),
            (127, &[0x7F]),
            (128, &[0x80, 0x01]),
            (16_383, &[0xFF, 0x7F]),
            (16_384, &[0x80, 0x80, 0x01]),
            (2_097_151, &[0xFF, 0xFF, 0x7F]),
            (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
            (268_435_455, &[0xFF, 0xFF, 0xFF, 0x7F]),
        ];
        for &(v, wire) in cases {
            assert_eq!(encode(v), wire, "encode {v}");
            assert_eq!(var_int_len(v), wire.len());
            assert_eq!(decode_var_int(wire, true), Ok(Some((v, wire.len()))));
        }
        assert_eq!(
            Writer(&mut Vec::new()).put_var_int(MAX_VAR_INT + 1),
            Err(EncodeError::PacketTooLarge)
        );
    }

    #[test]
    fn var_int_fifth_byte_is_malformed_mqtt_1_5_5_1() {
        assert_eq!(
            decode_var_int(&[0xFF, 0xFF, 0xFF, 0xFF, 0x01], false),
            Err(DecodeError::VarIntTooLong)
        );
        assert_eq!(
            decode_var_int(&[0x80, 0x80, 0x80, 0x80], false),
            Err(DecodeError::VarIntTooLong)
        );
    }

    #[test]
    fn var_int_non_minimal_is_malformed_in_v5_mqtt_1_5_5_1() {
        // [MQTT-1.5.5-1]: the encoded value MUST use the minimum number of bytes.
        assert_eq!(
            decode_var_int(&[0x80, 0x00], true),
            Err(DecodeError::VarIntNotMinimal)
        );
        assert_eq!(
            decode_var_int(&[0xFF, 0x80, 0x00], true),
            Err(DecodeError::VarIntNotMinimal)
        );
        // MQTT 3.1.1 states no such rule for receivers.
        assert_eq!(decode_var_int(&[0x80, 0x00], false), Ok(Some((0, 2))));
    }

    #[test]
    fn var_int_incomplete_needs_more() {
        assert_eq!(decode_var_int(&[], true), Ok(None));
        assert_eq!(decode_var_int(&[0x80], true), Ok(None));
        assert_eq!(decode_var_int(&[0x80, 0x80, 0x80], true), Ok(None));
    }

    #[test]
    fn reader_never_reads_past_the_end() {
        let mut r = Reader::new(
            Bytes::from_static(&[0x00, 0x05, b'a']),
            ProtocolVersion::V5,
            false,
        );
        assert_eq!(r.string(), Err(DecodeError::UnexpectedEnd));
        let mut r = Reader::new(Bytes::from_static(&[0x01]), ProtocolVersion::V5, false);
        assert_eq!(r.u16(), Err(DecodeError::UnexpectedEnd));
        assert_eq!(r.u32(), Err(DecodeError::UnexpectedEnd));
    }
}
