//! MCP resources: documents (`pluggedin://docs/{id}`), named clipboard entries
//! (`pluggedin://clipboard/{name}`) and agents (`pluggedin://agents/{agent}`, status as JSON),
//! so a client can attach them as context. `resources/list` pages through all three with an
//! opaque cursor; what is offered follows `--toolsets`.

use base64::Engine;
use rmcp::{
    ErrorData, RoleServer,
    model::{
        CacheScope, ListResourcesResult, ReadResourceResult, Resource, ResourceContents,
        ResourceTemplate,
    },
    service::RequestContext,
};

use super::{PluggedinServer, cancellable, selection::Toolset};
use crate::api::{ApiError, documents::ListQuery};

const PAGE: u32 = 50;
const DOCS: &str = "pluggedin://docs/";
const CLIPBOARD: &str = "pluggedin://clipboard/";
const AGENTS: &str = "pluggedin://agents/";
/// User data changes at any time: list and document pages may be reused for a few seconds,
/// agents and clipboard values not at all (their point is being current).
const LIST_TTL_MS: u64 = 5_000;
const DOC_TTL_MS: u64 = 5_000;

/// The kinds in listing order, as far as the selection offers them.
fn kinds(server: &PluggedinServer) -> Vec<Toolset> {
    [Toolset::Agents, Toolset::Docs, Toolset::Clipboard]
        .into_iter()
        .filter(|t| server.selection().has(*t))
        .collect()
}

pub fn templates(server: &PluggedinServer) -> Vec<ResourceTemplate> {
    kinds(server)
        .into_iter()
        .map(|kind| match kind {
            Toolset::Agents => ResourceTemplate::new(format!("{AGENTS}{{agent}}"), "agent")
                .with_title("PAP agent status")
                .with_description("An agent's state, health, last heartbeat, metrics and recent events, by name or uuid.")
                .with_mime_type("application/json"),
            Toolset::Docs => ResourceTemplate::new(format!("{DOCS}{{id}}"), "document")
                .with_title("Library document")
                .with_description("A document's content, in its own MIME type."),
            _ => ResourceTemplate::new(format!("{CLIPBOARD}{{name}}"), "clipboard")
                .with_title("Clipboard entry")
                .with_description("A named clipboard entry's value."),
        })
        .collect()
}

/// `kind index:offset`, base64url: opaque to clients, cheap to check.
fn encode_cursor(kind: usize, offset: u32) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{kind}:{offset}"))
}

fn decode_cursor(cursor: &str) -> Option<(usize, u32)> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (kind, offset) = text.split_once(':')?;
    Some((kind.parse().ok()?, offset.parse().ok()?))
}

