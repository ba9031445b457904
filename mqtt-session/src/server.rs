//! The server side of one network connection.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_proto::{
    Auth, ConnAck, ConnAckProperties, Connect, DecodeError, DecodeOptions, Disconnect, Packet,
    ProtocolVersion, ReasonCode, SubAck, Subscribe, UnsubAck, Unsubscribe,
};

use crate::flow::{DropReason, FlowEvent, FlowLimits, Flows};
use crate::state::{MessageId, OutgoingMessage, SessionState};
use crate::transmit::TxQueue;
use crate::{CloseReason, Error, Violation};

/// Limits and policies of the server side of connections.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest packet accepted from clients (advertised in a 5.0 CONNACK).
    pub max_packet_size: u32,
    /// QoS 1/2 publications a client may have unacknowledged (advertised in CONNACK).
    pub receive_maximum: u16,
    /// Highest topic alias a client may use (advertised in CONNACK; 0 = none).
    pub topic_alias_maximum: u16,
    /// Most QoS 1/2 publications in flight to a client, also bounding a 5.0 client's
    /// Receive Maximum.
    pub max_inflight: u16,
    /// Most QoS 1/2 messages queued behind the in-flight window.
    pub max_queued: usize,
    /// Time a new connection has to send CONNECT.
    pub connect_timeout: Duration,
    /// Give topics to 5.0 clients as topic aliases (least recently used replacement).
    pub outbound_topic_aliases: bool,
    /// Acknowledge incoming QoS 1/2 publications as soon as they are handed out as events,
    /// instead of waiting for [`ServerConnection::acknowledge`].
    pub auto_ack: bool,
    /// Reject the control characters and non-characters the specification discourages.
    pub strict_strings: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_packet_size: 1024 * 1024,
            receive_maximum: 1024,
            topic_alias_maximum: 64,
            max_inflight: 1024,
            max_queued: 10_000,
            connect_timeout: Duration::from_secs(10),
            outbound_topic_aliases: false,
            auto_ack: true,
            strict_strings: false,
        }
    }
}

/// How the server accepts a CONNECT.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accept {
    /// Whether an existing session is resumed (5.0 [MQTT-3.2.2-3], 3.1.1 [MQTT-3.2.2-2]).
    pub session_present: bool,
    /// The session's state: the stored one when resuming, [`SessionState::new`] otherwise.
    pub session: SessionState,
    /// CONNACK properties chosen by the broker (assigned client identifier, server keep
    /// alive, maximum QoS, retain available ...). The connection fills in Receive Maximum,
    /// Maximum Packet Size and Topic Alias Maximum from its configuration.
    pub properties: ConnAckProperties,
}

/// What a [`ServerConnection`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// A valid CONNECT arrived: answer with [`ServerConnection::accept`] or
    /// [`ServerConnection::refuse`]. No other packet is processed until then, except AUTH,
    /// so nothing sent after a refused CONNECT is processed (5.0 [MQTT-3.1.4-6], 3.1.1
    /// [MQTT-3.1.4-5]).
    Connect(Box<Connect>),
    /// An AUTH packet (5.0 enhanced authentication); answer with
    /// [`ServerConnection::send_auth`], `accept` or `refuse`.
    Auth(Auth),
    /// An application message from the client, with any topic alias resolved. QoS 2
    /// messages arrive exactly once.
    Publish(mqtt_proto::Publish),
    /// A SUBSCRIBE: answer with [`ServerConnection::suback`].
    Subscribe(Subscribe),
    /// An UNSUBSCRIBE: answer with [`ServerConnection::unsuback`].
    Unsubscribe(Unsubscribe),
    /// A QoS 1/2 message to the client completed (PUBACK, PUBCOMP, or PUBREC with an
    /// error code).
    Delivered {
        /// The message.
        id: MessageId,
        /// The client's reason code.
        reason_code: ReasonCode,
    },
    /// A message to the client was discarded.
    Dropped {
        /// The message.
        id: MessageId,
        /// Its topic.
        topic: mqtt_proto::TopicName,
        /// Why.
        why: DropReason,
    },
    /// The connection is over; nothing more will be sent or received. Take the session
    /// with [`ServerConnection::take_session_state`].
    Closed {
        /// Why.
        reason: CloseReason,
    },
}

