//! `orbit-node check-config`: the effective configuration, and whether start-up would find
//! its ports free and its etcd directories answering.

use std::net::SocketAddr;
use std::time::Duration;

use super::{Config, DirectoryConfig};

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked, named as the configuration names it.
    pub field: String,
    /// What was found.
    pub finding: String,
    /// Whether start-up would fail on it (a port taken); an etcd that does not answer yet is
    /// a warning: the node waits for it.
    pub fatal: bool,
    /// Whether the check passed.
    pub passed: bool,
}

/// The effective configuration, one `(setting, value)` line each.
pub fn describe(config: &Config) -> Vec<(&'static str, String)> {
    let directory = |d: &DirectoryConfig| match d {
        DirectoryConfig::InMemory => "in memory (this process only)".to_owned(),
        DirectoryConfig::Etcd { url } => format!("etcd at {url}"),
    };
    vec![
        ("listen", config.listen.to_string()),
        ("advertised url", config.advertise_url.clone()),
        (
            "node lease",
            format!(
                "{} s (renew after {} s)",
                config.node_lease.expires_in.as_secs(),
                config.node_lease.renew_in.as_secs()
            ),
        ),
        (
            "addressable lease",
            format!(
                "{} s (renew after {} s)",
                config.addressable_lease.expires_in.as_secs(),
                config.addressable_lease.renew_in.as_secs()
            ),
        ),
        ("tick", format!("{} ms", config.tick_rate.as_millis())),
        ("message retry attempts", config.message_retry_attempts.to_string()),
        ("shutdown grace", format!("{} s", config.shutdown_grace_period.as_secs())),
        (
            "metrics",
            config
                .metrics
                .as_ref()
                .map_or_else(|| "off".to_owned(), |m| format!("http://{}:{}{}", config.listen.ip(), m.port, m.path)),
        ),
        ("node directory", directory(&config.node_directory)),
        ("addressable directory", directory(&config.addressable_directory)),
        (
            "tls",
            config.tls.as_ref().map_or_else(
                || "off (plaintext only)".to_owned(),
                |tls| {
                    format!(
                        "port {} ({}{}), mesh links {}",
                        tls.port,
                        tls.cert.display(),
                        tls.client_ca.as_ref().map_or(String::new(), |ca| format!(", mTLS with {}", ca.display())),
                        tls.peer_ca.as_ref().map_or("plaintext".to_owned(), |ca| format!("TLS with {}", ca.display()))
                    )
                },
            ),
        ),
        ("log filter", config.telemetry.log_filter.clone().unwrap_or_else(|| "info".to_owned())),
        (
            "log format",
            match config.telemetry.log_format {
                crate::config::LogFormat::Text => "text".to_owned(),
                crate::config::LogFormat::Json => "json".to_owned(),
            },
        ),
        (
            "trace export",
            config
                .telemetry
                .otlp_endpoint
                .as_ref()
                .map_or_else(|| "off".to_owned(), |url| format!("OTLP/gRPC to {url}")),
        ),
    ]
}

/// Checks what start-up needs from the machine: free ports, answering etcd stores.
pub async fn check(config: &Config) -> Vec<Check> {
    let mut checks = vec![port_free("gRPC port", config.listen)];
    if let Some(metrics) = &config.metrics {
        checks.push(port_free("metrics port", SocketAddr::new(config.listen.ip(), metrics.port)));
    }
    if let Some(tls) = &config.tls {
        checks.push(port_free("TLS port", SocketAddr::new(config.listen.ip(), tls.port)));
        let loaded = crate::net::tls::server_config(tls);
        checks.push(Check {
            field: "TLS certificate".to_owned(),
            finding: match &loaded {
                Ok(_) => format!("{} and {} load", tls.cert.display(), tls.key.display()),
                Err(error) => error.to_string(),
            },
            fatal: true,
            passed: loaded.is_ok(),
        });
        if let Some(ca) = &tls.peer_ca {
            let loaded = crate::net::tls::count_certificates(ca);
            checks.push(Check {
                field: "TLS peer CA".to_owned(),
                finding: match &loaded {
                    Ok(count) => format!("{} loads ({count} certificates)", ca.display()),
                    Err(error) => error.to_string(),
                },
                fatal: true,
                passed: loaded.is_ok(),
            });
        }
    }
    for (field, directory) in
        [("node directory", &config.node_directory), ("addressable directory", &config.addressable_directory)]
    {
        if let DirectoryConfig::Etcd { url } = directory {
            checks.push(etcd_answers(field, url).await);
        }
    }
    checks
}

fn port_free(field: &str, address: SocketAddr) -> Check {
    match std::net::TcpListener::bind(address) {
        Ok(_) => Check { field: field.to_owned(), finding: format!("{address} is free"), fatal: true, passed: true },
        Err(e) => Check {
            field: field.to_owned(),
            finding: format!("{address} cannot be bound: {e}"),
            fatal: true,
            passed: false,
        },
    }
}

async fn etcd_answers(field: &str, url: &str) -> Check {
    let options = etcd_client::ConnectOptions::new()
        .with_connect_timeout(Duration::from_secs(2))
        .with_timeout(Duration::from_secs(2));
    let answer = async {
        let mut client = etcd_client::Client::connect([url], Some(options)).await?;
        client.status().await
    };
    match tokio::time::timeout(Duration::from_secs(5), answer).await {
        Ok(Ok(status)) => Check {
            field: field.to_owned(),
            finding: format!("etcd {} answers at {url}", status.version()),
            fatal: false,
            passed: true,
        },
        Ok(Err(e)) => Check {
            field: field.to_owned(),
            finding: format!("etcd at {url} does not answer ({e}); orbit-node would wait for it at start-up"),
            fatal: false,
            passed: false,
        },
        Err(_) => Check {
            field: field.to_owned(),
            finding: format!("etcd at {url} does not answer within 5 s; orbit-node would wait for it at start-up"),
            fatal: false,
            passed: false,
        },
    }
}
