//! Document, RAG, clipboard and notification tools end to end in local mode.

use crate::common::mcp::{start_local, text_of};
use rmcp::model::ContentBlock;
use serde_json::json;

#[tokio::test]
async fn document_and_rag_tools() {
    let dir = tempfile::tempdir().unwrap();
    let mcp = start_local(dir.path()).await;

    let created = mcp
        .ok(
            "create_doc",
            json!({
                "title": "Drain procedure", "category": "guide", "tags": ["ops"],
                "content": "To drain an agent, call shutdown.\n\nThe drain timeout defaults to 300 seconds.",
                "model_name": "claude-test", "model_provider": "anthropic"
            }),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["version"], 1);
    let other = mcp
        .ok(
            "create_doc",
            json!({ "title": "Lunch", "content": "Soup on Mondays." }),
        )
        .await;

    let listed = mcp.ok("list_docs", json!({ "tags": ["ops"] })).await;
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["documents"][0]["id"], id);
    let all = mcp.call("list_docs", json!({ "limit": 1 })).await;
    let structured = all.structured_content.clone().unwrap();
    assert_eq!(structured["total"], 2);
    assert_eq!(structured["has_more"], true);
    let links: Vec<String> = all
        .content
        .iter()
        .filter_map(|c| match c {
            ContentBlock::ResourceLink(r) => Some(r.uri.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(links.len(), 1, "one resource link per listed document");
    assert!(links[0].starts_with("pluggedin://docs/"));

    let found = mcp
        .ok("search_docs", json!({ "query": "drain timeout" }))
        .await;
    assert_eq!(found["results"][0]["id"], id);
    assert!(
        found["results"][0]["snippet"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("drain")
    );
    let bad = mcp.err("search_docs", json!({ "query": "" })).await;
    assert!(bad.contains("`query`"), "{bad}");

    let doc = mcp.ok("get_doc", json!({ "id": id })).await;
    assert_eq!(doc["title"], "Drain procedure");
    assert!(doc["content"].as_str().unwrap().starts_with("To drain"));
    assert_eq!(doc["attributions"][0], "claude-test (anthropic): created");
    assert!(doc.get("next_offset").is_none());

    let updated = mcp
        .ok("update_doc", json!({ "id": id, "operation": "append", "content": "Then report TERMINATED.", "change_summary": "added last step" }))
        .await;
    assert_eq!(updated["version"], 2);
    let with_versions = mcp
        .ok(
            "get_doc",
            json!({ "id": id, "versions": true, "content": false }),
        )
        .await;
    assert!(with_versions.get("content").is_none());
    assert_eq!(with_versions["versions"][0]["version"], 2);
    assert_eq!(
        with_versions["versions"][0]["change_summary"],
        "added last step"
    );
    assert!(
        with_versions["versions"][0]["model"]
            .as_str()
            .unwrap()
            .contains("via pluggedin-mcp"),
        "default attribution names this server"
    );
    // As on Plugged.in, versions start with the first update; the hint says so.
    let v2 = mcp.ok("get_doc", json!({ "id": id, "version": 2 })).await;
    assert_eq!(v2["content_version"], 2);
    assert!(v2["content"].as_str().unwrap().contains("TERMINATED"));
    let v1 = mcp.err("get_doc", json!({ "id": id, "version": 1 })).await;
    assert!(v1.contains("version 2"), "{v1}");
    let paged = mcp
        .ok("get_doc", json!({ "id": id, "max_chars": 10 }))
        .await;
    assert_eq!(paged["content"], "To drain a");
    assert_eq!(paged["next_offset"], 10);
    let rest = mcp.ok("get_doc", json!({ "id": id, "offset": 10 })).await;
    assert!(rest["content"].as_str().unwrap().ends_with("TERMINATED."));

    let not_uuid = mcp.err("get_doc", json!({ "id": "nope" })).await;
    assert!(not_uuid.contains("`id`"), "{not_uuid}");
    let missing = mcp
        .err(
            "get_doc",
            json!({ "id": "11111111-1111-4111-8111-111111111111" }),
        )
        .await;
    assert!(
        missing.contains("404") && missing.contains("search_docs"),
        "{missing}"
    );
    let no_title = mcp
        .err("create_doc", json!({ "title": " ", "content": "x" }))
        .await;
    assert!(no_title.contains("`title`"), "{no_title}");

    let answer = mcp
        .ok(
            "rag_ask",
            json!({ "query": "What is the default drain timeout?" }),
        )
        .await;
    assert!(answer["answer"].as_str().unwrap().contains("300 seconds"));
    // The argument's former name still works.
    let again = mcp
        .ok(
            "rag_ask",
            json!({ "question": "What is the default drain timeout?" }),
        )
        .await;
    assert_eq!(again["sources"], answer["sources"]);
    assert_eq!(answer["sources"][0]["id"], id);
    assert_eq!(answer["sources"][0]["title"], "Drain procedure");
    assert_ne!(answer["sources"][0]["id"], other["id"]);
    let invalid = mcp.err("rag_ask", json!({ "query": "<script>" })).await;
    assert!(invalid.contains("`query`"), "{invalid}");
    // A missing argument is said as a model needs it: which, and what it is.
    let missing = mcp.err("rag_ask", json!({})).await;
    assert_eq!(missing, "`query` is required: A question in plain words");
    mcp.close().await;
}

#[tokio::test]
async fn clipboard_tools() {
    let dir = tempfile::tempdir().unwrap();
    let mcp = start_local(dir.path()).await;

    let set = mcp
        .ok(
            "clipboard_set",
            json!({ "name": "plan", "value": "step 1" }),
        )
        .await;
    assert_eq!(set["name"], "plan");
    assert_eq!(set["size_bytes"], 6);
    let got = mcp.ok("clipboard_get", json!({ "name": "plan" })).await;
    assert_eq!(got["value"], "step 1");
    assert!(
        got["created_by_model"].as_str().is_some(),
        "writes carry the client's name"
    );

    let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
    mcp.ok(
        "clipboard_set",
        json!({ "name": "pic", "value": png, "content_type": "image/png", "encoding": "base64" }),
    )
    .await;
    let image = mcp.call("clipboard_get", json!({ "name": "pic" })).await;
    let block = image
        .content
        .iter()
        .find_map(|c| c.as_image())
        .expect("an image block");
    assert_eq!(block.data, png);
    assert_eq!(block.mime_type, "image/png");
    assert!(
        image.structured_content.unwrap().get("value").is_none(),
        "no second copy of the image"
    );
    let not_b64 = mcp
        .err(
            "clipboard_set",
            json!({ "name": "pic2", "value": "x", "content_type": "image/png" }),
        )
        .await;
    assert!(not_b64.contains("`encoding`"), "{not_b64}");

    let first = mcp.ok("clipboard_push", json!({ "value": "a" })).await;
    let second = mcp.ok("clipboard_push", json!({ "value": "b" })).await;
    assert_eq!(
        second["idx"].as_i64().unwrap(),
        first["idx"].as_i64().unwrap() + 1
    );
    let listed = mcp.ok("clipboard_list", json!({ "limit": 2 })).await;
    assert_eq!(listed["total"], 4);
    assert_eq!(listed["has_more"], true);
    let pics = mcp
        .ok("clipboard_list", json!({ "content_type": "image/png" }))
        .await;
    assert!(pics["entries"][0].get("preview").is_none());
    let popped = mcp.ok("clipboard_pop", json!({})).await;
    assert_eq!(popped["entry"]["value"], "b");
    assert_eq!(popped["empty"], false);
    let by_idx = mcp
        .ok("clipboard_get", json!({ "idx": first["idx"] }))
        .await;
    assert_eq!(by_idx["value"], "a");
    mcp.ok("clipboard_pop", json!({})).await;
    let empty = mcp.ok("clipboard_pop", json!({})).await;
    assert_eq!(empty["empty"], true);

    let clash = mcp
        .ok("clipboard_set", json!({ "idx": 40, "value": "x" }))
        .await;
    assert_eq!(clash["idx"], 40);
    let conflict = mcp
        .err("clipboard_set", json!({ "idx": 40, "value": "y" }))
        .await;
    assert!(
        conflict.contains("409") && conflict.contains("clipboard_push"),
        "{conflict}"
    );
    let both = mcp
        .err(
            "clipboard_set",
            json!({ "name": "a", "idx": 1, "value": "y" }),
        )
        .await;
    assert!(both.contains("not both"), "{both}");
    let huge = mcp
        .err(
            "clipboard_set",
            json!({ "name": "big", "value": "x".repeat(2 * 1024 * 1024 + 1) }),
        )
        .await;
    assert!(huge.contains("`value`") && huge.contains("2 MiB"), "{huge}");
    let missing = mcp.err("clipboard_get", json!({ "name": "nothing" })).await;
    assert!(missing.contains("404"), "{missing}");

    assert_eq!(
        mcp.ok("clipboard_delete", json!({ "name": "plan" })).await["deleted"],
        1
    );
    assert_eq!(
        mcp.ok("clipboard_delete", json!({ "name": "plan" })).await["deleted"],
        0
    );
    let everything = mcp.ok("clipboard_delete", json!({ "all": true })).await;
    assert_eq!(everything["deleted"], 2);
    let confused = mcp
        .err("clipboard_delete", json!({ "all": true, "name": "x" }))
        .await;
    assert!(confused.contains("`all`"), "{confused}");
    mcp.close().await;
}

#[tokio::test]
async fn notification_tools() {
    let dir = tempfile::tempdir().unwrap();
    let mcp = start_local(dir.path()).await;
    let sent = mcp
        .ok(
            "send_notification",
            json!({ "title": "Build", "message": "green", "severity": "SUCCESS" }),
        )
        .await;
    let id = sent["id"].as_str().unwrap().to_string();
    let listed = mcp
        .ok("list_notifications", json!({ "only_unread": true }))
        .await;
    assert_eq!(listed["notifications"][0]["id"], id);
    assert_eq!(listed["notifications"][0]["severity"], "SUCCESS");

    let done = mcp.ok("complete_notification", json!({ "id": id })).await;
    assert!(done["message"].as_str().unwrap().contains("toggled"));
    let again = mcp.ok("complete_notification", json!({ "id": id })).await;
    assert_eq!(
        again["message"], "already completed",
        "repeating does not reopen it"
    );
    let after = mcp.ok("list_notifications", json!({})).await;
    assert_eq!(after["notifications"][0]["completed"], true);
    assert_eq!(after["notifications"][0]["read"], true);
    let unread = mcp
        .ok("list_notifications", json!({ "only_unread": true }))
        .await;
    assert_eq!(unread["notifications"], json!([]));

    mcp.ok("delete_notification", json!({ "id": id })).await;
    // Gone (or too old to see): refused, never toggled blind.
    let gone = mcp.err("complete_notification", json!({ "id": id })).await;
    assert!(gone.contains("not among the 100 most recent"), "{gone}");
    let bad = mcp
        .err("delete_notification", json!({ "id": "../x" }))
        .await;
    assert!(bad.contains("`id`"), "{bad}");
    let empty = mcp
        .call("send_notification", json!({ "message": " " }))
        .await;
    assert!(text_of(&empty).contains("`message`"));
    mcp.close().await;
}
