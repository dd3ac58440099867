//! Virtual keys: credentials the gateway issues itself (`tg-` + 64 hex of 32 random bytes).
//! A client sends one instead of a provider key; the gateway checks it, names the trace's
//! account after it, and calls the provider with the upstream's own key.
//!
//! Only a SHA-256 hash of a key is kept. A slow password hash (argon2, bcrypt) protects
//! low-entropy secrets against guessing; a key of 256 random bits cannot be guessed, so a
//! fast hash is as safe and keeps the per-request check cheap. [`KeySpec::validate`] checks
//! an input completely; [`VirtualKey::issue`] makes the id, the secret and the times, so a
//! store writes what it is given.

use chrono::{DateTime, NaiveDate, Utc};
use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// What every virtual key starts with.
pub const KEY_PREFIX: &str = "tg-";
/// Characters of the key (after `tg-`) kept to recognise it.
pub const SHOWN_PREFIX_CHARS: usize = 8;
/// Longest account name or label, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Most model globs on a key.
pub const MAX_MODELS: usize = 64;

/// The SHA-256 of a key's full text.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct KeyHash(pub [u8; 32]);

impl KeyHash {
    /// The hash of `key` as the client sent it.
    pub fn of(key: &str) -> KeyHash {
        KeyHash(Sha256::digest(key.as_bytes()).into())
    }

    /// Equality in constant time.
    pub fn matches(&self, other: &KeyHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

/// What a key may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Scopes {
    /// Call the proxy (`/v1/...`).
    pub proxy: bool,
    /// Read the analytics API, limited to the key's account.
    pub read: bool,
}

impl Scopes {
    /// `proxy`, `read` or `proxy,read`.
    pub fn parse(s: &str) -> Result<Scopes, KeyError> {
        let mut scopes = Scopes {
            proxy: false,
            read: false,
        };
        for part in s.split(',').map(str::trim) {
            match part {
                "proxy" => scopes.proxy = true,
                "read" => scopes.read = true,
                other => return Err(KeyError::Invalid(format!("unknown scope {other:?}"))),
            }
        }
        Ok(scopes)
    }

    /// The comma-separated form [`Scopes::parse`] reads.
    pub fn as_list(&self) -> String {
        let mut v = Vec::new();
        if self.proxy {
            v.push("proxy");
        }
        if self.read {
            v.push("read");
        }
        v.join(",")
    }
}

/// Limits stored with a key for the limits work to come; nothing enforces them yet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyLimits {
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub tokens_per_5h: Option<u64>,
    pub budget_usd_day: Option<f64>,
    pub budget_usd_month: Option<f64>,
}

/// A key as asked for (CLI options or the API's body).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    pub account: String,
    pub name: Option<String>,
    /// Model globs the key may call; empty allows every model.
    #[serde(default)]
    pub models: Vec<String>,
    /// `YYYY-MM-DD` (the key ends at that day's start, UTC) or an RFC 3339 time.
    pub expires: Option<String>,
    /// `proxy`, `read` or `proxy,read`; `proxy` when absent.
    pub scope: Option<String>,
    #[serde(flatten)]
    pub limits: KeyLimits,
}

/// Why a key input was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Invalid(String),
}

/// A stored virtual key: everything but the key itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VirtualKey {
    /// A UUIDv7.
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    /// The hash the key is looked up by; never shown.
    #[serde(skip)]
    #[schema(ignore)]
    pub hash: Option<KeyHash>,
    /// The first characters after `tg-`, to recognise the key.
    pub prefix: String,
    pub account: String,
    pub name: Option<String>,
    pub scopes: Scopes,
    pub models: Vec<String>,
    #[serde(with = "crate::rfc3339_ms::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::rfc3339_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::rfc3339_ms::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<DateTime<Utc>>,
    pub limits: KeyLimits,
}

/// Why a presented key is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    Unknown,
    Expired,
    Revoked,
}

impl KeyRefusal {
    pub fn message(self) -> &'static str {
        match self {
            KeyRefusal::Unknown => "invalid virtual key",
            KeyRefusal::Expired => "the virtual key has expired",
            KeyRefusal::Revoked => "the virtual key has been revoked",
        }
    }
}

