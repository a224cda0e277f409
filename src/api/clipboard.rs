//! Clipboard calls: named entries (upserted by name) and a stack (push takes the highest
//! index + 1, pop removes the highest). Writes are tagged `source: "mcp"`.
//!
//! Answers are decoded strictly: an entry needs its `uuid` and `value`, a list its `entries`,
//! so an answer of another shape is an error, never an empty success.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ApiError, Client, Preview, Request, lenient_u64};
use crate::clock::de_iso_opt;

/// Characters of each value a list decodes (what `clipboard_list` shows as a preview).
pub const LIST_PREVIEW_CHARS: usize = 100;

fn text_plain() -> String {
    "text/plain".into()
}

fn utf8() -> String {
    "utf-8".into()
}

/// One entry with its whole value.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub uuid: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub idx: Option<i64>,
    pub value: String,
    #[serde(default = "text_plain")]
    pub content_type: String,
    #[serde(default = "utf8")]
    pub encoding: String,
    #[serde(default)]
    pub size_bytes: Option<u64>,
    #[serde(default)]
    pub created_by_model: Option<String>,
    #[serde(default, deserialize_with = "de_iso_opt")]
    pub created_at: Option<String>,
    #[serde(default, deserialize_with = "de_iso_opt")]
    pub updated_at: Option<String>,
    #[serde(default, deserialize_with = "de_iso_opt")]
    pub expires_at: Option<String>,
}

/// An entry as a list shows it: the value cut to [`LIST_PREVIEW_CHARS`] while decoding.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedEntry {
    pub uuid: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub idx: Option<i64>,
    pub value: Preview<LIST_PREVIEW_CHARS>,
    #[serde(default = "text_plain")]
    pub content_type: String,
    #[serde(default = "utf8")]
    pub encoding: String,
    #[serde(default)]
    pub size_bytes: Option<u64>,
    #[serde(default, deserialize_with = "de_iso_opt")]
    pub expires_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EntryList {
    pub entries: Vec<ListedEntry>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub total: u64,
}

/// Which entry: by name or by stack index.
#[derive(Debug, Clone)]
pub enum EntryKey {
    Name(String),
    Idx(i64),
}

/// The body of a set or push.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idx: Option<i64>,
    pub value: String,
    pub content_type: String,
    pub encoding: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by_model: Option<String>,
    pub created_by_tool: String,
    pub source: &'static str,
}

#[derive(Debug, Clone, Deserialize)]
struct EntryReply {
    entry: Entry,
}

#[derive(Debug, Clone, Deserialize)]
struct Deleted {
    deleted: u64,
}

/// What to delete.
#[derive(Debug, Clone)]
pub enum DeleteTarget {
    Key(EntryKey),
    All,
}

impl Client {
    pub async fn clipboard_get(&self, key: &EntryKey) -> Result<Entry, ApiError> {
        let req = match key {
            EntryKey::Name(n) => Request::get(&["api", "clipboard"]).query("name", n),
            EntryKey::Idx(i) => Request::get(&["api", "clipboard"]).query("idx", i),
        };
        Ok(self.json::<EntryReply>(req).await?.entry)
    }

    pub async fn clipboard_list(
        &self,
        content_type: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<EntryList, ApiError> {
        let mut req = Request::get(&["api", "clipboard"])
            .query("limit", limit)
            .query("offset", offset);
        if let Some(t) = content_type {
            req = req.query("contentType", t);
        }
        // Streamed: the cloud sends whole values (up to 2 MiB each); only previews are kept.
        self.json_streamed(req).await
    }

    /// Upsert by name, or insert at an index (409 when taken).
    pub async fn clipboard_set(&self, entry: &NewEntry) -> Result<Entry, ApiError> {
        let req = Request::post(&["api", "clipboard"], json!(entry));
        Ok(self.json::<EntryReply>(req).await?.entry)
    }

    pub async fn clipboard_push(&self, entry: &NewEntry) -> Result<Entry, ApiError> {
        let mut body = json!(entry);
        if let Value::Object(m) = &mut body {
            m.remove("name");
            m.remove("idx");
        }
        Ok(self
            .json::<EntryReply>(Request::post(&["api", "clipboard", "push"], body))
            .await?
            .entry)
    }

    /// Removes and returns the top of the stack; `None` when the stack is empty.
    pub async fn clipboard_pop(&self) -> Result<Option<Entry>, ApiError> {
        match self
            .json::<EntryReply>(Request::post(&["api", "clipboard", "pop"], json!({})))
            .await
        {
            Ok(r) => Ok(Some(r.entry)),
            Err(ApiError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Returns how many entries were deleted.
    pub async fn clipboard_delete(&self, target: &DeleteTarget) -> Result<u64, ApiError> {
        let body = match target {
            DeleteTarget::Key(EntryKey::Name(n)) => json!({ "name": n }),
            DeleteTarget::Key(EntryKey::Idx(i)) => json!({ "idx": i }),
            DeleteTarget::All => json!({ "clearAll": true }),
        };
        Ok(self
            .json::<Deleted>(Request::delete(&["api", "clipboard"]).body(body))
            .await?
            .deleted)
    }
}
