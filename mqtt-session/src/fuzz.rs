//! The check the `server_connection` fuzz target runs, kept here so the regression tests
//! run exactly the same code over the committed inputs.
//!
//! The input drives one [`ServerConnection`] as a broker would: byte 0 picks the
//! configuration, then each control byte either feeds the next bytes as received data or
//! performs an action (time passes, a message to the client, an acknowledgement, a close).
//! Answers to a connection that closed meanwhile fail as local errors, which is fine.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_proto::{PacketId, QoS, ReasonCode, SubAck, TopicName, UnsubAck};

use crate::{Accept, OutgoingMessage, ServerConfig, ServerConnection, ServerEvent};

/// Runs the input against a fresh connection starting at `now`; panics if the connection
/// panics or breaks a bound: transmit output per step, queued messages, messages in
/// flight.
pub fn server_connection(now: Instant, data: &[u8]) {
    let Some((&options, mut rest)) = data.split_first() else {
        return;
    };
    let config = ServerConfig {
        auto_ack: options & 1 != 0,
        outbound_topic_aliases: options & 2 != 0,
        topic_alias_maximum: [0, 1, 4, 64][usize::from((options >> 2) & 3)],
        max_packet_size: if options & 16 != 0 { 256 } else { 64 * 1024 },
        receive_maximum: if options & 32 != 0 { 2 } else { 64 },
        max_inflight: 8,
        max_queued: 16,
        ..ServerConfig::default()
    };
    let max_inflight = usize::from(config.max_inflight);
    let mut conn = ServerConnection::new(now, config);
    let mut now = now;
    let mut buf = BytesMut::new();
    let mut unacked: Vec<PacketId> = Vec::new();
    let topic = TopicName::from_static("fuzz/out");
    while let Some((&control, tail)) = rest.split_first() {
        rest = tail;
        match control {
            0..=0xEF => {
                let n = (usize::from(control) % 64 + 1).min(rest.len());
                let (chunk, tail) = rest.split_at(n);
                rest = tail;
                buf.extend_from_slice(chunk);
                conn.handle_read(now, &mut buf);
            }
            0xF0..=0xF7 => {
                let secs = [0.1, 1.0, 10.0, 100.0, 1000.0, 15_000.0, 100_000.0, 0.0]
                    [usize::from(control & 7)];
                now += Duration::from_secs_f64(secs);
                conn.handle_timeout(now);
            }
            0xF8 => {
                let qos = QoS::from_u8(rest.first().copied().unwrap_or(0) % 3).unwrap_or_default();
                let message =
                    OutgoingMessage::new(topic.clone(), qos, Bytes::from_static(b"payload"));
                let _ = conn.publish(now, message);
            }
            0xF9 => {
                if let Some(id) = unacked.pop() {
                    let _ = conn.acknowledge(now, id, ReasonCode::Success);
                }
            }
            0xFA => conn.disconnect(now, ReasonCode::ServerShuttingDown),
            0xFB => conn.handle_transport_closed(now),
            _ => {}
        }
        let mut written = 0;
        while let Some(chunk) = conn.poll_transmit(now) {
            written += chunk.len();
        }
        // Output per step is bounded by what one step can cause, never by peer claims.
        assert!(written <= 1 << 20, "{written} bytes out in one step");
        while let Some(event) = conn.poll_event() {
            match event {
                ServerEvent::Connect(c) => {
                    let accept = Accept {
                        session_present: !c.clean_start,
                        ..Accept::default()
                    };
                    let _ = conn.accept(now, accept);
                    conn.handle_read(now, &mut buf);
                }
                ServerEvent::Publish(p) => unacked.extend(p.packet_id()),
                ServerEvent::Subscribe(s) => {
                    let suback = SubAck {
                        packet_id: s.packet_id,
                        properties: Default::default(),
                        reason_codes: vec![ReasonCode::GrantedQoS1; s.filters.len()],
                    };
                    let _ = conn.suback(now, suback);
                }
                ServerEvent::Unsubscribe(u) => {
                    let unsuback = UnsubAck {
                        packet_id: u.packet_id,
                        properties: Default::default(),
                        reason_codes: vec![ReasonCode::Success; u.filters.len()],
                    };
                    let _ = conn.unsuback(now, unsuback);
                }
                _ => {}
            }
        }
        let state = conn.session_state();
        assert!(state.queued_len() <= 16, "queue grew past its bound");
        assert!(
            state.inflight().count() <= max_inflight,
            "in flight past the window"
        );
        assert!(state.incoming_qos2().len() <= usize::from(u16::MAX));
        assert!(unacked.len() <= 1 << 16);
        if conn.is_closed() {
            break;
        }
    }
    let _ = conn.take_session_state();
}
