//! The fifteen MQTT control packets, one file each (the four publish acknowledgements,
//! which share one layout, share one file), and the fixed header they all start with.

use core::fmt;

use bytes::{BufMut, Bytes};

use crate::codec::{Counter, Reader, Sink, Writer, var_int_len};
use crate::property::PropertyList;
use crate::{DecodeError, EncodeError, ProtocolVersion};

mod auth;
mod connack;
mod connect;
mod disconnect;
mod publish;
mod publish_ack;
mod suback;
mod subscribe;
mod unsuback;
mod unsubscribe;

pub use auth::Auth;
pub use connack::ConnAck;
pub use connect::{Connect, Will};
pub use disconnect::Disconnect;
pub use publish::{Publish, QoSPid};
pub use publish_ack::{PubAck, PubComp, PubRec, PubRel};
pub use suback::SubAck;
pub use subscribe::{RetainHandling, Subscribe, SubscriptionOptions};
pub use unsuback::UnsubAck;
pub use unsubscribe::Unsubscribe;

/// The control packet type: the high four bits of the first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum PacketType {
    /// 1: client request to connect.
    Connect = 1,
    /// 2: connect acknowledgement.
    ConnAck = 2,
    /// 3: publish message.
    Publish = 3,
    /// 4: publish acknowledgement (QoS 1).
    PubAck = 4,
    /// 5: publish received (QoS 2, part 1).
    PubRec = 5,
    /// 6: publish release (QoS 2, part 2).
    PubRel = 6,
    /// 7: publish complete (QoS 2, part 3).
    PubComp = 7,
    /// 8: subscribe request.
    Subscribe = 8,
    /// 9: subscribe acknowledgement.
    SubAck = 9,
    /// 10: unsubscribe request.
    Unsubscribe = 10,
    /// 11: unsubscribe acknowledgement.
    UnsubAck = 11,
    /// 12: ping request.
    PingReq = 12,
    /// 13: ping response.
    PingResp = 13,
    /// 14: disconnect notification.
    Disconnect = 14,
    /// 15: authentication exchange (MQTT 5.0).
    Auth = 15,
}

impl PacketType {
    /// The packet type for the high nibble of a first byte; `None` for the reserved 0.
    #[must_use]
    pub const fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::Connect,
            2 => Self::ConnAck,
            3 => Self::Publish,
            4 => Self::PubAck,
            5 => Self::PubRec,
            6 => Self::PubRel,
            7 => Self::PubComp,
            8 => Self::Subscribe,
            9 => Self::SubAck,
            10 => Self::Unsubscribe,
            11 => Self::UnsubAck,
            12 => Self::PingReq,
            13 => Self::PingResp,
            14 => Self::Disconnect,
            15 => Self::Auth,
            _ => return None,
        })
    }

    /// The fixed header flags every packet of this type carries; PUBLISH carries its own.
    ///
    /// PUBREL, SUBSCRIBE and UNSUBSCRIBE have 0b0010, every other type 0 [MQTT-2.1.3-1].
    #[must_use]
    pub const fn fixed_flags(self) -> u8 {
        match self {
            Self::PubRel | Self::Subscribe | Self::Unsubscribe => 0b0010,
            _ => 0,
        }
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "CONNECT",
            Self::ConnAck => "CONNACK",
            Self::Publish => "PUBLISH",
            Self::PubAck => "PUBACK",
            Self::PubRec => "PUBREC",
            Self::PubRel => "PUBREL",
            Self::PubComp => "PUBCOMP",
            Self::Subscribe => "SUBSCRIBE",
            Self::SubAck => "SUBACK",
            Self::Unsubscribe => "UNSUBSCRIBE",
            Self::UnsubAck => "UNSUBACK",
            Self::PingReq => "PINGREQ",
            Self::PingResp => "PINGRESP",
            Self::Disconnect => "DISCONNECT",
            Self::Auth => "AUTH",
        })
    }
}

