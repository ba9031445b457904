//! MQTT over WebSocket: byte streams over binary frames.
//!
//! [`WsStream`] turns a WebSocket into an ordinary byte stream, so the connection task runs the
//! same code over `ws://`/`wss://` as over TCP/TLS (MQTT 5.0 and 3.1.1, section 6). [`accept`]
//! and [`connect`] perform the HTTP upgrade and the `mqtt` subprotocol negotiation.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode, header};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};

/// The subprotocol name MQTT 3.1.1 and 5.0 register [MQTT-6.0.0-3].
const MQTT: &str = "mqtt";
/// The subprotocol name used by MQTT 3.1 clients; answered with the same name.
const MQTT_V31: &str = "mqttv3.1";

/// A WebSocket handshake failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WsError {
    /// The URL given to [`connect`] is not a valid `ws://` or `wss://` URL.
    #[error("invalid WebSocket URL {url:?}: {source}")]
    Url {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        source: Box<tungstenite::Error>,
    },
    /// The upgrade was refused with an HTTP status: by us in [`accept`] (404 wrong path,
    /// 400 no acceptable subprotocol), by the server in [`connect`].
    #[error("WebSocket upgrade refused with HTTP status {0}")]
    Refused(StatusCode),
    /// The server accepted the upgrade without selecting the `mqtt` subprotocol.
    #[error("WebSocket server selected subprotocol {0:?}, expected \"mqtt\"")]
    Subprotocol(Option<String>),
    /// Any other handshake failure (I/O, malformed HTTP, oversized request...).
    #[error("WebSocket handshake failed: {0}")]
    Handshake(Box<tungstenite::Error>),
}

impl From<tungstenite::Error> for WsError {
    fn from(e: tungstenite::Error) -> Self {
        match e {
            tungstenite::Error::Http(response) => Self::Refused(response.status()),
            e => Self::Handshake(Box::new(e)),
        }
    }
}

/// A WebSocket carrying an MQTT byte stream, usable as [`AsyncRead`] + [`AsyncWrite`].
///
/// Reading yields the concatenated payloads of binary frames: an MQTT packet may span frames
/// and a frame may hold several packets [MQTT-6.0.0-2]. A text frame is an
/// [`io::ErrorKind::InvalidData`] error, after which the caller must close the connection
/// [MQTT-6.0.0-1]; a Close frame is end of stream. Pings are answered by tungstenite: the Pong
/// goes out on the next read, write or flush, so a connection task that keeps reading answers
/// them.
///
/// Each [`poll_write`](AsyncWrite::poll_write) sends one binary frame and each
/// [`poll_write_vectored`](AsyncWrite::poll_write_vectored) sends all its slices as one frame.
/// Frames are buffered until [`poll_flush`](AsyncWrite::poll_flush);
/// [`poll_shutdown`](AsyncWrite::poll_shutdown) sends a Close frame and shuts the underlying
/// stream down.
#[derive(Debug)]
pub struct WsStream<S> {
    inner: WebSocketStream<S>,
    /// The unread rest of the current binary frame.
    read_buf: Bytes,
    /// A Close frame or the end of the stream was seen.
    eof: bool,
}

impl<S> WsStream<S> {
    /// Wraps an established WebSocket.
    pub fn new(inner: WebSocketStream<S>) -> Self {
        Self {
            inner,
            read_buf: Bytes::new(),
            eof: false,
        }
    }

    /// The underlying stream, e.g. to read the peer certificate of a TLS stream.
    pub fn get_ref(&self) -> &S
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        self.inner.get_ref()
    }
}

