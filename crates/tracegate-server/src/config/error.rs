//! Configuration errors, worded for the person who wrote the configuration: the key as
//! they spelled it (`upstreams[0].modles`), where it came from (the file they named, or
//! the `TRACEGATE_*` variable), and what is accepted there.

use std::path::Path;

use figment::error::Kind;
use figment::Profile;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or the environment could not be read into the settings.
    #[error("configuration: {0}")]
    Load(String),
    /// A value was read but is not acceptable.
    #[error("configuration: {0}")]
    Invalid(String),
}

impl ConfigError {
    /// Describes every error figment found; `file` is the config file as the user named it.
    pub fn from_figment(err: figment::Error, file: Option<&Path>) -> Self {
        let lines: Vec<String> = err.into_iter().map(|e| describe(&e, file)).collect();
        ConfigError::Load(lines.join("\n"))
    }
}

/// One error as a sentence.
fn describe(e: &figment::Error, file: Option<&Path>) -> String {
    let key = key_of(&e.path);
    let at = |s: String| match place(e, file) {
        Some(place) => format!("{s} in {place}"),
        None => s,
    };
    match &e.kind {
        Kind::UnknownField(found, known) => {
            let key = if key.is_empty() { found.clone() } else { key };
            format!(
                "{}; known keys: {}",
                at(format!("unknown key `{key}`")),
                known.join(", ")
            )
        }
        Kind::UnknownVariant(found, known) => format!(
            "{}; expected one of: {}",
            at(format!("`{key}` has an unknown value {found:?}")),
            known.join(", ")
        ),
        Kind::InvalidType(found, expected) => at(format!(
            "`{key}` must be {}, not {found}",
            article(expected)
        )),
        Kind::InvalidValue(found, expected) => at(format!(
            "`{key}` must be {}, not {found}",
            article(expected)
        )),
        Kind::MissingField(field) => {
            let key = if key.is_empty() {
                field.to_string()
            } else {
                format!("{key}.{field}")
            };
            at(format!("missing key `{key}`"))
        }
        Kind::DuplicateField(field) => at(format!("key `{field}` appears twice")),
        Kind::Message(m) if key.is_empty() => at(m.trim().to_owned()),
        other => at(format!("`{key}`: {other}")),
    }
}

/// `upstreams.0.modles` as `upstreams[0].modles`.
fn key_of(path: &[String]) -> String {
    let mut out = String::new();
    for part in path {
        if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    out
}

/// Where the value came from, when it came from the user.
fn place(e: &figment::Error, file: Option<&Path>) -> Option<String> {
    let md = e.metadata.as_ref()?;
    match &md.source {
        Some(figment::Source::File(found)) => {
            Some(file.map_or_else(|| found.display().to_string(), |f| f.display().to_string()))
        }
        _ if md.name.contains("environment variable") => {
            let profile = e.profile.clone().unwrap_or(Profile::Default);
            let var = md.interpolate(&profile, &e.path);
            Some(format!(
                "environment variable TRACEGATE_{}",
                var.replace('.', "_")
            ))
        }
        _ => None,
    }
}

/// serde's expectation (`usize`, `a string`) as words.
fn article(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number, 0 or more".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "bool" => "true or false".into(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::config::{Config, Overrides};

    /// The error `Config::load` gives for `toml` in a file named `bad.toml`.
    fn load_error(toml: &str) -> (String, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, toml).unwrap();
        let err = Config::load(Some(&path), Overrides::default())
            .unwrap_err()
            .to_string();
        (err, path.display().to_string())
    }

    #[test]
    fn unknown_keys_are_shown_as_written_with_the_file_and_known_keys() {
        let (err, path) = load_error("listne = 1\n");
        assert!(
            err.starts_with(&format!(
                "configuration: unknown key `listne` in {path}; known keys: listen, db, \
                 max_body_bytes, "
            )),
            "{err}"
        );
        assert!(err.contains(", upstreams, prices"), "{err}");
        let (err, path) = load_error(
            "[[upstreams]]\nname=\"a\"\nkind=\"anthropic\"\nbase_url=\"http://x\"\nmodles=[]",
        );
        assert!(
            err.starts_with(&format!(
                "configuration: unknown key `upstreams[0].modles` in {path}; known keys: name, kind,"
            )),
            "{err}"
        );
        for err in [&err, &load_error("listne = 1").0] {
            assert!(!err.contains("default."), "{err}");
            assert!(!err.contains("``"), "{err}");
        }
    }

    #[test]
    fn bad_values_name_the_key_and_what_is_accepted() {
        let (err, path) = load_error("max_body_bytes = \"lots\"\n");
        assert_eq!(
            err,
            format!("configuration: `max_body_bytes` must be a whole number, 0 or more, not string \"lots\" in {path}")
        );
        let (err, _) =
            load_error("[[upstreams]]\nname=\"a\"\nkind=\"gemini\"\nbase_url=\"http://x\"");
        assert!(
            err.contains("`upstreams[0].kind` has an unknown value \"gemini\"")
                && err.ends_with("expected one of: anthropic, openai"),
            "{err}"
        );
        let (err, _) = load_error("[[upstreams]]\nkind=\"openai\"\nbase_url=\"http://x\"");
        assert!(err.contains("missing key `upstreams[0].name`"), "{err}");
        assert!(!err.contains("default."), "{err}");
    }

    #[test]
    fn keys_read_as_written() {
        let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(key_of(&path(&["listne"])), "listne");
        assert_eq!(
            key_of(&path(&["upstreams", "0", "modles"])),
            "upstreams[0].modles"
        );
        assert_eq!(key_of(&path(&[])), "");
    }

    #[test]
    fn expectations_read_as_nouns() {
        assert_eq!(article("usize"), "a whole number, 0 or more");
        assert_eq!(article("a string"), "a string");
        assert_eq!(article("f64"), "a number");
    }
}
