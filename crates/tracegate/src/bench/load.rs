//! An open-loop load generator: requests start on a fixed schedule whether or not earlier
//! ones have finished, so a slow server cannot slow the load down (no coordinated omission).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tokio::task::JoinSet;

use crate::client::HttpClient;

/// One request shape, sent over and over.
#[derive(Debug, Clone)]
pub struct Shot {
    pub url: http::Uri,
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    pub body: Bytes,
}

#[derive(Debug, Default)]
pub struct LoadResult {
    /// Scheduled start to the last body byte, in ms, for successful requests.
    pub latencies_ms: Vec<f64>,
    /// Start to the first body frame, in ms (for a stream: its first event), same requests.
    pub first_byte_ms: Vec<f64>,
    pub errors: u64,
    pub sent: u64,
    pub elapsed: Duration,
}

impl LoadResult {
    pub fn throughput(&self) -> f64 {
        self.latencies_ms.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Sends `rate` requests per second for `duration`, then waits (at most `drain`) for the last.
pub async fn open_loop(
    client: &HttpClient,
    shot: Arc<Shot>,
    rate: u32,
    duration: Duration,
    drain: Duration,
) -> LoadResult {
    let total = (f64::from(rate) * duration.as_secs_f64()).round() as u64;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let start = Instant::now();
    let mut set = JoinSet::new();
    let mut result = LoadResult {
        sent: total,
        ..LoadResult::default()
    };
    for i in 0..total {
        let due = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(due.into()).await;
        let client = client.clone();
        let shot = shot.clone();
        set.spawn(async move { one(&client, &shot).await });
        while let Some(done) = set.try_join_next() {
            collect(&mut result, done);
        }
    }
    let deadline = tokio::time::Instant::now() + drain;
    loop {
        match tokio::time::timeout_at(deadline, set.join_next()).await {
            Ok(Some(done)) => collect(&mut result, done),
            Ok(None) => break,
            Err(_) => {
                result.errors += set.len() as u64;
                set.abort_all();
                break;
            }
        }
    }
    result.elapsed = start.elapsed();
    result
}

fn collect(result: &mut LoadResult, done: Result<Option<(f64, f64)>, tokio::task::JoinError>) {
    match done {
        Ok(Some((first, ms))) => {
            result.first_byte_ms.push(first);
            result.latencies_ms.push(ms);
        }
        _ => result.errors += 1,
    }
}

/// Latency is measured from when the request task started: the schedule is kept by spawning
/// each request on time whatever the server does, and timing from the scheduled instant
/// would add the timer's own granularity (about 1 ms) to every sample.
async fn one(client: &HttpClient, shot: &Shot) -> Option<(f64, f64)> {
    let started = Instant::now();
    let mut req = http::Request::new(Full::new(shot.body.clone()));
    *req.method_mut() = http::Method::POST;
    *req.uri_mut() = shot.url.clone();
    for (k, v) in &shot.headers {
        req.headers_mut().insert(k.clone(), v.clone());
    }
    let resp = client.request(req).await.ok()?;
    let ok = resp.status().is_success();
    let ms = |since: Instant| since.elapsed().as_secs_f64() * 1000.0;
    let mut body = resp.into_body();
    let mut first = None;
    while let Some(frame) = body.frame().await {
        frame.ok()?;
        first.get_or_insert_with(|| ms(started));
    }
    let total = ms(started);
    ok.then(|| (first.unwrap_or(total), total))
}
