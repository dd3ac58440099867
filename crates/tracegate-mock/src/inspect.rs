//! Inspection endpoints: the exact bytes of logged requests and responses.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::exchange_log::RequestRecord;
use crate::reply;
use crate::state::AppState;

/// `GET /_mock/responses/{id}`: the response body exactly as sent, with its content type.
pub(crate) async fn response(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    let Some(record) = parse_id(&id).and_then(|id| st.log.response(id)) else {
        return not_found("no completed response with this id in the log");
    };
    let mut resp = Response::new(Body::from(record.body));
    if let Some(content_type) = record.content_type {
        resp.headers_mut().insert(CONTENT_TYPE, content_type);
    }
    reply::set_header(&mut resp, "x-mock-original-status", record.status.as_str());
    resp
}

/// `GET /_mock/requests/{id}`: `{"method","path","headers":{..},"body":..}` of a logged request.
///
/// A JSON body is embedded verbatim; any other body appears as a string, an empty one as `null`.
pub(crate) async fn request(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    let Some(record) = parse_id(&id).and_then(|id| st.log.request(id)) else {
        return not_found("no request with this id in the log");
    };
    reply::json(StatusCode::OK, request_json(&record))
}

/// `GET /_mock/requests/{id}/body`: the request body exactly as received.
pub(crate) async fn request_body(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    let Some(record) = parse_id(&id).and_then(|id| st.log.request(id)) else {
        return not_found("no request with this id in the log");
    };
    let mut resp = Response::new(Body::from(record.body));
    if let Some(content_type) = record.headers.get(CONTENT_TYPE) {
        resp.headers_mut()
            .insert(CONTENT_TYPE, content_type.clone());
    }
    resp
}

fn parse_id(id: &str) -> Option<u64> {
    id.trim().parse().ok()
}

fn not_found(message: &str) -> Response {
    reply::json(
        StatusCode::NOT_FOUND,
        reply::to_json(&serde_json::json!({ "error": message })),
    )
}

#[derive(Serialize)]
struct RequestView<'a> {
    method: &'a str,
    path: &'a str,
    headers: Map<String, Value>,
    body: BodyView<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum BodyView<'a> {
    Json(&'a RawValue),
    Text(String),
    Null,
}

fn request_json(record: &RequestRecord) -> Vec<u8> {
    let text = std::str::from_utf8(&record.body).ok();
    let raw = text.and_then(|t| serde_json::from_str::<&RawValue>(t).ok());
    let body = match raw {
        Some(raw) => BodyView::Json(raw),
        None if record.body.is_empty() => BodyView::Null,
        None => BodyView::Text(String::from_utf8_lossy(&record.body).into_owned()),
    };
    reply::to_json(&RequestView {
        method: record.method.as_str(),
        path: &record.path,
        headers: headers_json(&record.headers),
        body,
    })
}

/// Header names to values; repeated headers are joined with `, `.
fn headers_json(headers: &HeaderMap) -> Map<String, Value> {
    let mut out = Map::new();
    for name in headers.keys() {
        let joined = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect::<Vec<_>>()
            .join(", ");
        out.insert(name.as_str().to_owned(), Value::String(joined));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use axum::http::{HeaderValue, Method};
    use bytes::Bytes;

    fn record(body: &'static [u8]) -> RequestRecord {
        let mut headers = HeaderMap::new();
        headers.append("x-a", HeaderValue::from_static("1"));
        headers.append("x-a", HeaderValue::from_static("2"));
        headers.insert("authorization", HeaderValue::from_static("Bearer k"));
        RequestRecord {
            method: Method::POST,
            path: "/v1/chat/completions?x=1".into(),
            headers,
            body: Bytes::from_static(body),
        }
    }

    #[test]
    fn json_bodies_are_embedded_verbatim() {
        let out = request_json(&record(b"{ \"b\": 1.50,  \"a\": [ ] }"));
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(r#""body":{ "b": 1.50,  "a": [ ] }"#),
            "{text}"
        );
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["method"], "POST");
        assert_eq!(v["path"], "/v1/chat/completions?x=1");
        assert_eq!(v["headers"]["x-a"], "1, 2");
        assert_eq!(v["headers"]["authorization"], "Bearer k");
    }

    #[test]
    fn other_bodies_become_strings_or_null() {
        let v: Value = serde_json::from_slice(&request_json(&record(b"not json"))).unwrap();
        assert_eq!(v["body"], "not json");
        let v: Value = serde_json::from_slice(&request_json(&record(b""))).unwrap();
        assert_eq!(v["body"], Value::Null);
    }
}
