//! The client side of one network connection.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_proto::{
    Auth, ConnAck, Connect, DecodeOptions, Disconnect, OptBox, Packet, PacketId, ProtocolVersion,
    QoS, ReasonCode, SubAck, Subscribe, SubscribeProperties, SubscriptionOptions, TopicFilter,
    UnsubAck, Unsubscribe, UnsubscribeProperties,
};

use crate::flow::{DropReason, FlowEvent, FlowLimits, Flows};
use crate::state::{Inflight, MessageId, OutgoingMessage, SessionState};
use crate::transmit::TxQueue;
use crate::{CloseReason, Error, Violation};

/// Limits and policies of a client connection.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Time the server has to answer CONNECT.
    pub connect_timeout: Duration,
    /// Time the server has to answer PINGREQ before the connection counts as dead.
    pub ping_timeout: Duration,
    /// Largest packet accepted from the server. For 5.0 it is sent in CONNECT unless the
    /// CONNECT already carries a Maximum Packet Size.
    pub max_packet_size: u32,
    /// Most QoS 1/2 publications in flight to the server (it may lower this with its
    /// Receive Maximum).
    pub max_inflight: u16,
    /// Most QoS 1/2 messages queued behind the in-flight window.
    pub max_queued: usize,
    /// Use topic aliases towards a 5.0 server that accepts them (least recently used).
    pub outbound_topic_aliases: bool,
    /// Acknowledge incoming QoS 1/2 publications as soon as they are handed out, instead
    /// of waiting for [`ClientConnection::acknowledge`].
    pub auto_ack: bool,
    /// Reject the control characters and non-characters the specification discourages.
    pub strict_strings: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            ping_timeout: Duration::from_secs(10),
            max_packet_size: DecodeOptions::MAX_PACKET_SIZE,
            max_inflight: 1024,
            max_queued: 10_000,
            outbound_topic_aliases: false,
            auto_ack: true,
            strict_strings: false,
        }
    }
}

/// What a [`ClientConnection`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// The server accepted the connection. In-flight messages of a resumed session were
    /// resent; if the server had no session (`session_present` false) they were dropped
    /// with [`DropReason::SessionLost`].
    Connected(ConnAck),
    /// An application message from the server, with any topic alias resolved.
    Publish(mqtt_proto::Publish),
    /// A QoS 1/2 message to the server completed (PUBACK, PUBCOMP, or PUBREC with an
    /// error code).
    Delivered {
        /// The message.
        id: MessageId,
        /// The server's reason code.
        reason_code: ReasonCode,
    },
    /// A message to the server was discarded.
    Dropped {
        /// The message.
        id: MessageId,
        /// Its topic.
        topic: mqtt_proto::TopicName,
        /// Why.
        why: DropReason,
    },
    /// The answer to [`ClientConnection::subscribe`].
    SubAck(SubAck),
    /// The answer to [`ClientConnection::unsubscribe`].
    UnsubAck(UnsubAck),
    /// An AUTH packet from the server (5.0 enhanced authentication).
    Auth(Auth),
    /// The server sent DISCONNECT (5.0), with its reason and properties (for example a
    /// Server Reference). `Closed` follows.
    Disconnect(Disconnect),
    /// The connection is over. Take the session with
    /// [`ClientConnection::take_session_state`] to resume it on a new connection.
    Closed {
        /// Why.
        reason: CloseReason,
    },
}

impl From<FlowEvent> for ClientEvent {
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
    AwaitingConnAck,
    Connected,
    Closed,
}

