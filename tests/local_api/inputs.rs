//! Inputs the embedded API refuses with a 400 naming the rule, where it used to store
//! something unreadable, fail later, or hit a SQLite limit; and what it reports in the
//! cloud's terms (score range, `pluggedin-mcp api` on a taken port).

use reqwest::StatusCode;
use serde_json::json;

use crate::common::TestApi;

#[tokio::test]
async fn clipboard_names_and_indexes_follow_the_rules() {
    let api = TestApi::start().await;
    for (body, field) in [
        (json!({ "name": "", "value": "x" }), "name"),
        (json!({ "name": "n".repeat(256), "value": "x" }), "name"),
        (
            json!({ "idx": 9_223_372_036_854_775_807_i64, "value": "x" }),
            "idx",
        ),
        (json!({ "idx": -1, "value": "x" }), "idx"),
    ] {
        let a = api.post("/api/clipboard", body).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{:?}", a.body);
        assert_eq!(a.detail_path(), field, "{:?}", a.body);
    }
    let read = api.get("/api/clipboard?idx=9223372036854775807").await;
    assert_eq!(read.status, StatusCode::BAD_REQUEST);
    // The highest settable index leaves room for pushes.
    let top = api
        .post(
            "/api/clipboard",
            json!({ "idx": 1_000_000_000, "value": "top" }),
        )
        .await;
    assert_eq!(top.status, StatusCode::OK);
    let pushed = api
        .post("/api/clipboard/push", json!({ "value": "next" }))
        .await;
    assert_eq!(pushed.status, StatusCode::OK, "{:?}", pushed.body);
    assert_eq!(pushed.body["entry"]["idx"], 1_000_000_001);
}

#[tokio::test]
async fn tag_filters_are_bounded_like_document_tags() {
    let api = TestApi::start().await;
    let tags: Vec<String> = (0..40_000).map(|i| format!("t{i}")).collect();
    let search = api
        .post(
            "/api/documents/search",
            json!({ "query": "x", "filters": { "tags": tags } }),
        )
        .await;
    assert_eq!(search.status, StatusCode::BAD_REQUEST, "{:?}", search.body);
    assert!(
        search.body["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("at most 20")
    );
    let query: String = (0..25).map(|i| format!("tags=t{i}&")).collect();
    let list = api.get(&format!("/api/documents?{query}")).await;
    assert_eq!(list.status, StatusCode::BAD_REQUEST);
    assert_eq!(list.detail_path(), "tags");
}

#[tokio::test]
async fn relevance_scores_are_in_the_clouds_range() {
    let api = TestApi::start().await;
    let model = json!({ "model": { "name": "m", "provider": "p" } });
    for (title, content) in [
        (
            "Kubernetes drain procedure",
            "drain drain drain the node before upgrades",
        ),
        ("Unrelated", "a note that mentions drain once"),
    ] {
        let r = api
            .post(
                "/api/documents/ai",
                json!({ "title": title, "content": content, "metadata": model }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    let found = api
        .post("/api/documents/search", json!({ "query": "drain" }))
        .await;
    let scores: Vec<f64> = found.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["relevanceScore"].as_f64().unwrap())
        .collect();
    assert_eq!(scores.len(), 2, "{:?}", found.body);
    assert!(scores.iter().all(|s| (0.0..=1.5).contains(s)), "{scores:?}");
    assert!(scores[0] > scores[1], "ranked: {scores:?}");
    assert!(
        scores[0] >= 0.5,
        "a title match carries the cloud's bonus: {scores:?}"
    );
}

#[test]
fn the_api_server_does_not_take_plugged_ins_port_and_names_the_flag_on_a_clash() {
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_pluggedin-mcp"))
        .env("PLUGGEDIN_CONFIG_DIR", "/nonexistent/pluggedin-mcp-tests")
        .args(["api", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(!help.contains("12005"), "{help}");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pluggedin-mcp"))
        .env("PLUGGEDIN_CONFIG_DIR", "/nonexistent/pluggedin-mcp-tests")
        .args(["api", "--port", &port, "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--port") && stderr.contains("in use"),
        "{stderr}"
    );
}
