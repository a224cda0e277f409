//! One byte budget for every tool result, enforced in one place ([`fit`], called by
//! `call_tool` for every tool). Tools with their own paging (`get_doc`, `clipboard_get`) cut
//! their content to fit first and say where to continue; this is the net under all of them.
//!
//! What counts: the structured content as JSON (its text copy in `content` is the same JSON
//! and is rebuilt from it) plus every other content block. A result over the budget has its
//! longest strings shortened and then its longest lists cut, keeps the shape its output schema
//! promises, and says what was cut: in a text block the model reads and in
//! `_meta["pluggedin/truncated"]`.

use rmcp::model::{CallToolResult, ContentBlock, MetaObject};
use serde_json::{Value, json};

/// The default largest tool result: 4 MiB. Room for the largest value the API stores (a
/// 2 MiB clipboard entry, image or text) with its metadata; far above what a default page
/// returns. `--max-result-bytes` changes it (smaller suits models with small contexts).
pub const RESULT_BUDGET_BYTES: usize = 4 * 1024 * 1024;

/// The smallest budget that still holds a useful page and the notes about it.
pub const MIN_RESULT_BUDGET_BYTES: usize = 16 * 1024;

/// The byte budget of every result a server gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub bytes: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            bytes: RESULT_BUDGET_BYTES,
        }
    }
}

impl Budget {
    pub fn new(bytes: usize) -> Self {
        Self {
            bytes: bytes.max(MIN_RESULT_BUDGET_BYTES),
        }
    }

    /// Bytes one long text of a result may take (content, a clipboard value): the budget
    /// less room for the result's other fields.
    pub fn text_bytes(self) -> usize {
        self.bytes - (self.bytes / 4).min(64 * 1024)
    }

    /// `4 MiB`, or the exact figure when it is not a whole number of MiB.
    pub fn describe(self) -> String {
        if self.bytes.is_multiple_of(1024 * 1024) {
            format!("{} MiB", self.bytes / (1024 * 1024))
        } else {
            format!("{} bytes", self.bytes)
        }
    }
}

/// A piece of a long text, by characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextPage {
    pub text: String,
    /// Characters in the whole text.
    pub total_chars: u64,
    /// Where the next piece starts, when this one stopped short of the end.
    pub next_offset: Option<u64>,
}

/// Characters `offset..offset + max_chars` of `text`, stopping earlier if their JSON would
/// pass `max_json_bytes`, so a tool's own paging keeps its result within the budget.
pub fn page_text(text: &str, offset: u64, max_chars: u64, max_json_bytes: usize) -> TextPage {
    use crate::vocab::limits::json_byte_len;
    // One pass over the bytes: a byte that is not a UTF-8 continuation starts a character.
    let bytes = text.as_bytes();
    let mut chars = 0u64;
    let (mut start, mut stop) = (None, None);
    let mut used = 2;
    for (at, &b) in bytes.iter().enumerate() {
        let starts_char = b & 0xC0 != 0x80;
        if starts_char {
            if chars == offset {
                start = Some(at);
            }
            if start.is_some()
                && stop.is_none()
                && (chars - offset >= max_chars || used + char_cost(&bytes[at..]) > max_json_bytes)
            {
                stop = Some((at, chars));
            }
            chars += 1;
        }
        if start.is_some() && stop.is_none() {
            used += json_byte_len(b);
        }
    }
    let from = start.unwrap_or(bytes.len());
    let (to, end) = stop.unwrap_or((bytes.len(), chars));
    TextPage {
        text: text[from..to].to_string(),
        total_chars: chars,
        next_offset: (end < chars).then_some(end),
    }
}

/// The JSON cost of the character that starts `rest`.
fn char_cost(rest: &[u8]) -> usize {
    let len = match rest[0] {
        b if b < 0x80 => 1,
        b if b >= 0xF0 => 4,
        b if b >= 0xE0 => 3,
        _ => 2,
    };
    rest[..len.min(rest.len())]
        .iter()
        .map(|&b| crate::vocab::limits::json_byte_len(b))
        .sum()
}

/// The `_meta` key that marks a cut result.
pub const TRUNCATED_META: &str = "pluggedin/truncated";