/// The client side of one MQTT network connection, without I/O.
///
/// Created with the CONNECT to send, which is queued at once. Inputs are the `handle_*`
/// methods and the commands; after every input drain [`poll_transmit`](Self::poll_transmit)
/// (write the chunks in order), then [`poll_event`](Self::poll_event), then read
/// [`poll_timeout`](Self::poll_timeout) and call [`handle_timeout`](Self::handle_timeout)
/// when it passes: that is when PINGREQ goes out (5.0 [MQTT-3.1.2-20], 3.1.1
/// [MQTT-3.1.2-23]).
pub struct ClientConnection {
    config: ClientConfig,
    phase: Phase,
    version: ProtocolVersion,
    decode: DecodeOptions,
    tx: TxQueue,
    flows: Flows,
    events: VecDeque<ClientEvent>,
    clean_start: bool,
    /// Keep alive in force (seconds); 0 disables pings.
    keep_alive: u16,
    /// Topic Alias Maximum we sent in CONNECT.
    alias_max: u16,
    /// Receive Maximum we sent in CONNECT.
    receive_maximum: u16,
    /// When bytes were last handed out for writing.
    last_transmit: Instant,
    /// When a PINGREQ went out that has no PINGRESP yet.
    ping_sent: Option<Instant>,
    /// CONNACK deadline.
    connect_deadline: Option<Instant>,
    /// The server's Maximum QoS and Retain Available (from CONNACK).
    server_max_qos: QoS,
    server_retain: bool,
}

impl ClientConnection {
    /// A connection whose transport just opened: queues `connect`. `session` is the state
    /// of the previous connection of this session ([`SessionState::new`] for none).
    ///
    /// # Errors
    /// [`Error::Encode`] if the CONNECT cannot be encoded.
    pub fn new(
        now: Instant,
        mut connect: Connect,
        session: SessionState,
        config: ClientConfig,
    ) -> Result<Self, Error> {
        let version = connect.protocol;
        if version.is_v5() && connect.properties.maximum_packet_size.is_none() {
            connect.properties.maximum_packet_size =
                std::num::NonZeroU32::new(config.max_packet_size)
                    .filter(|v| v.get() < DecodeOptions::MAX_PACKET_SIZE);
        }
        let mut tx = TxQueue::default();
        tx.push(version, &Packet::from(connect.clone()))?;
        let mut flows = Flows::new(version, session, config.auto_ack);
        // Nothing but CONNECT goes out before the CONNACK: an empty window holds QoS 1/2.
        flows.set_limits(
            FlowLimits {
                send_window: 0,
                max_queued: config.max_queued,
                ..FlowLimits::default()
            },
            false,
        );
        let p = &connect.properties;
        Ok(Self {
            phase: Phase::AwaitingConnAck,
            version,
            decode: DecodeOptions {
                max_packet_size: config.max_packet_size,
                strict_strings: config.strict_strings,
            },
            tx,
            flows,
            events: VecDeque::new(),
            clean_start: connect.clean_start,
            keep_alive: connect.keep_alive,
            alias_max: p.topic_alias_maximum.unwrap_or(0),
            receive_maximum: p.receive_maximum.map_or(u16::MAX, |v| v.get()),
            last_transmit: now,
            ping_sent: None,
            connect_deadline: Some(now + config.connect_timeout),
            server_max_qos: QoS::ExactlyOnce,
            server_retain: true,
            config,
        })
    }

    /// The protocol version.
    #[must_use]
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// Whether the CONNACK accepted the connection and it is still open.
    #[must_use]
    pub fn is_connected(&self) -> bool {
        self.phase == Phase::Connected
    }

    /// Whether the connection is closed.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Consumes every complete packet at the front of `buf`; a partial packet stays.
    pub fn handle_read(&mut self, now: Instant, buf: &mut BytesMut) {
        while self.phase != Phase::Closed {
            match mqtt_proto::decode(buf, self.version, &self.decode) {
                Ok(Some(packet)) => {
                    if let Err(v) = self.handle_packet(now, packet) {
                        self.close(CloseReason::Violation(v));
                    }
                }
                Ok(None) => return,
                Err(e) => return self.close(CloseReason::Violation(e.into())),
            }
        }
    }

