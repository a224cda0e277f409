//! Every recorded answer of the real app, served by a stand-in, goes through the client
//! method that calls that route: a success must decode into the client's types, an error
//! must become the `ApiError` its status means. The stand-in also checks that the client
//! calls the route (method, path, query names) the fixture was recorded on.

use std::{collections::BTreeSet, time::Duration};

use pluggedin_mcp::{
    api::{
        ApiError, Client, ClientSettings,
        agents::{Action, NewAgent},
        clipboard::{DeleteTarget, EntryKey, NewEntry},
        documents::{
            DocumentUpdate, DocumentUpdateMetadata, ListQuery, ModelRef, NewDocument,
            NewDocumentMetadata,
        },
        memory::{MemoryQuery, NewObservation},
    },
    secret::Secret,
};
use serde_json::json;
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::any};

use crate::{fixtures, scenario::Exchange};

/// The id every path variable stands for in this test.
const ID: &str = "11111111-2222-4333-8444-555555555555";

#[tokio::test]
async fn every_recorded_answer_decodes_into_the_clients_types() {
    pluggedin_mcp::api::install_crypto_provider();
    let mut failures = Vec::new();
    // The sign-in's answers are read by `login`, not the client (see cli_auth.rs), and the
    // walk's server is made as Plugged.in's UI makes it: the shape test holds its answer.
    for fixture in fixtures::all().into_iter().filter(|f| {
        !crate::cli_auth::RECORDED.contains(&f.name.as_str()) && f.name != "hub_server_create"
    }) {
        if let Err(why) = check(&fixture).await {
            failures.push(format!("{}: {why}", fixture.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

async fn check(fixture: &Exchange) -> Result<(), String> {
    let server = MockServer::start().await;
    let body = serde_json::to_vec(&fixture.body).map_err(|e| e.to_string())?;
    let mut answer = ResponseTemplate::new(fixture.status);
    answer = match &fixture.body {
        serde_json::Value::String(text) if !fixture.content_type.contains("json") => {
            answer.set_body_raw(text.clone().into_bytes(), &fixture.content_type)
        }
        _ => answer.set_body_raw(body, "application/json"),
    };
    Mock::given(any()).respond_with(answer).mount(&server).await;
    let settings = ClientSettings {
        timeout: Duration::from_secs(10),
        max_retries: 0,
    };
    let client = Client::new(&server.uri(), Secret::new("pg_in_contract"), settings)
        .map_err(|e| e.to_string())?;
    let outcome = call(&client, fixture).await?;
    check_route(&server, fixture).await?;
    let expected = expected_outcome(fixture);
    match (&outcome, expected) {
        (Ok(()), Expect::Ok) => Ok(()),
        (Err(e), Expect::Error(kind)) if kind_of(e) == kind => Ok(()),
        (got, want) => Err(format!(
            "HTTP {} gave {got:?}, expected {want:?}",
            fixture.status
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Ok,
    Error(&'static str),
}

/// What the client makes of a status. Two 404s are answers, not errors: an empty stack pops
/// nothing, and a missing clipboard entry deletes nothing.
fn expected_outcome(fixture: &Exchange) -> Expect {
    match (fixture.name.as_str(), fixture.status) {
        ("clipboard_pop_empty", 404) => Expect::Ok,
        // Ending an ended memory session is a 200 with `success: false`: a conflict.
        ("memory_end_again", 200) => Expect::Error("Conflict"),
        (_, 200..=299) => Expect::Ok,
        (_, 401) => Expect::Error("Unauthorized"),
        (_, 403) => Expect::Error("Forbidden"),
        (_, 404) => Expect::Error("NotFound"),
        (_, 409) => Expect::Error("Conflict"),
        (_, 413) => Expect::Error("TooLarge"),
        (_, 429) => Expect::Error("RateLimited"),
        (_, 500..) => Expect::Error("Server"),
        _ => Expect::Error("Invalid"),
    }
}

fn kind_of(error: &ApiError) -> &'static str {
    match error {
        ApiError::Unauthorized { .. } => "Unauthorized",
        ApiError::Forbidden { .. } => "Forbidden",
        ApiError::NotFound { .. } => "NotFound",
        ApiError::Conflict { .. } => "Conflict",
        ApiError::TooLarge { .. } => "TooLarge",
        ApiError::Invalid { .. } => "Invalid",
        ApiError::RateLimited {
            retry_after: Some(_),
        } => "RateLimited",
        ApiError::RateLimited { retry_after: None } => "RateLimited without retryAfter",
        ApiError::Server { .. } => "Server",
        ApiError::Timeout { .. } => "Timeout",
        ApiError::Unreachable { .. } => "Unreachable",
        ApiError::Decode { .. } => "Decode",
        ApiError::Cancelled => "Cancelled",
    }
}

/// The client request went to the recorded route: same method, same path (variables
/// matched as one segment), same query parameter names.
async fn check_route(server: &MockServer, fixture: &Exchange) -> Result<(), String> {
    let requests = server.received_requests().await.unwrap_or_default();
    let Some(request) = requests.first() else {
        return Err("the client sent no request".into());
    };
    let (template_path, template_query) = fixture
        .path
        .split_once('?')
        .unwrap_or((fixture.path.as_str(), ""));
    let want_segments: Vec<&str> = template_path.split('/').collect();
    let got_segments: Vec<&str> = request.url.path().split('/').collect();
    let same_path = want_segments.len() == got_segments.len()
        && want_segments
            .iter()
            .zip(&got_segments)
            .all(|(want, got)| (want.starts_with('{') && want.ends_with('}')) || want == got);
    let want_query: BTreeSet<&str> = template_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').map_or(p, |(k, _)| k))
        .collect();
    let got_query: BTreeSet<String> = request
        .url
        .query_pairs()
        .map(|(k, _)| k.into_owned())
        .collect();
    let got_query: BTreeSet<&str> = got_query.iter().map(String::as_str).collect();
    if request.method.as_str() != fixture.method || !same_path || want_query != got_query {
        return Err(format!(
            "the client called {} {} (query {got_query:?}), the fixture was recorded on {} {}",
            request.method,
            request.url.path(),
            fixture.method,
            fixture.path
        ));
    }
    Ok(())
}

fn model() -> ModelRef {
    ModelRef {
        name: "contract".into(),
        provider: "test".into(),
        version: Some("1".into()),
    }
}

fn entry(name: Option<&str>, idx: Option<i64>) -> NewEntry {
    NewEntry {
        name: name.map(str::to_string),
        idx,
        value: "hello".into(),
        content_type: "text/plain".into(),
        encoding: "utf-8".into(),
        created_by_tool: "clipboard_set".into(),
        source: "mcp",
        ..NewEntry::default()
    }
}

/// Calls the client method for the fixture's route; only the outcome's kind matters.
async fn call(client: &Client, fixture: &Exchange) -> Result<Result<(), ApiError>, String> {
    fn done<T>(result: Result<T, ApiError>) -> Result<(), ApiError> {
        result.map(drop)
    }
    let update = DocumentUpdate {
        operation: "append".into(),
        content: "more".into(),
        metadata: DocumentUpdateMetadata {
            model: model(),
            change_summary: None,
            tags: None,
        },
    };
    let outcome = match fixture.name.as_str() {
        "doc_create" | "doc_create_invalid" => done(
            client
                .create_document(&NewDocument {
                    title: "t".into(),
                    content: "c".into(),
                    format: "md".into(),
                    tags: vec![],
                    category: "other".into(),
                    metadata: NewDocumentMetadata {
                        model: model(),
                        visibility: "private".into(),
                        context: None,
                        source_documents: vec![],
                    },
                })
                .await,
        ),
        "doc_get" | "doc_get_missing" => done(client.document(ID, true).await),
        "doc_update" | "doc_update_missing" | "doc_update_rate_limited" => {
            done(client.update_document(ID, &update).await)
        }
        "doc_versions" => done(client.document_versions(ID).await),
        "doc_version" => done(client.document_version(ID, 2).await),
        "doc_version_missing" => done(client.document_version(ID, 99).await),
        "doc_list" => done(
            client
                .list_documents(&ListQuery {
                    sort: Some("date_desc".into()),
                    limit: 10,
                    ..ListQuery::default()
                })
                .await,
        ),
        "doc_list_filtered" => done(
            client
                .list_documents(&ListQuery {
                    source: Some("ai_generated".into()),
                    tags: vec!["contract".into()],
                    limit: 10,
                    ..ListQuery::default()
                })
                .await,
        ),
        "doc_search" | "doc_search_invalid" => {
            done(client.search_documents("planning", &[], 10, 0).await)
        }
        "clipboard_clear" => done(client.clipboard_delete(&DeleteTarget::All).await),
        "clipboard_set" | "clipboard_set_invalid" => {
            done(client.clipboard_set(&entry(Some("n"), None)).await)
        }
        "clipboard_set_idx" => done(client.clipboard_set(&entry(None, Some(7))).await),
        "clipboard_get" | "clipboard_get_missing" => {
            done(client.clipboard_get(&EntryKey::Name("n".into())).await)
        }
        "clipboard_get_idx" => done(client.clipboard_get(&EntryKey::Idx(7)).await),
        "clipboard_push" => done(client.clipboard_push(&entry(None, None)).await),
        "clipboard_list" => done(client.clipboard_list(None, 50, 0).await),
        "clipboard_list_filtered" => {
            done(client.clipboard_list(Some("application/json"), 50, 0).await)
        }
        "clipboard_pop" | "clipboard_pop_empty" => done(client.clipboard_pop().await),
        "clipboard_delete" | "clipboard_delete_missing" => done(
            client
                .clipboard_delete(&DeleteTarget::Key(EntryKey::Name("n".into())))
                .await,
        ),
        "clipboard_delete_idx" => done(
            client
                .clipboard_delete(&DeleteTarget::Key(EntryKey::Idx(7)))
                .await,
        ),
        "rag_query" => done(client.rag_query("planning").await),
        "notification_send" | "notification_send_invalid" => done(
            client
                .send_notification(Some("t"), "m", "INFO", false)
                .await,
        ),
        "notification_list" | "wrong_key" => done(client.notifications(false, 5).await),
        "notification_list_unread" => done(client.notifications(true, 5).await),
        "notification_read" | "notification_read_missing" => {
            done(client.mark_notification_read(ID).await)
        }
        "notification_completed" => done(client.toggle_notification_completed(ID).await),
        "notification_delete" | "notification_delete_missing" => {
            done(client.delete_notification(ID).await)
        }
        "agent_create" | "agent_create_invalid" => done(
            client
                .create_agent(&NewAgent {
                    name: "a".into(),
                    description: None,
                    image: None,
                    template_uuid: None,
                    resources: None,
                    access_level: None,
                    env_overrides: None,
                })
                .await,
        ),
        "agent_list" => done(client.list_agents().await),
        "agent_get" | "agent_get_missing" => done(client.agent(ID).await),
        "agent_heartbeat" => done(client.heartbeat(ID, "IDLE", 5).await),
        "agent_metrics" => done(client.metrics(ID, json!({"cpu_percent": 1.0})).await),
        "agent_export" => done(client.export_agent(ID, true, 10).await),
        "agent_logs" => done(client.agent_logs(ID, 20).await),
        "agent_suspend" => done(
            client
                .agent_action(ID, &Action::Suspend { reason: None })
                .await,
        ),
        "agent_resume" => done(client.agent_action(ID, &Action::Resume).await),
        "agent_restart" => done(
            client
                .agent_action(ID, &Action::Restart { force: true })
                .await,
        ),
        "agent_shutdown" => done(
            client
                .agent_action(
                    ID,
                    &Action::Shutdown {
                        drain_timeout_seconds: Some(10),
                    },
                )
                .await,
        ),
        "agent_delete" | "agent_delete_missing" => done(client.delete_agent(ID).await),
        "memory_start" | "memory_start_invalid" => done(client.memory_start("c", None).await),
        "memory_session" | "memory_session_missing" => done(client.memory_session(ID).await),
        "memory_observe" | "memory_observe_invalid" => done(
            client
                .memory_observe(
                    ID,
                    &NewObservation {
                        kind: "insight".into(),
                        content: "c".into(),
                        outcome: None,
                        metadata: None,
                    },
                )
                .await,
        ),
        "memory_observations" => done(client.memory_observations(ID).await),
        "memory_search" | "memory_search_invalid" => done(
            client
                .memory_search(&MemoryQuery {
                    query: "q".into(),
                    top_k: 5,
                    ..MemoryQuery::default()
                })
                .await,
        ),
        "memory_details" => done(client.memory_details(&[ID.to_string()]).await),
        "memory_end" | "memory_end_again" => done(client.memory_end(ID).await),
        "hub_servers" => done(client.mcp_servers().await),
        "hub_tools_report" => {
            let tool = rmcp::model::Tool::new(
                "echo",
                "Echoes its text",
                std::sync::Arc::new(serde_json::Map::new()),
            );
            done(client.report_tools(ID, &[tool]).await)
        }
        "hub_tools" => done(client.cached_tools().await),
        "hub_activity" => done(
            client
                .report_activity(&pluggedin_mcp::api::hub::Activity {
                    action: "tool_call",
                    server_name: "s".into(),
                    server_uuid: Some(ID.into()),
                    item_name: "echo".into(),
                    success: true,
                    error_message: None,
                    execution_time: 1.0,
                })
                .await,
        ),
        other => return Err(format!("no client call is mapped to the fixture {other}")),
    };
    Ok(outcome)
}
