//! `otlp_protocol`: how spans travel to the OpenTelemetry collector.

use serde::{Deserialize, Serialize};

/// The OTLP transport. Only `http/protobuf` (OTLP/HTTP, binary protobuf bodies, port
/// 4318 by convention) is implemented; any other value (`grpc`) is refused at load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum OtlpProtocol {
    #[default]
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
}
