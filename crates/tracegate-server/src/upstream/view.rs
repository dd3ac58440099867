//! What `GET /api/v1/upstreams` shows: each upstream's circuit, load and recent errors,
//! and the gateway's retry budget. Read from the in-process state of this replica.

use std::time::Instant;

use serde::Serialize;
use tracegate_core::Provider;

use super::budget::BudgetView;
use super::policy::PolicyView;
use super::Upstreams;

/// One upstream.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UpstreamView {
    pub name: String,
    pub provider: Provider,
    /// Upstreams tried, in order, when this one cannot answer.
    pub fallbacks: Vec<String>,
    #[serde(flatten)]
    pub state: PolicyView,
}

/// Every upstream, in configuration order, and the retry budget.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UpstreamsView {
    pub upstreams: Vec<UpstreamView>,
    pub retry_budget: BudgetView,
}

impl Upstreams {
    pub fn view(&self) -> UpstreamsView {
        let now = Instant::now();
        let upstreams = self
            .all
            .iter()
            .map(|u| UpstreamView {
                name: u.name.clone(),
                provider: u.provider,
                fallbacks: u
                    .fallbacks
                    .iter()
                    .filter_map(|&i| self.all.get(i))
                    .map(|f| f.name.clone())
                    .collect(),
                state: u.policy.view(now),
            })
            .collect();
        UpstreamsView {
            upstreams,
            retry_budget: self.budget.view(now),
        }
    }

    /// Hands each upstream its queue wait histogram (labelled by the upstream's name).
    pub fn attach_metrics(&self, metrics: &crate::metrics::Metrics) {
        for u in self.all.iter() {
            u.policy
                .attach_queue_wait(metrics.upstream_queue_wait(&u.name));
        }
    }
}
