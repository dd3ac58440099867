//! Ending a stream cleanly when the gateway cuts it: event boundaries in the bytes sent so
//! far, and the provider's own error event to end with.
//!
//! Forwarded SSE bytes are held back to the last complete event ([`EventAligner`]), so a
//! stream cut by the gateway's deadline ends between two events and the client's parser
//! never sees half an event. Should bytes of an unfinished event have gone out anyway (an
//! event over [`MAX_HELD`]), [`Tail`] tells, and the error event is preceded by a blank
//! line so that it starts on a fresh event.

use bytes::{Bytes, BytesMut};
use tracegate_core::Provider;

/// Most bytes of one unfinished event held back; beyond it they are forwarded as they are.
pub(super) const MAX_HELD: usize = 1024 * 1024;

/// Splits forwarded SSE bytes at the end of the last complete event.
#[derive(Debug)]
pub(super) struct EventAligner {
    held: BytesMut,
    /// The bytes seen so far end a line.
    at_line_start: bool,
    /// The last byte seen was `\r` (a `\n` after it belongs to the same line end).
    after_cr: bool,
}

impl Default for EventAligner {
    fn default() -> Self {
        EventAligner {
            held: BytesMut::new(),
            at_line_start: true,
            after_cr: false,
        }
    }
}

impl EventAligner {
    /// Takes the next upstream chunk; returns what may go to the client now: everything up
    /// to the last blank line seen, or everything held when that grew over [`MAX_HELD`].
    pub(super) fn push(&mut self, data: Bytes) -> Option<Bytes> {
        let out = match self.last_event_end(&data) {
            Some(end) if self.held.is_empty() => {
                let head = data.slice(..end);
                self.held.extend_from_slice(&data[end..]);
                head
            }
            Some(end) => {
                self.held.extend_from_slice(&data[..end]);
                let head = self.held.split().freeze();
                self.held.extend_from_slice(&data[end..]);
                head
            }
            None => {
                self.held.extend_from_slice(&data);
                Bytes::new()
            }
        };
        if self.held.len() > MAX_HELD {
            let mut all = BytesMut::from(out);
            all.extend_from_slice(&self.held.split());
            return Some(all.freeze());
        }
        (!out.is_empty()).then_some(out)
    }

    /// What is still held, at the end of the stream.
    pub(super) fn flush(&mut self) -> Option<Bytes> {
        (!self.held.is_empty()).then(|| self.held.split().freeze())
    }

    /// Offset in `data` just after the last blank line, continuing the line state of the
    /// bytes before it. Line ends are `\r\n`, `\n` and `\r`.
    fn last_event_end(&mut self, data: &[u8]) -> Option<usize> {
        let mut end = None;
        for (i, &b) in data.iter().enumerate() {
            match b {
                b'\n' if self.after_cr => {
                    // The `\n` of a `\r\n` whose `\r` already ended the line.
                    self.after_cr = false;
                    if end == Some(i) {
                        end = Some(i + 1);
                    }
                }
                b'\n' | b'\r' => {
                    if self.at_line_start {
                        end = Some(i + 1);
                    }
                    self.at_line_start = true;
                    self.after_cr = b == b'\r';
                }
                _ => {
                    self.at_line_start = false;
                    self.after_cr = false;
                }
            }
        }
        end
    }
}

/// The last bytes sent to the client, enough to tell whether they end an event.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tail {
    bytes: [u8; 4],
}

impl Default for Tail {
    /// Nothing sent yet counts as a boundary.
    fn default() -> Self {
        Tail {
            bytes: *b"\n\n\n\n",
        }
    }
}

impl Tail {
    pub(super) fn sent(&mut self, data: &[u8]) {
        if data.len() >= 4 {
            self.bytes.copy_from_slice(&data[data.len() - 4..]);
        } else {
            for &b in data {
                self.bytes.rotate_left(1);
                self.bytes[3] = b;
            }
        }
    }

    /// Whether what was sent ends with a blank line (the end of an event).
    pub(super) fn at_event_boundary(&self) -> bool {
        let t = &self.bytes;
        let rest = if t.ends_with(b"\r\n") {
            &t[..2]
        } else if t.ends_with(b"\n") || t.ends_with(b"\r") {
            &t[..3]
        } else {
            return false;
        };
        rest.ends_with(b"\n") || rest.ends_with(b"\r")
    }
}

