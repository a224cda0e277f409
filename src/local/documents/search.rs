//! `POST /api/documents/search`: ranked full-text search over title, description and content
//! (Plugged.in searches title and description only), with scores in Plugged.in's range.

use axum::{extract::State, response::Response};
use rusqlite::{OptionalExtension, ToSql, params, params_from_iter};
use serde::Deserialize;
use serde_json::json;

use super::{
    list::{Filters, like_pattern},
    rows::{Doc, attributions, prefixed_columns},
};
use crate::local::{
    AppState, fts,
    http::{Body, ErrorResponse, HttpResult, ok},
};

#[derive(Deserialize)]
struct SearchBody {
    query: Option<String>,
    #[serde(default)]
    filters: Option<Filters>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// A score in the cloud's range: there it is Postgres `ts_rank` (0 to 1) plus 0.5 when the
/// title matches. Here the text part is bm25 (negative, lower is better, unbounded), which
/// `x / (1 + x)` maps into 0..1 the same way round.
fn relevance(bm25: f64, title_hit: bool) -> f64 {
    let text = (-bm25).max(0.0);
    let score = text / (1.0 + text) + if title_hit { 0.5 } else { 0.0 };
    (score * 1000.0).round() / 1000.0
}

/// ±50 characters around the first case-insensitive occurrence of `needle`, or `None`.
fn snippet_around(text: &str, needle: &str) -> Option<String> {
    let lower: Vec<char> = text.to_lowercase().chars().collect();
    let chars: Vec<char> = text.chars().collect();
    let needle: Vec<char> = needle.to_lowercase().chars().collect();
    if needle.is_empty() || lower.len() != chars.len() {
        return None;
    }
    let pos = lower
        .windows(needle.len())
        .position(|w| w == needle.as_slice())?;
    let start = pos.saturating_sub(50);
    let end = (pos + needle.len() + 50).min(chars.len());
    let mut s: String = chars[start..end].iter().collect();
    if start > 0 {
        s = format!("...{s}");
    }
    if end < chars.len() {
        s.push_str("...");
    }
    Some(s)
}

/// A search as validated: the query, filters and page.
struct Search {
    query: String,
    filters: Filters,
    limit: i64,
    offset: i64,
}

const HEADLINE: &str = "Invalid request data";

impl Search {
    /// Checks a body by the cloud's rules (its zod schema and its special-character guard).
    fn from_body(b: SearchBody) -> HttpResult<Self> {
        let query = b.query.unwrap_or_default();
        if query.trim().is_empty() || query.chars().count() > 500 {
            return Err(ErrorResponse::invalid_flat(
                HEADLINE,
                "query",
                "must be 1 to 500 characters",
            ));
        }
        let specials = query
            .chars()
            .filter(|c| ".*+?^${}()|[]\\".contains(*c))
            .count();
        if specials >= 10 {
            return Err(ErrorResponse::bad_request(
                "Query contains too many special characters",
            ));
        }
        let filters = b.filters.unwrap_or_default();
        filters.validate(HEADLINE)?;
        let limit = b.limit.unwrap_or(10);
        if !(1..=50).contains(&limit) {
            return Err(ErrorResponse::invalid_flat(
                HEADLINE,
                "limit",
                "must be an integer between 1 and 50",
            ));
        }
        let offset = b.offset.unwrap_or(0);
        if offset < 0 {
            return Err(ErrorResponse::invalid_flat(
                HEADLINE,
                "offset",
                "must be an integer >= 0",
            ));
        }
        Ok(Self {
            query,
            filters,
            limit,
            offset,
        })
    }
}

/// The hits as SQL (`?1` the FTS expression, `?2` the LIKE pattern): full-text hits (bm25,
/// title weighted) and substring hits on title or description, one row per document with
/// its score, whether the title matched, and the total.
fn hits_sql(has_fts: bool, where_sql: &str) -> String {
    let fts_cte = if has_fts {
        "SELECT rowid AS seq, bm25(documents_fts, 10.0, 5.0, 1.0) AS score FROM documents_fts WHERE documents_fts MATCH ?1"
    } else {
        // Nothing searchable in the query (only punctuation): substring matches only.
        "SELECT NULL AS seq, 0.0 AS score WHERE ?1 IS NULL AND 0"
    };
    format!(
        "WITH f AS MATERIALIZED ({fts_cte}), \
         hits AS (SELECT seq, score FROM f \
                  UNION ALL \
                  SELECT d.seq, 0.0 FROM documents d \
                  WHERE (d.title LIKE ?2 ESCAPE '\\' OR d.description LIKE ?2 ESCAPE '\\') \
                  AND d.seq NOT IN (SELECT seq FROM f WHERE seq IS NOT NULL)) \
         SELECT {}, h.score AS text_score, \
                CASE WHEN d.title LIKE ?2 ESCAPE '\\' THEN 1 ELSE 0 END AS title_hit, \
                count(*) OVER () AS total \
         FROM hits h JOIN documents d ON d.seq = h.seq WHERE {where_sql}",
        prefixed_columns()
    )
}

/// One result as the cloud shows it, with a snippet: around the query in the description
/// or title, else FTS's own from the content (costly, so only for rows on the page), else
/// the description's start.
fn result_json(
    c: &rusqlite::Connection,
    d: Doc,
    seq: i64,
    score: f64,
    fts_query: Option<&str>,
    query_text: &str,
) -> HttpResult<serde_json::Value> {
    let description = d.description.clone().unwrap_or_default();
    let content_snippet = || -> HttpResult<Option<String>> {
        let Some(expr) = fts_query else {
            return Ok(None);
        };
        Ok(c.query_row(
            "SELECT snippet(documents_fts, 2, '', '', '...', 24) FROM documents_fts \
             WHERE documents_fts MATCH ?1 AND rowid = ?2",
            params![expr, seq],
            |r| r.get::<_, Option<String>>(0),
        )
        .optional()?
        .flatten()
        .filter(|s| !s.trim().is_empty()))
    };
    let snippet = match snippet_around(&description, query_text)
        .or_else(|| snippet_around(&d.title, query_text))
    {
        Some(s) => s,
        None => content_snippet()?.unwrap_or_else(|| description.chars().take(150).collect()),
    };
    let attrs = attributions(c, &d.id)?
        .into_iter()
        .map(|a| {
            json!({ "model_name": a.model_name, "model_provider": a.model_provider,
                    "contribution_type": a.contribution_type })
        })
        .collect::<Vec<_>>();
    Ok(json!({
        "id": d.id, "title": d.title, "description": d.description,
        "snippet": snippet,
        "relevanceScore": score,
        "source": d.source, "aiMetadata": d.ai_metadata, "tags": d.tags,
        "visibility": d.visibility, "createdAt": d.created_at,
        "modelAttributions": attrs,
    }))
}

pub async fn search(State(app): State<AppState>, body: Body) -> HttpResult<Response> {
    let b: SearchBody = body.decode(HEADLINE)?;
    let Search {
        query,
        filters,
        limit,
        offset,
    } = Search::from_body(b)?;
    // One pass over both kinds of hit, ranked together with a bonus for title matches.
    let fts_query = fts::match_expression(&query);
    let like = like_pattern(query.trim());
    let mut clauses = vec!["1 = 1".to_string()];
    let mut args: Vec<Box<dyn ToSql + Send>> = vec![
        Box::new(fts_query.clone().unwrap_or_default()),
        Box::new(like),
    ];
    filters.push_sql(&mut clauses, &mut args);
    let hits = hits_sql(fts_query.is_some(), &clauses.join(" AND "));
    let query_text = query.trim().to_string();
    let (results, total) = app
        .store
        .read(move |c| {
            let mut page_args = args;
            page_args.push(Box::new(limit));
            page_args.push(Box::new(offset));
            let mut stmt = c.prepare(&format!(
                "{hits} ORDER BY text_score - 5.0 * title_hit ASC, d.created_at DESC LIMIT ? OFFSET ?"
            ))?;
            let rows = stmt
                .query_map(params_from_iter(page_args.iter()), |r| {
                    Ok((
                        Doc::from_row(r)?,
                        r.get::<_, i64>(14)?,
                        relevance(r.get::<_, f64>(15)?, r.get::<_, bool>(16)?),
                        r.get::<_, i64>(17)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let total = match rows.first() {
                Some((.., total)) => *total,
                // Past the last page: count without the page.
                None if offset > 0 => {
                    let mut count_args = page_args;
                    count_args.truncate(count_args.len() - 2);
                    c.query_row(
                        &format!("SELECT count(*) FROM ({hits})"),
                        params_from_iter(count_args.iter()),
                        |r| r.get(0),
                    )?
                }
                None => 0,
            };
            let out = rows
                .into_iter()
                .map(|(d, seq, score, _)| {
                    result_json(c, d, seq, score, fts_query.as_deref(), &query_text)
                })
                .collect::<HttpResult<Vec<_>>>()?;
            Ok((out, total))
        })
        .await?;
    let has_more = offset + (results.len() as i64) < total;
    Ok(ok(json!({
        "results": results, "total": total, "limit": limit, "offset": offset, "hasMore": has_more,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_are_character_safe() {
        let text = format!("{}needle{}", "é".repeat(80), "ü".repeat(80));
        let s = snippet_around(&text, "NEEDLE").unwrap();
        assert!(s.starts_with("...") && s.ends_with("..."));
        assert!(s.contains("needle"));
    }
}
