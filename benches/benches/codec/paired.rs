//! Paired mode (`-- --paired [FILTER]`): the codecs of a workload measured in alternating
//! rounds.
//!
//! Criterion measures all samples of one routine, then all samples of the next: a burst of
//! load from another tenant of the machine lands on one codec and biases the comparison.
//! Here a workload runs in rounds; a round times one chunk of each routine in turn,
//! starting with the next routine each round, so a burst lasting more than a few
//! milliseconds slows the codecs of a round alike, and their ratio within the round holds.
//! A chunk is a fixed number of iterations, whole batches for decoding, with the same
//! setup, batches and drops as under criterion, sized in a warm-up to take about
//! [`CHUNK_NS`] of wall time. Reported: per routine, the median over the rounds of its
//! time per element; per workload, the median over the rounds of the ratio computed
//! within each round (faster reference / mqtt-proto).

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::measurement::Measurement;

use crate::inputs::{MPC, MQTT_PROTO, MQTTBYTES};
use crate::suite::{Group, Suite};

/// Wall time aimed at per chunk, setup included (the copies of 16 KiB inputs take longer
/// than decoding them): short, so that the chunks of a round see the same background load,
/// and long against the clock's cost (read once per batch, as criterion does).
const CHUNK_NS: f64 = 1e6;
/// Wall time of each workload's warm-up, which also sizes the chunks.
const WARM_UP: Duration = Duration::from_millis(300);
/// Rounds per workload at least, whatever the budget.
const MIN_ROUNDS: usize = 20;
/// Rounds per workload at most, whatever the budget.
const MAX_ROUNDS: usize = 5_000;
/// Wall time of the rounds of one workload unless `MQTT_BENCH_PAIRED_SECS` says otherwise.
const DEFAULT_BUDGET: Duration = Duration::from_secs(2);

/// What the command line and environment ask of the paired mode.
pub(crate) struct Options {
    /// Substrings of the bench ids to run; empty runs every workload.
    filters: Vec<String>,
    /// `--test`: run every routine once, measure nothing.
    test: bool,
    /// Wall time of the rounds of one workload.
    budget: Duration,
}

impl Options {
    /// Reads the bench binary's arguments (`--paired`, `--test`, filters; cargo's `--bench`
    /// is ignored) and `MQTT_BENCH_PAIRED_SECS`.
    ///
    /// # Errors
    ///
    /// An unknown option, or a budget that is not a positive number of seconds.
    pub(crate) fn parse(args: &[String]) -> Result<Self, String> {
        let mut options = Self {
            filters: Vec::new(),
            test: false,
            budget: DEFAULT_BUDGET,
        };
        for arg in args {
            match arg.as_str() {
                "--paired" | "--bench" => {}
                "--test" => options.test = true,
                a if a.starts_with('-') => {
                    return Err(format!(
                        "paired mode: unknown option {a} (usage: --paired [--test] [FILTER...])"
                    ));
                }
                filter => options.filters.push(filter.to_owned()),
            }
        }
        if let Some(secs) = std::env::var_os("MQTT_BENCH_PAIRED_SECS") {
            let secs = secs.to_string_lossy();
            options.budget = secs
                .parse::<f64>()
                .ok()
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .filter(|d| !d.is_zero())
                .ok_or_else(|| format!("MQTT_BENCH_PAIRED_SECS={secs}: not a number of seconds"))?;
        }
        Ok(options)
    }

    /// Whether a filter matches the workload or one of its bench ids (`workload/routine`).
    /// A workload runs whole: its routines are measured against each other.
    fn selects<'r>(&self, workload: &str, mut ids: impl Iterator<Item = &'r str>) -> bool {
        self.filters.is_empty()
            || ids.any(|id| {
                let full = format!("{workload}/{id}");
                self.filters.iter().any(|f| full.contains(f.as_str()))
            })
    }
}

/// The paired runner: a [`Suite`] that measures each group when it is finished, then
/// [`Paired::report`] prints the tables and writes the JSON file.
pub(crate) struct Paired<M: Measurement> {
    measurement: M,
    /// The clock's name, for the report.
    clock: &'static str,
    options: Options,
    workloads: Vec<Workload>,
    started: Instant,
}

