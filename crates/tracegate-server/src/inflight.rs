//! Requests in flight right now: the gateway knows them live, before any trace is written.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde::Serialize;
use tracegate_core::{Provider, TraceId};

use crate::live::event::InflightSummary;
use crate::live::{LivePublisher, Published};

#[derive(Debug, Clone)]
struct Entry {
    started: Instant,
    started_at: DateTime<Utc>,
    provider: Provider,
    endpoint: String,
    model: Option<String>,
    account: Option<String>,
    upstream: Option<String>,
    stream: bool,
}

/// One in-flight request as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InflightRequest {
    pub id: String,
    pub started_at: String,
    pub elapsed_ms: f64,
    pub provider: Provider,
    pub endpoint: String,
    pub model: Option<String>,
    pub account: Option<String>,
    pub upstream: Option<String>,
    pub stream: bool,
    pub stuck: bool,
}

#[derive(Debug, Default, Clone)]
pub struct Inflight {
    map: Arc<Mutex<HashMap<TraceId, Entry>>>,
    /// Told of every start and end (the live feed).
    live: Option<Arc<dyn LivePublisher>>,
}

impl Inflight {
    /// Also publishes every start and end to `live`.
    pub fn with_live(mut self, live: Arc<dyn LivePublisher>) -> Self {
        self.live = Some(live);
        self
    }

    pub fn begin(&self, id: TraceId, started: Instant, trace: &tracegate_core::Trace) {
        if let Some(live) = &self.live {
            live.publish(Published::inflight_start(id, trace));
        }
        let e = Entry {
            started,
            started_at: trace.started_at,
            provider: trace.provider,
            endpoint: trace.endpoint.clone(),
            model: trace.model_requested.clone(),
            account: trace.account.clone(),
            upstream: trace.upstream.clone(),
            stream: trace.stream,
        };
        self.map.lock().insert(id, e);
    }

    pub fn end(&self, id: &TraceId) {
        let ended = self.map.lock().remove(id);
        if let (Some(live), Some(e)) = (&self.live, ended) {
            live.publish(Published::inflight_end(InflightSummary {
                id: id.to_string(),
                account: e.account,
                model: e.model,
                started: e
                    .started_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            }));
        }
    }

    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every request in flight, longest-running first; `stuck_after_ms` flags the stuck ones.
    pub fn snapshot(&self, stuck_after_ms: f64) -> Vec<InflightRequest> {
        let now = Instant::now();
        let entries: Vec<(TraceId, Entry)> = self
            .map
            .lock()
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        let mut out: Vec<InflightRequest> = entries
            .into_iter()
            .map(|(id, e)| {
                let elapsed_ms = now.duration_since(e.started).as_secs_f64() * 1000.0;
                InflightRequest {
                    id: id.to_string(),
                    started_at: e
                        .started_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    elapsed_ms,
                    provider: e.provider,
                    endpoint: e.endpoint,
                    model: e.model,
                    account: e.account,
                    upstream: e.upstream,
                    stream: e.stream,
                    stuck: elapsed_ms >= stuck_after_ms,
                }
            })
            .collect();
        out.sort_by(|a, b| b.elapsed_ms.total_cmp(&a.elapsed_ms));
        out
    }
}
