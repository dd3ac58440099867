//! How a model id as clients and providers spell it is reduced to a price-table key.
//!
//! The id is lower-cased and trimmed; a hosting prefix is removed (`anthropic/`,
//! `openai/`, Bedrock's `anthropic.` and `us.anthropic.`); then version suffixes are
//! stripped one at a time, each intermediate name being a candidate: `-latest`, a
//! bracketed tag (`[1m]`), `@YYYYMMDD`, `-vN` / `-vN:M`, `-YYYYMMDD` and `-YYYY-MM-DD`.

/// `name` without a hosting prefix, when it has one.
pub(super) fn strip_host_prefix(name: &str) -> &str {
    let name = match name.rsplit_once('/') {
        Some((_, rest)) if !rest.is_empty() => rest,
        _ => name,
    };
    match name.find("anthropic.") {
        Some(i) if i == 0 || name.as_bytes()[i - 1] == b'.' => {
            let rest = &name[i + "anthropic.".len()..];
            if rest.is_empty() {
                name
            } else {
                rest
            }
        }
        _ => name,
    }
}

/// `name` with its last version suffix removed, or `None` when it has none.
pub(super) fn strip_one_suffix(name: &str) -> Option<&str> {
    let nonempty = |base: &str| (!base.is_empty()).then_some(());
    if let Some(base) = name.strip_suffix("-latest") {
        nonempty(base)?;
        return Some(base);
    }
    if let Some(base) = name.strip_suffix(']') {
        if let Some((base, _tag)) = base.rsplit_once('[') {
            nonempty(base)?;
            return Some(base);
        }
    }
    if let Some((base, date)) = name.rsplit_once('@') {
        if is_digits(date.as_bytes()) {
            nonempty(base)?;
            return Some(base);
        }
    }
    if let Some(base) = strip_v_suffix(name) {
        return Some(base);
    }
    let bytes = name.as_bytes();
    let n = bytes.len();
    // -YYYYMMDD
    if n > 9 && bytes[n - 9] == b'-' && is_digits(&bytes[n - 8..]) {
        return Some(&name[..n - 9]);
    }
    // -YYYY-MM-DD
    if n > 11
        && bytes[n - 11] == b'-'
        && bytes[n - 6] == b'-'
        && bytes[n - 3] == b'-'
        && is_digits(&bytes[n - 10..n - 6])
        && is_digits(&bytes[n - 5..n - 3])
        && is_digits(&bytes[n - 2..])
    {
        return Some(&name[..n - 11]);
    }
    None
}

/// `-vN` or `-vN:M` at the end (Bedrock's `-v1:0`, `-v2`).
fn strip_v_suffix(name: &str) -> Option<&str> {
    let (base, version) = name.rsplit_once("-v")?;
    let (major, minor) = match version.split_once(':') {
        Some((major, minor)) => (major, Some(minor)),
        None => (version, None),
    };
    let ok = is_digits(major.as_bytes()) && minor.is_none_or(|m| is_digits(m.as_bytes()));
    (ok && !base.is_empty()).then_some(base)
}

/// `name` with every version suffix removed.
#[cfg(test)]
pub(super) fn strip_version_suffix(name: &str) -> &str {
    let mut name = name;
    while let Some(base) = strip_one_suffix(name) {
        name = base;
    }
    name
}

fn is_digits(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_are_stripped_one_after_another() {
        assert_eq!(strip_version_suffix("gpt-4o-2024-08-06"), "gpt-4o");
        assert_eq!(
            strip_version_suffix("claude-3-haiku-20240307"),
            "claude-3-haiku"
        );
        assert_eq!(
            strip_version_suffix("claude-3-5-sonnet-20241022-v2:0"),
            "claude-3-5-sonnet"
        );
        assert_eq!(
            strip_version_suffix("claude-3-5-sonnet-v2@20241022"),
            "claude-3-5-sonnet"
        );
        assert_eq!(
            strip_version_suffix("claude-opus-4-5[1m]"),
            "claude-opus-4-5"
        );
        assert_eq!(
            strip_version_suffix("claude-3-opus-latest"),
            "claude-3-opus"
        );
        assert_eq!(strip_version_suffix("my-model-v2"), "my-model");
    }

    #[test]
    fn short_and_odd_names_are_left_alone() {
        assert_eq!(strip_version_suffix("o1"), "o1");
        assert_eq!(strip_version_suffix("-20240307"), "-20240307");
        assert_eq!(strip_version_suffix("x@"), "x@");
        assert_eq!(strip_version_suffix("@2024"), "@2024");
        assert_eq!(strip_version_suffix("-latest"), "-latest");
        assert_eq!(strip_version_suffix("[1m]"), "[1m]");
        assert_eq!(strip_version_suffix("-v1"), "-v1");
        assert_eq!(strip_version_suffix("gpt-4-vision"), "gpt-4-vision");
        assert_eq!(strip_version_suffix("a-v1:"), "a-v1:");
        assert_eq!(strip_version_suffix("é-2024-08-06"), "é");
        assert_eq!(strip_version_suffix("ü-v1:0"), "ü");
    }

    #[test]
    fn hosting_prefixes_are_removed() {
        assert_eq!(
            strip_host_prefix("us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
            "claude-sonnet-4-5-20250929-v1:0"
        );
        assert_eq!(
            strip_host_prefix("anthropic.claude-3-haiku-20240307-v1:0"),
            "claude-3-haiku-20240307-v1:0"
        );
        assert_eq!(strip_host_prefix("openai/gpt-4o"), "gpt-4o");
        assert_eq!(
            strip_host_prefix("anthropic/claude-opus-4-1"),
            "claude-opus-4-1"
        );
        assert_eq!(strip_host_prefix("notanthropic.x"), "notanthropic.x");
        assert_eq!(strip_host_prefix("anthropic."), "anthropic.");
        assert_eq!(strip_host_prefix("x/"), "x/");
        assert_eq!(strip_host_prefix("gpt-4o"), "gpt-4o");
    }
}
