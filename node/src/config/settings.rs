//! The Kotlin launcher's settings JSON (`OrbitServerConfig` as `orbit-application` reads it)
//! as serde types.
//!
//! Jackson's rules are kept: unknown fields are errors; numbers may be quoted (an interpolated
//! `"${ORBIT_PORT:-50056}"` is a port); durations are seconds or ISO-8601 strings; the
//! interface-typed fields (`nodeDirectory`, `addressableDirectory`, `meterRegistry`) are
//! wrapper arrays `["<config class>", { ... }]`. Every error carries the path of the field it
//! is about (`serverInfo.port`, `meterRegistry.url`), so an operator sees what to fix.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::Value;

/// The settings JSON; an absent field keeps its default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Settings {
    /// Port and advertised URL.
    pub server_info: Option<ServerInfo>,
    /// The maintenance tick.
    pub tick_rate: Option<Seconds>,
    /// Kotlin's pipeline workers (accepted; the node sizes its own pools).
    pub pipeline_rail_count: Option<Count>,
    /// Kotlin's pipeline queue (accepted; the node's queue holds 10,000 messages).
    pub pipeline_buffer_count: Option<Count>,
    /// Kotlin's JVM keep-alive latch (accepted; the node runs until stopped).
    pub acquire_shutdown_latch: Option<Flag>,
    /// Immediate routing retries.
    pub message_retry_attempts: Option<Count>,
    /// Node lease length.
    pub node_lease_duration: Option<LeaseSetting>,
    /// Addressable lease length.
    pub addressable_lease_duration: Option<LeaseSetting>,
    /// Which node directory.
    pub node_directory: Option<NodeDirectorySetting>,
    /// Which addressable directory.
    pub addressable_directory: Option<AddressableDirectorySetting>,
    /// Which meter registry.
    pub meter_registry: Option<MeterRegistrySetting>,
}

/// `serverInfo`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerInfo {
    /// `serverInfo.port`.
    pub port: Option<Port>,
    /// `serverInfo.url`.
    pub url: Option<String>,
}

/// Kotlin's `LeaseDuration`: `{"leaseDuration": <seconds or ISO-8601>}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LeaseSetting {
    /// The lease length (renewal is due half-way).
    pub lease_duration: Seconds,
}

/// A TCP port: a number or a quoted number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port(pub u16);

/// A non-negative integer: a number or a quoted number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count(pub u64);

/// A boolean: `true`/`false`, quoted or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

/// A duration as Jackson's Java-time module reads it: seconds (possibly quoted or
/// fractional) or an ISO-8601 `PT..H..M..S` string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seconds(pub Duration);

/// The node directory classes Kotlin's launcher knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeDirectorySetting {
    /// `orbit.server.mesh.local.LocalNodeDirectory$LocalNodeDirectorySingleton`.
    Local,
    /// `orbit.server.etcd.EtcdNodeDirectory$EtcdNodeDirectoryConfig`.
    Etcd {
        /// The etcd endpoint.
        url: String,
    },
}

/// The addressable directory classes Kotlin's launcher knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressableDirectorySetting {
    /// `orbit.server.mesh.local.LocalAddressableDirectory$LocalAddressableDirectorySingleton`.
    Local,
    /// `orbit.server.etcd.EtcdAddressableDirectory$EtcdAddressableDirectoryConfig`.
    Etcd {
        /// The etcd endpoint; absent means Kotlin's default (`ADDRESSABLE_DIRECTORY`, else
        /// `0.0.0.0`), resolved by the caller.
        url: Option<String>,
    },
}

/// The meter registry classes Kotlin's launcher knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeterRegistrySetting {
    /// `orbit.server.mesh.local.LocalMeterRegistry$LocalMeterRegistrySingleton`: no endpoint.
    Local,
    /// `orbit.server.prometheus.PrometheusMetrics$PrometheusMetricsConfig`.
    Prometheus {
        /// The context path (default `/metrics`).
        url: String,
        /// The port (default 8080).
        port: u16,
    },
}

