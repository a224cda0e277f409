//! Requests as metric labels: a route with every id folded, a method by name, so the label
//! sets stay as small as the API.

use reqwest::Method;

/// The words of Plugged.in's routes as this client calls them: every other path segment is
/// an id (of an agent, a document, a session — chosen by whoever asked), shown as `{id}`, so
/// the set of routes in the metrics stays as small as the API.
const ROUTE_WORDS: &[&str] = &[
    "api",
    "agents",
    "heartbeat",
    "metrics",
    "export",
    "logs",
    "shutdown",
    "suspend",
    "resume",
    "restart",
    "clipboard",
    "push",
    "pop",
    "documents",
    "search",
    "ai",
    "versions",
    "mcp-servers",
    "tools",
    "discover",
    "all",
    "memory",
    "sessions",
    "observations",
    "details",
    "notifications",
    "custom",
    "completed",
    "read",
    "mcp-activity",
    "rag",
    "query",
    "prompts",
    "resources",
    "resource-templates",
    "resolve",
    "prompt",
    "resource",
];

/// A request's route as a metric label: its path with every id folded into `{id}`.
pub(super) fn route_label(segments: &[String]) -> String {
    let folded: Vec<&str> = segments
        .iter()
        .map(|s| {
            if ROUTE_WORDS.contains(&s.as_str()) {
                s.as_str()
            } else {
                "{id}"
            }
        })
        .collect();
    format!("/{}", folded.join("/"))
}

/// A method's name as a metric label (the client sends no others).
pub(super) fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::PUT => "PUT",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod route_tests {
    use super::*;

    #[test]
    fn routes_fold_every_id_whatever_it_looks_like() {
        let of =
            |path: &[&str]| route_label(&path.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            of(&[
                "api",
                "agents",
                "3f1c2a7e-1111-4c2d-9e8f-000000000000",
                "heartbeat"
            ]),
            "/api/agents/{id}/heartbeat"
        );
        // A session id with no digit, chosen by a client, is still an id.
        assert_eq!(
            of(&["api", "memory", "sessions", "abcdefghij"]),
            "/api/memory/sessions/{id}"
        );
        assert_eq!(
            of(&["api", "documents", "x", "versions", "2"]),
            "/api/documents/{id}/versions/{id}"
        );
    }
}
