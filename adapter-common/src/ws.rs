//! MQTT over WebSocket without a runtime: a byte stream over binary frames, and the
//! handshake rules (MQTT 5.0 and 3.1.1, section 6).
//!
//! [`WsBytes`] turns any established WebSocket (a [`Stream`] of tungstenite [`Message`]s
//! that is also a [`Sink`] of them, as both `tokio-tungstenite`'s and `async-tungstenite`'s
//! `WebSocketStream` are) into poll functions over bytes; each adapter's `WsStream` only
//! maps them onto its runtime's `AsyncRead`/`AsyncWrite` traits. [`Upgrade`] is the server
//! side of the handshake (path check, `mqtt` subprotocol), [`client_request`] and
//! [`check_response`] the client side; each adapter's `accept`/`connect` only runs its
//! runtime's handshake with them.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use futures_sink::Sink;
use tungstenite::Message;
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::client;
use tungstenite::handshake::server::{Callback, ErrorResponse, Request, Response};
use tungstenite::http::{HeaderValue, StatusCode, header};
use tungstenite::protocol::WebSocketConfig;

/// The subprotocol name MQTT 3.1.1 and 5.0 register [MQTT-6.0.0-3].
const MQTT: &str = "mqtt";
/// The subprotocol name used by MQTT 3.1 clients; answered with the same name.
const MQTT_V31: &str = "mqttv3.1";

/// A WebSocket handshake failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WsError {
    /// The URL given to `connect` is not a valid `ws://` or `wss://` URL.
    #[error("invalid WebSocket URL {url:?}: {source}")]
    Url {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        source: Box<tungstenite::Error>,
    },
    /// The upgrade was refused with an HTTP status: by us in `accept` (404 wrong path,
    /// 400 no acceptable subprotocol), by the server in `connect`.
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

/// Maps a tungstenite error on an established connection to an I/O error.
#[must_use]
pub fn io_error(e: tungstenite::Error) -> io::Error {
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

/// An MQTT byte stream over an established WebSocket `W`, as poll functions.
///
/// Reading yields the concatenated payloads of binary frames: an MQTT packet may span frames
/// and a frame may hold several packets [MQTT-6.0.0-2]. A text frame is an
/// [`io::ErrorKind::InvalidData`] error, after which the caller must close the connection
/// [MQTT-6.0.0-1]; a Close frame is end of stream. Pings are answered by tungstenite: the Pong
/// goes out on the next read, write or flush, so a connection task that keeps reading answers
/// them.
///
/// Each write sends one binary frame, a vectored write all its slices as one frame. Frames
/// are buffered until [`poll_flush`](Self::poll_flush); [`poll_close`](Self::poll_close)
/// sends a Close frame (the adapter then shuts the underlying stream down).
#[derive(Debug)]
pub struct WsBytes<W> {
    inner: W,
    /// The unread rest of the current binary frame.
    read_buf: Bytes,
    /// A Close frame or the end of the stream was seen.
    eof: bool,
}

impl<W> WsBytes<W> {
    /// Wraps an established WebSocket.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            read_buf: Bytes::new(),
            eof: false,
        }
    }

    /// The WebSocket.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The WebSocket, mutably (to shut its underlying stream down after
    /// [`poll_close`](Self::poll_close)).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }
}

impl<W> WsBytes<W>
where
    W: Stream<Item = Result<Message, tungstenite::Error>>
        + Sink<Message, Error = tungstenite::Error>
        + Unpin,
{
    /// Reads up to `max` bytes, without copying: empty at the end of the stream (or when
    /// `max` is 0).
    ///
    /// # Errors
    /// A text frame ([`io::ErrorKind::InvalidData`]), an oversized or malformed frame, or the
    /// transport's error.
    pub fn poll_read(&mut self, cx: &mut Context<'_>, max: usize) -> Poll<io::Result<Bytes>> {
        if max == 0 {
            return Poll::Ready(Ok(Bytes::new()));
        }
        while self.read_buf.is_empty() {
            if self.eof {
                return Poll::Ready(Ok(Bytes::new()));
            }
            match ready!(Pin::new(&mut self.inner).poll_next(cx)) {
                Some(Ok(Message::Binary(frame))) => self.read_buf = frame,
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "text WebSocket frame on an MQTT connection [MQTT-6.0.0-1]",
                    )));
                }
                Some(Ok(Message::Close(_))) => {
                    // Try to send tungstenite's queued Close reply now; if the socket is full,
                    // it goes out on shutdown.
                    let _ = Pin::new(&mut self.inner).poll_flush(cx);
                    self.eof = true;
                }
                // Ping, Pong, and raw frames (never returned by reads): the next `poll_next`
                // flushes any queued Pong before reading on.
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Err(io_error(e))),
                None => self.eof = true,
            }
        }
        let n = max.min(self.read_buf.len());
        Poll::Ready(Ok(self.read_buf.split_to(n)))
    }

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

    /// Sends `buf` as one binary frame (queued until a flush).
    ///
    /// # Errors
    /// The connection is closed or the transport failed.
    pub fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.poll_send(cx, || Bytes::copy_from_slice(buf))
    }

    /// Sends all of `bufs` as one binary frame (queued until a flush).
    ///
    /// # Errors
    /// The connection is closed or the transport failed.
    pub fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
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

    /// Sends the queued frames.
    ///
    /// # Errors
    /// The connection is closed or the transport failed.
    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx).map_err(io_error)
    }

    /// Sends a Close frame and flushes (an already closed WebSocket is fine). The adapter
    /// then shuts the underlying stream down.
    ///
    /// # Errors
    /// The transport failed.
    pub fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match ready!(Pin::new(&mut self.inner).poll_close(cx)) {
            Ok(())
            | Err(tungstenite::Error::AlreadyClosed | tungstenite::Error::ConnectionClosed) => {
                Poll::Ready(Ok(()))
            }
            Err(e) => Poll::Ready(Err(io_error(e))),
        }
    }
}

