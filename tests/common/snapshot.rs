//! Snapshots: committed files a test compares with what the code makes now, showing the
//! first difference; `UPDATE_SNAPSHOTS=1` writes the current version instead.

/// Compares `current` with the committed file at `path` (relative to the crate root),
/// or writes it when `UPDATE_SNAPSHOTS=1`.
pub fn check(path: &str, current: &str) {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&full, current).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&full).unwrap_or_default();
    assert!(
        committed == current,
        "{path} is not what the code makes now (UPDATE_SNAPSHOTS=1 cargo test … writes it, \
         when the change is meant); {}",
        difference(&committed, current)
    );
}

/// The lines of `new` that differ from `old`, as `-`/`+` pairs around the first difference
/// (enough to see what changed without a diff tool).
pub fn difference(old: &str, new: &str) -> String {
    let (old, new): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    let first = old
        .iter()
        .zip(&new)
        .position(|(a, b)| a != b)
        .unwrap_or(old.len().min(new.len()));
    let (mut from_end_old, mut from_end_new) = (old.len(), new.len());
    while from_end_old > first
        && from_end_new > first
        && old[from_end_old - 1] == new[from_end_new - 1]
    {
        from_end_old -= 1;
        from_end_new -= 1;
    }
    let mut out = format!("first difference at line {}:\n", first + 1);
    for line in old[first..from_end_old].iter().take(20) {
        out.push_str(&format!("- {line}\n"));
    }
    for line in new[first..from_end_new].iter().take(20) {
        out.push_str(&format!("+ {line}\n"));
    }
    out
}