fn now_ms() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

impl KeySpec {
    /// Checks names, scopes, globs and the expiry; the scopes and the expiry time.
    pub fn validate(&self) -> Result<(Scopes, Option<DateTime<Utc>>), KeyError> {
        let bad = |m: String| Err(KeyError::Invalid(m));
        let account = self.account.trim();
        if account.is_empty() || account.chars().count() > MAX_NAME_CHARS {
            return bad(format!("account must be 1 to {MAX_NAME_CHARS} characters"));
        }
        if let Some(n) = &self.name {
            if n.chars().count() > MAX_NAME_CHARS {
                return bad(format!("name must be at most {MAX_NAME_CHARS} characters"));
            }
        }
        if self.models.len() > MAX_MODELS {
            return bad(format!("at most {MAX_MODELS} model globs"));
        }
        for m in &self.models {
            if m.trim().is_empty() {
                return bad("model globs must not be empty".into());
            }
            Glob::new(m).map_err(|e| KeyError::Invalid(format!("models: {m:?}: {e}")))?;
        }
        let scopes = Scopes::parse(self.scope.as_deref().unwrap_or("proxy"))?;
        let expires = match &self.expires {
            None => None,
            Some(s) => Some(parse_expiry(s)?),
        };
        let l = &self.limits;
        for (name, v) in [
            ("budget_usd_day", l.budget_usd_day),
            ("budget_usd_month", l.budget_usd_month),
        ] {
            if v.is_some_and(|v| !v.is_finite() || v < 0.0) {
                return bad(format!("{name} must be a non-negative number"));
            }
        }
        Ok((scopes, expires))
    }
}

/// `YYYY-MM-DD` (midnight UTC) or RFC 3339.
pub fn parse_expiry(s: &str) -> Result<DateTime<Utc>, KeyError> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc());
        }
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| KeyError::Invalid(format!("expires: {s:?} is not YYYY-MM-DD nor RFC 3339")))
}

/// A fresh key's text: `tg-` and 32 bytes in hex from `rand`'s thread generator, a CSPRNG
/// (ChaCha) seeded from the operating system.
pub fn generate_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{KEY_PREFIX}{}", hex::encode(bytes))
}

impl VirtualKey {
    /// A new key for `spec`: the stored record and the key's text, shown once.
    pub fn issue(spec: &KeySpec) -> Result<(VirtualKey, String), KeyError> {
        let (scopes, expires_at) = spec.validate()?;
        let secret = generate_secret();
        let prefix = secret[KEY_PREFIX.len()..KEY_PREFIX.len() + SHOWN_PREFIX_CHARS].to_string();
        let key = VirtualKey {
            id: Uuid::now_v7(),
            hash: Some(KeyHash::of(&secret)),
            prefix,
            account: spec.account.trim().to_string(),
            name: spec.name.clone().filter(|n| !n.trim().is_empty()),
            scopes,
            models: spec.models.iter().map(|m| m.trim().to_string()).collect(),
            expires_at,
            created_at: now_ms(),
            revoked_at: None,
            limits: spec.limits.clone(),
        };
        Ok((key, secret))
    }

    /// Whether the key may be used at `now`.
    pub fn usable_at(&self, now: DateTime<Utc>) -> Result<(), KeyRefusal> {
        if self.revoked_at.is_some() {
            return Err(KeyRefusal::Revoked);
        }
        if self.expires_at.is_some_and(|e| e <= now) {
            return Err(KeyRefusal::Expired);
        }
        Ok(())
    }

    /// The key's model globs, compiled; `None` when it allows every model.
    pub fn model_globs(&self) -> Option<GlobSet> {
        if self.models.is_empty() {
            return None;
        }
        let mut b = GlobSetBuilder::new();
        for m in &self.models {
            if let Ok(g) = Glob::new(m) {
                b.add(g);
            }
        }
        // A set that fails to build allows nothing.
        Some(b.build().unwrap_or_else(|_| GlobSet::empty()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
