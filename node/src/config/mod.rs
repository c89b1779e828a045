//! Node configuration: the Kotlin launcher's environment and settings JSON, plus flags.
//!
//! Sources, later ones overriding earlier ones: defaults equal to Kotlin's; the settings
//! JSON from `ORBIT_SETTINGS_RAW` or the file named by `ORBIT_SETTINGS` (the shape of
//! `orbit-application`, with `${VAR:-default}` interpolation of string values); the
//! variables `ORBIT_PORT`, `ORBIT_URL`, `ORBIT_LISTEN_ADDRESS`, `ORBIT_SHUTDOWN_GRACE_SECONDS`;
//! then command-line flags. Everything is validated here, before any port is bound.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser as _;
use serde_json::Value;
use thiserror::Error;

use self::settings::{
    AddressableDirectorySetting, Count, LeaseSetting, MeterRegistrySetting, NodeDirectorySetting, Seconds, Settings,
    SettingsError,
};
use crate::clock::LeaseDuration;

pub mod check;
pub mod cli;
pub mod settings;

/// Kotlin's default gRPC port.
pub const DEFAULT_PORT: u16 = 50056;

/// Where configuration values come from: the process environment in `main`, a map in tests.
pub trait EnvSource {
    /// Returns the value of `name`, if set.
    fn var(&self, name: &str) -> Option<String>;
    /// Returns the content of the file at `path`, if readable.
    fn read_file(&self, path: &str) -> Option<String>;
}

/// The real process environment and file system.
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn read_file(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }
}

impl EnvSource for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }

    fn read_file(&self, path: &str) -> Option<String> {
        self.get(&format!("file:{path}")).cloned()
    }
}

/// Invalid configuration; the message names the bad field.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A value could not be used.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The setting, as the operator wrote it (`ORBIT_PORT`, `serverInfo.port`, `--port`).
        field: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The command line could not be parsed (clap's message, with its suggestions).
    #[error("{0}")]
    CommandLine(String),
    /// A settings field this node does not know (Kotlin's launcher rejects them too).
    #[error("unknown settings field {0}")]
    UnknownField(String),
    /// A feature the settings ask for that this node does not provide yet.
    #[error("unsupported {field}: {reason}")]
    Unsupported {
        /// The setting.
        field: String,
        /// What is missing.
        reason: String,
    },
}

fn invalid(field: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { field: field.to_owned(), reason: reason.into() }
}

/// The validated configuration of one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where the gRPC server binds (a container binds `0.0.0.0`).
    pub listen: SocketAddr,
    /// The grpc-java target string other servers dial (`host:port` or `dns:///host:port`).
    pub advertise_url: String,
    /// Node lease length (Kotlin: 10 s, renew after 5 s).
    pub node_lease: LeaseDuration,
    /// Addressable lease length (Kotlin: 600 s, renew after 300 s).
    pub addressable_lease: LeaseDuration,
    /// The period of the maintenance tick (Kotlin: 1 s).
    pub tick_rate: Duration,
    /// Immediate routing retries before a message becomes a delivery error (Kotlin: 10).
    pub message_retry_attempts: i64,
    /// How long a stopping node waits for its tasks.
    pub shutdown_grace_period: Duration,
    /// The Prometheus endpoint, or `None` when disabled.
    pub metrics: Option<MetricsConfig>,
    /// Where node records live.
    pub node_directory: DirectoryConfig,
    /// Where addressable leases live.
    pub addressable_directory: DirectoryConfig,
    /// Logs and traces.
    pub telemetry: TelemetryConfig,
    /// The TLS listener and mesh links, or `None` (plaintext only, as Kotlin).
    pub tls: Option<TlsConfig>,
}

/// TLS beside the plaintext listener. Files are read at start, on SIGHUP and when they change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// The TLS listener's port (on the listen address's IP).
    pub port: u16,
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// PEM CA certificates that client certificates must chain to (mTLS), or `None`.
    pub client_ca: Option<PathBuf>,
    /// PEM CA certificates that peer orbit-nodes' certificates must chain to; `None` keeps
    /// mesh links on plaintext.
    pub peer_ca: Option<PathBuf>,
}

