//! The policy and the in-process counters: which limits apply, which refuses, when it
//! frees, what a refusal reserves, exact admission under concurrency, the overshoot bound
//! of usage limits, and the bound on per-account state.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use tracegate_core::keys::{KeyLimits, KeySpec, VirtualKey};
use tracegate_core::Usage;

use super::counters::MemoryCounters;
use super::{LimitKind, Limits, Refusal, Scope};
use crate::config::{LimitSet, LimitsConfig};

const T0: i64 = 1_800_000_000_000; // on a whole minute

fn key(account: &str, limits: KeyLimits) -> VirtualKey {
    VirtualKey::issue(&KeySpec {
        account: account.into(),
        limits,
        ..KeySpec::default()
    })
    .unwrap()
    .0
}

fn config(default: LimitSet, accounts: &[(&str, LimitSet)]) -> LimitsConfig {
    LimitsConfig {
        rpm: default.rpm,
        tpm: default.tpm,
        tokens_per_5h: default.tokens_per_5h,
        budget_usd_day: default.budget_usd_day,
        budget_usd_month: default.budget_usd_month,
        accounts: accounts
            .iter()
            .map(|(n, s)| ((*n).to_owned(), s.clone()))
            .collect(),
        ..LimitsConfig::default()
    }
}

fn rpm(n: u64) -> LimitSet {
    LimitSet {
        rpm: Some(n),
        ..LimitSet::default()
    }
}

async fn refused(l: &Limits, k: Option<&VirtualKey>, account: &str, now: i64) -> Refusal {
    l.admit(k, Some(account), now).await.unwrap_err()
}

async fn admitted(l: &Limits, k: Option<&VirtualKey>, account: &str, now: i64) -> bool {
    l.admit(k, Some(account), now).await.is_ok()
}

#[tokio::test]
async fn no_limit_no_checks() {
    let l = Limits::in_memory(&LimitsConfig::default());
    assert!(l.checks(None, Some("a")).is_empty());
    assert!(l.admit(None, Some("a"), T0).await.unwrap().is_none());
    let k = key("a", KeyLimits::default());
    assert!(l.checks(Some(&k), Some("a")).is_empty());
}

#[tokio::test]
async fn key_and_account_limits_all_apply_and_the_tightest_refuses() {
    let l = Limits::in_memory(&config(rpm(5), &[("a", rpm(3))]));
    let tight = key(
        "a",
        KeyLimits {
            rpm: Some(2),
            ..KeyLimits::default()
        },
    );
    assert!(admitted(&l, Some(&tight), "a", T0).await);
    assert!(admitted(&l, Some(&tight), "a", T0).await);
    let r = refused(&l, Some(&tight), "a", T0).await;
    assert_eq!(r.kind, LimitKind::Rpm);
    assert_eq!(
        r.message(),
        format!(
            "rate limit: key \"tg-{}\" requests per minute (2)",
            tight.prefix
        )
    );
    assert_eq!(r.openai_type(), "requests");
    // Another key of the account: the account's override (3) refuses the fourth.
    let loose = key(
        "a",
        KeyLimits {
            rpm: Some(10),
            ..KeyLimits::default()
        },
    );
    assert!(admitted(&l, Some(&loose), "a", T0).await);
    let r = refused(&l, Some(&loose), "a", T0).await;
    assert_eq!(r.scope, Scope::Account("a".into()));
    assert_eq!(
        r.message(),
        "rate limit: account \"a\" requests per minute (3)"
    );
    // Other accounts get the default; requests without one share a scope.
    for _ in 0..5 {
        assert!(admitted(&l, None, "b", T0).await);
    }
    assert!(!admitted(&l, None, "b", T0).await);
    for _ in 0..5 {
        assert!(l.admit(None, None, T0).await.is_ok());
    }
    let r = l.admit(None, None, T0).await.unwrap_err();
    assert!(
        r.message().contains("requests without an account"),
        "{}",
        r.message()
    );
}

#[tokio::test]
async fn a_refusal_reserves_nothing() {
    let l = Limits::in_memory(&config(rpm(1), &[]));
    let k = key(
        "a",
        KeyLimits {
            rpm: Some(10),
            ..KeyLimits::default()
        },
    );
    assert!(admitted(&l, Some(&k), "a", T0).await);
    for _ in 0..5 {
        assert_eq!(refused(&l, Some(&k), "a", T0).await.kind, LimitKind::Rpm);
    }
    // A minute on, the key has only the one admitted request counted... and now two.
    let a = l.admit(Some(&k), Some("a"), T0 + 60_000).await.unwrap();
    let standings = a.unwrap().standings;
    assert_eq!(standings[0].limit, 10);
    assert_eq!(standings[0].remaining, 9);
}

#[tokio::test]
async fn retry_after_is_when_the_rolling_minute_frees_a_place() {
    let l = Limits::in_memory(&config(rpm(2), &[]));
    assert!(admitted(&l, None, "a", T0).await);
    assert!(admitted(&l, None, "a", T0 + 10_000).await);
    let r = refused(&l, None, "a", T0 + 30_000).await;
    assert_eq!(r.retry_after_secs, 30);
    assert_eq!(
        refused(&l, None, "a", T0 + 59_500).await.retry_after_secs,
        1
    );
    assert!(admitted(&l, None, "a", T0 + 60_000).await);
    assert!(!admitted(&l, None, "a", T0 + 60_000).await);
    assert!(admitted(&l, None, "a", T0 + 70_000).await);
}

