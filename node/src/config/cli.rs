//! The command line: flags (each naming the environment variable and settings field it
//! overrides), `--help`, `--version` with the git commit, and the `check-config` subcommand.
//!
//! Flag values stay text here and are validated by [`super::Config`], so a bad value is
//! reported with the same field names whether it came from a flag, the environment or the
//! settings JSON.

use clap::{Args, Parser, Subcommand};

/// The version `--version` prints: the crate version and the commit it was built from.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("ORBIT_NODE_COMMIT"), ")");

/// `orbit-node [FLAGS] [check-config]`.
#[derive(Debug, Parser)]
#[command(
    name = "orbit-node",
    version = VERSION,
    about = "An Orbit 2 server node, wire-compatible with Kotlin's orbit-server (cloud.orbit 2.0.0-alpha.108)",
    after_help = "Configuration sources, each overriding the one before: Kotlin's defaults; the settings JSON of the \
                  Kotlin launcher (ORBIT_SETTINGS_RAW, or the file named by ORBIT_SETTINGS, with ${VAR:-default} \
                  interpolation); the environment variables named above; these flags. See docs/configuration.md.\n\
                  Traces: OTEL_SERVICE_NAME and the other \
                  OpenTelemetry variables apply to the export. Signals: SIGTERM/SIGINT drain and stop, SIGHUP reloads the TLS files. \
                  Exit codes: 0 stopped by SIGTERM/SIGINT, \
                  64 bad command line or configuration, 1 failure while running."
)]
pub struct Cli {
    /// What to do (default: run the node).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The settings.
    #[command(flatten)]
    pub flags: Flags,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load the configuration exactly as start-up does, check that the ports are free and the
    /// etcd directories answer, and print the effective configuration (exit 0), or the
    /// problems with their fields (exit 64). For a pipeline, before a Kotlin server is replaced.
    CheckConfig,
}

/// The flags; each one overrides the environment variable and settings field it names.
#[derive(Debug, Default, Clone, Args)]
pub struct Flags {
    /// gRPC port [env: ORBIT_PORT] [settings: serverInfo.port] [default: 50056]
    #[arg(long, value_name = "PORT", global = true)]
    pub port: Option<String>,
    /// The address other servers dial, host:port or dns:///host:port [env: ORBIT_URL] [settings: serverInfo.url] [default: localhost:<port>]
    #[arg(long, value_name = "URL", global = true)]
    pub url: Option<String>,
    /// The IP address the gRPC and metrics ports bind [env: ORBIT_LISTEN_ADDRESS] [default: 0.0.0.0]
    #[arg(long, value_name = "IP", global = true)]
    pub listen: Option<String>,
    /// Node lease in seconds [settings: nodeLeaseDuration] [default: 10]
    #[arg(long, value_name = "SECONDS", global = true)]
    pub node_lease_seconds: Option<String>,
    /// Addressable lease in seconds [settings: addressableLeaseDuration] [default: 600]
    #[arg(long, value_name = "SECONDS", global = true)]
    pub addressable_lease_seconds: Option<String>,
    /// Maintenance tick in milliseconds [settings: tickRate] [default: 1000]
    #[arg(long, value_name = "MILLIS", global = true)]
    pub tick_millis: Option<String>,
    /// etcd URL of the node directory [settings: nodeDirectory, EtcdNodeDirectoryConfig url] [default: in memory]
    #[arg(long, value_name = "URL", global = true)]
    pub etcd_node_url: Option<String>,
    /// etcd URL of the addressable directory [settings: addressableDirectory, EtcdAddressableDirectoryConfig url, which defaults to $ADDRESSABLE_DIRECTORY] [default: in memory]
    #[arg(long, value_name = "URL", global = true)]
    pub etcd_addressable_url: Option<String>,
    /// Prometheus port, or `off` [env: ORBIT_METRICS_PORT] [settings: meterRegistry] [default: 8080]
    #[arg(long, value_name = "PORT|off", global = true)]
    pub metrics_port: Option<String>,
    /// Routing attempts before a message becomes a delivery error [settings: messageRetryAttempts] [default: 10]
    #[arg(long, value_name = "N", global = true)]
    pub message_retry_attempts: Option<String>,
    /// How long a stopping node drains, in seconds [env: ORBIT_SHUTDOWN_GRACE_SECONDS] [default: 10]
    #[arg(long, value_name = "SECONDS", global = true)]
    pub shutdown_grace_seconds: Option<String>,
    /// Port of an extra TLS listener beside the plaintext one (off unless set; Kotlin clients keep plaintext) [env: ORBIT_TLS_PORT]
    #[arg(long, value_name = "PORT", global = true)]
    pub tls_port: Option<String>,
    /// PEM certificate chain of the TLS listener, also presented to peer orbit-nodes [env: ORBIT_TLS_CERT]
    #[arg(long, value_name = "FILE", global = true)]
    pub tls_cert: Option<String>,
    /// PEM private key of that certificate [env: ORBIT_TLS_KEY]
    #[arg(long, value_name = "FILE", global = true)]
    pub tls_key: Option<String>,
    /// PEM CA certificates; when set, TLS clients must present a certificate they signed (mTLS) [env: ORBIT_TLS_CLIENT_CA]
    #[arg(long, value_name = "FILE", global = true)]
    pub tls_client_ca: Option<String>,
    /// PEM CA certificates of peer orbit-nodes; when set, links to peers with a TLS listener use TLS [env: ORBIT_TLS_PEER_CA]
    #[arg(long, value_name = "FILE", global = true)]
    pub tls_peer_ca: Option<String>,
    /// Which log lines to write, a tracing filter such as `info` or `info,orbit_node=debug` [env: ORBIT_LOG] [default: info]
    #[arg(long, value_name = "FILTER", global = true)]
    pub log_filter: Option<String>,
    /// Log lines as `text` or `json` (one JSON object per line, on stderr) [env: ORBIT_LOG_FORMAT] [default: text]
    #[arg(long, value_name = "text|json", global = true)]
    pub log_format: Option<String>,
    /// Export traces (one span per message at each hop) over OTLP/gRPC to this collector, e.g. http://localhost:4317 [env: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT] [default: no export]
    #[arg(long, value_name = "URL", global = true)]
    pub otlp_endpoint: Option<String>,
}
