//! Limits of the Plugged.in API (its document and clipboard rules), and the sizes derived
//! from them.
//!
//! Where the cloud has no limit but an unlimited value breaks something (a URL too long, a
//! stack index that overflows on the next push), both layers apply the rule written here and
//! say so in their error.

/// Largest clipboard value, in UTF-8 bytes of the string as sent (cloud: 2 MiB).
pub const CLIPBOARD_VALUE_MAX_BYTES: usize = 2 * 1024 * 1024;

/// Clipboard entry names: 1 to 255 characters. The cloud accepts `""`, but then cannot tell
/// a read of that name from a list (`?name=` is treated as absent), so both layers refuse it.
pub const CLIPBOARD_NAME_MAX_CHARS: usize = 255;

/// Stack indexes that `set` may write: 0 to one billion. The cloud stores any 32-bit integer,
/// but an index near the top makes every later push overflow (`max + 1`), so both layers keep
/// room above the highest settable index. Reads accept any 32-bit integer.
pub const CLIPBOARD_IDX_SET_MAX: i64 = 1_000_000_000;

/// The cloud's column type for stack indexes (Postgres `integer`).
pub const CLIPBOARD_IDX_READ_RANGE: std::ops::RangeInclusive<i64> =
    (i32::MIN as i64)..=(i32::MAX as i64);

/// Longest clipboard lifetime a tool accepts (the cloud has no maximum).
pub const CLIPBOARD_TTL_MAX_SECONDS: u64 = 365 * 24 * 3600;

/// Characters of a clipboard value a list answer carries (the cloud cuts `image/*` values to
/// this; the embedded API cuts every value, in SQL, so a list never loads whole values).
pub const CLIPBOARD_LIST_VALUE_CHARS: usize = 1000;

/// Tags on a document, and in a list or search filter (cloud: at most 20 on create).
pub const TAGS_MAX: usize = 20;

/// Characters in one tag.
pub const TAG_MAX_CHARS: usize = 100;

/// Document titles: 1 to 255 characters.
pub const DOC_TITLE_MAX_CHARS: usize = 255;

/// Largest body of a document create (cloud: `Content-Length` above 10 MiB is a 413).
pub const DOC_CREATE_BODY_MAX_BYTES: usize = 10 * 1024 * 1024;

/// Longest document update content, in UTF-16 code units as JavaScript counts a string's
/// length (cloud: 10,000,000).
pub const DOC_UPDATE_MAX_UNITS: usize = 10_000_000;

/// Search queries: 1 to 500 characters.
pub const SEARCH_QUERY_MAX_CHARS: usize = 500;

/// Largest `metadata` of a memory observation, as JSON. The cloud takes any object
/// (`z.record(z.unknown())`), but an observation is read back with its session, whose
/// reading must fit one result: both layers refuse more than this.
pub const MEMORY_METADATA_MAX_BYTES: usize = 16 * 1024;

/// Knowledge-base questions: 1 to 1000 characters.
pub const RAG_QUESTION_MAX_CHARS: usize = 1000;

/// How much JSON encoding can grow a string: a control character becomes `\u0000` (six bytes
/// for one), and clients that escape non-ASCII text write six bytes per UTF-16 unit.
pub const JSON_ESCAPE_GROWTH: usize = 6;

/// Room for everything around the largest value in a request: the JSON-RPC envelope, the
/// other arguments, `_meta`.
pub const ENVELOPE_BYTES: usize = 1024 * 1024;

/// The largest request body the embedded API reads: the largest value the API accepts (a
/// document update's content) at its worst-case JSON escaping, plus the envelope, as the
/// cloud takes it.
pub const API_MAX_BODY_BYTES: usize = DOC_UPDATE_MAX_UNITS * JSON_ESCAPE_GROWTH + ENVELOPE_BYTES;