/// An MQTT control packet of any protocol version.
///
/// The large packets that a connection sees once or rarely (CONNECT, CONNACK, DISCONNECT,
/// AUTH) are boxed, so that the frequent ones move cheaply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// CONNECT.
    Connect(Box<Connect>),
    /// CONNACK.
    ConnAck(Box<ConnAck>),
    /// PUBLISH.
    Publish(Publish),
    /// PUBACK.
    PubAck(PubAck),
    /// PUBREC.
    PubRec(PubRec),
    /// PUBREL.
    PubRel(PubRel),
    /// PUBCOMP.
    PubComp(PubComp),
    /// SUBSCRIBE.
    Subscribe(Subscribe),
    /// SUBACK.
    SubAck(SubAck),
    /// UNSUBSCRIBE.
    Unsubscribe(Unsubscribe),
    /// UNSUBACK.
    UnsubAck(UnsubAck),
    /// PINGREQ.
    PingReq,
    /// PINGRESP.
    PingResp,
    /// DISCONNECT.
    Disconnect(Box<Disconnect>),
    /// AUTH (MQTT 5.0 only).
    Auth(Box<Auth>),
}

/// What every packet struct provides to the shared framing code.
pub(crate) trait Body {
    const TYPE: PacketType;

    /// The four flag bits of the fixed header.
    fn flags(&self) -> u8 {
        Self::TYPE.fixed_flags()
    }

    /// Writes the variable header and payload. Run once with a [`Counter`] to size the
    /// fixed header, then with a [`Writer`].
    fn write<S: Sink>(&self, version: ProtocolVersion, s: &mut S) -> Result<(), EncodeError>;
}

/// Decoding of a packet's variable header and payload, its fixed header flags given.
pub(crate) trait Read: Sized {
    fn read(flags: u8, r: &mut Reader) -> Result<Self, DecodeError>;
}

/// The number of entries at the front of a SUBSCRIBE or UNSUBSCRIBE payload (non-empty
/// strings, each followed by `extra` bytes) that are wholly present, found by walking
/// their length prefixes. It sizes the vector of decoded entries, so it is bounded by the
/// bytes present, never by a count the peer claims: the walk stops at an entry that is
/// empty (never a valid filter) or cut short, and each entry counted takes at least
/// `3 + extra` bytes. The reads that follow check every entry.
#[inline]
fn count_entries(payload: &[u8], extra: usize) -> usize {
    let mut n = 0;
    let mut rest = payload;
    while let Some((len, after)) = rest.split_first_chunk::<2>() {
        let len = usize::from(u16::from_be_bytes(*len));
        match after.get(len + extra..) {
            Some(next) if len > 0 => rest = next,
            _ => break,
        }
        n += 1;
    }
    n
}

/// Size of the variable header and payload, checked against the largest remaining length.
fn remaining_len<P: Body>(p: &P, version: ProtocolVersion) -> Result<usize, EncodeError> {
    let mut c = Counter::default();
    p.write(version, &mut c)?;
    if c.0 > crate::codec::MAX_VAR_INT as usize {
        return Err(EncodeError::PacketTooLarge);
    }
    Ok(c.0)
}

pub(crate) fn encoded_len<P: Body>(p: &P, version: ProtocolVersion) -> Result<usize, EncodeError> {
    let rem = remaining_len(p, version)?;
    Ok(1 + var_int_len(rem as u32) + rem)
}

/// Checks the buffer's free space for `total` bytes, so that no write can panic.
#[inline]
fn check_room<B: BufMut + ?Sized>(buf: &B, total: usize) -> Result<(), EncodeError> {
    if buf.remaining_mut() < total {
        return Err(EncodeError::BufferTooSmall {
            needed: total,
            available: buf.remaining_mut(),
        });
    }
    Ok(())
}

/// Writes the fixed header for a body of `rem` bytes, checking the buffer's free space for
/// `total` bytes first.
fn write_fixed_header<P: Body, B: BufMut + ?Sized>(
    p: &P,
    rem: usize,
    total: usize,
    buf: &mut B,
) -> Result<(), EncodeError> {
    check_room(buf, total)?;
    let mut w = Writer(buf);
    w.put_u8(((P::TYPE as u8) << 4) | p.flags());
    w.put_var_int(rem as u32)
}

pub(crate) fn encode<P: Body, B: BufMut + ?Sized>(
    p: &P,
    version: ProtocolVersion,
    buf: &mut B,
) -> Result<usize, EncodeError> {
    let rem = remaining_len(p, version)?;
    let total = 1 + var_int_len(rem as u32) + rem;
    write_fixed_header(p, rem, total, buf)?;
    p.write(version, &mut Writer(buf))?;
    Ok(total)
}