/// How the node logs and whether it exports traces.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TelemetryConfig {
    /// Which log lines to write (a tracing `EnvFilter`, default `info`).
    pub log_filter: Option<String>,
    /// The log line format.
    pub log_format: LogFormat,
    /// The OTLP/gRPC collector spans go to, or `None` for no export.
    pub otlp_endpoint: Option<String>,
}

/// The log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (for log shippers).
    Json,
}

/// A directory backend, as the settings' `nodeDirectory` / `addressableDirectory` select it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DirectoryConfig {
    /// Private to this process (the embedded default, like Kotlin's local directories).
    #[default]
    InMemory,
    /// An etcd server shared with the other servers of the cluster.
    Etcd {
        /// The etcd endpoint (`http://host:2379`).
        url: String,
    },
}

/// Where the Prometheus scrape is served (Kotlin's `PrometheusMetricsConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// The port (Kotlin: 8080); bound on the listen address's IP.
    pub port: u16,
    /// The context path (Kotlin: `/metrics`); any path under it answers.
    pub path: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), DEFAULT_PORT),
            advertise_url: format!("localhost:{DEFAULT_PORT}"),
            node_lease: LeaseDuration::from_secs(10),
            addressable_lease: LeaseDuration::from_secs(600),
            tick_rate: Duration::from_secs(1),
            message_retry_attempts: 10,
            shutdown_grace_period: Duration::from_secs(10),
            metrics: Some(MetricsConfig { port: 8080, path: "/metrics".to_owned() }),
            node_directory: DirectoryConfig::InMemory,
            addressable_directory: DirectoryConfig::InMemory,
            telemetry: TelemetryConfig::default(),
            tls: None,
        }
    }
}

impl Config {
    /// Returns the configuration from `env` and the command-line `args` (without the
    /// program name).
    pub fn from_env(env: &impl EnvSource, args: &[String]) -> Result<Config, ConfigError> {
        let command_line = std::iter::once("orbit-node".to_owned()).chain(args.iter().cloned());
        let cli = cli::Cli::try_parse_from(command_line).map_err(|e| ConfigError::CommandLine(e.to_string()))?;
        Self::from_flags(env, &cli.flags)
    }

    /// Returns the configuration from `env` and parsed command-line `flags`.
    pub fn from_flags(env: &impl EnvSource, flags: &cli::Flags) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        let mut port: Option<u16> = None;
        let mut url: Option<String> = None;

        if let Some(settings) = load_settings(env)? {
            apply_settings(&mut config, &mut port, &mut url, settings, env)?;
        }
        if let Some(value) = env.var("ORBIT_PORT").filter(|v| !v.trim().is_empty()) {
            port = Some(parse_port("ORBIT_PORT", &value)?);
        }
        if let Some(value) = env.var("ORBIT_URL").filter(|v| !v.trim().is_empty()) {
            url = Some(value);
        }
        if let Some(value) = env.var("ORBIT_LISTEN_ADDRESS").filter(|v| !v.trim().is_empty()) {
            config.listen.set_ip(parse_ip("ORBIT_LISTEN_ADDRESS", &value)?);
        }
        if let Some(value) = env.var("ORBIT_METRICS_PORT").filter(|v| !v.trim().is_empty()) {
            config.metrics = parse_metrics_port("ORBIT_METRICS_PORT", &value, config.metrics)?;
        }
        if let Some(value) = env.var("ORBIT_SHUTDOWN_GRACE_SECONDS").filter(|v| !v.trim().is_empty()) {
            config.shutdown_grace_period = Duration::from_secs(parse_u64("ORBIT_SHUTDOWN_GRACE_SECONDS", &value)?);
        }

