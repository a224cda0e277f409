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

/// Largest tool result: 4 MiB. Room for the largest value the API stores (a 2 MiB clipboard
/// entry, image or text) with its metadata; far above what a default page returns.
pub const RESULT_BUDGET_BYTES: usize = 4 * 1024 * 1024;

/// Bytes of a result one long text may take (content, a clipboard value): the budget less
/// room for the result's other fields.
pub const TEXT_BUDGET_BYTES: usize = RESULT_BUDGET_BYTES - 64 * 1024;

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
    let mut total = 0u64;
    let mut piece = String::new();
    let mut used = 2;
    let mut end = offset;
    let mut full = false;
    for c in text.chars() {
        total += 1;
        if total <= offset || full {
            continue;
        }
        let cost = crate::vocab::limits::json_len(c.encode_utf8(&mut [0; 4])) - 2;
        if end - offset >= max_chars || used + cost > max_json_bytes {
            full = true;
            continue;
        }
        used += cost;
        piece.push(c);
        end += 1;
    }
    TextPage {
        text: piece,
        total_chars: total,
        next_offset: (end < total).then_some(end),
    }
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

/// Makes `result` fit `budget` bytes; returns what was cut (empty when it already fit).
pub fn fit(result: &mut CallToolResult, budget: usize, paging_hint: &str) -> Cuts {
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
            "This result was cut to fit the {} MiB result limit: {}.{}",
            RESULT_BUDGET_BYTES / (1024 * 1024),
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
            json!({ "limitBytes": RESULT_BUDGET_BYTES, "cut": cuts.0 }),
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

/// Shrinks `value` until its JSON is at most `allowed` bytes: the longest strings first
/// (each cut to what the excess requires), then the longest arrays from the end.
fn shrink(value: &mut Value, allowed: usize, cuts: &mut Cuts) {
    // Each round removes at least the current excess from one place, so a few rounds do;
    // the bound only guards against a pathological shape.
    for _ in 0..64 {
        let size = serde_json::to_string(value).map_or(0, |s| s.len());
        if size <= allowed {
            return;
        }
        let excess = size - allowed;
        let mut strings = Vec::new();
        collect_strings(value, String::new(), &mut strings);
        strings.sort_by_key(|(_, len)| std::cmp::Reverse(*len));
        if let Some((path, len)) = strings.first().cloned()
            && len > 256
        {
            let target = len.saturating_sub(excess + 64).max(128);
            if let Some(Value::String(s)) = pointer_mut(value, &path) {
                let (kept, total) = cut_json_chars(s, target);
                cuts.0.push(format!(
                    "`{}` cut from {total} to {kept} characters",
                    display_path(&path)
                ));
            }
            continue;
        }
        let mut arrays = Vec::new();
        collect_arrays(value, String::new(), &mut arrays);
        arrays.sort_by_key(|(_, bytes, _)| std::cmp::Reverse(*bytes));
        let Some((path, bytes, count)) = arrays.first().cloned() else {
            return;
        };
        if count == 0 {
            return;
        }
        let per_item = bytes / count;
        let drop = excess.div_ceil(per_item.max(1)).clamp(1, count);
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

/// Cuts a string to about `max_bytes` of JSON (escapes counted), on a character boundary.
fn cut_json_chars(s: &mut String, max_bytes: usize) -> (usize, usize) {
    let total = s.chars().count();
    let mut used = 0;
    let mut end = s.len();
    let mut kept = 0;
    for (at, c) in s.char_indices() {
        used += crate::vocab::limits::json_len(c.encode_utf8(&mut [0; 4])) - 2;
        if used > max_bytes {
            end = at;
            break;
        }
        kept += 1;
    }
    s.truncate(end);
    (kept, total)
}

fn collect_strings(value: &Value, path: String, out: &mut Vec<(String, usize)>) {
    match value {
        Value::String(s) => out.push((path, s.len())),
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
        assert!(fit(&mut r, 1000, "").is_empty());
        assert_eq!(r, before);
    }

    #[test]
    fn long_strings_are_cut_and_the_cut_is_marked() {
        let mut r = CallToolResult::structured(json!({
            "id": "x", "content": "é".repeat(200_000), "versions": [{"summary": "s".repeat(50_000)}]
        }));
        let cuts = fit(&mut r, 100_000, "Page with offset.");
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
        fit(&mut r, 200_000, "");
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
        fit(&mut r, 100_000, "");
        assert!(size(&r) < 100_000);
        assert!(r.content.iter().any(|b| {
            b.as_text()
                .is_some_and(|t| t.text.contains("image of 300000 bytes"))
        }));
    }

    #[test]
    fn escape_heavy_strings_count_their_escapes() {
        let mut r = CallToolResult::structured(json!({"value": "\u{1}".repeat(100_000)}));
        fit(&mut r, 100_000, "");
        let structured = serde_json::to_string(r.structured_content.as_ref().unwrap()).unwrap();
        assert!(structured.len() <= 100_000, "{}", structured.len());
    }
}
