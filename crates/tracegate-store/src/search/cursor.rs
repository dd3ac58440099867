//! Keyset cursors: the position of the last trace of a page, sealed to the
//! query it came from.
//!
//! A cursor is URL-safe base64 (no padding) of 26 bytes: a format version,
//! the sort value (null, integer or float), the tiebreak position (the
//! backend's insertion order) and 8 bytes of BLAKE3 over the query's
//! identity and the rest, so a cursor of another query, or a damaged one,
//! is refused instead of silently skipping or repeating traces.

use super::error::{SearchError, SearchErrorKind};

/// Format version written into every cursor.
const VERSION: u8 = 1;
/// Bytes of a decoded cursor.
const LEN: usize = 26;
/// Bytes of the seal at the end.
const SEAL: usize = 8;

/// The sort value of a trace at a page boundary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SortValue {
    /// The trace has no value for the sort key.
    Null,
    Int(i64),
    Float(f64),
}

/// Where a page ended: the sort value and the tiebreak of its last trace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    pub value: SortValue,
    /// Backend-specific insertion order (the SQLite rowid).
    pub tiebreak: i64,
}

/// Encodes `pos` as a cursor of the query identified by `fingerprint`.
pub(crate) fn encode(pos: &Position, fingerprint: &[u8; 32]) -> String {
    let mut bytes = [0u8; LEN];
    bytes[0] = VERSION;
    let (tag, raw) = match pos.value {
        SortValue::Null => (0u8, [0u8; 8]),
        SortValue::Int(i) => (1, i.to_be_bytes()),
        SortValue::Float(f) => (2, f.to_bits().to_be_bytes()),
    };
    bytes[1] = tag;
    bytes[2..10].copy_from_slice(&raw);
    bytes[10..18].copy_from_slice(&pos.tiebreak.to_be_bytes());
    let seal = seal(&bytes[..LEN - SEAL], fingerprint);
    bytes[LEN - SEAL..].copy_from_slice(&seal);
    base64url_encode(&bytes)
}

/// Decodes a cursor of the query identified by `fingerprint`.
pub(crate) fn decode(
    cursor: &str,
    fingerprint: &[u8; 32],
    pointer: &str,
) -> Result<Position, SearchError> {
    let bad =
        |message: &str| SearchError::new(SearchErrorKind::BadCursor, pointer, message.to_owned());
    let bytes = base64url_decode(cursor.trim())
        .filter(|b| b.len() == LEN)
        .ok_or_else(|| {
            bad("the cursor is not one this API gave out; pass next_cursor as it came")
        })?;
    if bytes[0] != VERSION {
        return Err(bad(
            "the cursor comes from another version of the API; start again from the first page",
        ));
    }
    let word = |at: usize| {
        let mut out = [0u8; 8];
        out.copy_from_slice(&bytes[at..at + 8]);
        out
    };
    let (raw, tiebreak, given) = (word(2), word(10), word(LEN - SEAL));
    if seal(&bytes[..LEN - SEAL], fingerprint) != given {
        return Err(bad(
            "the cursor belongs to a different query (or is damaged): a cursor only continues \
             the query that made it, with the same filter, q, sort and order",
        ));
    }
    let value = match bytes[1] {
        0 => SortValue::Null,
        1 => SortValue::Int(i64::from_be_bytes(raw)),
        2 => SortValue::Float(f64::from_bits(u64::from_be_bytes(raw))),
        _ => return Err(bad("the cursor is damaged")),
    };
    if let SortValue::Float(f) = value {
        if !f.is_finite() {
            return Err(bad("the cursor is damaged"));
        }
    }
    Ok(Position {
        value,
        tiebreak: i64::from_be_bytes(tiebreak),
    })
}

fn seal(body: &[u8], fingerprint: &[u8; 32]) -> [u8; SEAL] {
    let mut h = blake3::Hasher::new_keyed(fingerprint);
    h.update(body);
    let mut out = [0u8; SEAL];
    out.copy_from_slice(&h.finalize().as_bytes()[..SEAL]);
    out
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let mut n = 0u32;
        for (i, b) in chunk.iter().enumerate() {
            n |= u32::from(*b) << (16 - 8 * i);
        }
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
        }
    }
    out
}

/// Decodes unpadded URL-safe base64; `None` for any other input.
fn base64url_decode(s: &str) -> Option<Vec<u8>> {
    if s.len() % 4 == 1 || s.len() > 64 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.as_bytes().chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            let v = ALPHABET.iter().position(|a| a == c)? as u32;
            n |= v << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        let take = chunk.len() - 1;
        // Bits past the last whole byte must be zero, so each cursor has one spelling.
        if bytes[1 + take..].iter().any(|b| *b != 0) {
            return None;
        }
        out.extend_from_slice(&bytes[1..=take]);
    }
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const FP: [u8; 32] = [7; 32];

    #[test]
    fn base64_round_trips_every_length() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let s = base64url_encode(&bytes);
            assert!(s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            assert_eq!(base64url_decode(&s), Some(bytes), "{s}");
        }
        assert_eq!(base64url_encode(b"hello"), "aGVsbG8");
        assert_eq!(base64url_decode("aGVsbG9"), None, "non-zero trailing bits");
        assert_eq!(base64url_decode("a"), None);
        assert_eq!(base64url_decode("aGVs bG8"), None);
    }

    #[test]
    fn positions_round_trip() {
        for value in [
            SortValue::Null,
            SortValue::Int(-5),
            SortValue::Int(i64::MAX),
            SortValue::Float(0.125),
            SortValue::Float(-1e300),
        ] {
            let pos = Position {
                value,
                tiebreak: 123_456,
            };
            let c = encode(&pos, &FP);
            assert_eq!(c.len(), 35);
            assert_eq!(decode(&c, &FP, "/cursor").unwrap(), pos);
        }
    }

    #[test]
    fn other_queries_and_damage_are_refused() {
        let c = encode(
            &Position {
                value: SortValue::Int(1),
                tiebreak: 2,
            },
            &FP,
        );
        let e = decode(&c, &[8; 32], "/cursor").unwrap_err();
        assert_eq!(
            (e.kind, e.pointer.as_str()),
            (SearchErrorKind::BadCursor, "/cursor")
        );
        assert!(e.message.contains("different query"), "{e}");
        let mut flipped = c.clone().into_bytes();
        flipped[5] = if flipped[5] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert!(decode(&flipped, &FP, "/cursor").is_err());
        for junk in ["", "x", "!!!!", "null", &"A".repeat(35), &c[..34]] {
            assert!(decode(junk, &FP, "/cursor").is_err(), "{junk}");
        }
    }
}
