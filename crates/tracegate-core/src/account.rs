//! Who a request belongs to: an explicit account name, or a fingerprint of the credential.

use sha2::{Digest, Sha256};

/// A stable, non-reversible name for a client credential: `cred:` + 12 hex of SHA-256.
/// The credential itself is never stored.
pub fn credential_fingerprint(credential: &str) -> String {
    let digest = Sha256::digest(credential.trim().as_bytes());
    format!("cred:{}", &hex::encode(digest)[..12])
}

/// Strips a `Bearer ` prefix from an `authorization` header value.
pub fn bearer_token(authorization: &str) -> &str {
    let v = authorization.trim();
    match v.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("bearer ") => v[7..].trim(),
        _ => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_stable_and_hides_the_key() {
        let a = credential_fingerprint("sk-ant-secret-123");
        assert_eq!(a, credential_fingerprint("sk-ant-secret-123"));
        assert!(a.starts_with("cred:"));
        assert_eq!(a.len(), 5 + 12);
        assert!(!a.contains("secret"));
        assert_ne!(a, credential_fingerprint("sk-ant-secret-124"));
    }

    #[test]
    fn bearer_prefix_is_removed_in_any_case() {
        assert_eq!(bearer_token("Bearer abc"), "abc");
        assert_eq!(bearer_token("bearer  abc "), "abc");
        assert_eq!(bearer_token("abc"), "abc");
    }
}
