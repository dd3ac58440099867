//! Incremental parser for `text/event-stream` bodies, following the WHATWG
//! EventSource rules.
//!
//! The parser is fed the upstream bytes as they arrive and hands back whole
//! events. Every byte pushed ends up in exactly one event's `raw`, so a proxy
//! that rewrites a stream can forward events one by one and keep the rest of
//! the stream byte-identical. Blocks without any `data` line (comments such as
//! `: ping`, stray blank lines) still come out, with `has_data == false`.

use bytes::{Bytes, BytesMut};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One event of an SSE stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// Exact bytes of the event, including its terminating blank line
    /// (and the byte-order mark, for the first event of a stream that had one).
    pub raw: Bytes,
    /// Value of the `event` field, if the event had a non-empty one.
    pub event: Option<String>,
    /// Values of the `data` lines, joined with `\n`.
    pub data: String,
    /// Value of the `id` field of this event, if it had one.
    pub id: Option<String>,
    /// Whether the event had at least one `data` line; an event without one
    /// is not dispatched by an EventSource client.
    pub has_data: bool,
}

/// Fields collected from the lines of the event being read.
#[derive(Debug, Default)]
struct Fields {
    event: Option<String>,
    data: String,
    id: Option<String>,
    has_data: bool,
}

impl Fields {
    /// Applies one line (without its terminator) to the event being built.
    fn apply_line(&mut self, line: &[u8]) {
        if line.first() == Some(&b':') {
            return; // comment
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &line[line.len()..]),
        };
        match name {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&String::from_utf8_lossy(value));
                self.has_data = true;
            }
            b"event" => {
                self.event =
                    (!value.is_empty()).then(|| String::from_utf8_lossy(value).into_owned());
            }
            b"id" if !value.contains(&0) => {
                self.id = Some(String::from_utf8_lossy(value).into_owned());
            }
            _ => {} // `retry` and unknown fields carry nothing we need
        }
    }

    fn into_event(self, raw: Bytes) -> SseEvent {
        SseEvent {
            raw,
            event: self.event,
            data: self.data,
            id: self.id,
            has_data: self.has_data,
        }
    }
}

