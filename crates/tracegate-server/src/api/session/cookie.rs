//! The dashboard's session cookie: a signed, stateless value, so every replica that shares
//! the admin token accepts the cookies of the others and nothing is stored.
//!
//! The value is `1.a.<expiry>` (an admin session) or `1.k.<key id>.<expiry>` (a session
//! of a read-scoped virtual key), the expiry in Unix seconds, followed by `.` and the
//! HMAC-SHA256 of that text in hex. The signing key is derived from the admin token's
//! SHA-256 when a token is set, else drawn at random when the process starts (sessions
//! then end with the process). A key session names the key, never its secret; the key is
//! looked up again on every request, so revoking it ends the session.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The cookie's name.
pub const COOKIE_NAME: &str = "tracegate_session";
/// How long a session lasts (also the cookie's `Max-Age`): 12 hours.
pub const SESSION_TTL_SECS: i64 = 12 * 3600;
/// The longest cookie value read; a longer one is not a session of ours.
const MAX_VALUE_LEN: usize = 256;

type HmacSha256 = Hmac<Sha256>;

/// Who a session is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    Admin,
    /// The virtual key with this id.
    Key(Uuid),
}

/// A verified (or to be signed) session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    pub kind: SessionKind,
    /// Unix seconds after which the session is refused.
    pub expires_at: i64,
}

/// Signs and checks session values.
#[derive(Clone)]
pub struct SessionSigner {
    key: [u8; 32],
}

impl std::fmt::Debug for SessionSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionSigner(..)")
    }
}

impl SessionSigner {
    /// The signer of a gateway whose admin token has this SHA-256; a random one without.
    pub fn new(admin_token_digest: Option<&[u8; 32]>) -> Self {
        let key = match admin_token_digest {
            Some(d) => {
                let mut h = Sha256::new();
                h.update(b"tracegate session cookie v1\0");
                h.update(d);
                h.finalize().into()
            }
            None => rand::random(),
        };
        SessionSigner { key }
    }

    fn mac(&self, payload: &str) -> HmacSha256 {
        // HMAC takes a key of any length; this cannot fail.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(payload.as_bytes());
        mac
    }

    /// The cookie value of `session`.
    pub fn sign(&self, session: &Session) -> String {
        let payload = match session.kind {
            SessionKind::Admin => format!("1.a.{}", session.expires_at),
            SessionKind::Key(id) => format!("1.k.{}.{}", id.simple(), session.expires_at),
        };
        let tag = self.mac(&payload).finalize().into_bytes();
        format!("{payload}.{}", hex(&tag))
    }

    /// The session in `value` if its signature holds and it has not expired at `now`
    /// (Unix seconds).
    pub fn verify(&self, value: &str, now: i64) -> Option<Session> {
        if value.len() > MAX_VALUE_LEN {
            return None;
        }
        let (payload, tag) = value.rsplit_once('.')?;
        let tag = unhex(tag)?;
        self.mac(payload).verify_slice(&tag).ok()?;
        let mut parts = payload.split('.');
        if parts.next()? != "1" {
            return None;
        }
        let kind = match parts.next()? {
            "a" => SessionKind::Admin,
            "k" => SessionKind::Key(Uuid::parse_str(parts.next()?).ok()?),
            _ => return None,
        };
        let expires_at: i64 = parts.next()?.parse().ok()?;
        if parts.next().is_some() || expires_at <= now {
            return None;
        }
        Some(Session { kind, expires_at })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The value of the session cookie among the request's `Cookie` headers.
pub fn from_headers(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim())
}

/// The `Set-Cookie` value that stores `value` for `max_age` seconds; `secure` when the
/// request came over HTTPS.
pub fn set_cookie(value: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE_NAME}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}")
}

/// The `Set-Cookie` value that removes the cookie.
pub fn clear_cookie(secure: bool) -> String {
    set_cookie("", 0, secure)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn admin(expires_at: i64) -> Session {
        Session {
            kind: SessionKind::Admin,
            expires_at,
        }
    }

    #[test]
    fn a_signed_session_verifies_until_it_expires() {
        let signer = SessionSigner::new(Some(&[7; 32]));
        let s = admin(NOW + 60);
        let v = signer.sign(&s);
        assert_eq!(signer.verify(&v, NOW), Some(s));
        assert_eq!(signer.verify(&v, NOW + 59), Some(s));
        assert_eq!(signer.verify(&v, NOW + 60), None, "expired");
        let k = Session {
            kind: SessionKind::Key(Uuid::now_v7()),
            expires_at: NOW + 60,
        };
        assert_eq!(signer.verify(&signer.sign(&k), NOW), Some(k));
    }

    #[test]
    fn replicas_sharing_the_token_accept_each_others_cookies() {
        let a = SessionSigner::new(Some(&[7; 32]));
        let b = SessionSigner::new(Some(&[7; 32]));
        let other = SessionSigner::new(Some(&[8; 32]));
        let v = a.sign(&admin(NOW + 60));
        assert!(b.verify(&v, NOW).is_some());
        assert!(other.verify(&v, NOW).is_none());
        let r1 = SessionSigner::new(None);
        let r2 = SessionSigner::new(None);
        assert!(r2.verify(&r1.sign(&admin(NOW + 60)), NOW).is_none());
        assert!(r1.verify(&r1.sign(&admin(NOW + 60)), NOW).is_some());
    }

    #[test]
    fn a_tampered_value_is_refused() {
        let signer = SessionSigner::new(Some(&[7; 32]));
        let key = Session {
            kind: SessionKind::Key(Uuid::now_v7()),
            expires_at: NOW + 60,
        };
        let v = signer.sign(&key);
        let (payload, tag) = v.rsplit_once('.').unwrap();
        // A later expiry, an admin kind, a flipped tag bit, garbage.
        let later = payload.replace(&(NOW + 60).to_string(), &(NOW + 9999).to_string());
        let as_admin = format!("1.a.{}", NOW + 60);
        let mut flipped = tag.to_owned().into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        for bad in [
            format!("{later}.{tag}"),
            format!("{as_admin}.{tag}"),
            format!("{payload}.{}", String::from_utf8(flipped).unwrap()),
            format!("{payload}."),
            payload.to_owned(),
            String::new(),
            "1.a.x.zz".to_owned(),
            format!("{payload}.{tag}{tag}"),
            "é".repeat(300),
        ] {
            assert_eq!(signer.verify(&bad, NOW), None, "{bad}");
        }
    }

    #[test]
    fn the_cookie_is_found_among_others_and_its_flags_are_set() {
        let mut h = http::HeaderMap::new();
        h.append(
            http::header::COOKIE,
            "a=1; tracegate_session=v.x".parse().unwrap(),
        );
        assert_eq!(from_headers(&h), Some("v.x"));
        h.clear();
        h.append(http::header::COOKIE, "a=1".parse().unwrap());
        h.append(http::header::COOKIE, "tracegate_session=z".parse().unwrap());
        assert_eq!(from_headers(&h), Some("z"));
        let c = set_cookie("v", 60, true);
        assert_eq!(
            c,
            "tracegate_session=v; HttpOnly; SameSite=Strict; Path=/; Max-Age=60; Secure"
        );
        assert!(clear_cookie(false).contains("Max-Age=0"));
        assert!(!clear_cookie(false).contains("Secure"));
    }
}