/// The largest MCP request an MCP transport reads (an HTTP body, a stdio line): the largest
/// document Plugged.in creates in one request (10 MiB) with room for ordinary escaping and
/// the envelope. A value near the API's update limit escaped character by character (10
/// million `\uXXXX`) does not fit: such a text goes in parts (`update_doc` with
/// `operation: append`). Chosen so that the memory a request can take stays a small multiple
/// of a small number (see the transport's body budget and the README's limits).
pub const MAX_REQUEST_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Most JSON values (items and keys, objects and arrays weighed by what they take: see
/// [`crate::frames::json_values`]) one MCP message from a client may hold, on any transport.
/// A value takes 32 bytes and more once decoded, on each of the few copies a message goes
/// through, while `0,` takes two in the text: a 16 MiB body of `[0,0,…]` peaked at 1.6 GB
/// before this. What clients send (arguments, answers to a server's questions) comes
/// nowhere near it; texts, however long, are one value.
pub const MAX_JSON_VALUES: usize = 262_144;

/// The same where tool lists travel: a line a hub's server sends, a body the embedded API
/// reads (it takes the hub's catalog reports). One of our own tools with its schemas weighs
/// about 230, so this holds a list of some 4,000 such tools.
pub const MAX_LISTING_JSON_VALUES: usize = 4 * MAX_JSON_VALUES;

// The body limits fit what each server must take, checked when the crate compiles: the
// embedded API the largest value at its worst-case escaping, as the cloud; MCP the largest
// document create and clipboard value, ordinarily escaped.
const _: () = assert!(API_MAX_BODY_BYTES > DOC_UPDATE_MAX_UNITS * JSON_ESCAPE_GROWTH);
const _: () = assert!(MAX_REQUEST_BODY_BYTES > DOC_CREATE_BODY_MAX_BYTES + ENVELOPE_BYTES);
const _: () = assert!(MAX_REQUEST_BODY_BYTES > CLIPBOARD_VALUE_MAX_BYTES * JSON_ESCAPE_GROWTH);

/// Checks a tag list: at most [`TAGS_MAX`] tags of 1 to [`TAG_MAX_CHARS`] characters.
/// Returns the rule that failed.
pub fn check_tags(tags: &[String]) -> Result<(), String> {
    if tags.len() > TAGS_MAX {
        return Err(format!("at most {TAGS_MAX} tags, got {}", tags.len()));
    }
    if let Some(bad) = tags
        .iter()
        .find(|t| t.trim().is_empty() || t.chars().count() > TAG_MAX_CHARS)
    {
        return Err(format!(
            "each tag must be 1 to {TAG_MAX_CHARS} characters, got {:?}",
            crate::text::truncate(bad, 40)
        ));
    }
    Ok(())
}

/// Checks a clipboard name. Returns the rule that failed.
pub fn check_clipboard_name(name: &str) -> Result<(), String> {
    let chars = name.chars().count();
    if chars == 0 || chars > CLIPBOARD_NAME_MAX_CHARS {
        return Err(format!(
            "must be 1 to {CLIPBOARD_NAME_MAX_CHARS} characters, got {chars}"
        ));
    }
    Ok(())
}

/// Checks a stack index given to `set`. Returns the rule that failed.
pub fn check_clipboard_set_idx(idx: i64) -> Result<(), String> {
    if !(0..=CLIPBOARD_IDX_SET_MAX).contains(&idx) {
        return Err(format!(
            "must be between 0 and {CLIPBOARD_IDX_SET_MAX} (higher indexes are left for clipboard_push)"
        ));
    }
    Ok(())
}

/// Checks a stack index used to read or delete. Returns the rule that failed.
pub fn check_clipboard_read_idx(idx: i64) -> Result<(), String> {
    if !CLIPBOARD_IDX_READ_RANGE.contains(&idx) {
        return Err(format!(
            "must be a 32-bit integer ({} to {})",
            i32::MIN,
            i32::MAX
        ));
    }
    Ok(())
}

/// The length of `s` once JSON-encoded by serde_json (quotes included): what it costs in a
/// request or result body.
pub fn json_len(s: &str) -> usize {
    2 + s.bytes().map(json_byte_len).sum::<usize>()
}

/// What one byte of UTF-8 costs once JSON-encoded by serde_json: escapes are all ASCII, and
/// every byte of a multi-byte character is copied as is.
#[inline]
pub fn json_byte_len(b: u8) -> usize {
    match b {
        b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
        0x00..=0x1f => 6,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_len_matches_serde_json() {
        for s in [
            "",
            "plain",
            "quote\" back\\slash",
            "\u{1}\u{1f}\n\t",
            "héllo 😀",
        ] {
            assert_eq!(
                json_len(s),
                serde_json::to_string(s).unwrap().len(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn rules_name_their_limits() {
        assert!(
            check_tags(&vec!["a".into(); 21])
                .unwrap_err()
                .contains("20")
        );
        assert!(check_tags(&["".into()]).is_err());
        assert!(check_tags(&["ok".into()]).is_ok());
        assert!(check_clipboard_name("").is_err());
        assert!(check_clipboard_name(&"x".repeat(256)).is_err());
        assert!(check_clipboard_set_idx(i64::MAX).is_err());
        assert!(check_clipboard_set_idx(-1).is_err());
        assert!(check_clipboard_set_idx(7).is_ok());
        assert!(check_clipboard_read_idx(-5).is_ok());
        assert!(check_clipboard_read_idx(i64::MAX).is_err());
    }
}
