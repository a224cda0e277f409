//! `pluggedin-mcp doctor`: what a support request would ask first, checked — the key and
//! whether Plugged.in accepts it (or local mode's data folder), the hub's servers file and
//! each server in it started and listed, and which clients run pluggedin-mcp. Text for a
//! person, `--json` for a script; the exit status says whether a problem was found.

use std::{path::PathBuf, time::Duration};

use serde::Serialize;

use super::{ClientKind, ENTRY, edit};

/// Options of `pluggedin-mcp doctor`.
#[derive(clap::Args, Debug, Clone)]
pub struct DoctorArgs {
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
    /// The hub's servers file to check [default: the one `import` writes, when present].
    #[arg(long, value_name = "FILE", env = "PLUGGEDIN_SERVERS_FILE")]
    pub servers: Option<PathBuf>,
    /// The longest to wait for the servers file's servers to start.
    #[arg(long, value_name = "SECS", default_value_t = 20)]
    pub wait: u64,
}

#[derive(Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Status {
    Ok,
    Note,
    Problem,
}

#[derive(Serialize)]
struct Finding {
    check: String,
    status: Status,
    detail: String,
}

#[derive(Default)]
struct Findings(Vec<Finding>);

impl Findings {
    fn add(&mut self, check: impl Into<String>, status: Status, detail: impl Into<String>) {
        self.0.push(Finding {
            check: check.into(),
            status,
            detail: detail.into(),
        });
    }
}

/// Runs every check; fails (exit status 1) when one found a problem.
pub async fn run(args: &DoctorArgs) -> anyhow::Result<()> {
    let mut findings = Findings::default();
    check_account(&mut findings).await;
    check_servers(&mut findings, args).await;
    check_clients(&mut findings);
    let problems = findings
        .0
        .iter()
        .filter(|f| f.status == Status::Problem)
        .count();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "ok": problems == 0,
                "checks": findings.0,
            }))?
        );
    } else {
        for f in &findings.0 {
            let mark = match f.status {
                Status::Ok => "ok     ",
                Status::Note => "note   ",
                Status::Problem => "PROBLEM",
            };
            println!("{mark} {}: {}", f.check, f.detail);
        }
    }
    if problems > 0 {
        anyhow::bail!("{problems} problem(s) found");
    }
    Ok(())
}

async fn check_account(findings: &mut Findings) {
    let Some(current) = crate::login::current_key() else {
        findings.add(
            "account",
            Status::Note,
            "no key (PLUGGEDIN_API_KEY, or `pluggedin-mcp login`): servers run in local mode",
        );
        check_data_dir(findings);
        return;
    };
    let (base_url, source) = (&current.base_url, &current.source);
    if let Some(problem) = crate::config::key_problem(current.key.expose(), source) {
        findings.add("account", Status::Problem, problem);
        return;
    }
    match current.check(Duration::from_secs(15)).await {
        Ok(servers) => findings.add(
            "account",
            Status::Ok,
            format!(
                "{base_url} accepts the key from {source}; the account has {servers} MCP server(s)"
            ),
        ),
        Err(error) => findings.add(
            "account",
            Status::Problem,
            format!("{base_url} with the key from {source}: {error:#}"),
        ),
    }
}

fn check_data_dir(findings: &mut Findings) {
    let dir = match std::env::var_os("PLUGGEDIN_DATA_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => match crate::local::default_data_dir() {
            Ok(dir) => dir,
            Err(e) => {
                findings.add("data folder", Status::Problem, format!("{e:#}"));
                return;
            }
        },
    };
    let probe = dir.join(".doctor-probe");
    let usable = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&probe, b""))
        .and_then(|()| std::fs::remove_file(&probe));
    match usable {
        Ok(()) => findings.add(
            "data folder",
            Status::Ok,
            format!("{} is writable", dir.display()),
        ),
        Err(e) => findings.add(
            "data folder",
            Status::Problem,
            format!(
                "{} cannot be written ({e}): point PLUGGEDIN_DATA_DIR elsewhere",
                dir.display()
            ),
        ),
    }
}

/// Starts a hub on the servers file, as a server would, and reports each server once it is
/// ready or has failed (or the wait is over).
async fn check_servers(findings: &mut Findings, args: &DoctorArgs) {
    let path = match &args.servers {
        Some(path) => path.clone(),
        None => match super::default_servers_file() {
            Ok(path) if path.exists() => path,
            _ => {
                findings.add(
                    "hub",
                    Status::Note,
                    "no servers file (--servers, or `pluggedin-mcp import <client>`)",
                );
                return;
            }
        },
    };
    if let Err(why) = crate::hub::watch_file::load(&path) {
        findings.add("servers file", Status::Problem, why);
        return;
    }
    let hub = crate::hub::Hub::new(crate::hub::HubSettings::default());
    let stop = tokio_util::sync::CancellationToken::new();
    crate::hub::watch_file::follow(hub.clone(), path.clone(), stop.clone());
    hub.client_seen(&Default::default());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.wait);
    loop {
        let starting = hub
            .status()
            .iter()
            .any(|s| matches!(s.snapshot.state, crate::hub::downstream::State::Starting));
        if !starting || tokio::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    findings.add("servers file", Status::Ok, path.display().to_string());
    for server in hub.status() {
        let check = format!("server {}", server.name);
        match &server.snapshot.state {
            crate::hub::downstream::State::Ready => findings.add(
                check,
                Status::Ok,
                format!(
                    "ready, {} tool(s) as {}__<tool>",
                    server.offered_tools, server.prefix
                ),
            ),
            crate::hub::downstream::State::Disabled => {
                findings.add(check, Status::Note, "disabled in the file")
            }
            crate::hub::downstream::State::Starting => findings.add(
                check,
                Status::Problem,
                format!("still starting after {} s", args.wait),
            ),
            crate::hub::downstream::State::Failed { reason }
            | crate::hub::downstream::State::BackingOff { reason } => {
                findings.add(check, Status::Problem, reason.clone())
            }
        }
    }
    stop.cancel();
    hub.shutdown();
}

/// Which clients have a configuration, and whether it runs pluggedin-mcp.
fn check_clients(findings: &mut Findings) {
    use clap::ValueEnum;
    for client in ClientKind::value_variants() {
        let Ok(path) = client.default_path() else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let check = format!("client {}", client.name());
        match edit::entries(client.format(), &text) {
            Err(e) => findings.add(check, Status::Problem, format!("{}: {e:#}", path.display())),
            Ok(entries) => match entries.iter().find(|(name, _)| name == ENTRY) {
                Some((_, entry)) => {
                    let command = entry.get("command").and_then(|c| c.as_str()).unwrap_or("");
                    let found = which(command);
                    findings.add(
                        check,
                        if found { Status::Ok } else { Status::Problem },
                        if found {
                            format!("{} runs pluggedin-mcp", path.display())
                        } else {
                            format!("{} runs {command:?}, which does not exist: run `pluggedin-mcp install` again", path.display())
                        },
                    );
                }
                None => findings.add(
                    check,
                    Status::Note,
                    format!(
                        "{} has no pluggedin entry (`pluggedin-mcp install`)",
                        path.display()
                    ),
                ),
            },
        }
    }
}

/// Whether `command` names an existing file, directly or on PATH.
fn which(command: &str) -> bool {
    let path = std::path::Path::new(command);
    if path.components().count() > 1 {
        return path.is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(command).is_file()))
}
