//! State shared by all handlers of one mock instance.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::sync::Mutex;

use axum::http::{HeaderMap, StatusCode};

use crate::cache::{PrefixCache, PREFIX_CACHE_CAPACITY};
use crate::config::{MockConfig, RequestParams};
use crate::exchange_log::{ExchangeLog, RESPONSE_LOG_CAPACITY, RESPONSE_LOG_MAX_BYTES};
use crate::ids::IdGen;

/// Handle to the shared state.
pub(crate) type AppState = Arc<Shared>;

/// Configuration, id source, prompt cache and exchange log of a mock instance.
#[derive(Debug)]
pub(crate) struct Shared {
    pub cfg: MockConfig,
    pub ids: IdGen,
    pub cache: PrefixCache,
    pub log: ExchangeLog,
    /// System fingerprint reported in OpenAI responses.
    pub fingerprint: String,
    active_streams: AtomicUsize,
    /// Requests seen per `x-mock-fail-key`, for `x-mock-fail-first`.
    attempts: Mutex<HashMap<String, u64>>,
}

/// Most `x-mock-fail-key` values counted at once; beyond, the counts start over.
const MAX_FAIL_KEYS: usize = 10_000;

impl Shared {
    /// Fresh state for `cfg`.
    pub fn new(cfg: MockConfig) -> Self {
        Self::with_log(
            cfg,
            ExchangeLog::new(RESPONSE_LOG_CAPACITY, RESPONSE_LOG_MAX_BYTES),
        )
    }

    /// Fresh state for `cfg` using `log`.
    pub fn with_log(cfg: MockConfig, log: ExchangeLog) -> Self {
        let ids = IdGen::new(cfg.seed);
        let fingerprint = ids.hex("fp_", 10);
        Self {
            cfg,
            ids,
            cache: PrefixCache::new(PREFIX_CACHE_CAPACITY),
            log,
            fingerprint,
            active_streams: AtomicUsize::new(0),
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// Effective settings of a request with `headers`.
    pub fn params(&self, headers: &HeaderMap) -> RequestParams {
        RequestParams::new(&self.cfg, headers)
    }

    /// The error status a generation request must be answered with, if any:
    /// a forced status, else an injected one with probability `error_rate`.
    pub fn pick_error(&self, params: &RequestParams) -> Option<StatusCode> {
        if let Some(rate) = params.error_rate {
            return self.ids.chance(rate).then(|| {
                params
                    .forced_status
                    .unwrap_or_else(|| self.cfg.injected_status())
            });
        }
        let forced = params.forced_status.filter(|_| match &params.fail_first {
            Some((key, n)) => self.attempt(key) <= *n,
            None => true,
        });
        forced.or_else(|| {
            self.ids
                .chance(self.cfg.error_rate)
                .then(|| self.cfg.injected_status())
        })
    }

    /// Counts one more request of `key` and returns how many there were.
    fn attempt(&self, key: &str) -> u64 {
        let mut attempts = match self.attempts.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if attempts.len() >= MAX_FAIL_KEYS && !attempts.contains_key(key) {
            attempts.clear();
        }
        let n = attempts.entry(key.to_owned()).or_insert(0);
        *n += 1;
        *n
    }

    /// Marks a stream generator as running until the guard is dropped.
    pub fn stream_guard(self: &Arc<Self>) -> StreamGuard {
        self.active_streams.fetch_add(1, Ordering::Relaxed);
        StreamGuard(Arc::clone(self))
    }

    /// Number of stream generators still running.
    #[cfg(test)]
    pub fn active_streams(&self) -> usize {
        self.active_streams.load(Ordering::Relaxed)
    }
}

/// Counts a running stream generator; see [`Shared::stream_guard`].
#[derive(Debug)]
pub(crate) struct StreamGuard(AppState);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.active_streams.fetch_sub(1, Ordering::Relaxed);
    }
}
