//! MCP resources: documents (`pluggedin://docs/{id}`), named clipboard entries
//! (`pluggedin://clipboard/{name}`), agents (`pluggedin://agents/{agent}`, status as JSON)
//! and memory sessions (`pluggedin://memory/sessions/{session}`, a template only: the
//! session and its observations as JSON), so a client can attach them as context. `resources/list` pages through all three with an
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

use super::{
    Tools, budget, cancellable,
    selection::{Selection, Toolset},
};
use crate::api::{ApiError, Client, documents::ListQuery};

const PAGE: u32 = 50;
const DOCS: &str = "pluggedin://docs/";
const CLIPBOARD: &str = "pluggedin://clipboard/";
const AGENTS: &str = "pluggedin://agents/";
const MEMORY_SESSIONS: &str = "pluggedin://memory/sessions/";
/// Longest URI read: the longest of ours is a clipboard name of 255 characters, each
/// percent-encoded (up to 12 characters for one), with an offset.
const MAX_URI_CHARS: usize = 4_096;
/// Longest observation text a memory session resource carries.
const OBSERVATION_CHARS: usize = 2_000;
/// User data changes at any time: list and document pages may be reused for a few seconds,
/// agents and clipboard values not at all (their point is being current).
const LIST_TTL_MS: u64 = 5_000;
const DOC_TTL_MS: u64 = 5_000;

/// The kinds in listing order, as far as the selection offers them.
fn kinds(selection: &Selection) -> Vec<Toolset> {
    [Toolset::Agents, Toolset::Docs, Toolset::Clipboard]
        .into_iter()
        .filter(|t| selection.has(*t))
        .collect()
}

/// The templates of what `selection` (see [`Tools::selection_for`]) offers.
pub fn templates(selection: &Selection) -> Vec<ResourceTemplate> {
    let memory = selection.has(Toolset::Memory).then(|| {
        ResourceTemplate::new(format!("{MEMORY_SESSIONS}{{session}}"), "memory_session")
            .with_title("Memory session")
            .with_description(
                "A memory session (by uuid or memory_session_id) and its observations.",
            )
            .with_mime_type("application/json")
    });
    kinds(selection)
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
        .chain(memory)
        .collect()
}

/// Where each kind's listing continues, in the order of [`kinds`]; `None` once a kind is
/// exhausted. Encoded as base64url text (`12,0,-`): opaque to clients, cheap to check.
type Offsets = Vec<Option<u32>>;

fn encode_cursor(offsets: &Offsets) -> String {
    let text: Vec<String> = offsets
        .iter()
        .map(|o| o.map_or_else(|| "-".to_string(), |n| n.to_string()))
        .collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text.join(","))
}

fn decode_cursor(cursor: &str, kinds: usize) -> Option<Offsets> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let offsets: Offsets = text
        .split(',')
        .map(|part| match part {
            "-" => Some(None),
            n => n.parse().ok().map(Some),
        })
        .collect::<Option<_>>()?;
    (offsets.len() == kinds).then_some(offsets)
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
    ErrorData::internal_error(e.to_string(), None)
}

/// One kind's next resources: the page fetched from its offset, and for each one how far
/// the kind's offset moves once it is taken (clipboard pages also hold unnamed stack
/// entries, which are skipped but still counted).
struct Batch {
    start: u32,
    items: Vec<(Resource, u32)>,
    /// The offset after the whole fetched page, and whether anything lies beyond it.
    end: u32,
    more: bool,
}

