//! How the proxy authenticates clients (`auth`, env `TRACEGATE_AUTH`).

use serde::{Deserialize, Serialize};

/// `passthrough`: the client's credential goes to the provider, as sent.
/// `keys`: a valid virtual key (`tg-...`) is required; the upstream's own key is sent instead.
/// `keys_or_passthrough`: a `tg-` credential is checked as a virtual key, anything else
/// passes through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    #[default]
    Passthrough,
    Keys,
    KeysOrPassthrough,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Passthrough => "passthrough",
            AuthMode::Keys => "keys",
            AuthMode::KeysOrPassthrough => "keys_or_passthrough",
        }
    }

    /// Whether virtual keys are checked at all.
    pub fn uses_keys(self) -> bool {
        !matches!(self, AuthMode::Passthrough)
    }
}