#[tokio::test]
async fn usage_and_cost_count_when_the_request_ends() {
    let l = Limits::in_memory(&config(
        LimitSet {
            tpm: Some(100),
            budget_usd_day: Some(1.0),
            ..LimitSet::default()
        },
        &[],
    ));
    let now = || chrono::Utc::now().timestamp_millis();
    let usage = |n| Usage {
        input_tokens: Some(n),
        ..Usage::default()
    };
    let a = l.admit(None, Some("t"), now()).await.unwrap().unwrap();
    // Admitted with nothing used: the whole limit remains.
    assert_eq!(a.standings[0].remaining, 100);
    a.charge.spend(&usage(99), Some(0.5));
    let a = l.admit(None, Some("t"), now()).await.unwrap().unwrap();
    a.charge.spend(&usage(1), Some(0.1));
    let r = refused(&l, None, "t", now()).await;
    assert_eq!(r.kind, LimitKind::Tpm);
    assert!(
        (1..=60).contains(&r.retry_after_secs),
        "{}",
        r.retry_after_secs
    );
    assert_eq!(r.openai_type(), "tokens");
    // The day's budget: 0.6 spent, one more request goes over it.
    let l = Limits::in_memory(&config(
        LimitSet {
            budget_usd_day: Some(1.0),
            ..LimitSet::default()
        },
        &[],
    ));
    let a = l.admit(None, Some("t"), now()).await.unwrap().unwrap();
    a.charge.spend(&usage(10), Some(1.25));
    let r = refused(&l, None, "t", now()).await;
    assert_eq!(r.kind, LimitKind::UsdDay);
    assert_eq!(r.message(), "budget: account \"t\" USD per UTC day (1)");
    let midnight = (now() / 86_400_000 + 1) * 86_400_000;
    let wait = (midnight - now()) as u64 / 1000;
    assert!(
        r.retry_after_secs.abs_diff(wait) <= 2,
        "{} {wait}",
        r.retry_after_secs
    );
}

/// A token limit admits while some room is left and counts usage when requests end, so it
/// is overshot by at most what the requests in flight at the last admission go on to use:
/// the count never passes `limit - 1 + Σ usage of those requests`.
#[tokio::test]
async fn token_overshoot_is_bounded_by_the_requests_in_flight() {
    const LIMIT: u64 = 1_000;
    let l = Limits::in_memory(&config(
        LimitSet {
            tpm: Some(LIMIT),
            ..LimitSet::default()
        },
        &[],
    ));
    let now = chrono::Utc::now().timestamp_millis();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rand = move |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    for round in 0..20 {
        let account = format!("acct-{round}");
        let mut in_flight: Vec<(super::Charge, u64)> = Vec::new();
        let mut bound = 0u64;
        let mut counted = 0u64;
        for _ in 0..200 {
            if in_flight.is_empty() || rand(3) > 0 {
                match l.admit(None, Some(&account), now).await {
                    Ok(Some(a)) => {
                        let used = LIMIT - a.standings[0].remaining;
                        assert!(used < LIMIT, "admitted with no room left");
                        assert_eq!(used, counted);
                        let will_use = 100 + rand(500);
                        in_flight.push((a.charge, will_use));
                        bound = used + in_flight.iter().map(|(_, u)| u).sum::<u64>();
                    }
                    Ok(None) => unreachable!(),
                    Err(r) => assert_eq!(r.kind, LimitKind::Tpm),
                }
            } else {
                let i = rand(in_flight.len() as u64) as usize;
                let (charge, used) = in_flight.swap_remove(i);
                let usage = Usage {
                    output_tokens: Some(used),
                    ..Usage::default()
                };
                charge.spend(&usage, None);
                counted += used;
            }
        }
        for (charge, used) in in_flight.drain(..) {
            charge.spend(
                &Usage {
                    output_tokens: Some(used),
                    ..Usage::default()
                },
                None,
            );
            counted += used;
        }
        assert!(counted >= LIMIT, "round {round} never reached the limit");
        assert!(counted <= bound, "round {round}: {counted} > {bound}");
        assert!(bound < LIMIT + 600 * 200);
        let r = l.admit(None, Some(&account), now).await.unwrap_err();
        assert_eq!(r.standings[0].remaining, 0);
    }
}

/// 50 clients at once against rpm = N: exactly N admitted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_never_pass_a_request_limit_together() {
    for n in [1, 7, 49, 50] {
        let l = Arc::new(Limits::in_memory(&config(rpm(n), &[])));
        let k = Arc::new(key(
            "a",
            KeyLimits {
                rpm: Some(n + 3),
                ..KeyLimits::default()
            },
        ));
        let now = T0 + 1_234;
        let start = Arc::new(tokio::sync::Barrier::new(50));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (l, k, start) = (l.clone(), k.clone(), start.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    l.admit(Some(&k), Some("a"), now).await.is_ok()
                })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            ok += u64::from(t.await.unwrap());
        }
        assert_eq!(ok, n.min(50), "rpm {n}");
    }
}

/// Accounts can come from a client's header: their counters are bounded, the least
/// recently used dropped first.
#[test]
fn per_account_state_is_bounded() {
    let counters = Arc::new(MemoryCounters::new(10, 100));
    let l = Limits::new(&config(rpm(1), &[]), counters.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert!(rt.block_on(l.admit(None, Some("steady"), T0)).is_ok());
    for i in 0..5_000 {
        rt.block_on(l.admit(None, Some(&format!("client-{i}")), T0))
            .unwrap();
        // An account in use keeps its counters through the flood of new ones.
        if i % 10 == 0 {
            assert!(
                rt.block_on(l.admit(None, Some("steady"), T0)).is_err(),
                "{i}"
            );
        }
    }
    let tracked = counters.tracked_accounts();
    assert!((1..=100).contains(&tracked), "{tracked}");
    // One the flood pushed out starts again from zero.
    assert!(rt.block_on(l.admit(None, Some("client-0"), T0)).is_ok());
}
