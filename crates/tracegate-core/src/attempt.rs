//! One try of a request at an upstream. A request that was retried or went to a fallback
//! carries every try in its trace; a request answered by its first try carries none.

use serde::{Deserialize, Serialize};

/// One attempt at an upstream, in the order they were made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attempt {
    /// Name of the configured upstream tried.
    pub upstream: String,
    /// The status of the upstream's response head; none when no head came (a transport
    /// error, the deadline, a refusal by the gateway itself).
    pub status: Option<u16>,
    /// From the start of the attempt to its response head or failure.
    pub duration_ms: f64,
    /// Why the attempt did not answer the request, if it did not.
    pub error: Option<String>,
}