/// Config class names, as Jackson writes them.
pub mod class {
    /// Kotlin's in-memory node directory.
    pub const LOCAL_NODE_DIRECTORY: &str = "orbit.server.mesh.local.LocalNodeDirectory$LocalNodeDirectorySingleton";
    /// Kotlin's in-memory addressable directory.
    pub const LOCAL_ADDRESSABLE_DIRECTORY: &str =
        "orbit.server.mesh.local.LocalAddressableDirectory$LocalAddressableDirectorySingleton";
    /// Kotlin's in-process meter registry.
    pub const LOCAL_METER_REGISTRY: &str = "orbit.server.mesh.local.LocalMeterRegistry$LocalMeterRegistrySingleton";
    /// The etcd node directory.
    pub const ETCD_NODE_DIRECTORY: &str = "orbit.server.etcd.EtcdNodeDirectory$EtcdNodeDirectoryConfig";
    /// The etcd addressable directory.
    pub const ETCD_ADDRESSABLE_DIRECTORY: &str =
        "orbit.server.etcd.EtcdAddressableDirectory$EtcdAddressableDirectoryConfig";
    /// The Prometheus endpoint.
    pub const PROMETHEUS: &str = "orbit.server.prometheus.PrometheusMetrics$PrometheusMetricsConfig";
}

/// Why the settings were rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingsError {
    /// A field nobody knows, with its path (`serverInfo.colour`).
    UnknownField(String),
    /// A field whose value cannot be used, with its path and the reason.
    Invalid {
        /// The path, e.g. `serverInfo.port`.
        field: String,
        /// What is wrong.
        reason: String,
    },
}

impl Settings {
    /// Reads (already interpolated) settings, naming the field of any error; `source`
    /// names the whole document (`ORBIT_SETTINGS_RAW`) for errors about its shape.
    pub fn from_value(value: Value, source: &str) -> Result<Self, SettingsError> {
        if !value.is_object() {
            return Err(SettingsError::Invalid {
                field: source.to_owned(),
                reason: "must be a JSON object".to_owned(),
            });
        }
        serde_path_to_error::deserialize(value).map_err(|error| {
            let path = error.path().to_string();
            let path = if path == "." { String::new() } else { path };
            let message = error.inner().to_string();
            match unknown_field_name(&message) {
                // The path already ends in the unknown key; keep it as is.
                Some(name) if path == name || path.ends_with(&format!(".{name}")) => SettingsError::UnknownField(path),
                Some(name) if path.is_empty() => SettingsError::UnknownField(name.to_owned()),
                Some(name) => SettingsError::UnknownField(format!("{path}.{name}")),
                None => SettingsError::Invalid {
                    field: if path.is_empty() { source.to_owned() } else { path },
                    reason: message,
                },
            }
        })
    }
}

/// Returns `x` from serde's "unknown field `x`, expected ..." message.
fn unknown_field_name(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split_once('`').map(|(name, _)| name)
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.trim().to_owned(),
        other => other.to_string(),
    }
}

/// Deserializes any JSON scalar and parses its text with `parse`.
fn from_scalar<'de, D, T>(deserializer: D, parse: impl Fn(&str) -> Result<T, String>) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Value::deserialize(deserializer)?;
    match value {
        Value::Array(_) | Value::Object(_) | Value::Null => {
            Err(de::Error::custom(format!("expected a single value, got {value}")))
        }
        scalar => parse(&scalar_text(&scalar)).map_err(de::Error::custom),
    }
}

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_scalar(deserializer, |text| {
            text.parse().map(Port).map_err(|_| format!("expected a port number 0-65535, got {text:?}"))
        })
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_scalar(deserializer, |text| {
            text.parse().map(Count).map_err(|_| format!("expected a non-negative integer, got {text:?}"))
        })
    }
}

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_scalar(deserializer, |text| match text {
            "true" => Ok(Flag(true)),
            "false" => Ok(Flag(false)),
            other => Err(format!("expected true or false, got {other:?}")),
        })
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_scalar(deserializer, |text| {
            parse_duration(text)
                .map(Seconds)
                .ok_or_else(|| format!("expected seconds or an ISO-8601 duration, got {text:?}"))
        })
    }
}

/// Reads `12`, `0.5`, `"PT10M"`, `"PT1H2M3.5S"`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    if let Ok(seconds) = text.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    let rest = text.strip_prefix("PT").or_else(|| text.strip_prefix("pt"))?;
    let mut total = 0f64;
    let mut number = String::new();
    for c in rest.chars() {
        match c {
            '0'..='9' | '.' => number.push(c),
            'H' | 'h' | 'M' | 'm' | 'S' | 's' => {
                let n: f64 = number.parse().ok()?;
                total += n * match c.to_ascii_uppercase() {
                    'H' => 3600.0,
                    'M' => 60.0,
                    _ => 1.0,
                };
                number.clear();
            }
            _ => return None,
        }
    }
    if !number.is_empty() || rest.is_empty() {
        return None;
    }
    Duration::try_from_secs_f64(total).ok()
}