        if let Some(value) = env.var("ORBIT_LOG").filter(|v| !v.trim().is_empty()) {
            config.telemetry.log_filter = Some(log_filter("ORBIT_LOG", value)?);
        }
        if let Some(value) = env.var("ORBIT_LOG_FORMAT").filter(|v| !v.trim().is_empty()) {
            config.telemetry.log_format = parse_log_format("ORBIT_LOG_FORMAT", &value)?;
        }
        // The traces-only variable wins over the general one, as in the OpenTelemetry SDKs.
        for variable in ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] {
            if let Some(value) = env.var(variable).filter(|v| !v.trim().is_empty()) {
                config.telemetry.otlp_endpoint = Some(otlp_endpoint(variable, value)?);
            }
        }

        if let Some(value) = &flags.port {
            port = Some(parse_port("--port", value)?);
        }
        if let Some(value) = &flags.url {
            url = Some(value.clone());
        }
        if let Some(value) = &flags.listen {
            config.listen.set_ip(parse_ip("--listen", value)?);
        }
        if let Some(value) = &flags.node_lease_seconds {
            config.node_lease = lease("--node-lease-seconds", value)?;
        }
        if let Some(value) = &flags.addressable_lease_seconds {
            config.addressable_lease = lease("--addressable-lease-seconds", value)?;
        }
        if let Some(value) = &flags.tick_millis {
            let millis = parse_u64("--tick-millis", value)?;
            if millis == 0 {
                return Err(invalid("--tick-millis", "must be positive"));
            }
            config.tick_rate = Duration::from_millis(millis);
        }
        if let Some(value) = &flags.etcd_node_url {
            config.node_directory = etcd_url("--etcd-node-url", value.clone())?;
        }
        if let Some(value) = &flags.etcd_addressable_url {
            config.addressable_directory = etcd_url("--etcd-addressable-url", value.clone())?;
        }
        if let Some(value) = &flags.metrics_port {
            config.metrics = parse_metrics_port("--metrics-port", value, config.metrics)?;
        }
        if let Some(value) = &flags.shutdown_grace_seconds {
            config.shutdown_grace_period = Duration::from_secs(parse_u64("--shutdown-grace-seconds", value)?);
        }
        if let Some(value) = &flags.message_retry_attempts {
            config.message_retry_attempts = i64::try_from(parse_u64("--message-retry-attempts", value)?)
                .map_err(|_| invalid("--message-retry-attempts", "too large"))?;
        }
        if let Some(value) = &flags.log_filter {
            config.telemetry.log_filter = Some(log_filter("--log-filter", value.clone())?);
        }
        if let Some(value) = &flags.log_format {
            config.telemetry.log_format = parse_log_format("--log-format", value)?;
        }
        if let Some(value) = &flags.otlp_endpoint {
            config.telemetry.otlp_endpoint = Some(otlp_endpoint("--otlp-endpoint", value.clone())?);
        }

        config.tls = tls_config(env, flags)?;

        let port = port.unwrap_or(DEFAULT_PORT);
        config.listen.set_port(port);
        config.advertise_url = url.unwrap_or_else(|| format!("localhost:{port}"));
        validate_url(&config.advertise_url)?;
        Ok(config)
    }
}

/// The TLS settings: each flag over its environment variable; a port needs a certificate and
/// a key, and the files need a port.
fn tls_config(env: &impl EnvSource, flags: &cli::Flags) -> Result<Option<TlsConfig>, ConfigError> {
    let pick = |flag: &Option<String>, flag_name: &'static str, variable: &'static str| match flag
        .clone()
        .filter(|v| !v.trim().is_empty())
    {
        Some(value) => Some((flag_name, value)),
        None => env.var(variable).filter(|v| !v.trim().is_empty()).map(|value| (variable, value)),
    };
    let port = pick(&flags.tls_port, "--tls-port", "ORBIT_TLS_PORT");
    let cert = pick(&flags.tls_cert, "--tls-cert", "ORBIT_TLS_CERT");
    let key = pick(&flags.tls_key, "--tls-key", "ORBIT_TLS_KEY");
    let client_ca = pick(&flags.tls_client_ca, "--tls-client-ca", "ORBIT_TLS_CLIENT_CA");
    let peer_ca = pick(&flags.tls_peer_ca, "--tls-peer-ca", "ORBIT_TLS_PEER_CA");
    let Some((port_field, port)) = port else {
        if let Some((field, _)) = cert.or(key).or(client_ca).or(peer_ca) {
            return Err(invalid(field, "needs a TLS listener: set --tls-port (ORBIT_TLS_PORT) too"));
        }
        return Ok(None);
    };
    let port = parse_port(port_field, &port)?;
    if port == 0 {
        // Peers learn the TLS port from the configuration; a random one could not be announced.
        return Err(invalid(port_field, "the TLS port must be a fixed port, not 0"));
    }
    let (Some((_, cert)), Some((_, key))) = (cert, key) else {
        return Err(invalid(
            port_field,
            "a TLS listener needs --tls-cert and --tls-key (ORBIT_TLS_CERT, ORBIT_TLS_KEY)",
        ));
    };
    Ok(Some(TlsConfig {
        port,
        cert: PathBuf::from(cert),
        key: PathBuf::from(key),
        client_ca: client_ca.map(|(_, path)| PathBuf::from(path)),
        peer_ca: peer_ca.map(|(_, path)| PathBuf::from(path)),
    }))
}