/// Longest event the parser holds whole, in bytes, unless told otherwise.
/// Provider events are a few KiB at most; an event that grows past this (an
/// upstream that never sends a blank line) is handed out in raw pieces
/// without fields, so memory stays bounded and no byte is lost.
pub const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// Incremental SSE parser: push bytes in, get complete events out.
#[derive(Debug)]
pub struct SseParser {
    /// Raw bytes of the event being read (everything not yet handed out).
    buf: BytesMut,
    /// Start of the first line of `buf` not applied yet.
    line_start: usize,
    /// Where to resume looking for a line terminator.
    scan: usize,
    /// Whether the start of the stream has been checked for a byte-order mark.
    bom_checked: bool,
    fields: Fields,
    /// Longest event held whole.
    max_event: usize,
    /// Inside an event that outgrew `max_event`: its lines are not applied.
    oversized: bool,
    /// `buf` starts in the middle of a line (an oversized event was cut there).
    mid_line: bool,
    /// Events that outgrew `max_event` so far.
    oversized_events: u64,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::with_max_event_bytes(MAX_EVENT_BYTES)
    }
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// A parser that holds events of up to `max` bytes whole.
    pub fn with_max_event_bytes(max: usize) -> Self {
        SseParser {
            buf: BytesMut::new(),
            line_start: 0,
            scan: 0,
            bom_checked: false,
            fields: Fields::default(),
            max_event: max.max(1),
            oversized: false,
            mid_line: false,
            oversized_events: 0,
        }
    }

    /// How many events outgrew the size limit: their bytes came out in raw
    /// pieces with no fields (`has_data == false`).
    pub fn oversized_events(&self) -> u64 {
        self.oversized_events
    }

    /// Feeds the next bytes of the stream; appends every event they complete to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) {
        self.buf.extend_from_slice(chunk);
        if !self.bom_checked {
            if self.buf.len() < BOM.len() && BOM.starts_with(&self.buf) {
                return; // could still become a byte-order mark
            }
            self.check_bom();
        }
        self.drain_lines(out, false);
        if self.buf.len() > self.max_event || (self.oversized && !self.buf.is_empty()) {
            self.cut(out);
        }
    }

    /// Hands out the unfinished event's bytes as they are, without fields,
    /// and skips its lines up to its blank line.
    fn cut(&mut self, out: &mut Vec<SseEvent>) {
        if !self.oversized {
            self.oversized = true;
            self.oversized_events += 1;
        }
        // A CR at the very end stays: it may be the first half of a CRLF, and
        // whether it ends a line or the event is known only with the next byte.
        let keep_from = self.scan.min(self.buf.len());
        // `mid_line` only holds while no line end has been seen since the
        // last cut, that is while `line_start` is 0.
        self.mid_line = self.mid_line || self.line_start < keep_from;
        self.fields = Fields::default();
        let raw = self.buf.split_to(keep_from).freeze();
        if !raw.is_empty() {
            out.push(SseEvent {
                raw,
                ..SseEvent::default()
            });
        }
        self.line_start = 0;
        self.scan = 0;
    }

    /// Ends the stream: an event left without its terminating blank line is
    /// still handed out (its last line may lack a line ending too).
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        if !self.bom_checked {
            self.check_bom();
        }
        self.drain_lines(out, true);
        if self.line_start < self.buf.len() && !self.oversized {
            let line = &self.buf[self.line_start..];
            self.fields.apply_line(line);
        }
        if !self.buf.is_empty() {
            let raw = self.buf.split().freeze();
            out.push(std::mem::take(&mut self.fields).into_event(raw));
        }
        *self = SseParser {
            oversized_events: self.oversized_events,
            ..Self::with_max_event_bytes(self.max_event)
        };
    }

    fn check_bom(&mut self) {
        self.bom_checked = true;
        if self.buf.starts_with(BOM) {
            self.line_start = BOM.len();
            self.scan = BOM.len();
        }
    }

    /// Applies every complete line in the buffer, dispatching an event at each
    /// blank line. A CR at the very end of the buffer only counts as a line
    /// end once the next byte is known (it may be the first half of a CRLF),
    /// or when `at_eof` says no byte will follow.
    fn drain_lines(&mut self, out: &mut Vec<SseEvent>, at_eof: bool) {
        loop {
            let rest = &self.buf[self.scan..];
            let Some(rel) = rest.iter().position(|&b| b == b'\n' || b == b'\r') else {
                self.scan = self.buf.len();
                return;
            };
            let i = self.scan + rel;
            let next = if self.buf[i] == b'\n' {
                i + 1
            } else {
                match self.buf.get(i + 1) {
                    Some(b'\n') => i + 2,
                    Some(_) => i + 1,
                    None if at_eof => i + 1,
                    None => {
                        self.scan = i;
                        return;
                    }
                }
            };
            if i == self.line_start && !self.mid_line {
                let raw = self.buf.split_to(next).freeze();
                out.push(std::mem::take(&mut self.fields).into_event(raw));
                self.oversized = false;
                self.line_start = 0;
                self.scan = 0;
            } else {
                if !self.oversized {
                    self.fields.apply_line(&self.buf[self.line_start..i]);
                }
                self.mid_line = false;
                self.line_start = next;
                self.scan = next;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse_all(input: &[u8]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        p.push(input, &mut out);
        p.finish(&mut out);
        out
    }

    fn parse_bytewise(input: &[u8]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for b in input {
            p.push(std::slice::from_ref(b), &mut out);
        }
        p.finish(&mut out);
        out
    }

    fn datas(events: &[SseEvent]) -> Vec<&str> {
        events
            .iter()
            .filter(|e| e.has_data)
            .map(|e| e.data.as_str())
            .collect()
    }

    #[test]
    fn parses_named_events_with_raw_bytes() {
        let input = b"event: message_start\ndata: {\"a\":1}\n\nevent: ping\ndata: {}\n\n";
        let mut p = SseParser::new();
        let mut out = Vec::new();
        p.push(input, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].event.as_deref(), Some("message_start"));
        assert_eq!(out[0].data, "{\"a\":1}");
        assert_eq!(
            &out[0].raw[..],
            b"event: message_start\ndata: {\"a\":1}\n\n"
        );
        assert_eq!(out[1].event.as_deref(), Some("ping"));
        assert!(out[1].has_data);
        p.finish(&mut out);
        assert_eq!(out.len(), 2, "nothing left after complete events");
    }

    #[test]
    fn incomplete_event_waits_for_its_blank_line() {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        p.push(b"data: hel", &mut out);
        p.push(b"lo\n", &mut out);
        assert!(out.is_empty());
        p.push(b"\n", &mut out);
        assert_eq!(datas(&out), vec!["hello"]);
    }

    #[test]
    fn all_line_endings_are_accepted() {
        for input in [
            &b"data: a\n\ndata: b\n\n"[..],
            b"data: a\r\n\r\ndata: b\r\n\r\n",
            b"data: a\r\rdata: b\r\r",
            b"data: a\r\n\ndata: b\n\r\n",
        ] {
            let out = parse_all(input);
            assert_eq!(datas(&out), vec!["a", "b"], "{input:?}");
            assert_eq!(out.len(), 2, "{input:?}");
            assert_eq!(parse_bytewise(input), out, "{input:?}");
        }
    }

    #[test]
    fn crlf_split_between_reads_is_one_line_ending() {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        p.push(b"data: a\r", &mut out);
        p.push(b"\n\r", &mut out);
        assert!(out.is_empty(), "a CR at the end may still be half a CRLF");
        p.push(b"\ndata: b\r\n\r\n", &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(&out[0].raw[..], b"data: a\r\n\r\n");
        assert_eq!(out[1].data, "b");
    }

    #[test]
    fn multi_line_data_is_joined_with_newlines() {
        let out = parse_all(b"data: one\ndata:two\ndata:  three\ndata\n\n");
        assert_eq!(out[0].data, "one\ntwo\n three\n");
    }

    #[test]
    fn only_one_space_after_the_colon_is_removed() {
        let out = parse_all(b"data:x\n\ndata: x\n\ndata:  x\n\n");
        assert_eq!(datas(&out), vec!["x", "x", " x"]);
    }

    #[test]
    fn comment_only_block_is_an_event_without_data() {
        let out = parse_all(b": ping\n\ndata: x\n: inline comment\n\n");
        assert_eq!(out.len(), 2);
        assert!(!out[0].has_data);
        assert_eq!(&out[0].raw[..], b": ping\n\n");
        assert_eq!(out[1].data, "x");
    }

    #[test]
    fn empty_data_line_still_counts_as_data() {
        let out = parse_all(b"data:\n\n");
        assert!(out[0].has_data);
        assert_eq!(out[0].data, "");
    }

    #[test]
    fn field_without_colon_has_empty_value() {
        let out = parse_all(b"event\ndata\nid\n\n");
        assert_eq!(out[0].event, None);
        assert!(out[0].has_data);
        assert_eq!(out[0].data, "");
        assert_eq!(out[0].id.as_deref(), Some(""));
    }

    #[test]
    fn unknown_fields_and_retry_are_ignored() {
        let out = parse_all(b"retry: 100\nfoo: bar\nid: 7\ndata: x\n\n");
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].data, "x");
        assert_eq!(out[0].id.as_deref(), Some("7"));
        assert_eq!(out[0].event, None);
    }

    #[test]
    fn id_with_nul_is_ignored() {
        let out = parse_all(b"id: a\0b\ndata: x\n\n");
        assert_eq!(out[0].id, None);
    }

    #[test]
    fn leading_bom_is_skipped_even_when_split() {
        let input = b"\xEF\xBB\xBFdata: x\n\n";
        for split in 0..=input.len() {
            let mut p = SseParser::new();
            let mut out = Vec::new();
            p.push(&input[..split], &mut out);
            p.push(&input[split..], &mut out);
            p.finish(&mut out);
            assert_eq!(out.len(), 1, "split at {split}");
            assert_eq!(out[0].data, "x");
            assert_eq!(
                &out[0].raw[..],
                &input[..],
                "the BOM stays in the raw bytes"
            );
        }
        // A BOM later in the stream is not special: it makes the field name unknown.
        let out = parse_all(b"data: a\n\n\xEF\xBB\xBFdata: b\n\n");
        assert_eq!(datas(&out), vec!["a"]);
    }

    #[test]
    fn finish_flushes_a_trailing_event() {
        let out = parse_all(b"data: a\n\ndata: [DONE]");
        assert_eq!(datas(&out), vec!["a", "[DONE]"]);
        let out = parse_all(b"data: a\r");
        assert_eq!(datas(&out), vec!["a"]);
        assert_eq!(&out[0].raw[..], b"data: a\r");
        assert!(parse_all(b"").is_empty());
    }

    #[test]
    fn parser_is_reusable_after_finish() {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        p.push(b"data: a", &mut out);
        p.finish(&mut out);
        p.push(b"\xEF\xBB\xBFdata: b\n\n", &mut out);
        assert_eq!(datas(&out), vec!["a", "b"]);
    }

    #[test]
    fn invalid_utf8_does_not_panic() {
        let out = parse_all(b"data: \xFF\xFE\n\n\x80: x\n\n");
        assert_eq!(out.len(), 2);
        assert!(out[0].data.contains('\u{FFFD}'));
    }

    /// One generated event: lines of (field, value), a line ending style per line.
    fn event_strategy() -> impl Strategy<Value = Vec<(u8, String, u8)>> {
        let line = (0u8..5, "[a-z0-9 :{}\"\\[\\]é]{0,12}", 0u8..3);
        prop::collection::vec(line, 0..5)
    }

    fn render(events: &[Vec<(u8, String, u8)>], bom: bool) -> Vec<u8> {
        let mut s = Vec::new();
        if bom {
            s.extend_from_slice(BOM);
        }
        for ev in events {
            // A lone blank line uses CRLF so that it never merges with a CR before it.
            let mut last_eol = "\r\n";
            for (kind, value, eol) in ev {
                let field = ["data", "event", "id", ": comment", "retry"][usize::from(*kind)];
                s.extend_from_slice(field.as_bytes());
                if *kind != 3 {
                    s.extend_from_slice(b": ");
                }
                s.extend_from_slice(value.replace(['\r', '\n'], "").as_bytes());
                last_eol = ["\n", "\r\n", "\r"][usize::from(*eol)];
                s.extend_from_slice(last_eol.as_bytes());
            }
            s.extend_from_slice(last_eol.as_bytes());
        }
        s
    }

    #[test]
    fn an_event_without_end_is_handed_out_in_bounded_pieces() {
        let mut p = SseParser::with_max_event_bytes(16);
        let mut out = Vec::new();
        p.push(b"data: ok\n\n", &mut out);
        let endless = vec![b'x'; 10];
        p.push(b"data: ", &mut out);
        for _ in 0..5 {
            p.push(&endless, &mut out);
            assert!(p.buf.len() <= 16, "{} bytes held", p.buf.len());
        }
        p.push(b"\n\ndata: after\n\n", &mut out);
        p.finish(&mut out);
        assert_eq!(out[0].data, "ok");
        assert_eq!(datas(&out).last(), Some(&"after"));
        assert!(out[1..out.len() - 1].iter().all(|e| !e.has_data));
        assert_eq!(p.oversized_events(), 1);
        let joined: Vec<u8> = out.iter().flat_map(|e| e.raw.iter().copied()).collect();
        let mut input = b"data: ok\n\ndata: ".to_vec();
        input.extend(std::iter::repeat_n(b'x', 50));
        input.extend_from_slice(b"\n\ndata: after\n\n");
        assert_eq!(joined, input);
    }

    #[test]
    fn a_crlf_split_after_an_oversized_event_still_ends_it() {
        for (first, second) in [
            (
                &b"data: xxxxxxxxxxxxxxxxxxxx\r\n\r"[..],
                &b"\ndata: after\r\n\r\n"[..],
            ),
            (b"data: xxxxxxxxxxxxxxxxxxxx\r", b"\rdata: after\r\r"),
            (b"data: xxxxxxxxxxxxxxxxxxxx", b"\r"),
        ] {
            let mut p = SseParser::with_max_event_bytes(16);
            let mut out = Vec::new();
            p.push(first, &mut out);
            p.push(second, &mut out);
            if second == b"\r" {
                p.push(b"\n\r\ndata: after\n\n", &mut out);
            }
            p.finish(&mut out);
            assert_eq!(datas(&out), vec!["after"], "{first:?} + {second:?}");
            assert_eq!(p.oversized_events(), 1);
        }
    }

    #[test]
    fn events_within_the_limit_are_untouched() {
        let input = b"event: a\ndata: 0123456789\n\n";
        let mut p = SseParser::with_max_event_bytes(input.len());
        let mut out = Vec::new();
        p.push(input, &mut out);
        p.finish(&mut out);
        assert_eq!(datas(&out), vec!["0123456789"]);
        assert_eq!(p.oversized_events(), 0);
    }

    proptest! {
        #[test]
        fn a_small_limit_keeps_every_byte_and_the_events_that_fit(
            events in prop::collection::vec(event_strategy(), 0..6),
            max in 1usize..40,
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let input = render(&events, false);
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(input.len() + 1)).collect();
            points.sort_unstable();
            let mut p = SseParser::with_max_event_bytes(max);
            let mut got = Vec::new();
            let mut from = 0;
            for at in points {
                p.push(&input[from..at], &mut got);
                prop_assert!(p.buf.len() <= max);
                from = at;
            }
            p.push(&input[from..], &mut got);
            p.finish(&mut got);
            let joined: Vec<u8> = got.iter().flat_map(|e| e.raw.iter().copied()).collect();
            prop_assert_eq!(joined, input.clone());
            // Every event that fits comes out as without a limit, in order,
            // before and after the ones that do not (which come out whole or
            // in pieces without fields, depending on how the bytes arrived).
            let reference = parse_all(&input);
            let mut rest = got.iter();
            for fit in reference.iter().filter(|e| e.raw.len() <= max) {
                prop_assert!(rest.any(|e| e == fit), "{:?} missing", fit);
            }
            for e in got.iter().filter(|e| e.has_data) {
                prop_assert!(reference.contains(e), "{:?} is not an event of the stream", e);
            }
            if p.oversized_events() == 0 {
                prop_assert_eq!(got, reference);
            }
        }

        #[test]
        fn random_splits_give_the_same_events(
            events in prop::collection::vec(event_strategy(), 0..6),
            bom in any::<bool>(),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let input = render(&events, bom);
            let whole = parse_all(&input);
            // A stream of nothing but a BOM still yields one (empty) event holding it.
            let lone_bom = usize::from(bom && events.is_empty());
            prop_assert_eq!(whole.len(), events.len() + lone_bom);
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(input.len() + 1)).collect();
            points.sort_unstable();
            let mut p = SseParser::new();
            let mut split = Vec::new();
            let mut from = 0;
            for at in points {
                p.push(&input[from..at], &mut split);
                from = at;
            }
            p.push(&input[from..], &mut split);
            p.finish(&mut split);
            prop_assert_eq!(&split, &whole);
            let joined: Vec<u8> = whole.iter().flat_map(|e| e.raw.iter().copied()).collect();
            prop_assert_eq!(joined, input);
        }

        #[test]
        fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..200)) {
            let whole = parse_all(&input);
            let joined: Vec<u8> = whole.iter().flat_map(|e| e.raw.iter().copied()).collect();
            prop_assert_eq!(joined, input.clone());
            prop_assert_eq!(parse_bytewise(&input), whole);
        }
    }
}
