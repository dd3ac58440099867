//! Which API a request speaks and whether its body must be JSON.

use http::{HeaderMap, Method};
use tracegate_core::Provider;

/// What the gateway knows about a path before reading the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub provider: Provider,
    /// One of the endpoints whose body must be a JSON object (400 otherwise) and whose
    /// responses carry usage: `/v1/messages`, `/v1/messages/count_tokens`, `/v1/chat/completions`.
    pub json_required: bool,
    /// `/v1/chat/completions`: the endpoint where stream usage may be injected.
    pub chat_completions: bool,
}

/// Classifies a `/v1/...` request. An `anthropic-version` header or a `/v1/messages` path
/// means Anthropic; everything else is OpenAI's API.
pub fn classify(method: &Method, path: &str, headers: &HeaderMap) -> Route {
    let anthropic_path =
        path == "/v1/messages" || path.starts_with("/v1/messages/") || path == "/v1/complete";
    let provider = if anthropic_path || headers.contains_key("anthropic-version") {
        Provider::Anthropic
    } else {
        Provider::Openai
    };
    let post = method == Method::POST;
    let json_required = post
        && match provider {
            Provider::Anthropic => path == "/v1/messages" || path == "/v1/messages/count_tokens",
            Provider::Openai => path == "/v1/chat/completions",
        };
    Route {
        provider,
        json_required,
        chat_completions: post && provider == Provider::Openai && path == "/v1/chat/completions",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_headers_pick_the_provider() {
        let none = HeaderMap::new();
        let mut anth = HeaderMap::new();
        anth.insert(
            "anthropic-version",
            http::HeaderValue::from_static("2023-06-01"),
        );
        let r = classify(&Method::POST, "/v1/messages", &none);
        assert_eq!((r.provider, r.json_required), (Provider::Anthropic, true));
        let r = classify(&Method::POST, "/v1/messages/count_tokens", &none);
        assert!(r.json_required);
        let r = classify(&Method::POST, "/v1/chat/completions", &none);
        assert_eq!(
            (r.provider, r.json_required, r.chat_completions),
            (Provider::Openai, true, true)
        );
        assert_eq!(
            classify(&Method::GET, "/v1/models", &none).provider,
            Provider::Openai
        );
        assert_eq!(
            classify(&Method::GET, "/v1/models", &anth).provider,
            Provider::Anthropic
        );
        let r = classify(&Method::POST, "/v1/embeddings", &none);
        assert_eq!((r.provider, r.json_required), (Provider::Openai, false));
        assert!(!classify(&Method::GET, "/v1/messages", &none).json_required);
    }
}
