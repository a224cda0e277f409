//! The device sign-in (`/api/cli/auth/*`) as the real app answered it, recorded apart from
//! the walk (approving needs a browser session there, so the recording set each code's
//! state in the database as the approve and deny routes do): `pluggedin-mcp login` reads
//! every answer as meant, and the embedded API answers the same requests with the same
//! status and fields.

use std::time::Duration;

use pluggedin_mcp::api::device_flow::{Initiated, Poll, poll_answer};
use serde_json::Value;

use crate::{common::TestApi, fixtures, scenario::Exchange};

pub const RECORDED: &[&str] = &[
    "cli_auth_initiate",
    "cli_auth_poll_pending",
    "cli_auth_poll_approved",
    "cli_auth_poll_collected",
    "cli_auth_poll_denied",
    "cli_auth_poll_expired",
    "cli_auth_poll_invalid",
    "cli_auth_poll_unknown",
];

fn recorded(name: &str) -> Exchange {
    fixtures::all()
        .into_iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("{name} is recorded"))
}

fn read(e: &Exchange) -> anyhow::Result<Poll> {
    poll_answer(
        e.status,
        serde_json::to_vec(&e.body).unwrap().as_slice(),
        Duration::from_secs(5),
    )
}

#[test]
fn login_reads_every_answer_of_the_real_app_as_meant() {
    let initiated: Initiated = serde_json::from_value(recorded("cli_auth_initiate").body).unwrap();
    assert_eq!((initiated.expires_in, initiated.interval), (300, 5));
    assert!(initiated.verification_url.contains("/cli/authorize?code="));
    assert!(matches!(
        read(&recorded("cli_auth_poll_pending")),
        Ok(Poll::Pending)
    ));
    assert!(matches!(
        read(&recorded("cli_auth_poll_approved")),
        Ok(Poll::Approved(_))
    ));
    for (name, says) in [
        ("cli_auth_poll_collected", "already collected"),
        ("cli_auth_poll_denied", "denied"),
        ("cli_auth_poll_expired", "expired"),
        ("cli_auth_poll_invalid", "400"),
        ("cli_auth_poll_unknown", "404"),
    ] {
        let error = read(&recorded(name)).expect_err(name).to_string();
        assert!(error.contains(says), "{name}: {error}");
    }
}

/// The fields of an answer, as a sorted list (values differ: codes, times).
fn fields(body: &Value) -> Vec<String> {
    let mut keys: Vec<String> = body
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

#[tokio::test]
async fn the_embedded_api_answers_like_the_real_app() {
    let api = TestApi::start().await;
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        async move {
            let resp = http.get(path).send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap())
        }
    };
    let initiate = || async {
        let resp = http
            .post(api.url("/api/cli/auth/initiate"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.json::<Value>().await.unwrap()
    };
    let decide = |user_code: String, decision: &'static str| {
        let http = http.clone();
        let url = api.url(&format!("/api/cli/auth/{decision}"));
        async move {
            let resp = http
                .post(url)
                .json(&serde_json::json!({ "user_code": user_code }))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
        }
    };
    let poll = |code: &Value| {
        api.url(&format!(
            "/api/cli/auth/poll?device_code={}",
            code["device_code"].as_str().unwrap()
        ))
    };
    let same = |name: &str, answer: &(u16, Value)| {
        let cloud = recorded(name);
        assert_eq!(answer.0, cloud.status, "{name}: {}", answer.1);
        assert_eq!(
            fields(&answer.1),
            fields(&cloud.body),
            "{name}: {}",
            answer.1
        );
    };

    let code = initiate().await;
    same("cli_auth_initiate", &(200, code.clone()));
    same("cli_auth_poll_pending", &get(poll(&code)).await);
    decide(code["user_code"].as_str().unwrap().to_string(), "approve").await;
    same("cli_auth_poll_approved", &get(poll(&code)).await);
    same("cli_auth_poll_collected", &get(poll(&code)).await);

    let denied = initiate().await;
    decide(denied["user_code"].as_str().unwrap().to_string(), "deny").await;
    same("cli_auth_poll_denied", &get(poll(&denied)).await);

    let late = initiate().await;
    api.clock.advance(Duration::from_secs(301));
    same("cli_auth_poll_expired", &get(poll(&late)).await);

    same(
        "cli_auth_poll_invalid",
        &get(api.url("/api/cli/auth/poll?device_code=short")).await,
    );
    same(
        "cli_auth_poll_unknown",
        &get(api.url(&format!(
            "/api/cli/auth/poll?device_code={}",
            "a".repeat(48)
        )))
        .await,
    );
}
