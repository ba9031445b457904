//! MQTT over WebSocket: byte streams over binary frames, on `futures-io`.
//!
//! [`WsStream`] turns a WebSocket into an ordinary byte stream, so the connection task runs the
//! same code over `ws://`/`wss://` as over TCP/TLS (MQTT 5.0 and 3.1.1, section 6). [`accept`]
//! and [`connect`] perform the HTTP upgrade and the `mqtt` subprotocol negotiation. The
//! framing and the handshake rules are `adapter_common::ws`, shared with the tokio adapter;
//! this module maps them onto the `futures-io` traits.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use adapter_common::ws::{self as common, Upgrade, WsBytes};
use async_tungstenite::WebSocketStream;
use futures_lite::{AsyncRead, AsyncWrite};

pub use adapter_common::ws::WsError;

/// A WebSocket carrying an MQTT byte stream, usable as [`AsyncRead`] + [`AsyncWrite`].
///
/// Reading yields the concatenated payloads of binary frames; a text frame is an
/// [`io::ErrorKind::InvalidData`] error [MQTT-6.0.0-1]; a Close frame is end of stream. Each
/// write sends one binary frame, a vectored write all its slices as one frame; frames are
/// buffered until [`poll_flush`](AsyncWrite::poll_flush), and
/// [`poll_close`](AsyncWrite::poll_close) sends a Close frame and closes the underlying
/// stream. See `adapter_common::ws::WsBytes`.
#[derive(Debug)]
pub struct WsStream<S> {
    inner: WsBytes<WebSocketStream<S>>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsStream<S> {
    /// Wraps an established WebSocket.
    pub fn new(inner: WebSocketStream<S>) -> Self {
        Self {
            inner: WsBytes::new(inner),
        }
    }

    /// The underlying stream, e.g. to read the peer certificate of a TLS stream.
    pub fn get_ref(&self) -> &S {
        self.inner.get_ref().get_ref()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let chunk = ready!(self.inner.poll_read(cx, buf.len()))?;
        // `chunk` is at most `buf.len()` long.
        buf.iter_mut().zip(&chunk).for_each(|(b, c)| *b = *c);
        Poll::Ready(Ok(chunk.len()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.inner.poll_close(cx))?;
        Pin::new(self.inner.get_mut().get_mut()).poll_close(cx)
    }
}

/// Performs the server side of the WebSocket upgrade on an accepted stream: the request path
/// must equal `path` (else HTTP 404), the `mqtt` subprotocol (or `mqttv3.1`) is selected when
/// offered, none when none is offered, and a client offering only other subprotocols gets
/// HTTP 400. Messages and frames larger than `max_frame` bytes are refused when read.
///
/// # Errors
/// [`WsError::Refused`] when the request was refused as above, [`WsError::Handshake`] on I/O
/// errors or a malformed request.
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    path: &str,
    max_frame: usize,
) -> Result<WsStream<S>, WsError> {
    let config = common::server_config(max_frame);
    let ws =
        async_tungstenite::accept_hdr_async_with_config(stream, Upgrade::new(path), Some(config))
            .await?;
    Ok(WsStream::new(ws))
}

/// Performs the client side of the WebSocket upgrade over a connected TCP or TLS stream,
/// offering the `mqtt` subprotocol; `url` (`ws://host[:port]/path`) gives the Host header and
/// the path.
///
/// # Errors
/// [`WsError::Url`] for an invalid URL, [`WsError::Refused`] when the server answers with an
/// HTTP error, [`WsError::Subprotocol`] (or [`WsError::Handshake`]) when it does not select
/// `mqtt`, [`WsError::Handshake`] on I/O errors.
pub async fn connect<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    url: &str,
) -> Result<WsStream<S>, WsError> {
    let request = common::client_request(url)?;
    let (ws, response) = async_tungstenite::client_async(request, stream).await?;
    common::check_response(&response)?;
    Ok(WsStream::new(ws))
}