/// A packet sized from its field lengths, each property list counted once, and then
/// written in one pass. Its `layout` performs every check the encoding makes, in the order
/// the fields are written, so `encode` and `encoded_len` fail alike; `write` cannot fail
/// on a layout that `layout` returned.
pub(crate) trait Laid {
    /// What `write` needs besides the packet: the lengths of its property lists.
    type Layout;

    /// Checks the packet for `version` and returns its remaining length (checked against
    /// the largest one) and its layout.
    fn layout(&self, version: ProtocolVersion) -> Result<(u32, Self::Layout), EncodeError>;

    /// Writes the whole packet, fixed header included, into a sink with room for it.
    fn write<S: Out>(
        &self,
        version: ProtocolVersion,
        rem: u32,
        layout: &Self::Layout,
        s: &mut S,
    ) -> Result<(), EncodeError>;
}

/// Encodes a [`Laid`] packet.
///
/// A packet of at most [`STAGE`] bytes is assembled in an array on the stack and appended
/// with one copy: a small write into the array is a store, where an append to the buffer
/// also checks its capacity and updates its length, and the strings of a CONNECT or
/// SUBSCRIBE (mostly under 32 bytes) are copied inline instead of by calls to `memcpy`.
/// The packets' writers are inlined here (`#[inline(always)]`) and never hand the stage
/// itself to a call ([`Out::put_fields`]), so that its length stays in a register rather
/// than being stored and reloaded by every write. A larger packet is written straight into
/// the buffer.
#[inline]
fn encode_laid<P: Laid, B: BufMut + ?Sized>(
    p: &P,
    version: ProtocolVersion,
    buf: &mut B,
) -> Result<usize, EncodeError> {
    let (rem, layout) = p.layout(version)?;
    let total = packet_len(rem);
    check_room(buf, total)?;
    if total <= STAGE {
        let mut array = [0; STAGE];
        let mut stage = Stage {
            buf: &mut array,
            len: 0,
        };
        p.write(version, rem, &layout, &mut stage)?;
        debug_assert_eq!(stage.len, total, "the layout and the writer disagree");
        if stage.len == total
            && let Some(bytes) = array.get(..total)
        {
            buf.put_slice(bytes);
            return Ok(total);
        }
    }
    p.write(version, rem, &layout, &mut Writer(buf))?;
    Ok(total)
}

/// The largest packet [`encode_laid`] assembles on the stack: the typical CONNECT and
/// SUBSCRIBE fit, and an array this small is zeroed by a few inline stores.
const STAGE: usize = 192;

/// A packet assembled in an array on the stack.
struct Stage<'a> {
    buf: &'a mut [u8; STAGE],
    /// Bytes written; beyond [`STAGE`] if more were written than fit (and then dropped).
    len: usize,
}

impl Stage<'_> {
    /// The next `n` bytes of the stage, counted as written; `None` past its end.
    #[inline(always)]
    fn next(&mut self, n: usize) -> Option<&mut [u8]> {
        let start = self.len;
        self.len += n;
        self.buf.get_mut(start..self.len)
    }
}

/// Where a [`Laid`] packet is written: a [`Sink`] (property lists are written through it)
/// that also takes arrays of a constant size, and the bytes of strings apart.
pub(crate) trait Out: Sink {
    /// Writes an array.
    fn put_array<const N: usize>(&mut self, a: [u8; N]);
    /// Writes two arrays.
    fn put_pair<const M: usize, const N: usize>(&mut self, a: [u8; M], b: [u8; N]);
    /// Writes the bytes of a string or binary field.
    fn put_bytes(&mut self, bytes: &[u8]);
    /// Writes the properties of a property list.
    fn put_fields<P: PropertyList>(&mut self, p: &P) -> Result<(), EncodeError>;
}

