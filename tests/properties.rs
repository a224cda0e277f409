//! Property tests: random JSON, well-typed (generated from each tool's input schema) and
//! ill-typed, sent to every tool and to every route of the embedded API. Never a panic,
//! never a 5xx or a protocol error, always a result or a clear error, and the database is
//! intact afterwards.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step should stop the test at once, with its message"
)]
mod common;

use std::time::Duration;

use common::{TestApi, mcp::spawn_local};
use pluggedin_mcp::server::PluggedinServer;
use proptest::{prelude::*, test_runner::TestRunner};
use reqwest::Method;
use serde_json::{Map, Value, json};

/// Arbitrary JSON, a few levels deep.
fn any_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e6f64..1e6).prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        Just(json!("11111111-1111-4111-8111-111111111111")),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z_]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

/// Values that satisfy a (cleaned) JSON schema, with the edge cases that matter: empty and
/// odd strings, zero, negative and huge numbers.
fn from_schema(schema: &Value, depth: u32) -> BoxedStrategy<Value> {
    if let Some(Value::Array(options)) = schema.get("enum") {
        return prop::sample::select(options.clone()).boxed();
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("string") => prop_oneof![
            "[a-z][a-z0-9-]{0,5}".prop_map(Value::String),
            "[a-z][a-z0-9-]{0,20}".prop_map(Value::String),
            ".{0,30}".prop_map(Value::String),
            Just(json!("")),
            Just(json!("11111111-1111-4111-8111-111111111111")),
        ]
        .boxed(),
        Some("integer") => prop_oneof![0i64..200, Just(0), Just(-1), Just(i64::MAX)]
            .prop_map(|n| json!(n))
            .boxed(),
        Some("number") => prop_oneof![(0f64..500.0), Just(-1.0), Just(1e300)]
            .prop_map(|f| json!(f))
            .boxed(),
        Some("boolean") => any::<bool>().prop_map(Value::Bool).boxed(),
        Some("array") if depth < 3 => {
            let items = schema.get("items").cloned().unwrap_or(json!({}));
            prop::collection::vec(from_schema(&items, depth + 1), 0..3)
                .prop_map(Value::Array)
                .boxed()
        }
        Some("object") if depth < 3 => {
            let props: Vec<(String, Value)> = schema
                .get("properties")
                .and_then(Value::as_object)
                .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            let required: Vec<String> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let fields: Vec<BoxedStrategy<Option<(String, Value)>>> = props
                .into_iter()
                .map(|(name, sub)| {
                    let value = from_schema(&sub, depth + 1);
                    if required.contains(&name) {
                        value.prop_map(move |v| Some((name.clone(), v))).boxed()
                    } else {
                        prop::option::of(value)
                            .prop_map(move |v| v.map(|v| (name.clone(), v)))
                            .boxed()
                    }
                })
                .collect();
            fields
                .prop_map(|pairs| Value::Object(pairs.into_iter().flatten().collect::<Map<_, _>>()))
                .boxed()
        }
        _ => any_json(),
    }
}

