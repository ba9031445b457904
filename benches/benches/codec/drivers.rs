//! Shared bench drivers: decode, decode a stream, encode, and the framing of
//! `mqtt-protocol-core`.

use std::hint::black_box;

use bytes::BytesMut;
use mqtt_protocol_core::mqtt::common::Cursor;
use mqtt_protocol_core::mqtt::connection::{PacketBuildResult, PacketBuilder, RawPacket};

use crate::suite::Group;

/// Decode iterations per timed batch (`iter_batched`), for packets up to a few hundred
/// bytes. A fixed size, not `BatchSize::SmallInput`: that makes batches of a tenth of a
/// sample's iterations (up to ~10^5 here), and criterion writes the routine outputs (the
/// decoded packets, 100-500 bytes each) into a fresh vector of that many inside the
/// timed loop, so the timing measured the page faults of tens of MB of new memory more
/// than the decoding. 128 outputs stay in cache, and the timer overhead per iteration is
/// negligible (see the `overhead` group).
pub(crate) const SMALL_BATCH: u64 = 128;
/// Decode iterations per timed batch for the 16 KiB payloads: 32 inputs are 512 KiB,
/// which stay in L2 as a just-received buffer would be in cache.
pub(crate) const LARGE_BATCH: u64 = 32;

/// Benchmarks decoding one packet per iteration from an owned buffer holding `wire`.
///
/// The buffers are made by the batch's setup (outside the timing); the routine gets the
/// buffer by value and returns it with the decoded packet, so the drop of both is outside
/// the timing as well.
pub(crate) fn bench_decode<'a, O>(
    g: &mut impl Group<'a>,
    codec: &str,
    wire: &'a [u8],
    batch: u64,
    mut decode: impl FnMut(&mut BytesMut) -> O + 'a,
) {
    g.iter_batched(
        codec,
        batch,
        move || BytesMut::from(wire),
        move |mut buf| {
            let out = decode(black_box(&mut buf));
            (buf, black_box(out))
        },
    );
}

/// Packets in one buffer for the stream variant of the PUBLISH decode benches.
pub(crate) const STREAM: usize = 16;

/// Benchmarks decoding a stream of [`STREAM`] copies of `wire` from one buffer, as a
/// connection decodes what one read brought in. The setup makes the buffer and a vector
/// with room for every decoded packet; the routine decodes them all into the vector.
pub(crate) fn bench_decode_stream<'a, O>(
    g: &mut impl Group<'a>,
    codec: &str,
    wire: &[u8],
    batch: u64,
    mut decode: impl FnMut(&mut BytesMut, &mut Vec<O>) + 'a,
) {
    let stream = wire.repeat(STREAM);
    g.iter_batched(
        codec,
        batch,
        move || (BytesMut::from(&stream[..]), Vec::with_capacity(STREAM)),
        move |(mut buf, mut out)| {
            decode(black_box(&mut buf), &mut out);
            assert_eq!(out.len(), STREAM);
            (buf, black_box(out))
        },
    );
}

/// Benchmarks encoding into one reused buffer, reserved once and cleared every iteration.
pub(crate) fn bench_encode<'a>(
    g: &mut impl Group<'a>,
    codec: &str,
    capacity: usize,
    mut encode: impl FnMut(&mut BytesMut) + 'a,
) {
    let mut buf = BytesMut::with_capacity(capacity);
    g.iter(codec, move || {
        buf.clear();
        encode(&mut buf);
        black_box(&buf);
    });
}

/// `mqtt-protocol-core`'s framing: its `PacketBuilder` (one per connection, reused) reads
/// one whole packet from the front of `bytes`.
pub(crate) fn mpc_frame(builder: &mut PacketBuilder, bytes: &[u8]) -> RawPacket {
    mpc_next(builder, &mut Cursor::new(bytes))
}

/// `mqtt-protocol-core`'s framing of the next packet of a stream.
pub(crate) fn mpc_next(builder: &mut PacketBuilder, cursor: &mut Cursor<&[u8]>) -> RawPacket {
    match builder.feed(cursor) {
        PacketBuildResult::Complete(raw) => raw,
        PacketBuildResult::Incomplete => panic!("mqtt-protocol-core: incomplete packet"),
        PacketBuildResult::Error(e) => panic!("mqtt-protocol-core: {e:?}"),
    }
}

/// `mqtt-protocol-core`'s whole encoding of a packet, copied into `buf`. The library has no
/// "encode into this buffer" call: it hands out the packet's pieces as `IoSlice`s
/// (`to_buffers`) or as a freshly allocated `Vec` (`to_continuous_buffer`); copying the
/// slices into the reused buffer is the cheaper of the two (both are measured).
pub(crate) fn copy_slices(slices: &[std::io::IoSlice<'_>], buf: &mut BytesMut) {
    for s in slices {
        buf.extend_from_slice(s);
    }
}

pub(crate) fn payload_inside(payload: &[u8], input: &std::ops::Range<*const u8>) -> bool {
    input.contains(&payload.as_ptr())
}