impl<B: BufMut + ?Sized> Out for Writer<'_, B> {
    #[inline(always)]
    fn put_array<const N: usize>(&mut self, a: [u8; N]) {
        self.0.put_slice(&a);
    }

    /// As one slice: one capacity check.
    #[inline(always)]
    fn put_pair<const M: usize, const N: usize>(&mut self, a: [u8; M], b: [u8; N]) {
        const { assert!(M + N <= 32, "at most 32 bytes") };
        let mut out = [0u8; 32];
        if let Some(o) = out.get_mut(..M) {
            o.copy_from_slice(&a);
        }
        if let Some(o) = out.get_mut(M..M + N) {
            o.copy_from_slice(&b);
        }
        self.0.put_slice(out.get(..M + N).unwrap_or_default());
    }

    #[inline(always)]
    fn put_bytes(&mut self, bytes: &[u8]) {
        self.0.put_slice(bytes);
    }

    #[inline(always)]
    fn put_fields<P: PropertyList>(&mut self, p: &P) -> Result<(), EncodeError> {
        p.write_fields(self)
    }
}

impl Out for Stage<'_> {
    #[inline(always)]
    fn put_array<const N: usize>(&mut self, a: [u8; N]) {
        if let Some(d) = self.next(N).and_then(<[u8]>::first_chunk_mut::<N>) {
            *d = a;
        }
    }

    #[inline(always)]
    fn put_pair<const M: usize, const N: usize>(&mut self, a: [u8; M], b: [u8; N]) {
        self.put_array(a);
        self.put_array(b);
    }

    /// Up to 32 bytes are copied inline, in a few fixed-size pieces.
    #[inline(always)]
    fn put_bytes(&mut self, bytes: &[u8]) {
        let Some(d) = self.next(bytes.len()) else {
            return;
        };
        match bytes.len() {
            0 => {}
            1..4 => {
                for i in [0, bytes.len() / 2, bytes.len() - 1] {
                    if let (Some(d), Some(&b)) = (d.get_mut(i), bytes.get(i)) {
                        *d = b;
                    }
                }
            }
            4..8 => copy_ends::<4>(d, bytes),
            _ => copy_long(d, bytes),
        }
    }

    /// Through a second view of the array, so that this one does not escape into the
    /// property writer: its length then stays in a register.
    #[inline(always)]
    fn put_fields<P: PropertyList>(&mut self, p: &P) -> Result<(), EncodeError> {
        let mut fields = Stage {
            buf: &mut *self.buf,
            len: self.len,
        };
        let written = p.write_fields(&mut fields);
        self.len = fields.len;
        written
    }
}

impl Sink for Stage<'_> {
    #[inline(always)]
    fn put_u8(&mut self, v: u8) {
        self.put_array([v]);
    }

    #[inline(always)]
    fn put_u16(&mut self, v: u16) {
        self.put_array(v.to_be_bytes());
    }

    /// Property lists write small arrays through this. Those are copied whole: reading an
    /// array just stored piecewise in wider, overlapping pieces would stall on the stores.
    #[inline(always)]
    fn put_slice(&mut self, s: &[u8]) {
        if let Some(d) = self.next(s.len()) {
            copy_long(d, s);
        }
    }
}

/// Copies `s` into `d` of the same length: 8 to 32 bytes as two overlapping pieces of
/// `K` bytes, anything else by `copy_from_slice`.
#[inline(always)]
fn copy_long(d: &mut [u8], s: &[u8]) {
    match s.len() {
        8..16 => copy_ends::<8>(d, s),
        16..=32 => copy_ends::<16>(d, s),
        _ => {
            if d.len() == s.len() {
                d.copy_from_slice(s);
            }
        }
    }
}

/// Copies `s` into `d` of the same length, `K` to `2 * K` bytes, as two overlapping
/// pieces: the first and the last `K` bytes.
#[inline(always)]
fn copy_ends<const K: usize>(d: &mut [u8], s: &[u8]) {
    if let (Some(d), Some(s)) = (d.first_chunk_mut::<K>(), s.first_chunk::<K>()) {
        *d = *s;
    }
    if let (Some(d), Some(s)) = (d.last_chunk_mut::<K>(), s.last_chunk::<K>()) {
        *d = *s;
    }
}

/// The size of a packet whose remaining length is `rem`.
#[inline]
fn packet_len(rem: u32) -> usize {
    1 + var_int_len(rem) + rem as usize
}

/// A remaining length, or [`EncodeError::PacketTooLarge`] if a fixed header cannot carry it.
#[inline]
pub(crate) fn checked_rem(rem: usize) -> Result<u32, EncodeError> {
    u32::try_from(rem)
        .ok()
        .filter(|&r| r <= crate::codec::MAX_VAR_INT)
        .ok_or(EncodeError::PacketTooLarge)
}

