//! Where the benches go. Each `*_benches` function builds and checks its packets once, then
//! hands the codecs' routines, one group per workload, to a [`Suite`]: criterion, which
//! measures each routine in turn, or the paired runner ([`crate::paired::Paired`]), which
//! measures them in alternating rounds.

use std::time::Duration;

use criterion::measurement::Measurement;
use criterion::{BatchSize, BenchmarkGroup, Criterion, Throughput};

/// A destination for groups of benches.
pub(crate) trait Suite {
    /// One group, whose routines may borrow for `'a`.
    type Group<'s, 'a>: Group<'a>
    where
        Self: 's;

    /// Starts the group of one workload, e.g. `publish-decode/v5.0-qos1-64B`.
    fn group<'a>(&mut self, name: String) -> Self::Group<'_, 'a>;
}

/// The routines of one workload, one per codec (and variant), measured against each other.
pub(crate) trait Group<'a> {
    /// One iteration handles `n` elements (packets, filter/topic pairs): times are reported
    /// per element.
    fn elements(&mut self, n: u64);

    /// Criterion's measurement time for this group. The paired runner gives every workload
    /// the same time budget and ignores it.
    fn measurement_time(&mut self, time: Duration);

    /// Registers `routine`, timed over runs of consecutive calls, its output passed to
    /// `black_box` (criterion's `iter`).
    fn iter<O>(&mut self, id: &str, routine: impl FnMut() -> O + 'a);

    /// Registers `routine`, timed in batches of `batch` calls on inputs made by `setup`
    /// before the batch; the outputs are dropped after the batch, so setup and drop are
    /// outside the timing (criterion's `iter_batched` with `BatchSize::NumIterations`).
    fn iter_batched<I, O>(
        &mut self,
        id: &str,
        batch: u64,
        setup: impl FnMut() -> I + 'a,
        routine: impl FnMut(I) -> O + 'a,
    );

    /// Ends the group. The paired runner measures the group's routines here.
    fn finish(self);
}

impl<M: Measurement> Suite for Criterion<M> {
    type Group<'s, 'a>
        = CriterionGroup<'s, M>
    where
        Self: 's;

    fn group<'a>(&mut self, name: String) -> Self::Group<'_, 'a> {
        CriterionGroup(self.benchmark_group(name))
    }
}

/// A criterion benchmark group: each routine is registered and measured at once.
pub(crate) struct CriterionGroup<'c, M: Measurement>(BenchmarkGroup<'c, M>);

impl<'a, M: Measurement> Group<'a> for CriterionGroup<'_, M> {
    fn elements(&mut self, n: u64) {
        self.0.throughput(Throughput::Elements(n));
    }

    fn measurement_time(&mut self, time: Duration) {
        self.0.measurement_time(time);
    }

    fn iter<O>(&mut self, id: &str, mut routine: impl FnMut() -> O + 'a) {
        self.0.bench_function(id, |b| b.iter(&mut routine));
    }

    fn iter_batched<I, O>(
        &mut self,
        id: &str,
        batch: u64,
        mut setup: impl FnMut() -> I + 'a,
        mut routine: impl FnMut(I) -> O + 'a,
    ) {
        self.0.bench_function(id, |b| {
            b.iter_batched(&mut setup, &mut routine, BatchSize::NumIterations(batch));
        });
    }

    fn finish(self) {
        self.0.finish();
    }
}