async fn fetch(
    kind: Toolset,
    client: &crate::api::Client,
    ctx: &RequestContext<RoleServer>,
    offset: u32,
) -> Result<Batch, ErrorData> {
    Ok(match kind {
        Toolset::Agents => {
            let agents = cancellable(&ctx.ct, client.list_agents())
                .await
                .map_err(|e| upstream(e, AGENTS))?;
            let total = agents.len();
            let items: Vec<(Resource, u32)> = agents
                .into_iter()
                .skip(offset as usize)
                .take(PAGE as usize)
                .enumerate()
                .map(|(i, a)| {
                    let r = Resource::new(format!("{AGENTS}{}", a.name), a.name.clone())
                        .with_title(format!("Agent {}", a.name))
                        .with_description(format!("PAP agent, {}", a.state))
                        .with_mime_type("application/json");
                    (r, offset + i as u32 + 1)
                })
                .collect();
            let end = offset + items.len() as u32;
            Batch {
                start: offset,
                items,
                end,
                more: (end as usize) < total,
            }
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
            let end = offset + docs.documents.len() as u32;
            let items = docs
                .documents
                .into_iter()
                .enumerate()
                .map(|(i, d)| {
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
                    (r, offset + i as u32 + 1)
                })
                .collect();
            Batch {
                start: offset,
                items,
                end,
                more: u64::from(end) < docs.total,
            }
        }
        _ => {
            // Values are cut while decoding (previews only): a list never loads whole values.
            let list = cancellable(&ctx.ct, client.clipboard_list(None, PAGE, offset))
                .await
                .map_err(|e| upstream(e, CLIPBOARD))?;
            let end = offset + list.entries.len() as u32;
            // Only named entries are resources; stack entries move too often to address.
            let items = list
                .entries
                .into_iter()
                .enumerate()
                .filter_map(|(i, e)| {
                    let name = e.name?;
                    let r =
                        Resource::new(format!("{CLIPBOARD}{}", encode_name(&name)), name.clone())
                            .with_title(format!("Clipboard: {name}"))
                            .with_mime_type(e.content_type)
                            .with_size(e.size_bytes.unwrap_or(0));
                    Some((r, offset + i as u32 + 1))
                })
                .collect();
            Batch {
                start: offset,
                items,
                end,
                more: u64::from(end) < list.total,
            }
        }
    })
}

/// `resources/list`: each page mixes the kinds (agents, documents, named clipboard entries),
/// taking from each in turn, so a client that reads only the first page sees some of each.
pub async fn list(
    tools: &Tools,
    ctx: &RequestContext<RoleServer>,
    cursor: Option<&str>,
) -> Result<ListResourcesResult, ErrorData> {
    let kinds = kinds(&tools.selection_for(&ctx.extensions));
    let offsets: Offsets = match cursor {
        None => vec![Some(0); kinds.len()],
        Some(c) => decode_cursor(c, kinds.len()).ok_or_else(|| {
            ErrorData::invalid_params("invalid cursor; start over without one", None)
        })?,
    };
    let client = tools.client(ctx).map_err(tool_error)?;
    let mut batches = Vec::with_capacity(kinds.len());
    for (kind, offset) in kinds.iter().zip(&offsets) {
        batches.push(match offset {
            Some(o) => Some(fetch(*kind, &client, ctx, *o).await?),
            None => None,
        });
    }
    // Round robin: one from each kind in turn until the page is full.
    let mut taken = vec![0usize; kinds.len()];
    let mut items = Vec::new();
    loop {
        let mut progressed = false;
        for (i, batch) in batches.iter().enumerate() {
            if items.len() >= PAGE as usize {
                break;
            }
            if let Some(b) = batch
                && let Some((resource, _)) = b.items.get(taken[i])
            {
                items.push(resource.clone());
                taken[i] += 1;
                progressed = true;
            }
        }
        if !progressed || items.len() >= PAGE as usize {
            break;
        }
    }
    let next: Offsets = batches
        .iter()
        .zip(&taken)
        .map(|(batch, &n)| {
            let b = batch.as_ref()?;
            match n {
                // Stopped inside this kind's batch: continue right after the last one taken.
                0 if !b.items.is_empty() => Some(b.start),
                n if n < b.items.len() => Some(b.items[n - 1].1),
                _ if b.more => Some(b.end),
                _ => None,
            }
        })
        .collect();
    let mut result = ListResourcesResult::with_all_items(items);
    result.next_cursor = next
        .iter()
        .any(Option::is_some)
        .then(|| encode_cursor(&next));
    Ok(super::cache_hints(
        ctx,
        result,
        LIST_TTL_MS,
        CacheScope::Private,
    ))
}

