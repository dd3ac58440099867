//! Trace search on SQLite.

use super::SqliteStore;
use crate::search::SearchStore;

#[async_trait::async_trait]
impl SearchStore for SqliteStore {}