/// What was cut to make a result fit.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Cuts(Vec<String>);

impl Cuts {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Makes `result` fit the budget; returns what was cut (empty when it already fit).
pub fn fit(result: &mut CallToolResult, limit: Budget, paging_hint: &str) -> Cuts {
    let budget = limit.bytes;
    let mirror = mirrors_structured(result);
    let mut cuts = Cuts::default();
    let blocks_start = usize::from(mirror);
    let block_bytes = |r: &CallToolResult| -> usize {
        r.content[blocks_start.min(r.content.len())..]
            .iter()
            .map(block_size)
            .sum()
    };
    let structured_bytes = |r: &CallToolResult| {
        r.structured_content
            .as_ref()
            .map_or(0, |v| serde_json::to_string(v).map_or(0, |s| s.len()))
    };
    if structured_bytes(result) + block_bytes(result) <= budget {
        return cuts;
    }
    // Leave room for the note and the `_meta` marker.
    let budget = budget.saturating_sub(4096);
    // Other blocks first: an image that cannot fit is replaced by a line saying so.
    let mut room = budget.saturating_sub(structured_bytes(result).min(budget / 2));
    for block in result.content.iter_mut().skip(blocks_start) {
        let size = block_size(block);
        if size <= room {
            room -= size;
            continue;
        }
        match &mut *block {
            ContentBlock::Text(t) => {
                let keep = room.saturating_sub(64);
                let (cut, total) = cut_chars(&mut t.text, keep);
                cuts.0
                    .push(format!("a text block cut from {total} to {cut} characters"));
                room = room.saturating_sub(t.text.len());
            }
            other => {
                let what = match &*other {
                    ContentBlock::Image(i) => format!("an image of {} bytes", i.data.len()),
                    ContentBlock::Audio(a) => format!("audio of {} bytes", a.data.len()),
                    _ => "an embedded resource".to_string(),
                };
                cuts.0.push(format!("{what} left out"));
                *block = ContentBlock::text(format!("[{what} left out: over the result limit]"));
            }
        }
    }
    let others = block_bytes(result);
    if let Some(value) = result.structured_content.as_mut() {
        let allowed = budget.saturating_sub(others);
        shrink(value, allowed, &mut cuts);
    }
    if mirror
        && let Some(value) = &result.structured_content
        && let Some(first) = result.content.first_mut()
    {
        *first = ContentBlock::text(value.to_string());
    }
    if !cuts.is_empty() {
        let note = format!(
            "This result was cut to fit the {} result limit: {}.{}",
            limit.describe(),
            cuts.0.join("; "),
            if paging_hint.is_empty() {
                String::new()
            } else {
                format!(" {paging_hint}")
            }
        );
        result.content.push(ContentBlock::text(note));
        let mut meta = result.meta.take().unwrap_or_default();
        meta.0.insert(
            TRUNCATED_META.into(),
            json!({ "limitBytes": limit.bytes, "cut": cuts.0 }),
        );
        result.meta = Some(MetaObject(meta.0));
    }
    cuts
}

/// Whether the first block is the text copy of the structured content.
pub(crate) fn mirrors_structured(result: &CallToolResult) -> bool {
    let Some(value) = &result.structured_content else {
        return false;
    };
    match result.content.first() {
        Some(ContentBlock::Text(t)) => {
            t.text.len() == serde_json::to_string(value).map_or(0, |s| s.len())
        }
        _ => false,
    }
}

fn block_size(block: &ContentBlock) -> usize {
    match block {
        ContentBlock::Text(t) => t.text.len(),
        ContentBlock::Image(i) => i.data.len(),
        ContentBlock::Audio(a) => a.data.len(),
        other => serde_json::to_string(other).map_or(0, |s| s.len()),
    }
}

/// Cuts `text` to at most `max_bytes` (on a character boundary); returns the character
/// counts after and before.
fn cut_chars(text: &mut String, max_bytes: usize) -> (usize, usize) {
    let total = text.chars().count();
    if text.len() > max_bytes {
        let mut at = max_bytes;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.truncate(at);
    }
    (text.chars().count(), total)
}

/// Shrinks `value` until its JSON is at most `allowed` bytes: first every string longer than
/// a common cap is cut to it (the cap chosen so that all cuts together remove the excess:
/// long strings lose the most, short ones nothing), then, if many small items still do not
/// fit, the longest lists lose items from their end.
fn shrink(value: &mut Value, allowed: usize, cuts: &mut Cuts) {
    let size = serde_json::to_string(value).map_or(0, |s| s.len());
    if size <= allowed {
        return;
    }
    let mut strings = Vec::new();
    collect_strings(value, String::new(), &mut strings);
    let excess = size - allowed;
    // The smallest cap whose cuts remove the excess, by bisection over string lengths.
    let removed_at = |cap: usize| -> usize {
        strings
            .iter()
            .map(|(_, len)| len.saturating_sub(cap.max(MIN_KEPT)))
            .sum()
    };
    let longest = strings.iter().map(|(_, len)| *len).max().unwrap_or(0);
    if longest > MIN_KEPT && removed_at(MIN_KEPT) > 0 {
        let (mut low, mut high) = (MIN_KEPT, longest);
        while low < high {
            let mid = low + (high - low).div_ceil(2);
            if removed_at(mid) >= excess + 64 * strings.len().min(64) {
                low = mid;
            } else {
                high = mid - 1;
            }
        }
        let cap = low;
        for (path, len) in &strings {
            if *len > cap
                && let Some(Value::String(s)) = pointer_mut(value, path)
            {
                let (kept, total) = cut_json_chars(s, cap);
                cuts.0.push(format!(
                    "`{}` cut from {total} to {kept} characters",
                    display_path(path)
                ));
            }
        }
    }
    // Many small items: drop from the end of the largest list until it fits.
    for _ in 0..32 {
        let size = serde_json::to_string(value).map_or(0, |s| s.len());
        if size <= allowed {
            return;
        }
        let excess = size - allowed;
        let mut arrays = Vec::new();
        collect_arrays(value, String::new(), &mut arrays);
        let Some((path, bytes, count)) = arrays
            .into_iter()
            .filter(|(_, _, count)| *count > 0)
            .max_by_key(|(_, bytes, _)| *bytes)
        else {
            return;
        };
        let per_item = (bytes / count).max(1);
        let drop = excess.div_ceil(per_item).clamp(1, count);
        if let Some(Value::Array(items)) = pointer_mut(value, &path) {
            items.truncate(count - drop);
            cuts.0.push(format!(
                "`{}` cut from {count} to {} items",
                display_path(&path),
                count - drop
            ));
        }
    }
}

/// A string is never cut below this many bytes (a cut id or name would only mislead).
const MIN_KEPT: usize = 256;

/// Cuts a string to about `max_bytes` of JSON (escapes counted), on a character boundary;
/// returns the characters kept and before.
fn cut_json_chars(s: &mut String, max_bytes: usize) -> (usize, usize) {
    let page = page_text(s, 0, u64::MAX, max_bytes + 2);
    let kept = page.text.len();
    let counts = (page.text.chars().count(), page.total_chars as usize);
    s.truncate(kept);
    counts
}

fn collect_strings(value: &Value, path: String, out: &mut Vec<(String, usize)>) {
    match value {
        // Bytes once JSON-encoded: escapes count.
        Value::String(s) => out.push((path, crate::vocab::limits::json_len(s) - 2)),
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                collect_strings(v, format!("{path}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                collect_strings(v, format!("{path}/{}", escape_pointer(k)), out);
            }
        }
        _ => {}
    }
}

fn collect_arrays(value: &Value, path: String, out: &mut Vec<(String, usize, usize)>) {
    match value {
        Value::Array(items) => {
            let bytes = serde_json::to_string(value).map_or(0, |s| s.len());
            out.push((path.clone(), bytes, items.len()));
            for (i, v) in items.iter().enumerate() {
                collect_arrays(v, format!("{path}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                collect_arrays(v, format!("{path}/{}", escape_pointer(k)), out);
            }
        }
        _ => {}
    }
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn pointer_mut<'v>(value: &'v mut Value, path: &str) -> Option<&'v mut Value> {
    if path.is_empty() {
        Some(value)
    } else {
        value.pointer_mut(path)
    }
}

/// `/lines/3/message` → `lines[3].message`.
fn display_path(path: &str) -> String {
    let mut out = String::new();
    for part in path.split('/').skip(1) {
        let part = part.replace("~1", "/").replace("~0", "~");
        if part.chars().all(|c| c.is_ascii_digit()) && !part.is_empty() {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&part);
        }
    }
    if out.is_empty() {
        "the result".into()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(r: &CallToolResult) -> usize {
        serde_json::to_string(r).unwrap().len()
    }

    #[test]
    fn pages_count_characters_and_respect_the_byte_limit() {
        let page = page_text("héllo wörld", 0, 5, usize::MAX);
        assert_eq!(
            (page.text.as_str(), page.total_chars, page.next_offset),
            ("héllo", 11, Some(5))
        );
        let rest = page_text("héllo wörld", 6, 100, usize::MAX);
        assert_eq!((rest.text.as_str(), rest.next_offset), ("wörld", None));
        assert_eq!(page_text("abc", 10, 5, usize::MAX).text, "");
        // Six bytes per control character once escaped: 20 bytes hold three of them.
        let tight = page_text(&"\u{1}".repeat(10), 0, 100, 20);
        assert_eq!(
            (tight.text.chars().count(), tight.next_offset),
            (3, Some(3))
        );
    }

    #[test]
    fn a_small_result_is_untouched() {
        let mut r = CallToolResult::structured(json!({"a": "b"}));
        let before = r.clone();
        assert!(fit(&mut r, Budget { bytes: 1000 }, "").is_empty());
        assert_eq!(r, before);
    }

    #[test]
    fn long_strings_are_cut_and_the_cut_is_marked() {
        let mut r = CallToolResult::structured(json!({
            "id": "x", "content": "é".repeat(200_000), "versions": [{"summary": "s".repeat(50_000)}]
        }));
        let cuts = fit(&mut r, Budget { bytes: 100_000 }, "Page with offset.");
        assert!(!cuts.is_empty());
        // Structured content and its text copy each fit; the note and marker are there.
        let structured = serde_json::to_string(r.structured_content.as_ref().unwrap()).unwrap();
        assert!(structured.len() <= 100_000, "{}", structured.len());
        assert_eq!(r.structured_content.as_ref().unwrap()["id"], "x");
        let note = r.content.last().unwrap().as_text().unwrap().text.clone();
        assert!(note.contains("`content` cut from 200000"), "{note}");
        assert!(note.contains("Page with offset."));
        assert!(r.meta.as_ref().unwrap().0.contains_key(TRUNCATED_META));
        assert!(size(&r) < 2 * 100_000 + 10_000);
    }

    #[test]
    fn many_small_items_are_dropped_from_the_end() {
        let lines: Vec<Value> = (0..50_000)
            .map(|i| json!({"message": format!("line {i}")}))
            .collect();
        let mut r = CallToolResult::structured(json!({ "lines": lines }));
        fit(&mut r, Budget { bytes: 200_000 }, "");
        let kept = r.structured_content.as_ref().unwrap()["lines"]
            .as_array()
            .unwrap()
            .len();
        assert!(kept > 1000 && kept < 50_000, "{kept}");
        assert_eq!(
            r.structured_content.as_ref().unwrap()["lines"][0]["message"],
            "line 0"
        );
    }

    #[test]
    fn an_image_that_cannot_fit_is_replaced_by_a_line() {
        let mut r = CallToolResult::structured(json!({"name": "pic"}));
        r.content
            .push(ContentBlock::image("A".repeat(300_000), "image/png"));
        fit(&mut r, Budget { bytes: 100_000 }, "");
        assert!(size(&r) < 100_000);
        assert!(r.content.iter().any(|b| {
            b.as_text()
                .is_some_and(|t| t.text.contains("image of 300000 bytes"))
        }));
    }

    #[test]
    fn escape_heavy_strings_count_their_escapes() {
        let mut r = CallToolResult::structured(json!({"value": "\u{1}".repeat(100_000)}));
        fit(&mut r, Budget { bytes: 100_000 }, "");
        let structured = serde_json::to_string(r.structured_content.as_ref().unwrap()).unwrap();
        assert!(structured.len() <= 100_000, "{}", structured.len());
    }
}