/// The server side of the upgrade, as a tungstenite handshake [`Callback`].
///
/// The request path must equal `path`, otherwise the answer is HTTP 404. The subprotocol
/// `mqtt` is selected when offered (the MQTT 3.1 name `mqttv3.1` is also accepted and
/// echoed); a client offering no subprotocol is accepted leniently, without one; a client
/// offering only other subprotocols gets HTTP 400.
#[derive(Debug, Clone, Copy)]
pub struct Upgrade<'a> {
    path: &'a str,
}

impl<'a> Upgrade<'a> {
    /// The upgrade of requests for `path`.
    #[must_use]
    pub fn new(path: &'a str) -> Self {
        Self { path }
    }
}

impl Callback for Upgrade<'_> {
    // The error type is tungstenite's `Callback` contract, not ours to shrink.
    #[allow(clippy::result_large_err)]
    fn on_request(
        self,
        request: &Request,
        mut response: Response,
    ) -> Result<Response, ErrorResponse> {
        if request.uri().path() != self.path {
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

/// The WebSocket configuration of a server connection: messages and frames larger than
/// `max_frame` bytes are refused when read.
#[must_use]
pub fn server_config(max_frame: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(max_frame))
        .max_frame_size(Some(max_frame))
}

/// The client's upgrade request for `url` (`ws://host[:port]/path` or `wss://...`), offering
/// the `mqtt` subprotocol.
///
/// # Errors
/// [`WsError::Url`] for an invalid URL.
pub fn client_request(url: &str) -> Result<client::Request, WsError> {
    let mut request = url.into_client_request().map_err(|e| WsError::Url {
        url: url.to_owned(),
        source: Box::new(e),
    })?;
    request.headers_mut().insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(MQTT),
    );
    Ok(request)
}

