//! Codec benchmarks: `mqtt-proto` measured side by side, in the same run, with
//! `mqttbytes` 0.6 (rumqtt's codec, `v4` and `v5` modules) and `mqtt-protocol-core` 0.7
//! (a sans-I/O MQTT library).
//!
//! Workloads: PUBLISH decode and encode (MQTT 3.1.1 and 5.0, QoS 0 and 1, 64 B and
//! 16 KiB payloads), CONNECT decode and encode (will and credentials; 5.0 with
//! properties), SUBSCRIBE with 10 filters, and topic-filter matching. `benches/README.md`
//! says what each benchmark measures, how to run it, and the results.
//!
//! Ground rules, the same for every codec:
//! - every packet is built once, and its encodings by all three codecs are asserted to be
//!   byte-identical, so decode benches feed each codec the very same bytes;
//! - before a decode bench runs, each codec's decode of those bytes is asserted to yield
//!   the expected topic, payload, properties, so no codec is measured on an error path;
//! - a decode iteration decodes one packet from an owned buffer holding exactly its bytes:
//!   `iter_batched` builds the buffers (the copy) outside the timing, and the decoded
//!   packet and the buffer are returned, so their drop is outside the timing too (batches
//!   of a fixed size, see [`SMALL_BATCH`]); a stream variant decodes 16 packets from one
//!   buffer per iteration;
//! - an encode iteration clears one reused, pre-reserved buffer and encodes into it;
//! - the clock is the thread's CPU time (`MQTT_BENCH_WALL_CLOCK=1` for wall-clock time):
//!   the machine these run on is shared, and CPU time leaves out the time the benchmark
//!   thread is descheduled.
//!
//! Two runners take the same routines ([`suite`]): criterion (the default), and the paired
//! mode (`-- --paired [FILTER]`, [`paired`]), which times the codecs of a workload in
//! alternating rounds so that background load slows them alike.

mod clock;
mod connect;
mod drivers;
mod inputs;
mod matching;
mod paired;
mod publish;
mod subscribe;
mod suite;

use std::process::ExitCode;
use std::time::Duration;

use criterion::Criterion;
use criterion::measurement::{Measurement, WallTime};

use crate::clock::ThreadCpuTime;
use crate::connect::connect_benches;
use crate::drivers::{LARGE_BATCH, SMALL_BATCH, bench_decode};
use crate::matching::matching_benches;
use crate::paired::{Options, Paired};
use crate::publish::publish_benches;
use crate::subscribe::subscribe_benches;
use crate::suite::{Group, Suite};

fn config() -> Criterion {
    Criterion::default()
        .sample_size(40)
        .warm_up_time(Duration::from_millis(400))
        .measurement_time(Duration::from_millis(1200))
}

/// The floor of the decode benches: the same batched loop with a routine that does nothing.
fn overhead_benches(s: &mut impl Suite) {
    let wire = vec![0u8; 100];
    let mut g = s.group("overhead/empty-routine".to_owned());
    for (name, batch) in [
        ("batch of 128 (packets up to 1 KiB)", SMALL_BATCH),
        ("batch of 32 (16 KiB payloads)", LARGE_BATCH),
    ] {
        bench_decode(&mut g, name, &wire, batch, |buf| buf.len());
    }
    g.finish();
}

/// Every group, in criterion's order.
fn benches(s: &mut impl Suite) {
    overhead_benches(s);
    publish_benches(s);
    connect_benches(s);
    subscribe_benches(s);
    matching_benches(s);
}

fn run<M: Measurement>(cr: Criterion<M>) {
    let mut cr = cr.configure_from_args();
    benches(&mut cr);
    cr.final_summary();
}

fn run_paired<M: Measurement>(mut paired: Paired<M>) {
    benches(&mut paired);
    paired.report();
}

/// Runs criterion, or the paired mode given `--paired`; measures thread CPU time, or
/// wall-clock time when `MQTT_BENCH_WALL_CLOCK` is set.
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let wall = std::env::var_os("MQTT_BENCH_WALL_CLOCK").is_some();
    if args.iter().any(|a| a == "--paired") {
        let options = match Options::parse(&args) {
            Ok(options) => options,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        };
        if wall {
            run_paired(Paired::new(WallTime, "wall", options));
        } else {
            run_paired(Paired::new(ThreadCpuTime, "thread-cpu", options));
        }
    } else if wall {
        run(config());
    } else {
        run(config().with_measurement(ThreadCpuTime));
    }
    ExitCode::SUCCESS
}