    fn handle_packet(&mut self, now: Instant, packet: Packet) -> Result<(), Violation> {
        let protocol_error = |what| Err(Violation::new(ReasonCode::ProtocolError, what));
        match (self.phase, packet) {
            (Phase::AwaitingConnAck, Packet::ConnAck(ack)) => self.on_connack(now, *ack),
            (Phase::AwaitingConnAck, Packet::Auth(a)) => {
                self.events.push_back(ClientEvent::Auth(*a));
                Ok(())
            }
            (Phase::AwaitingConnAck, _) => protocol_error("a packet before CONNACK"),
            (_, Packet::Publish(p)) => self.flows.on_publish(&mut self.tx, p),
            (_, Packet::PubAck(p)) => self.flows.on_puback(now, &mut self.tx, p),
            (_, Packet::PubRec(p)) => self.flows.on_pubrec(now, &mut self.tx, p),
            (_, Packet::PubRel(p)) => self.flows.on_pubrel(&mut self.tx, p),
            (_, Packet::PubComp(p)) => self.flows.on_pubcomp(now, &mut self.tx, p),
            (_, Packet::SubAck(a)) => {
                self.release_id(a.packet_id);
                self.events.push_back(ClientEvent::SubAck(a));
                Ok(())
            }
            (_, Packet::UnsubAck(a)) => {
                self.release_id(a.packet_id);
                self.events.push_back(ClientEvent::UnsubAck(a));
                Ok(())
            }
            (_, Packet::PingResp) => {
                self.ping_sent = None;
                Ok(())
            }
            (_, Packet::Auth(a)) => {
                self.events.push_back(ClientEvent::Auth(*a));
                Ok(())
            }
            (_, Packet::Disconnect(d)) => {
                let code = d.reason_code;
                self.events.push_back(ClientEvent::Disconnect(*d));
                self.close(CloseReason::PeerDisconnect(code));
                Ok(())
            }
            (_, Packet::ConnAck(_)) => protocol_error("a second CONNACK"),
            (
                _,
                Packet::Connect(_)
                | Packet::Subscribe(_)
                | Packet::Unsubscribe(_)
                | Packet::PingReq,
            ) => protocol_error("a server sent a packet only clients send"),
        }
    }

    fn release_id(&mut self, id: PacketId) {
        self.flows.other_ids_in_use.retain(|&u| u != id);
    }

    fn on_connack(&mut self, now: Instant, ack: ConnAck) -> Result<(), Violation> {
        self.connect_deadline = None;
        if ack.reason_code != ReasonCode::Success {
            let code = ack.reason_code;
            self.close(CloseReason::Refused(code));
            return Ok(());
        }
        // With Clean Start the server has no session to present (5.0 [MQTT-3.2.2-2], 3.1.1
        // [MQTT-3.2.2-1]); a 5.0 client without session state closes [MQTT-3.2.2-4].
        if ack.session_present && self.clean_start {
            return Err(Violation::new(
                ReasonCode::ProtocolError,
                "Session Present in answer to Clean Start",
            ));
        }
        if !ack.session_present {
            self.discard_session();
        }
        let p = &ack.properties;
        self.server_max_qos = p.maximum_qos.unwrap_or(QoS::ExactlyOnce);
        self.server_retain = p.retain_available.unwrap_or(true);
        if let Some(ka) = p.server_keep_alive {
            // [MQTT-3.2.2-21]: the server's keep alive replaces ours.
            self.keep_alive = ka;
        }
        let v5 = self.version.is_v5();
        self.flows.set_limits(
            FlowLimits {
                send_window: p
                    .receive_maximum
                    .map_or(u16::MAX, |v| v.get())
                    .min(self.config.max_inflight),
                peer_max_packet: p
                    .maximum_packet_size
                    .map_or(DecodeOptions::MAX_PACKET_SIZE, |v| v.get()),
                receive_maximum: self.receive_maximum,
                inbound_alias_max: if v5 { self.alias_max } else { 0 },
                outbound_alias_max: p.topic_alias_maximum.unwrap_or(0),
                max_queued: self.config.max_queued,
            },
            self.config.outbound_topic_aliases && v5,
        );
        self.phase = Phase::Connected;
        self.flows
            .resume(now, &mut self.tx)
            .map_err(Violation::local)?;
        self.events.push_back(ClientEvent::Connected(ack));
        Ok(())
    }

    /// The server has no session for us: what was in flight is gone with it (it is
    /// reported dropped); messages not yet sent stay queued.
    fn discard_session(&mut self) {
        self.flows.sent = 0;
        let state = &mut self.flows.state;
        state.incoming_qos2.clear();
        for entry in state.inflight.drain() {
            if let Inflight::Publish { id, publish } = entry
                && let Some(topic) = publish.topic
            {
                self.flows.events.push_back(FlowEvent::Dropped {
                    id,
                    topic,
                    why: DropReason::SessionLost,
                });
            }
        }
    }

