//! Turns free text (a search query or a question) into a safe FTS5 MATCH expression.
//!
//! User text is never passed to FTS5 as syntax: it is split into words, each word is quoted,
//! and the words are OR-ed so bm25 ranks documents that contain more of them higher.

/// Common English words that match nearly every document and only add noise to a ranking.
const STOP_WORDS: &[&str] = &[
    "a", "about", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from",
    "how", "i", "in", "is", "it", "me", "my", "of", "on", "or", "our", "should", "that", "the",
    "their", "there", "this", "to", "was", "we", "what", "when", "where", "which", "who", "why",
    "will", "with", "you", "your",
];

/// The words of `text`, lower-cased, in order, without duplicates.
pub fn words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
    {
        if !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

/// A MATCH expression for `text`, or `None` when it has no searchable words. Stop words are
/// dropped unless the text consists only of them.
pub fn match_expression(text: &str) -> Option<String> {
    let all = words(text);
    let significant: Vec<&String> = all
        .iter()
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .collect();
    let chosen: Vec<&String> = if significant.is_empty() {
        all.iter().collect()
    } else {
        significant
    };
    if chosen.is_empty() {
        return None;
    }
    Some(
        chosen
            .iter()
            .take(32)
            .map(|w| format!("\"{w}\""))
            .collect::<Vec<_>>()
            .join(" OR "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_words_and_drops_stop_words() {
        assert_eq!(
            match_expression("How do I deploy the agent?").as_deref(),
            Some("\"deploy\" OR \"agent\"")
        );
        assert_eq!(match_expression("the").as_deref(), Some("\"the\""));
        assert_eq!(match_expression("*** ()"), None);
        // FTS5 operators in user text stay words.
        assert_eq!(
            match_expression("NEAR AND\"x").as_deref(),
            Some("\"near\" OR \"x\"")
        );
    }
}