/// One routine of a group, waiting for its rounds.
struct Routine<'a, M> {
    id: String,
    /// Iterations per unit of work: 1 for `iter`, the batch size for `iter_batched`.
    unit: u64,
    run: Run<'a, M>,
}

/// Runs the given number of units of a routine and returns their measured time in ns.
type Run<'a, M> = Box<dyn FnMut(&M, u64) -> f64 + 'a>;

/// The results of one workload.
struct Workload {
    name: String,
    elements: u64,
    rounds: usize,
    rows: Vec<Row>,
    /// Per round, the faster reference's time over mqtt-proto's; empty if the workload has
    /// no mqtt-proto row or no reference.
    ratios: Vec<f64>,
}

/// The results of one routine.
struct Row {
    id: String,
    iterations_per_chunk: u64,
    /// ns per element, one per round.
    samples: Vec<f64>,
}

impl<M: Measurement> Paired<M> {
    /// A runner timing with `measurement`, called `clock` in the report.
    pub(crate) fn new(measurement: M, clock: &'static str, options: Options) -> Self {
        Self {
            measurement,
            clock,
            options,
            workloads: Vec::new(),
            started: Instant::now(),
        }
    }

    /// Warms up, sizes the chunks, then runs the rounds of one workload.
    fn measure(&mut self, name: String, elements: u64, mut routines: Vec<Routine<'_, M>>) {
        if !self
            .options
            .selects(&name, routines.iter().map(|r| r.id.as_str()))
        {
            return;
        }
        let m = &self.measurement;
        let k = routines.len();
        if self.options.test {
            for r in &mut routines {
                (r.run)(m, 1);
            }
            eprintln!("Testing {name} ({k} routines): Success");
            return;
        }

        // Warm-up, interleaved too: each routine's chunk grows (at most tenfold a step)
        // toward CHUNK_NS of wall time.
        let mut units = vec![1u64; k];
        let start = Instant::now();
        let mut round = 0;
        while round < 3 || start.elapsed() < WARM_UP {
            for j in 0..k {
                let i = (round + j) % k;
                let t = Instant::now();
                (routines[i].run)(m, units[i]);
                let wall = t.elapsed().as_nanos() as f64;
                let wanted = (CHUNK_NS * units[i] as f64 / wall.max(1.0)).ceil() as u64;
                units[i] = wanted.clamp(1, units[i].saturating_mul(10));
            }
            round += 1;
        }

        let mut samples = vec![Vec::new(); k];
        let start = Instant::now();
        let mut rounds = 0;
        while rounds < MIN_ROUNDS || (rounds < MAX_ROUNDS && start.elapsed() < self.options.budget)
        {
            for j in 0..k {
                let i = (rounds + j) % k;
                let ns = (routines[i].run)(m, units[i]);
                let per = units[i] * routines[i].unit * elements;
                samples[i].push(ns / per as f64);
            }
            rounds += 1;
        }

        let find = |id: &str| routines.iter().position(|r| r.id == id);
        let refs: Vec<usize> = [MQTTBYTES, MPC].into_iter().filter_map(find).collect();
        let ratios = match find(MQTT_PROTO) {
            Some(mp) if !refs.is_empty() => (0..rounds)
                .map(|r| {
                    let fastest = refs.iter().map(|&i| samples[i][r]).fold(f64::MAX, f64::min);
                    fastest / samples[mp][r]
                })
                .collect(),
            _ => Vec::new(),
        };
        let rows: Vec<Row> = routines
            .iter()
            .zip(units)
            .zip(samples)
            .map(|((r, units), samples)| Row {
                id: r.id.clone(),
                iterations_per_chunk: units * r.unit,
                samples,
            })
            .collect();

        let mut line = format!(
            "{name}: {rounds} rounds in {:.1} s",
            start.elapsed().as_secs_f64()
        );
        for row in &rows {
            let _ = write!(line, ", {} {}", row.id, fmt_ns(median(&row.samples)));
        }
        if !ratios.is_empty() {
            let _ = write!(line, ", ratio {:.2}x", median(&ratios));
        }
        eprintln!("{line}");
        self.workloads.push(Workload {
            name,
            elements,
            rounds,
            rows,
            ratios,
        });
    }

