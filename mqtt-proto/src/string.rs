//! UTF-8 encoded strings as MQTT defines them.

use core::fmt;
use core::ops::Deref;

use bytes::Bytes;
use bytestring::ByteString;

/// Why a string is not an MQTT UTF-8 encoded string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StringError {
    /// Longer than the 65,535 bytes a two-byte length can describe.
    #[error("string of {0} bytes is longer than 65535 bytes")]
    TooLong(usize),
    /// Not well-formed UTF-8 (this includes encoded surrogates) [MQTT-1.5.4-1].
    #[error("string is not well-formed UTF-8")]
    InvalidUtf8,
    /// Contains U+0000 [MQTT-1.5.4-2].
    #[error("string contains the null character U+0000")]
    NullCharacter,
    /// Contains a control character or non-character that the specification says SHOULD
    /// NOT be sent (reported only when the decoder is asked to be strict).
    #[error("string contains the discouraged code point U+{0:04X}")]
    DiscouragedCodePoint(u32),
}

/// A UTF-8 encoded string of at most 65,535 bytes without U+0000.
///
/// Backed by [`Bytes`], so a decoded string is a slice of the received packet, never a
/// copy. A byte order mark at the start is kept as it is [MQTT-1.5.4-3].
///
/// ```
/// use mqtt_proto::MqttString;
/// let s = MqttString::try_from("client-7").unwrap();
/// assert_eq!(s.as_str(), "client-7");
/// assert!(MqttString::try_from("a\0b").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MqttString(ByteString);

impl MqttString {
    /// The longest string a two-byte length prefix can carry.
    pub const MAX_LEN: usize = u16::MAX as usize;

    /// A string from a static string slice, without copying.
    ///
    /// # Panics
    /// If `s` is not a valid MQTT string (longer than 65,535 bytes or containing U+0000):
    /// this is meant for literals.
    #[must_use]
    pub fn from_static(s: &'static str) -> Self {
        match check_str(s) {
            Ok(()) => Self(ByteString::from_static(s)),
            Err(e) => panic!("invalid MQTT string literal: {e}"),
        }
    }

    /// Validates `bytes` as an MQTT string, taking it without copying.
    ///
    /// # Errors
    /// [`StringError`] when the bytes are too long, not UTF-8, contain U+0000, or (with
    /// `strict`) contain a code point the specification discourages.
    #[inline]
    pub fn from_bytes(bytes: Bytes, strict: bool) -> Result<Self, StringError> {
        if bytes.len() > Self::MAX_LEN {
            return Err(StringError::TooLong(bytes.len()));
        }
        if find_special(&bytes).nul {
            return Err(StringError::NullCharacter);
        }
        Self::from_bytes_without_nul(bytes, strict)
    }

    /// [`MqttString::from_bytes`] for bytes of at most [`MqttString::MAX_LEN`] that are
    /// known to hold no zero byte: the UTF-8 (and, with `strict`, code point) checks.
    #[inline]
    pub(crate) fn from_bytes_without_nul(bytes: Bytes, strict: bool) -> Result<Self, StringError> {
        let s = ByteString::try_from(bytes).map_err(|_| StringError::InvalidUtf8)?;
        if strict {
            check_discouraged(&s)?;
        }
        Ok(Self(s))
    }

    /// The string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The underlying shared bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &Bytes {
        self.0.as_bytes()
    }

    /// Length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the string is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What one pass over a string's bytes found: U+0000, and the topic wildcards `+`, `#`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Special {
    pub(crate) nul: bool,
    pub(crate) wildcard: bool,
}

/// Scans `bytes` once, eight at a time, for the bytes [`Special`] reports. A zero byte,
/// `+` (0x2B) or `#` (0x23) never occurs inside a multi-byte UTF-8 sequence, so scanning
/// bytes finds exactly the characters.
#[inline]
pub(crate) fn find_special(bytes: &[u8]) -> Special {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const PLUS: u64 = ONES * b'+' as u64;
    const HASH: u64 = ONES * b'#' as u64;
    /// Non-zero exactly when some byte of `v` is zero.
    const fn has_zero(v: u64) -> u64 {
        v.wrapping_sub(ONES) & !v & HIGH
    }
    let (words, tail) = bytes.as_chunks::<8>();
    let (mut nul, mut wildcard) = (0u64, 0u64);
    for w in words {
        let v = u64::from_ne_bytes(*w);
        nul |= has_zero(v);
        wildcard |= has_zero(v ^ PLUS) | has_zero(v ^ HASH);
    }
    let mut found = Special {
        nul: nul != 0,
        wildcard: wildcard != 0,
    };
    for &b in tail {
        found.nul |= b == 0;
        found.wildcard |= b == b'+' || b == b'#';
    }
    found
}

fn check_str(s: &str) -> Result<(), StringError> {
    if s.len() > MqttString::MAX_LEN {
        return Err(StringError::TooLong(s.len()));
    }
    if s.as_bytes().contains(&0) {
        return Err(StringError::NullCharacter);
    }
    Ok(())
}

