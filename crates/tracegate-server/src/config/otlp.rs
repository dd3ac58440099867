//! `otlp_protocol`: how spans travel to the OpenTelemetry collector.

use serde::{Deserialize, Serialize};

/// The OTLP transport. Only `http/protobuf` (OTLP/HTTP, binary protobuf bodies, port
/// 4318 by convention) is implemented; any other value (`grpc`) is refused at load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum OtlpProtocol {
    #[default]
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use figment::providers::{Format, Serialized, Toml};
    use figment::Figment;

    use crate::config::{Config, ConfigError};
    use crate::otlp::OtlpTarget;

    fn load(toml: &str) -> Result<Config, ConfigError> {
        let c: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(toml))
            .extract()
            .map_err(|e| ConfigError::from_figment(e, None))?;
        c.validate()?;
        Ok(c)
    }

    fn url(toml: &str) -> String {
        let c = load(toml).unwrap();
        OtlpTarget::from_config(&c)
            .unwrap()
            .unwrap()
            .url
            .to_string()
    }

    #[test]
    fn the_endpoint_is_a_base_url_or_the_traces_url() {
        assert!(OtlpTarget::from_config(&Config::default())
            .unwrap()
            .is_none());
        assert_eq!(
            url(r#"otlp_endpoint = "http://localhost:4318""#),
            "http://localhost:4318/v1/traces"
        );
        assert_eq!(
            url(r#"otlp_endpoint = "https://otel.example.com/v1/traces/""#),
            "https://otel.example.com/v1/traces"
        );
        let c = load(
            r#"
otlp_endpoint = "http://127.0.0.1:4318/"
otlp_protocol = "http/protobuf"
[otlp_headers]
x-api-key = "k-1"
"#,
        )
        .unwrap();
        let t = OtlpTarget::from_config(&c).unwrap().unwrap();
        assert_eq!(t.headers["x-api-key"], "k-1");
        assert!(
            !format!("{c:?}").contains("k-1"),
            "header values are secrets"
        );
    }

    #[test]
    fn bad_settings_are_refused_with_their_key() {
        for (toml, key) in [
            (r#"otlp_endpoint = "localhost:4318""#, "otlp_endpoint"),
            (r#"otlp_endpoint = "ftp://collector""#, "otlp_endpoint"),
            (r#"otlp_protocol = "grpc""#, "otlp_protocol"),
            (
                "otlp_endpoint = \"http://c\"\n[otlp_headers]\n\"bad header\" = \"v\"",
                "otlp_headers",
            ),
            (
                "otlp_endpoint = \"http://c\"\n[otlp_headers]\nx-key = \"a\\nb\"",
                "otlp_headers",
            ),
        ] {
            let err = load(toml).unwrap_err().to_string();
            assert!(err.contains(key), "{toml}: {err}");
        }
    }
}
