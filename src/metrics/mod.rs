//! What the process counts, for operators: tool calls, HTTP requests, upstream requests and
//! retries, open sessions and streams, hub servers by state, in-flight work and draining —
//! kept in one registry of the `prometheus-client` crate and shown in its text format at
//! `GET /metrics` when the HTTP server runs with `--metrics`.
//!
//! Recording is always on (an atomic add per event); only showing them is opt-in. Every label
//! comes from a bounded set — fixed routes and outcomes, HTTP status codes, and tool names,
//! of which at most [`MAX_TOOL_LABELS`] distinct ones are kept (the rest count as `other`) —
//! so no client can make the registry grow without bound.

use std::{
    collections::HashSet,
    sync::{Mutex, OnceLock},
    time::Duration,
};

mod process;

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

/// Most distinct tool names used as labels.
pub const MAX_TOOL_LABELS: usize = 256;

/// The OpenMetrics content type of [`render`]'s answer.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolLabels {
    tool: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolOnly {
    tool: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteOnly {
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    method: &'static str,
    route: String,
    /// The HTTP status, or `error` when no answer came (connection refused, timeout).
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransportLabels {
    transport: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

struct Metrics {
    registry: Registry,
    tool_calls: Family<ToolLabels, Counter>,
    tool_seconds: Family<ToolOnly, Histogram>,
    http_requests: Family<HttpLabels, Counter>,
    http_seconds: Family<RouteOnly, Histogram>,
    upstream_requests: Family<UpstreamLabels, Counter>,
    upstream_seconds: Histogram,
    upstream_retries: Counter,
    sessions: Family<TransportLabels, Gauge>,
    streams: Gauge,
    hub_servers: Family<StateLabels, Gauge>,
    in_flight: Gauge,
    draining: Gauge,
    tool_names: Mutex<HashSet<String>>,
}

/// Latency buckets, in seconds: a millisecond to a minute.
fn buckets() -> impl Iterator<Item = f64> {
    [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    ]
    .into_iter()
}

fn histogram() -> Histogram {
    Histogram::new(buckets())
}

fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        // Unprefixed: the standard process metrics keep their standard names; ours are
        // prefixed one by one (`ours`).
        let mut registry = Registry::default();
        let ours = |name: &str| format!("pluggedin_mcp_{name}");
        let tool_calls = Family::<ToolLabels, Counter>::default();
        registry.register(
            ours("tool_calls"),
            "Tool calls by tool and outcome (ok, error: an isError result, failed: no result)",
            tool_calls.clone(),
        );
        let tool_seconds =
            Family::<ToolOnly, Histogram>::new_with_constructor(histogram as fn() -> Histogram);
        registry.register(
            ours("tool_call_duration_seconds"),
            "Tool call latency by tool",
            tool_seconds.clone(),
        );
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            ours("http_requests"),
            "HTTP requests by route and status",
            http_requests.clone(),
        );
        let http_seconds =
            Family::<RouteOnly, Histogram>::new_with_constructor(histogram as fn() -> Histogram);
        registry.register(
            ours("http_request_duration_seconds"),
            "HTTP request latency (to the response head) by route",
            http_seconds.clone(),
        );
        let upstream_requests = Family::<UpstreamLabels, Counter>::default();
        registry.register(
            ours("upstream_requests"),
            "Requests to Plugged.in (or the embedded API) by method, route and status",
            upstream_requests.clone(),
        );
        let upstream_seconds = histogram();
        registry.register(
            ours("upstream_request_duration_seconds"),
            "Latency of each request to Plugged.in, retries counted apart",
            upstream_seconds.clone(),
        );
        let upstream_retries = Counter::default();
        registry.register(
            ours("upstream_retries"),
            "Retries of idempotent upstream requests",
            upstream_retries.clone(),
        );
        let sessions = Family::<TransportLabels, Gauge>::default();
        registry.register(
            ours("sessions_open"),
            "Open MCP sessions by transport",
            sessions.clone(),
        );
        let streams = Gauge::default();
        registry.register(
            ours("streams_open"),
            "Open server-sent event streams",
            streams.clone(),
        );
        let hub_servers = Family::<StateLabels, Gauge>::default();
        registry.register(
            ours("hub_servers"),
            "Downstream MCP servers of the hub by state",
            hub_servers.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            ours("in_flight_requests"),
            "HTTP requests whose answer is still being produced",
            in_flight.clone(),
        );
        let draining = Gauge::default();
        registry.register(
            ours("draining"),
            "1 while the server drains before it stops",
            draining.clone(),
        );
        process::register(&mut registry);
        Metrics {
            registry,
            tool_calls,
            tool_seconds,
            http_requests,
            http_seconds,
            upstream_requests,
            upstream_seconds,
            upstream_retries,
            sessions,
            streams,
            hub_servers,
            in_flight,
            draining,
            tool_names: Mutex::default(),
        }
    })
}

