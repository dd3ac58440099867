//! The one way a request reaches an upstream. [`Upstreams::send`] composes the traffic
//! policy: the routed upstream first, then its fallbacks while the failure allows one.
//! Per upstream, [`Upstream::send`] asks the circuit breaker (`breaker.rs`), takes a place
//! in the bulkhead (`bulkhead.rs`) and makes attempts, retrying retryable failures
//! (`retry.rs`) within the retry budget (`budget.rs`). [`Upstream::attempt`] is one
//! exchange: it owns the deadline, the shutdown cut and the mapping of transport failures
//! to the gateway's errors. The body is `Bytes`, so a retry sends it again; retries are
//! decided on the response head, before any byte reached the client.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant as StdInstant;

use bytes::Bytes;
use http::{HeaderMap, Method};
use http_body_util::Full;
use hyper::body::Incoming;
use tokio::time::Instant;

use super::attempts::Attempts;
use super::breaker::Admit;
use super::bulkhead::Lease;
use super::policy::ShedCause;
use super::retry::{self, Verdict};
use super::timeouts::BeforeHead;
use super::{Upstream, Upstreams};
use crate::error::ProxyError;
use crate::proxy::headers;

/// A request as the client sent it, after the proxy's phases read and routed it.
#[derive(Debug)]
pub struct Outgoing<'a> {
    pub method: Method,
    /// The client's path and query, appended to the upstream's `base_url`.
    pub path_and_query: &'a str,
    /// The client's headers; hop-by-hop and gateway headers are dropped and the configured
    /// key is injected on the way out.
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// An upstream's answer, head received, with the place the request holds at that
/// upstream until its response body ends.
#[derive(Debug)]
pub struct Delivered<'u> {
    pub response: http::Response<Incoming>,
    /// The upstream that answered: the routed one or a fallback.
    pub upstream: &'u Upstream,
    pub lease: Lease,
}

/// What one upstream made of the request, and whether a fallback may try it.
struct Tried<'u> {
    result: Result<Delivered<'u>, ProxyError>,
    fall_back: bool,
}

impl Upstreams {
    /// Sends `req` to `primary`, then to its fallbacks in order while the last failure
    /// was one a fallback may help with (circuit open, bulkhead shed, retries used up on a
    /// retryable failure) and the deadline is not over. The last answer or error is the
    /// request's; every try is noted in `attempts`.
    pub async fn send<'u>(
        &'u self,
        primary: &'u Upstream,
        mut req: Outgoing<'_>,
        deadline: Instant,
        cut: impl Future<Output = ()>,
        attempts: &mut Attempts<'u>,
    ) -> Result<Delivered<'u>, ProxyError> {
        let mut cut = std::pin::pin!(cut);
        // A request that can only be sent once gives its headers away instead of copying.
        let once = primary.policy.retry.max_attempts == 1 && primary.fallbacks.is_empty();
        let mut tried = primary
            .send(&mut req, !once, deadline, cut.as_mut(), attempts)
            .await;
        for fallback in primary.fallbacks.iter().filter_map(|&i| self.all.get(i)) {
            if !tried.fall_back || Instant::now() >= deadline {
                break;
            }
            tracing::info!(upstream = %primary.name, fallback = %fallback.name, "trying the fallback");
            tried = fallback
                .send(&mut req, true, deadline, cut.as_mut(), attempts)
                .await;
        }
        tried.result
    }
}

