//! Runs the `server_connection` fuzz check over its committed seeds
//! (`../fuzz/corpus/server_connection/seed-*`) and every crash found
//! (`tests/data/fuzz-regressions/`), so a plain `cargo test` catches regressions.

use std::path::Path;
use std::time::Instant;

fn inputs(dir: &Path, prefix: &str) -> Vec<(String, Vec<u8>)> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut out: Vec<(String, Vec<u8>)> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_owned();
            name.starts_with(prefix)
                .then(|| (name, std::fs::read(&p).unwrap()))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn seeds_and_regressions_pass_the_server_connection_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds = inputs(&root.join("../fuzz/corpus/server_connection"), "seed-");
    assert!(seeds.len() >= 20, "only {} seeds found", seeds.len());
    let regressions = inputs(&root.join("tests/data/fuzz-regressions"), "");
    // Any origin instant will do: only offsets matter.
    #[allow(clippy::disallowed_methods)]
    let now = Instant::now();
    for (name, data) in seeds.iter().chain(&regressions) {
        let result = std::panic::catch_unwind(|| mqtt_session::fuzz::server_connection(now, data));
        assert!(result.is_ok(), "{name} fails the check");
    }
}
