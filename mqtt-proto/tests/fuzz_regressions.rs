//! Replays the fuzz inputs that matter through the checks the fuzz targets run, so that a
//! plain `cargo test` catches their regressions without cargo-fuzz or a nightly compiler:
//!
//! * every minimised crash in `tests/data/fuzz-regressions/` (named `<target>-<what>`);
//! * every committed seed in `../fuzz/corpus/<target>/seed-*` (see `fuzz/make-seeds.py`).
//!
//! Every input goes through all three checks (`decode_packet`, `decode_stream` and the
//! `roundtrip` target's check), not only the one of the target that found it: each check
//! must hold for any bytes. All failures are collected and reported together.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

// The check of the `roundtrip` target: defines `roundtrip_all_versions`.
include!("../../fuzz/checks/roundtrip.rs");

type Check = fn(&[u8]);

const CHECKS: [(&str, Check); 3] = [
    ("decode_packet", mqtt_proto::fuzz::decode_packet),
    ("decode_stream", mqtt_proto::fuzz::decode_stream),
    ("roundtrip", roundtrip_all_versions),
];

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The files in `dir` whose names start with `prefix`, sorted; panics if `dir` is missing.
fn files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut out: Vec<PathBuf> = entries
        .map(|e| {
            e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    out.sort();
    out
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "(non-string panic)".to_owned())
}

/// Runs every check over every file; panics with the list of failures, if any.
fn replay(paths: &[PathBuf]) {
    let mut failures = Vec::new();
    for path in paths {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for (name, check) in CHECKS {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| check(&data))) {
                failures.push(format!(
                    "{} ({} bytes: {}) fails the {name} check: {}",
                    path.display(),
                    data.len(),
                    hex(&data),
                    panic_message(payload.as_ref()),
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn hex(data: &[u8]) -> String {
    let shown: String = data.iter().take(64).map(|b| format!("{b:02x}")).collect();
    if data.len() > 64 {
        format!("{shown}...")
    } else {
        shown
    }
}

#[test]
fn minimised_fuzz_crashes_pass_every_check() {
    let dir = manifest_dir().join("tests/data/fuzz-regressions");
    let paths = files(&dir, "");
    assert!(
        !paths.is_empty(),
        "no regression inputs in {}",
        dir.display()
    );
    for path in &paths {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        assert!(
            CHECKS
                .iter()
                .any(|(target, _)| name.starts_with(&format!("{target}-"))),
            "{name}: regression inputs are named <target>-<what>"
        );
    }
    replay(&paths);
}

#[test]
fn seed_corpus_passes_every_check() {
    let corpus = manifest_dir().join("../fuzz/corpus");
    let mut all = Vec::new();
    for (target, _) in CHECKS {
        let seeds = files(&corpus.join(target), "seed-");
        assert!(
            seeds.len() >= 15,
            "only {} seeds in {}/{target}: run fuzz/make-seeds.py",
            seeds.len(),
            corpus.display()
        );
        all.extend(seeds);
    }
    assert!(all.len() >= 100, "only {} seeds in total", all.len());
    replay(&all);
}