/// U+0001..U+001F, U+007F..U+009F and the Unicode non-characters SHOULD NOT appear in an
/// MQTT string; a receiver MAY treat them as a Malformed Packet (MQTT 5.0 section 1.5.4).
fn check_discouraged(s: &str) -> Result<(), StringError> {
    for c in s.chars() {
        let cp = u32::from(c);
        let control = (0x01..=0x1F).contains(&cp) || (0x7F..=0x9F).contains(&cp);
        let nonchar = (0xFDD0..=0xFDEF).contains(&cp) || (cp & 0xFFFE) == 0xFFFE;
        if control || nonchar {
            return Err(StringError::DiscouragedCodePoint(cp));
        }
    }
    Ok(())
}

impl TryFrom<&str> for MqttString {
    type Error = StringError;
    fn try_from(s: &str) -> Result<Self, StringError> {
        check_str(s)?;
        Ok(Self(ByteString::from(s)))
    }
}

impl TryFrom<String> for MqttString {
    type Error = StringError;
    fn try_from(s: String) -> Result<Self, StringError> {
        check_str(&s)?;
        Ok(Self(ByteString::from(s)))
    }
}

impl Deref for MqttString {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for MqttString {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl core::borrow::Borrow<str> for MqttString {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for MqttString {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for MqttString {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for MqttString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for MqttString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &'static [u8], strict: bool) -> Result<MqttString, StringError> {
        MqttString::from_bytes(Bytes::from_static(bytes), strict)
    }

    #[test]
    fn ill_formed_utf8_is_rejected_mqtt_1_5_4_1() {
        // [MQTT-1.5.4-1] / [MQTT-1.5.3-1]: an encoded surrogate (U+D800) and a lone
        // continuation byte are not well-formed UTF-8.
        assert_eq!(
            decode(b"\xED\xA0\x80", false),
            Err(StringError::InvalidUtf8)
        );
        assert_eq!(decode(b"a\x80", false), Err(StringError::InvalidUtf8));
        // An overlong encoding of '/' is ill-formed too.
        assert_eq!(decode(b"\xC0\xAF", false), Err(StringError::InvalidUtf8));
    }

    #[test]
    fn null_character_is_rejected_mqtt_1_5_4_2() {
        // [MQTT-1.5.4-2] / [MQTT-1.5.3-2]
        assert_eq!(decode(b"a\x00b", false), Err(StringError::NullCharacter));
    }

    #[test]
    fn byte_order_mark_is_kept_mqtt_1_5_4_3() {
        // [MQTT-1.5.4-3] / [MQTT-1.5.3-3]: U+FEFF at the start is not skipped or stripped.
        let s = decode(b"\xEF\xBB\xBFtopic", false).unwrap();
        assert_eq!(s.as_str(), "\u{FEFF}topic");
        assert_eq!(s.len(), 8);
    }

    #[test]
    fn discouraged_code_points_only_fail_when_strict() {
        assert!(decode(b"a\x01b", false).is_ok());
        assert_eq!(
            decode(b"a\x01b", true),
            Err(StringError::DiscouragedCodePoint(1))
        );
        assert_eq!(
            decode(b"\xC2\x9F", true),
            Err(StringError::DiscouragedCodePoint(0x9F))
        );
        assert_eq!(
            decode(b"\xEF\xBF\xBF", true),
            Err(StringError::DiscouragedCodePoint(0xFFFF))
        );
        assert!(decode("A\u{10FFFD}\u{6C34}".as_bytes(), true).is_ok());
    }

    #[test]
    fn spec_example_string_mqtt_1_5_4() {
        // Figure 1.1: "A𪛔" is 0x41 0xF0 0xAA 0x9B 0x94.
        let s = decode(b"\x41\xF0\xAA\x9B\x94", true).unwrap();
        assert_eq!(s.as_str(), "A\u{2A6D4}");
    }

    #[test]
    fn find_special_matches_a_bytewise_scan() {
        // Every length up to three words, with each special byte at every position, and
        // bytes next to the special ones (0x01, 0x22, 0x24, 0x2A, 0x2C, 0x80, 0xFF).
        for len in 0..24 {
            for pos in 0..len {
                for b in [0u8, b'+', b'#', 1, 0x22, 0x24, 0x2A, 0x2C, 0x80, 0xFF] {
                    let mut v = vec![b'a'; len];
                    v[pos] = b;
                    let expected = Special {
                        nul: v.contains(&0),
                        wildcard: v.iter().any(|&c| c == b'+' || c == b'#'),
                    };
                    assert_eq!(find_special(&v), expected, "{v:?}");
                }
            }
        }
        // A zero byte followed by 0x01: the borrow of the subtraction must not hide it.
        assert!(find_special(&[b'a', 0, 1, b'a', b'a', b'a', b'a', b'a']).nul);
        assert!(!find_special(&[1, 1, 1, 1, 1, 1, 1, 1]).nul);
    }

    #[test]
    fn decoding_does_not_copy() {
        let backing = Bytes::from_static(b"shared");
        let s = MqttString::from_bytes(backing.clone(), false).unwrap();
        assert_eq!(s.as_bytes().as_ptr(), backing.as_ptr());
    }
}
