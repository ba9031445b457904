//! The publish flows both connection types share: QoS 1 and 2 handshakes in both
//! directions, packet identifiers, receive maximum, topic aliases, maximum packet size and
//! message expiry.

use std::collections::VecDeque;
use std::time::Instant;

use mqtt_proto::{
    AckProperties, OptBox, Packet, ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, QoS,
    QoSPid, ReasonCode, TopicName,
};

use crate::alias::{InboundAliases, OutboundAliases};
use crate::state::{Inflight, MessageId, OutgoingMessage, Queued, SessionState};
use crate::transmit::TxQueue;
use crate::{Error, Violation};

/// What the flows report to the connection that owns them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FlowEvent {
    /// An application message from the peer, delivered once per the QoS rules.
    Message(Publish),
    /// An outgoing QoS 1 or 2 publication finished: PUBACK, PUBCOMP, or PUBREC with an
    /// error code.
    Delivered {
        id: MessageId,
        reason_code: ReasonCode,
    },
    /// An outgoing message was not sent.
    Dropped {
        id: MessageId,
        topic: TopicName,
        why: DropReason,
    },
}

/// Why an outgoing message was discarded instead of sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Its message expiry interval passed while it waited [MQTT-3.3.2-5].
    Expired,
    /// It is larger than the peer's Maximum Packet Size [MQTT-3.1.2-25] [MQTT-3.2.2-15].
    TooLarge,
    /// The queue of messages waiting for the peer was full.
    QueueFull,
    /// It was in flight, and the server resumed no session: the server discarded it
    /// with its session state.
    SessionLost,
}

/// Limits of the flows, negotiated at connect time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FlowLimits {
    /// How many of our QoS 1/2 publications may be unacknowledged (the peer's Receive
    /// Maximum, or our window for 3.x).
    pub(crate) send_window: u16,
    /// Largest packet the peer accepts.
    pub(crate) peer_max_packet: u32,
    /// How many of the peer's QoS 1/2 publications we accept unacknowledged (5.0).
    pub(crate) receive_maximum: u16,
    /// Highest topic alias the peer may use towards us.
    pub(crate) inbound_alias_max: u16,
    /// Highest topic alias we may use towards the peer (0 = none).
    pub(crate) outbound_alias_max: u16,
    /// Most messages queued behind the send window.
    pub(crate) max_queued: usize,
}

impl Default for FlowLimits {
    fn default() -> Self {
        Self {
            send_window: u16::MAX,
            peer_max_packet: mqtt_proto::DecodeOptions::MAX_PACKET_SIZE,
            receive_maximum: u16::MAX,
            inbound_alias_max: 0,
            outbound_alias_max: 0,
            max_queued: usize::MAX,
        }
    }
}

pub(crate) struct Flows {
    pub(crate) version: ProtocolVersion,
    pub(crate) limits: FlowLimits,
    pub(crate) state: SessionState,
    /// Incoming QoS 1/2 publications handed to the application and not yet acknowledged by
    /// it, in arrival order.
    unacked_in: Vec<(mqtt_proto::PacketId, QoS)>,
    /// Incoming QoS 2 identifiers received on this connection and not yet released: with
    /// the unacknowledged QoS 1 ones, what counts against our Receive Maximum. The quota
    /// starts afresh on every connection (5.0 section 4.9), so exchanges carried over from
    /// an earlier connection do not count.
    qos2_here: Vec<mqtt_proto::PacketId>,
    /// Acknowledge incoming publications as soon as they are delivered.
    pub(crate) auto_ack: bool,
    aliases_in: InboundAliases,
    pub(crate) aliases_out: OutboundAliases,
    /// Packet identifiers of SUBSCRIBE and UNSUBSCRIBE awaiting acknowledgement.
    pub(crate) other_ids_in_use: Vec<mqtt_proto::PacketId>,
    /// How many of the leading publications in flight went out on this connection; the
    /// others, in flight from an earlier connection, wait for room in the window.
    pub(crate) sent: usize,
    pub(crate) events: VecDeque<FlowEvent>,
}

impl Flows {
    pub(crate) fn new(version: ProtocolVersion, state: SessionState, auto_ack: bool) -> Self {
        Self {
            version,
            limits: FlowLimits::default(),
            state,
            unacked_in: Vec::new(),
            qos2_here: Vec::new(),
            auto_ack,
            aliases_in: InboundAliases::default(),
            aliases_out: OutboundAliases::default(),
            other_ids_in_use: Vec::new(),
            sent: 0,
            events: VecDeque::new(),
        }
    }