/// A tool name as a label: one of the first [`MAX_TOOL_LABELS`] seen, else `other`.
fn tool_label(tool: &str) -> String {
    let mut names = metrics()
        .tool_names
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if names.contains(tool) {
        return tool.to_string();
    }
    if names.len() < MAX_TOOL_LABELS {
        names.insert(tool.to_string());
        return tool.to_string();
    }
    "other".to_string()
}

/// How a tool call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// A result with `isError: true`.
    Error,
    /// No result: a JSON-RPC error.
    Failed,
}

impl Outcome {
    fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Failed => "failed",
        }
    }
}

/// One tool call. `tool` is the name called, or `unknown` for a name nothing answers to.
pub fn tool_call(tool: &str, outcome: Outcome, took: Duration) {
    let m = metrics();
    let tool = tool_label(tool);
    m.tool_calls
        .get_or_create(&ToolLabels {
            tool: tool.clone(),
            outcome: outcome.name(),
        })
        .inc();
    m.tool_seconds
        .get_or_create(&ToolOnly { tool })
        .observe(took.as_secs_f64());
}

/// One HTTP request of ours, by route (one of a fixed set) and status.
pub fn http_request(route: &'static str, status: u16, took: Duration) {
    let m = metrics();
    m.http_requests
        .get_or_create(&HttpLabels { route, status })
        .inc();
    m.http_seconds
        .get_or_create(&RouteOnly { route })
        .observe(took.as_secs_f64());
}

/// One upstream request: `route` is its path with ids folded (`/api/agents/{id}`, a set as
/// small as the API: the client folds every segment that is not one of its route words), `status`
/// its HTTP status or `None` when no answer came.
pub fn upstream_request(method: &'static str, route: String, status: Option<u16>, took: Duration) {
    let m = metrics();
    let status = status.map_or_else(|| "error".to_string(), |s| s.to_string());
    m.upstream_requests
        .get_or_create(&UpstreamLabels {
            method,
            route,
            status,
        })
        .inc();
    m.upstream_seconds.observe(took.as_secs_f64());
}

pub fn upstream_retry() {
    metrics().upstream_retries.inc();
}

/// The sessions open now on one transport (`streamable_http`, `sse`).
pub fn set_sessions(transport: &'static str, open: usize) {
    metrics()
        .sessions
        .get_or_create(&TransportLabels { transport })
        .set(i64::try_from(open).unwrap_or(i64::MAX));
}

/// An SSE stream opened (`+1`) or closed (`-1`).
pub fn stream(delta: i64) {
    metrics().streams.inc_by(delta);
}

/// A hub server entered (`+1`) or left (`-1`) `state`.
pub fn hub_server(state: &'static str, delta: i64) {
    metrics()
        .hub_servers
        .get_or_create(&StateLabels { state })
        .inc_by(delta);
}

/// An HTTP request began (`+1`) or its answer ended (`-1`).
pub fn in_flight(delta: i64) {
    metrics().in_flight.inc_by(delta);
}

pub fn set_draining(draining: bool) {
    metrics().draining.set(i64::from(draining));
}

/// Every metric in the OpenMetrics text format.
pub fn render() -> String {
    process::refresh();
    let mut out = String::new();
    if let Err(error) = prometheus_client::encoding::text::encode(&mut out, &metrics().registry) {
        tracing::warn!(%error, "encoding the metrics failed");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_labels_are_bounded() {
        for i in 0..MAX_TOOL_LABELS + 50 {
            tool_call(&format!("t{i}"), Outcome::Ok, Duration::from_millis(1));
        }
        let text = render();
        let tools: HashSet<&str> = text
            .lines()
            .filter(|l| l.starts_with("pluggedin_mcp_tool_calls_total{"))
            .filter_map(|l| l.split("tool=\"").nth(1)?.split('"').next())
            .collect();
        assert!(tools.len() <= MAX_TOOL_LABELS + 1, "{}", tools.len());
        assert!(tools.contains("other"));
    }
}
