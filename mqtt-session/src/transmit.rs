//! The outgoing byte queue: packets encoded back to back into one buffer, with large
//! PUBLISH payloads kept as their own chunk so they are never copied.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use mqtt_proto::{EncodeError, Packet, ProtocolVersion, Publish};

/// Payloads at least this large are not copied into the send buffer.
const ZERO_COPY_PAYLOAD: usize = 1024;

#[derive(Debug, Default)]
pub(crate) struct TxQueue {
    /// Small packets not yet handed out, encoded back to back.
    buf: BytesMut,
    /// Chunks ready to write, in order; `buf` comes after them.
    chunks: VecDeque<Bytes>,
    /// Bytes queued in total (for back-pressure).
    queued: usize,
}

impl TxQueue {
    pub(crate) fn push(
        &mut self,
        version: ProtocolVersion,
        packet: &Packet,
    ) -> Result<(), EncodeError> {
        if let Packet::Publish(p) = packet {
            return self.push_publish(version, p);
        }
        let n = packet.encode(version, &mut self.buf)?;
        self.queued += n;
        Ok(())
    }

    pub(crate) fn push_publish(
        &mut self,
        version: ProtocolVersion,
        p: &Publish,
    ) -> Result<(), EncodeError> {
        if p.payload.len() < ZERO_COPY_PAYLOAD {
            self.queued += p.encode(version, &mut self.buf)?;
            return Ok(());
        }
        let n = p.encode_header(version, &mut self.buf)?;
        self.chunks.push_back(self.buf.split().freeze());
        self.chunks.push_back(p.payload.clone());
        self.queued += n + p.payload.len();
        Ok(())
    }

    /// The next chunk to write.
    pub(crate) fn pop(&mut self) -> Option<Bytes> {
        let chunk = match self.chunks.pop_front() {
            Some(c) => c,
            None if !self.buf.is_empty() => self.buf.split().freeze(),
            None => return None,
        };
        self.queued -= chunk.len();
        Some(chunk)
    }

    /// Bytes waiting to be written.
    pub(crate) fn len(&self) -> usize {
        self.queued
    }

    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.chunks.clear();
        self.queued = 0;
    }
}
