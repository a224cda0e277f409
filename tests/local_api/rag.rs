//! RAG: answers are the best-matching chunks of stored documents.

use crate::{common::TestApi, documents::create_doc};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn answers_with_matching_chunks_and_sources() {
    let api = TestApi::start().await;
    let guide = create_doc(
        &api,
        "Heartbeat guide",
        "Agents send a heartbeat every 30 seconds in IDLE mode.\n\nMetrics are reported separately every minute.",
        &[],
    )
    .await;
    create_doc(&api, "Recipes", "Boil the pasta for nine minutes.", &[]).await;

    let json_answer = api
        .post(
            "/api/rag/query",
            json!({ "query": "How often do agents send a heartbeat?", "includeMetadata": true }),
        )
        .await;
    assert_eq!(json_answer.status, StatusCode::OK);
    assert!(json_answer.content_type.starts_with("application/json"));
    let answer = json_answer.body["answer"].as_str().unwrap();
    assert!(answer.contains("every 30 seconds"), "{answer}");
    assert!(!answer.contains("pasta"));
    assert_eq!(json_answer.body["sources"], json!(["Heartbeat guide"]));
    assert_eq!(json_answer.body["documentIds"], json!([guide]));

    let plain = api
        .post("/api/rag/query", json!({ "query": "pasta" }))
        .await;
    assert!(plain.content_type.starts_with("text/plain"));
    assert_eq!(plain.body, json!("Boil the pasta for nine minutes."));

    let none = api
        .post(
            "/api/rag/query",
            json!({ "query": "quantum chromodynamics", "includeMetadata": true }),
        )
        .await;
    assert_eq!(none.body["answer"], "No relevant documents found");
    assert_eq!(none.body["sources"], json!([]));

    for bad in [
        json!({}),
        json!({ "query": "" }),
        json!({ "query": "<b>x</b>" }),
        json!({ "query": "x".repeat(1001) }),
    ] {
        let a = api.post("/api/rag/query", bad.clone()).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(a.error(), "Invalid input format");
    }
}

#[tokio::test]
async fn long_documents_are_chunked_and_joined() {
    let api = TestApi::start().await;
    let para = |i: usize| {
        format!(
            "Section {i}: the zebra protocol handles case {i}. {}",
            "filler ".repeat(100)
        )
    };
    let content = (0..6).map(para).collect::<Vec<_>>().join("\n\n");
    create_doc(&api, "Zebra protocol", &content, &[]).await;
    let a = api
        .post(
            "/api/rag/query",
            json!({ "query": "zebra protocol", "includeMetadata": true }),
        )
        .await;
    let answer = a.body["answer"].as_str().unwrap();
    // Top-5 chunks by default, joined with the cloud's separator; one source document.
    assert_eq!(answer.matches("\n\n---\n\n").count(), 4, "{answer}");
    assert_eq!(a.body["sources"].as_array().unwrap().len(), 1);
}