    /// Applies negotiated limits; aliases start empty on every connection [MQTT-3.3.2-7].
    pub(crate) fn set_limits(&mut self, limits: FlowLimits, lru_aliases: bool) {
        self.limits = limits;
        self.aliases_in = InboundAliases::new(limits.inbound_alias_max);
        self.aliases_out = OutboundAliases::new(if lru_aliases {
            limits.outbound_alias_max
        } else {
            0
        });
    }

    fn send(&self, tx: &mut TxQueue, packet: Packet) -> Result<(), Error> {
        tx.push(self.version, &packet).map_err(Error::Encode)
    }

    /// Sends an acknowledgement, leaving out its properties if they would make it larger
    /// than the peer accepts (MQTT 5.0 sections 3.4.2.2.2 and 3.4.2.2.3).
    fn send_ack(&self, tx: &mut TxQueue, mut packet: Packet) -> Result<(), Error> {
        let too_big = packet
            .encoded_len(self.version)
            .is_ok_and(|n| n > self.limits.peer_max_packet as usize);
        if too_big {
            match &mut packet {
                Packet::PubAck(p) => p.properties = AckProperties::default(),
                Packet::PubRec(p) => p.properties = AckProperties::default(),
                Packet::PubRel(p) => p.properties = AckProperties::default(),
                Packet::PubComp(p) => p.properties = AckProperties::default(),
                _ => {}
            }
        }
        self.send(tx, packet)
    }

    /// How many incoming QoS 1/2 publications are unacknowledged towards the peer.
    fn receiving(&self) -> usize {
        let qos1 = self
            .unacked_in
            .iter()
            .filter(|(_, q)| *q == QoS::AtLeastOnce)
            .count();
        qos1 + self.qos2_here.len()
    }

    pub(crate) fn on_publish(&mut self, tx: &mut TxQueue, mut p: Publish) -> Result<(), Violation> {
        self.resolve_alias(&mut p)?;
        match p.qos_pid {
            QoSPid::AtMostOnce => {}
            QoSPid::AtLeastOnce(id) => {
                self.check_receive_maximum()?;
                self.unacked_in.push((id, QoS::AtLeastOnce));
            }
            QoSPid::ExactlyOnce(id) => {
                if self.state.incoming_qos2.contains(&id) {
                    // A resend of a publication already delivered: PUBREC again (once the
                    // application acknowledged it), never a second delivery (5.0
                    // [MQTT-4.3.3-10], 3.1.1 [MQTT-4.3.3-2]).
                    if !self.unacked_in.iter().any(|(u, _)| *u == id) {
                        self.send_ack(tx, PubRec::new(id).into())
                            .map_err(Violation::local)?;
                    }
                    return Ok(());
                }
                self.check_receive_maximum()?;
                self.state.incoming_qos2.push(id);
                self.qos2_here.push(id);
                self.unacked_in.push((id, QoS::ExactlyOnce));
            }
        }
        let id = p.packet_id();
        self.events.push_back(FlowEvent::Message(p));
        if let (Some(id), true) = (id, self.auto_ack) {
            self.acknowledge(tx, id, ReasonCode::Success)
                .map_err(Violation::local)?;
        }
        Ok(())
    }

    fn check_receive_maximum(&self) -> Result<(), Violation> {
        // Only 5.0 has a Receive Maximum for the peer to exceed: a client over the server's
        // breaks [MQTT-3.3.4-7], a server over the client's [MQTT-3.3.4-9]; the answer 0x93
        // is section 3.3.4 (untagged).
        if self.version.is_v5() && self.receiving() >= usize::from(self.limits.receive_maximum) {
            return Err(Violation::new(
                ReasonCode::ReceiveMaximumExceeded,
                "more unacknowledged QoS 1/2 PUBLISH than the Receive Maximum",
            ));
        }
        Ok(())
    }

    /// Replaces a topic alias by its topic, or records a new alias (server [MQTT-3.3.2-12],
    /// client [MQTT-3.3.2-10]).
    fn resolve_alias(&mut self, p: &mut Publish) -> Result<(), Violation> {
        let Some(alias) = OptBox::get_mut(&mut p.properties).and_then(|q| q.topic_alias.take())
        else {
            return Ok(());
        };
        match p.topic.clone() {
            Some(topic) => self.aliases_in.set(alias, topic)?,
            None => p.topic = Some(self.aliases_in.get(alias)?),
        }
        Ok(())
    }