fn not_offered(uri: &str) -> ErrorData {
    ErrorData::resource_not_found(
        format!("no resource at {uri}: this server does not offer that kind (--toolsets)"),
        Some(serde_json::json!({ "uri": uri })),
    )
}

/// A text resource cut to fit the result budget: the text up to the limit, a visible line
/// saying where it continues (a model reading the resource must not mistake a part for the
/// whole), and the same in `_meta`.
fn paged_text(
    text: &str,
    offset: u64,
    limit: budget::Budget,
    continue_with: impl Fn(u64) -> String,
) -> (String, Option<rmcp::model::MetaObject>) {
    let page = budget::page_text(text, offset, u64::MAX, limit.text_bytes() - 1024);
    let Some(next) = page.next_offset else {
        return (page.text, None);
    };
    let shown = next - offset;
    let note = format!(
        "\n\n[pluggedin-mcp: cut at the {} result limit; characters {offset} to {next} of {} shown. Read on with {}]",
        limit.describe(),
        page.total_chars,
        continue_with(next),
    );
    let mut meta = rmcp::model::MetaObject::default();
    meta.0.insert(
        budget::TRUNCATED_META.into(),
        serde_json::json!({ "offset": offset, "shownChars": shown, "totalChars": page.total_chars, "nextOffset": next }),
    );
    (page.text + &note, Some(meta))
}

fn with_meta(
    contents: ResourceContents,
    meta: Option<rmcp::model::MetaObject>,
) -> ResourceContents {
    match (contents, meta) {
        (
            ResourceContents::TextResourceContents {
                uri,
                mime_type,
                text,
                ..
            },
            Some(m),
        ) => ResourceContents::TextResourceContents {
            uri,
            mime_type,
            text,
            meta: Some(m),
        },
        (contents, _) => contents,
    }
}

/// Splits `?offset=N` off a resource URI (documents and clipboard values are paged this way).
fn split_offset(rest: &str) -> Result<(&str, u64), String> {
    match rest.split_once('?') {
        None => Ok((rest, 0)),
        Some((path, query)) => {
            let offset = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("offset="))
                .ok_or_else(|| "the only query parameter is offset=N".to_string())?;
            let n = offset
                .parse()
                .map_err(|_| "offset must be a non-negative integer".to_string())?;
            Ok((path, n))
        }
    }
}

pub async fn read(
    tools: &Tools,
    ctx: &RequestContext<RoleServer>,
    uri: &str,
) -> Result<ReadResourceResult, ErrorData> {
    // No URI of ours is long: a longer one is refused before it is quoted, fetched or logged.
    if uri.chars().count() > MAX_URI_CHARS {
        return Err(ErrorData::resource_not_found(
            format!(
                "no resource at {}…: a URI of this server is at most {MAX_URI_CHARS} characters",
                crate::text::truncate(uri, 60)
            ),
            None,
        ));
    }
    let sel = tools.selection_for(&ctx.extensions);
    let client = tools.client(ctx).map_err(tool_error)?;
    let read = Read {
        tools,
        ctx,
        client: &client,
        uri,
    };
    if let Some(rest) = uri.strip_prefix(DOCS) {
        if !sel.has(Toolset::Docs) {
            return Err(not_offered(uri));
        }
        return read.document(rest).await;
    }
    if let Some(rest) = uri.strip_prefix(CLIPBOARD) {
        if !sel.has(Toolset::Clipboard) {
            return Err(not_offered(uri));
        }
        return read.clipboard_entry(rest).await;
    }
    if let Some(agent) = uri.strip_prefix(AGENTS) {
        if !sel.has(Toolset::Agents) {
            return Err(not_offered(uri));
        }
        return read.agent(agent).await;
    }
    if let Some(session) = uri.strip_prefix(MEMORY_SESSIONS) {
        if !sel.has(Toolset::Memory) {
            return Err(not_offered(uri));
        }
        return read.memory_session(session).await;
    }
    Err(ErrorData::resource_not_found(
        format!(
            "no resource at {}: this server serves pluggedin://docs/, pluggedin://clipboard/, pluggedin://agents/ and pluggedin://memory/sessions/ URIs",
            crate::text::truncate(uri, 200)
        ),
        Some(serde_json::json!({ "uri": uri })),
    ))
}

