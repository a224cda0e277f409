//! Clipboard: named entries, the indexed stack, limits, encodings, expiry and concurrency.

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use crate::common::TestApi;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn named_entries_upsert_and_keep_their_uuid() {
    let api = TestApi::start().await;
    let first = api
        .post(
            "/api/clipboard",
            json!({ "name": "plan", "value": "v1", "source": "mcp" }),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body["success"], true);
    let entry = &first.body["entry"];
    assert_eq!(entry["sizeBytes"], 2);
    assert_eq!(entry["contentType"], "text/plain");
    assert_eq!(entry["encoding"], "utf-8");
    assert_eq!(entry["source"], "mcp");
    assert!(entry["idx"].is_null());
    assert!(entry["expiresAt"].is_string(), "24 h default TTL");

    let second = api
        .post(
            "/api/clipboard",
            json!({ "name": "plan", "value": "v2 longer" }),
        )
        .await;
    assert_eq!(second.body["entry"]["uuid"], entry["uuid"]);
    assert_eq!(second.body["entry"]["createdAt"], entry["createdAt"]);
    assert_eq!(second.body["entry"]["value"], "v2 longer");
    assert_eq!(
        second.body["entry"]["source"], "ui",
        "upsert rewrites source"
    );

    let got = api.get("/api/clipboard?name=plan").await;
    assert_eq!(got.body["entry"]["value"], "v2 longer");
    assert!(
        got.body.get("success").is_none(),
        "single reads have no success field"
    );
    let missing = api.get("/api/clipboard?name=none").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.error(), "Clipboard entry not found");
    // Plugged.in takes an empty name but then cannot read it back (`?name=` lists): refused.
    let empty = api
        .post("/api/clipboard", json!({ "name": "", "value": "x" }))
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert_eq!(empty.detail_path(), "name");
    assert!(
        empty.body["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("1 to 255"),
        "{:?}",
        empty.body
    );
}

#[tokio::test]
async fn set_rules_and_limits() {
    let api = TestApi::start().await;
    let cases = [
        (
            json!({ "value": "x" }),
            StatusCode::BAD_REQUEST,
            "Invalid request body",
        ),
        (
            json!({ "name": "a", "idx": 1, "value": "x" }),
            StatusCode::BAD_REQUEST,
            "Invalid request body",
        ),
        (
            json!({ "name": "a" }),
            StatusCode::BAD_REQUEST,
            "Invalid request body",
        ),
        (
            json!({ "name": "a", "value": "x", "ttlSeconds": 0 }),
            StatusCode::BAD_REQUEST,
            "Invalid request body",
        ),
        (
            json!({ "name": "a", "value": "x", "idx": "one" }),
            StatusCode::BAD_REQUEST,
            "Invalid request body",
        ),
        (
            json!({ "name": "a", "value": "x", "visibility": "shared" }),
            StatusCode::BAD_REQUEST,
            "Invalid request body",
        ),
        (
            json!({ "name": "a", "value": "x", "source": "cli" }),
            StatusCode::BAD_REQUEST,
            "Invalid request body",
        ),
        (
            json!({ "name": "a", "value": "abc", "encoding": "base64" }),
            StatusCode::BAD_REQUEST,
            "Invalid base64 encoding: incorrect padding",
        ),
        (
            json!({ "name": "a", "value": "xyz", "encoding": "hex" }),
            StatusCode::BAD_REQUEST,
            "Invalid hex encoding: contains non-hexadecimal characters",
        ),
        (
            json!({ "name": "a", "value": "abc", "encoding": "hex" }),
            StatusCode::BAD_REQUEST,
            "Invalid hex encoding: odd number of characters",
        ),
        (
            json!({ "name": "a", "value": "x".repeat(2 * 1024 * 1024 + 1) }),
            StatusCode::BAD_REQUEST,
            "Value exceeds maximum size of 2097152 bytes (2048KB)",
        ),
    ];
    for (body, status, expected) in cases {
        let a = api.post("/api/clipboard", body.clone()).await;
        assert_eq!(a.status, status, "{}", a.error());
        assert_eq!(a.error(), expected);
    }
    let both = api
        .post(
            "/api/clipboard",
            json!({ "name": "a", "idx": 1, "value": "x" }),
        )
        .await;
    assert!(
        both.body["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not both")
    );
    let typed = api
        .post(
            "/api/clipboard",
            json!({ "name": "a", "value": "x", "idx": "one" }),
        )
        .await;
    assert_eq!(typed.detail_path(), "idx");

    // Exactly 2 MiB fits; a valid base64 image is stored as sent.
    let max = api
        .post(
            "/api/clipboard",
            json!({ "name": "max", "value": "x".repeat(2 * 1024 * 1024) }),
        )
        .await;
    assert_eq!(max.status, StatusCode::OK);
    let png = api
        .post("/api/clipboard", json!({ "name": "img", "value": "iVBORw0KGgo=", "encoding": "base64", "contentType": "image/png" }))
        .await;
    assert_eq!(png.status, StatusCode::OK);

    let at = api
        .post("/api/clipboard", json!({ "idx": 7, "value": "seven" }))
        .await;
    assert_eq!(at.body["entry"]["idx"], 7);
    let clash = api
        .post("/api/clipboard", json!({ "idx": 7, "value": "again" }))
        .await;
    assert_eq!(clash.status, StatusCode::CONFLICT);
    assert_eq!(
        clash.error(),
        "Conflict with existing entry. Use push for auto-increment or delete first."
    );
}

