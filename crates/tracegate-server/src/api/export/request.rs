//! Reading an export request from query parameters: those of `GET /traces`
//! (simple filters, `q`, `sort`, `order`, `cursor`, `fields`) plus `filter`
//! (a JSON filter tree), `bodies` and `limit` (at most this many traces in
//! all). Every problem is a [`SearchError`] pointing at `/query/<name>`.

use serde_json::Value;
use tracegate_core::filter::{Filter, SIMPLE_PARAMS};
use tracegate_store::export::ExportQuery;
use tracegate_store::search::{SearchError, SearchErrorKind};

use crate::api::search::request;

/// Parameters of `GET /traces` other than the simple filters; `limit` is
/// read here with another meaning.
const SEARCH_KEYS: [&str; 4] = ["q", "sort", "order", "fields"];
/// Parameters read here: the cursor continues the query `filter` is part of.
const EXPORT_KEYS: [&str; 4] = ["filter", "cursor", "bodies", "limit"];

fn malformed(name: &str, message: String) -> SearchError {
    SearchError::new(
        SearchErrorKind::Malformed,
        format!("/query/{name}"),
        message,
    )
}

/// Reads the query parameters of `GET /traces/export`; with a `scope`, the filter is
/// limited to that account.
pub fn from_params(
    params: &[(String, String)],
    scope: Option<&str>,
) -> Result<ExportQuery, SearchError> {
    let mut search_params = Vec::with_capacity(params.len());
    let (mut filter, mut cursor, mut bodies, mut limit) = (None, None, None, None);
    for (name, value) in params {
        let own = match name.as_str() {
            "filter" => &mut filter,
            "cursor" => &mut cursor,
            "bodies" => &mut bodies,
            "limit" => &mut limit,
            other if SEARCH_KEYS.contains(&other) || SIMPLE_PARAMS.contains(&other) => {
                search_params.push((name.clone(), value.clone()));
                continue;
            }
            _ => return Err(unknown(name)),
        };
        if own.replace(value.trim()).is_some() {
            return Err(malformed(
                name,
                format!("parameter {name:?} is given more than once"),
            ));
        }
    }
    let searched = request::from_params(&search_params, None)?;
    let mut search = searched.query;
    if let Some(raw) = filter.filter(|v| !v.is_empty()) {
        let json: Value = serde_json::from_str(raw).map_err(|e| {
            malformed(
                "filter",
                format!("filter is a JSON filter tree (URL-encoded); it is not valid JSON: {e}"),
            )
        })?;
        let tree = Filter::parse(&json, "/query/filter")?;
        search.filter = Some(match search.filter.take() {
            None => tree,
            Some(Filter::And(mut all)) => {
                all.push(tree);
                Filter::And(all)
            }
            Some(simple) => Filter::And(vec![simple, tree]),
        });
    }
    search.filter = request::scoped(search.filter.take(), scope);
    if let Some(cursor) = cursor.filter(|v| !v.is_empty()) {
        search = search.with_cursor(cursor, "/query/cursor")?;
    }
    let bodies = match bodies {
        None | Some("" | "false" | "0") => false,
        Some("true" | "1") => true,
        Some(other) => {
            return Err(malformed(
                "bodies",
                format!("bodies is true or false, got {other:?}"),
            ))
        }
    };
    let max_rows = match limit.filter(|v| !v.is_empty()) {
        None => None,
        Some(raw) => match raw.parse::<u64>() {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                return Err(SearchError::new(
                    SearchErrorKind::BadLimit,
                    "/query/limit",
                    format!(
                    "limit is the most traces to export, a whole number of at least 1, got {raw:?}"
                ),
                ))
            }
        },
    };
    Ok(ExportQuery {
        search,
        fields: searched.fields,
        bodies,
        max_rows,
    })
}

fn unknown(name: &str) -> SearchError {
    let mut known: Vec<&str> = SIMPLE_PARAMS.to_vec();
    known.extend(SEARCH_KEYS);
    known.extend(EXPORT_KEYS);
    malformed(
        name,
        format!(
            "unknown parameter {name:?}; parameters are: {}",
            known.join(", ")
        ),
    )
}
