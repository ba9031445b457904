//! MQTT over WebSocket on loopback: framing, subprotocol negotiation, refusals.

use std::io::{ErrorKind, IoSlice};
use std::net::SocketAddr;
use std::time::Duration;

use adapter_tokio::ws::{self, WsError, WsStream};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Response;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode, header};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::{self, Message};

const LIMIT: Duration = Duration::from_secs(10);
const PATH: &str = "/mqtt";
const MAX_FRAME: usize = 1024;

async fn bounded<F: Future>(test: F) -> F::Output {
    tokio::time::timeout(LIMIT, test)
        .await
        .expect("test timed out")
}

/// A listener on 127.0.0.1:0 whose first connection is upgraded with [`ws::accept`].
async fn server() -> (
    SocketAddr,
    tokio::task::JoinHandle<Result<WsStream<TcpStream>, WsError>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        ws::accept(tcp, PATH, MAX_FRAME).await
    });
    (addr, task)
}

/// A tungstenite client offering `protocols` (a raw header value), if any.
async fn raw_client(
    addr: SocketAddr,
    path: &str,
    protocols: Option<&'static str>,
) -> Result<(WebSocketStream<TcpStream>, Response), tungstenite::Error> {
    let mut request = format!("ws://{addr}{path}").into_client_request().unwrap();
    if let Some(p) = protocols {
        request
            .headers_mut()
            .insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(p));
    }
    let tcp = TcpStream::connect(addr).await.unwrap();
    tokio_tungstenite::client_async(request, tcp).await
}

/// A connected pair: our server and our client.
async fn pair() -> (WsStream<TcpStream>, WsStream<TcpStream>) {
    let (addr, server) = server().await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let client = ws::connect(tcp, &format!("ws://{addr}{PATH}"))
        .await
        .unwrap();
    (server.await.unwrap().unwrap(), client)
}

fn selected(response: &Response) -> Option<&str> {
    response
        .headers()
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn bytes_from_several_writes_arrive_in_order() {
    bounded(async {
        let (mut server, mut client) = pair().await;
        for chunk in [&b"\x10\x0c"[..], b"\x00\x04MQTT", b"\x05\x02\x00\x3c\x00"] {
            client.write_all(chunk).await.unwrap();
        }
        client.flush().await.unwrap();
        let mut buf = [0; 13];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"\x10\x0c\x00\x04MQTT\x05\x02\x00\x3c\x00");

        server.write_all(b"\x20\x02\x00\x00").await.unwrap();
        server.flush().await.unwrap();
        let mut buf = [0; 4];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"\x20\x02\x00\x00");
    })
    .await;
}

#[tokio::test]
async fn vectored_write_is_one_binary_frame() {
    bounded(async {
        let (addr, server) = server().await;
        let (mut raw, _) = raw_client(addr, PATH, Some("mqtt")).await.unwrap();
        let mut server = server.await.unwrap().unwrap();
        assert!(AsyncWrite::is_write_vectored(&server));

        let slices = [
            IoSlice::new(b"\x30\x05"),
            IoSlice::new(b"\x00\x01t"),
            IoSlice::new(b"xy"),
        ];
        assert_eq!(server.write_vectored(&slices).await.unwrap(), 7);
        server.write_all(b"\xd0\x00").await.unwrap();
        server.flush().await.unwrap();

        let first = raw.next().await.unwrap().unwrap();
        assert_eq!(first, Message::binary(&b"\x30\x05\x00\x01txy"[..]));
        let second = raw.next().await.unwrap().unwrap();
        assert_eq!(second, Message::binary(&b"\xd0\x00"[..]));
    })
    .await;
}

#[tokio::test]
async fn packets_split_across_frames_and_frames_holding_several_packets_read_whole() {
    bounded(async {
        let (addr, server) = server().await;
        let (mut raw, _) = raw_client(addr, PATH, Some("mqtt")).await.unwrap();
        let mut server = server.await.unwrap().unwrap();

        // [MQTT-6.0.0-2]: a PUBLISH one byte per binary message, then two PINGREQs in one.
        let publish = b"\x30\x07\x00\x03a/bhi";
        for byte in publish {
            raw.feed(Message::binary(vec![*byte])).await.unwrap();
        }
        raw.feed(Message::binary(&b"\xc0\x00\xc0\x00"[..]))
            .await
            .unwrap();
        // A fragmented message: a binary frame and continuation frames.
        let fragments = [
            Frame::message(&b"\x30"[..], OpCode::Data(Data::Binary), false),
            Frame::message(&b"\x03\x00"[..], OpCode::Data(Data::Continue), false),
            Frame::message(&b"\x01z"[..], OpCode::Data(Data::Continue), true),
        ];
        for frame in fragments {
            raw.feed(Message::Frame(frame)).await.unwrap();
        }
        raw.flush().await.unwrap();

        let mut buf = [0; 9];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, publish);
        let mut buf = [0; 2];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"\xc0\x00");
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"\xc0\x00");
        let mut buf = [0; 5];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"\x30\x03\x00\x01z");
    })
    .await;
}

#[tokio::test]
async fn text_frame_is_invalid_data() {
    bounded(async {
        let (addr, server) = server().await;
        let (mut raw, _) = raw_client(addr, PATH, Some("mqtt")).await.unwrap();
        let mut server = server.await.unwrap().unwrap();
        // [MQTT-6.0.0-1]
        raw.send(Message::text("\u{10}")).await.unwrap();
        let mut buf = [0; 1];
        let err = server.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
    })
    .await;
}

