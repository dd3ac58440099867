#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn usage(input: u64, output: u64, read: u64, write: u64) -> Usage {
    Usage {
        input_tokens: Some(input),
        output_tokens: Some(output),
        cache_read_tokens: Some(read),
        cache_write_tokens: Some(write),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn input(t: &PriceTable, model: &str) -> Option<f64> {
    t.price(model).map(|p| p.input)
}

#[test]
fn exact_names_match() {
    let t = PriceTable::builtin();
    assert_eq!(t.price("claude-opus-4-5").unwrap().input, 5.0);
    assert_eq!(t.price("gpt-4o").unwrap().output, 10.0);
    assert_eq!(t.price("o3").unwrap().input, 2.0);
    assert_eq!(t.price("GPT-4o-Mini").unwrap().input, 0.15);
}

#[test]
fn builtin_list_prices() {
    let t = PriceTable::builtin();
    let want: &[(&str, f64, f64, f64, Option<f64>)] = &[
        ("claude-opus-4-6", 5.0, 25.0, 0.5, Some(6.25)),
        ("claude-sonnet-4-6", 3.0, 15.0, 0.3, Some(3.75)),
        ("claude-opus-4-5", 5.0, 25.0, 0.5, Some(6.25)),
        ("claude-opus-4-1", 15.0, 75.0, 1.5, Some(18.75)),
        ("claude-opus-4", 15.0, 75.0, 1.5, Some(18.75)),
        ("claude-sonnet-4-5", 3.0, 15.0, 0.3, Some(3.75)),
        ("claude-sonnet-4", 3.0, 15.0, 0.3, Some(3.75)),
        ("claude-3-7-sonnet", 3.0, 15.0, 0.3, Some(3.75)),
        ("claude-3-5-sonnet", 3.0, 15.0, 0.3, Some(3.75)),
        ("claude-3-opus", 15.0, 75.0, 1.5, Some(18.75)),
        ("claude-3-sonnet", 3.0, 15.0, 0.3, Some(3.75)),
        ("claude-haiku-4-5", 1.0, 5.0, 0.1, Some(1.25)),
        ("claude-3-5-haiku", 0.8, 4.0, 0.08, Some(1.0)),
        ("claude-3-haiku", 0.25, 1.25, 0.03, Some(0.3)),
        ("gpt-5", 1.25, 10.0, 0.125, None),
        ("gpt-5-mini", 0.25, 2.0, 0.025, None),
        ("gpt-5-nano", 0.05, 0.4, 0.005, None),
        ("gpt-5.1", 1.25, 10.0, 0.125, None),
        ("gpt-5.2", 1.75, 14.0, 0.175, None),
        ("gpt-4.1", 2.0, 8.0, 0.5, None),
        ("gpt-4.1-mini", 0.4, 1.6, 0.1, None),
        ("gpt-4.1-nano", 0.1, 0.4, 0.025, None),
        ("gpt-4o", 2.5, 10.0, 1.25, None),
        ("gpt-4o-mini", 0.15, 0.6, 0.075, None),
        ("o3", 2.0, 8.0, 0.5, None),
        ("o4-mini", 1.1, 4.4, 0.275, None),
        ("o1", 15.0, 60.0, 7.5, None),
        ("o3-mini", 1.1, 4.4, 0.55, None),
    ];
    for &(model, input, output, read, write) in want {
        let p = t.price(model).unwrap();
        assert_eq!(
            (p.input, p.output, p.cache_read, p.cache_write),
            (input, output, Some(read), write),
            "{model}"
        );
    }
}

#[test]
fn every_claude_generation_and_tier_has_a_price() {
    let t = PriceTable::builtin();
    for generation in ["4-5", "4-6", "4-7", "4-8", "5", "5-5"] {
        assert_eq!(input(&t, &format!("claude-opus-{generation}")), Some(5.0));
        assert_eq!(input(&t, &format!("claude-sonnet-{generation}")), Some(3.0));
        assert_eq!(input(&t, &format!("claude-haiku-{generation}")), Some(1.0));
    }
    // A dated id of a newer generation never falls back to the older Opus 4 price.
    assert_eq!(input(&t, "claude-opus-4-7-20260301"), Some(5.0));
    assert_eq!(input(&t, "claude-opus-5-5"), Some(5.0));
    assert_eq!(input(&t, "claude-opus-4-0"), Some(15.0));
}

#[test]
fn table_keys_are_canonical_and_unique() {
    let mut seen = std::collections::HashSet::new();
    for (name, price) in builtin::BUILTIN {
        assert_eq!(*name, name.trim().to_ascii_lowercase(), "{name}");
        assert!(seen.insert(*name), "duplicate {name}");
        assert!(price.input > 0.0 && price.output >= price.input, "{name}");
    }
}

#[test]
fn dated_and_latest_names_match_their_base() {
    let t = PriceTable::builtin();
    assert_eq!(input(&t, "claude-sonnet-4-5-20250929"), Some(3.0));
    assert_eq!(input(&t, "claude-opus-4-5-20251101"), Some(5.0));
    assert_eq!(input(&t, "claude-opus-4-1-20250805"), Some(15.0));
    assert_eq!(input(&t, "claude-opus-4-1@20250805"), Some(15.0));
    assert_eq!(input(&t, "claude-3-5-haiku-latest"), Some(0.8));
    assert_eq!(input(&t, "claude-3-5-sonnet-latest"), Some(3.0));
    assert_eq!(input(&t, "claude-3-5-sonnet-20241022"), Some(3.0));
    assert_eq!(input(&t, "claude-haiku-4-5@20251001"), Some(1.0));
    assert_eq!(input(&t, "gpt-4o-2024-08-06"), Some(2.5));
    assert_eq!(input(&t, "gpt-4o-2024-05-13"), Some(5.0));
    assert_eq!(input(&t, "o3-mini-2025-01-31"), Some(1.1));
    assert_eq!(input(&t, "chatgpt-4o-latest"), Some(5.0));
    assert_eq!(input(&t, "codex-mini-latest"), Some(1.5));
    assert_eq!(input(&t, "gpt-5.2-2025-12-11"), Some(1.75));
}

#[test]
fn hosted_ids_match_their_model() {
    let t = PriceTable::builtin();
    assert_eq!(
        input(&t, "anthropic.claude-3-5-sonnet-20241022-v2:0"),
        Some(3.0)
    );
    assert_eq!(
        input(&t, "us.anthropic.claude-opus-4-1-20250805-v1:0"),
        Some(15.0)
    );
    assert_eq!(input(&t, "claude-3-5-sonnet-v2@20241022"), Some(3.0));
    assert_eq!(input(&t, "openai/gpt-4o-mini"), Some(0.15));
    assert_eq!(input(&t, "claude-opus-4-6[1m]"), Some(5.0));
}

#[test]
fn prefix_matches_only_at_a_dash_and_prefers_the_longest_key() {
    let t = PriceTable::builtin();
    assert_eq!(input(&t, "gpt-4o-mini-2024-07-18"), Some(0.15));
    assert_eq!(input(&t, "gpt-4o-mini-search-preview"), Some(0.15));
    assert_eq!(input(&t, "gpt-5-chat-latest"), Some(1.25));
    assert_eq!(input(&t, "gpt-5-mini-2025-08-07"), Some(0.25));
    assert_eq!(input(&t, "gpt-5.1-codex"), Some(1.25));
    assert_eq!(input(&t, "gpt-5.1-codex-mini"), Some(0.25));
    assert_eq!(input(&t, "gpt-5.2-codex"), Some(1.75));
    assert_eq!(input(&t, "gpt-4-turbo-2024-04-09"), Some(10.0));
    assert_eq!(input(&t, "gpt-4-0613"), Some(30.0));
    assert_eq!(input(&t, "o4-mini-high"), Some(1.1));
    assert_eq!(input(&t, "o3-pro-2025-06-10"), Some(20.0));
    // `gpt-4oo` must not be taken for `gpt-4o`, nor `o30` for `o3`, nor `gpt-5.9` for `gpt-5`.
    assert_eq!(t.price("gpt-4oo"), None);
    assert_eq!(t.price("o30"), None);
    assert_eq!(t.price("gpt-5.9"), None);
}

#[test]
fn unknown_models_have_no_price_and_no_cost() {
    let t = PriceTable::builtin();
    assert_eq!(t.price("llama-3-70b"), None);
    assert_eq!(t.price(""), None);
    assert_eq!(t.price("-"), None);
    assert_eq!(t.price("-gpt-4o"), None);
    assert_eq!(t.price("claude-2"), None);
    assert_eq!(t.cost("llama-3-70b", &usage(1000, 1000, 0, 0)), None);
}

#[test]
fn no_usage_means_no_cost() {
    let t = PriceTable::builtin();
    assert_eq!(t.cost("gpt-4o", &Usage::default()), None);
}

#[test]
fn plain_tokens_are_priced() {
    let t = PriceTable::builtin();
    // 1M input at 3 + 1M output at 15.
    let c = t.cost("claude-sonnet-4-5", &usage(1_000_000, 1_000_000, 0, 0));
    assert!(close(c.unwrap(), 18.0), "{c:?}");
}

#[test]
fn cache_tokens_are_priced_at_cache_rates() {
    let t = PriceTable::builtin();
    // sonnet: 1000 in * 3 + 500 out * 15 + 10_000 read * 0.3 + 2000 write * 3.75
    let c = t
        .cost(
            "claude-sonnet-4-5-20250929",
            &usage(1000, 500, 10_000, 2000),
        )
        .unwrap();
    assert!(close(c, (3000.0 + 7500.0 + 3000.0 + 7500.0) / 1e6), "{c}");
    // gpt-4o: cached at 1.25; no cache-write price, so writes fall back to input.
    let c = t
        .cost("gpt-4o", &usage(0, 0, 1_000_000, 1_000_000))
        .unwrap();
    assert!(close(c, 1.25 + 2.5), "{c}");
}

#[test]
fn missing_cache_prices_fall_back_to_input() {
    let p = ModelPrice {
        input: 2.0,
        output: 4.0,
        cache_read: None,
        cache_write: None,
    };
    assert!(close(p.cost(&usage(0, 0, 1_000_000, 1_000_000)), 4.0));
}

#[test]
fn overrides_win_over_builtin_and_add_models() {
    let cheap = ModelPrice {
        input: 0.01,
        output: 0.02,
        cache_read: None,
        cache_write: None,
    };
    let dated = ModelPrice {
        input: 0.5,
        ..cheap
    };
    let t = PriceTable::builtin().with_overrides([
        ("gpt-4o".to_owned(), cheap),
        ("My-Local-Model".to_owned(), cheap),
        ("claude-sonnet-4-5-20250929".to_owned(), dated),
    ]);
    assert_eq!(t.price("gpt-4o"), Some(cheap));
    assert_eq!(t.price("gpt-4o-2024-08-06"), Some(cheap));
    assert_eq!(t.price("my-local-model-v2"), Some(cheap));
    assert_eq!(t.price("gpt-4o-mini").unwrap().input, 0.15);
    // An override of an exact dated id is found before the family's price.
    assert_eq!(t.price("claude-sonnet-4-5-20250929"), Some(dated));
    assert_eq!(t.price("claude-sonnet-4-5-20990101").unwrap().input, 3.0);
}

#[test]
fn entries_list_every_price_and_mark_overrides() {
    let cheap = ModelPrice {
        input: 0.01,
        output: 0.02,
        cache_read: None,
        cache_write: None,
    };
    let t = PriceTable::builtin()
        .with_overrides([("gpt-4o".to_owned(), cheap), (" Mine ".to_owned(), cheap)]);
    let rows = t.entries();
    assert_eq!(rows.len(), builtin::BUILTIN.len() + 1);
    assert!(rows.windows(2).all(|w| w[0].model < w[1].model));
    let find = |m: &str| rows.iter().find(|r| r.model == m).unwrap();
    assert_eq!(find("gpt-4o").source, PriceSource::Override);
    assert_eq!(find("gpt-4o").price, cheap);
    assert_eq!(find("mine").source, PriceSource::Override);
    assert_eq!(find("o3").source, PriceSource::Builtin);
    let json = serde_json::to_value(find("mine")).unwrap();
    assert_eq!(json["model"], "mine");
    assert_eq!(json["input"], 0.01);
    assert_eq!(json["source"], "override");
}

#[test]
fn model_price_reads_from_config_with_optional_cache_prices() {
    let p: ModelPrice = serde_json::from_str(r#"{"input": 1.5, "output": 2}"#).unwrap();
    assert_eq!(p.cache_read, None);
    assert_eq!(p.output, 2.0);
}