/// A tracing filter (`info`, `warn,orbit_node=debug`), checked as the logger will read it.
fn log_filter(field: &str, value: String) -> Result<String, ConfigError> {
    match tracing_subscriber::EnvFilter::try_new(value.trim()) {
        Ok(_) => Ok(value.trim().to_owned()),
        Err(error) => Err(invalid(field, format!("not a log filter ({error}): {value:?}"))),
    }
}

fn parse_log_format(field: &str, value: &str) -> Result<LogFormat, ConfigError> {
    match value.trim() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(invalid(field, format!("expected text or json, got {other:?}"))),
    }
}

/// An OTLP/gRPC endpoint: `http://host:port` (a collector beside the node; the exporter has no
/// TLS, so `https://` is refused here rather than at start).
fn otlp_endpoint(field: &str, value: String) -> Result<String, ConfigError> {
    let value = value.trim().to_owned();
    match value.strip_prefix("http://") {
        Some(authority) if !authority.is_empty() && value.parse::<tonic::transport::Uri>().is_ok() => Ok(value),
        _ if value.starts_with("https://") => Err(invalid(
            field,
            format!("the trace exporter speaks plaintext OTLP/gRPC only; use http://, got {value:?}"),
        )),
        _ => Err(invalid(field, format!("expected an http:// collector URL, got {value:?}"))),
    }
}

fn load_settings(env: &impl EnvSource) -> Result<Option<Settings>, ConfigError> {
    let (field, text) = if let Some(raw) = env.var("ORBIT_SETTINGS_RAW").filter(|v| !v.trim().is_empty()) {
        ("ORBIT_SETTINGS_RAW", raw)
    } else if let Some(path) = env.var("ORBIT_SETTINGS").filter(|v| !v.trim().is_empty()) {
        // Like Kotlin's launcher: a path that does not exist means "no settings".
        match env.read_file(&path) {
            Some(text) => ("ORBIT_SETTINGS", text),
            None => return Ok(None),
        }
    } else {
        return Ok(None);
    };
    let value: Value = serde_json::from_str(&text).map_err(|e| invalid(field, format!("not valid JSON: {e}")))?;
    let settings = Settings::from_value(interpolate(value, env), field).map_err(|e| match e {
        SettingsError::UnknownField(path) => ConfigError::UnknownField(path),
        SettingsError::Invalid { field, reason } => ConfigError::Invalid { field, reason },
    })?;
    Ok(Some(settings))
}

/// Replaces `${VAR}` and `${VAR:-default}` in every string value (not in field names);
/// an unset variable without default is left as written.
fn interpolate(value: Value, env: &impl EnvSource) -> Value {
    match value {
        Value::String(s) => Value::String(interpolate_str(&s, env)),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| interpolate(v, env)).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, interpolate(v, env))).collect()),
        other => other,
    }
}