    /// The application has processed incoming publication `id`: send PUBACK or PUBREC.
    pub(crate) fn acknowledge(
        &mut self,
        tx: &mut TxQueue,
        id: mqtt_proto::PacketId,
        reason_code: ReasonCode,
    ) -> Result<(), Error> {
        let pos = self
            .unacked_in
            .iter()
            .position(|(u, _)| *u == id)
            .ok_or(Error::UnknownPacketId(id))?;
        let (_, qos) = self.unacked_in.remove(pos);
        let reason_code = if self.version.is_v5() {
            reason_code
        } else {
            ReasonCode::Success
        };
        if qos == QoS::AtLeastOnce {
            let mut ack = PubAck::new(id);
            ack.reason_code = reason_code;
            self.send_ack(tx, ack.into())
        } else {
            // A PUBREC with an error code ends the exchange: the identifier is free.
            if reason_code.is_error() {
                self.state.incoming_qos2.retain(|&u| u != id);
                self.qos2_here.retain(|&u| u != id);
            }
            let mut rec = PubRec::new(id);
            rec.reason_code = reason_code;
            self.send_ack(tx, rec.into())
        }
    }

    pub(crate) fn on_pubrel(&mut self, tx: &mut TxQueue, p: PubRel) -> Result<(), Violation> {
        let id = p.packet_id;
        let mut comp = PubComp::new(id);
        if self.unacked_in.iter().any(|(u, _)| *u == id) {
            return Err(Violation::new(
                ReasonCode::ProtocolError,
                "PUBREL before PUBREC",
            ));
        }
        self.qos2_here.retain(|&u| u != id);
        match self.state.incoming_qos2.iter().position(|&u| u == id) {
            Some(pos) => {
                self.state.incoming_qos2.remove(pos);
            }
            // A PUBREL for an identifier we do not know: the exchange already ended, so
            // answer PUBCOMP (5.0: with Packet Identifier not found).
            None if self.version.is_v5() => comp.reason_code = ReasonCode::PacketIdentifierNotFound,
            None => {}
        }
        self.send_ack(tx, comp.into()).map_err(Violation::local)
    }

    pub(crate) fn on_puback(
        &mut self,
        now: Instant,
        tx: &mut TxQueue,
        p: PubAck,
    ) -> Result<(), Violation> {
        let found = self.state.inflight.position_of(p.packet_id).filter(|&pos| {
            matches!(self.state.inflight.get(pos), Some(Inflight::Publish { publish, .. }) if publish.qos_pid == QoSPid::AtLeastOnce(p.packet_id))
        });
        if let Some(entry) = found.and_then(|pos| self.remove_inflight(pos)) {
            self.events.push_back(FlowEvent::Delivered {
                id: entry.message_id(),
                reason_code: p.reason_code,
            });
            self.fill_window(now, tx).map_err(Violation::local)?;
        }
        // An acknowledgement of nothing in flight (a late duplicate) is ignored.
        Ok(())
    }

    pub(crate) fn on_pubrec(
        &mut self,
        now: Instant,
        tx: &mut TxQueue,
        p: PubRec,
    ) -> Result<(), Violation> {
        let id = p.packet_id;
        let pos =
            self.state
                .inflight
                .position_of(id)
                .filter(|&pos| match self.state.inflight.get(pos) {
                    Some(Inflight::Publish { publish, .. }) => {
                        publish.qos_pid == QoSPid::ExactlyOnce(id)
                    }
                    Some(Inflight::Release { packet_id, .. }) => *packet_id == id,
                    None => false,
                });
        let mut rel = PubRel::new(id);
        match pos.and_then(|pos| self.state.inflight.get_mut(pos).map(|e| (pos, e))) {
            Some((pos, Inflight::Publish { id: message, .. })) if p.reason_code.is_error() => {
                // The receiver refused the message: the exchange ends here.
                let message = *message;
                self.remove_inflight(pos);
                self.events.push_back(FlowEvent::Delivered {
                    id: message,
                    reason_code: p.reason_code,
                });
                return self.fill_window(now, tx).map_err(Violation::local);
            }
            Some((_, entry)) => {
                // Released [MQTT-4.3.3-4]: the message is dropped and never sent again
                // [MQTT-4.3.3-6], only the PUBREL is kept for resending until PUBCOMP
                // [MQTT-4.3.3-5] (5.0 numbers; 3.1.1 has all of it as [MQTT-4.3.3-1]); a
                // repeated PUBREC is answered with PUBREL again.
                *entry = Inflight::Release {
                    id: entry.message_id(),
                    packet_id: id,
                };
            }
            None if self.version.is_v5() => rel.reason_code = ReasonCode::PacketIdentifierNotFound,
            None => {}
        }
        self.send_ack(tx, rel.into()).map_err(Violation::local)
    }

