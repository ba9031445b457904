//! Byte-stream helpers over the `futures-io` traits (the smol adapter's, and the client's
//! [`ClientIo`](crate::client::ClientIo)).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use futures_io::AsyncRead;

/// Reads into the free capacity of `buf` (which the caller reserved), appending.
///
/// `futures-io` reads into initialized memory only, so the free capacity is zeroed first;
/// the drivers keep it small on idle connections (64 bytes after a PINGREQ).
///
/// # Errors
/// The read's.
pub fn poll_read_buf<R: AsyncRead + Unpin + ?Sized>(
    rd: &mut R,
    cx: &mut Context<'_>,
    buf: &mut BytesMut,
) -> Poll<io::Result<usize>> {
    let filled = buf.len();
    buf.resize(buf.capacity(), 0);
    let read = buf
        .get_mut(filled..)
        .map_or(Poll::Ready(Ok(0)), |free| Pin::new(rd).poll_read(cx, free));
    let n = match &read {
        Poll::Ready(Ok(n)) => *n,
        _ => 0,
    };
    buf.truncate(filled + n);
    read
}
