//! `GET /api/v1/live`: the live feed as Server-Sent Events (see `crate::live`).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use http::HeaderMap;

use super::principal::Principal;
use super::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::live::{Delivery, Subscription};

/// A comment line this often keeps proxies and browsers from closing an idle stream.
pub const HEARTBEAT: Duration = Duration::from_secs(15);

/// The live feed: recorded traces and requests starting and ending in flight, as
/// Server-Sent Events. A key scoped to one account sees that account's events only.
///
/// Events (`event:` name, JSON `data:`, `id:`; a `lagged` after a slow read has no id):
/// - `trace`: a trace was recorded: `id`, `time`, `account`, `provider`, `model`, `upstream`,
///   `endpoint`, `status`, `outcome`, `duration_ms`, `ttft_ms`, `tokens`
///   (`input_tokens`, `output_tokens`, `cache_read_tokens`, `cache_write_tokens`), `cost_usd`.
/// - `inflight_start`, `inflight_end`: a request entered or left the in-flight list: `id`,
///   `account`, `model`, `started`.
/// - `lagged`: events were lost to this client: `{"skipped": n, "reload": bool}`. After a
///   slow read (`reload: false`) the feed goes on from the newest event. With
///   `reload: true` the `Last-Event-ID` was older than the events kept (the last 1,024): read
///   the current state from the API again. `skipped` is null for a scoped key.
///
/// Ids increase by one per event; a reconnecting client's `Last-Event-ID` (sent by
/// `EventSource` itself) resumes after that event. A comment line is sent every 15 s.
#[utoipa::path(get, path = "/live", tag = "live",
    params(("Last-Event-ID" = Option<String>, Header,
        description = "Resume after this event id (sent by EventSource on reconnect)")),
    responses(
        (status = 200, description = "The event stream", content_type = "text/event-stream", body = String),
        (status = 503, description = "The feed has its maximum of subscribers (`live_max_subscribers`)", body = ErrorBody),
    ))]
pub async fn live(
    State(s): State<ApiState>,
    principal: Principal,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let last = last_event_id(&headers);
    let account = principal.account().map(str::to_owned);
    let sub = s
        .live
        .subscribe(account, last)
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    Ok(Sse::new(events(sub)).keep_alive(KeepAlive::new().interval(HEARTBEAT)))
}

/// `Last-Event-ID`: an id that is not a number is treated as too old (the client reloads).
fn last_event_id(headers: &HeaderMap) -> Option<u64> {
    let v = headers.get("last-event-id")?;
    let parsed = v.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok());
    Some(parsed.unwrap_or(0))
}

/// The subscription as SSE events; ends when the feed closes.
pub fn events(sub: Subscription) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(sub, |mut sub| async move {
        let event = match sub.next().await {
            Delivery::Closed => return None,
            Delivery::Event(e) => Event::default()
                .id(e.id.to_string())
                .event(e.kind.as_str())
                .data(e.json()),
            Delivery::Lagged {
                skipped,
                reload,
                at,
            } => {
                let data = serde_json::json!({ "skipped": skipped, "reload": reload });
                let event = Event::default().event("lagged").data(data.to_string());
                match at {
                    Some(at) => event.id(at.to_string()),
                    None => event,
                }
            }
        };
        Some((Ok(event), sub))
    })
}
