//! Phase 3, limits and budgets: the home of rate limits, concurrency limits per account
//! or key, and spending budgets. It runs once the account (phase 1) and the request's
//! model and size (phase 2) are known, before a route is chosen or the cache consulted.
//! None is configured yet: every request goes on.

use super::read::Read;
use crate::error::ProxyError;
use crate::proxy::recording::Recording;
use crate::proxy::ProxyState;

/// Refuses a request over a limit or budget. There are none yet, so it always goes on.
pub fn check(_state: &ProxyState, _rec: &mut Recording, _read: &Read) -> Result<(), ProxyError> {
    Ok(())
}
