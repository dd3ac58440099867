//! Bounded log of the last requests received and the exact response bytes sent.

use std::collections::VecDeque;
use std::sync::Mutex;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use bytes::Bytes;

/// Number of exchanges kept by the log.
pub const RESPONSE_LOG_CAPACITY: usize = 1_000;
/// Upper bound on the request and response bytes kept by the log.
pub const RESPONSE_LOG_MAX_BYTES: usize = 256 * 1024 * 1024;

/// A request as the mock received it.
#[derive(Debug, Clone)]
pub(crate) struct RequestRecord {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A response body as the mock sent it.
#[derive(Debug, Clone)]
pub(crate) struct ResponseRecord {
    pub status: StatusCode,
    pub content_type: Option<HeaderValue>,
    pub body: Bytes,
}

#[derive(Debug)]
struct Entry {
    id: u64,
    request: RequestRecord,
    response: Option<ResponseRecord>,
}

impl Entry {
    fn bytes(&self) -> usize {
        self.request.body.len() + self.response.as_ref().map_or(0, |r| r.body.len())
    }
}

/// Exchanges in arrival order, evicting the oldest beyond the count or byte bound.
#[derive(Debug)]
pub(crate) struct ExchangeLog {
    inner: Mutex<Inner>,
    capacity: usize,
    max_bytes: usize,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    entries: VecDeque<Entry>,
    bytes: usize,
}

impl Inner {
    fn position(&self, id: u64) -> Option<usize> {
        self.entries.binary_search_by_key(&id, |e| e.id).ok()
    }

    fn evict(&mut self, capacity: usize, max_bytes: usize) {
        while self.entries.len() > capacity || (self.bytes > max_bytes && self.entries.len() > 1) {
            if let Some(old) = self.entries.pop_front() {
                self.bytes -= old.bytes();
            }
        }
    }
}

impl ExchangeLog {
    /// An empty log keeping at most `capacity` exchanges and `max_bytes` body bytes.
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                next_id: 1,
                ..Inner::default()
            }),
            capacity: capacity.max(1),
            max_bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a received request and returns the id of its exchange.
    pub fn begin(&self, request: RequestRecord) -> u64 {
        let mut inner = self.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        inner.bytes += request.body.len();
        inner.entries.push_back(Entry {
            id,
            request,
            response: None,
        });
        inner.evict(self.capacity, self.max_bytes);
        id
    }

    /// Records the response sent for exchange `id` (ignored if already evicted).
    pub fn complete(&self, id: u64, response: ResponseRecord) {
        let mut inner = self.lock();
        let Some(pos) = inner.position(id) else {
            return;
        };
        let added = response.body.len();
        let replaced = inner.entries[pos]
            .response
            .replace(response)
            .map_or(0, |r| r.body.len());
        inner.bytes = inner.bytes + added - replaced;
        inner.evict(self.capacity, self.max_bytes);
    }

    /// The request of exchange `id`, if still kept.
    pub fn request(&self, id: u64) -> Option<RequestRecord> {
        let inner = self.lock();
        let pos = inner.position(id)?;
        Some(inner.entries[pos].request.clone())
    }

    /// The complete response of exchange `id`, if finished and still kept.
    pub fn response(&self, id: u64) -> Option<ResponseRecord> {
        let inner = self.lock();
        let pos = inner.position(id)?;
        inner.entries[pos].response.clone()
    }

    /// Number of exchanges currently kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn request(body: &'static str) -> RequestRecord {
        RequestRecord {
            method: Method::POST,
            path: "/v1/messages".into(),
            headers: HeaderMap::new(),
            body: Bytes::from_static(body.as_bytes()),
        }
    }

    fn response(body: &'static str) -> ResponseRecord {
        ResponseRecord {
            status: StatusCode::OK,
            content_type: None,
            body: Bytes::from_static(body.as_bytes()),
        }
    }

    #[test]
    fn keeps_requests_and_completed_responses() {
        let log = ExchangeLog::new(10, usize::MAX);
        let a = log.begin(request("a"));
        let b = log.begin(request("b"));
        assert!(b > a);
        assert!(log.response(a).is_none());
        log.complete(a, response("ra"));
        assert_eq!(log.response(a).unwrap().body, "ra");
        assert_eq!(log.request(b).unwrap().body, "b");
        assert!(log.request(999).is_none());
    }

    #[test]
    fn count_bound_evicts_the_oldest() {
        let log = ExchangeLog::new(3, usize::MAX);
        let ids: Vec<u64> = (0..5).map(|_| log.begin(request("x"))).collect();
        assert_eq!(log.len(), 3);
        assert!(log.request(ids[1]).is_none());
        assert!(log.request(ids[2]).is_some());
        log.complete(ids[0], response("late"));
        assert!(log.response(ids[0]).is_none());
    }

    #[test]
    fn byte_bound_evicts_but_keeps_the_newest() {
        let log = ExchangeLog::new(100, 10);
        let a = log.begin(request("12345"));
        let b = log.begin(request("12345"));
        log.complete(b, response("123"));
        assert!(log.request(a).is_none());
        assert_eq!(log.response(b).unwrap().body, "123");
        let inner = log.lock();
        assert_eq!(inner.bytes, 8);
    }
}