    fn connected(&self) -> Result<(), Error> {
        match self.phase {
            Phase::Connected => Ok(()),
            Phase::Closed => Err(Error::Closed),
            Phase::AwaitingConnAck => Err(Error::InvalidState("not connected yet")),
        }
    }

    /// Queues an application message. QoS 0 is sent at once (only once connected); QoS 1
    /// and 2 are queued even before the CONNACK and sent in order as the server's receive
    /// maximum allows.
    ///
    /// # Errors
    /// [`Error::QueueFull`], [`Error::Closed`], QoS 0 before the CONNACK, or
    /// [`Error::Encode`].
    pub fn publish(
        &mut self,
        now: Instant,
        mut message: OutgoingMessage,
    ) -> Result<MessageId, Error> {
        if self.phase == Phase::Closed {
            return Err(Error::Closed);
        }
        if message.qos == QoS::AtMostOnce {
            self.connected()?;
        }
        // [MQTT-3.2.2-11] / [MQTT-3.2.2-14]: nothing above the server's Maximum QoS, no
        // RETAIN if it has no retained messages.
        if message.qos > self.server_max_qos {
            return Err(Error::InvalidState("QoS above the server's Maximum QoS"));
        }
        if message.retain && !self.server_retain {
            return Err(Error::InvalidState(
                "the server does not support retained messages",
            ));
        }
        // [MQTT-3.3.4-6]: subscription identifiers go from server to client only.
        if let Some(p) = OptBox::get_mut(&mut message.properties) {
            p.subscription_identifiers.clear();
        }
        self.flows.publish(now, &mut self.tx, message)
    }

    /// Sends SUBSCRIBE; the answer arrives as [`ClientEvent::SubAck`] with the returned
    /// packet identifier.
    ///
    /// # Errors
    /// State errors, [`Error::PacketIdsExhausted`], or [`Error::Encode`] (for example an
    /// empty filter list, or 5.0 options on a 3.1.1 connection).
    pub fn subscribe(
        &mut self,
        _now: Instant,
        filters: Vec<(TopicFilter, SubscriptionOptions)>,
        properties: SubscribeProperties,
    ) -> Result<PacketId, Error> {
        self.connected()?;
        let packet_id = self.allocate_id()?;
        let packet = Subscribe {
            packet_id,
            properties,
            filters,
        };
        self.tx.push(self.version, &packet.into())?;
        self.flows.other_ids_in_use.push(packet_id);
        Ok(packet_id)
    }

    /// Sends UNSUBSCRIBE; the answer arrives as [`ClientEvent::UnsubAck`].
    ///
    /// # Errors
    /// As [`subscribe`](Self::subscribe).
    pub fn unsubscribe(
        &mut self,
        _now: Instant,
        filters: Vec<TopicFilter>,
        properties: UnsubscribeProperties,
    ) -> Result<PacketId, Error> {
        self.connected()?;
        let packet_id = self.allocate_id()?;
        let packet = Unsubscribe {
            packet_id,
            properties,
            filters,
        };
        self.tx.push(self.version, &packet.into())?;
        self.flows.other_ids_in_use.push(packet_id);
        Ok(packet_id)
    }

    fn allocate_id(&mut self) -> Result<PacketId, Error> {
        self.flows
            .state
            .allocate_packet_id(&self.flows.other_ids_in_use)
            .ok_or(Error::PacketIdsExhausted)
    }

    /// Acknowledges an incoming QoS 1 or 2 publication (only needed when `auto_ack` is
    /// off).
    ///
    /// # Errors
    /// [`Error::UnknownPacketId`] if no such publication awaits acknowledgement.
    pub fn acknowledge(
        &mut self,
        _now: Instant,
        packet_id: PacketId,
        reason_code: ReasonCode,
    ) -> Result<(), Error> {
        self.connected()?;
        self.flows.acknowledge(&mut self.tx, packet_id, reason_code)
    }