#[tokio::test]
async fn oversized_message_is_an_error() {
    bounded(async {
        let (addr, server) = server().await;
        let (mut raw, _) = raw_client(addr, PATH, Some("mqtt")).await.unwrap();
        let mut server = server.await.unwrap().unwrap();
        raw.send(Message::binary(vec![0; MAX_FRAME + 1]))
            .await
            .unwrap();
        let mut buf = [0; 1];
        assert!(server.read(&mut buf).await.is_err());
    })
    .await;
}

#[tokio::test]
async fn ping_is_answered_while_the_server_reads() {
    bounded(async {
        let (addr, server) = server().await;
        let (mut raw, _) = raw_client(addr, PATH, Some("mqtt")).await.unwrap();
        let mut server = server.await.unwrap().unwrap();
        let reader = tokio::spawn(async move {
            let mut buf = [0; 1];
            server.read_exact(&mut buf).await.map(|_| buf)
        });
        raw.send(Message::Ping(b"hi"[..].into())).await.unwrap();
        assert_eq!(
            raw.next().await.unwrap().unwrap(),
            Message::Pong(b"hi"[..].into())
        );
        raw.send(Message::binary(&b"\xe0"[..])).await.unwrap();
        assert_eq!(reader.await.unwrap().unwrap(), [0xe0]);
    })
    .await;
}

#[tokio::test]
async fn shutdown_sends_close_and_the_peer_reads_eof() {
    bounded(async {
        let (mut server, mut client) = pair().await;
        client.write_all(b"\xe0\x00").await.unwrap();
        client.shutdown().await.unwrap();
        let mut buf = Vec::new();
        server.read_to_end(&mut buf).await.unwrap();
        assert_eq!(buf, b"\xe0\x00");
        assert_eq!(server.read(&mut [0; 1]).await.unwrap(), 0);
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn raw_peer_sees_close_frame_on_shutdown() {
    bounded(async {
        let (addr, server) = server().await;
        let (mut raw, _) = raw_client(addr, PATH, Some("mqtt")).await.unwrap();
        let mut server = server.await.unwrap().unwrap();
        server.shutdown().await.unwrap();
        assert!(matches!(raw.next().await, Some(Ok(Message::Close(_)))));
    })
    .await;
}

#[tokio::test]
async fn wrong_path_is_refused_with_404() {
    bounded(async {
        let (addr, server) = server().await;
        let tcp = TcpStream::connect(addr).await.unwrap();
        let client = ws::connect(tcp, &format!("ws://{addr}/other")).await;
        assert!(
            matches!(client, Err(WsError::Refused(StatusCode::NOT_FOUND))),
            "{client:?}"
        );
        let server = server.await.unwrap();
        assert!(
            matches!(server, Err(WsError::Refused(StatusCode::NOT_FOUND))),
            "{server:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn mqtt_subprotocol_is_selected() {
    bounded(async {
        let (addr, server) = server().await;
        let (_raw, response) = raw_client(addr, PATH, Some("foo, mqtt")).await.unwrap();
        assert_eq!(selected(&response), Some("mqtt"));
        server.await.unwrap().unwrap();
    })
    .await;
}

#[tokio::test]
async fn legacy_mqttv31_subprotocol_is_echoed() {
    bounded(async {
        let (addr, server) = server().await;
        let (_raw, response) = raw_client(addr, PATH, Some("mqttv3.1")).await.unwrap();
        assert_eq!(selected(&response), Some("mqttv3.1"));
        server.await.unwrap().unwrap();
    })
    .await;
}

#[tokio::test]
async fn no_subprotocol_is_accepted_without_one() {
    bounded(async {
        let (addr, server) = server().await;
        let (_raw, response) = raw_client(addr, PATH, None).await.unwrap();
        assert_eq!(selected(&response), None);
        server.await.unwrap().unwrap();
    })
    .await;
}

#[tokio::test]
async fn only_other_subprotocols_are_refused_with_400() {
    bounded(async {
        let (addr, server) = server().await;
        let client = raw_client(addr, PATH, Some("foo")).await;
        match client {
            Err(tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), StatusCode::BAD_REQUEST);
            }
            other => panic!("expected HTTP 400, got {other:?}"),
        }
        let server = server.await.unwrap();
        assert!(
            matches!(server, Err(WsError::Refused(StatusCode::BAD_REQUEST))),
            "{server:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn connect_requires_the_server_to_select_mqtt() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            // A server that ignores the offered subprotocol.
            tokio_tungstenite::accept_async(tcp).await
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let client = ws::connect(tcp, &format!("ws://{addr}{PATH}")).await;
        assert!(
            matches!(
                client,
                Err(WsError::Handshake(_) | WsError::Subprotocol(None))
            ),
            "{client:?}"
        );
        let _ = server.await;
    })
    .await;
}

#[tokio::test]
async fn invalid_url_is_rejected() {
    bounded(async {
        let (addr, _server) = server().await;
        let tcp = TcpStream::connect(addr).await.unwrap();
        let client = ws::connect(tcp, "not a url").await;
        assert!(matches!(client, Err(WsError::Url { .. })), "{client:?}");
    })
    .await;
}