impl Upstream {
    /// The request at this upstream: the breaker's leave, a place in the bulkhead, then
    /// attempts until one answers, a failure is not retryable, or retries run out.
    async fn send<'u, C: Future<Output = ()>>(
        &'u self,
        req: &mut Outgoing<'_>,
        keep: bool,
        deadline: Instant,
        mut cut: Pin<&mut C>,
        attempts: &mut Attempts<'u>,
    ) -> Tried<'u> {
        let policy = &self.policy;
        let mut probe = match policy.breaker.admit(StdInstant::now()) {
            Admit::Pass => false,
            Admit::Probe => true,
            Admit::Reject => {
                policy.count_shed(ShedCause::CircuitOpen);
                return self.refused(attempts, "circuit open");
            }
        };
        let lease = tokio::select! {
            entered = policy.enter(deadline) => match entered {
                Ok(lease) => lease,
                Err(shed) => return self.refused(attempts, &shed.to_string()),
            },
            () = cut.as_mut() => return final_error(ProxyError::shutting_down()),
        };
        if policy.retry.max_attempts > 1 {
            policy.budget.deposit(StdInstant::now());
        }
        let mut made = 0u32;
        loop {
            made += 1;
            let started = StdInstant::now();
            let result = self.attempt(req, keep, deadline, cut.as_mut()).await;
            let (verdict, status, error, asked) = judge(&result, &self.name);
            if let Some(ok) = breaker_result(&result, verdict) {
                if policy.breaker.record(StdInstant::now(), ok, probe) {
                    tracing::warn!(upstream = %self.name, "circuit opened");
                }
            }
            attempts.push(&self.name, status, started.elapsed(), error);
            let deliver = |result: Result<http::Response<Incoming>, ProxyError>, lease| {
                result.map(|response| Delivered {
                    response,
                    upstream: self,
                    lease,
                })
            };
            if verdict == Verdict::Done {
                return Tried {
                    result: deliver(result, lease),
                    fall_back: false,
                };
            }
            match self.next_step(made, asked, deadline) {
                Next::Stop(why) => {
                    if let Some(why) = why {
                        attempts.note(why);
                    }
                    return Tried {
                        result: deliver(result, lease),
                        fall_back: true,
                    };
                }
                Next::Retry { wait, as_probe } => {
                    probe = as_probe;
                    drop(result);
                    tracing::debug!(upstream = %self.name, attempt = made, ?wait, "retrying");
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = cut.as_mut() => return final_error(ProxyError::shutting_down()),
                    }
                }
            }
        }
    }

    /// After `made` attempts that failed retryably: retry after a backoff, or stop (with
    /// why, when it is not the attempt limit). A retry needs time before the deadline,
    /// a circuit that is not open, and a token of the retry budget.
    fn next_step(&self, made: u32, asked: Option<std::time::Duration>, deadline: Instant) -> Next {
        let policy = &self.policy;
        if made >= policy.retry.max_attempts {
            return Next::Stop(None);
        }
        let Some(wait) = retry::backoff(&policy.retry, made, asked) else {
            return Next::Stop(Some("retry-after beyond max_retry_after_ms"));
        };
        if Instant::now() + wait >= deadline {
            return Next::Stop(Some("no time left to retry"));
        }
        let now = StdInstant::now();
        let as_probe = match policy.breaker.admit(now) {
            Admit::Reject => return Next::Stop(Some("circuit open")),
            admit => admit == Admit::Probe,
        };
        if !policy.budget.withdraw(now) {
            return Next::Stop(Some("retry budget spent"));
        }
        policy.count_retry();
        Next::Retry { wait, as_probe }
    }

    /// A request this upstream refused to take (circuit open, bulkhead full): a fast 503,
    /// or the fallback's turn.
    fn refused<'u>(&'u self, attempts: &mut Attempts<'u>, why: &str) -> Tried<'u> {
        attempts.push(
            &self.name,
            None,
            std::time::Duration::ZERO,
            Some(why.to_string()),
        );
        Tried {
            result: Err(ProxyError::overloaded(format!(
                "upstream {:?} is overloaded ({why}); retry the request later",
                self.name
            ))),
            fall_back: true,
        }
    }

    /// One exchange: sends `req` and waits for the response head until the headers timeout
    /// or `deadline`, whichever comes first. A `cut` that resolves first (shutdown) is a
    /// 503; a failed connection a 502; a timeout (connect, headers, total) a 504 that names
    /// it. `keep`: the headers are copied for another attempt, else taken.
    pub(super) async fn attempt<C: Future<Output = ()>>(
        &self,
        req: &mut Outgoing<'_>,
        keep: bool,
        deadline: Instant,
        cut: Pin<&mut C>,
    ) -> Result<http::Response<Incoming>, ProxyError> {
        let uri = format!("{}{}", self.base_url, req.path_and_query)
            .parse::<http::Uri>()
            .map_err(|e| ProxyError::bad_request(format!("bad request path: {e}")))?;
        let mut up_req = http::Request::new(Full::new(req.body.clone()));
        *up_req.method_mut() = req.method.clone();
        *up_req.uri_mut() = uri;
        let client_headers = if keep {
            req.headers.clone()
        } else {
            std::mem::take(&mut req.headers)
        };
        *up_req.headers_mut() =
            headers::upstream_request_headers(client_headers, self.provider, self.api_key.as_ref());
        let (head_by, which) = self
            .timeouts
            .head_deadline(tokio::time::Instant::now(), deadline);
        let sent = tokio::select! {
            r = tokio::time::timeout_at(head_by, self.client.request(up_req)) => r,
            () = cut => return Err(ProxyError::shutting_down()),
        };
        match sent {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(error)) if super::timeouts::is_connect_timeout(&error) => {
                Err(self.timeouts.before_head(&self.name, BeforeHead::Connect))
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, upstream = %self.name, "upstream request failed");
                Err(ProxyError::unreachable(&self.name))
            }
            Err(_) => Err(self.timeouts.before_head(&self.name, which)),
        }
    }
}

/// What follows a retryable failure.
enum Next {
    Retry {
        wait: std::time::Duration,
        as_probe: bool,
    },
    Stop(Option<&'static str>),
}

fn final_error<'u>(e: ProxyError) -> Tried<'u> {
    Tried {
        result: Err(e),
        fall_back: false,
    }
}

/// The verdict on an attempt, with what the trace notes of it: status, error and the
/// wait the upstream asked for.
fn judge(
    result: &Result<http::Response<Incoming>, ProxyError>,
    upstream: &str,
) -> (
    Verdict,
    Option<u16>,
    Option<String>,
    Option<std::time::Duration>,
) {
    match result {
        Ok(r) => {
            let status = r.status().as_u16();
            let verdict = retry::verdict_of_status(status);
            let error = (verdict != Verdict::Done)
                .then(|| format!("upstream {upstream:?} answered {status}"));
            (
                verdict,
                Some(status),
                error,
                retry::retry_after(r.headers()),
            )
        }
        Err(e) => {
            // A connection that failed is worth another try; the deadline, the shutdown
            // cut and a bad path are not.
            let verdict = if e.kind() == "unreachable" {
                Verdict::Retryable { breaker: true }
            } else {
                Verdict::Done
            };
            (verdict, None, Some(e.message.clone()), None)
        }
    }
}

/// What the breaker counts of an attempt: `Some(ok)`, or nothing for a result that says
/// nothing about the upstream (the shutdown cut, a bad request path).
fn breaker_result(
    result: &Result<http::Response<Incoming>, ProxyError>,
    verdict: Verdict,
) -> Option<bool> {
    match (result, verdict) {
        (_, Verdict::Retryable { breaker }) => Some(!breaker),
        (Ok(_), Verdict::Done) => Some(true),
        (Err(e), Verdict::Done) => (e.kind() == "timeout").then_some(false),
    }
}