/// One `resources/read` of a URI of ours, once its kind is known and offered.
struct Read<'a> {
    tools: &'a Tools,
    ctx: &'a RequestContext<RoleServer>,
    client: &'a Client,
    uri: &'a str,
}

impl Read<'_> {
    fn finish(&self, contents: ResourceContents, ttl: u64) -> ReadResourceResult {
        super::cache_hints(
            self.ctx,
            ReadResourceResult::new(vec![contents]),
            ttl,
            CacheScope::Private,
        )
    }

    fn bad_offset(&self, rule: String) -> ErrorData {
        ErrorData::invalid_params(format!("invalid resource URI {}: {rule}", self.uri), None)
    }

    /// `pluggedin://docs/{id}[?offset=N]`: text paged within the budget, binary whole.
    async fn document(&self, rest: &str) -> Result<ReadResourceResult, ErrorData> {
        let (tools, uri) = (self.tools, self.uri);
        let (id, offset) = split_offset(rest).map_err(|r| self.bad_offset(r))?;
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(ErrorData::resource_not_found(
                format!("no resource at {uri}: document ids are uuids"),
                None,
            ));
        }
        let doc = cancellable(&self.ctx.ct, self.client.document(id, true))
            .await
            .map_err(|e| upstream(e, uri))?;
        let mime = doc.summary.mime_type.unwrap_or_else(|| "text/plain".into());
        let content = doc.content.unwrap_or_default();
        let contents = if doc.content_encoding.as_deref() == Some("base64") {
            // Binary documents come whole or not at all: a cut blob is not a file.
            if content.len() > tools.budget().text_bytes() {
                return Err(ErrorData::invalid_request(
                    format!(
                        "{uri} is a binary document of {} bytes (base64), over the {} result limit; download it from Plugged.in instead",
                        content.len(),
                        tools.budget().describe()
                    ),
                    None,
                ));
            }
            ResourceContents::blob(content, uri)
        } else {
            let (text, meta) = paged_text(&content, offset, tools.budget(), |next| {
                format!("{DOCS}{id}?offset={next} or get_doc id={id} offset={next}")
            });
            with_meta(ResourceContents::text(text, uri), meta)
        };
        Ok(self.finish(contents.with_mime_type(mime), DOC_TTL_MS))
    }

    /// `pluggedin://clipboard/{name}[?offset=N]`: binary encodings as blobs, text paged.
    async fn clipboard_entry(&self, rest: &str) -> Result<ReadResourceResult, ErrorData> {
        let uri = self.uri;
        let (raw, offset) = split_offset(rest).map_err(|r| self.bad_offset(r))?;
        let name = percent_encoding::percent_decode_str(raw)
            .decode_utf8_lossy()
            .into_owned();
        if name.is_empty() {
            return Err(ErrorData::resource_not_found(
                format!("no resource at {uri}: give an entry name after {CLIPBOARD}"),
                None,
            ));
        }
        let key = crate::api::clipboard::EntryKey::Name(name);
        let entry = cancellable(&self.ctx.ct, self.client.clipboard_get(&key))
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
            _ => {
                let (text, meta) = paged_text(&entry.value, offset, self.tools.budget(), |next| {
                    format!("{CLIPBOARD}{raw}?offset={next}")
                });
                with_meta(ResourceContents::text(text, uri), meta)
            }
        };
        Ok(self.finish(contents.with_mime_type(entry.content_type), 0))
    }

    /// `pluggedin://agents/{name or id}`: the agent's status as JSON.
    async fn agent(&self, agent: &str) -> Result<ReadResourceResult, ErrorData> {
        let uri = self.uri;
        let agent = percent_encoding::percent_decode_str(agent)
            .decode_utf8_lossy()
            .into_owned();
        let status = self
            .tools
            .agent_status_of(self.client, self.ctx, &agent)
            .await
            .map_err(|e| {
                if e.is_not_found() {
                    ErrorData::resource_not_found(
                        format!("no resource at {uri}: {e}"),
                        Some(serde_json::json!({ "uri": uri })),
                    )
                } else {
                    tool_error(e)
                }
            })?;
        let json = serde_json::to_string_pretty(&status).unwrap_or_default();
        Ok(self.finish(
            ResourceContents::text(json, uri).with_mime_type("application/json"),
            0,
        ))
    }

    /// `pluggedin://memory/sessions/{uuid or memory_session_id}`.
    async fn memory_session(&self, session: &str) -> Result<ReadResourceResult, ErrorData> {
        if !crate::vocab::memory::is_session_ref(session) {
            return Err(ErrorData::resource_not_found(
                format!(
                    "no memory session {:?}: a session is named by its uuid or memory_session_id (letters, digits, _ and -, at most {} characters)",
                    crate::text::truncate(session, 40),
                    crate::vocab::memory::SESSION_REF_MAX_CHARS
                ),
                None,
            ));
        }
        let json = memory_session(self.tools, self.client, self.ctx, self.uri, session).await?;
        Ok(self.finish(
            ResourceContents::text(json, self.uri).with_mime_type("application/json"),
            0,
        ))
    }
}

