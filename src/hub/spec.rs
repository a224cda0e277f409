//! What a downstream server is: the `mcpServers` file format every MCP client uses (Claude
//! Desktop's `command`/`args`/`env`, `url` + `headers` for remote servers, VS Code's
//! `servers` + `type`), parsed into [`ServerSpec`]s. A broken entry does not break the
//! file: it becomes a spec whose [`Transport::Invalid`] says what is wrong, so its server
//! shows the reason in `hub_status` while the others run.

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use serde_json::{Map, Value};

/// Longest per-server timeout accepted from a file: a day.
const MAX_TIMEOUT_SECS: u64 = 86_400;

/// One downstream server as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    /// The key of its entry (or its Plugged.in name).
    pub name: String,
    /// Plugged.in's slug, preferred for the tool-name prefix when present.
    pub slug: Option<String>,
    /// Plugged.in's id of the server (account servers only), for activity reports.
    pub uuid: Option<String>,
    pub transport: Transport,
    /// Bound of every call to it; `None`: the server-wide `--timeout`.
    pub timeout: Option<Duration>,
    /// Only these tools are offered (`allowTools`); `None`: all.
    pub allow_tools: Option<Vec<String>>,
    /// These tools are never offered (`denyTools`).
    pub deny_tools: Vec<String>,
    /// Configured but not started (`"disabled": true`).
    pub disabled: bool,
    /// Text for the model about this server (Plugged.in's custom instructions).
    pub instructions: Option<String>,
    /// The protocol revision the hub speaks to it (`"protocolVersion"`).
    pub protocol: Protocol,
    /// The prefix of its tools' and prompts' names, as configured (`"prefix"`); `Some("")`
    /// offers them under their own names. `None`: chosen from its slug or name.
    pub prefix: Option<String>,
}

/// Which protocol revision the hub speaks to a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// 2025-11-25 (`initialize`), or 2026-07-28 when the server refuses `initialize`.
    #[default]
    Auto,
    /// `"protocolVersion": "2025-11-25"`.
    V2025,
    /// `"protocolVersion": "2026-07-28"` (`server/discover`; no `initialize`).
    V2026,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// A child process speaking MCP on its stdin/stdout. No shell: `command` is run with
    /// `args` verbatim.
    Stdio {
        command: String,
        args: Vec<String>,
        env: BTreeMap<String, String>,
        cwd: Option<PathBuf>,
    },
    /// A Streamable HTTP endpoint, with headers sent on every request.
    Http {
        url: String,
        headers: BTreeMap<String, String>,
    },
    /// A server on the 2024-11-05 HTTP+SSE transport (`"type": "sse"`).
    Sse {
        url: String,
        headers: BTreeMap<String, String>,
    },
    /// A server in this process, over an in-memory pipe: for tests of the hub's own logic
    /// (catalog, routing, supervision) without child processes, and for embedding.
    Memory(MemoryServer),
    /// An entry that cannot be run, and why (naming the field and the rule).
    Invalid(String),
}

/// Starts an in-process server on the server end of a pipe, for each connection the hub
/// opens (a restart opens a new one). Equal only to itself.
#[derive(Clone)]
pub struct MemoryServer(pub std::sync::Arc<dyn Fn(tokio::io::DuplexStream) + Send + Sync>);

impl MemoryServer {
    /// Serves `make()`'s handler on every connection.
    pub fn of<S, F>(make: F) -> Self
    where
        S: rmcp::ServerHandler,
        F: Fn() -> S + Send + Sync + 'static,
    {
        Self(std::sync::Arc::new(move |pipe| {
            let handler = make();
            tokio::spawn(async move {
                use rmcp::ServiceExt;
                if let Ok(service) = handler.serve(pipe).await {
                    let _ = service.waiting().await;
                }
            });
        }))
    }
}

impl std::fmt::Debug for MemoryServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryServer")
    }
}

impl PartialEq for MemoryServer {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for MemoryServer {}

impl ServerSpec {
    pub fn invalid(name: &str, why: String) -> Self {
        Self {
            name: name.to_string(),
            slug: None,
            uuid: None,
            transport: Transport::Invalid(why),
            timeout: None,
            allow_tools: None,
            deny_tools: Vec::new(),
            disabled: false,
            instructions: None,
            protocol: Protocol::Auto,
            prefix: None,
        }
    }

    /// `stdio`, `http` or `invalid`, for status reports.
    pub fn transport_name(&self) -> &'static str {
        match self.transport {
            Transport::Stdio { .. } => "stdio",
            Transport::Http { .. } => "http",
            Transport::Sse { .. } => "sse",
            Transport::Memory(_) => "memory",
            Transport::Invalid(_) => "invalid",
        }
    }