#[tokio::test]
async fn list_pages_and_filters() {
    let api = TestApi::start().await;
    for i in 0..5 {
        api.post(
            "/api/clipboard",
            json!({ "name": format!("k{i}"), "value": format!("v{i}") }),
        )
        .await;
    }
    api.post("/api/clipboard", json!({ "name": "pic", "value": "A".repeat(2000), "contentType": "image/png", "encoding": "base64" })).await;
    let all = api.get("/api/clipboard?limit=2&offset=1").await.body;
    assert_eq!(all["total"], 6);
    assert_eq!(all["entries"].as_array().unwrap().len(), 2);
    assert_eq!(
        all["entries"][0]["name"], "k4",
        "newest first, after the offset"
    );
    let pics = api.get("/api/clipboard?contentType=image/png").await.body;
    assert_eq!(pics["total"], 1);
    assert_eq!(
        pics["entries"][0]["value"].as_str().unwrap().len(),
        1000,
        "image values are cut in lists"
    );
    let full = api.get("/api/clipboard?name=pic").await.body;
    assert_eq!(full["entry"]["value"].as_str().unwrap().len(), 2000);
    for bad in ["limit=0", "limit=1001", "idx=x", "offset=-1"] {
        let a = api.get(&format!("/api/clipboard?{bad}")).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(a.error(), "Invalid parameters");
    }
}