/// The provider's error event telling the client its stream was cut by the gateway's
/// timeout, preceded by a blank line when the bytes sent so far end mid-event.
pub(super) fn timeout_event(provider: Provider, tail: &Tail, message: &str) -> Bytes {
    let mut out = String::new();
    if !tail.at_event_boundary() {
        out.push_str("\n\n");
    }
    match provider {
        Provider::Anthropic => {
            let body = serde_json::json!({
                "type": "error",
                "error": { "type": "timeout_error", "message": message },
            });
            out.push_str(&format!("event: error\ndata: {body}\n\n"));
        }
        Provider::Openai => {
            let body = serde_json::json!({
                "error": {
                    "message": message,
                    "type": "server_error",
                    "param": null,
                    "code": "timeout",
                },
            });
            out.push_str(&format!("data: {body}\n\n"));
        }
    }
    Bytes::from(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn push_all(a: &mut EventAligner, chunks: &[&str]) -> Vec<String> {
        chunks
            .iter()
            .filter_map(|c| a.push(Bytes::copy_from_slice(c.as_bytes())))
            .map(|b| String::from_utf8(b.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn whole_events_pass_through_and_partial_ones_wait() {
        let mut a = EventAligner::default();
        let got = push_all(
            &mut a,
            &[
                "event: a\ndata: 1\n\n",
                "event: b\ndata: {\"x\"",
                ":2}\n\nevent: c\n",
                "data: 3\n",
                "\n",
            ],
        );
        assert_eq!(
            got,
            [
                "event: a\ndata: 1\n\n",
                "event: b\ndata: {\"x\":2}\n\n",
                "event: c\ndata: 3\n\n"
            ]
        );
        assert_eq!(a.flush(), None);
        assert_eq!(push_all(&mut a, &["data: tail"]), Vec::<String>::new());
        assert_eq!(a.flush().unwrap(), "data: tail");
    }

    #[test]
    fn crlf_and_cr_line_ends_are_boundaries_even_split() {
        let mut a = EventAligner::default();
        let got = push_all(
            &mut a,
            &["data: 1\r\n\r", "\ndata: 2\r\r", "data: 3\r\n", "\r\n"],
        );
        assert_eq!(got, ["data: 1\r\n\r", "\ndata: 2\r\r", "data: 3\r\n\r\n"]);
        // Bytes in the same order as they came.
        let mut b = EventAligner::default();
        let joined: String = push_all(&mut b, &["data: 1\r\n\r\n", "data: 2\r", "\n\r\n"]).concat();
        assert_eq!(joined, "data: 1\r\n\r\ndata: 2\r\n\r\n");
    }

    #[test]
    fn an_event_over_the_limit_is_forwarded_as_it_comes() {
        let mut a = EventAligner::default();
        let big = format!("data: {}", "x".repeat(MAX_HELD));
        let out = a.push(Bytes::from(big.clone())).unwrap();
        assert_eq!(out.len(), big.len());
        assert_eq!(a.flush(), None);
    }

    #[test]
    fn tail_knows_an_event_boundary() {
        let at = |chunks: &[&str]| {
            let mut t = Tail::default();
            for c in chunks {
                t.sent(c.as_bytes());
            }
            t.at_event_boundary()
        };
        assert!(at(&[]));
        assert!(at(&["data: 1\n\n"]));
        assert!(at(&["data: 1\n", "\n"]));
        assert!(at(&["data: 1\r\n\r\n"]));
        assert!(at(&["data: 1\r\r"]));
        assert!(at(&["data: 1\n", "\r", "\n"]));
        assert!(!at(&["data: 1\n"]));
        assert!(!at(&["data: 1\r\n"]));
        assert!(!at(&["data: {\"par"]));
        assert!(!at(&["\n\n", "d"]));
    }

    #[test]
    fn timeout_events_in_each_providers_format() {
        let clean = Tail::default();
        let a = timeout_event(Provider::Anthropic, &clean, "cut");
        let text = std::str::from_utf8(&a).unwrap();
        assert!(text.starts_with("event: error\ndata: {"), "{text}");
        assert!(text.ends_with("}\n\n"), "{text}");
        let data: serde_json::Value =
            serde_json::from_str(text.lines().nth(1).unwrap().strip_prefix("data: ").unwrap())
                .unwrap();
        assert_eq!(data["type"], "error");
        assert_eq!(data["error"]["type"], "timeout_error");
        assert_eq!(data["error"]["message"], "cut");

        let mut mid = Tail::default();
        mid.sent(b"data: {\"ch");
        let o = timeout_event(Provider::Openai, &mid, "cut");
        let text = std::str::from_utf8(&o).unwrap();
        assert!(text.starts_with("\n\ndata: {"), "{text}");
        let data: serde_json::Value =
            serde_json::from_str(text.trim().strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(data["error"]["code"], "timeout");
        assert_eq!(data["error"]["type"], "server_error");
        assert!(data["error"]["param"].is_null());
    }
}
