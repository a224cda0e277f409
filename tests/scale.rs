//! At scale (10,000 clipboard entries, 2,000 documents) lists and resources stay paginated:
//! no answer grows with the data. Timings and memory are the bench's job (benches/perf.rs).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step should stop the test at once, with its message"
)]
mod common;

use common::{TestApi, mcp::start};
use serde_json::json;

#[tokio::test]
async fn lists_and_resources_stay_paged_with_lots_of_data() {
    let api = TestApi::start().await;
    // 10,000 clipboard entries straight into the store, in one transaction.
    let now = api.clock.now_iso();
    api.api
        .store()
        .write(move |tx| {
            let mut stmt = tx.prepare(
                "INSERT INTO clipboard (uuid, name, idx, value, content_type, encoding, size_bytes, visibility, source, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, 'text/plain', 'utf-8', 8, 'private', 'sdk', ?5, ?5)",
            )?;
            for i in 0..10_000i64 {
                let (name, idx) = if i % 2 == 0 { (Some(format!("entry-{i:05}")), None) } else { (None, Some(i)) };
                stmt.execute(rusqlite::params![uuid::Uuid::new_v4().to_string(), name, idx, format!("value {i}"), now])?;
            }
            Ok(())
        })
        .await
        .unwrap();
    // 2,000 documents through the API, so the full-text and RAG indexes are built as usual.
    let api = std::sync::Arc::new(api);
    let writers = (0..8).map(|w| {
        let api = api.clone();
        tokio::spawn(async move {
            for i in (w..2000).step_by(8) {
                let a = api
                    .post("/api/documents/ai", json!({ "title": format!("Report {i:04}"),
                        "content": format!("Quarterly figures for unit {i}. Revenue grew; see appendix {i}."),
                        "metadata": { "model": { "name": "m", "provider": "p" } } }))
                    .await;
                assert!(a.status.is_success());
            }
        })
    });
    for w in writers {
        w.await.unwrap();
    }

    let key = api.key().to_string();
    let mcp = start(
        &[],
        &[
            ("PLUGGEDIN_API_KEY", &key),
            ("PLUGGEDIN_API_BASE_URL", api.api.base_url()),
        ],
    )
    .await;
    let clip = mcp.ok("clipboard_list", json!({})).await;
    assert_eq!(clip["total"], 10_000);
    assert_eq!(
        clip["entries"].as_array().unwrap().len(),
        50,
        "default page"
    );
    let max = mcp
        .ok("clipboard_list", json!({ "limit": 100, "offset": 9_950 }))
        .await;
    assert_eq!(max["entries"].as_array().unwrap().len(), 50);
    assert_eq!(max["has_more"], false);
    let too_many = mcp.err("clipboard_list", json!({ "limit": 1000 })).await;
    assert!(too_many.contains("`limit`"));

    let docs = mcp.ok("list_docs", json!({})).await;
    assert_eq!(docs["total"], 2_000);
    assert_eq!(docs["documents"].as_array().unwrap().len(), 20);
    let found = mcp
        .ok("search_docs", json!({ "query": "appendix 1234" }))
        .await;
    assert_eq!(
        found["results"][0]["title"], "Report 1234",
        "the best match ranks first"
    );
    assert!(found["results"].as_array().unwrap().len() <= 10);

    // resources/list: every page bounded, cursors walk everything.
    let mut cursor = None;
    let mut pages = 0;
    let mut total = 0;
    loop {
        let params =
            cursor.map(|c| rmcp::model::PaginatedRequestParams::default().with_cursor(Some(c)));
        let page = mcp.client.list_resources(params).await.unwrap();
        assert!(
            page.resources.len() <= 50,
            "page {pages} has {}",
            page.resources.len()
        );
        total += page.resources.len();
        pages += 1;
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(
        total,
        2_000 + 5_000,
        "documents and named entries (stack entries are not resources)"
    );
    assert!(pages >= 140, "{pages} pages");
    mcp.close().await;
}
