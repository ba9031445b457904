//! Runs the `broker_ops` fuzz check over its committed seeds
//! (`../fuzz/corpus/broker_ops/seed-*`), so a plain `cargo test` catches regressions.

use std::path::Path;
use std::time::Instant;

#[test]
fn seeds_pass_the_broker_ops_check() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/broker_ops");
    let mut seeds: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("seed-"))
        })
        .collect();
    seeds.sort();
    assert!(seeds.len() >= 5, "only {} seeds", seeds.len());
    // Any origin instant will do: only offsets matter.
    #[allow(clippy::disallowed_methods)]
    let now = Instant::now();
    for path in seeds {
        let data = std::fs::read(&path).unwrap();
        let result = std::panic::catch_unwind(|| mqtt_broker_core::fuzz::broker_ops(now, &data));
        assert!(result.is_ok(), "{} fails the check", path.display());
    }
}
