//! The zstd dictionary of small stored content ([`super::Codec::ZstdDict`]).
//!
//! A trace's skeletons (see [`super::Skeleton`]) are too short for zstd to
//! find much to repeat within them; most of their bytes are the same JSON
//! keys and values in every trace. Given as a raw-content dictionary, those
//! strings cost a few bits each: a 470-byte request skeleton is stored in
//! ~170 bytes. Small message blobs are left raw: compressing each new one
//! cost ~12% of the writer's throughput and saved ~1% of the database.
//!
//! Stored content depends on these exact bytes: **never edit them**. A
//! better dictionary gets a new codec number, and this one stays for the
//! content already written with it. zstd matches recent dictionary content
//! more cheaply, so the most common strings come last.

use std::sync::LazyLock;

/// Version 1 of the dictionary (codec 2).
pub(crate) const V1: &str = concat!(
    // OpenAI chat completions: requests, messages, responses.
    r#"{"role":"system","content":"You are a helpful assistant."}"#,
    r#"{"role":"tool","tool_call_id":"call_","content":""#,
    r#"{"role":"assistant","content":null,"tool_calls":[{"id":"call_","type":"function","function":{"name":"","arguments":"{\""#,
    r#"{"object":{"body":{"model":"gpt-4o","messages":null,"tools":null,"tool_choice":"auto","temperature":0,"stream":true,"stream_options":{"include_usage":true},"max_completion_tokens":"#,
    r#"{"object":{"body":{"id":"chatcmpl-","object":"chat.completion","created":1,"model":"gpt-4o-mini-2024-07-18","choices":null,"usage":{"prompt_tokens":"#,
    r#","completion_tokens":"#,
    r#","total_tokens":"#,
    r#","prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_"},"refs":[{"blob":{"key":"choices","hash":""#,
    r#"[{"index":0,"message":{"role":"assistant","content":"","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}]"#,
    // Anthropic messages: requests, messages, responses.
    r#"{"type":"thinking","thinking":"","signature":""}"#,
    r#"{"type":"image","source":{"type":"base64","media_type":"image/png","data":""}}"#,
    r#"{"role":"user","content":[{"type":"text","text":"<system-reminder>\n"#,
    r#"{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01","content":[{"type":"text","text":""#,
    r#"{"role":"user","content":[{"tool_use_id":"toolu_01","type":"tool_result","content":""#,
    r#",{"type":"tool_use","id":"toolu_01","name":"Bash","input":{"command":""#,
    r#"{"type":"tool_use","id":"toolu_01","name":"Read","input":{"file_path":""#,
    r#"{"role":"assistant","content":[{"type":"text","text":""#,
    r#"{"role":"user","content":"#,
    r#"{"object":{"body":{"model":"claude-haiku-4-5-20251001","max_tokens":32000,"messages":null,"system":null,"tools":null,"metadata":{"user_id":"user_"},"temperature":1,"thinking":{"type":"enabled","budget_tokens":"#,
    r#"{"object":{"body":{"id":"msg_01","type":"message","role":"assistant","model":"claude-opus-4-5-20251101","content":null,"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":"#,
    r#","cache_creation_input_tokens":0,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":"#,
    r#","service_tier":"standard"}},"refs":[{"blob":{"key":"content","hash":""#,
    r#"{"object":{"body":{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":null,"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":"#,
    r#"{"object":{"body":{"model":"claude-sonnet-4-5-20250929","messages":null,"system":null,"tools":null,"metadata":{"user_id":"user_"},"max_tokens":32000,"stream":true},"refs":[{"chain":{"key":"messages","head":""#,
    r#"","len":"#,
    r#",{"blob":{"key":"system","hash":""#,
    r#"},{"blob":{"key":"tools","hash":""#,
    r#""}}]}}"#,
);

/// zstd level for small content: level 1 stores the same bytes as level 3
/// on the 100-turn conversation, for less CPU per skeleton (level 3 sets up
/// larger match tables for every piece of content).
const LEVEL: i32 = 1;

/// The encoder's copy of the dictionary, prepared once.
pub(crate) fn encoder() -> &'static zstd::dict::EncoderDictionary<'static> {
    static DICT: LazyLock<zstd::dict::EncoderDictionary<'static>> =
        LazyLock::new(|| zstd::dict::EncoderDictionary::copy(V1.as_bytes(), LEVEL));
    &DICT
}

/// The decoder's copy of the dictionary, prepared once.
pub(crate) fn decoder() -> &'static zstd::dict::DecoderDictionary<'static> {
    static DICT: LazyLock<zstd::dict::DecoderDictionary<'static>> =
        LazyLock::new(|| zstd::dict::DecoderDictionary::copy(V1.as_bytes()));
    &DICT
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Stored content depends on the dictionary's exact bytes.
    #[test]
    fn version_1_never_changes() {
        let digest = blake3::hash(V1.as_bytes()).to_hex().to_string();
        assert_eq!(
            (V1.len(), &digest[..16]),
            (2713, "81409d679015cb7b"),
            "the dictionary of codec 2 changed: content written with it would not decode"
        );
    }
}
