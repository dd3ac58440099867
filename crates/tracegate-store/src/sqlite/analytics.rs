//! Analytics reads on SQLite.

use super::SqliteStore;
use crate::analytics::AnalyticsStore;

#[async_trait::async_trait]
impl AnalyticsStore for SqliteStore {}