    pub(crate) fn on_pubcomp(
        &mut self,
        now: Instant,
        tx: &mut TxQueue,
        p: PubComp,
    ) -> Result<(), Violation> {
        let found = self.state.inflight.position_of(p.packet_id).filter(|&pos| {
            matches!(self.state.inflight.get(pos), Some(Inflight::Release { packet_id, .. }) if *packet_id == p.packet_id)
        });
        if let Some(entry) = found.and_then(|pos| self.remove_inflight(pos)) {
            self.events.push_back(FlowEvent::Delivered {
                id: entry.message_id(),
                reason_code: p.reason_code,
            });
            self.fill_window(now, tx).map_err(Violation::local)?;
        }
        Ok(())
    }

    /// Queues a message to the peer. QoS 0 goes out at once; QoS 1 and 2 wait for room in
    /// the send window, in order.
    pub(crate) fn publish(
        &mut self,
        now: Instant,
        tx: &mut TxQueue,
        message: OutgoingMessage,
    ) -> Result<MessageId, Error> {
        if message.qos != QoS::AtMostOnce && self.state.queue.len() >= self.limits.max_queued {
            return Err(Error::QueueFull);
        }
        let queued = self.state.make_queued(now, message);
        let id = queued.id;
        if queued.message.qos == QoS::AtMostOnce {
            self.transmit(now, tx, queued, None)?;
        } else {
            self.state.queue.push_back(queued);
            self.fill_window(now, tx)?;
        }
        Ok(id)
    }

    /// Whether QoS 1/2 messages wait behind a full in-flight window: the peer has as many
    /// unacknowledged as its Receive Maximum allows.
    pub(crate) fn window_full(&self) -> bool {
        self.state.inflight.len() >= usize::from(self.limits.send_window)
    }

    /// Sends queued QoS 1/2 messages while the peer's receive maximum allows.
    /// A QoS 0 message queued while the peer was away takes no identifier and no place
    /// in the window: the receive maximum counts QoS 1 and 2 only.
    pub(crate) fn fill_window(&mut self, now: Instant, tx: &mut TxQueue) -> Result<(), Error> {
        // Publications in flight from an earlier connection go again first, in their order
        // and with DUP [MQTT-4.4.0-1], but no more than the window allows [MQTT-3.3.4-9].
        let window = usize::from(self.limits.send_window);
        while self.sent < self.state.inflight.len() && self.sent < window {
            self.resend(tx, self.sent)?;
            self.sent += 1;
        }
        if self.sent < self.state.inflight.len() {
            return Ok(());
        }
        while let Some(front) = self.state.queue.front() {
            let qos0 = front.message.qos == QoS::AtMostOnce;
            if !qos0 && self.state.inflight.len() >= usize::from(self.limits.send_window) {
                break;
            }
            let id = if qos0 {
                None
            } else {
                match self.state.allocate_packet_id(&self.other_ids_in_use) {
                    Some(id) => Some(id),
                    None => break,
                }
            };
            if let Some(queued) = self.state.queue.pop_front() {
                self.transmit(now, tx, queued, id)?;
            }
        }
        Ok(())
    }

