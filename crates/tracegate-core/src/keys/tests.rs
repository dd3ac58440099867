use super::*;

fn spec(account: &str) -> KeySpec {
    KeySpec {
        account: account.into(),
        ..KeySpec::default()
    }
}

#[test]
fn a_key_is_tg_and_64_hex_and_each_is_new() {
    let a = generate_secret();
    let b = generate_secret();
    assert!(a.starts_with("tg-"));
    assert_eq!(a.len(), 3 + 64);
    assert!(a[3..].chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a, b);
}

#[test]
fn issue_keeps_the_hash_and_prefix_not_the_key() {
    let (key, secret) = VirtualKey::issue(&spec("team-a")).unwrap();
    assert_eq!(key.hash, Some(KeyHash::of(&secret)));
    assert_eq!(key.prefix, secret[3..11]);
    assert_eq!(
        key.scopes,
        Scopes {
            proxy: true,
            read: false
        }
    );
    let json = serde_json::to_string(&key).unwrap();
    assert!(!json.contains(&secret[3..]));
    assert!(!json.contains("hash"));
}

#[test]
fn hashes_compare_equal_only_for_the_same_key() {
    let h = KeyHash::of("tg-abc");
    assert!(h.matches(&KeyHash::of("tg-abc")));
    assert!(!h.matches(&KeyHash::of("tg-abd")));
    assert_eq!(
        hex::encode(KeyHash::of("abc").0),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn scopes_expiry_and_globs_are_checked() {
    assert_eq!(
        Scopes::parse("proxy,read").unwrap(),
        Scopes {
            proxy: true,
            read: true
        }
    );
    assert!(Scopes::parse("admin").is_err());
    let mut s = spec("a");
    s.expires = Some("2030-01-02".into());
    let (_, exp) = s.validate().unwrap();
    assert_eq!(exp.unwrap().to_rfc3339(), "2030-01-02T00:00:00+00:00");
    s.expires = Some("next week".into());
    assert!(s.validate().is_err());
    assert!(spec(" ").validate().is_err());
    let mut s = spec("a");
    s.models = vec!["claude-[".into()];
    assert!(s.validate().is_err());
}

#[test]
fn revoked_and_expired_keys_are_refused_and_globs_match_models() {
    let mut s = spec("a");
    s.models = vec!["claude-*".into()];
    let (mut key, _) = VirtualKey::issue(&s).unwrap();
    let now = Utc::now();
    assert_eq!(key.usable_at(now), Ok(()));
    let globs = key.model_globs().unwrap();
    assert!(globs.is_match("claude-sonnet-4"));
    assert!(!globs.is_match("gpt-4o"));
    key.expires_at = Some(now);
    assert_eq!(key.usable_at(now), Err(KeyRefusal::Expired));
    key.revoked_at = Some(now);
    assert_eq!(key.usable_at(now), Err(KeyRefusal::Revoked));
}

#[test]
fn a_spec_body_reads_limits_at_the_top_level_and_refuses_unknown_members() {
    let s: KeySpec =
        serde_json::from_str(r#"{"account":"a","rpm":60,"budget_usd_day":2.5}"#).unwrap();
    assert_eq!(
        (s.limits.rpm, s.limits.budget_usd_day),
        (Some(60), Some(2.5))
    );
    assert!(serde_json::from_str::<KeySpec>(r#"{"account":"a","bogus":1}"#).is_err());
}