/// The length of a property list's properties, counted once, and what the list takes with
/// its length prefix.
#[inline]
pub(crate) fn list_len<P: PropertyList>(p: &P) -> Result<(u32, usize), EncodeError> {
    let mut c = Counter::default();
    p.write_fields(&mut c)?;
    let n = checked_rem(c.0)?;
    Ok((n, var_int_len(n) + c.0))
}

/// Writes a property list whose properties take `n` bytes.
#[inline]
pub(crate) fn put_list<P: PropertyList, S: Out>(
    p: &P,
    n: u32,
    s: &mut S,
) -> Result<(), EncodeError> {
    s.put_var_int(n)?;
    s.put_fields(p)
}

/// Writes the fixed header, a packet identifier and, in 5.0 (`list` is the length of the
/// property list then), the property list.
#[inline(always)]
pub(crate) fn put_id_and_properties<S: Out, P: PropertyList>(
    s: &mut S,
    first: u8,
    rem: u32,
    id: crate::PacketId,
    properties: &P,
    list: Option<u32>,
) -> Result<(), EncodeError> {
    let [hi, lo] = id.get().to_be_bytes();
    match list {
        // A property list shorter than 128 bytes has a one-byte length.
        Some(n) if n < 0x80 => {
            put_header(s, first, rem, [hi, lo, n as u8]);
            s.put_fields(properties)
        }
        Some(n) => {
            put_header(s, first, rem, [hi, lo]);
            put_list(properties, n, s)
        }
        None => {
            put_header(s, first, rem, [hi, lo]);
            Ok(())
        }
    }
}

/// Writes the fixed header (first byte and remaining length) and the `N` bytes after it
/// as one slice of constant length.
#[inline(always)]
pub(crate) fn put_header<S: Out, const N: usize>(s: &mut S, first: u8, rem: u32, next: [u8; N]) {
    let b = |shift: u32| (rem >> shift) as u8 & 0x7F;
    match var_int_len(rem) {
        1 => s.put_pair([first, rem as u8], next),
        2 => s.put_pair([first, b(0) | 0x80, b(7)], next),
        3 => s.put_pair([first, b(0) | 0x80, b(7) | 0x80, b(14)], next),
        _ => s.put_pair([first, b(0) | 0x80, b(7) | 0x80, b(14) | 0x80, b(21)], next),
    }
}

/// Writes the two-byte length and the bytes of a string or binary field whose length was
/// checked by the layout.
#[inline(always)]
pub(crate) fn put_prefixed<S: Out>(s: &mut S, bytes: &[u8]) {
    s.put_array((bytes.len() as u16).to_be_bytes());
    s.put_bytes(bytes);
}

/// The length of a binary field with its two-byte length prefix.
#[inline]
pub(crate) fn binary_len(what: &'static str, bytes: &[u8]) -> Result<usize, EncodeError> {
    u16::try_from(bytes.len()).map_err(|_| EncodeError::FieldTooLong(what))?;
    Ok(2 + bytes.len())
}

macro_rules! impl_encode_laid {
    ($($ty:ident),*) => {$(
        impl $ty {
            /// Appends the encoded packet to `buf`, returning the number of bytes written.
            ///
            /// # Errors
            /// An [`EncodeError`] if the packet holds something `version` cannot carry, or
            /// `buf` lacks room (nothing is written then).
            #[inline]
            pub fn encode<B: BufMut + ?Sized>(
                &self,
                version: ProtocolVersion,
                buf: &mut B,
            ) -> Result<usize, EncodeError> {
                encode_laid(self, version, buf)
            }

            /// The number of bytes [`Self::encode`] writes, from the same layout.
            ///
            /// # Errors
            /// The same errors as [`Self::encode`], but for buffer space.
            #[inline]
            pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
                Ok(packet_len(Laid::layout(self, version)?.0))
            }
        }
    )*};
}

impl_encode_laid!(Connect, Subscribe, Unsubscribe);