impl From<FlowEvent> for ServerEvent {
    fn from(e: FlowEvent) -> Self {
        match e {
            FlowEvent::Message(p) => Self::Publish(p),
            FlowEvent::Delivered { id, reason_code } => Self::Delivered { id, reason_code },
            FlowEvent::Dropped { id, topic, why } => Self::Dropped { id, topic, why },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for CONNECT until the deadline.
    AwaitingConnect,
    /// CONNECT handed out, waiting for accept or refuse.
    Pending,
    Connected,
    /// Closed: output may still be draining.
    Closed,
}

/// The server side of one MQTT network connection, without I/O.
///
/// Inputs are the `handle_*` methods and the commands; outputs are drained with
/// [`poll_transmit`](Self::poll_transmit), [`poll_event`](Self::poll_event) and
/// [`poll_timeout`](Self::poll_timeout). After every input, drain the transmit queue
/// (write the chunks in order), then the events, then read the timeout and call
/// [`handle_timeout`](Self::handle_timeout) when it passes. Time is always passed in.
///
/// A protocol violation by the client is never an error of `handle_read`: the connection
/// queues a DISCONNECT with the reason code (5.0), then reports
/// [`ServerEvent::Closed`]; after it, close the transport once the transmit queue is empty.
pub struct ServerConnection {
    config: ServerConfig,
    phase: Phase,
    version: ProtocolVersion,
    decode: DecodeOptions,
    tx: TxQueue,
    flows: Flows,
    events: VecDeque<ServerEvent>,
    /// Keep alive in force (seconds); 0 disables the check.
    keep_alive: u16,
    /// When the connection is considered dead unless a packet arrives.
    deadline: Option<Instant>,
    /// Session expiry interval of the CONNECT (5.0), for the DISCONNECT rule.
    session_expiry: u32,
    /// The client's Receive Maximum, Maximum Packet Size and Topic Alias Maximum.
    peer_limits: (u16, u32, u16),
}

impl ServerConnection {
    /// A connection whose transport just opened.
    #[must_use]
    pub fn new(now: Instant, config: ServerConfig) -> Self {
        let decode = DecodeOptions {
            max_packet_size: config.max_packet_size,
            strict_strings: config.strict_strings,
        };
        let auto_ack = config.auto_ack;
        Self {
            deadline: Some(now + config.connect_timeout),
            config,
            phase: Phase::AwaitingConnect,
            version: ProtocolVersion::V5,
            decode,
            tx: TxQueue::default(),
            flows: Flows::new(ProtocolVersion::V5, SessionState::new(), auto_ack),
            events: VecDeque::new(),
            keep_alive: 0,
            session_expiry: 0,
            peer_limits: (u16::MAX, DecodeOptions::MAX_PACKET_SIZE, 0),
        }
    }

    /// The protocol version, known once the CONNECT arrived.
    #[must_use]
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// Whether the connection is closed.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Consumes every complete packet at the front of `buf`; a partial packet stays.
    ///
    /// While a CONNECT awaits its answer, later packets stay in `buf` too: call this again
    /// after [`accept`](Self::accept).
    pub fn handle_read(&mut self, now: Instant, buf: &mut BytesMut) {
        while matches!(
            self.phase,
            Phase::AwaitingConnect | Phase::Connected | Phase::Pending
        ) {
            if self.phase == Phase::Pending && !self.next_is_auth(buf) {
                return;
            }
            match mqtt_proto::decode(buf, self.version, &self.decode) {
                Ok(Some(packet)) => {
                    if self.keep_alive > 0 {
                        self.deadline = Some(now + keep_alive_grace(self.keep_alive));
                    }
                    if let Err(v) = self.handle_packet(now, packet) {
                        self.close(CloseReason::Violation(v));
                    }
                }
                Ok(None) => return,
                Err(e) => return self.decode_failed(e),
            }
        }
    }

    fn next_is_auth(&self, buf: &BytesMut) -> bool {
        buf.first()
            .is_some_and(|b| b >> 4 == mqtt_proto::PacketType::Auth as u8)
    }

    fn decode_failed(&mut self, e: DecodeError) {
        if self.phase == Phase::AwaitingConnect {
            // [MQTT-3.1.2-2]: an unsupported protocol level of MQTT is answered with
            // CONNACK return code 1 / 0x84. Anything else, including a protocol name that
            // is not MQTT at all, just closes [MQTT-3.1.4-1] (3.1.1 [MQTT-3.1.2-1]).
            if let DecodeError::UnsupportedProtocolVersion(_) = e {
                // The client speaks no version we know: answer in the 3.1.1 form, which
                // every version's client can read.
                self.version = ProtocolVersion::V3_1_1;
                let ack = ConnAck::new(false, ReasonCode::UnsupportedProtocolVersion);
                self.send(&ack.into());
            }
        }
        self.close(CloseReason::Violation(e.into()));
    }

    fn send(&mut self, packet: &Packet) {
        // Packets built here always encode; a failure would be a bug, reported as a close.
        if let Err(e) = self.tx.push(self.version, packet) {
            self.close(CloseReason::Violation(Violation::local(Error::Encode(e))));
        }
    }

    fn handle_packet(&mut self, now: Instant, packet: Packet) -> Result<(), Violation> {
        match (self.phase, packet) {
            (Phase::AwaitingConnect, Packet::Connect(c)) => self.on_connect(*c),
            (Phase::AwaitingConnect, _) => Err(Violation::new(
                ReasonCode::ProtocolError,
                "first packet is not CONNECT",
            )),
            (_, Packet::Auth(a)) => {
                self.events.push_back(ServerEvent::Auth(*a));
                Ok(())
            }
            (_, Packet::Connect(_)) => Err(Violation::new(
                ReasonCode::ProtocolError,
                "second CONNECT", // [MQTT-3.1.0-2]
            )),
            (_, Packet::Publish(p)) => {
                // [MQTT-3.3.4-6]: clients do not send Subscription Identifiers.
                if !p.properties.subscription_identifiers.is_empty() {
                    return Err(Violation::new(
                        ReasonCode::ProtocolError,
                        "PUBLISH from a client with a Subscription Identifier",
                    ));
                }
                self.flows.on_publish(&mut self.tx, p)
            }
            (_, Packet::PubAck(p)) => self.flows.on_puback(now, &mut self.tx, p),
            (_, Packet::PubRec(p)) => self.flows.on_pubrec(now, &mut self.tx, p),
            (_, Packet::PubRel(p)) => self.flows.on_pubrel(&mut self.tx, p),
            (_, Packet::PubComp(p)) => self.flows.on_pubcomp(now, &mut self.tx, p),
            (_, Packet::Subscribe(s)) => {
                self.events.push_back(ServerEvent::Subscribe(s));
                Ok(())
            }
            (_, Packet::Unsubscribe(u)) => {
                self.events.push_back(ServerEvent::Unsubscribe(u));
                Ok(())
            }
            (_, Packet::PingReq) => {
                self.send(&Packet::PingResp);
                Ok(())
            }
            (_, Packet::Disconnect(d)) => self.on_disconnect(*d),
            (
                _,
                Packet::ConnAck(_) | Packet::SubAck(_) | Packet::UnsubAck(_) | Packet::PingResp,
            ) => Err(Violation::new(
                ReasonCode::ProtocolError,
                "a client sent a packet only servers send",
            )),
        }
    }

    fn on_connect(&mut self, c: Connect) -> Result<(), Violation> {
        self.version = c.protocol;
        self.flows.version = c.protocol;
        // [MQTT-3.1.3-8] (3.1.1): an empty client identifier needs Clean Session.
        // MQTT 3.1 (section 3.1, Client Identifier): 1 to 23 characters, otherwise
        // return code 2, Identifier Rejected.
        let v31_bad_id = c.protocol == ProtocolVersion::V3_1
            && !(1..=23).contains(&c.client_id.as_str().chars().count());
        if v31_bad_id || (c.client_id.is_empty() && !c.clean_start && !c.protocol.is_v5()) {
            self.send(&ConnAck::new(false, ReasonCode::ClientIdentifierNotValid).into());
            self.close(CloseReason::Refused(ReasonCode::ClientIdentifierNotValid));
            return Ok(());
        }
        self.keep_alive = c.keep_alive;
        self.session_expiry = c.properties.session_expiry_interval.unwrap_or(0);
        let p = &c.properties;
        self.peer_limits = (
            p.receive_maximum.map_or(u16::MAX, |v| v.get()),
            p.maximum_packet_size
                .map_or(DecodeOptions::MAX_PACKET_SIZE, |v| v.get()),
            p.topic_alias_maximum.unwrap_or(0),
        );
        // Until the answer, the connect timeout keeps running.
        self.phase = Phase::Pending;
        self.events.push_back(ServerEvent::Connect(Box::new(c)));
        Ok(())
    }

    fn on_disconnect(&mut self, d: Disconnect) -> Result<(), Violation> {
        // 5.0 section 3.14.2.2.2 (untagged): a session expiry of 0 in CONNECT cannot become
        // non-zero. ([MQTT-3.14.2-2] is the server's side: no Session Expiry Interval in the
        // DISCONNECT it sends.)
        if self.session_expiry == 0 && d.properties.session_expiry_interval.is_some_and(|s| s != 0)
        {
            return Err(Violation::new(
                ReasonCode::ProtocolError,
                "DISCONNECT sets a session expiry after CONNECT had none",
            ));
        }
        self.close(CloseReason::PeerDisconnect(d.reason_code));
        Ok(())
    }

    /// Accepts the pending CONNECT: sends CONNACK, resends what the resumed session has in
    /// flight, and starts the keep alive.
    ///
    /// # Errors
    /// [`Error::InvalidState`] if no CONNECT is pending.
    pub fn accept(&mut self, now: Instant, accept: Accept) -> Result<(), Error> {
        if self.phase != Phase::Pending {
            return Err(Error::InvalidState("no CONNECT awaits an answer"));
        }
        let Accept {
            session_present,
            session,
            mut properties,
        } = accept;
        let (peer_receive_max, peer_max_packet, peer_alias_max) = self.peer_limits;
        let v5 = self.version.is_v5();
        if let Some(ka) = properties.server_keep_alive {
            self.keep_alive = ka;
        }
        if v5 {
            properties.receive_maximum = std::num::NonZeroU16::new(self.config.receive_maximum);
            properties.maximum_packet_size = std::num::NonZeroU32::new(self.config.max_packet_size);
            properties.topic_alias_maximum =
                (self.config.topic_alias_maximum > 0).then_some(self.config.topic_alias_maximum);
        } else {
            properties = ConnAckProperties::default();
        }
        // MQTT 3.1 has no Session Present flag: a resumed session is simply resumed.
        let flag = session_present && self.version != ProtocolVersion::V3_1;
        let mut ack = ConnAck::new(flag, ReasonCode::Success);
        ack.properties = properties;
        self.send(&ack.into());
        self.flows.state = session;
        if self.phase == Phase::Closed {
            // The CONNACK could not be sent: the connection closed, and the session state
            // stays here to be taken back, nothing of it sent.
            return Ok(());
        }
        self.flows.set_limits(
            FlowLimits {
                send_window: peer_receive_max.min(self.config.max_inflight),
                peer_max_packet,
                receive_maximum: self.config.receive_maximum,
                inbound_alias_max: if v5 {
                    self.config.topic_alias_maximum
                } else {
                    0
                },
                outbound_alias_max: peer_alias_max,
                max_queued: self.config.max_queued,
            },
            self.config.outbound_topic_aliases,
        );
        self.phase = Phase::Connected;
        self.deadline = (self.keep_alive > 0).then(|| now + keep_alive_grace(self.keep_alive));
        self.flows.resume(now, &mut self.tx)?;
        self.drain_flow_events();
        Ok(())
    }
}

impl ServerConnection {
    /// Refuses the pending CONNECT with a reason code (mapped to the closest 3.x return
    /// code for a 3.x client) and Session Present 0 (5.0 [MQTT-3.2.2-6], 3.1.1
    /// [MQTT-3.2.2-4]), then closes (5.0 [MQTT-3.2.2-7], 3.1.1 [MQTT-3.2.2-5]).
    ///
    /// # Errors
    /// [`Error::InvalidState`] if no CONNECT is pending.
    pub fn refuse(&mut self, _now: Instant, reason_code: ReasonCode) -> Result<(), Error> {
        if self.phase != Phase::Pending {
            return Err(Error::InvalidState("no CONNECT awaits an answer"));
        }
        let code = if self.version.is_v5() {
            // Only CONNACK codes can answer a CONNECT (5.0 section 3.2.2.2).
            if reason_code.is_allowed_in(mqtt_proto::PacketType::ConnAck) && reason_code.is_error()
            {
                reason_code
            } else {
                ReasonCode::UnspecifiedError
            }
        } else {
            ReasonCode::from_v3_connect_return_code(reason_code.v3_connect_return_code_fallback())
                .unwrap_or(ReasonCode::ServerUnavailable)
        };
        self.send(&ConnAck::new(false, code).into());
        self.close(CloseReason::Refused(reason_code));
        Ok(())
    }

    /// Sends an AUTH packet (5.0 enhanced authentication).
    ///
    /// # Errors
    /// [`Error::InvalidState`] on a closed or 3.x connection.
    pub fn send_auth(&mut self, _now: Instant, auth: Auth) -> Result<(), Error> {
        if self.phase == Phase::Closed || !self.version.is_v5() {
            return Err(Error::InvalidState("AUTH needs an open 5.0 connection"));
        }
        self.tx.push(self.version, &auth.into())?;
        Ok(())
    }

    fn connected(&self) -> Result<(), Error> {
        match self.phase {
            Phase::Connected => Ok(()),
            Phase::Closed => Err(Error::Closed),
            _ => Err(Error::InvalidState("the CONNECT is not accepted yet")),
        }
    }

    /// Answers a SUBSCRIBE.
    ///
    /// # Errors
    /// [`Error::Encode`] if a reason code is not valid for the version; state errors.
    pub fn suback(&mut self, _now: Instant, suback: SubAck) -> Result<(), Error> {
        self.connected()?;
        self.tx.push(self.version, &suback.into())?;
        Ok(())
    }

    /// Answers an UNSUBSCRIBE. For a 3.x client the reason codes are left out.
    ///
    /// # Errors
    /// [`Error::Encode`] for an invalid reason code; state errors.
    pub fn unsuback(&mut self, _now: Instant, mut unsuback: UnsubAck) -> Result<(), Error> {
        self.connected()?;
        if !self.version.is_v5() {
            unsuback.reason_codes.clear();
            unsuback.properties = mqtt_proto::AckProperties::default();
        }
        self.tx.push(self.version, &unsuback.into())?;
        Ok(())
    }

    /// Queues an application message to the client. QoS 0 is sent at once; QoS 1 and 2
    /// are sent in order as the client's receive maximum allows.
    ///
    /// # Errors
    /// [`Error::QueueFull`], state errors, or [`Error::Encode`].
    pub fn publish(&mut self, now: Instant, message: OutgoingMessage) -> Result<MessageId, Error> {
        self.connected()?;
        let id = self.flows.publish(now, &mut self.tx, message)?;
        self.drain_flow_events();
        Ok(id)
    }

    /// Acknowledges an incoming QoS 1 or 2 publication (PUBACK or PUBREC) with a reason
    /// code (5.0; `Success` for 3.x). Only needed when `auto_ack` is off.
    ///
    /// # Errors
    /// [`Error::UnknownPacketId`] if no such publication awaits acknowledgement.
    pub fn acknowledge(
        &mut self,
        _now: Instant,
        packet_id: mqtt_proto::PacketId,
        reason_code: ReasonCode,
    ) -> Result<(), Error> {
        self.connected()?;
        self.flows.acknowledge(&mut self.tx, packet_id, reason_code)
    }

    /// Closes the connection from the server side: a 5.0 client gets a DISCONNECT with
    /// `reason_code` (for example 0x8B Server shutting down, 0x8E Session taken over).
    pub fn disconnect(&mut self, _now: Instant, reason_code: ReasonCode) {
        self.close(CloseReason::LocalDisconnect(reason_code));
    }

    /// Handles the passing of time: connect timeout and keep alive (5.0 [MQTT-3.1.2-22],
    /// 3.1.1 [MQTT-3.1.2-24]).
    /// Spurious calls are harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_some_and(|d| now >= d) {
            let reason = match self.phase {
                Phase::Connected => CloseReason::KeepAliveTimeout,
                _ => CloseReason::ConnectTimeout,
            };
            self.close(reason);
        }
    }

