//! Reading a search request: the JSON body of `POST /traces/search` or the
//! query parameters of `GET /traces`. Every problem is a 400 that points at
//! the bad part (`/filter/and/1/op`, `/limit`, `/query/model`).

use serde_json::{Map, Value};
use tracegate_core::filter::{from_simple_params, Filter, SIMPLE_PARAMS};
use tracegate_store::search::{
    check_limit, parse_fields, SearchError, SearchErrorKind, SearchQuery, SortKey, SortOrder,
    TextQuery, DEFAULT_LIMIT, MAX_LIMIT,
};

/// A checked search request.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub query: SearchQuery,
    /// The fields to return; `None` for all.
    pub fields: Option<Vec<&'static str>>,
}

/// Members of the JSON body.
const BODY_KEYS: [&str; 7] = ["filter", "q", "sort", "order", "cursor", "limit", "fields"];
/// Query parameters besides the simple filter ones.
const QUERY_KEYS: [&str; 6] = ["q", "sort", "order", "cursor", "limit", "fields"];

fn malformed(pointer: &str, message: String) -> SearchError {
    SearchError::new(SearchErrorKind::Malformed, pointer, message)
}

/// Reads a `POST /traces/search` body (empty means `{}`); with a `scope`, the filter is
/// limited to that account before a cursor is checked against it.
pub fn from_body(body: &[u8], scope: Option<&str>) -> Result<SearchRequest, SearchError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return from_object(&Map::new(), scope);
    }
    let json: Value = serde_json::from_slice(body)
        .map_err(|e| malformed("", format!("the body is not valid JSON: {e}")))?;
    match json {
        Value::Object(obj) => from_object(&obj, scope),
        other => Err(malformed(
            "",
            format!("the body must be a JSON object, got {}", json_type(&other)),
        )),
    }
}

fn from_object(
    obj: &Map<String, Value>,
    scope: Option<&str>,
) -> Result<SearchRequest, SearchError> {
    if let Some(key) = obj.keys().find(|k| !BODY_KEYS.contains(&k.as_str())) {
        return Err(malformed(
            &format!("/{}", key.replace('~', "~0").replace('/', "~1")),
            format!(
                "unknown member {key:?}; a search has: {}",
                BODY_KEYS.join(", ")
            ),
        ));
    }
    let present = |key: &str| obj.get(key).filter(|v| !v.is_null());
    let filter = present("filter")
        .map(|f| Filter::parse(f, "/filter"))
        .transpose()?;
    let text = match present("q") {
        Some(q) => TextQuery::parse(string(q, "/q")?, "/q")?,
        None => None,
    };
    let sort = match present("sort") {
        Some(s) => SortKey::parse(string(s, "/sort")?, "/sort")?,
        None => SortKey::default(),
    };
    let order = match present("order") {
        Some(o) => SortOrder::parse(string(o, "/order")?, "/order")?,
        None => SortOrder::default(),
    };
    let limit = match present("limit") {
        Some(Value::Number(n)) => match n.as_i64() {
            Some(n) => check_limit(n, "/limit")?,
            None => return Err(bad_limit("/limit", &n.to_string())),
        },
        Some(other) => return Err(bad_limit("/limit", &other.to_string())),
        None => DEFAULT_LIMIT,
    };
    let fields = match present("fields") {
        Some(Value::Array(items)) => {
            let names = items
                .iter()
                .enumerate()
                .map(|(i, v)| string(v, &format!("/fields/{i}")))
                .collect::<Result<Vec<_>, _>>()?;
            Some(parse_fields(&names, "/fields")?)
        }
        Some(other) => {
            return Err(malformed(
                "/fields",
                format!(
                    "fields is an array of field names, got {}",
                    json_type(other)
                ),
            ))
        }
        None => None,
    };
    let query = SearchQuery {
        filter: scoped(filter, scope),
        text,
        sort,
        order,
        after: None,
        limit,
    };
    let query = match present("cursor") {
        Some(c) => query.with_cursor(string(c, "/cursor")?, "/cursor")?,
        None => query,
    };
    Ok(SearchRequest { query, fields })
}

/// Reads the query parameters of `GET /traces`: the simple filter
/// parameters (`model`, `model_requested`, `provider`, `account`, `status`,
/// `outcome`, `from`, `to`) and `q`, `sort`, `order`, `cursor`, `limit`,
/// `fields` (comma-separated). With a `scope`, the filter is limited to that account.
pub fn from_params(
    params: &[(String, String)],
    scope: Option<&str>,
) -> Result<SearchRequest, SearchError> {
    let mut seen: Vec<&str> = Vec::new();
    for (name, _) in params {
        let pointer = format!("/query/{name}");
        if !QUERY_KEYS.contains(&name.as_str()) && !SIMPLE_PARAMS.contains(&name.as_str()) {
            let mut known: Vec<&str> = SIMPLE_PARAMS.to_vec();
            known.extend(QUERY_KEYS);
            return Err(malformed(
                &pointer,
                format!(
                    "unknown parameter {name:?}; parameters are: {}",
                    known.join(", ")
                ),
            ));
        }
        if seen.contains(&name.as_str()) {
            return Err(malformed(
                &pointer,
                format!("parameter {name:?} is given more than once"),
            ));
        }
        seen.push(name);
    }
    let get = |key: &str| {
        params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    let filter = from_simple_params(params)?;
    let text = match get("q") {
        Some(q) => TextQuery::parse(q, "/query/q")?,
        None => None,
    };
    let sort = get("sort")
        .map(|s| SortKey::parse(s, "/query/sort"))
        .transpose()?
        .unwrap_or_default();
    let order = get("order")
        .map(|o| SortOrder::parse(o, "/query/order"))
        .transpose()?
        .unwrap_or_default();
    let limit = match get("limit") {
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) => check_limit(n, "/query/limit")?,
            Err(_) => return Err(bad_limit("/query/limit", &format!("{raw:?}"))),
        },
        None => DEFAULT_LIMIT,
    };
    let fields = match get("fields") {
        Some(list) => {
            let names: Vec<&str> = list.split(',').collect();
            Some(parse_fields(&names, "/query/fields")?)
        }
        None => None,
    };
    let query = SearchQuery {
        filter: scoped(filter, scope),
        text,
        sort,
        order,
        after: None,
        limit,
    };
    let query = match get("cursor") {
        Some(c) => query.with_cursor(c, "/query/cursor")?,
        None => query,
    };
    Ok(SearchRequest { query, fields })
}

fn bad_limit(pointer: &str, got: &str) -> SearchError {
    SearchError::new(
        SearchErrorKind::BadLimit,
        pointer,
        format!("limit must be a whole number from 1 to {MAX_LIMIT}, got {got}"),
    )
}

fn string<'a>(v: &'a Value, pointer: &str) -> Result<&'a str, SearchError> {
    v.as_str()
        .ok_or_else(|| malformed(pointer, format!("expected a string, got {}", json_type(v))))
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `filter`, limited to the account `scope` when there is one.
pub fn scoped(filter: Option<Filter>, scope: Option<&str>) -> Option<Filter> {
    match scope {
        Some(account) => Some(Filter::of_account(filter, account)),
        None => filter,
    }
}
