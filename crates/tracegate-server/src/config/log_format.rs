//! The format of the process's log output.

use serde::{Deserialize, Serialize};

/// `text`: one human-readable line per event; `json`: one JSON object per line, with the
/// event's fields at the top level, for log shippers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl LogFormat {
    /// The environment variable that sets the format (also read by commands without a config).
    pub const ENV: &'static str = "TRACEGATE_LOG_FORMAT";

    /// Parses `text` or `json` (any case, surrounding blanks ignored).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_formats_and_nothing_else() {
        assert_eq!(LogFormat::parse("json"), Some(LogFormat::Json));
        assert_eq!(LogFormat::parse(" Text "), Some(LogFormat::Text));
        assert_eq!(LogFormat::parse("yaml"), None);
        assert_eq!(LogFormat::default(), LogFormat::Text);
    }
}