    /// The transport closed or failed.
    pub fn handle_transport_closed(&mut self, _now: Instant) {
        if self.phase != Phase::Closed {
            self.tx.clear();
            self.close(CloseReason::TransportClosed);
        }
    }

    fn close(&mut self, reason: CloseReason) {
        if self.phase == Phase::Closed {
            return;
        }
        if self.version.is_v5() {
            match self.phase {
                Phase::Connected => {
                    if let Some(code) = reason.disconnect_code() {
                        self.send(&Disconnect::new(code).into());
                    }
                }
                // A 5.0 CONNECT broken afterwards is answered by a CONNACK with the reason.
                Phase::Pending => {
                    if let CloseReason::Violation(v) = &reason {
                        let code = if v.reason_code.is_allowed_in(mqtt_proto::PacketType::ConnAck) {
                            v.reason_code
                        } else {
                            ReasonCode::ProtocolError
                        };
                        self.send(&ConnAck::new(false, code).into());
                    }
                }
                _ => {}
            }
        }
        self.phase = Phase::Closed;
        self.deadline = None;
        self.drain_flow_events();
        self.events.push_back(ServerEvent::Closed { reason });
    }

    fn drain_flow_events(&mut self) {
        self.events
            .extend(self.flows.events.drain(..).map(ServerEvent::from));
    }

