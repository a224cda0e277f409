//! Loads the recorded answers and checks they match the walk that records them.

use std::{collections::BTreeSet, path::PathBuf};

use crate::scenario::{Exchange, STEPS};

/// Recorded outside the walk: the cloud's answer once its per-key rate limit is reached
/// (the walk itself refuses to record a 429, see `tests/fixtures/cloud/README.md`).
pub const EXTRA: &[&str] = &["doc_update_rate_limited"];

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cloud")
}

/// Every fixture, named by its file stem.
pub fn all() -> Vec<Exchange> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir()).expect("tests/fixtures/cloud exists") {
        let path = entry.expect("readable directory").path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable fixture");
        let mut exchange: Exchange = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not a fixture: {e}", path.display()));
        exchange.name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("UTF-8 file name")
            .to_string();
        out.push(exchange);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

#[test]
fn the_fixtures_are_exactly_the_walk_plus_the_listed_extras() {
    let recorded: BTreeSet<String> = all().into_iter().map(|e| e.name).collect();
    let expected: BTreeSet<String> = STEPS
        .iter()
        .map(|s| s.name)
        .chain(EXTRA.iter().copied())
        .chain(crate::cli_auth::RECORDED.iter().copied())
        .map(str::to_string)
        .collect();
    assert_eq!(
        recorded, expected,
        "record the fixtures again after changing the walk (see tests/fixtures/cloud/README.md)"
    );
}
