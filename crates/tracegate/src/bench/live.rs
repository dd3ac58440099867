//! Clients of the gateway's live feed during a benchmark phase: each holds
//! `GET /api/v1/live` open and reads every byte, as a dashboard tab would.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tokio::task::JoinSet;

use crate::client::HttpClient;

/// The running readers and what they have read.
pub struct LiveReaders {
    tasks: JoinSet<()>,
    events: Arc<AtomicU64>,
    lagged: Arc<AtomicU64>,
}

/// What the readers read while they ran.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveRead {
    pub events: u64,
    pub lagged: u64,
}

impl LiveReaders {
    /// Opens `n` feeds on `gateway` (`host:port`) and waits until each has its answer head.
    pub async fn start(client: &HttpClient, gateway: &str, n: usize) -> anyhow::Result<Self> {
        let url: http::Uri = format!("http://{gateway}/api/v1/live").parse()?;
        let events = Arc::new(AtomicU64::new(0));
        let lagged = Arc::new(AtomicU64::new(0));
        let mut tasks = JoinSet::new();
        for _ in 0..n {
            let mut req = http::Request::new(Full::new(Bytes::new()));
            *req.uri_mut() = url.clone();
            let resp = client.request(req).await?;
            anyhow::ensure!(
                resp.status().is_success(),
                "GET /api/v1/live answered {}",
                resp.status()
            );
            let (events, lagged) = (events.clone(), lagged.clone());
            tasks.spawn(async move {
                let mut body = resp.into_body();
                while let Some(Ok(frame)) = body.frame().await {
                    if let Ok(data) = frame.into_data() {
                        let n =
                            count(&data, b"\nevent: ") + u64::from(data.starts_with(b"event: "));
                        events.fetch_add(n, Ordering::Relaxed);
                        lagged.fetch_add(count(&data, b"event: lagged"), Ordering::Relaxed);
                    }
                }
            });
        }
        Ok(LiveReaders {
            tasks,
            events,
            lagged,
        })
    }

    /// Closes every feed; returns what was read.
    pub async fn stop(mut self) -> LiveRead {
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        LiveRead {
            events: self.events.load(Ordering::Relaxed),
            lagged: self.lagged.load(Ordering::Relaxed),
        }
    }
}

fn count(haystack: &[u8], needle: &[u8]) -> u64 {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count() as u64
}