    /// The next chunk of bytes to write, in order. Small packets come merged; a large
    /// payload comes as its own chunk sharing the application's buffer.
    #[must_use]
    pub fn poll_transmit(&mut self, _now: Instant) -> Option<Bytes> {
        self.tx.pop()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.drain_flow_events();
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next; `None` when
    /// there is no deadline.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether the connection wants more input: false once closed, while a CONNECT awaits
    /// its answer, or while much output is waiting (the peer is not reading).
    #[must_use]
    pub fn wants_read(&self) -> bool {
        matches!(self.phase, Phase::AwaitingConnect | Phase::Connected)
            && self.tx.len() < (self.config.max_packet_size as usize).saturating_mul(4)
    }

    /// Whether the in-flight window towards the client is full: it has as many QoS 1/2
    /// messages unacknowledged as its Receive Maximum (or our `max_inflight`) allows, and
    /// further ones wait in the session queue. A broker uses this to pass shared
    /// subscription messages to another member.
    #[must_use]
    pub fn is_window_full(&self) -> bool {
        self.phase == Phase::Connected && self.flows.window_full()
    }

    /// The session state as it is now.
    #[must_use]
    pub fn session_state(&self) -> &SessionState {
        &self.flows.state
    }

    /// Takes the session state out (normally after [`ServerEvent::Closed`]), for the
    /// next connection of the same session. Incoming publications the application had not
    /// acknowledged are forgotten; the client resends them.
    #[must_use]
    pub fn take_session_state(&mut self) -> SessionState {
        let flows = std::mem::replace(
            &mut self.flows,
            Flows::new(self.version, SessionState::new(), self.config.auto_ack),
        );
        flows.into_state()
    }
}

/// The server allows one and a half times the keep alive (5.0 [MQTT-3.1.2-22], 3.1.1
/// [MQTT-3.1.2-24]).
fn keep_alive_grace(keep_alive: u16) -> Duration {
    Duration::from_millis(u64::from(keep_alive) * 1500)
}