    /// Prints the tables to stdout and writes every result to
    /// `target/paired/codec.json`.
    pub(crate) fn report(mut self) {
        if self.options.test {
            return;
        }
        self.workloads.sort_by_key(|w| order(&w.name));
        print!("{}", self.tables());
        let path = target_dir().join("paired").join("codec.json");
        let written = std::fs::create_dir_all(path.parent().unwrap_or(&path))
            .and_then(|()| std::fs::write(&path, self.json()));
        match written {
            Ok(()) => eprintln!("results: {}", path.display()),
            Err(e) => eprintln!("results not written to {}: {e}", path.display()),
        }
        eprintln!(
            "paired mode: {} workloads in {:.0} s",
            self.workloads.len(),
            self.started.elapsed().as_secs_f64()
        );
    }

    /// The markdown tables of `scripts/summarize.py`, plus the interquartile range of the
    /// per-round ratios.
    fn tables(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| workload | {MQTT_PROTO} | {MQTTBYTES} | {MPC} | ratio | ratio p25-p75 |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
        let mut extra = Vec::new();
        for w in &self.workloads {
            let ns = |id: &str| {
                w.rows
                    .iter()
                    .find(|r| r.id == id)
                    .map(|r| median(&r.samples))
            };
            if let Some(mp) = ns(MQTT_PROTO) {
                let (ratio, spread) = if w.ratios.is_empty() {
                    ("n/a".to_owned(), "n/a".to_owned())
                } else {
                    let mut sorted = w.ratios.clone();
                    sorted.sort_by(f64::total_cmp);
                    (
                        format!("{:.2}x", quantile(&sorted, 0.5)),
                        format!(
                            "{:.2}-{:.2}",
                            quantile(&sorted, 0.25),
                            quantile(&sorted, 0.75)
                        ),
                    )
                };
                let cell = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), fmt_ns);
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {ratio} | {spread} |",
                    w.name,
                    fmt_ns(mp),
                    cell(ns(MQTTBYTES)),
                    cell(ns(MPC)),
                );
            }
            for r in &w.rows {
                if ![MQTT_PROTO, MQTTBYTES, MPC].contains(&r.id.as_str()) {
                    extra.push((&w.name, &r.id, median(&r.samples)));
                }
            }
        }
        if !extra.is_empty() {
            let _ = writeln!(out, "\n| workload | variant | ns |\n|---|---|---:|");
            for (workload, id, ns) in extra {
                let _ = writeln!(out, "| {workload} | {id} | {} |", fmt_ns(ns));
            }
        }
        out
    }

    /// Every result, with the per-round samples, as JSON.
    fn json(&self) -> String {
        let workloads: Vec<_> = self
            .workloads
            .iter()
            .map(|w| {
                let routines: Vec<_> = w
                    .rows
                    .iter()
                    .map(|r| {
                        serde_json::json!({
                            "id": r.id,
                            "iterations_per_chunk": r.iterations_per_chunk,
                            "ns": json_stats(&r.samples),
                            "samples": json_samples(&r.samples),
                        })
                    })
                    .collect();
                serde_json::json!({
                    "workload": w.name,
                    "elements": w.elements,
                    "rounds": w.rounds,
                    "ratio": json_stats(&w.ratios),
                    "ratios": json_samples(&w.ratios),
                    "routines": routines,
                })
            })
            .collect();
        let doc = serde_json::json!({
            "mode": "paired",
            "clock": self.clock,
            "chunk_ns": CHUNK_NS,
            "budget_s": self.options.budget.as_secs_f64(),
            "workloads": workloads,
        });
        let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
        out.push('\n');
        out
    }
}

impl<M: Measurement> Suite for Paired<M> {
    type Group<'s, 'a>
        = PairedGroup<'s, 'a, M>
    where
        Self: 's;

    fn group<'a>(&mut self, name: String) -> Self::Group<'_, 'a> {
        PairedGroup {
            paired: self,
            name,
            elements: 1,
            routines: Vec::new(),
        }
    }
}