/// A memory session and its observations (each cut to [`OBSERVATION_CHARS`]), as JSON within
/// the result budget.
async fn memory_session(
    tools: &Tools,
    client: &crate::api::Client,
    ctx: &RequestContext<RoleServer>,
    uri: &str,
    session: &str,
) -> Result<String, ErrorData> {
    if session.is_empty()
        || !session
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(ErrorData::resource_not_found(
            format!(
                "no resource at {uri}: a memory session is named by its uuid or memory_session_id"
            ),
            None,
        ));
    }
    let row = cancellable(&ctx.ct, client.memory_session(session))
        .await
        .map_err(|e| upstream(e, uri))?;
    let uuid = row
        .get("uuid")
        .and_then(serde_json::Value::as_str)
        .unwrap_or(session)
        .to_string();
    let mut observations = cancellable(&ctx.ct, client.memory_observations(&uuid))
        .await
        .map_err(|e| upstream(e, uri))?;
    for o in observations.iter_mut() {
        if let Some(text) = o.get("content").and_then(serde_json::Value::as_str) {
            o["content"] = crate::text::truncate(text, OBSERVATION_CHARS).into();
        }
    }
    let json = serde_json::to_string_pretty(
        &serde_json::json!({ "session": row, "observations": observations }),
    )
    .unwrap_or_default();
    if json.len() > tools.budget().text_bytes() {
        return Err(ErrorData::invalid_request(
            format!(
                "{uri} is {} bytes, over the {} result limit; search it with memory_search instead",
                json.len(),
                tools.budget().describe()
            ),
            None,
        ));
    }
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let offsets = vec![Some(150), None, Some(0)];
        assert_eq!(decode_cursor(&encode_cursor(&offsets), 3), Some(offsets));
        assert_eq!(decode_cursor("not a cursor", 3), None);
        assert_eq!(decode_cursor(&encode_cursor(&vec![Some(1)]), 3), None);
    }

    #[test]
    fn resource_uris_take_an_offset() {
        assert_eq!(split_offset("abc"), Ok(("abc", 0)));
        assert_eq!(split_offset("abc?offset=12"), Ok(("abc", 12)));
        assert!(split_offset("abc?offset=-1").is_err());
        assert!(split_offset("abc?x=1").is_err());
    }

    #[test]
    fn names_are_escaped_in_uris() {
        assert_eq!(encode_name("task/goal 1"), "task%2Fgoal%201");
    }
}
