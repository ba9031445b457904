//! What a message carries (sequence number and send time) and what a subscriber checks:
//! loss, duplicates and order per publisher, and latency.

use bytes::{BufMut, Bytes, BytesMut};
use hdrhistogram::Histogram;
use serde::Serialize;

/// Bytes at the front of every payload: sequence number, then send time.
pub(super) const HEADER: usize = 16;

/// Appends one payload of `size` bytes (at least [`HEADER`]) to `buf` and splits it off.
pub(super) fn payload(buf: &mut BytesMut, seq: u64, sent_ns: u64, size: usize) -> Bytes {
    buf.reserve(size);
    buf.put_u64(seq);
    buf.put_u64(sent_ns);
    buf.put_bytes(0, size.saturating_sub(HEADER));
    buf.split().freeze()
}

/// Sequence number and send time of a payload, if it is long enough.
pub(super) fn parse(payload: &[u8]) -> Option<(u64, u64)> {
    let seq = payload.get(..8)?.try_into().ok()?;
    let sent = payload.get(8..HEADER)?.try_into().ok()?;
    Some((u64::from_be_bytes(seq), u64::from_be_bytes(sent)))
}

/// What one subscriber saw from one publisher.
#[derive(Debug, Default, Clone)]
pub(super) struct Stream {
    /// One bit per sequence number received.
    seen: Vec<u64>,
    /// Highest sequence number received plus one.
    next: u64,
    /// Distinct sequence numbers received.
    pub(super) unique: u64,
    pub(super) duplicates: u64,
    /// Messages that arrived after a higher sequence number of the same publisher.
    pub(super) out_of_order: u64,
}

impl Stream {
    /// Of `sent` messages, how many never arrived, split into those missing before the
    /// last one received (gaps) and those after it (the tail).
    pub(super) fn missing(&self, sent: u64) -> (u64, u64) {
        let tail = sent.saturating_sub(self.next);
        let gaps = self.next.min(sent).saturating_sub(self.unique);
        (gaps, tail)
    }

    pub(super) fn record(&mut self, seq: u64) {
        let Ok(word) = usize::try_from(seq / 64) else {
            return;
        };
        if self.seen.len() <= word {
            self.seen.resize((word + 1).next_power_of_two(), 0);
        }
        let bit = 1u64 << (seq % 64);
        let Some(w) = self.seen.get_mut(word) else {
            return;
        };
        if *w & bit != 0 {
            self.duplicates += 1;
            return;
        }
        *w |= bit;
        self.unique += 1;
        if seq < self.next {
            self.out_of_order += 1;
        } else {
            self.next = seq + 1;
        }
    }
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Latency {
    /// Messages measured.
    pub count: u64,
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Largest.
    pub max_us: f64,
    /// Mean.
    pub mean_us: f64,
}

/// A histogram of nanoseconds, up to a minute at 3 significant digits.
pub(super) fn histogram() -> Histogram<u64> {
    // The bounds are constants that `new_with_bounds` accepts.
    Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap_or_else(|_| unreachable!())
}

/// The percentiles of a histogram of nanoseconds, `None` when it is empty.
pub(super) fn latency(h: &Histogram<u64>) -> Option<Latency> {
    if h.is_empty() {
        return None;
    }
    #[allow(clippy::cast_precision_loss)]
    let us = |ns: u64| ns as f64 / 1000.0;
    Some(Latency {
        count: h.len(),
        p50_us: us(h.value_at_quantile(0.5)),
        p99_us: us(h.value_at_quantile(0.99)),
        p999_us: us(h.value_at_quantile(0.999)),
        max_us: us(h.max()),
        mean_us: h.mean() / 1000.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trip() {
        let mut buf = BytesMut::new();
        let p = payload(&mut buf, 7, 123_456, 64);
        assert_eq!(p.len(), 64);
        assert_eq!(parse(&p), Some((7, 123_456)));
        let short = payload(&mut buf, 1, 2, 3);
        assert_eq!(short.len(), HEADER);
        assert_eq!(parse(b"too short"), None);
    }

    #[test]
    fn stream_counts_duplicates_and_order() {
        let mut s = Stream::default();
        for seq in [0, 1, 3, 2, 2, 200, 4] {
            s.record(seq);
        }
        assert_eq!(s.unique, 6);
        assert_eq!(s.duplicates, 1);
        // 2 after 3, 4 after 200.
        assert_eq!(s.out_of_order, 2);
        // 5..=199 are gaps, 201..210 the tail.
        assert_eq!(s.missing(210), (195, 9));
    }

    #[test]
    fn latency_percentiles() {
        let mut h = histogram();
        for v in 1..=1000u64 {
            h.record(v * 1000).unwrap();
        }
        let l = latency(&h).unwrap();
        assert_eq!(l.count, 1000);
        assert!((l.p50_us - 500.0).abs() < 1.0, "{l:?}");
        assert!((l.p99_us - 990.0).abs() < 1.0, "{l:?}");
        assert!(latency(&histogram()).is_none());
    }
}
