//! Documents: create, list filters, get, update behind the CSRF gate, versions, search.

use crate::common::{TestApi, answer};
use reqwest::StatusCode;
use serde_json::{Value, json};

pub async fn create_doc(api: &TestApi, title: &str, content: &str, tags: &[&str]) -> String {
    let a = api
        .post(
            "/api/documents/ai",
            json!({
                "title": title, "content": content, "tags": tags, "category": "guide",
                "metadata": { "model": { "name": "claude", "provider": "anthropic" } }
            }),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    a.body["documentId"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn create_validates_fields_by_name() {
    let api = TestApi::start().await;
    let model = json!({ "model": { "name": "m", "provider": "p" } });
    let cases = [
        (json!({ "content": "c", "metadata": model }), "title"),
        (json!({ "title": "t", "metadata": model }), "content"),
        (json!({ "title": "t", "content": "c" }), "metadata.model"),
        (
            json!({ "title": "t", "content": "c", "format": "pdf", "metadata": model }),
            "format",
        ),
        (
            json!({ "title": "t", "content": "c", "category": "memo", "metadata": model }),
            "category",
        ),
        (
            json!({ "title": "t", "content": "c", "tags": "x", "metadata": model }),
            "tags",
        ),
        (
            json!({ "title": "x".repeat(256), "content": "c", "metadata": model }),
            "title",
        ),
    ];
    for (body, field) in cases {
        let a = api.post("/api/documents/ai", body.clone()).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(a.error(), "Invalid request data");
        assert_eq!(a.detail_path(), field, "{body}");
    }
}

#[tokio::test]
async fn create_refuses_a_declared_body_over_10_mib() {
    let api = TestApi::start().await;
    let content = "a".repeat(10 * 1024 * 1024 + 10);
    let body = json!({ "title": "big", "content": content, "metadata": { "model": { "name": "m", "provider": "p" } } });
    let resp = api
        .http
        .post(api.url("/api/documents/ai"))
        .bearer_auth(api.key())
        .json(&body)
        .send()
        .await
        .unwrap();
    let a = answer(resp).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(a.error(), "Request body too large. Maximum size is 10MB");
}

#[tokio::test]
async fn get_list_and_filters() {
    let api = TestApi::start().await;
    let a = create_doc(&api, "Alpha runbook", "first body", &["ops"]).await;
    let b = create_doc(
        &api,
        "Beta notes",
        "second body, longer than the first",
        &["dev"],
    )
    .await;

    let doc = api
        .get(&format!("/api/documents/{a}?includeContent=true"))
        .await;
    assert_eq!(doc.status, StatusCode::OK);
    assert_eq!(doc.body["content"], "first body");
    assert_eq!(doc.body["contentEncoding"], "utf-8");
    assert_eq!(doc.body["version"], 1);
    assert_eq!(doc.body["mimeType"], "text/markdown");
    assert_eq!(doc.body["description"], "AI-generated guide by claude");
    assert_eq!(doc.body["modelAttributions"][0]["modelName"], "claude");
    assert!(doc.body.get("versions").is_none());
    let bad = api
        .get(&format!("/api/documents/{a}?includeContent=yes"))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.detail_path(), "includeContent");
    let missing = api
        .get("/api/documents/11111111-1111-4111-8111-111111111111")
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.error(), "Document not found");

    let all = api.get("/api/documents").await.body;
    assert_eq!(all["total"], 2);
    assert_eq!(all["documents"][0]["id"], b, "newest first");
    assert_eq!(
        all["documents"][0]["modelAttributions"][0]["model_name"],
        "claude"
    );
    let tagged = api.get("/api/documents?tags=ops&tags=none").await.body;
    assert_eq!(tagged["total"], 1);
    assert_eq!(tagged["documents"][0]["id"], a);
    let by_size = api.get("/api/documents?sort=size&limit=1").await.body;
    assert_eq!(by_size["documents"][0]["id"], b);
    assert_eq!(by_size["limit"], 1);
    let page2 = api
        .get("/api/documents?sort=date_asc&limit=1&offset=1")
        .await
        .body;
    assert_eq!(page2["documents"][0]["id"], b);
    let searched = api.get("/api/documents?searchQuery=runbook").await.body;
    assert_eq!(searched["total"], 1);
    let by_model = api
        .get("/api/documents?modelName=claude&modelProvider=anthropic")
        .await
        .body;
    assert_eq!(by_model["total"], 2);
    let future = api
        .get("/api/documents?dateFrom=2999-01-01T00:00:00Z")
        .await
        .body;
    assert_eq!(future["total"], 0);
    for bad in [
        "limit=0",
        "limit=101",
        "limit=x",
        "sort=random",
        "dateFrom=2025-01-01T00:00:00%2B03:00",
        "source=web",
    ] {
        let a = api.get(&format!("/api/documents?{bad}")).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(a.error(), "Invalid query parameters", "{bad}");
    }
}

async fn patch_with(
    api: &TestApi,
    id: &str,
    origin: Option<&str>,
    xrw: bool,
    body: Value,
) -> crate::common::Answer {
    let mut req = api
        .http
        .patch(api.url(&format!("/api/documents/{id}")))
        .bearer_auth(api.key())
        .json(&body);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    if xrw {
        req = req.header("x-requested-with", "XMLHttpRequest");
    }
    answer(req.send().await.unwrap()).await
}

#[tokio::test]
async fn updates_pass_the_csrf_gate_and_write_versions() {
    let api = TestApi::start().await;
    let id = create_doc(&api, "Living doc", "v1 text", &[]).await;
    let own = api.api.base_url().to_string();
    let update = json!({ "operation": "append", "content": "v2 text",
        "metadata": { "changeSummary": "added v2", "model": { "name": "gpt", "provider": "openai" } } });

    let no_origin = patch_with(&api, &id, None, true, update.clone()).await;
    assert_eq!(no_origin.status, StatusCode::FORBIDDEN);
    assert_eq!(no_origin.body["code"], "CSRF_INVALID_ORIGIN");
    let evil = patch_with(&api, &id, Some("http://evil.example"), true, update.clone()).await;
    assert_eq!(evil.status, StatusCode::FORBIDDEN);
    let no_xrw = patch_with(&api, &id, Some(&own), false, update.clone()).await;
    assert_eq!(no_xrw.body["code"], "CSRF_MISSING_HEADER");

    let ok = patch_with(&api, &id, Some(&own), true, update).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    assert_eq!(ok.body["version"], 2);
    let prepend = patch_with(
        &api,
        &id,
        Some("https://plugged.in"),
        true,
        json!({ "operation": "prepend", "content": "v0 header" }),
    )
    .await;
    assert_eq!(prepend.body["version"], 3);
    let content = api
        .get(&format!(
            "/api/documents/{id}?includeContent=true&includeVersions=true"
        ))
        .await
        .body;
    assert_eq!(content["content"], "v0 header\n\nv1 text\n\nv2 text");
    assert_eq!(content["version"], 3);
    // Like Plugged.in: rows only for updates, so the first is version 2.
    let versions = content["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["versionNumber"], 3);
    assert_eq!(versions[0]["changeSummary"], "prepend operation by Unknown");
    assert_eq!(versions[1]["changeSummary"], "added v2");
    assert_eq!(versions[1]["contentDiff"]["additions"], 2);
    assert_eq!(
        content["modelAttributions"][1]["contributionType"],
        "updated"
    );

    let list = api.get(&format!("/api/documents/{id}/versions")).await.body;
    assert_eq!(list["success"], true);
    assert_eq!(list["versions"][0]["isCurrent"], true);
    assert_eq!(list["versions"][1]["versionNumber"], 2);
    let v1 = api.get(&format!("/api/documents/{id}/versions/1")).await;
    assert_eq!(v1.status, StatusCode::NOT_FOUND);
    let v2 = api
        .get(&format!("/api/documents/{id}/versions/2"))
        .await
        .body;
    assert_eq!(v2["content"], "v1 text\n\nv2 text");
    let none = api.get(&format!("/api/documents/{id}/versions/9")).await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    assert_eq!(none.error(), "Version not found");
    let bad = api.get(&format!("/api/documents/{id}/versions/0")).await;
    assert_eq!(bad.error(), "Version number must be a positive integer");

    let replace = patch_with(
        &api,
        &id,
        Some(&own),
        true,
        json!({ "operation": "replace", "content": "fresh" }),
    )
    .await;
    assert_eq!(replace.body["version"], 4);
    for (body, field) in [
        (json!({ "operation": "merge", "content": "x" }), "operation"),
        (json!({ "operation": "replace", "content": "" }), "content"),
        (
            json!({ "operation": "replace", "content": "a\u{0000}b" }),
            "content",
        ),
        (
            json!({ "operation": "replace", "content": "x", "metadata": { "changeSummary": "no model" } }),
            "metadata.model",
        ),
    ] {
        let a = patch_with(&api, &id, Some(&own), true, body.clone()).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(a.detail_path(), field);
    }
    let unknown = patch_with(
        &api,
        "11111111-1111-4111-8111-111111111111",
        Some(&own),
        true,
        json!({ "operation": "replace", "content": "x" }),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.error(), "Document not found or access denied");
}

#[tokio::test]
async fn search_covers_content_and_ranks_title_matches_first() {
    let api = TestApi::start().await;
    let body_only = create_doc(
        &api,
        "Operations manual",
        "The kubernetes drain timeout defaults to 300 seconds.",
        &["ops"],
    )
    .await;
    let titled = create_doc(&api, "Kubernetes primer", "An introduction.", &[]).await;
    create_doc(&api, "Cooking", "Pasta recipes.", &[]).await;

    let found = api
        .post("/api/documents/search", json!({ "query": "kubernetes" }))
        .await;
    assert_eq!(found.status, StatusCode::OK, "{:?}", found.body);
    let ids: Vec<&str> = found.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [titled.as_str(), body_only.as_str()]);
    assert_eq!(found.body["total"], 2);
    assert_eq!(found.body["hasMore"], false);
    let snippet = found.body["results"][1]["snippet"].as_str().unwrap();
    assert!(snippet.to_lowercase().contains("kubernetes"), "{snippet}");

    let paged = api
        .post(
            "/api/documents/search",
            json!({ "query": "kubernetes", "limit": 1 }),
        )
        .await
        .body;
    assert_eq!(paged["hasMore"], true);
    let filtered = api
        .post(
            "/api/documents/search",
            json!({ "query": "kubernetes", "filters": { "tags": ["ops"] } }),
        )
        .await
        .body;
    assert_eq!(filtered["total"], 1);
    let stemmed = api
        .post("/api/documents/search", json!({ "query": "draining" }))
        .await
        .body;
    assert_eq!(
        stemmed["results"][0]["id"], body_only,
        "porter stemming matches drain/draining"
    );
    let nothing = api
        .post("/api/documents/search", json!({ "query": "zebra" }))
        .await
        .body;
    assert_eq!(nothing["total"], 0);

    for (body, expected) in [
        (json!({ "query": "" }), "Invalid request data"),
        (
            json!({ "query": "((((((((((x" }),
            "Query contains too many special characters",
        ),
        (json!({ "query": "x", "limit": 51 }), "Invalid request data"),
        (json!({ "query": 5 }), "Invalid request data"),
    ] {
        let a = api.post("/api/documents/search", body.clone()).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(a.error(), expected);
    }
    // FTS syntax in user text is just text.
    let syntax = api
        .post("/api/documents/search", json!({ "query": "NEAR(\"a\" OR" }))
        .await;
    assert_eq!(syntax.status, StatusCode::OK);
}

#[tokio::test]
async fn creating_a_document_notifies() {
    let api = TestApi::start().await;
    create_doc(&api, "Notify me", "x", &[]).await;
    let n = api.get("/api/notifications").await.body;
    assert_eq!(n["notifications"][0]["type"], "document_created_ai");
    assert_eq!(
        n["notifications"][0]["message"],
        "claude created \"Notify me\""
    );
}