macro_rules! impl_encode {
    ($($ty:ident),*) => {$(
        impl $ty {
            /// Appends the encoded packet to `buf`, returning the number of bytes written.
            ///
            /// # Errors
            /// An [`EncodeError`] if the packet holds something `version` cannot carry, or
            /// `buf` lacks room (nothing is written then).
            pub fn encode<B: BufMut + ?Sized>(
                &self,
                version: ProtocolVersion,
                buf: &mut B,
            ) -> Result<usize, EncodeError> {
                encode(self, version, buf)
            }

            /// The number of bytes [`Self::encode`] writes, computed by the same code.
            ///
            /// # Errors
            /// The same errors as [`Self::encode`], but for buffer space.
            pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
                encoded_len(self, version)
            }
        }
    )*};
}

impl_encode!(
    ConnAck, PubAck, PubRec, PubRel, PubComp, SubAck, UnsubAck, Disconnect, Auth
);

macro_rules! empty_body {
    ($($name:ident = $ty:ident),*) => {$(
        /// PINGREQ and PINGRESP have no variable header and no payload.
        struct $name;

        impl Body for $name {
            const TYPE: PacketType = PacketType::$ty;
            fn write<S: Sink>(&self, _: ProtocolVersion, _: &mut S) -> Result<(), EncodeError> {
                Ok(())
            }
        }

        impl Read for $name {
            fn read(_: u8, r: &mut Reader) -> Result<Self, DecodeError> {
                r.finish()?;
                Ok(Self)
            }
        }

        impl $name {
            fn encode<B: BufMut + ?Sized>(
                &self,
                version: ProtocolVersion,
                buf: &mut B,
            ) -> Result<usize, EncodeError> {
                encode(self, version, buf)
            }

            fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
                encoded_len(self, version)
            }
        }
    )*};
}

empty_body!(PingReqBody = PingReq, PingRespBody = PingResp);

macro_rules! dispatch {
    ($self:expr, $p:ident => $e:expr) => {
        match $self {
            Packet::Connect(b) => {
                let $p = &**b;
                $e
            }
            Packet::ConnAck(b) => {
                let $p = &**b;
                $e
            }
            Packet::Publish($p) => $e,
            Packet::PubAck($p) => $e,
            Packet::PubRec($p) => $e,
            Packet::PubRel($p) => $e,
            Packet::PubComp($p) => $e,
            Packet::Subscribe($p) => $e,
            Packet::SubAck($p) => $e,
            Packet::Unsubscribe($p) => $e,
            Packet::UnsubAck($p) => $e,
            Packet::PingReq => {
                let $p = &PingReqBody;
                $e
            }
            Packet::PingResp => {
                let $p = &PingRespBody;
                $e
            }
            Packet::Disconnect(b) => {
                let $p = &**b;
                $e
            }
            Packet::Auth(b) => {
                let $p = &**b;
                $e
            }
        }
    };
}

impl Packet {
    /// The packet's type.
    #[must_use]
    pub const fn packet_type(&self) -> PacketType {
        match self {
            Self::Connect(_) => PacketType::Connect,
            Self::ConnAck(_) => PacketType::ConnAck,
            Self::Publish(_) => PacketType::Publish,
            Self::PubAck(_) => PacketType::PubAck,
            Self::PubRec(_) => PacketType::PubRec,
            Self::PubRel(_) => PacketType::PubRel,
            Self::PubComp(_) => PacketType::PubComp,
            Self::Subscribe(_) => PacketType::Subscribe,
            Self::SubAck(_) => PacketType::SubAck,
            Self::Unsubscribe(_) => PacketType::Unsubscribe,
            Self::UnsubAck(_) => PacketType::UnsubAck,
            Self::PingReq => PacketType::PingReq,
            Self::PingResp => PacketType::PingResp,
            Self::Disconnect(_) => PacketType::Disconnect,
            Self::Auth(_) => PacketType::Auth,
        }
    }

    /// Appends the encoded packet to `buf`, returning the number of bytes written.
    ///
    /// A CONNECT is encoded for its own `protocol`; every other packet for `version`.
    ///
    /// ```
    /// use mqtt_proto::{Packet, ProtocolVersion};
    /// let mut buf = Vec::new();
    /// Packet::PingReq.encode(ProtocolVersion::V3_1_1, &mut buf).unwrap();
    /// assert_eq!(buf, [0xC0, 0x00]);
    /// ```
    ///
    /// # Errors
    /// An [`EncodeError`] if the packet holds a field that `version` does not have, a value
    /// out of range, or `buf` lacks room (nothing is written then).
    pub fn encode<B: BufMut + ?Sized>(
        &self,
        version: ProtocolVersion,
        buf: &mut B,
    ) -> Result<usize, EncodeError> {
        dispatch!(self, p => p.encode(version, buf))
    }