/// Checks that the server's answer to [`client_request`] selected `mqtt`.
///
/// # Errors
/// [`WsError::Subprotocol`] when it selected none (tungstenite already refuses a subprotocol
/// that was not offered).
pub fn check_response(response: &client::Response) -> Result<(), WsError> {
    let selected = response.headers().get(header::SEC_WEBSOCKET_PROTOCOL);
    if selected.is_none_or(|v| v != MQTT) {
        let selected = selected.map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        return Err(WsError::Subprotocol(selected));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::task::Waker;

    /// A WebSocket that yields `incoming` and records what is sent.
    #[derive(Default)]
    struct Mock {
        incoming: VecDeque<Result<Message, tungstenite::Error>>,
        sent: Vec<Message>,
        closed: bool,
    }

    impl Stream for Mock {
        type Item = Result<Message, tungstenite::Error>;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Ready(self.incoming.pop_front())
        }
    }

    impl Sink<Message> for Mock {
        type Error = tungstenite::Error;
        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
        fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
            self.sent.push(item);
            Ok(())
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Result<(), Self::Error>> {
            if std::mem::replace(&mut self.closed, true) {
                return Poll::Ready(Err(tungstenite::Error::AlreadyClosed));
            }
            Poll::Ready(Ok(()))
        }
    }

    fn ws(incoming: impl IntoIterator<Item = Message>) -> WsBytes<Mock> {
        WsBytes::new(Mock {
            incoming: incoming.into_iter().map(Ok).collect(),
            ..Mock::default()
        })
    }

    fn read(ws: &mut WsBytes<Mock>, max: usize) -> io::Result<Bytes> {
        match ws.poll_read(&mut Context::from_waker(Waker::noop()), max) {
            Poll::Ready(r) => r,
            Poll::Pending => panic!("the mock is always ready"),
        }
    }

    #[test]
    fn binary_frames_read_as_one_stream_and_close_is_the_end() {
        // [MQTT-6.0.0-2]: packets span frames, frames hold several packets.
        let mut ws = ws([
            Message::binary(&b"\x30\x07\x00"[..]),
            Message::Ping(Bytes::new()),
            Message::binary(&b"\x03a/bhi\xc0\x00"[..]),
            Message::Close(None),
            Message::binary(&b"after close"[..]),
        ]);
        assert_eq!(read(&mut ws, 64).unwrap(), &b"\x30\x07\x00"[..]);
        assert_eq!(read(&mut ws, 4).unwrap(), &b"\x03a/b"[..]);
        assert_eq!(read(&mut ws, 64).unwrap(), &b"hi\xc0\x00"[..]);
        assert!(read(&mut ws, 64).unwrap().is_empty());
        assert!(read(&mut ws, 64).unwrap().is_empty());
        assert!(read(&mut ws, 0).unwrap().is_empty());
    }

    #[test]
    fn text_frame_is_invalid_data() {
        // [MQTT-6.0.0-1]
        let mut ws = ws([Message::text("\u{10}")]);
        assert_eq!(
            read(&mut ws, 64).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }

    #[test]
    fn a_vectored_write_is_one_binary_frame_and_close_is_idempotent() {
        let mut ws = ws([]);
        let cx = &mut Context::from_waker(Waker::noop());
        let slices = [
            IoSlice::new(b"\x30\x05"),
            IoSlice::new(b""),
            IoSlice::new(b"\x00\x01txy"),
        ];
        assert!(matches!(
            ws.poll_write_vectored(cx, &slices),
            Poll::Ready(Ok(7))
        ));
        assert!(matches!(ws.poll_write(cx, b"\xd0\x00"), Poll::Ready(Ok(2))));
        assert!(matches!(ws.poll_write(cx, b""), Poll::Ready(Ok(0))));
        assert_eq!(
            ws.get_ref().sent,
            [
                Message::binary(&b"\x30\x05\x00\x01txy"[..]),
                Message::binary(&b"\xd0\x00"[..])
            ]
        );
        assert!(matches!(ws.poll_close(cx), Poll::Ready(Ok(()))));
        assert!(matches!(ws.poll_close(cx), Poll::Ready(Ok(()))));
    }

    #[allow(clippy::result_large_err)] // tungstenite's `Callback` answer
    fn upgrade(path: &str, protocols: Option<&'static str>) -> Result<Response, ErrorResponse> {
        let mut request = Request::builder().uri(path).body(()).unwrap();
        if let Some(p) = protocols {
            request
                .headers_mut()
                .insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(p));
        }
        Upgrade::new("/mqtt").on_request(&request, Response::new(()))
    }

    fn selected(response: &Response) -> Option<&str> {
        let v = response.headers().get(header::SEC_WEBSOCKET_PROTOCOL)?;
        v.to_str().ok()
    }

    #[test]
    fn upgrade_checks_the_path_and_selects_the_mqtt_subprotocol() {
        let refused = |r: Result<Response, ErrorResponse>| r.unwrap_err().status();
        assert_eq!(
            refused(upgrade("/other", Some("mqtt"))),
            StatusCode::NOT_FOUND
        );
        // [MQTT-6.0.0-3]
        let ok = upgrade("/mqtt", Some("foo, mqtt")).unwrap();
        assert_eq!(selected(&ok), Some("mqtt"));
        let ok = upgrade("/mqtt", Some("mqttv3.1")).unwrap();
        assert_eq!(selected(&ok), Some("mqttv3.1"));
        let ok = upgrade("/mqtt", None).unwrap();
        assert_eq!(selected(&ok), None);
        assert_eq!(
            refused(upgrade("/mqtt", Some("foo"))),
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn client_side_offers_mqtt_and_needs_it_selected() {
        let request = client_request("ws://127.0.0.1:8080/mqtt").unwrap();
        let offered = request.headers().get(header::SEC_WEBSOCKET_PROTOCOL);
        assert_eq!(offered.map(HeaderValue::as_bytes), Some(&b"mqtt"[..]));
        assert!(matches!(
            client_request("not a url"),
            Err(WsError::Url { .. })
        ));

        let mut response = client::Response::new(None);
        assert!(matches!(
            check_response(&response),
            Err(WsError::Subprotocol(None))
        ));
        response.headers_mut().insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(MQTT),
        );
        assert!(check_response(&response).is_ok());
    }
}
