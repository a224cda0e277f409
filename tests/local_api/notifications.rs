//! Notifications: create, list, read, toggle completed, delete.

use crate::common::TestApi;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn notification_lifecycle() {
    let api = TestApi::start().await;
    let bad = api
        .post("/api/notifications/custom", json!({ "message": "" }))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.detail_path(), "message");
    let bad_sev = api
        .post(
            "/api/notifications/custom",
            json!({ "message": "m", "severity": "LOUD" }),
        )
        .await;
    assert_eq!(bad_sev.detail_path(), "severity");

    let created = api
        .post(
            "/api/notifications/custom",
            json!({ "title": "Deploy", "message": "agent up", "severity": "ALERT" }),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK);
    assert_eq!(created.body["message"], "Notification created successfully");
    let id = created.body["notificationId"].as_str().unwrap().to_string();
    let mailed = api
        .post(
            "/api/notifications/custom",
            json!({ "message": "second", "sendEmail": true }),
        )
        .await;
    assert_eq!(mailed.body["emailSent"], false);

    let list = api.get("/api/notifications").await.body;
    assert_eq!(list["success"], true);
    let rows = list["notifications"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let mine = rows.iter().find(|n| n["id"] == id.as_str()).unwrap();
    assert_eq!(mine["type"], "CUSTOM");
    assert_eq!(mine["severity"], "ALERT");
    assert_eq!(mine["metadata"]["task"]["priority"], "high");
    assert_eq!(mine["read"], false);
    assert!(mine["expires_at"].is_string());
    let second = rows.iter().find(|n| n["message"] == "second").unwrap();
    assert_eq!(second["title"], "Custom notification");

    let read = api
        .patch(&format!("/api/notifications/{id}/read"), json!({}))
        .await;
    assert_eq!(read.body["message"], "Notification marked as read");
    let unread = api.get("/api/notifications?onlyUnread=true").await.body;
    assert_eq!(unread["notifications"].as_array().unwrap().len(), 1);
    let limited = api.get("/api/notifications?limit=1").await.body;
    assert_eq!(limited["notifications"].as_array().unwrap().len(), 1);
    assert_eq!(
        api.get("/api/notifications?limit=101").await.status,
        StatusCode::BAD_REQUEST
    );

    let toggle = format!("/api/notifications/{id}/completed");
    api.patch(&toggle, json!({})).await;
    let done = api.get("/api/notifications").await.body;
    assert_eq!(
        done["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["id"] == id.as_str())
            .unwrap()["completed"],
        true
    );
    api.patch(&toggle, json!({})).await;
    let undone = api.get("/api/notifications").await.body;
    assert_eq!(
        undone["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["id"] == id.as_str())
            .unwrap()["completed"],
        false
    );

    let deleted = api.delete(&format!("/api/notifications/{id}"), None).await;
    assert_eq!(deleted.body["message"], "Notification deleted successfully");
    let missing = api
        .patch(&format!("/api/notifications/{id}/read"), json!({}))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.error(), "Notification not found or not accessible");
    let invalid = api.delete("/api/notifications/../agents", None).await;
    assert!(invalid.status.is_client_error());
    let not_uuid = api
        .patch("/api/notifications/abc/completed", json!({}))
        .await;
    assert_eq!(not_uuid.status, StatusCode::BAD_REQUEST);
    assert!(
        not_uuid
            .error()
            .starts_with("Invalid notification ID format")
    );
}
