//! Reading what the report needs: the store's analytics and health, the live
//! state of a running gateway, and the host.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tracegate_store::analytics::window::{parse_window, HOUR_MS};
use tracegate_store::analytics::{
    AccountUsage, Bucket, GroupStats, QueryError, Slowest, SlowestQuery, StatsQuery, TimeRange,
};
use tracegate_store::health::{ErrorCount, StoreHealth};
use tracegate_store::{Store, StoreError};

use super::host::{self, HostSection};
use super::{build, Report, Source};
use crate::config::SloConfig;
use crate::inflight::{Inflight, InflightRequest};
use crate::query_timings::{QueryClass, QueryTimings};
use crate::recorder::{QueueLimits, RecorderSnapshot, RecorderStats};

/// Rows asked of `slowest` per list (the report shows fewer; error rates per
/// upstream come from these).
const SLOWEST_LIMIT: u32 = 20;
/// Rows asked of the error breakdown.
const ERROR_ROWS: u32 = 50;

/// Where the report reads from.
#[derive(Clone)]
pub struct Sources {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The targets.
    pub slo: SloConfig,
    /// The store's file, for the disk it is on.
    pub store_path: Option<PathBuf>,
    /// A running gateway's state; `None` when reading a store file alone.
    pub live: Option<LiveSources>,
}

impl Sources {
    /// A store read alone (no live state, no file), with the default targets.
    pub fn store_only(store: Arc<dyn Store>) -> Sources {
        Sources {
            store,
            slo: SloConfig::default(),
            store_path: None,
            live: None,
        }
    }
}

/// A running gateway's state.
#[derive(Clone)]
pub struct LiveSources {
    /// Requests in flight.
    pub inflight: Inflight,
    /// Flagged as stuck after this long.
    pub stuck_after_ms: f64,
    /// The recorder's counters.
    pub recorder: Arc<RecorderStats>,
    /// The recorder's limits.
    pub queue_limits: QueueLimits,
    /// Store query timings.
    pub timings: QueryTimings,
}

/// Live state as read.
#[derive(Debug)]
pub struct Live {
    /// Requests in flight, longest first.
    pub inflight: Vec<InflightRequest>,
    /// The stuck threshold.
    pub stuck_after_ms: f64,
    /// The recorder's counters.
    pub recorder: RecorderSnapshot,
    /// The recorder's limits.
    pub queue_limits: QueueLimits,
    /// Store query classes.
    pub queries: Vec<QueryClass>,
}

/// Everything [`super::build`] needs. A failed read is kept as its message:
/// the report says which section it left empty.
#[derive(Debug)]
pub struct Inputs {
    /// Now, epoch ms.
    pub now_ms: i64,
    /// The window's length, ms.
    pub since_ms: i64,
    /// The window as given (`1h`).
    pub since: String,
    /// Gateway or store.
    pub source: Source,
    /// Targets.
    pub slo: SloConfig,
    /// All requests of the window as one group; `None` without requests.
    pub totals: Result<Option<GroupStats>, String>,
    /// Slowest of the window.
    pub slowest: Result<Slowest, String>,
    /// Slowest of the window before.
    pub previous: Result<Slowest, String>,
    /// Accounts over 24 hours.
    pub accounts_24h: Result<Vec<AccountUsage>, String>,
    /// Accounts over 5 hours.
    pub accounts_5h: Result<Vec<AccountUsage>, String>,
    /// Errors by upstream, status and outcome.
    pub errors: Result<Vec<ErrorCount>, String>,
    /// The store's health.
    pub store: Result<StoreHealth, String>,
    /// Live state; `None` from a store file.
    pub live: Option<Live>,
    /// The host.
    pub host: HostSection,
}

/// Parses a window such as `1h` (1 minute to 31 days) into milliseconds.
pub fn parse_since(s: &str) -> Result<i64, QueryError> {
    parse_window(s)
}

/// Runs `read`, timing it as `diagnostics: <name>` when timings are kept.
async fn timed<T>(
    timings: Option<&QueryTimings>,
    name: &str,
    read: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, String> {
    let started = Instant::now();
    let out = read.await;
    if let Some(t) = timings {
        t.record(&format!("diagnostics: {name}"), started.elapsed());
    }
    out.map_err(|e| format!("{name}: {e}"))
}

/// Reads the inputs of a report over the `since_ms` window ending at `now_ms`.
pub async fn gather(
    src: &Sources,
    since: &str,
    since_ms: i64,
    now_ms: i64,
) -> Result<Inputs, QueryError> {
    let range = TimeRange::ending_at(now_ms, since_ms)?;
    let before = TimeRange::ending_at(range.from_ms(), since_ms)?;
    let day = TimeRange::ending_at(now_ms, 24 * HOUR_MS)?;
    let five = TimeRange::ending_at(now_ms, 5 * HOUR_MS)?;
    // One bucket per day: the report wants the totals only.
    let stats_q = StatsQuery::new(range, Bucket::Day, None)?;
    let slowest_q = SlowestQuery::new(range, SLOWEST_LIMIT)?;
    let previous_q = SlowestQuery::new(before, SLOWEST_LIMIT)?;
    let store = &src.store;
    let t = src.live.as_ref().map(|l| &l.timings);
    let (totals, slowest, previous, accounts_24h, accounts_5h, errors, health) = tokio::join!(
        timed(t, "request_stats", store.request_stats(stats_q)),
        timed(t, "slowest", store.slowest(slowest_q)),
        timed(t, "slowest (previous window)", store.slowest(previous_q)),
        timed(t, "usage_by_account 24h", store.usage_by_account(day)),
        timed(t, "usage_by_account 5h", store.usage_by_account(five)),
        timed(
            t,
            "errors_by_status",
            store.errors_by_status(range, ERROR_ROWS)
        ),
        timed(t, "health", store.health()),
    );
    let live = src.live.as_ref().map(|l| Live {
        inflight: l.inflight.snapshot(l.stuck_after_ms),
        stuck_after_ms: l.stuck_after_ms,
        recorder: l.recorder.snapshot(),
        queue_limits: l.queue_limits,
        queries: l.timings.summary(),
    });
    let process = src.live.is_some();
    let path = src.store_path.clone();
    let host = tokio::task::spawn_blocking(move || host::sample(process, path.as_deref()))
        .await
        .unwrap_or_default();
    Ok(Inputs {
        now_ms,
        since_ms,
        since: since.to_owned(),
        source: if src.live.is_some() {
            Source::Gateway
        } else {
            Source::Store
        },
        slo: src.slo.clone(),
        totals: totals.map(|r| r.totals.into_iter().next()),
        slowest,
        previous,
        accounts_24h,
        accounts_5h,
        errors,
        store: health,
        live,
        host,
    })
}

/// Gathers and builds the report over the window `since` (`1h`) ending now.
pub async fn diagnose(src: &Sources, since: &str) -> Result<Report, QueryError> {
    let since_ms = parse_since(since)?;
    let now_ms = chrono::Utc::now().timestamp_millis();
    Ok(build(gather(src, since, since_ms, now_ms).await?))
}
