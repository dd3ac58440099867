//! Request statistics and the slowest endpoints, models and upstreams, merged
//! from rollup sketches and the trace rows of partial minutes.

use std::collections::BTreeMap;

use rusqlite::Connection;

use super::rows::{self, Rollups};
use crate::analytics::window::DAY_MS;
use crate::analytics::{
    rank_slowest, Agg, Slowest, SlowestQuery, StatsQuery, StatsReport, StatsSum,
};
use crate::error::StoreError;

/// Statistics per bucket and group. Day rollups fill day buckets, hour rollups
/// the other buckets of an hour or more and the hours outside whole days,
/// minute rollups the rest, trace rows the partial minutes at the edges.
///
/// Of one account, the trace rows of the whole range are read instead: rollups are not
/// kept per account and dimension.
pub(super) fn request_stats(c: &Connection, q: StatsQuery) -> Result<StatsReport, StoreError> {
    let account = q.account().map(str::to_owned);
    let plan = match account {
        Some(_) => q.range().plan_exact(),
        None => q.range().plan_up_to(q.bucket().widest_rollup_ms()),
    };
    let dim = q.group_by().map_or("", |g| g.as_str());
    let mut sum = StatsSum::new(q);
    let rollups = Rollups { dim, account: None };
    rollups.aggs(c, &plan, |bucket, key, agg| sum.add(bucket, key, agg))?;
    rows::traces(c, &plan, account.as_deref(), |t| {
        sum.add(t.ts, &t.key(dim), &t.agg())
    })?;
    Ok(sum.finish())
}

/// The dimensions `slowest` ranks.
const SLOWEST_DIMS: [&str; 3] = ["endpoint", "model", "upstream"];

/// Endpoints, models and upstreams by p95 duration over the whole range (of one account:
/// from its trace rows alone).
pub(super) fn slowest(c: &Connection, q: SlowestQuery) -> Result<Slowest, StoreError> {
    let plan = match q.account() {
        Some(_) => q.range().plan_exact(),
        None => q.range().plan_up_to(DAY_MS),
    };
    let mut groups: [BTreeMap<String, Agg>; 3] = Default::default();
    for (dim, map) in SLOWEST_DIMS.iter().zip(groups.iter_mut()) {
        let rollups = Rollups { dim, account: None };
        rollups.aggs(c, &plan, |_, key, agg| {
            map.entry(key.to_owned()).or_default().merge(agg);
        })?;
    }
    rows::traces(c, &plan, q.account(), |t| {
        let agg = t.agg();
        for (dim, map) in SLOWEST_DIMS.iter().zip(groups.iter_mut()) {
            map.entry(t.key(dim)).or_default().merge(&agg);
        }
    })?;
    let [endpoints, models, upstreams] = groups.map(|g| rank_slowest(g, q.limit()));
    Ok(Slowest {
        from: q.range().from_time(),
        to: q.range().to_time(),
        endpoints,
        models,
        upstreams,
    })
}
