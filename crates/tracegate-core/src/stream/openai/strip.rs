//! Hiding usage the gateway asked for on the client's behalf.
//!
//! To always record usage, the gateway may add `stream_options.include_usage`
//! to a request whose client did not ask for it. The client must then see the
//! stream it would have got: the usage-only chunk is dropped and the
//! `"usage":null` member of every other chunk removed, leaving all other
//! bytes as they came.

use bytes::{Bytes, BytesMut};
use serde_json::Value;

use crate::sse::SseEvent;

/// Rewrites one raw SSE event so the client never sees the usage it did not ask for.
/// Returns None to drop the event (the usage-only chunk), or the bytes to forward
/// (the event with its top-level `"usage":null` member removed; otherwise byte-identical).
pub fn strip_injected_usage(ev: &SseEvent) -> Option<Bytes> {
    if !ev.has_data {
        return Some(ev.raw.clone());
    }
    let Ok(Value::Object(mut chunk)) = serde_json::from_str::<Value>(&ev.data) else {
        return Some(ev.raw.clone()); // `[DONE]` and anything that is not a chunk
    };
    if chunk.contains_key("error") {
        return Some(ev.raw.clone());
    }
    let Some(usage) = chunk.get("usage") else {
        return Some(ev.raw.clone());
    };
    let no_choices = match chunk.get("choices") {
        None => true,
        Some(Value::Array(list)) => list.is_empty(),
        Some(_) => false,
    };
    if no_choices && !usage.is_null() {
        return None;
    }
    if let Some(bytes) = remove_member_in_place(&ev.raw, b"usage") {
        return Some(bytes);
    }
    // The member could not be cut out byte-exactly (data split over several
    // lines, escaped key): write the event anew without it.
    chunk.shift_remove("usage");
    let mut out = String::new();
    if let Some(event) = &ev.event {
        out.push_str(&format!("event: {event}\n"));
    }
    if let Some(id) = &ev.id {
        out.push_str(&format!("id: {id}\n"));
    }
    out.push_str(&format!("data: {}\n\n", Value::Object(chunk)));
    Some(Bytes::from(out))
}

/// `raw` with the top-level member `key` of its single `data` line's JSON
/// object removed, along with one comma next to it.
fn remove_member_in_place(raw: &[u8], key: &[u8]) -> Option<Bytes> {
    let (start, end) = single_data_value(raw)?;
    let cut = member_span(&raw[start..end], key)?;
    let mut out = BytesMut::with_capacity(raw.len());
    out.extend_from_slice(&raw[..start + cut.0]);
    out.extend_from_slice(&raw[start + cut.1..]);
    Some(out.freeze())
}

/// Byte range of the value of the only `data` line of an event.
fn single_data_value(raw: &[u8]) -> Option<(usize, usize)> {
    let mut pos = if raw.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let mut found = None;
    while pos < raw.len() {
        let len = raw[pos..]
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .unwrap_or(raw.len() - pos);
        let line = &raw[pos..pos + len];
        if let Some(value) = line.strip_prefix(b"data") {
            if value.is_empty() || value[0] == b':' {
                if found.is_some() {
                    return None;
                }
                let skip = match value {
                    [b':', b' ', ..] => 6,
                    [b':', ..] => 5,
                    _ => 4,
                };
                found = Some((pos + skip, pos + len));
            }
        }
        pos += len;
        match raw.get(pos..pos + 2) {
            Some(b"\r\n") => pos += 2,
            _ => pos += 1,
        }
    }
    found
}

/// Byte range to delete so that the top-level member `key` of the JSON object
/// `s` disappears: `,"key":v` when a member precedes it, `"key":v,` when it is
/// first, or just `"key":v` when it is alone.
fn member_span(s: &[u8], key: &[u8]) -> Option<(usize, usize)> {
    let mut i = skip_ws(s, 0);
    if s.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let mut comma_before = None;
    loop {
        let key_start = skip_ws(s, i);
        if s.get(key_start) != Some(&b'"') {
            return None;
        }
        let key_end = skip_string(s, key_start)?;
        i = skip_ws(s, key_end);
        if s.get(i) != Some(&b':') {
            return None;
        }
        let value_end = skip_value(s, skip_ws(s, i + 1))?;
        i = skip_ws(s, value_end);
        let next = *s.get(i)?;
        if s.get(key_start + 1..key_end - 1) == Some(key) {
            return Some(match (comma_before, next) {
                (Some(comma), _) => (comma, value_end),
                (None, b',') => (key_start, i + 1),
                (None, _) => (key_start, value_end),
            });
        }
        if next != b',' {
            return None;
        }
        comma_before = Some(i);
        i += 1;
    }
}

