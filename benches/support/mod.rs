//! What both benchmark programs use: percentiles, resident memory, a raw JSON-RPC client
//! over a server's stdio, and the table they print.
#![allow(
    dead_code,
    reason = "each benchmark program uses a different part of this module"
)]

use std::{
    io::{BufRead, BufReader, Write},
    process::{Child, ChildStdin, ChildStdout, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_pluggedin-mcp");

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

pub fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

pub fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// A minimal JSON-RPC client over the server's stdin/stdout, so the figures measure the
/// server and not a client library.
pub struct Stdio_ {
    pub child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
}

impl Stdio_ {
    pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn_program(BIN, args, env)
    }

    /// Any MCP server over stdio (the benchmarks also talk to downstream servers directly).
    pub fn spawn_program(program: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_remove("PLUGGEDIN_API_KEY")
            .env("RUST_LOG", "error")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("the server starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Self {
            child,
            stdin,
            stdout,
            next_id: 1,
        }
    }

    pub fn send(&mut self, message: &Value) {
        let mut line = message.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).unwrap();
        self.stdin.flush().unwrap();
    }

    pub fn request(&mut self, method: &str, params: Value) -> Value {
        serde_json::from_str(&self.request_raw(method, params)).unwrap()
    }

    /// The answer's line as the server wrote it, unparsed: timing this measures the server
    /// and the pipe, not the client's JSON parser.
    pub fn request_raw(&mut self, method: &str, params: Value) -> String {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        let answer_start = format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},");
        let mut line = String::new();
        loop {
            line.clear();
            assert!(
                self.stdout.read_line(&mut line).unwrap() > 0,
                "the server closed stdout"
            );
            // Answers are written id first; other lines (notifications) are parsed to be sure.
            if line.starts_with(&answer_start) {
                return line;
            }
            let v: Value = serde_json::from_str(&line).unwrap();
            if v["id"] == id {
                return line;
            }
        }
    }

    pub fn initialize(&mut self) -> Value {
        let r = self.request(
            "initialize",
            json!({ "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "bench", "version": "1" } }),
        );
        self.send(&json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }));
        r
    }

    pub fn call(&mut self, tool: &str, args: Value) -> Value {
        let r = self.request("tools/call", json!({ "name": tool, "arguments": args }));
        assert_eq!(r["result"]["isError"], false, "{tool}: {r}");
        r
    }
}

impl Drop for Stdio_ {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Row {
    pub what: String,
    pub figure: String,
    pub target: String,
}

pub fn row(what: impl Into<String>, figure: impl Into<String>, target: impl Into<String>) -> Row {
    Row {
        what: what.into(),
        figure: figure.into(),
        target: target.into(),
    }
}

pub fn timed(n: usize, mut f: impl FnMut()) -> Vec<Duration> {
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .collect();
    times.sort();
    times
}

pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} cores, {}", std::env::consts::OS)
}

/// Prints the figures as a Markdown table, headed by the version and the machine.
pub fn print_table(rows: Vec<Row>) {
    println!(
        "\npluggedin-mcp {} — {}\n",
        env!("CARGO_PKG_VERSION"),
        machine()
    );
    let width = rows
        .iter()
        .map(|r| r.what.chars().count())
        .max()
        .unwrap_or(0);
    let fig = rows
        .iter()
        .map(|r| r.figure.chars().count())
        .max()
        .unwrap_or(0);
    println!("| {:width$} | {:fig$} | target |", "measure", "figure");
    println!("|{}|{}|---|", "-".repeat(width + 2), "-".repeat(fig + 2));
    for r in rows {
        println!("| {:width$} | {:fig$} | {} |", r.what, r.figure, r.target);
    }
}
