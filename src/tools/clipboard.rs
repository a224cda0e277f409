//! Clipboard tools: a key-value memory (named entries) and a stack (indexed entries).

use rmcp::{RoleServer, model::ContentBlock, service::RequestContext, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    Tools, budget, cancellable,
    params::Parameters,
    reply::{Json, ToolError},
};
use crate::{
    api::{
        ApiError,
        clipboard::{DeleteTarget, Entry, EntryKey, NewEntry},
    },
    vocab::{
        clipboard::{Encoding, EntrySource},
        limits::{
            self, CLIPBOARD_TTL_MAX_SECONDS as MAX_TTL_SECONDS,
            CLIPBOARD_VALUE_MAX_BYTES as MAX_VALUE_BYTES,
        },
    },
};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SetParams {
    /// Key for a named entry (give name or idx).
    #[schemars(length(min = 1, max = 255))]
    pub name: Option<String>,
    /// Stack index to write at (fails if taken; prefer clipboard_push).
    #[schemars(range(min = 0, max = 1_000_000_000))]
    pub idx: Option<i64>,
    pub value: String,
    /// MIME type, default text/plain. image/* needs base64.
    #[schemars(length(min = 3, max = 256))]
    pub content_type: Option<String>,
    /// Default utf-8.
    pub encoding: Option<Encoding>,
    /// Lifetime in seconds, default 86400.
    #[schemars(range(min = 1, max = 31_536_000))]
    pub ttl_seconds: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PushParams {
    pub value: String,
    /// MIME type, default text/plain. image/* needs base64.
    #[schemars(length(min = 3, max = 256))]
    pub content_type: Option<String>,
    /// Default utf-8.
    pub encoding: Option<Encoding>,
    /// Lifetime in seconds, default 86400.
    #[schemars(range(min = 1, max = 31_536_000))]
    pub ttl_seconds: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct GetParams {
    /// Entry name (give name or idx).
    #[schemars(length(min = 1, max = 255))]
    pub name: Option<String>,
    /// Stack index.
    #[schemars(range(min = -2_147_483_648, max = 2_147_483_647))]
    pub idx: Option<i64>,
    /// First character of the value to return. Default 0.
    pub offset: Option<u64>,
    /// Characters of the value to return. Default: all that fit in one result.
    #[schemars(range(min = 1))]
    pub max_chars: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListParams {
    /// Only entries of this MIME type.
    pub content_type: Option<String>,
    /// Default 50.
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DeleteParams {
    /// Entry name.
    #[schemars(length(min = 1, max = 255))]
    pub name: Option<String>,
    /// Stack index.
    #[schemars(range(min = -2_147_483_648, max = 2_147_483_647))]
    pub idx: Option<i64>,
    /// Delete every entry.
    #[serde(default)]
    pub all: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PopParams {}

#[derive(Debug, Serialize, JsonSchema)]
pub struct EntryInfo {
    pub name: Option<String>,
    pub idx: Option<i64>,
    pub content_type: String,
    pub encoding: String,
    pub size_bytes: Option<u64>,
    pub updated_at: Option<String>,
    pub expires_at: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct EntryValue {
    pub name: Option<String>,
    pub idx: Option<i64>,
    /// Absent for images, which come as an image block.
    pub value: Option<String>,
    pub content_type: String,
    pub encoding: String,
    pub size_bytes: Option<u64>,
    pub created_by_model: Option<String>,
    pub updated_at: Option<String>,
    pub expires_at: Option<String>,
    /// Characters in the whole value, when only part of it is shown.
    pub value_chars: Option<u64>,
    /// Offset to pass for the rest of the value, when cut.
    pub next_offset: Option<u64>,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ListedEntry {
    pub name: Option<String>,
    pub idx: Option<i64>,
    pub content_type: String,
    pub size_bytes: Option<u64>,
    /// First 100 characters (none for images).
    pub preview: Option<String>,
    pub expires_at: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct EntryList {
    pub entries: Vec<ListedEntry>,
    pub total: u64,
    pub has_more: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Popped {
    /// True when the stack was empty.
    pub empty: bool,
    pub entry: Option<EntryValue>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Deleted {
    pub deleted: u64,
}

fn is_image(entry: &Entry) -> bool {
    entry.content_type.starts_with("image/") && entry.encoding == "base64"
}

fn info(e: Entry) -> EntryInfo {
    EntryInfo {
        name: e.name,
        idx: e.idx,
        content_type: e.content_type,
        encoding: e.encoding,
        size_bytes: e.size_bytes,
        updated_at: e.updated_at,
        expires_at: e.expires_at,
    }
}

/// The entry with (a page of) its value, or with an image block instead of the value for
/// images (which are never cut: a 2 MiB image fits the result budget).
fn with_value(
    e: Entry,
    offset: u64,
    max_chars: u64,
    text_bytes: usize,
) -> (EntryValue, Option<ContentBlock>) {
    let image = is_image(&e).then(|| ContentBlock::image(e.value.clone(), e.content_type.clone()));
    let page = image
        .is_none()
        .then(|| budget::page_text(&e.value, offset, max_chars, text_bytes));
    let partial = page
        .as_ref()
        .is_some_and(|p| offset > 0 || p.next_offset.is_some());
    let value = EntryValue {
        value_chars: page.as_ref().filter(|_| partial).map(|p| p.total_chars),
        next_offset: page.as_ref().and_then(|p| p.next_offset),
        value: page.map(|p| p.text),
        name: e.name,
        idx: e.idx,
        content_type: e.content_type,
        encoding: e.encoding,
        size_bytes: e.size_bytes,
        created_by_model: e.created_by_model,
        updated_at: e.updated_at,
        expires_at: e.expires_at,
        note: None,
    };
    (value, image)
}

fn name_arg(field: &str, name: String) -> Result<String, ToolError> {
    limits::check_clipboard_name(&name).map_err(|rule| ToolError::invalid(field, rule))?;
    Ok(name)
}

/// The entry to read or delete.
fn key(name: Option<String>, idx: Option<i64>) -> Result<EntryKey, ToolError> {
    match (name, idx) {
        (Some(n), None) => Ok(EntryKey::Name(name_arg("name", n)?)),
        (None, Some(i)) => {
            limits::check_clipboard_read_idx(i).map_err(|rule| ToolError::invalid("idx", rule))?;
            Ok(EntryKey::Idx(i))
        }
        (Some(_), Some(_)) => Err(ToolError::invalid("name", "give name or idx, not both")),
        (None, None) => Err(ToolError::invalid(
            "name",
            "give the entry's name or its idx",
        )),
    }
}

impl Tools {
    /// Stores a popped entry whose value did not fit one result as a named entry, so no part
    /// of it is lost; returns the note that tells the model where it is.
    async fn keep_popped(
        &self,
        client: &crate::api::Client,
        ctx: &RequestContext<RoleServer>,
        popped: Entry,
        shown: &mut EntryValue,
    ) -> String {
        let name = format!(
            "popped-{}-{}",
            popped.idx.unwrap_or_default(),
            &popped
                .uuid
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(8)
                .collect::<String>()
        );
        let ttl = popped
            .expires_at
            .as_deref()
            .and_then(crate::clock::parse_iso)
            .map(|t| (t - chrono::Utc::now()).num_seconds().max(60) as u64);
        let entry = NewEntry {
            name: Some(name.clone()),
            value: popped.value,
            content_type: popped.content_type,
            encoding: popped.encoding,
            ttl_seconds: ttl,
            created_by_model: popped.created_by_model,
            created_by_tool: "clipboard_pop".into(),
            source: EntrySource::Mcp.as_str(),
            ..Default::default()
        };
        match cancellable(&ctx.ct, client.clipboard_set(&entry)).await {
            Ok(_) => {
                shown.name = Some(name.clone());
                format!(
                    "The value is longer than one result holds, so the whole entry was also saved as the named entry `{name}`: read the rest with clipboard_get name={name} offset={}, and delete it with clipboard_delete when done.",
                    shown.next_offset.unwrap_or_default()
                )
            }
            Err(e) => format!(
                "The value is longer than one result holds and could not be saved for paging ({e}); only the part shown here was recovered."
            ),
        }
    }

    /// Checks a value before it is sent and builds the entry (tagged source `mcp`).
    fn new_entry(
        &self,
        ctx: &RequestContext<RoleServer>,
        tool: &str,
        value: String,
        content_type: Option<String>,
        encoding: Option<Encoding>,
        ttl_seconds: Option<u64>,
    ) -> Result<NewEntry, ToolError> {
        if value.len() > MAX_VALUE_BYTES {
            return Err(ToolError::invalid(
                "value",
                format!(
                    "is {} bytes; the limit is 2 MiB ({MAX_VALUE_BYTES} bytes of UTF-8)",
                    value.len()
                ),
            ));
        }
        let content_type = content_type.unwrap_or_else(|| "text/plain".into());
        let valid_mime = content_type.len() <= 256
            && content_type.split_once('/').is_some_and(|(t, s)| {
                let ok = |p: &str| {
                    !p.is_empty()
                        && p.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-".contains(c))
                };
                ok(t) && ok(s.split(';').next().unwrap_or("").trim())
            });
        if !valid_mime {
            return Err(ToolError::invalid(
                "content_type",
                "must be a MIME type such as text/plain or image/png",
            ));
        }
        let encoding = encoding.unwrap_or_default();
        if content_type.starts_with("image/") && encoding != Encoding::Base64 {
            return Err(ToolError::invalid(
                "encoding",
                "image/* values must be base64 (set encoding to base64)",
            ));
        }
        if let Some(ttl) = ttl_seconds
            && !(1..=MAX_TTL_SECONDS).contains(&ttl)
        {
            return Err(ToolError::invalid(
                "ttl_seconds",
                format!("must be between 1 and {MAX_TTL_SECONDS}"),
            ));
        }
        Ok(NewEntry {
            value,
            content_type,
            encoding: encoding.as_str().into(),
            ttl_seconds,
            created_by_model: ctx.client_info().map(|c| c.name).filter(|n| !n.is_empty()),
            created_by_tool: tool.to_string(),
            source: EntrySource::Mcp.as_str(),
            ..Default::default()
        })
    }
}

#[tool_router(router = clipboard_tools, vis = "pub(crate)")]
impl Tools {
    /// Store a value under a name (overwrites; key-value memory) or at a stack index. Values up to 2 MiB; entries expire (default 24 h).
    #[tool(
        title = "Clipboard set",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn clipboard_set(
        &self,
        Parameters(p): Parameters<SetParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<EntryInfo>, ToolError> {
        if let Some(i) = p.idx {
            limits::check_clipboard_set_idx(i).map_err(|rule| ToolError::invalid("idx", rule))?;
        }
        let key = key(p.name, p.idx)?;
        let mut entry = self.new_entry(
            &ctx,
            "clipboard_set",
            p.value,
            p.content_type,
            p.encoding,
            p.ttl_seconds,
        )?;
        match key {
            EntryKey::Name(n) => entry.name = Some(n),
            EntryKey::Idx(i) => entry.idx = Some(i),
        }
        let saved = cancellable(&ctx.ct, self.client(&ctx)?.clipboard_set(&entry))
            .await
            .map_err(|e| {
                ToolError::api(
                    e,
                    "Use clipboard_push to add to the stack without choosing an index.",
                )
            })?;
        Ok(Json::new(info(saved)))
    }

    /// Read one entry by name or idx with its value (images as an image block); a value too long for one result is paged by offset/max_chars.
    #[tool(
        title = "Clipboard get",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn clipboard_get(
        &self,
        Parameters(p): Parameters<GetParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<EntryValue>, ToolError> {
        let key = key(p.name, p.idx)?;
        let max_chars = p.max_chars.unwrap_or(u64::MAX);
        if max_chars == 0 {
            return Err(ToolError::invalid("max_chars", "must be at least 1"));
        }
        let entry = cancellable(&ctx.ct, self.client(&ctx)?.clipboard_get(&key))
            .await
            .map_err(|e| ToolError::api(e, "clipboard_list shows the entries that exist."))?;
        let (value, image) = with_value(
            entry,
            p.offset.unwrap_or(0),
            max_chars,
            self.budget().text_bytes(),
        );
        Ok(Json::new(value).with_blocks(image))
    }

    /// List entries (newest first) with previews, not full values; use clipboard_get for a value.
    #[tool(
        title = "Clipboard list",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn clipboard_list(
        &self,
        Parameters(p): Parameters<ListParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<EntryList>, ToolError> {
        let limit = p.limit.unwrap_or(50);
        if !(1..=100).contains(&limit) {
            return Err(ToolError::invalid("limit", "must be between 1 and 100"));
        }
        let offset = p.offset.unwrap_or(0);
        let list = cancellable(
            &ctx.ct,
            self.client(&ctx)?
                .clipboard_list(p.content_type.as_deref(), limit, offset),
        )
        .await?;
        let entries: Vec<ListedEntry> = list
            .entries
            .into_iter()
            .map(|e| ListedEntry {
                preview: (!e.content_type.starts_with("image/")).then(|| {
                    let mut text = e.value.text;
                    if e.value.cut {
                        text.push('…');
                    }
                    text
                }),
                name: e.name,
                idx: e.idx,
                content_type: e.content_type,
                size_bytes: e.size_bytes,
                expires_at: e.expires_at,
            })
            .collect();
        Ok(Json::new(EntryList {
            has_more: u64::from(offset) + (entries.len() as u64) < list.total,
            total: list.total,
            entries,
        }))
    }

    /// Push a value on top of the stack (index = highest + 1); returns its idx.
    #[tool(
        title = "Clipboard push",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn clipboard_push(
        &self,
        Parameters(p): Parameters<PushParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<EntryInfo>, ToolError> {
        let entry = self.new_entry(
            &ctx,
            "clipboard_push",
            p.value,
            p.content_type,
            p.encoding,
            p.ttl_seconds,
        )?;
        let saved = cancellable(&ctx.ct, self.client(&ctx)?.clipboard_push(&entry)).await?;
        Ok(Json::new(info(saved)))
    }

    /// Remove and return the top of the stack (highest idx); empty=true when there is none. A value too long for one result is kept as a named entry (see note).
    #[tool(
        title = "Clipboard pop",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn clipboard_pop(
        &self,
        Parameters(_): Parameters<PopParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Popped>, ToolError> {
        let client = self.client(&ctx)?;
        let popped = cancellable(&ctx.ct, client.clipboard_pop()).await?;
        let Some(e) = popped else {
            return Ok(Json::new(Popped {
                empty: true,
                entry: None,
            }));
        };
        let keep = e.clone();
        let (mut value, image) = with_value(e, 0, u64::MAX, self.budget().text_bytes());
        if value.next_offset.is_some() {
            // The value is gone from the stack and too long for one result: rather than lose
            // the rest, store the whole entry under a name the model can page through.
            value.note = Some(self.keep_popped(&client, &ctx, keep, &mut value).await);
        }
        Ok(Json::new(Popped {
            empty: false,
            entry: Some(value),
        })
        .with_blocks(image))
    }

    /// Delete one entry by name or idx, or all entries with all=true.
    #[tool(
        title = "Clipboard delete",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn clipboard_delete(
        &self,
        Parameters(p): Parameters<DeleteParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Deleted>, ToolError> {
        let target = match (p.all, p.name, p.idx) {
            (true, None, None) => DeleteTarget::All,
            (true, _, _) => {
                return Err(ToolError::invalid(
                    "all",
                    "all=true deletes everything; do not also give name or idx",
                ));
            }
            (false, name, idx) => DeleteTarget::Key(key(name, idx)?),
        };
        let deleted = match cancellable(&ctx.ct, self.client(&ctx)?.clipboard_delete(&target)).await
        {
            Ok(n) => n,
            // Already gone is the outcome the caller wanted: report it, do not fail.
            Err(ApiError::NotFound { .. }) => 0,
            Err(e) => return Err(e.into()),
        };
        Ok(Json::new(Deleted { deleted }))
    }
}
