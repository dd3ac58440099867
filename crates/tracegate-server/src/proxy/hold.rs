//! With `sync` durability, a response the gateway answers itself (a refusal, a cache hit)
//! holds its body until the trace is fsynced, as the tee does for proxied answers.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use std::future::Future;

use crate::spool::acks::Durable;

/// `resp`, whose body starts only once `durable` resolves (at once without one).
pub fn until_durable(resp: Response, durable: Option<Durable>) -> Response {
    match durable {
        None => resp,
        Some(d) => resp.map(|inner| {
            Body::new(Held {
                durable: Some(d),
                inner,
            })
        }),
    }
}

struct Held {
    durable: Option<Durable>,
    inner: Body,
}

impl http_body::Body for Held {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        if let Some(d) = this.durable.as_mut() {
            ready!(Pin::new(d).poll(cx));
            this.durable = None;
        }
        Pin::new(&mut this.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.durable.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