fn skip_ws(s: &[u8], mut i: usize) -> usize {
    while matches!(s.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// Index just past the string starting at `s[i] == '"'`.
fn skip_string(s: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        match s.get(j)? {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
}

/// Index just past the JSON value starting at `s[i]`.
fn skip_value(s: &[u8], i: usize) -> Option<usize> {
    match s.get(i)? {
        b'"' => skip_string(s, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match s.get(j)? {
                    b'"' => {
                        j = skip_string(s, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let len = s[i..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(s.len() - i);
            (len > 0).then_some(i + len)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::sse::SseParser;
    use proptest::arbitrary::Arbitrary;

    fn event(raw: &str) -> SseEvent {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        parser.push(raw.as_bytes(), &mut out);
        parser.finish(&mut out);
        assert_eq!(out.len(), 1, "{raw:?}");
        out.remove(0)
    }

    fn strip(raw: &str) -> Option<String> {
        strip_injected_usage(&event(raw)).map(|b| String::from_utf8(b.to_vec()).unwrap())
    }

    proptest::proptest! {
        #[test]
        fn usage_null_removal_deletes_only_that_member(
            values in proptest::collection::vec(0u8..4, 0..5),
            at in proptest::sample::Index::arbitrary(),
            spaced in proptest::bool::ANY,
        ) {
            let sep = if spaced { ", " } else { "," };
            let samples = ["1", "\"x,}\"", "{\"usage\":null}", "[null,{}]"];
            let mut members: Vec<String> = values
                .iter()
                .enumerate()
                .map(|(i, v)| format!("\"k{i}\":{}", samples[usize::from(*v)]))
                .collect();
            members.push("\"choices\":[{\"delta\":{}}]".to_owned());
            let expected = format!("{{{}}}", members.join(sep));
            members.insert(at.index(members.len() + 1), "\"usage\":null".to_owned());
            let input = format!("{{{}}}", members.join(sep));
            let out = strip(&format!("data: {input}\n\n")).unwrap();
            let body = out
                .strip_prefix("data: ")
                .and_then(|b| b.strip_suffix("\n\n"))
                .unwrap();
            let want: Value = serde_json::from_str(&expected).unwrap();
            proptest::prop_assert_eq!(serde_json::from_str::<Value>(body).unwrap(), want);
            // The output is the input with one run of bytes taken out.
            let prefix = input.bytes().zip(body.bytes()).take_while(|(a, b)| a == b).count();
            let removed = input.len() - body.len();
            proptest::prop_assert_eq!(&input[prefix + removed..], &body[prefix..]);
        }
    }

    #[test]
    fn usage_null_is_cut_out_and_the_rest_kept_byte_for_byte() {
        let raw = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}],\"usage\":null}\n\n";
        let want = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n";
        assert_eq!(strip(raw).as_deref(), Some(want));
    }

    #[test]
    fn usage_first_or_in_the_middle_takes_its_own_comma() {
        assert_eq!(
            strip("data: {\"usage\":null,\"choices\":[{\"delta\":{}}]}\n\n").as_deref(),
            Some("data: {\"choices\":[{\"delta\":{}}]}\n\n")
        );
        assert_eq!(
            strip("data:{\"a\":1, \"usage\" : null ,\"choices\":[{}]}\r\n\r\n").as_deref(),
            Some("data:{\"a\":1 ,\"choices\":[{}]}\r\n\r\n")
        );
    }

    #[test]
    fn usage_only_chunk_is_dropped() {
        let raw = "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}\n\n";
        assert_eq!(strip(raw), None);
    }

    #[test]
    fn usage_on_a_chunk_with_content_is_removed_not_dropped() {
        let raw = "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"usage\":{\"prompt_tokens\":1}}\n\n";
        assert_eq!(
            strip(raw).as_deref(),
            Some("data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n")
        );
    }

    #[test]
    fn nested_usage_and_lookalike_strings_are_left_alone() {
        let raw = "data: {\"note\":\"\\\"usage\\\":null,\",\"choices\":[{\"usage\":null,\"d\":\"}\"}],\"usage\":null}\n\n";
        assert_eq!(
            strip(raw).as_deref(),
            Some("data: {\"note\":\"\\\"usage\\\":null,\",\"choices\":[{\"usage\":null,\"d\":\"}\"}]}\n\n")
        );
    }

    #[test]
    fn done_comments_errors_and_plain_chunks_pass_untouched() {
        for raw in [
            "data: [DONE]\n\n",
            ": keep-alive\n\n",
            "data: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\"},\"usage\":null}\n\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n",
            "data: not json\n\n",
        ] {
            assert_eq!(strip(raw).as_deref(), Some(raw));
        }
    }

    #[test]
    fn multi_line_data_is_rewritten_without_usage() {
        let raw = "event: chunk\ndata: {\"choices\":[{}],\ndata: \"usage\":null}\n\n";
        let out = strip(raw).unwrap();
        assert_eq!(out, "event: chunk\ndata: {\"choices\":[{}]}\n\n");
    }

    #[test]
    fn escaped_key_falls_back_to_rewriting() {
        let raw = "data: {\"choices\":[{}],\"usag\\u0065\":null}\n\n";
        assert_eq!(strip(raw).as_deref(), Some("data: {\"choices\":[{}]}\n\n"));
    }

    #[test]
    fn member_span_rejects_broken_json_without_panicking() {
        for s in [
            "",
            "{",
            "{\"usage\"",
            "{\"usage\":",
            "{\"a\":1",
            "[1]",
            "{\"a\":\"\\",
            "{\"a\":}}",
        ] {
            assert_eq!(member_span(s.as_bytes(), b"usage"), None, "{s:?}");
        }
        assert_eq!(member_span(b"{\"usage\":1}", b"usage"), Some((1, 10)));
    }

    #[test]
    fn single_data_value_finds_the_one_data_line() {
        let raw = b"\xEF\xBB\xBFid: 1\r\ndata: {}\r\n\r\n";
        let (a, b) = single_data_value(raw).unwrap();
        assert_eq!(&raw[a..b], b"{}");
        assert_eq!(single_data_value(b"data: 1\ndata: 2\n\n"), None);
        assert_eq!(single_data_value(b"datum: 1\n\n"), None);
    }
}