    /// Whether `tool` passes this server's allow and deny lists.
    pub fn allows(&self, tool: &str) -> bool {
        self.allow_tools
            .as_ref()
            .is_none_or(|allowed| allowed.iter().any(|a| a == tool))
            && !self.deny_tools.iter().any(|d| d == tool)
    }
}

/// The configured headers as HTTP headers; an invalid name or value is named.
pub fn header_map(
    headers: &BTreeMap<String, String>,
) -> Result<reqwest::header::HeaderMap, String> {
    let mut map = reqwest::header::HeaderMap::new();
    for (name, value) in headers {
        let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("header name `{name}` is not valid"))?;
        let value = reqwest::header::HeaderValue::from_str(value)
            .map_err(|_| format!("the value of header `{name}` is not valid"))?;
        map.insert(name, value);
    }
    Ok(map)
}

/// Parses a servers file. Only a file that is not a JSON object with `mcpServers` or
/// `servers` is an error; each entry is parsed on its own.
pub fn parse_file(text: &str) -> Result<Vec<ServerSpec>, String> {
    let root: Value =
        serde_json::from_str(text).map_err(|e| format!("the servers file is not JSON: {e}"))?;
    let Some(root) = root.as_object() else {
        return Err("the servers file must be a JSON object with \"mcpServers\"".into());
    };
    let entries = match (root.get("mcpServers"), root.get("servers")) {
        (Some(Value::Object(m)), _) | (None, Some(Value::Object(m))) => m,
        (Some(_), _) | (None, Some(_)) => {
            return Err("\"mcpServers\" (or VS Code's \"servers\") must be an object".into());
        }
        (None, None) => {
            return Err(
                "the servers file has no \"mcpServers\" object (VS Code's \"servers\" is accepted too)"
                    .into(),
            );
        }
    };
    Ok(entries
        .iter()
        .map(|(name, entry)| parse_entry(name, entry))
        .collect())
}

/// One entry; errors become an [`Transport::Invalid`] spec.
pub fn parse_entry(name: &str, entry: &Value) -> ServerSpec {
    match entry.as_object() {
        Some(fields) => {
            parse_fields(name, fields).unwrap_or_else(|why| ServerSpec::invalid(name, why))
        }
        None => ServerSpec::invalid(name, format!("server \"{name}\": must be an object")),
    }
}

/// One entry's fields, read with errors that name the server, the field and the rule.
struct Fields<'a> {
    name: &'a str,
    f: &'a Map<String, Value>,
}

impl Fields<'_> {
    fn wrong(&self, key: &str, rule: &str) -> String {
        format!("server \"{}\": `{key}` {rule}", self.name)
    }

    fn string(&self, key: &str) -> Result<Option<String>, String> {
        match self.f.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.wrong(key, "must be a string")),
        }
    }

    fn strings(&self, key: &str) -> Result<Option<Vec<String>>, String> {
        match self.f.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| self.wrong(key, "must be a list of strings")),
            Some(_) => Err(self.wrong(key, "must be a list of strings")),
        }
    }

    /// An object of strings; numbers and booleans are taken as their text (env files often
    /// hold `"PORT": 8080`).
    fn map(&self, key: &str) -> Result<BTreeMap<String, String>, String> {
        match self.f.get(key) {
            None | Some(Value::Null) => Ok(BTreeMap::new()),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    Value::Number(n) => Ok((k.clone(), n.to_string())),
                    Value::Bool(b) => Ok((k.clone(), b.to_string())),
                    _ => Err(self.wrong(&format!("{key}.{k}"), "must be a string")),
                })
                .collect(),
            Some(_) => Err(self.wrong(key, "must be an object of strings")),
        }
    }

    /// `command` (stdio) or `url` (Streamable HTTP, or SSE with `"type": "sse"`).
    fn transport(&self) -> Result<Transport, String> {
        let name = self.name;
        let kind = self.string("type")?.map(|t| t.to_ascii_lowercase());
        let command = self.string("command")?;
        let url = self.string("url")?.or(self.string("serverUrl")?);
        match (kind.as_deref(), command, url) {
            (Some(other), _, _)
                if !matches!(
                    other,
                    "stdio" | "http" | "streamable-http" | "streamablehttp" | "sse"
                ) =>
            {
                Err(self.wrong("type", "must be \"stdio\", \"http\" or \"sse\""))
            }
            (_, Some(_), Some(_)) => Err(format!(
                "server \"{name}\": give either `command` (a local server) or `url` (a remote one), not both"
            )),
            (_, Some(command), None) => {
                if command.trim().is_empty() {
                    return Err(self.wrong("command", "must not be empty"));
                }
                Ok(Transport::Stdio {
                    command,
                    args: self.strings("args")?.unwrap_or_default(),
                    env: self.map("env")?,
                    cwd: self.string("cwd")?.map(PathBuf::from),
                })
            }
            (_, None, Some(url)) => {
                let parsed = reqwest::Url::parse(&url)
                    .map_err(|e| self.wrong("url", &format!("is not a URL ({e})")))?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    return Err(self.wrong("url", "must be an http:// or https:// URL"));
                }
                let headers = self.map("headers")?;
                Ok(if kind.as_deref() == Some("sse") {
                    Transport::Sse { url, headers }
                } else {
                    Transport::Http { url, headers }
                })
            }
            (_, None, None) => Err(format!(
                "server \"{name}\": needs `command` (a local server) or `url` (a remote one)"
            )),
        }
    }

    fn timeout(&self) -> Result<Option<Duration>, String> {
        match self.f.get("timeout") {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_f64() {
                Some(secs) if secs > 0.0 && secs <= MAX_TIMEOUT_SECS as f64 => {
                    Ok(Some(Duration::from_secs_f64(secs)))
                }
                _ => Err(self.wrong(
                    "timeout",
                    &format!("must be a number of seconds between 0 and {MAX_TIMEOUT_SECS}"),
                )),
            },
        }
    }

    fn disabled(&self) -> Result<bool, String> {
        match self.f.get("disabled") {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(self.wrong("disabled", "must be true or false")),
        }
    }

    fn protocol(&self) -> Result<Protocol, String> {
        match self.string("protocolVersion")?.as_deref() {
            None | Some("auto") => Ok(Protocol::Auto),
            Some("2025-11-25") => Ok(Protocol::V2025),
            Some("2026-07-28") => Ok(Protocol::V2026),
            Some(_) => Err(self.wrong(
                "protocolVersion",
                "must be \"2025-11-25\", \"2026-07-28\" or \"auto\"",
            )),
        }
    }

    fn prefix(&self) -> Result<Option<String>, String> {
        let prefix = self.string("prefix")?;
        if let Some(p) = &prefix
            && (p.contains(super::names::SEPARATOR)
                || p.chars()
                    .any(|c| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                || p.len() > 20)
        {
            return Err(self.wrong(
                "prefix",
                "must be up to 20 letters, digits, - or _ (without __), or \"\" for none",
            ));
        }
        Ok(prefix)
    }
}

