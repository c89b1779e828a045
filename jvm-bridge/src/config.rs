//! The client configuration the JVM passes: a JSON object with the fields of Kotlin's
//! `OrbitClientConfig` that apply to the Rust client, in milliseconds where Kotlin has a
//! `Duration`.

use std::time::Duration;

use orbit_client::ClientConfig;
use serde::Deserialize;

/// What `RustOrbitClientConfig.toJson()` writes. Missing fields take Kotlin's defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BridgeConfig {
    /// The server, `host:port` (Kotlin's `grpcEndpoint`, `dns:///` accepted).
    pub grpc_endpoint: String,
    /// The application namespace.
    pub namespace: String,
    /// The maintenance tick.
    #[serde(default)]
    pub tick_rate_millis: Option<u64>,
    /// How long a call waits for its answer.
    #[serde(default)]
    pub message_timeout_millis: Option<u64>,
    /// How long a hosted actor may stay idle (Kotlin's `addressableTTL`).
    #[serde(default)]
    pub addressable_ttl_millis: Option<u64>,
    /// How long `on_deactivate` may take.
    #[serde(default)]
    pub deactivation_timeout_millis: Option<u64>,
    /// How many times joining is attempted, 1 s apart.
    #[serde(default)]
    pub join_attempts: Option<u32>,
}

impl BridgeConfig {
    /// Reads the JSON the Java side wrote; the error names the field.
    pub fn parse(json: &str) -> Result<Self, String> {
        let config: BridgeConfig =
            serde_json::from_str(json).map_err(|e| format!("invalid Rust Orbit client configuration: {e}"))?;
        if config.grpc_endpoint.trim().is_empty() {
            return Err("invalid Rust Orbit client configuration: grpcEndpoint is empty".to_owned());
        }
        if config.namespace.is_empty() {
            return Err("invalid Rust Orbit client configuration: namespace is empty".to_owned());
        }
        for (name, value) in [
            ("tickRateMillis", config.tick_rate_millis),
            ("messageTimeoutMillis", config.message_timeout_millis),
            ("addressableTtlMillis", config.addressable_ttl_millis),
        ] {
            if value == Some(0) {
                return Err(format!("invalid Rust Orbit client configuration: {name} must be positive"));
            }
        }
        Ok(config)
    }

    /// Returns the client runtime's configuration.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new(self.grpc_endpoint.trim(), self.namespace.clone());
        let millis = Duration::from_millis;
        if let Some(value) = self.tick_rate_millis {
            config.tick_rate = millis(value);
        }
        if let Some(value) = self.message_timeout_millis {
            config.message_timeout = millis(value);
        }
        if let Some(value) = self.addressable_ttl_millis {
            config.actor_ttl = millis(value);
        }
        if let Some(value) = self.deactivation_timeout_millis {
            config.deactivation_timeout = millis(value);
        }
        if let Some(value) = self.join_attempts {
            config.join_attempts = value.max(1);
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_kotlins_and_errors_name_the_field() -> Result<(), String> {
        let config = BridgeConfig::parse(r#"{"grpcEndpoint":"dns:///127.0.0.1:50056","namespace":"app"}"#)?;
        let client = config.client_config();
        assert_eq!(client.message_timeout, Duration::from_secs(10));
        assert_eq!(client.actor_ttl, Duration::from_secs(600));
        let timeout = BridgeConfig::parse(r#"{"grpcEndpoint":"a:1","namespace":"n","messageTimeoutMillis":250}"#)?;
        assert_eq!(timeout.client_config().message_timeout, Duration::from_millis(250));
        let unknown = BridgeConfig::parse(r#"{"grpcEndpoint":"a:1","namespace":"n","ttl":5}"#);
        assert!(unknown.is_err_and(|e| e.contains("unknown field `ttl`")));
        let wrong = BridgeConfig::parse(r#"{"grpcEndpoint":"a:1","namespace":"n","tickRateMillis":"x"}"#);
        assert!(wrong.is_err_and(|e| e.contains("invalid type")));
        assert!(BridgeConfig::parse(r#"{"grpcEndpoint":"","namespace":"n"}"#).is_err());
        assert!(BridgeConfig::parse("not json").is_err());
        Ok(())
    }
}
