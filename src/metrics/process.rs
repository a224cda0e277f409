//! The standard process metrics (`process_start_time_seconds`, CPU, resident memory, open
//! files), read from `/proc` when `/metrics` is asked for — so a restart shows as a new
//! start time rather than as counters that quietly went back to zero. Where there is no
//! `/proc`, they stay 0.

use std::sync::{OnceLock, atomic::AtomicU64};

use prometheus_client::{
    metrics::{counter::Counter, gauge::Gauge},
    registry::Registry,
};

struct Process {
    start_time: Gauge<f64, AtomicU64>,
    cpu_seconds: Counter<f64, AtomicU64>,
    resident_bytes: Gauge,
    open_fds: Gauge,
}

static PROCESS: OnceLock<Process> = OnceLock::new();

/// Registers the process metrics under their standard (unprefixed) names.
pub(super) fn register(registry: &mut Registry) {
    let process = PROCESS.get_or_init(|| Process {
        start_time: Gauge::default(),
        cpu_seconds: Counter::default(),
        resident_bytes: Gauge::default(),
        open_fds: Gauge::default(),
    });
    registry.register(
        "process_start_time_seconds",
        "Start time of the process since the Unix epoch, in seconds",
        process.start_time.clone(),
    );
    registry.register(
        "process_cpu_seconds",
        "User and system CPU time spent, in seconds",
        process.cpu_seconds.clone(),
    );
    registry.register(
        "process_resident_memory_bytes",
        "Resident memory size, in bytes",
        process.resident_bytes.clone(),
    );
    registry.register(
        "process_open_fds",
        "Open file descriptors",
        process.open_fds.clone(),
    );
}

/// Reads the figures now (before each `/metrics` answer).
pub(super) fn refresh() {
    let (Some(process), Some(stat)) = (PROCESS.get(), read_stat()) else {
        return;
    };
    let ticks = ticks_per_second();
    if let Some(boot) = boot_time() {
        process
            .start_time
            .set(boot + stat.start_ticks as f64 / ticks);
    }
    let cpu = (stat.user_ticks + stat.system_ticks) as f64 / ticks;
    let counted = process.cpu_seconds.get();
    if cpu > counted {
        process.cpu_seconds.inc_by(cpu - counted);
    }
    process
        .resident_bytes
        .set(i64::try_from(stat.resident_pages * page_size()).unwrap_or(i64::MAX));
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        process
            .open_fds
            .set(i64::try_from(fds.count()).unwrap_or(i64::MAX));
    }
}

struct Stat {
    user_ticks: u64,
    system_ticks: u64,
    start_ticks: u64,
    resident_pages: u64,
}

/// `/proc/self/stat`, read after the last `)` (the command name may hold spaces).
fn read_stat() -> Option<Stat> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_stat(&text)
}

fn parse_stat(text: &str) -> Option<Stat> {
    // Fields from the state on (field 3 of proc(5) is index 0 here).
    let fields: Vec<&str> = text[text.rfind(')')? + 1..].split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(Stat {
        user_ticks: field(14)?,
        system_ticks: field(15)?,
        start_ticks: field(22)?,
        resident_pages: field(24)?,
    })
}

/// When the machine booted, from `/proc/stat` (`btime`), in seconds since the epoch.
fn boot_time() -> Option<f64> {
    std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf reads a configuration value and touches no memory of ours.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

fn page_size() -> u64 {
    // SAFETY: as above.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).ok().filter(|s| *s > 0).unwrap_or(4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_is_read_past_a_name_with_spaces_and_parentheses() {
        let line = "42 (a (weird) name) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 12345 100000 777 18446744073709551615";
        let stat = parse_stat(line).unwrap();
        assert_eq!(
            (
                stat.user_ticks,
                stat.system_ticks,
                stat.start_ticks,
                stat.resident_pages
            ),
            (250, 50, 12345, 777)
        );
    }

    #[test]
    fn this_process_reports_a_start_time_in_the_past_and_some_memory() {
        let mut registry = Registry::default();
        register(&mut registry);
        refresh();
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        let value = |name: &str| -> f64 {
            text.lines()
                .find(|l| l.starts_with(&format!("{name} ")))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
                .unwrap_or_else(|| panic!("{name} in {text}"))
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let started = value("process_start_time_seconds");
        assert!(started > now - 3_600.0 && started <= now + 1.0, "{started}");
        assert!(value("process_resident_memory_bytes") > 1_000_000.0);
        assert!(value("process_open_fds") >= 3.0);
        assert!(text.contains("process_cpu_seconds_total"), "{text}");
    }
}
