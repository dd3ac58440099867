//! The tries a request made, kept without allocating for the common single attempt and
//! turned into the trace's `attempts` only when there was more than one.

use std::time::Duration;

use tracegate_core::Attempt;

#[derive(Debug)]
struct Try<'u> {
    upstream: &'u str,
    status: Option<u16>,
    took: Duration,
    error: Option<String>,
}

/// The attempts of one request, in order.
#[derive(Debug, Default)]
pub struct Attempts<'u> {
    first: Option<Try<'u>>,
    more: Vec<Try<'u>>,
    /// A retry was wanted but not made (budget, circuit, time): worth keeping.
    noted: bool,
}

impl<'u> Attempts<'u> {
    pub fn push(
        &mut self,
        upstream: &'u str,
        status: Option<u16>,
        took: Duration,
        error: Option<String>,
    ) {
        let t = Try {
            upstream,
            status,
            took,
            error,
        };
        if self.first.is_none() {
            self.first = Some(t);
        } else {
            self.more.push(t);
        }
    }

    /// Adds `note` to the last attempt's error (why it was not retried).
    pub fn note(&mut self, note: &str) {
        self.noted = true;
        let last = self.more.last_mut().or(self.first.as_mut());
        if let Some(t) = last {
            t.error = Some(match t.error.take() {
                Some(e) => format!("{e}; {note}"),
                None => note.to_string(),
            });
        }
    }

    /// The trace's `attempts`: empty when there was only one that needs no note (the
    /// trace says it all).
    pub fn into_trace(self) -> Vec<Attempt> {
        if self.more.is_empty() && !self.noted {
            return Vec::new();
        }
        self.first
            .into_iter()
            .chain(self.more)
            .map(|t| Attempt {
                upstream: t.upstream.to_string(),
                status: t.status,
                duration_ms: (t.took.as_secs_f64() * 1e6).round() / 1e3,
                error: t.error,
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn one_attempt_is_not_kept_two_are() {
        let mut a = Attempts::default();
        a.push("x", Some(200), Duration::from_millis(3), None);
        assert!(a.into_trace().is_empty());
        let mut a = Attempts::default();
        a.push("x", Some(529), Duration::from_millis(3), Some("529".into()));
        a.note("retry budget spent");
        a.push("y", Some(200), Duration::from_micros(1500), None);
        let t = a.into_trace();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].error.as_deref(), Some("529; retry budget spent"));
        assert_eq!((t[1].upstream.as_str(), t[1].duration_ms), ("y", 1.5));
    }
}