    /// Sends an AUTH packet (5.0 enhanced authentication).
    ///
    /// # Errors
    /// On a closed or 3.x connection.
    pub fn send_auth(&mut self, _now: Instant, auth: Auth) -> Result<(), Error> {
        if self.phase == Phase::Closed || !self.version.is_v5() {
            return Err(Error::InvalidState("AUTH needs an open 5.0 connection"));
        }
        self.tx.push(self.version, &auth.into())?;
        Ok(())
    }

    /// Sends DISCONNECT and closes. With 5.0, `disconnect` carries the reason (0x04 asks
    /// the server to publish the will) and may change the session expiry interval.
    ///
    /// # Errors
    /// [`Error::Encode`] if `disconnect` has 5.0 content on a 3.x connection.
    pub fn disconnect(&mut self, _now: Instant, disconnect: Disconnect) -> Result<(), Error> {
        if self.phase == Phase::Closed {
            return Err(Error::Closed);
        }
        let code = disconnect.reason_code;
        self.tx.push(self.version, &disconnect.into())?;
        self.phase = Phase::Closed;
        self.finish(CloseReason::LocalDisconnect(code));
        Ok(())
    }

    /// Handles the passing of time: CONNACK timeout, PINGREQ when idle for the keep
    /// alive, and a missing PINGRESP. Spurious calls are harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.connect_deadline.is_some_and(|d| now >= d) {
            return self.close(CloseReason::ConnectTimeout);
        }
        if self.phase != Phase::Connected {
            return;
        }
        if self
            .ping_sent
            .is_some_and(|t| now >= t + self.config.ping_timeout)
        {
            return self.close(CloseReason::KeepAliveTimeout);
        }
        if self.ping_sent.is_none() && self.ping_due().is_some_and(|d| now >= d) {
            if let Err(e) = self.tx.push(self.version, &Packet::PingReq) {
                return self.close(CloseReason::Violation(Violation::local(Error::Encode(e))));
            }
            self.ping_sent = Some(now);
        }
    }

    fn ping_due(&self) -> Option<Instant> {
        (self.keep_alive > 0)
            .then(|| self.last_transmit + Duration::from_secs(u64::from(self.keep_alive)))
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
        // A violation by the server is reported to a 5.0 server with a DISCONNECT; a dead
        // server (no PINGRESP) gets nothing.
        let code = match &reason {
            CloseReason::Violation(_) => reason.disconnect_code(),
            _ => None,
        };
        if self.version.is_v5()
            && self.phase == Phase::Connected
            && let Some(code) = code
        {
            let _ = self.tx.push(self.version, &Disconnect::new(code).into());
        }
        self.phase = Phase::Closed;
        self.finish(reason);
    }

    fn finish(&mut self, reason: CloseReason) {
        self.connect_deadline = None;
        self.ping_sent = None;
        self.drain_flow_events();
        self.events.push_back(ClientEvent::Closed { reason });
    }

    fn drain_flow_events(&mut self) {
        self.events
            .extend(self.flows.events.drain(..).map(ClientEvent::from));
    }

    /// The next chunk of bytes to write, in order.
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Bytes> {
        let chunk = self.tx.pop();
        if chunk.is_some() {
            self.last_transmit = now;
        }
        chunk
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.drain_flow_events();
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next; `None` when
    /// there is no deadline.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Closed => None,
            Phase::AwaitingConnAck => self.connect_deadline,
            Phase::Connected => match self.ping_sent {
                Some(t) => Some(t + self.config.ping_timeout),
                None => self.ping_due(),
            },
        }
    }

    /// Whether the connection wants more input: false once closed or while much output
    /// waits to be written.
    #[must_use]
    pub fn wants_read(&self) -> bool {
        self.phase != Phase::Closed && self.tx.len() < 4 * 1024 * 1024
    }

    /// The session state as it is now.
    #[must_use]
    pub fn session_state(&self) -> &SessionState {
        &self.flows.state
    }

    /// Takes the session state out, for the next connection of the same session.
    #[must_use]
    pub fn take_session_state(&mut self) -> SessionState {
        let flows = std::mem::replace(
            &mut self.flows,
            Flows::new(self.version, SessionState::new(), self.config.auto_ack),
        );
        flows.into_state()
    }
}
