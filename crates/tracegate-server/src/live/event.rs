//! What the live feed carries: a summary of each recorded trace and the start and end of
//! each request in flight. Built on the proxy's path, so each is a handful of copies of
//! short fields; the JSON is written once, by the first subscriber that sends it.

use std::sync::OnceLock;

use serde::Serialize;
use tracegate_core::{Outcome, Provider, Trace, TraceId, Usage};

/// The SSE `event:` name of each kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveKind {
    Trace,
    InflightStart,
    InflightEnd,
}

impl LiveKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LiveKind::Trace => "trace",
            LiveKind::InflightStart => "inflight_start",
            LiveKind::InflightEnd => "inflight_end",
        }
    }
}

/// A recorded trace, without its bodies.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TraceSummary {
    pub id: String,
    /// When the request arrived (RFC 3339, milliseconds).
    pub time: String,
    pub account: Option<String>,
    pub provider: Provider,
    /// The model that answered, else the one asked for.
    pub model: Option<String>,
    pub upstream: Option<String>,
    pub endpoint: String,
    pub status: Option<u16>,
    pub outcome: Outcome,
    pub duration_ms: f64,
    pub ttft_ms: Option<f64>,
    #[schema(value_type = Object)]
    pub tokens: Usage,
    pub cost_usd: Option<f64>,
}

impl TraceSummary {
    pub fn of(t: &Trace) -> Self {
        TraceSummary {
            id: t.id.to_string(),
            time: t
                .started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            account: t.account.clone(),
            provider: t.provider,
            model: t.model.clone().or_else(|| t.model_requested.clone()),
            upstream: t.upstream.clone(),
            endpoint: t.endpoint.clone(),
            status: t.status,
            outcome: t.outcome,
            duration_ms: t.duration_ms,
            ttft_ms: t.ttft_ms,
            tokens: t.usage,
            cost_usd: t.cost_usd,
        }
    }
}

/// A request that started or ended in flight.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InflightSummary {
    pub id: String,
    pub account: Option<String>,
    /// The model asked for.
    pub model: Option<String>,
    /// When the request arrived (RFC 3339, milliseconds).
    pub started: String,
}

impl InflightSummary {
    pub fn of(id: TraceId, t: &Trace) -> Self {
        InflightSummary {
            id: id.to_string(),
            account: t.account.clone(),
            model: t.model_requested.clone(),
            started: t
                .started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }
    }
}

/// The body of one event.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum LiveData {
    Trace(TraceSummary),
    Inflight(InflightSummary),
}

/// One event of the feed, as the hub numbered it.
#[derive(Debug)]
pub struct LiveEvent {
    /// Increases by one per event; the SSE `id:`.
    pub id: u64,
    pub kind: LiveKind,
    pub data: LiveData,
    json: OnceLock<String>,
}

impl LiveEvent {
    pub fn new(id: u64, kind: LiveKind, data: LiveData) -> Self {
        LiveEvent {
            id,
            kind,
            data,
            json: OnceLock::new(),
        }
    }

    /// The account the event belongs to: a scoped subscriber sees only its own.
    pub fn account(&self) -> Option<&str> {
        match &self.data {
            LiveData::Trace(t) => t.account.as_deref(),
            LiveData::Inflight(i) => i.account.as_deref(),
        }
    }

    /// The SSE `data:` line, written once however many subscribers send it.
    pub fn json(&self) -> &str {
        self.json
            .get_or_init(|| serde_json::to_string(&self.data).unwrap_or_else(|_| "{}".into()))
    }
}

/// What is published, before the hub gives it an id.
#[derive(Debug, Clone)]
pub struct Published {
    pub kind: LiveKind,
    pub data: LiveData,
}

impl Published {
    pub fn trace(t: &Trace) -> Self {
        Published {
            kind: LiveKind::Trace,
            data: LiveData::Trace(TraceSummary::of(t)),
        }
    }

    pub fn inflight_start(id: TraceId, t: &Trace) -> Self {
        Published {
            kind: LiveKind::InflightStart,
            data: LiveData::Inflight(InflightSummary::of(id, t)),
        }
    }

    pub fn inflight_end(summary: InflightSummary) -> Self {
        Published {
            kind: LiveKind::InflightEnd,
            data: LiveData::Inflight(summary),
        }
    }
}