/// Percent-encodes a clipboard name for use in a URI path segment.
pub fn encode_name(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn upstream(e: ApiError, uri: &str) -> ErrorData {
    match e {
        ApiError::NotFound { .. } => ErrorData::resource_not_found(
            format!("no resource at {uri}"),
            Some(serde_json::json!({ "uri": uri })),
        ),
        other => ErrorData::internal_error(other.to_string(), None),
    }
}

fn tool_error(e: super::reply::ToolError) -> ErrorData {
    ErrorData::internal_error(e.0, None)
}

pub async fn list(
    server: &PluggedinServer,
    ctx: &RequestContext<RoleServer>,
    cursor: Option<&str>,
) -> Result<ListResourcesResult, ErrorData> {
    let kinds = kinds(server);
    let (mut index, offset) = match cursor {
        None => (0, 0),
        Some(c) => decode_cursor(c)
            .filter(|(k, _)| *k < kinds.len())
            .ok_or_else(|| {
                ErrorData::invalid_params("invalid cursor; start over without one", None)
            })?,
    };
    let client = server.client(ctx).map_err(tool_error)?;
    let mut items = Vec::new();
    let mut next = None;
    if let Some(kind) = kinds.get(index) {
        let (page, more) = match kind {
            Toolset::Agents => {
                let agents = cancellable(&ctx.ct, client.list_agents())
                    .await
                    .map_err(|e| upstream(e, AGENTS))?;
                let more = agents.len() > (offset + PAGE) as usize;
                let page = agents
                    .into_iter()
                    .skip(offset as usize)
                    .take(PAGE as usize)
                    .map(|a| {
                        Resource::new(format!("{AGENTS}{}", a.name), a.name.clone())
                            .with_title(format!("Agent {}", a.name))
                            .with_description(format!("PAP agent, {}", a.state))
                            .with_mime_type("application/json")
                    })
                    .collect();
                (page, more)
            }
            Toolset::Docs => {
                let query = ListQuery {
                    limit: PAGE,
                    offset,
                    ..Default::default()
                };
                let docs = cancellable(&ctx.ct, client.list_documents(&query))
                    .await
                    .map_err(|e| upstream(e, DOCS))?;
                let more = u64::from(offset) + (docs.documents.len() as u64) < docs.total;
                let page = docs
                    .documents
                    .into_iter()
                    .map(|d| {
                        let mut r = Resource::new(format!("{DOCS}{}", d.id), d.title.clone())
                            .with_title(d.title);
                        if let Some(desc) = d.description {
                            r = r.with_description(desc);
                        }
                        if let Some(mime) = d.mime_type {
                            r = r.with_mime_type(mime);
                        }
                        if let Some(size) = d.file_size {
                            r = r.with_size(size);
                        }
                        r
                    })
                    .collect();
                (page, more)
            }
            _ => {
                let list = cancellable(&ctx.ct, client.clipboard_list(None, PAGE, offset))
                    .await
                    .map_err(|e| upstream(e, CLIPBOARD))?;
                let more = u64::from(offset) + (list.entries.len() as u64) < list.total;
                // Only named entries are resources; stack entries move too often to address.
                let page = list
                    .entries
                    .into_iter()
                    .filter_map(|e| {
                        let name = e.name?;
                        Some(
                            Resource::new(
                                format!("{CLIPBOARD}{}", encode_name(&name)),
                                name.clone(),
                            )
                            .with_title(format!("Clipboard: {name}"))
                            .with_mime_type(e.content_type)
                            .with_size(e.size_bytes.unwrap_or(0)),
                        )
                    })
                    .collect();
                (page, more)
            }
        };
        items = page;
        if more {
            next = Some(encode_cursor(index, offset + PAGE));
        } else {
            index += 1;
            if index < kinds.len() {
                next = Some(encode_cursor(index, 0));
            }
        }
    }
    let mut result = ListResourcesResult::with_all_items(items)
        .with_ttl_ms(LIST_TTL_MS)
        .with_cache_scope(CacheScope::Private);
    result.next_cursor = next;
    Ok(result)
}

fn not_offered(uri: &str) -> ErrorData {
    ErrorData::resource_not_found(
        format!("no resource at {uri}: this server does not offer that kind (--toolsets)"),
        Some(serde_json::json!({ "uri": uri })),
    )
}

pub async fn read(
    server: &PluggedinServer,
    ctx: &RequestContext<RoleServer>,
    uri: &str,
) -> Result<ReadResourceResult, ErrorData> {
    let sel = server.selection();
    let client = server.client(ctx).map_err(tool_error)?;
    let private = |contents: Vec<ResourceContents>, ttl: u64| {
        ReadResourceResult::new(contents)
            .with_ttl_ms(ttl)
            .with_cache_scope(CacheScope::Private)
    };
    if let Some(id) = uri.strip_prefix(DOCS) {
        if !sel.has(Toolset::Docs) {
            return Err(not_offered(uri));
        }
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(ErrorData::resource_not_found(
                format!("no resource at {uri}: document ids are uuids"),
                None,
            ));
        }
        let doc = cancellable(&ctx.ct, client.document(id, true, false))
            .await
            .map_err(|e| upstream(e, uri))?;
        let mime = doc.summary.mime_type.unwrap_or_else(|| "text/plain".into());
        let content = doc.content.unwrap_or_default();
        let contents = if doc.content_encoding.as_deref() == Some("base64") {
            ResourceContents::blob(content, uri)
        } else {
            ResourceContents::text(content, uri)
        };
        return Ok(private(vec![contents.with_mime_type(mime)], DOC_TTL_MS));
    }
    if let Some(raw) = uri.strip_prefix(CLIPBOARD) {
        if !sel.has(Toolset::Clipboard) {
            return Err(not_offered(uri));
        }
        let name = percent_encoding::percent_decode_str(raw)
            .decode_utf8_lossy()
            .into_owned();
        let key = crate::api::clipboard::EntryKey::Name(name);
        let entry = cancellable(&ctx.ct, client.clipboard_get(&key))
            .await
            .map_err(|e| upstream(e, uri))?;
        let contents = match entry.encoding.as_str() {
            "base64" => ResourceContents::blob(entry.value, uri),
            "hex" => {
                let bytes: Vec<u8> = (0..entry.value.len() / 2)
                    .filter_map(|i| u8::from_str_radix(entry.value.get(2 * i..2 * i + 2)?, 16).ok())
                    .collect();
                ResourceContents::blob(base64::engine::general_purpose::STANDARD.encode(bytes), uri)
            }
            _ => ResourceContents::text(entry.value, uri),
        };
        return Ok(private(
            vec![contents.with_mime_type(entry.content_type)],
            0,
        ));
    }
    if let Some(agent) = uri.strip_prefix(AGENTS) {
        if !sel.has(Toolset::Agents) {
            return Err(not_offered(uri));
        }
        let agent = percent_encoding::percent_decode_str(agent)
            .decode_utf8_lossy()
            .into_owned();
        let status = server
            .agent_status_of(&client, ctx, &agent)
            .await
            .map_err(|e| {
                if e.0.contains("no agent named") || e.0.contains("404") {
                    ErrorData::resource_not_found(
                        format!("no resource at {uri}: {}", e.0),
                        Some(serde_json::json!({ "uri": uri })),
                    )
                } else {
                    tool_error(e)
                }
            })?;
        let json = serde_json::to_string_pretty(&status).unwrap_or_default();
        return Ok(private(
            vec![ResourceContents::text(json, uri).with_mime_type("application/json")],
            0,
        ));
    }
    Err(ErrorData::resource_not_found(
        format!(
            "no resource at {uri}: this server serves pluggedin://docs/, pluggedin://clipboard/ and pluggedin://agents/ URIs"
        ),
        Some(serde_json::json!({ "uri": uri })),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert_eq!(decode_cursor(&encode_cursor(2, 150)), Some((2, 150)));
        assert_eq!(decode_cursor("not a cursor"), None);
    }

    #[test]
    fn names_are_escaped_in_uris() {
        assert_eq!(encode_name("task/goal 1"), "task%2Fgoal%201");
    }
}
