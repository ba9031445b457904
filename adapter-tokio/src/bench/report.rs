//! The result of a run: a human summary and one JSON line.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::track::Latency;

/// The result of one `mqtt bench` run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    /// `fanin`, `fanout`, `latency` or `connections`.
    pub mode: &'static str,
    /// `host:port` of the broker.
    pub broker: String,
    /// `3.1.1` or `5.0`.
    pub protocol: &'static str,
    /// QoS of the publications and subscriptions.
    pub qos: u8,
    /// Payload bytes per message.
    pub size: usize,
    /// Measured seconds (after the warm-up).
    pub duration_s: f64,
    /// Warm-up seconds, excluded from throughput and latency.
    pub warmup_s: f64,
    /// Target publish rate in messages per second over all publishers; 0 = as fast as
    /// possible.
    pub rate: u64,
    /// End-to-end bound on outstanding deliveries (`--backlog`); 0 = open loop.
    pub backlog: u64,
    /// QoS 1/2 window per publisher (`--inflight`).
    pub inflight: u16,
    /// Publishing connections.
    pub publishers: usize,
    /// Subscribing connections.
    pub subscribers: usize,
    /// Traffic counts; `None` in connections mode.
    pub traffic: Option<Traffic>,
    /// Latency of the messages sent after the warm-up, from publish to delivery.
    pub latency: Option<Latency>,
    /// Connections mode.
    pub connections: Option<Connections>,
    /// CPU the generator itself used while measuring.
    pub generator: Generator,
    /// CPU the broker used over the same interval (`--broker-pid`).
    pub broker_cpu: Option<BrokerCpu>,
    /// What went wrong: loss at QoS 1/2, closed connections, unacknowledged messages.
    pub problems: Vec<String>,
}

/// Messages sent and received.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Traffic {
    /// Messages published, warm-up included.
    pub sent: u64,
    /// QoS 1/2 messages the broker acknowledged.
    pub acked: u64,
    /// Deliveries expected: every message to every subscriber.
    pub expected: u64,
    /// Deliveries, duplicates included.
    pub received: u64,
    /// Expected deliveries that never arrived (must be 0 at QoS 1/2).
    pub lost: u64,
    /// Of which after the last message received from their publisher (still held by the
    /// broker when the subscriber stopped, or dropped at the end); the others are gaps.
    pub lost_tail: u64,
    /// Deliveries of a message the subscriber already had.
    pub duplicates: u64,
    /// Deliveries after a later message of the same publisher.
    pub out_of_order: u64,
    /// Deliveries that did not carry a sequence number (should be 0).
    pub malformed: u64,
    /// Messages published per second after the warm-up.
    pub publish_rate: f64,
    /// Deliveries per second after the warm-up, all subscribers together.
    pub throughput: f64,
    /// Paced runs: messages the publishers fell behind the target rate.
    pub behind_schedule: u64,
    /// Seconds from the end of publishing until the subscribers stopped (every expected
    /// delivery arrived, nothing arrived for 1 s, or 10 s passed).
    pub drain_s: f64,
}

/// Idle connections.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Connections {
    /// Connections attempted.
    pub requested: usize,
    /// Connections that got a successful CONNACK.
    pub succeeded: usize,
    /// Connections still open at the end of the hold.
    pub open_at_end: usize,
    /// Seconds to open them all.
    pub connect_s: f64,
    /// Broker RSS before opening (`--broker-pid`), KiB.
    pub rss_before_kib: Option<u64>,
    /// Broker RSS with every connection open, KiB.
    pub rss_after_kib: Option<u64>,
    /// RSS growth per successful connection, bytes.
    pub bytes_per_connection: Option<f64>,
}

/// The generator's own CPU use over the measured interval.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Generator {
    /// User + system CPU seconds of the whole process.
    pub cpu_s: f64,
    /// Wall-clock seconds of the interval.
    pub wall_s: f64,
    /// Cores the process may run on.
    pub cores: usize,
    /// `cpu_s / (wall_s * cores)`.
    pub utilization: f64,
    /// Above 90%: the generator may have been the bottleneck.
    pub saturated: bool,
}

/// The broker's CPU use over the measured interval, from `/proc/PID/stat`.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct BrokerCpu {
    /// User + system CPU seconds.
    pub cpu_s: f64,
    /// `cpu_s / wall_s`: 1.0 is one core busy all the time.
    pub cores_used: f64,
    /// Deliveries per broker CPU second (traffic modes).
    pub deliveries_per_cpu_s: Option<f64>,
}

impl Generator {
    /// From two readings of [`cpu_seconds`] `wall` apart.
    pub(super) fn new(cpu_s: f64, wall: Duration, cores: usize) -> Self {
        let wall_s = wall.as_secs_f64();
        #[allow(clippy::cast_precision_loss)]
        let utilization = if wall_s > 0.0 {
            cpu_s / (wall_s * cores.max(1) as f64)
        } else {
            0.0
        };
        Self {
            cpu_s,
            wall_s,
            cores,
            utilization,
            saturated: utilization > 0.9,
        }
    }
}

/// User + system CPU time of this process, from `/proc/self/stat` (`None` elsewhere).
pub(super) fn cpu_seconds() -> Option<f64> {
    process_cpu_seconds("self")
}