    /// The number of bytes [`Packet::encode`] writes, computed by the same code.
    ///
    /// # Errors
    /// The same errors as [`Packet::encode`], but for buffer space.
    pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        dispatch!(self, p => p.encoded_len(version))
    }

    /// Decodes the variable header and payload of a packet whose fixed header has been read.
    #[inline]
    pub(crate) fn read(
        first_byte: u8,
        body: Bytes,
        version: ProtocolVersion,
        strict_strings: bool,
    ) -> Result<Self, DecodeError> {
        let kind = first_byte >> 4;
        let flags = first_byte & 0x0F;
        let ty = PacketType::from_u8(kind).ok_or(DecodeError::ReservedPacketType(kind))?;
        if ty == PacketType::Auth && !version.is_v5() {
            return Err(DecodeError::ReservedPacketType(kind));
        }
        if ty != PacketType::Publish && !fixed_flags_ok(ty, flags, version) {
            return Err(DecodeError::InvalidFlags { packet: ty, flags });
        }
        let r = &mut Reader::new(body, version, strict_strings);
        Ok(match ty {
            PacketType::Connect => Self::Connect(Box::new(Connect::read(flags, r)?)),
            PacketType::ConnAck => Self::ConnAck(Box::new(ConnAck::read(flags, r)?)),
            PacketType::Publish => Self::Publish(Publish::read(flags, r)?),
            PacketType::PubAck => Self::PubAck(PubAck::read(flags, r)?),
            PacketType::PubRec => Self::PubRec(PubRec::read(flags, r)?),
            PacketType::PubRel => Self::PubRel(PubRel::read(flags, r)?),
            PacketType::PubComp => Self::PubComp(PubComp::read(flags, r)?),
            PacketType::Subscribe => Self::Subscribe(Subscribe::read(flags, r)?),
            PacketType::SubAck => Self::SubAck(SubAck::read(flags, r)?),
            PacketType::Unsubscribe => Self::Unsubscribe(Unsubscribe::read(flags, r)?),
            PacketType::UnsubAck => Self::UnsubAck(UnsubAck::read(flags, r)?),
            PacketType::PingReq => {
                PingReqBody::read(flags, r)?;
                Self::PingReq
            }
            PacketType::PingResp => {
                PingRespBody::read(flags, r)?;
                Self::PingResp
            }
            PacketType::Disconnect => Self::Disconnect(Box::new(Disconnect::read(flags, r)?)),
            PacketType::Auth => Self::Auth(Box::new(Auth::read(flags, r)?)),
        })
    }
}

/// [MQTT-2.1.3-1]: reserved flag bits hold exactly the listed values. MQTT 3.1 let a
/// client set DUP on a retransmitted PUBREL, SUBSCRIBE or UNSUBSCRIBE, so 3.1 accepts it.
fn fixed_flags_ok(ty: PacketType, flags: u8, version: ProtocolVersion) -> bool {
    let expected = ty.fixed_flags();
    flags == expected
        || (version == ProtocolVersion::V3_1 && expected != 0 && flags == expected | 0b1000)
}

macro_rules! packet_from {
    ($($ty:ident),*) => {$(
        impl From<$ty> for Packet {
            fn from(p: $ty) -> Self {
                Self::$ty(p)
            }
        }
    )*};
}

macro_rules! packet_from_boxed {
    ($($ty:ident),*) => {$(
        impl From<$ty> for Packet {
            fn from(p: $ty) -> Self {
                Self::$ty(Box::new(p))
            }
        }

        impl From<Box<$ty>> for Packet {
            fn from(p: Box<$ty>) -> Self {
                Self::$ty(p)
            }
        }
    )*};
}

packet_from_boxed!(Connect, ConnAck, Disconnect, Auth);

packet_from!(
    Publish,
    PubAck,
    PubRec,
    PubRel,
    PubComp,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck
);

#[cfg(test)]
mod laid_tests;