/// Maps a tungstenite error on an established connection to an I/O error.
fn io_error(e: tungstenite::Error) -> io::Error {
    use tungstenite::error::ProtocolError;
    match e {
        tungstenite::Error::Io(e) => e,
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            io::Error::new(io::ErrorKind::BrokenPipe, e)
        }
        tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            io::Error::new(io::ErrorKind::ConnectionReset, e)
        }
        e => io::Error::new(io::ErrorKind::InvalidData, e),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        while this.read_buf.is_empty() {
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut this.inner).poll_next(cx)) {
                Some(Ok(Message::Binary(frame))) => this.read_buf = frame,
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "text WebSocket frame on an MQTT connection [MQTT-6.0.0-1]",
                    )));
                }
                Some(Ok(Message::Close(_))) => {
                    // Try to send tungstenite's queued Close reply now; if the socket is full,
                    // it goes out on shutdown.
                    let _ = Pin::new(&mut this.inner).poll_flush(cx);
                    this.eof = true;
                }
                // Ping, Pong, and raw frames (never returned by reads): the next `poll_next`
                // flushes any queued Pong before reading on.
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Err(io_error(e))),
                None => this.eof = true,
            }
        }
        let n = buf.remaining().min(this.read_buf.len());
        buf.put_slice(&this.read_buf.split_to(n));
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsStream<S> {
    /// Sends one binary frame once the sink has room; `frame` is only built then, so a
    /// pending write copies nothing.
    fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        frame: impl FnOnce() -> Bytes,
    ) -> Poll<io::Result<usize>> {
        let mut inner = Pin::new(&mut self.inner);
        ready!(inner.as_mut().poll_ready(cx)).map_err(io_error)?;
        let frame = frame();
        let len = frame.len();
        inner.start_send(Message::Binary(frame)).map_err(io_error)?;
        Poll::Ready(Ok(len))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.poll_send(cx, || Bytes::copy_from_slice(buf))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len = bufs.iter().map(|b| b.len()).sum();
        if len == 0 {
            return Poll::Ready(Ok(0));
        }
        self.poll_send(cx, || {
            let mut frame = BytesMut::with_capacity(len);
            for b in bufs {
                frame.extend_from_slice(b);
            }
            frame.freeze()
        })
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx).map_err(io_error)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match ready!(Pin::new(&mut self.inner).poll_close(cx)) {
            Ok(())
            | Err(tungstenite::Error::AlreadyClosed | tungstenite::Error::ConnectionClosed) => {}
            Err(e) => return Poll::Ready(Err(io_error(e))),
        }
        Pin::new(self.inner.get_mut()).poll_shutdown(cx)
    }
}

/// The subprotocols a handshake request offers, in order.
fn offered_subprotocols(request: &Request) -> impl Iterator<Item = &str> {
    request
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
}

/// An HTTP error answer to a refused upgrade.
fn refuse(status: StatusCode, reason: &str) -> ErrorResponse {
    let mut response = ErrorResponse::new(Some(reason.to_owned()));
    *response.status_mut() = status;
    response
}

/// Performs the server side of the WebSocket upgrade on an accepted stream.
///
/// The request path must equal `path`, otherwise the answer is HTTP 404. The subprotocol `mqtt`
/// is selected when offered (the MQTT 3.1 name `mqttv3.1` is also accepted and echoed); a
/// client offering no subprotocol is accepted leniently, without one; a client offering only
/// other subprotocols gets HTTP 400. Messages and frames larger than `max_frame` bytes are
/// refused when read.
///
/// # Errors
///
/// [`WsError::Refused`] when the request was refused as above, [`WsError::Handshake`] on I/O
/// errors or a malformed request.
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    path: &str,
    max_frame: usize,
) -> Result<WsStream<S>, WsError> {
    // The error type is tungstenite's `Callback` contract, not ours to shrink.
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, mut response: Response| {
        if request.uri().path() != path {
            return Err(refuse(StatusCode::NOT_FOUND, "unknown path"));
        }
        let offers = |name| offered_subprotocols(request).any(|p| p == name);
        let selected = if offers(MQTT) {
            MQTT
        } else if offers(MQTT_V31) {
            MQTT_V31
        } else if offered_subprotocols(request).next().is_none() {
            // Lenient like Mosquitto: no subprotocol offered, none answered.
            return Ok(response);
        } else {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "subprotocol \"mqtt\" required",
            ));
        };
        response.headers_mut().insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(selected),
        );
        Ok(response)
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(max_frame))
        .max_frame_size(Some(max_frame));
    let ws =
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config)).await?;
    Ok(WsStream::new(ws))
}

/// Performs the client side of the WebSocket upgrade over a connected TCP or TLS stream,
/// offering the `mqtt` subprotocol.
///
/// `url` (`ws://host[:port]/path` or `wss://...`) gives the Host header and the path; TLS, if
/// any, must already be set up on `stream`.
///
/// # Errors
///
/// [`WsError::Url`] for an invalid URL, [`WsError::Refused`] when the server answers with an
/// HTTP error, [`WsError::Subprotocol`] (or [`WsError::Handshake`]) when it does not select
/// `mqtt`, [`WsError::Handshake`] on I/O errors.
pub async fn connect<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    url: &str,
) -> Result<WsStream<S>, WsError> {
    let mut request = url.into_client_request().map_err(|e| WsError::Url {
        url: url.to_owned(),
        source: Box::new(e),
    })?;
    request.headers_mut().insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(MQTT),
    );
    let (ws, response) = tokio_tungstenite::client_async(request, stream).await?;
    // tungstenite already refuses a subprotocol we did not offer; this also catches none.
    let selected = response.headers().get(header::SEC_WEBSOCKET_PROTOCOL);
    if selected.is_none_or(|v| v != MQTT) {
        let selected = selected.map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        return Err(WsError::Subprotocol(selected));
    }
    Ok(WsStream::new(ws))
}