/// The routines of one workload, kept until [`Group::finish`] measures them together.
pub(crate) struct PairedGroup<'s, 'a, M: Measurement> {
    paired: &'s mut Paired<M>,
    name: String,
    elements: u64,
    routines: Vec<Routine<'a, M>>,
}

impl<'a, M: Measurement> Group<'a> for PairedGroup<'_, 'a, M> {
    fn elements(&mut self, n: u64) {
        self.elements = n;
    }

    fn measurement_time(&mut self, _time: Duration) {}

    fn iter<O>(&mut self, id: &str, mut routine: impl FnMut() -> O + 'a) {
        // As criterion's `iter`: one clock read around the whole run.
        let run = move |m: &M, n: u64| {
            let start = m.start();
            for _ in 0..n {
                black_box(routine());
            }
            m.to_f64(&m.end(start))
        };
        self.routines.push(Routine {
            id: id.to_owned(),
            unit: 1,
            run: Box::new(run),
        });
    }

    fn iter_batched<I, O>(
        &mut self,
        id: &str,
        batch: u64,
        mut setup: impl FnMut() -> I + 'a,
        mut routine: impl FnMut(I) -> O + 'a,
    ) {
        let size = usize::try_from(batch).expect("batch size fits in usize");
        // As criterion's `iter_batched` with `NumIterations(batch)`: inputs made before the
        // clock starts, outputs dropped after it stops.
        let run = move |m: &M, batches: u64| {
            let mut ns = 0.0;
            for _ in 0..batches {
                let inputs = black_box((0..size).map(|_| setup()).collect::<Vec<_>>());
                let mut outputs = Vec::with_capacity(size);
                let start = m.start();
                outputs.extend(inputs.into_iter().map(&mut routine));
                let end = m.end(start);
                ns += m.to_f64(&end);
                black_box(outputs);
            }
            ns
        };
        self.routines.push(Routine {
            id: id.to_owned(),
            unit: batch,
            run: Box::new(run),
        });
    }

    fn finish(self) {
        self.paired.measure(self.name, self.elements, self.routines);
    }
}

/// The order of the README's tables (`order` in `scripts/summarize.py`).
fn order(workload: &str) -> (usize, String, bool, String) {
    const KINDS: [&str; 8] = [
        "publish-decode",
        "publish-decode-stream16",
        "publish-encode",
        "connect-decode",
        "connect-encode",
        "subscribe-decode",
        "subscribe-encode",
        "topic-match",
    ];
    let (kind, case) = workload.split_once('/').unwrap_or((workload, ""));
    let version = case.split('-').next().unwrap_or_default();
    (
        KINDS.iter().position(|k| *k == kind).unwrap_or(99),
        version.to_owned(),
        case.contains("16KiB"),
        case.to_owned(),
    )
}

/// The `q` quantile of sorted values, interpolated between neighbours.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return f64::NAN;
    };
    let pos = q * last as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    quantile(&sorted, 0.5)
}

/// ns as in `scripts/summarize.py`: whole with thousands separators from 100, else one
/// decimal.
fn fmt_ns(ns: f64) -> String {
    if ns.is_nan() || ns < 100.0 {
        return format!("{ns:.1}");
    }
    let digits = format!("{ns:.0}");
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Samples, rounded to 3 decimals to keep the file small (non-finite ones are `null`).
fn json_samples(values: &[f64]) -> Vec<f64> {
    values
        .iter()
        .map(|v| (v * 1000.0).round() / 1000.0)
        .collect()
}

/// Median, quartiles and extremes, or `null` for no values.
fn json_stats(values: &[f64]) -> serde_json::Value {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let (Some(&min), Some(&max)) = (sorted.first(), sorted.last()) else {
        return serde_json::Value::Null;
    };
    serde_json::json!({
        "median": quantile(&sorted, 0.5),
        "p25": quantile(&sorted, 0.25),
        "p75": quantile(&sorted, 0.75),
        "min": min,
        "max": max,
    })
}

/// Cargo's target directory: the bench binary is `target/<profile>/deps/codec-<hash>`.
fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("target"))
}