/// Reads a wrapper array `["<class>", { ... }]` and hands class and object to `select`.
fn wrapped<'de, D, T>(deserializer: D, select: impl Fn(&str, Value) -> Result<T, String>) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct Wrapper;
    impl<'de> Visitor<'de> for Wrapper {
        type Value = (String, Value);
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(r#"["<config class>", { ... }]"#)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let class: String = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
            let fields: Value = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(1, &self))?;
            if seq.next_element::<Value>()?.is_some() {
                return Err(de::Error::invalid_length(3, &self));
            }
            if !fields.is_object() {
                return Err(de::Error::custom(format!("the fields of {class} must be an object, got {fields}")));
            }
            Ok((class, fields))
        }
    }
    let (class, fields) = deserializer.deserialize_seq(Wrapper)?;
    select(&class, fields).map_err(de::Error::custom)
}

/// Reads the fields of one config class, naming the class in errors.
fn class_fields<T: DeserializeOwned>(class: &str, fields: Value) -> Result<T, String> {
    serde_json::from_value(fields).map_err(|e| format!("{class}: {e}"))
}

fn unknown_class(class: &str, known: &[&str]) -> String {
    format!("unknown config class {class}; known: {}", known.join(", "))
}

impl<'de> Deserialize<'de> for NodeDirectorySetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "camelCase")]
        struct Etcd {
            url: String,
            #[serde(default)]
            #[expect(dead_code, reason = "accepted as Kotlin accepts it; unused there too")]
            cleanup_frequency_range: Option<Value>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Nothing {}
        wrapped(deserializer, |class, fields| match class {
            class::ETCD_NODE_DIRECTORY => {
                class_fields::<Etcd>(class, fields).map(|e| NodeDirectorySetting::Etcd { url: e.url })
            }
            class::LOCAL_NODE_DIRECTORY => class_fields::<Nothing>(class, fields).map(|_| NodeDirectorySetting::Local),
            other => Err(unknown_class(other, &[class::ETCD_NODE_DIRECTORY, class::LOCAL_NODE_DIRECTORY])),
        })
    }
}

impl<'de> Deserialize<'de> for AddressableDirectorySetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Etcd {
            url: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Nothing {}
        wrapped(deserializer, |class, fields| match class {
            class::ETCD_ADDRESSABLE_DIRECTORY => {
                class_fields::<Etcd>(class, fields).map(|e| AddressableDirectorySetting::Etcd { url: e.url })
            }
            class::LOCAL_ADDRESSABLE_DIRECTORY => {
                class_fields::<Nothing>(class, fields).map(|_| AddressableDirectorySetting::Local)
            }
            other => {
                Err(unknown_class(other, &[class::ETCD_ADDRESSABLE_DIRECTORY, class::LOCAL_ADDRESSABLE_DIRECTORY]))
            }
        })
    }
}