fn interpolate_str(text: &str, env: &impl EnvSource) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let expression = &after[..end];
        let (name, default) = match expression.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (expression, None),
        };
        match (env.var(name), default) {
            (Some(value), _) => out.push_str(&value),
            (None, Some(default)) => out.push_str(default),
            (None, None) => out.push_str(&rest[start..start + 2 + end + 1]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

fn apply_settings(
    config: &mut Config,
    port: &mut Option<u16>,
    url: &mut Option<String>,
    settings: Settings,
    env: &impl EnvSource,
) -> Result<(), ConfigError> {
    if let Some(info) = settings.server_info {
        *port = info.port.map(|p| p.0).or(*port);
        *url = info.url.or(url.take());
    }
    if let Some(Seconds(tick)) = settings.tick_rate {
        config.tick_rate = tick;
    }
    if let Some(lease) = settings.node_lease_duration {
        config.node_lease = lease_setting("nodeLeaseDuration", &lease)?;
    }
    if let Some(lease) = settings.addressable_lease_duration {
        config.addressable_lease = lease_setting("addressableLeaseDuration", &lease)?;
    }
    if let Some(Count(attempts)) = settings.message_retry_attempts {
        config.message_retry_attempts = i64::try_from(attempts).unwrap_or(i64::MAX);
    }
    // pipelineRailCount, pipelineBufferCount and acquireShutdownLatch are read (and so
    // validated) for drop-in compatibility; the Rust node sizes its own pools.
    match settings.node_directory {
        None | Some(NodeDirectorySetting::Local) => {}
        Some(NodeDirectorySetting::Etcd { url }) => config.node_directory = etcd_url("nodeDirectory.url", url)?,
    }
    match settings.addressable_directory {
        None | Some(AddressableDirectorySetting::Local) => {}
        Some(AddressableDirectorySetting::Etcd { url }) => {
            // Kotlin's default for an absent url: $ADDRESSABLE_DIRECTORY, else 0.0.0.0.
            let url = url.or_else(|| env.var("ADDRESSABLE_DIRECTORY")).unwrap_or_else(|| "0.0.0.0".to_owned());
            config.addressable_directory = etcd_url("addressableDirectory.url", url)?;
        }
    }
    match settings.meter_registry {
        None => {}
        // Kotlin's in-process registry serves no endpoint.
        Some(MeterRegistrySetting::Local) => config.metrics = None,
        Some(MeterRegistrySetting::Prometheus { url, port }) => {
            config.metrics = Some(MetricsConfig { port, path: url });
        }
    }
    Ok(())
}

/// Checks an etcd endpoint: `http://host:port` or `host:port` (Kotlin passes it to jetcd as is).
fn etcd_url(field: &str, url: String) -> Result<DirectoryConfig, ConfigError> {
    let trimmed = url.trim();
    if trimmed.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if trimmed.starts_with("https://") {
        return Err(invalid(field, "TLS is not supported (Kotlin's etcd directories use plain http)"));
    }
    Ok(DirectoryConfig::Etcd { url: trimmed.to_owned() })
}

/// Checks a lease length from the settings: at least one whole second.
fn lease_setting(field: &str, lease: &LeaseSetting) -> Result<LeaseDuration, ConfigError> {
    match lease.lease_duration.0.as_secs() {
        0 => Err(invalid(field, "must be at least 1 second")),
        seconds => Ok(LeaseDuration::from_secs(seconds)),
    }
}

/// Reads a metrics port: a number, or `off` to disable the endpoint.
fn parse_metrics_port(
    field: &str,
    text: &str,
    current: Option<MetricsConfig>,
) -> Result<Option<MetricsConfig>, ConfigError> {
    if text.trim().eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let port = parse_port(field, text)?;
    let path = current.map_or_else(|| "/metrics".to_owned(), |m| m.path);
    Ok(Some(MetricsConfig { port, path }))
}

fn parse_u64(field: &str, text: &str) -> Result<u64, ConfigError> {
    text.trim().parse().map_err(|_| invalid(field, format!("expected a non-negative integer, got {text:?}")))
}

fn parse_port(field: &str, text: &str) -> Result<u16, ConfigError> {
    text.trim().parse().map_err(|_| invalid(field, format!("expected a port number 0-65535, got {text:?}")))
}

fn parse_ip(field: &str, text: &str) -> Result<IpAddr, ConfigError> {
    text.trim().parse().map_err(|_| invalid(field, format!("expected an IP address, got {text:?}")))
}

fn lease(field: &str, text: &str) -> Result<LeaseDuration, ConfigError> {
    match parse_u64(field, text)? {
        0 => Err(invalid(field, "must be at least 1 second")),
        seconds => Ok(LeaseDuration::from_secs(seconds)),
    }
}

/// Rejects URLs grpc-java cannot dial as a target string (`http://...`) and empty ones.
fn validate_url(url: &str) -> Result<(), ConfigError> {
    if url.trim().is_empty() {
        return Err(invalid("ORBIT_URL", "must not be empty: peers dial it"));
    }
    if url.starts_with("http://") || url.starts_with("https://") {
        return Err(invalid("ORBIT_URL", "must be host:port or dns:///host:port (grpc-java cannot dial http:// URLs)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn defaults_equal_kotlins() {
        let config = Config::from_env(&env(&[]), &[]).expect("valid");
        assert_eq!(config.listen, "0.0.0.0:50056".parse().expect("address"));
        assert_eq!(config.advertise_url, "localhost:50056");
        assert_eq!(config.node_lease, LeaseDuration::from_secs(10));
        assert_eq!(config.addressable_lease, LeaseDuration::from_secs(600));
        assert_eq!(config.tick_rate, Duration::from_secs(1));
        assert_eq!(config.message_retry_attempts, 10);
        assert_eq!(config.metrics, Some(MetricsConfig { port: 8080, path: "/metrics".to_owned() }));
    }

    #[test]
    fn prometheus_settings_and_metrics_flags() {
        let settings = r#"{"meterRegistry": ["orbit.server.prometheus.PrometheusMetrics$PrometheusMetricsConfig", {"url": "/m", "port": 9090}]}"#;
        let config = Config::from_env(&env(&[("ORBIT_SETTINGS_RAW", settings)]), &[]).expect("valid");
        assert_eq!(config.metrics, Some(MetricsConfig { port: 9090, path: "/m".to_owned() }));
        let off = Config::from_env(&env(&[]), &["--metrics-port".to_owned(), "off".to_owned()]).expect("valid");
        assert_eq!(off.metrics, None);
        let bad = Config::from_env(&env(&[("ORBIT_METRICS_PORT", "x")]), &[]).expect_err("bad port");
        assert!(bad.to_string().starts_with("invalid ORBIT_METRICS_PORT"), "{bad}");
    }

    #[test]
    fn kotlin_launcher_environment_is_understood() {
        let config = Config::from_env(&env(&[("ORBIT_PORT", "6000"), ("ORBIT_URL", "dns:///orbit-1:6000")]), &[])
            .expect("valid");
        assert_eq!(config.listen.port(), 6000);
        assert_eq!(config.advertise_url, "dns:///orbit-1:6000");
    }

    #[test]
    fn settings_json_with_interpolation() {
        let settings = r#"{
            "serverInfo": {"port": "${ORBIT_PORT:-50056}", "url": "${ORBIT_URL:-localhost:50056}"},
            "tickRate": 1,
            "pipelineRailCount": 32,
            "pipelineBufferCount": 10000,
            "acquireShutdownLatch": true,
            "nodeLeaseDuration": {"leaseDuration": 20},
            "addressableLeaseDuration": {"leaseDuration": "PT10M"}
        }"#;
        let config = Config::from_env(&env(&[("ORBIT_SETTINGS_RAW", settings), ("ORBIT_URL", "host-a:7000")]), &[])
            .expect("valid");
        assert_eq!(config.listen.port(), 50056);
        assert_eq!(config.advertise_url, "host-a:7000");
        assert_eq!(config.node_lease, LeaseDuration::from_secs(20));
        assert_eq!(config.addressable_lease, LeaseDuration::from_secs(600));

        let from_file =
            env(&[("ORBIT_SETTINGS", "/etc/orbit.json"), ("file:/etc/orbit.json", r#"{"tickRate": "PT0.5S"}"#)]);
        assert_eq!(Config::from_env(&from_file, &[]).expect("valid").tick_rate, Duration::from_millis(500));
        let missing_file = env(&[("ORBIT_SETTINGS", "/nowhere.json")]);
        assert_eq!(Config::from_env(&missing_file, &[]).expect("valid"), Config::default());
    }

    #[test]
    fn etcd_directories_as_the_compose_file_and_helm_chart_configure_them() {
        let settings = r#"{
            "nodeDirectory": ["orbit.server.etcd.EtcdNodeDirectory$EtcdNodeDirectoryConfig", {"url": "${ETCD_NODE_DIR:-0.0.0.0}"}],
            "addressableDirectory": ["orbit.server.etcd.EtcdAddressableDirectory$EtcdAddressableDirectoryConfig", {}]
        }"#;
        let config = Config::from_env(
            &env(&[
                ("ORBIT_SETTINGS_RAW", settings),
                ("ETCD_NODE_DIR", "http://node-directory:2379"),
                ("ADDRESSABLE_DIRECTORY", "http://addressable-directory:2379"),
            ]),
            &[],
        )
        .expect("valid");
        assert_eq!(config.node_directory, DirectoryConfig::Etcd { url: "http://node-directory:2379".into() });
        assert_eq!(
            config.addressable_directory,
            DirectoryConfig::Etcd { url: "http://addressable-directory:2379".into() }
        );
        let defaulted = Config::from_env(&env(&[("ORBIT_SETTINGS_RAW", settings)]), &[]).expect("valid");
        assert_eq!(defaulted.addressable_directory, DirectoryConfig::Etcd { url: "0.0.0.0".into() });
    }

    #[test]
    fn interpolation_leaves_unresolved_variables() {
        let e = env(&[("A", "1")]);
        assert_eq!(interpolate_str("${A}-${B}-${B:-2}-${", &e), "1-${B}-2-${");
    }

    #[test]
    fn flags_override_the_environment() {
        let args: Vec<String> = ["--port", "7001", "--listen", "127.0.0.1", "--tick-millis", "250"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let config = Config::from_env(&env(&[("ORBIT_PORT", "6000")]), &args).expect("valid");
        assert_eq!(config.listen, "127.0.0.1:7001".parse().expect("address"));
        assert_eq!(config.advertise_url, "localhost:7001");
        assert_eq!(config.tick_rate, Duration::from_millis(250));
    }

    #[test]
    fn invalid_configuration_names_the_field() {
        let cases: Vec<(HashMap<String, String>, Vec<&str>, &str)> = vec![
            (env(&[("ORBIT_PORT", "abc")]), vec![], "invalid ORBIT_PORT"),
            (env(&[("ORBIT_PORT", "70000")]), vec![], "invalid ORBIT_PORT"),
            (env(&[("ORBIT_URL", "http://x:1")]), vec![], "invalid ORBIT_URL"),
            (env(&[("ORBIT_SETTINGS_RAW", "{bad")]), vec![], "invalid ORBIT_SETTINGS_RAW"),
            (env(&[("ORBIT_SETTINGS_RAW", r#"{"tickRat": 1}"#)]), vec![], "unknown settings field tickRat"),
            (env(&[("ORBIT_SETTINGS_RAW", r#"{"serverInfo": {"port": "x"}}"#)]), vec![], "invalid serverInfo.port"),
            (
                env(&[("ORBIT_SETTINGS_RAW", r#"{"nodeLeaseDuration": {"leaseDuration": 0}}"#)]),
                vec![],
                "invalid nodeLeaseDuration",
            ),
            (
                env(&[(
                    "ORBIT_SETTINGS_RAW",
                    r#"{"nodeDirectory": ["orbit.server.etcd.EtcdNodeDirectory$EtcdNodeDirectoryConfig", {"url": ""}]}"#,
                )]),
                vec![],
                "invalid nodeDirectory.url",
            ),
            (env(&[]), vec!["--port", "x"], "invalid --port"),
            (env(&[]), vec!["--port"], "error: a value is required for '--port <PORT>'"),
            (env(&[]), vec!["--bogus"], "error: unexpected argument '--bogus'"),
        ];
        for (e, args, expected) in cases {
            let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
            let error = Config::from_env(&e, &args).expect_err(expected).to_string();
            assert!(error.starts_with(expected), "{error} should start with {expected}");
        }
    }
}
