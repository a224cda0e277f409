//! The child processes of this process (the hub's stdio servers) and everything they start:
//! each child leads a process group of its own, which is killed whole when the child is
//! stopped; and the `pluggedin-mcp` binary makes itself the subreaper of its descendants
//! (Linux), so a grandchild that escaped its group with `setsid` is reparented here when its
//! parent dies, found, and killed — nothing a server started outlives the server.
//!
//! Sweeping orphans kills every process whose parent is this one and that is not a child it
//! knows; that is only safe in the binary, whose only children are its servers, so it is
//! switched on there ([`adopt_orphans`]) and never in a test process that hosts the server.

use std::{
    collections::HashSet,
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

/// The children started by the hub, by pid (each leads its own process group).
static CHILDREN: Mutex<Option<HashSet<u32>>> = Mutex::new(None);
/// Whether this process sweeps the orphans reparented to it.
static SWEEPS: AtomicBool = AtomicBool::new(false);

fn children() -> std::sync::MutexGuard<'static, Option<HashSet<u32>>> {
    CHILDREN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Makes this process the subreaper of its descendants and lets it sweep their orphans.
/// Called by the binary only (see the module's doc).
pub fn adopt_orphans() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes one integer argument and touches
        // no memory of ours.
        let set = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        if set != 0 {
            tracing::debug!(
                error = %std::io::Error::last_os_error(),
                "cannot become the subreaper of the hub's servers"
            );
            return;
        }
    }
    SWEEPS.store(true, Ordering::Relaxed);
}

/// A child that leads its own process group, killed whole when this is dropped.
#[derive(Debug)]
pub struct Group {
    pid: u32,
}

impl Group {
    /// Registers the child `pid`, started with `process_group(0)`.
    pub fn new(pid: u32) -> Self {
        children().get_or_insert_with(HashSet::new).insert(pid);
        Self { pid }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        kill_group(self.pid);
        if let Some(set) = children().as_mut() {
            set.remove(&self.pid);
        }
        if SWEEPS.load(Ordering::Relaxed)
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            // Its escaped descendants are reparented here once it is gone.
            runtime.spawn(async {
                for _ in 0..5 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    if sweep() == 0 {
                        break;
                    }
                }
            });
        }
    }
}

/// SIGKILL to the process group `pgid` leads.
fn kill_group(pgid: u32) {
    let Ok(pgid) = i32::try_from(pgid) else {
        return;
    };
    if pgid <= 1 {
        return;
    }
    // SAFETY: kill takes two integers; a group that is gone is ESRCH, which is fine.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// Kills and reaps every process reparented to this one that is not a child it started
/// (when sweeping is on); returns how many there were.
pub fn sweep() -> usize {
    if !SWEEPS.load(Ordering::Relaxed) {
        return 0;
    }
    let known = children().clone().unwrap_or_default();
    let orphans: Vec<u32> = children_of(std::process::id())
        .into_iter()
        .filter(|pid| !known.contains(pid))
        .collect();
    for &pid in &orphans {
        let Ok(pid) = i32::try_from(pid) else {
            continue;
        };
        // SAFETY: kill and waitpid take integers and a null status pointer; the pid is our
        // child (its parent is this process), so reaping it takes nothing from anyone else.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
    }
    if !orphans.is_empty() {
        tracing::info!(
            count = orphans.len(),
            "killed processes the hub's servers left behind"
        );
    }
    orphans.len()
}

/// At exit: every child's group, then what was reparented here, until none is left (at
/// most a second).
pub fn kill_all() {
    // No child was ever started: there is nothing to kill and nothing can be reparented
    // here, so exit at once (a one-shot client waits for this process to end).
    let Some(known) = children().clone() else {
        return;
    };
    for pid in known {
        kill_group(pid);
    }
    for _ in 0..20 {
        if sweep() == 0 && children_of(std::process::id()).is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The pids whose parent is `parent` (from `/proc`; none where there is no `/proc`).
fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| parent_of(*pid) == Some(parent))
        .collect()
}

/// The parent of `pid`, from `/proc/<pid>/stat` (the field after the name, which may hold
/// spaces and parentheses, so it is read after the last `)`).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    // State, then the parent's pid.
    after.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_processes_parent_is_read_from_proc() {
        assert_eq!(
            parent_of(std::process::id()),
            Some(std::os::unix::process::parent_id())
        );
    }
}