impl<'de> Deserialize<'de> for MeterRegistrySetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Prometheus {
            url: Option<String>,
            port: Option<Port>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Nothing {}
        wrapped(deserializer, |class, fields| match class {
            class::PROMETHEUS => {
                let p = class_fields::<Prometheus>(class, fields)?;
                let url = p.url.unwrap_or_else(|| "/metrics".to_owned());
                if !url.starts_with('/') {
                    return Err(format!("url must be a path starting with /, got {url:?}"));
                }
                Ok(MeterRegistrySetting::Prometheus { url, port: p.port.map_or(8080, |p| p.0) })
            }
            class::LOCAL_METER_REGISTRY => class_fields::<Nothing>(class, fields).map(|_| MeterRegistrySetting::Local),
            other => Err(unknown_class(other, &[class::PROMETHEUS, class::LOCAL_METER_REGISTRY])),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(value: Value) -> Result<Settings, SettingsError> {
        Settings::from_value(value, "ORBIT_SETTINGS_RAW")
    }

    #[test]
    fn the_helm_and_compose_shapes_read() {
        let settings = read(json!({
            "serverInfo": {"port": "50056", "url": "dns:///orbit:50056"},
            "tickRate": 1, "pipelineRailCount": 32, "pipelineBufferCount": "10000", "acquireShutdownLatch": true,
            "nodeLeaseDuration": {"leaseDuration": 10}, "addressableLeaseDuration": {"leaseDuration": "PT10M"},
            "nodeDirectory": [class::ETCD_NODE_DIRECTORY, {"url": "http://etcd-node:2379"}],
            "addressableDirectory": [class::ETCD_ADDRESSABLE_DIRECTORY, {"url": "http://etcd-addr:2379"}],
            "meterRegistry": [class::PROMETHEUS, {"url": "/metrics", "port": 9090}]
        }))
        .expect("valid");
        assert_eq!(settings.server_info.as_ref().and_then(|s| s.port), Some(Port(50056)));
        assert_eq!(
            settings.addressable_lease_duration.map(|l| l.lease_duration),
            Some(Seconds(Duration::from_secs(600)))
        );
        assert_eq!(settings.node_directory, Some(NodeDirectorySetting::Etcd { url: "http://etcd-node:2379".into() }));
        assert_eq!(
            settings.addressable_directory,
            Some(AddressableDirectorySetting::Etcd { url: Some("http://etcd-addr:2379".into()) })
        );
        assert_eq!(
            settings.meter_registry,
            Some(MeterRegistrySetting::Prometheus { url: "/metrics".into(), port: 9090 })
        );
        let local = read(json!({
            "nodeDirectory": [class::LOCAL_NODE_DIRECTORY, {}],
            "addressableDirectory": [class::LOCAL_ADDRESSABLE_DIRECTORY, {}],
            "meterRegistry": [class::LOCAL_METER_REGISTRY, {}]
        }))
        .expect("valid");
        assert_eq!(local.node_directory, Some(NodeDirectorySetting::Local));
        assert_eq!(local.meter_registry, Some(MeterRegistrySetting::Local));
    }

    #[test]
    fn errors_name_the_field() {
        let unknown = |v: Value| match read(v) {
            Err(SettingsError::UnknownField(path)) => path,
            other => panic!("expected an unknown field, got {other:?}"),
        };
        let invalid = |v: Value| match read(v) {
            Err(SettingsError::Invalid { field, reason }) => format!("{field}: {reason}"),
            other => panic!("expected an invalid field, got {other:?}"),
        };
        assert_eq!(unknown(json!({"tickRat": 1})), "tickRat");
        assert_eq!(unknown(json!({"serverInfo": {"colour": 1}})), "serverInfo.colour");
        assert_eq!(unknown(json!({"nodeLeaseDuration": {"leaseDuration": 1, "renew": 2}})), "nodeLeaseDuration.renew");
        assert_eq!(
            invalid(json!({"serverInfo": {"port": "x"}})),
            "serverInfo.port: expected a port number 0-65535, got \"x\""
        );
        assert_eq!(
            invalid(json!({"tickRate": "soon"})),
            "tickRate: expected seconds or an ISO-8601 duration, got \"soon\""
        );
        assert_eq!(invalid(json!({"tickRate": [1]})), "tickRate: expected a single value, got [1]");
        assert_eq!(
            invalid(json!({"acquireShutdownLatch": "yes"})),
            "acquireShutdownLatch: expected true or false, got \"yes\""
        );
        assert!(
            invalid(json!({"meterRegistry": ["x.Y", {}]}))
                .starts_with("meterRegistry: unknown config class x.Y; known: ")
        );
        assert!(invalid(json!({"meterRegistry": [class::PROMETHEUS]})).starts_with("meterRegistry: invalid length 1"));
        assert_eq!(
            invalid(json!({"nodeDirectory": [class::ETCD_NODE_DIRECTORY, {"uri": "x"}]})),
            format!(
                "nodeDirectory: {}: unknown field `uri`, expected `url` or `cleanupFrequencyRange`",
                class::ETCD_NODE_DIRECTORY
            )
        );
        assert_eq!(
            invalid(json!({"meterRegistry": [class::PROMETHEUS, {"url": "metrics"}]})),
            "meterRegistry: url must be a path starting with /, got \"metrics\""
        );
        assert_eq!(invalid(json!([1])), "ORBIT_SETTINGS_RAW: must be a JSON object");
    }

    #[test]
    fn durations_read_as_jackson_reads_them() {
        assert_eq!(parse_duration("1"), Some(Duration::from_secs(1)));
        assert_eq!(parse_duration("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("PT1H2M3.5S"), Some(Duration::from_millis(3_723_500)));
        assert_eq!(parse_duration("PT"), None);
        assert_eq!(parse_duration("-1"), None);
        assert_eq!(parse_duration("P1D"), None);
    }
}
