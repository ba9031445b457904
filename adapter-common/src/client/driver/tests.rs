//! The driver without a runtime: bytes in, bytes and answers out.

use std::task::{Context, Waker};

use mqtt_proto::{MqttString, ProtocolVersion};

use super::*;
use crate::client::ReconnectPolicy;

/// A v5 driver with reconnection (no jitter), its command sender and its events.
fn driver() -> (ClientDriver, mpsc::Sender<Command>, mpsc::Receiver<Event>) {
    let policy = ReconnectPolicy {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(1),
        factor: 2.0,
        jitter: 0.0,
    };
    let opts = Options {
        session: ClientConfig::default(),
        backoff: Some(Backoff::new(policy, 1)),
        connect_timeout: Duration::from_secs(5),
        manual_ack: false,
        max_pending: 8,
    };
    let id = MqttString::try_from("driver-test").unwrap();
    let connect = Connect::new(ProtocolVersion::V5, id);
    let (commands, command_rx) = mpsc::channel(8);
    let (events, event_rx) = mpsc::channel(8);
    let d = ClientDriver::new(opts, connect, command_rx, events, None);
    (d, commands, event_rx)
}

/// The test's time origin; the driver only ever sees instants passed in.
fn start() -> Instant {
    #[allow(clippy::disallowed_methods)]
    Instant::now()
}

fn poll_channels(d: &mut ClientDriver) -> bool {
    d.poll_channels(&mut Context::from_waker(Waker::noop()))
        .is_ready()
}

/// Takes everything queued for writing, as if the transport wrote it all.
fn written(d: &mut ClientDriver) -> Vec<u8> {
    let bytes: Vec<u8> = d.pending_writes().iter().flatten().copied().collect();
    d.handle_written(bytes.len());
    bytes
}

/// The server sends `bytes`.
fn server_sends(d: &mut ClientDriver, now: Instant, bytes: &[u8]) {
    d.read_buffer().extend_from_slice(bytes);
    d.handle_read(now, bytes.len());
    d.drain(now);
}

/// A v5 CONNACK: Session Present 0, Success, no properties.
const CONNACK: [u8; 5] = [0x20, 0x03, 0x00, 0x00, 0x00];

fn subscribe(
    commands: &mut mpsc::Sender<Command>,
) -> oneshot::Receiver<Result<SubAck, ClientError>> {
    let filter = MqttString::try_from("a/+").unwrap();
    let filter = TopicFilter::for_version(filter, ProtocolVersion::V5).unwrap();
    let (done, answer) = oneshot::channel();
    let command = Command::Subscribe {
        filters: vec![(filter, SubscriptionOptions::new(QoS::AtLeastOnce))],
        properties: SubscribeProperties::default(),
        done: Some(done),
    };
    commands.try_send(command).unwrap();
    answer
}

#[test]
fn a_request_made_offline_is_sent_after_the_connack_and_answered_by_the_suback() {
    let (mut d, mut commands, mut events) = driver();
    let t0 = start();
    let mut answer = subscribe(&mut commands);
    assert!(poll_channels(&mut d));
    d.handle_channels(t0);
    assert!(d.pending_writes().is_empty(), "held: no connection");

    d.handle_opened(t0);
    d.drain(t0);
    assert_eq!(written(&mut d).first(), Some(&0x10), "CONNECT");
    server_sends(&mut d, t0, &CONNACK);
    assert!(matches!(
        events.try_recv(),
        Ok(Event::Connected {
            session_present: false
        })
    ));
    assert_eq!(written(&mut d).first(), Some(&0x82), "the held SUBSCRIBE");
    assert!(
        matches!(answer.try_recv(), Ok(None)),
        "waits for the SUBACK"
    );

    // SUBACK, packet identifier 1, no properties, Granted QoS 1.
    server_sends(&mut d, t0, &[0x90, 0x04, 0x00, 0x01, 0x00, 0x01]);
    let ack = answer.try_recv().unwrap().unwrap().unwrap();
    assert_eq!(ack.reason_codes, [ReasonCode::GrantedQoS1]);
}

#[test]
fn a_lost_session_gets_the_subscriptions_again() {
    let (mut d, mut commands, mut events) = driver();
    let t0 = start();
    d.handle_opened(t0);
    d.drain(t0);
    written(&mut d);
    server_sends(&mut d, t0, &CONNACK);
    let _answer = subscribe(&mut commands);
    assert!(poll_channels(&mut d));
    d.handle_channels(t0);
    d.drain(t0);
    written(&mut d);
    server_sends(&mut d, t0, &[0x90, 0x04, 0x00, 0x01, 0x00, 0x01]);

    // The transport ends: nothing is written on a dead transport, and a reconnection
    // follows after the first backoff delay.
    d.handle_read(t0, 0);
    d.drain(t0);
    assert_eq!(d.closed(), Some(false));
    assert_eq!(
        d.handle_closed(),
        Next::Reconnect(Duration::from_millis(100))
    );
    let seen: Vec<_> = std::iter::from_fn(|| events.try_recv().ok()).collect();
    assert!(matches!(
        seen.as_slice(),
        [
            Event::Connected { .. },
            Event::Disconnected { .. },
            Event::Reconnecting { attempt: 1, .. }
        ]
    ));

    let t1 = t0 + Duration::from_millis(100);
    d.handle_opened(t1);
    d.drain(t1);
    assert_eq!(written(&mut d).first(), Some(&0x10));
    server_sends(&mut d, t1, &CONNACK);
    assert_eq!(written(&mut d).first(), Some(&0x82), "subscribed again");
}