    /// Builds the PUBLISH for a message, drops it if it expired or is too large for the
    /// peer, records it in flight if it has an identifier, and encodes it.
    fn transmit(
        &mut self,
        now: Instant,
        tx: &mut TxQueue,
        queued: Queued,
        id: Option<mqtt_proto::PacketId>,
    ) -> Result<(), Error> {
        let Queued {
            id: message_id,
            message,
            expires_at,
        } = queued;
        let mut properties = message.properties;
        if let Some(p) = OptBox::get_mut(&mut properties) {
            p.topic_alias = None;
        }
        if !self.version.is_v5() {
            // A session may move from a 5.0 to a 3.x connection: 3.x has no properties.
            properties = OptBox::none();
        }
        if let Some(at) = expires_at {
            // The interval sent is what is left of it [MQTT-3.3.2-6], rounded up.
            let left = at.saturating_duration_since(now);
            if left.is_zero() {
                self.events.push_back(FlowEvent::Dropped {
                    id: message_id,
                    topic: message.topic,
                    why: DropReason::Expired,
                });
                return Ok(());
            }
            let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            properties.message_expiry_interval = Some(u32::try_from(secs).unwrap_or(u32::MAX));
        }
        let qos_pid = match (message.qos, id) {
            (QoS::AtLeastOnce, Some(id)) => QoSPid::AtLeastOnce(id),
            (QoS::ExactlyOnce, Some(id)) => QoSPid::ExactlyOnce(id),
            _ => QoSPid::AtMostOnce,
        };
        let publish = Publish {
            dup: false,
            qos_pid,
            retain: message.retain,
            topic: Some(message.topic),
            properties,
            payload: message.payload,
        };
        let len = publish.encoded_len(self.version).map_err(Error::Encode)?;
        if len > self.limits.peer_max_packet as usize {
            // Discard as if it had been sent: [MQTT-3.1.2-25] for a server; a client may not
            // send it either [MQTT-3.2.2-15].
            if let Some(topic) = publish.topic {
                self.events.push_back(FlowEvent::Dropped {
                    id: message_id,
                    topic,
                    why: DropReason::TooLarge,
                });
            }
            return Ok(());
        }
        self.encode_publish(tx, &publish)?;
        if id.is_some() {
            self.state.inflight.push_back(Inflight::Publish {
                id: message_id,
                publish,
            });
            self.sent = self.state.inflight.len();
        }
        Ok(())
    }

    /// Encodes a PUBLISH, substituting a topic alias when the policy has one.
    fn encode_publish(&mut self, tx: &mut TxQueue, publish: &Publish) -> Result<(), Error> {
        if !self.version.is_v5() && !publish.properties.is_empty() {
            // In flight from a 5.0 connection of the same session, resent on a 3.x one.
            let mut plain = publish.clone();
            plain.properties = OptBox::none();
            return tx.push_publish(self.version, &plain).map_err(Error::Encode);
        }
        match publish
            .topic
            .as_ref()
            .and_then(|t| self.aliases_out.lookup(t))
        {
            Some((alias, known)) => {
                let mut aliased = publish.clone();
                aliased.properties.topic_alias = Some(alias);
                if known {
                    aliased.topic = None;
                }
                tx.push_publish(self.version, &aliased)
                    .map_err(Error::Encode)
            }
            None => tx
                .push_publish(self.version, publish)
                .map_err(Error::Encode),
        }
    }

    /// On a resumed session: resend what is in flight, in order, PUBLISH with DUP set
    /// [MQTT-4.4.0-1] [MQTT-3.3.1-1], as far as the new window allows, then what is queued.
    pub(crate) fn resume(&mut self, now: Instant, tx: &mut TxQueue) -> Result<(), Error> {
        self.sent = 0;
        // Acknowledgements the application owed on the old connection are lost with it;
        // the peer resends those publications.
        self.unacked_in.clear();
        self.qos2_here.clear();
        self.fill_window(now, tx)
    }

    /// Sends the publication in flight at `index` again.
    fn resend(&mut self, tx: &mut TxQueue, index: usize) -> Result<(), Error> {
        match self.state.inflight.get_mut(index) {
            Some(Inflight::Publish { publish, .. }) => {
                publish.dup = true;
                let publish = publish.clone();
                self.encode_publish(tx, &publish)
            }
            Some(Inflight::Release { packet_id, .. }) => {
                let packet_id = *packet_id;
                self.send(tx, PubRel::new(packet_id).into())
            }
            None => Ok(()),
        }
    }

    /// Removes a publication from the in-flight list, keeping `sent` in step.
    fn remove_inflight(&mut self, pos: usize) -> Option<Inflight> {
        let entry = self.state.inflight.remove(pos)?;
        if pos < self.sent {
            self.sent -= 1;
        }
        Some(entry)
    }

    /// Ends the connection's part: incoming publications not yet acknowledged are
    /// forgotten (the peer resends them), except QoS 2 identifiers already delivered.
    pub(crate) fn into_state(mut self) -> SessionState {
        self.unacked_in.clear();
        self.state
    }
}