/// User + system CPU time of process `pid` (`"self"` for this one).
pub(super) fn process_cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: fields are counted after its closing parenthesis,
    // where field 3 (state) comes first; utime and stime are fields 14 and 15.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // USER_HZ is 100 on every Linux target.
    #[allow(clippy::cast_precision_loss)]
    Some((utime + stime) as f64 / 100.0)
}

/// Resident set size of process `pid` in KiB, from `/proc/PID/status`.
pub(super) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

impl Report {
    /// One line of JSON.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// Whether the run found a problem (loss at QoS 1/2, a connection closed, ...).
    #[must_use]
    pub fn has_problems(&self) -> bool {
        !self.problems.is_empty()
    }
}

fn group(n: f64) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let digits = (n.max(0.0).round() as u64).to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[allow(clippy::cast_precision_loss)]
fn count(n: u64) -> String {
    group(n as f64)
}

fn ms(us: f64) -> String {
    format!("{:.3} ms", us / 1000.0)
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shape = match self.mode {
            "connections" => String::new(),
            _ => format!(
                ": {} publisher(s) -> {} subscriber(s)",
                self.publishers, self.subscribers
            ),
        };
        writeln!(
            f,
            "mqtt bench {}{shape}, QoS {}, {} B, MQTT {}, {}",
            self.mode, self.qos, self.size, self.protocol, self.broker
        )?;
        let rate = if self.rate == 0 {
            "as fast as possible".to_string()
        } else {
            format!("{} msg/s", count(self.rate))
        };
        let backlog = if self.backlog > 0 {
            format!(", at most {} deliveries outstanding", count(self.backlog))
        } else {
            String::new()
        };
        writeln!(
            f,
            "  {:.1} s measured after {:.1} s warm-up; rate {rate}{backlog}",
            self.duration_s, self.warmup_s
        )?;
        if let Some(t) = &self.traffic {
            writeln!(
                f,
                "  sent        {} ({} msg/s after warm-up){}",
                count(t.sent),
                group(t.publish_rate),
                if self.qos > 0 {
                    format!(", {} acknowledged", count(t.acked))
                } else {
                    String::new()
                }
            )?;
            writeln!(
                f,
                "  received    {} of {} expected deliveries (stopped {:.1} s after the end)",
                count(t.received),
                count(t.expected),
                t.drain_s
            )?;
            writeln!(
                f,
                "  lost {} ({} in gaps, {} at the end)   duplicates {}   out of order {}{}",
                count(t.lost),
                count(t.lost - t.lost_tail),
                count(t.lost_tail),
                count(t.duplicates),
                count(t.out_of_order),
                if t.malformed > 0 {
                    format!("   malformed {}", count(t.malformed))
                } else {
                    String::new()
                }
            )?;
            writeln!(f, "  throughput  {} deliveries/s", group(t.throughput))?;
            // The last credit is granted at the very end: one per publisher is no lag.
            if t.behind_schedule > self.publishers as u64 {
                writeln!(
                    f,
                    "  publishers fell {} messages behind the target rate",
                    count(t.behind_schedule)
                )?;
            }
        }
        if let Some(l) = &self.latency {
            writeln!(
                f,
                "  latency     p50 {}  p99 {}  p99.9 {}  max {}  ({} messages)",
                ms(l.p50_us),
                ms(l.p99_us),
                ms(l.p999_us),
                ms(l.max_us),
                count(l.count)
            )?;
        }
        if let Some(c) = &self.connections {
            writeln!(
                f,
                "  connections {} of {} succeeded in {:.1} s, {} open at the end",
                c.succeeded, c.requested, c.connect_s, c.open_at_end
            )?;
            if let (Some(b), Some(a)) = (c.rss_before_kib, c.rss_after_kib) {
                writeln!(
                    f,
                    "  broker RSS  {} KiB -> {} KiB: {} bytes per connection",
                    count(b),
                    count(a),
                    c.bytes_per_connection.map_or("-".into(), group)
                )?;
            }
        }
        let g = &self.generator;
        writeln!(
            f,
            "  generator   {:.2} CPU s over {:.1} s on {} core(s) = {:.0}%{}",
            g.cpu_s,
            g.wall_s,
            g.cores,
            g.utilization * 100.0,
            if g.saturated {
                ": SATURATED, the generator may be the bottleneck"
            } else {
                " (not the bottleneck)"
            }
        )?;
        if let Some(b) = &self.broker_cpu {
            writeln!(
                f,
                "  broker      {:.2} CPU s = {:.2} cores{}",
                b.cpu_s,
                b.cores_used,
                b.deliveries_per_cpu_s.map_or(String::new(), |d| format!(
                    ", {} deliveries per CPU second",
                    group(d)
                ))
            )?;
        }
        for p in &self.problems {
            writeln!(f, "  PROBLEM: {p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(group(0.0), "0");
        assert_eq!(group(999.0), "999");
        assert_eq!(group(1000.0), "1,000");
        assert_eq!(group(1_234_567.4), "1,234,567");
    }

    #[test]
    fn reads_own_cpu() {
        if std::path::Path::new("/proc/self/stat").exists() {
            assert!(cpu_seconds().is_some());
            assert!(rss_kib(std::process::id()).is_some_and(|k| k > 0));
        }
    }

    #[test]
    fn saturation_threshold() {
        assert!(!Generator::new(0.5, Duration::from_secs(1), 1).saturated);
        assert!(Generator::new(0.95, Duration::from_secs(1), 1).saturated);
        assert!(!Generator::new(0.95, Duration::from_secs(1), 2).saturated);
    }
}