#[test]
fn every_tool_answers_random_arguments_with_a_result() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mcp = runtime.block_on(spawn_local(dir.path()));
    let catalog = PluggedinServer::catalog().unwrap();
    let cases: Vec<(String, BoxedStrategy<Value>)> = catalog
        .iter()
        .map(|t| (t.name.to_string(), Value::Object((*t.input_schema).clone())))
        .map(|(name, schema)| {
            // Half well-typed from the schema, half arbitrary JSON objects.
            let args = prop_oneof![
                from_schema(&schema, 0),
                prop::collection::btree_map("[a-z_]{1,15}", any_json(), 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
            .boxed();
            (name, args)
        })
        .collect();
    let strategy = (0..cases.len(), any::<u64>()).prop_flat_map(move |(i, _)| {
        let (name, args) = cases[i].clone();
        args.prop_map(move |a| (name.clone(), a))
    });
    let mut runner = TestRunner::new(config(1500));
    let client = &mcp;
    runner
        .run(&strategy, |(tool, mut args)| {
            // Waiting for an agent to become ACTIVE would stall the run (it never does
            // locally); the wait itself is tested elsewhere.
            if tool == "create_agent"
                && let Value::Object(m) = &mut args
            {
                m.insert("wait_until_active".into(), json!(false));
            }
            let Value::Object(map) = args.clone() else {
                return Ok(());
            };
            let outcome = runtime.block_on(async {
                tokio::time::timeout(
                    // Generous for a loaded machine; a panicked handler never answers at all.
                    Duration::from_secs(5),
                    client.client.call_tool(
                        rmcp::model::CallToolRequestParams::new(tool.clone()).with_arguments(map),
                    ),
                )
                .await
            });
            let result =
                outcome.map_err(|_| TestCaseError::fail(format!("{tool} hung on {args}")))?;
            let result = result.map_err(|e| {
                TestCaseError::fail(format!("{tool} gave a protocol error on {args}: {e:?}"))
            })?;
            if result.is_error == Some(true) {
                let text = common::mcp::text_of(&result);
                prop_assert!(
                    !text.trim().is_empty(),
                    "{} failed without a message on {}",
                    tool,
                    args
                );
                prop_assert!(
                    !text.contains(pluggedin_mcp::tools::PANIC_MESSAGE),
                    "{} panicked on {}",
                    tool,
                    args
                );
            } else {
                prop_assert!(
                    result.structured_content.is_some(),
                    "{} succeeded without structured content",
                    tool
                );
            }
            Ok(())
        })
        .unwrap();
    let alive = runtime.block_on(mcp.client.list_all_tools()).unwrap();
    assert_eq!(
        alive.len(),
        common::LISTED_TOOLS,
        "the server is still serving"
    );
    let stderr = mcp.stderr();
    assert!(!stderr.contains("panicked"), "{stderr}");
    runtime.block_on(mcp.close());
    let db = rusqlite::Connection::open(dir.path().join("pluggedin.db")).unwrap();
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

/// A plausible value for a field the API knows, so bodies reach the validation and storage
/// code behind decoding, not just the decoder.
fn plausible(field: &str) -> BoxedStrategy<Value> {
    let one_of = |values: &[Value]| prop::sample::select(values.to_vec()).boxed();
    let s = |pattern: &'static str| pattern.prop_map(Value::String).boxed();
    match field {
        "name" => prop_oneof![s("[a-z][a-z0-9-]{0,4}"), s("[a-z][a-z0-9-]{0,12}")].boxed(),
        "value" | "content" | "title" | "query" | "message" | "reason" | "description" => {
            prop_oneof![s("[a-z ]{0,6}"), s(".{0,24}")].boxed()
        }
        "idx" => (-3i64..40).prop_map(|n| json!(n)).boxed(),
        "encoding" => one_of(&[
            json!("utf-8"),
            json!("base64"),
            json!("hex"),
            json!("latin1"),
        ]),
        "contentType" => one_of(&[json!("text/plain"), json!("image/png"), json!("x")]),
        "ttlSeconds" | "limit" | "offset" | "telemetry_limit" | "drain_timeout_seconds" => {
            prop_oneof![
                (-2i64..200).prop_map(|n| json!(n)),
                Just(json!(1e12)),
                Just(json!("60"))
            ]
            .boxed()
        }
        "format" => one_of(&[json!("md"), json!("txt"), json!("json"), json!("pdf")]),
        "category" => one_of(&[json!("guide"), json!("other"), json!("memo")]),
        "tags" => prop::collection::vec(s("[a-z]{1,5}"), 0..3)
            .prop_map(Value::Array)
            .boxed(),
        "metadata" => one_of(&[
            json!({ "model": { "name": "m", "provider": "p" } }),
            json!({ "changeSummary": "s" }),
            json!({ "model": "m" }),
            json!({ "visibility": "secret", "model": { "name": "m", "provider": "p" } }),
        ]),
        "operation" => one_of(&[
            json!("replace"),
            json!("append"),
            json!("prepend"),
            json!("merge"),
        ]),
        "mode" => one_of(&[
            json!("EMERGENCY"),
            json!("IDLE"),
            json!("SLEEP"),
            json!("FAST"),
        ]),
        "uptime_seconds" | "cpu_percent" | "memory_mb" | "requests_handled" => prop_oneof![
            (-1.5f64..1e6).prop_map(|f| json!(f)),
            (0i64..1000).prop_map(|n| json!(n))
        ]
        .boxed(),
        "from_state" | "to_state" => one_of(&[
            json!("NEW"),
            json!("PROVISIONED"),
            json!("ACTIVE"),
            json!("DRAINING"),
            json!("TERMINATED"),
            json!("RUNNING"),
        ]),
        "image" => one_of(&[
            json!("nginx"),
            json!("nginxinc/nginx-unprivileged"),
            json!("evil.example/x"),
            json!(""),
        ]),
        "access_level" => one_of(&[json!("PRIVATE"), json!("PUBLIC"), json!("OPEN")]),
        "severity" => one_of(&[json!("INFO"), json!("ALERT"), json!("LOUD")]),
        "resources" => one_of(&[
            json!({ "cpu_request": "2" }),
            json!({ "memory_limit": "1Gi" }),
            Value::Null,
        ]),
        "env_overrides" => one_of(&[json!({ "A": "1" }), json!({ "PORT": "1" }), json!(["x"])]),
        "custom_metrics" | "filters" => one_of(&[json!({}), json!({ "tags": ["a"] }), json!(5)]),
        "timestamp" => one_of(&[json!("2020-01-01T00:00:00Z"), json!("soon"), json!(0)]),
        _ => any::<bool>().prop_map(Value::Bool).boxed(),
    }
}

const FIELDS: &[&str] = &[
    "name",
    "value",
    "content",
    "title",
    "query",
    "message",
    "reason",
    "description",
    "idx",
    "encoding",
    "contentType",
    "ttlSeconds",
    "limit",
    "offset",
    "telemetry_limit",
    "drain_timeout_seconds",
    "format",
    "category",
    "tags",
    "metadata",
    "operation",
    "mode",
    "uptime_seconds",
    "cpu_percent",
    "memory_mb",
    "requests_handled",
    "from_state",
    "to_state",
    "image",
    "access_level",
    "severity",
    "resources",
    "env_overrides",
    "custom_metrics",
    "filters",
    "timestamp",
    "clearAll",
    "includeMetadata",
    "force",
    "include_telemetry",
    "sendEmail",
];

/// Bodies that are mostly valid in shape: each known field present a third of the time,
/// with a plausible value or (sometimes) an arbitrary one.
fn near_valid_body() -> BoxedStrategy<Value> {
    let fields: Vec<BoxedStrategy<Option<(String, Value)>>> = FIELDS
        .iter()
        .map(|f| {
            let name = f.to_string();
            let value = prop_oneof![4 => plausible(f), 1 => any_json()];
            // Fields most routes require show up more often.
            let p = if [
                "name", "value", "content", "title", "query", "message", "mode",
            ]
            .contains(f)
            {
                0.6
            } else {
                0.3
            };
            prop::option::weighted(p, value)
                .prop_map(move |v| v.map(|v| (name.clone(), v)))
                .boxed()
        })
        .collect();
    fields
        .prop_map(|pairs| Value::Object(pairs.into_iter().flatten().collect::<Map<_, _>>()))
        .boxed()
}

/// Every route, with a method and a JSON body or query string.
const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/agents"),
    ("PATCH", "/api/agents/{agent}"),
    ("POST", "/api/agents/{agent}/heartbeat"),
    ("POST", "/api/agents/{agent}/metrics"),
    ("POST", "/api/agents/{agent}/state"),
    ("POST", "/api/agents/{agent}/export"),
    ("POST", "/api/agents/{agent}/shutdown"),
    ("POST", "/api/agents/{agent}/suspend"),
    ("POST", "/api/agents/{agent}/restart"),
    ("GET", "/api/agents/{agent}/logs"),
    ("POST", "/api/documents/ai"),
    ("PATCH", "/api/documents/{doc}"),
    ("POST", "/api/documents/search"),
    ("GET", "/api/documents"),
    ("GET", "/api/documents/{doc}"),
    ("GET", "/api/documents/{doc}/versions/{n}"),
    ("POST", "/api/rag/query"),
    ("GET", "/api/clipboard"),
    ("POST", "/api/clipboard"),
    ("POST", "/api/clipboard/push"),
    ("POST", "/api/clipboard/pop"),
    ("DELETE", "/api/clipboard"),
    ("GET", "/api/notifications"),
    ("POST", "/api/notifications/custom"),
    ("PATCH", "/api/notifications/{notification}/completed"),
];

#[test]
fn the_embedded_api_answers_random_input_with_json_4xx_never_5xx() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let api = runtime.block_on(TestApi::start_with(|c| c.agent_quota = 1000));
    // Something for id-addressed routes to act on.
    let (agent, doc) = runtime.block_on(async {
        let a = api
            .post(
                "/api/agents",
                json!({ "name": "seed-agent", "image": "nginx" }),
            )
            .await;
        let d = api
            .post(
                "/api/documents/ai",
                json!({ "title": "Seed", "content": "seed content",
                "metadata": { "model": { "name": "m", "provider": "p" } } }),
            )
            .await;
        (
            a.body["agent"]["uuid"].as_str().unwrap().to_string(),
            d.body["documentId"].as_str().unwrap().to_string(),
        )
    });
    let strategy = (
        prop::sample::select(ROUTES.to_vec()),
        prop_oneof![3 => near_valid_body(), 1 => any_json()],
        prop_oneof![
            Just(agent.clone()),
            ".{0,12}".prop_map(|s: String| s.replace('/', "_")),
            Just("11111111-1111-4111-8111-111111111111".into())
        ],
        prop_oneof![
            Just(doc.clone()),
            ".{0,12}".prop_map(|s: String| s.replace('/', "_"))
        ],
        "[ -~]{0,40}",
    );
    let mut runner = TestRunner::new(config(4000));
    runner
        .run(
            &strategy,
            |((method, template), body, agent_id, doc_id, query)| {
                let path = template
                    .replace("{agent}", &urlencode(&agent_id))
                    .replace("{doc}", &urlencode(&doc_id))
                    .replace("{notification}", &urlencode(&agent_id))
                    .replace("{n}", "1");
                let method = Method::from_bytes(method.as_bytes()).unwrap();
                let answer = runtime.block_on(async {
                    let url = if method == Method::GET {
                        let q = serde_urlencoded::to_string([
                            ("q", &query),
                            ("limit", &query),
                            ("name", &query),
                        ])
                        .unwrap();
                        format!("{}?{q}", api.url(&path))
                    } else {
                        api.url(&path)
                    };
                    let mut req = api.http.request(method.clone(), url).bearer_auth(api.key());
                    if method != Method::GET {
                        req = req.json(&body);
                    }
                    common::answer(req.send().await.unwrap()).await
                });
                prop_assert!(
                    !answer.status.is_server_error(),
                    "{} {} with {} gave {}: {:?}",
                    method,
                    path,
                    body,
                    answer.status,
                    answer.body
                );
                if answer.status.is_client_error() {
                    prop_assert!(
                        answer.content_type.starts_with("application/json"),
                        "{} {}: {}",
                        method,
                        path,
                        answer.content_type
                    );
                    prop_assert!(
                        !answer.error().is_empty(),
                        "{} {}: error without a message: {:?}",
                        method,
                        path,
                        answer.body
                    );
                }
                Ok(())
            },
        )
        .unwrap();
    // Random requests may legitimately change or delete data; they must never leave it
    // inconsistent or unreadable.
    runtime.block_on(async {
        let checks: (String, String, String, i64, i64) = api
            .api
            .store()
            .read(|c| {
                let sqlite: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
                // FTS5's own check compares each index with its content table.
                let fts = ["documents_fts", "chunks_fts"]
                    .iter()
                    .map(|t| c.execute(&format!("INSERT INTO {t}({t}) VALUES('integrity-check')"), []).map(|_| "ok"))
                    .collect::<Result<Vec<_>, _>>()
                    .map(|v| v.join(","))?;
                let hashes: Vec<(String, String)> = c
                    .prepare("SELECT content, content_hash FROM documents")?
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?;
                let bad_hash = hashes.iter().filter(|(content, hash)| {
                    use sha2::Digest;
                    let digest: String = sha2::Sha256::digest(content.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
                    &digest != hash
                }).count();
                let bad_versions: i64 = c.query_row(
                    "SELECT count(*) FROM documents d WHERE d.version < 1 OR EXISTS \
                     (SELECT 1 FROM document_versions v WHERE v.document_id = d.id AND v.version_number > d.version)",
                    [],
                    |r| r.get(0),
                )?;
                let entries: i64 = c.query_row("SELECT count(*) FROM clipboard", [], |r| r.get(0))?;
                Ok((sqlite, fts, format!("{bad_hash}"), bad_versions, entries))
            })
            .await
            .unwrap();
        assert_eq!(checks.0, "ok", "SQLite integrity");
        assert_eq!(checks.1, "ok,ok", "full-text indexes match their tables");
        assert_eq!(checks.2, "0", "every document's contentHash matches its content");
        assert_eq!(checks.3, 0, "version numbers are consistent");
        let seed = api.get(&format!("/api/documents/{doc}?includeContent=true")).await;
        assert_eq!(seed.body["title"], "Seed");
        let listed = api.get("/api/clipboard?limit=1000").await;
        assert_eq!(listed.body["total"], checks.4, "every stored entry is listed");
        for e in listed.body["entries"].as_array().unwrap() {
            let path = match (&e["name"], &e["idx"]) {
                (Value::String(n), _) => format!("/api/clipboard?name={}", urlencode(n)),
                (_, i) => format!("/api/clipboard?idx={i}"),
            };
            assert!(api.get(&path).await.status.is_success(), "{path} is readable");
        }
        for list in ["/api/agents", "/api/documents?limit=100", "/api/notifications"] {
            assert!(api.get(list).await.status.is_success(), "{list} still lists");
        }
    });
}

/// `cases` random cases; failures are reported with their shrunk input, not saved to disk.
/// Shrinking is bounded: a failing tool case can cost a whole call timeout.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        max_shrink_iters: 16,
        ..ProptestConfig::default()
    }
}

fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}
