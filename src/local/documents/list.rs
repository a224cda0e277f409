//! `GET /api/documents`: filters (source, model, dates, tags, a substring of title or
//! description), sort and paging. The filters are shared with search.

use axum::{extract::State, response::Response};
use rusqlite::{ToSql, params_from_iter};
use serde::Deserialize;
use serde_json::json;

use super::rows::{Doc, attributions, prefixed_columns};
use crate::{
    clock::parse_iso,
    local::{
        AppState,
        http::{ErrorResponse, HttpResult, QueryParams, ok},
    },
    vocab::documents::{SourceFilter, Visibility},
};

/// Filters shared by list and search; `args` collects the bound values.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filters {
    model_name: Option<String>,
    model_provider: Option<String>,
    date_from: Option<String>,
    date_to: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    source: Option<String>,
}

impl Filters {
    pub fn validate(&self, headline: &str) -> HttpResult<()> {
        // More tags than a document can carry would only exhaust SQLite's parameter limit.
        crate::vocab::limits::check_tags(&self.tags)
            .map_err(|rule| ErrorResponse::invalid_flat(headline, "tags", rule))?;
        for (key, value) in [("dateFrom", &self.date_from), ("dateTo", &self.date_to)] {
            if let Some(v) = value
                && (!v.ends_with('Z') || parse_iso(v).is_none())
            {
                return Err(ErrorResponse::invalid_flat(
                    headline,
                    key,
                    "must be an ISO-8601 date-time in UTC ending in Z, e.g. 2025-01-15T10:30:00Z",
                ));
            }
        }
        if let Some(s) = &self.source
            && SourceFilter::parse(s).is_none()
        {
            return Err(ErrorResponse::invalid_flat(
                headline,
                "source",
                format!("must be one of: {}", SourceFilter::names()),
            ));
        }
        Ok(())
    }

    pub fn push_sql(&self, clauses: &mut Vec<String>, args: &mut Vec<Box<dyn ToSql + Send>>) {
        if let Some(s) = self.source.as_deref().filter(|s| *s != "all") {
            clauses.push("d.source = ?".into());
            args.push(Box::new(s.to_string()));
        }
        if let Some(n) = &self.model_name {
            clauses.push("json_extract(d.ai_metadata, '$.model.name') = ?".into());
            args.push(Box::new(n.clone()));
        }
        if let Some(p) = &self.model_provider {
            clauses.push("json_extract(d.ai_metadata, '$.model.provider') = ?".into());
            args.push(Box::new(p.clone()));
        }
        // Stored timestamps are normalized ISO text, so comparing the normalized bound works.
        if let Some(t) = self.date_from.as_deref().and_then(parse_iso) {
            clauses.push("d.created_at >= ?".into());
            args.push(Box::new(crate::clock::iso(t)));
        }
        if let Some(t) = self.date_to.as_deref().and_then(parse_iso) {
            clauses.push("d.created_at <= ?".into());
            args.push(Box::new(crate::clock::iso(t)));
        }
        if !self.tags.is_empty() {
            let marks = vec!["?"; self.tags.len()].join(", ");
            clauses.push(format!(
                "EXISTS (SELECT 1 FROM json_each(d.tags) WHERE json_each.value IN ({marks}))"
            ));
            for t in &self.tags {
                args.push(Box::new(t.clone()));
            }
        }
    }
}

/// `LIKE` pattern matching `text` literally (the cloud lets `%` and `_` act as wildcards).
pub fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

pub async fn list(State(app): State<AppState>, q: QueryParams) -> HttpResult<Response> {
    const HEADLINE: &str = "Invalid query parameters";
    let filters = Filters {
        model_name: q.get("modelName").map(str::to_string),
        model_provider: q.get("modelProvider").map(str::to_string),
        date_from: q.get("dateFrom").map(str::to_string),
        date_to: q.get("dateTo").map(str::to_string),
        tags: q.all("tags"),
        source: q.get("source").map(str::to_string),
    };
    filters.validate(HEADLINE)?;
    let visibility = q.get("visibility").unwrap_or("all").to_string();
    if visibility != "all" && Visibility::parse(&visibility).is_none() {
        return Err(ErrorResponse::invalid_flat(
            HEADLINE,
            "visibility",
            "must be one of: all, private, workspace, public",
        ));
    }
    let order = match q.get("sort").unwrap_or("date_desc") {
        "date_desc" => "d.created_at DESC, d.seq DESC",
        "date_asc" => "d.created_at ASC, d.seq ASC",
        "title" => "d.title COLLATE NOCASE ASC, d.seq ASC",
        "size" => "d.file_size DESC, d.seq DESC",
        _ => {
            return Err(ErrorResponse::invalid_flat(
                HEADLINE,
                "sort",
                "must be one of: date_desc, date_asc, title, size",
            ));
        }
    };
    let limit = q.int("limit", 20, 1, 100, HEADLINE)?;
    let offset = q.int("offset", 0, 0, i64::MAX, HEADLINE)?;
    let search = q.get("searchQuery").map(like_pattern);

    let mut clauses = vec!["1 = 1".to_string()];
    let mut args: Vec<Box<dyn ToSql + Send>> = Vec::new();
    filters.push_sql(&mut clauses, &mut args);
    if visibility != "all" {
        clauses.push("d.visibility = ?".into());
        args.push(Box::new(visibility));
    }
    if let Some(p) = search {
        clauses.push(r"(d.title LIKE ? ESCAPE '\' OR d.description LIKE ? ESCAPE '\')".into());
        args.push(Box::new(p.clone()));
        args.push(Box::new(p));
    }
    let where_sql = clauses.join(" AND ");
    let (docs, total) = app
        .store
        .read(move |c| {
            let total: i64 = c.query_row(
                &format!("SELECT count(*) FROM documents d WHERE {where_sql}"),
                params_from_iter(args.iter()),
                |r| r.get(0),
            )?;
            let mut page_args = args;
            page_args.push(Box::new(limit));
            page_args.push(Box::new(offset));
            let mut stmt = c.prepare(&format!(
                "SELECT {} FROM documents d WHERE {where_sql} ORDER BY {order} LIMIT ? OFFSET ?",
                prefixed_columns()
            ))?;
            let docs = stmt
                .query_map(params_from_iter(page_args.iter()), Doc::from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            let mut out = Vec::with_capacity(docs.len());
            for d in docs {
                let attrs = attributions(c, &d.id)?
                    .into_iter()
                    .map(|a| {
                        json!({ "model_name": a.model_name, "model_provider": a.model_provider,
                                "contribution_type": a.contribution_type, "timestamp": a.timestamp })
                    })
                    .collect::<Vec<_>>();
                out.push(json!({
                    "id": d.id, "title": d.title, "description": d.description,
                    "fileName": d.file_name, "fileSize": d.file_size, "mimeType": d.mime_type,
                    "tags": d.tags, "source": d.source, "visibility": d.visibility,
                    "version": d.version, "createdAt": d.created_at, "updatedAt": d.updated_at,
                    "aiMetadata": d.ai_metadata, "modelAttributions": attrs,
                }));
            }
            Ok((out, total))
        })
        .await?;
    Ok(ok(
        json!({ "documents": docs, "total": total, "limit": limit, "offset": offset }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_are_literal() {
        assert_eq!(like_pattern("50%_off"), r"%50\%\_off%");
    }
}
