//! Building the gateway from its configuration and running it until shutdown.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::any;
use axum::serve::{ListenerExt, TapIo};
use axum::Router;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracegate_core::pricing::PriceTable;
use tracegate_store::{SqliteStore, Store};

use crate::analytics_cache::AnalyticsCache;
use crate::api::{self, auth::AdminAuth, host_guard::HostGuard, ApiState};
use crate::config::SpoolDurability;
use crate::config::{Config, ConfigError};
use crate::inflight::Inflight;
use crate::live::{LiveFeed, LivePublisher};
use crate::metrics::store::{MeasuredStore, QueryLog};
use crate::metrics::{self, Metrics};
use crate::otlp::{OtlpSink, OtlpTarget};
use crate::proxy::{self, ProxyState, RecordSink};
use crate::recorder::{QueueLimits, Recorder};
use crate::response_cache::ResponseCache;
use crate::spool::SpoolConfig;
use crate::upstream::Upstreams;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Upstream(#[from] crate::upstream::UpstreamError),
    #[error("store: {0}")]
    Store(#[from] tracegate_store::StoreError),
    #[error("refusing to listen on {0} without an admin token: /api would be open to the network. Set TRACEGATE_ADMIN_TOKEN (or admin_token in the config file), or listen on 127.0.0.1")]
    OpenApi(SocketAddr),
    #[error("refusing to listen on {0} with an admin token of {1} bytes: on a network listener the token must be at least {MIN_NETWORK_TOKEN_BYTES} bytes (for example `openssl rand -hex 24`)")]
    WeakToken(SocketAddr, usize),
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
    #[error("metrics: {0}")]
    Metrics(#[from] metrics_exporter_prometheus::BuildError),
}

/// The shortest admin token accepted on a listener other than loopback.
pub const MIN_NETWORK_TOKEN_BYTES: usize = 16;

/// How long cut requests get to record themselves before the writer stops.
const CUT_SETTLE: Duration = Duration::from_secs(2);

/// A built gateway: its router and the tasks it owns.
pub struct Gateway {
    pub router: Router,
    pub recorder: Recorder,
    pub inflight: Inflight,
    /// The live feed of `/api/v1/live`.
    pub live: LiveFeed,
    /// The gateway's metrics (disabled with `metrics = false`).
    pub metrics: Metrics,
    /// `/metrics` alone, for a listener of its own (`metrics_listen`).
    pub metrics_router: Router,
    /// Cuts the requests still running (they are recorded as cancelled).
    pub cut: CancellationToken,
    tracker: TaskTracker,
    writer_stop: CancellationToken,
    /// Stops the alert evaluator and its webhook sender.
    alerts_stop: CancellationToken,
}

impl Gateway {
    /// Wires the proxy, the recorder and the API over `store`.
    pub fn build(config: &Config, store: Arc<dyn Store>) -> Result<Gateway, ServeError> {
        let upstreams = Upstreams::build(&config.effective_upstreams())?;
        let tracker = TaskTracker::new();
        let writer_stop = CancellationToken::new();
        let limits = QueueLimits {
            traces: config.record_queue,
            bytes: config.record_queue_bytes,
            batch: config.record_batch,
        };
        let prices = Arc::new(PriceTable::builtin().with_overrides(config.prices.clone()));
        let metrics = if config.metrics {
            Metrics::new(prices.clone(), &config.metric_models, "sqlite")?
        } else {
            Metrics::disabled()
        };
        let live = LiveFeed::new(config.live_max_subscribers);
        let publisher: Arc<dyn LivePublisher> = Arc::new(live.clone());
        let mut recorder = match config.spool_durability {
            SpoolDurability::Memory => Recorder::start_timed(
                store.clone(),
                limits,
                &tracker,
                writer_stop.clone(),
                metrics.batch_duration(),
            ),
            SpoolDurability::Interval => {
                let spool = SpoolConfig {
                    dir: config.spool_path(),
                    max_bytes: config.spool_max_bytes,
                    sync_every: Duration::from_millis(100),
                };
                tracing::info!(dir = %spool.dir.display(), "recording through the durable spool");
                Recorder::start_spooled(
                    store.clone(),
                    limits,
                    &spool,
                    &tracker,
                    writer_stop.clone(),
                    metrics.batch_duration(),
                )
                .map_err(|e| {
                    ConfigError::Invalid(format!("spool_dir {}: {e}", spool.dir.display()))
                })?
            }
        };
        recorder.stats().ready_write_timeout_ms.store(
            config.ready_write_timeout_secs.saturating_mul(1000),
            std::sync::atomic::Ordering::Relaxed,
        );
        if let Some(target) = OtlpTarget::from_config(config).map_err(ConfigError::Invalid)? {
            tracing::info!(url = %target.shown, "exporting traces to OpenTelemetry (OTLP/HTTP)");
            let stats = recorder.stats().otlp.clone();
            let retry = crate::otlp::default_retry();
            let sink = OtlpSink::start(target, retry, stats, &tracker, writer_stop.clone());
            recorder = recorder.with_otlp(sink);
        }
        let recorder = recorder.with_live(publisher.clone());
        let inflight = Inflight::default().with_live(publisher);
        let cut = CancellationToken::new();
        let sink = Arc::new(RecordSink {
            recorder: recorder.clone(),
            prices: Arc::new(crate::pricing::Pricing::new(PriceTable::clone(&prices))),
            inflight: inflight.clone(),
            cut: cut.clone(),
            access_log: config.access_log,
            metrics: metrics.clone(),
        });
        let origins = crate::origin::AllowedOrigins::new(&config.allowed_origins);
        let response_cache = ResponseCache::in_memory(config.response_cache_bytes);
        let keys = crate::keys::KeyCache::new(store.clone());
        let proxy_state = Arc::new(ProxyState {
            upstreams,
            sink,
            max_body_bytes: config.max_body_bytes,
            origins: proxy::origin::OriginPolicy::new(
                origins.clone(),
                crate::listen::is_loopback(&config.listen),
            ),
            response_cache: response_cache.clone(),
            auth: config.auth,
            keys: config.auth.uses_keys().then(|| keys.clone()),
        });
        let diagnostics = crate::diagnostics::Sources {
            store: store.clone(),
            slo: config.slo.clone(),
            store_path: Some(config.db.clone()),
            live: Some(crate::diagnostics::LiveSources {
                inflight: inflight.clone(),
                stuck_after_ms: config.stuck_after_secs as f64 * 1000.0,
                recorder: recorder.stats().clone(),
                queue_limits: limits,
                timings: crate::query_timings::QueryTimings::default(),
            }),
        };
        let auth = AdminAuth::new(config.admin_token().cloned());
        let guard = HostGuard::new(!auth.is_required(), &config.allowed_hosts, origins);
        let query_log = QueryLog {
            slow: Duration::from_millis(config.slow_query_ms),
            every: config.debug_sql,
        };
        let alerts_stop = CancellationToken::new();
        let alerts = crate::alerts::gather::start(
            &config.alerts,
            crate::alerts::gather::Sources {
                store: store.clone(),
                inflight: inflight.clone(),
                recorder: recorder.stats().clone(),
            },
            &tracker,
            alerts_stop.clone(),
        );
        let api_state = ApiState {
            store: Arc::new(MeasuredStore::new(store, metrics.clone(), query_log)),
            inflight: inflight.clone(),
            recorder: recorder.stats().clone(),
            stuck_after_ms: config.stuck_after_secs as f64 * 1000.0,
            analytics_cache: AnalyticsCache::new(config.api_cache_entries),
            response_cache,
            diagnostics,
            keys,
            live: live.clone(),
        };
        metrics.watch_recorder(recorder.stats().clone());
        metrics.watch_inflight(inflight.clone());
        metrics.watch_live(live.stats());
        let analytics_cache = api_state.analytics_cache.clone();
        metrics.watch_cache("analytics", Arc::new(move || analytics_cache.stats()));
        let responses = api_state.response_cache.clone();
        metrics.watch_cache(
            "responses",
            Arc::new(move || {
                let s = responses.stats();
                crate::analytics_cache::AnalyticsCacheStats {
                    hits: s.hits,
                    misses: s.misses,
                    entries: s.usage.entries,
                }
            }),
        );
        metrics::route::spawn_upkeep(metrics.clone(), &tracker, writer_stop.clone());
        let metrics_router = metrics::route::router(metrics.clone(), auth.clone());
        let proxy_routes = Router::new()
            .route("/v1/{*rest}", any(proxy::handle))
            .with_state(proxy_state);
        let mut router = Router::new()
            .merge(proxy_routes)
            .merge(api::router(api_state, auth, guard.clone()).layer(axum::Extension(alerts)))
            .merge(metrics_router.clone());
        if config.dashboard {
            router = router.merge(crate::dashboard::router(guard));
        }
        let router = router.fallback(not_found);
        Ok(Gateway {
            router,
            recorder,
            inflight,
            live,
            metrics,
            metrics_router,
            cut,
            tracker,
            writer_stop,
            alerts_stop,
        })
    }

    /// Stops the writer after it has written everything queued, and waits for it.
    pub async fn flush(self) {
        let Gateway {
            router,
            recorder,
            inflight: _,
            live,
            metrics: _,
            metrics_router,
            cut: _,
            tracker,
            writer_stop,
            alerts_stop,
        } = self;
        drop(router);
        drop(metrics_router);
        drop(recorder);
        live.close();
        alerts_stop.cancel();
        writer_stop.cancel();
        tracker.close();
        tracker.wait().await;
    }
}

async fn not_found(uri: http::Uri) -> crate::error::ApiError {
    crate::error::ApiError::not_found(format!(
        "no route for {}: the proxy serves /v1/..., the API /api/v1/..., the dashboard /",
        uri.path()
    ))
}

/// Opens the configured store and applies migrations.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, ServeError> {
    let path = config.db.clone();
    let priority = config.writer_priority;
    let window_ms =
        i64::try_from(config.subtask_window_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let store = tokio::task::spawn_blocking(move || {
        let store = SqliteStore::open_with(&path, priority)?;
        store.set_subtask_window_ms(window_ms)?;
        Ok::<_, tracegate_store::StoreError>(store)
    })
    .await
    .map_err(|e| std::io::Error::other(e.to_string()))??;
    // Configured models keep their own rollup key past the bound on distinct models.
    store.keep_models(config.prices.keys().chain(&config.metric_models).cloned());
    Ok(Arc::new(store))
}

/// Runs the gateway on `listener` until `shutdown` resolves, then stops accepting, lets
/// in-flight requests finish for up to `shutdown_grace_secs`, and writes every queued trace.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let local = listener.local_addr()?;
    check_api_exposure(&config, local)?;
    let metrics_listener = match (config.metrics, config.metrics_listen) {
        (true, Some(addr)) => {
            check_api_exposure(&config, addr)?;
            Some(TcpListener::bind(addr).await?)
        }
        _ => None,
    };
    let store = open_store(&config).await?;
    let gateway = Gateway::build(&config, store)?;
    let stop = CancellationToken::new();
    if let Some(l) = metrics_listener {
        metrics::route::spawn_listener(
            l,
            gateway.metrics_router.clone(),
            &gateway.tracker,
            stop.clone(),
        )?;
    }
    let server = axum::serve(
        with_nodelay(listener),
        gateway
            .router
            .clone()
            .into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stop.clone().cancelled_owned());
    let mut server = std::pin::pin!(server.into_future());
    crate::startup::log_startup(&config, local);
    tracing::info!(listen = %local, db = %config.db.display(), "tracegate is serving");
    tokio::select! {
        result = &mut server => result?,
        () = shutdown => {
            stop.cancel();
            // Live feed streams never end by themselves: end them so their connections close.
            gateway.live.close();
            let grace = Duration::from_secs(config.shutdown_grace_secs);
            tracing::info!(in_flight = gateway.inflight.len(), grace_secs = grace.as_secs(), "shutting down: no new connections, waiting for in-flight requests");
            match tokio::time::timeout(grace, &mut server).await {
                Ok(result) => result?,
                Err(_) => {
                    tracing::warn!(in_flight = gateway.inflight.len(), "grace period over; remaining requests are cut");
                    gateway.cut.cancel();
                    // The cut requests record themselves as their connections notice.
                    let settle = tokio::time::Instant::now() + CUT_SETTLE;
                    while !gateway.inflight.is_empty() && tokio::time::Instant::now() < settle {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        }
    }
    let stats = gateway.recorder.stats().clone();
    gateway.flush().await;
    let s = stats.snapshot();
    tracing::info!(
        written = s.written,
        dropped_queue_full = s.dropped_queue_full,
        dropped_store_error = s.dropped_store_error,
        otlp_exported = s.otlp.otlp_exported,
        otlp_dropped = s.otlp.otlp_dropped_queue_full + s.otlp.otlp_dropped_export_error,
        "trace writer flushed; stopped"
    );
    Ok(())
}

/// `/api` is open without a token only on loopback; on a network listener the token must
/// be long enough not to be guessed.
fn check_api_exposure(config: &Config, local: SocketAddr) -> Result<(), ServeError> {
    if local.ip().is_loopback() {
        return Ok(());
    }
    match config.admin_token() {
        None => Err(ServeError::OpenApi(local)),
        Some(t) if t.expose().trim().len() < MIN_NETWORK_TOKEN_BYTES => {
            Err(ServeError::WeakToken(local, t.expose().trim().len()))
        }
        Some(_) => Ok(()),
    }
}

/// Sets `TCP_NODELAY` on every accepted connection. Without it each small write after the
/// first (an SSE event) waits for the client's delayed ACK: ~40 ms per event on Linux.
fn with_nodelay(listener: TcpListener) -> TapIo<TcpListener, fn(&mut TcpStream)> {
    fn set_nodelay(tcp: &mut TcpStream) {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(%err, "could not set TCP_NODELAY");
        }
    }
    listener.tap_io(set_nodelay)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use axum::serve::Listener;

    #[test]
    fn blank_and_short_tokens_do_not_open_the_network() {
        let network = SocketAddr::from(([0, 0, 0, 0], 8080));
        let loopback = SocketAddr::from(([127, 0, 0, 1], 8080));
        let with = |t: Option<&str>| Config {
            admin_token: t.map(crate::config::Secret::new),
            ..Config::default()
        };
        for blank in [None, Some(""), Some("   "), Some("\t\n")] {
            let err = check_api_exposure(&with(blank), network).unwrap_err();
            assert!(matches!(err, ServeError::OpenApi(_)), "{blank:?}: {err}");
            assert!(check_api_exposure(&with(blank), loopback).is_ok());
        }
        let err = check_api_exposure(&with(Some("short-token")), network).unwrap_err();
        assert!(matches!(err, ServeError::WeakToken(_, 11)), "{err}");
        assert!(check_api_exposure(&with(Some("0123456789abcdef")), network).is_ok());
    }

    #[tokio::test]
    async fn accepted_connections_do_not_wait_to_coalesce_writes() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut listener = with_nodelay(listener);
        let client = tokio::spawn(TcpStream::connect(addr));
        let (accepted, _) = listener.accept().await;
        assert!(accepted.nodelay().unwrap());
        client.await.unwrap().unwrap();
    }
}
