//! Bearer auth on every route, and JSON answers for unknown paths and methods.

use crate::common::{TestApi, answer};
use reqwest::{Method, StatusCode};

const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/agents"),
    ("POST", "/api/agents"),
    ("GET", "/api/agents/quota"),
    ("GET", "/api/agents/00000000-0000-4000-8000-000000000000"),
    (
        "POST",
        "/api/agents/00000000-0000-4000-8000-000000000000/heartbeat",
    ),
    ("GET", "/api/documents"),
    ("POST", "/api/documents/ai"),
    ("POST", "/api/documents/search"),
    ("POST", "/api/rag/query"),
    ("GET", "/api/clipboard"),
    ("POST", "/api/clipboard/push"),
    ("POST", "/api/clipboard/pop"),
    ("DELETE", "/api/clipboard"),
    ("GET", "/api/notifications"),
    ("POST", "/api/notifications/custom"),
];

#[tokio::test]
async fn every_route_needs_the_key() {
    let api = TestApi::start().await;
    for (method, path) in ROUTES {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let none = answer(
            api.http
                .request(method.clone(), api.url(path))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(none.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        let expected = if path.starts_with("/api/agents") {
            "Authentication required"
        } else {
            "Authorization header with Bearer token is required"
        };
        assert_eq!(none.error(), expected, "{method} {path}");

        let wrong = answer(
            api.http
                .request(method.clone(), api.url(path))
                .bearer_auth("pg_in_wrong")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(wrong.error(), "Invalid API key");

        // `Bearer` is matched case-sensitively, like the cloud.
        let lower = answer(
            api.http
                .request(method.clone(), api.url(path))
                .header("authorization", format!("bearer {}", api.key()))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(lower.status, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_json() {
    let api = TestApi::start().await;
    let missing = api.get("/api/nothing-here").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.error().contains("/api/nothing-here"));
    // There is no DELETE for documents on Plugged.in either.
    let method = api
        .call(
            Method::DELETE,
            "/api/documents/00000000-0000-4000-8000-000000000000",
            None,
        )
        .await;
    assert_eq!(method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(method.content_type.starts_with("application/json"));
    assert!(method.error().contains("DELETE"));
}

#[tokio::test]
async fn malformed_json_is_a_400_with_a_reason_never_a_panic() {
    let api = TestApi::start().await;
    for path in [
        "/api/agents",
        "/api/clipboard",
        "/api/documents/ai",
        "/api/notifications/custom",
    ] {
        let resp = api
            .http
            .post(api.url(path))
            .bearer_auth(api.key())
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        let a = answer(resp).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(
            a.error().starts_with("Invalid JSON body"),
            "{path}: {}",
            a.error()
        );
    }
    // The server is still up.
    assert_eq!(api.get("/api/agents").await.status, StatusCode::OK);
}

#[tokio::test]
async fn oversized_bodies_are_a_json_413() {
    let api = TestApi::start().await;
    // One byte over the limit every value the API accepts fits in (at worst-case escaping).
    let big = "x".repeat(pluggedin_mcp::vocab::limits::API_MAX_BODY_BYTES);
    let resp = api
        .http
        .post(api.url("/api/clipboard"))
        .bearer_auth(api.key())
        .header("content-type", "application/json")
        .body(format!("{{\"name\":\"n\",\"value\":\"{big}\"}}"))
        .send()
        .await
        .unwrap();
    let a = answer(resp).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(a.error().contains("too large"));
}

#[tokio::test]
async fn a_body_of_too_many_values_is_a_json_413_before_it_is_decoded() {
    let api = TestApi::start().await;
    let limit = pluggedin_mcp::vocab::limits::MAX_LISTING_JSON_VALUES;
    let zeros = vec!["0"; limit + 1].join(",");
    let resp = api
        .http
        .post(api.url("/api/clipboard"))
        .bearer_auth(api.key())
        .header("content-type", "application/json")
        .body(format!(
            "{{\"name\":\"n\",\"value\":\"v\",\"x\":[{zeros}]}}"
        ))
        .send()
        .await
        .unwrap();
    let a = answer(resp).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(a.error().contains(&limit.to_string()), "{}", a.error());
    // Nothing was stored.
    assert_eq!(
        api.get("/api/clipboard?name=n").await.status,
        StatusCode::NOT_FOUND
    );
}