fn parse_fields(name: &str, f: &Map<String, Value>) -> Result<ServerSpec, String> {
    let fields = Fields { name, f };
    Ok(ServerSpec {
        name: name.to_string(),
        slug: fields.string("slug")?,
        uuid: None,
        transport: fields.transport()?,
        timeout: fields.timeout()?,
        allow_tools: fields.strings("allowTools")?,
        deny_tools: fields.strings("denyTools")?.unwrap_or_default(),
        disabled: fields.disabled()?,
        instructions: fields.string("instructions")?,
        protocol: fields.protocol()?,
        prefix: fields.prefix()?,
    })
}

/// A server as Plugged.in's `GET /api/mcp-servers` lists it (see `api::hub`). Its
/// `customInstructions` (prompt messages) become the server's instructions.
pub fn from_pluggedin(row: &Value) -> ServerSpec {
    let text = |key: &str| row.get(key).and_then(Value::as_str).map(str::to_string);
    let uuid = text("uuid").unwrap_or_default();
    let name = text("name")
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| uuid.clone());
    let mut entry = Map::new();
    let kind = text("type")
        .unwrap_or_else(|| "STDIO".into())
        .to_ascii_uppercase();
    match kind.as_str() {
        "STREAMABLE_HTTP" => {
            entry.insert("type".into(), "http".into());
            entry.insert("url".into(), row.get("url").cloned().unwrap_or(Value::Null));
            if let Some(headers) = row.pointer("/streamableHTTPOptions/headers") {
                entry.insert("headers".into(), headers.clone());
            }
        }
        "SSE" => {
            entry.insert("type".into(), "sse".into());
            entry.insert("url".into(), row.get("url").cloned().unwrap_or(Value::Null));
            if let Some(headers) = row.get("headers").filter(|h| h.is_object()) {
                entry.insert("headers".into(), headers.clone());
            }
        }
        _ => {
            for key in ["command", "args", "env"] {
                entry.insert(key.into(), row.get(key).cloned().unwrap_or(Value::Null));
            }
        }
    }
    let mut spec = parse_entry(&name, &Value::Object(entry));
    spec.slug = text("slug");
    spec.uuid = Some(uuid).filter(|u| !u.is_empty());
    spec.instructions = row
        .get("customInstructions")
        .and_then(Value::as_array)
        .map(|messages| {
            messages
                .iter()
                .filter_map(|m| {
                    m.pointer("/content/text")
                        .or_else(|| m.get("content").filter(|c| c.is_string()))
                        .and_then(Value::as_str)
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|t| !t.trim().is_empty());
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claude_desktop_and_vs_code_formats() {
        let specs = parse_file(
            r#"{"mcpServers": {
                "everything": {"command": "npx", "args": ["-y", "server-everything"], "env": {"A": "1", "N": 2}},
                "remote": {"url": "http://127.0.0.1:9/mcp", "headers": {"Authorization": "Bearer x"}, "timeout": 5}
            }}"#,
        )
        .unwrap();
        assert_eq!(specs.len(), 2);
        assert!(
            matches!(&specs[0].transport, Transport::Stdio { command, args, env, .. }
            if command == "npx" && args.len() == 2 && env["N"] == "2")
        );
        assert!(
            matches!(&specs[1].transport, Transport::Http { headers, .. } if headers.len() == 1)
        );
        assert_eq!(specs[1].timeout, Some(Duration::from_secs(5)));

        let vs = parse_file(r#"{"servers": {"x": {"type": "stdio", "command": "srv"}, "y": {"type": "http", "url": "https://h/mcp"}}}"#).unwrap();
        assert_eq!(vs[0].transport_name(), "stdio");
        assert_eq!(vs[1].transport_name(), "http");
    }

    #[test]
    fn a_broken_entry_names_its_field_and_leaves_the_others() {
        let specs = parse_file(
            r#"{"mcpServers": {
                "good": {"command": "srv"},
                "both": {"command": "srv", "url": "http://h"},
                "neither": {},
                "badargs": {"command": "srv", "args": "not a list"},
                "sse": {"type": "sse", "url": "http://h/sse"},
                "ftp": {"url": "ftp://h"},
                "slow": {"command": "srv", "timeout": -1}
            }}"#,
        )
        .unwrap();
        let why = |name: &str| match &specs.iter().find(|s| s.name == name).unwrap().transport {
            Transport::Invalid(why) => why.clone(),
            other => panic!("{name} parsed as {other:?}"),
        };
        assert_eq!(
            specs
                .iter()
                .find(|s| s.name == "good")
                .unwrap()
                .transport_name(),
            "stdio"
        );
        assert!(why("both").contains("not both"));
        assert!(why("neither").contains("needs `command`"));
        assert!(why("badargs").contains("`args` must be a list of strings"));
        assert_eq!(
            specs
                .iter()
                .find(|s| s.name == "sse")
                .unwrap()
                .transport_name(),
            "sse"
        );
        assert!(why("ftp").contains("http:// or https://"));
        assert!(why("slow").contains("`timeout`"));
    }

    #[test]
    fn a_file_that_is_not_a_servers_file_is_an_error() {
        assert!(parse_file("not json").unwrap_err().contains("not JSON"));
        assert!(parse_file("[]").unwrap_err().contains("JSON object"));
        assert!(parse_file("{}").unwrap_err().contains("mcpServers"));
        assert!(
            parse_file(r#"{"mcpServers": []}"#)
                .unwrap_err()
                .contains("must be an object")
        );
    }

    #[test]
    fn pluggedin_rows_become_specs() {
        let stdio = from_pluggedin(&serde_json::json!({
            "uuid": "5b0c8a3e-1111-4222-8333-444455556666", "name": "Fixture Server", "type": "STDIO",
            "command": "srv", "args": null, "env": {"A": "1"}, "slug": null,
            "customInstructions": [{"role": "user", "content": {"type": "text", "text": "Be brief."}}]
        }));
        assert_eq!(stdio.name, "Fixture Server");
        assert!(
            matches!(&stdio.transport, Transport::Stdio { command, args, .. } if command == "srv" && args.is_empty())
        );
        assert_eq!(stdio.instructions.as_deref(), Some("Be brief."));
        let http = from_pluggedin(&serde_json::json!({
            "uuid": "u", "name": "R", "type": "STREAMABLE_HTTP", "url": "http://h/mcp", "slug": "r-slug",
            "streamableHTTPOptions": {"headers": {"Authorization": "Bearer t"}}
        }));
        assert!(matches!(&http.transport, Transport::Http { headers, .. } if headers.len() == 1));
        assert_eq!(http.slug.as_deref(), Some("r-slug"));
        let sse = from_pluggedin(
            &serde_json::json!({"uuid": "u", "name": "S", "type": "SSE", "url": "http://h/sse"}),
        );
        assert!(matches!(&sse.transport, Transport::Sse { url, .. } if url == "http://h/sse"));
    }

    #[test]
    fn allow_and_deny_lists() {
        let s = parse_entry(
            "s",
            &serde_json::json!({"command": "x", "allowTools": ["a", "b"], "denyTools": ["b"]}),
        );
        assert!(s.allows("a") && !s.allows("b") && !s.allows("c"));
    }
}
