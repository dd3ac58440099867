//! Label values from bounded sets only. A client picks the path and the model it sends:
//! neither may become a label as given, or 100,000 distinct names would make 100,000 series.
//!
//! - `endpoint` is a route template from a fixed list; any other path is `other`.
//! - `model` is a name the price table lists exactly, a name `metric_models` lists, or one
//!   of the first [`MAX_MATCHED_MODELS`] other names the price table recognises (dated ids
//!   such as `claude-sonnet-4-5-20250929`); everything else is `other`.
//! - `status_class` is `2xx`, `4xx`, ... or `none` when no status was sent.

use std::collections::HashSet;
use std::sync::Arc;

use parking_lot::RwLock;
use tracegate_core::pricing::PriceTable;

/// The label value of everything outside a bounded set.
pub const OTHER: &str = "other";

/// The label value when a request named no model (e.g. `GET /v1/models`).
pub const NO_MODEL: &str = "none";

/// Names the price table recognises without listing them exactly (dated ids, `-latest`,
/// longer names of a listed family) that get a label of their own; later ones are `other`.
pub const MAX_MATCHED_MODELS: usize = 100;

/// The route templates `endpoint` takes, besides `other`.
pub const ENDPOINTS: &[&str] = &[
    "/v1/messages",
    "/v1/messages/count_tokens",
    "/v1/messages/batches",
    "/v1/complete",
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/responses",
    "/v1/embeddings",
    "/v1/moderations",
    "/v1/models",
    "/v1/models/{model}",
];

/// The route template of a proxied path, `other` when it is none of [`ENDPOINTS`].
pub fn endpoint(path: &str) -> &'static str {
    if let Some(known) = ENDPOINTS.iter().find(|e| **e == path) {
        return known;
    }
    match path.strip_prefix("/v1/models/") {
        Some(rest) if !rest.is_empty() && !rest.contains('/') => "/v1/models/{model}",
        _ => OTHER,
    }
}

/// `2xx`, `3xx`, `4xx`, `5xx`, `1xx`, or `none` when the request got no status.
pub fn status_class(status: Option<u16>) -> &'static str {
    match status {
        Some(100..=199) => "1xx",
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        Some(_) => OTHER,
        None => "none",
    }
}

/// Turns model names into bounded label values.
#[derive(Debug)]
pub struct ModelLabels {
    prices: Arc<PriceTable>,
    /// Exact names: the price table's and the configured ones, lower-cased.
    listed: HashSet<Arc<str>>,
    /// Names the price table recognised, first come, at most [`MAX_MATCHED_MODELS`].
    matched: RwLock<HashSet<Arc<str>>>,
}

impl ModelLabels {
    /// Labels for the models of `prices` and the extra names of `metric_models`.
    pub fn new(prices: Arc<PriceTable>, metric_models: &[String]) -> Self {
        let listed = prices
            .models()
            .map(str::to_owned)
            .chain(metric_models.iter().map(|m| m.trim().to_ascii_lowercase()))
            .filter(|m| !m.is_empty())
            .map(Arc::from)
            .collect();
        ModelLabels {
            prices,
            listed,
            matched: RwLock::default(),
        }
    }

    /// The most distinct values `label` can return: the bound.
    pub fn bound(&self) -> usize {
        self.listed.len() + MAX_MATCHED_MODELS + 2
    }

    /// The label value of `model`.
    pub fn label(&self, model: Option<&str>) -> Arc<str> {
        let Some(raw) = model.map(str::trim).filter(|m| !m.is_empty()) else {
            return Arc::from(NO_MODEL);
        };
        if let Some(l) = self.listed.get(raw) {
            return l.clone();
        }
        let lower = raw.to_ascii_lowercase();
        if let Some(l) = self.listed.get(lower.as_str()) {
            return l.clone();
        }
        if let Some(l) = self.matched.read().get(lower.as_str()) {
            return l.clone();
        }
        if self.prices.price(&lower).is_none() {
            return Arc::from(OTHER);
        }
        let mut matched = self.matched.write();
        if let Some(l) = matched.get(lower.as_str()) {
            return l.clone();
        }
        if matched.len() >= MAX_MATCHED_MODELS {
            return Arc::from(OTHER);
        }
        let l: Arc<str> = Arc::from(lower);
        matched.insert(l.clone());
        l
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_templates() {
        assert_eq!(endpoint("/v1/messages"), "/v1/messages");
        assert_eq!(endpoint("/v1/chat/completions"), "/v1/chat/completions");
        assert_eq!(endpoint("/v1/models/gpt-4.1"), "/v1/models/{model}");
        assert_eq!(endpoint("/v1/models/a/b"), OTHER);
        assert_eq!(endpoint("/v1/models/"), OTHER);
        assert_eq!(endpoint("/v1/messages/abc"), OTHER);
        assert_eq!(endpoint("/v1/x-12345"), OTHER);
        assert_eq!(status_class(Some(204)), "2xx");
        assert_eq!(status_class(Some(429)), "4xx");
        assert_eq!(status_class(Some(503)), "5xx");
        assert_eq!(status_class(Some(700)), OTHER);
        assert_eq!(status_class(None), "none");
    }

    #[test]
    fn models_outside_the_table_and_config_are_other() {
        let labels = ModelLabels::new(Arc::new(PriceTable::builtin()), &["My-Finetune".into()]);
        assert_eq!(
            &*labels.label(Some("claude-sonnet-4-5")),
            "claude-sonnet-4-5"
        );
        assert_eq!(&*labels.label(Some("GPT-4.1")), "gpt-4.1");
        assert_eq!(&*labels.label(Some("my-finetune")), "my-finetune");
        assert_eq!(&*labels.label(Some("made-up-model-7")), OTHER);
        assert_eq!(&*labels.label(None), NO_MODEL);
        assert_eq!(&*labels.label(Some("  ")), NO_MODEL);
        assert_eq!(
            &*labels.label(Some("claude-sonnet-4-5-20250929")),
            "claude-sonnet-4-5-20250929"
        );
    }

    #[test]
    fn recognised_names_are_capped() {
        let labels = ModelLabels::new(Arc::new(PriceTable::builtin()), &[]);
        let mut distinct = HashSet::new();
        for i in 0..(MAX_MATCHED_MODELS * 3) {
            distinct.insert(labels.label(Some(&format!("claude-sonnet-4-5-x{i}"))));
        }
        assert_eq!(
            distinct.len(),
            MAX_MATCHED_MODELS + 1,
            "the cap plus `other`"
        );
        assert!(distinct.contains(OTHER));
        // A name admitted before the cap keeps its label.
        assert_eq!(
            &*labels.label(Some("claude-sonnet-4-5-x0")),
            "claude-sonnet-4-5-x0"
        );
    }
}