#[tokio::test]
async fn push_pop_and_delete() {
    let api = TestApi::start().await;
    let empty = api.post("/api/clipboard/pop", json!({})).await;
    assert_eq!(empty.status, StatusCode::NOT_FOUND);
    assert_eq!(empty.error(), "No indexed entries to pop");

    api.post("/api/clipboard", json!({ "idx": 5, "value": "five" }))
        .await;
    let pushed = api
        .post(
            "/api/clipboard/push",
            json!({ "value": "six", "createdByModel": "m" }),
        )
        .await;
    assert_eq!(pushed.body["entry"]["idx"], 6, "push = max idx + 1");
    let popped = api.post("/api/clipboard/pop", json!({})).await;
    assert_eq!(popped.body["entry"]["value"], "six");
    assert!(
        popped.body["entry"].get("source").is_none(),
        "pop answers omit source"
    );
    let by_idx = api.get("/api/clipboard?idx=5").await;
    assert_eq!(by_idx.body["entry"]["value"], "five");

    api.post("/api/clipboard", json!({ "name": "keep", "value": "k" }))
        .await;
    let none = api.delete("/api/clipboard", Some(json!({}))).await;
    assert_eq!(none.error(), "Invalid request body");
    let gone = api
        .delete("/api/clipboard", Some(json!({ "idx": 5 })))
        .await;
    assert_eq!(gone.body["deleted"], 1);
    let again = api
        .delete("/api/clipboard", Some(json!({ "idx": 5 })))
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let named = api
        .delete("/api/clipboard", Some(json!({ "name": "keep" })))
        .await;
    assert_eq!(named.body["deleted"], 1);
    api.post("/api/clipboard/push", json!({ "value": "a" }))
        .await;
    api.post("/api/clipboard/push", json!({ "value": "b" }))
        .await;
    let cleared = api
        .delete("/api/clipboard", Some(json!({ "clearAll": true })))
        .await;
    assert_eq!(cleared.body["deleted"], 2);
    let cleared_empty = api
        .delete("/api/clipboard", Some(json!({ "clearAll": true })))
        .await;
    assert_eq!(cleared_empty.status, StatusCode::OK);
    assert_eq!(cleared_empty.body["deleted"], 0);
}

#[tokio::test]
async fn expired_entries_are_never_returned() {
    let api = TestApi::start().await;
    api.post(
        "/api/clipboard",
        json!({ "name": "short", "value": "x", "ttlSeconds": 60 }),
    )
    .await;
    api.post(
        "/api/clipboard/push",
        json!({ "value": "soon gone", "ttlSeconds": 60 }),
    )
    .await;
    api.post(
        "/api/clipboard",
        json!({ "name": "long", "value": "y", "ttlSeconds": 3600 }),
    )
    .await;
    api.clock.advance(Duration::from_secs(61));
    assert_eq!(
        api.get("/api/clipboard?name=short").await.status,
        StatusCode::NOT_FOUND
    );
    let list = api.get("/api/clipboard").await.body;
    assert_eq!(list["total"], 1);
    assert_eq!(list["entries"][0]["name"], "long");
    assert_eq!(
        api.post("/api/clipboard/pop", json!({})).await.status,
        StatusCode::NOT_FOUND
    );
    // Re-setting an expired name makes a fresh entry.
    let fresh = api
        .post("/api/clipboard", json!({ "name": "short", "value": "new" }))
        .await;
    assert_eq!(fresh.body["entry"]["value"], "new");
}

#[tokio::test]
async fn fifty_concurrent_pushes_then_fifty_concurrent_pops() {
    let api = Arc::new(TestApi::start().await);
    let pushes = (0..50).map(|i| {
        let api = api.clone();
        tokio::spawn(async move {
            let a = api
                .post(
                    "/api/clipboard/push",
                    json!({ "value": format!("item-{i}") }),
                )
                .await;
            assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
            a.body["entry"]["idx"].as_i64().unwrap()
        })
    });
    let mut indices = Vec::new();
    for h in pushes {
        indices.push(h.await.unwrap());
    }
    indices.sort_unstable();
    assert_eq!(
        indices,
        (0..50).collect::<Vec<i64>>(),
        "50 distinct consecutive indices"
    );

    let pops = (0..50).map(|_| {
        let api = api.clone();
        tokio::spawn(async move {
            let a = api.post("/api/clipboard/pop", json!({})).await;
            assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
            a.body["entry"]["value"].as_str().unwrap().to_string()
        })
    });
    let mut values = BTreeSet::new();
    for h in pops {
        assert!(values.insert(h.await.unwrap()), "a value was popped twice");
    }
    assert_eq!(values.len(), 50);
    assert_eq!(
        api.post("/api/clipboard/pop", Value::Null).await.status,
        StatusCode::NOT_FOUND
    );
}
