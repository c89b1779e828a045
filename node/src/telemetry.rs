//! Logs and traces: the log lines (text or JSON, filtered by `ORBIT_LOG` / `--log-filter`) and, when a collector
//! is configured, the export of the per-hop spans over OTLP/gRPC.
//!
//! Every message a node handles gets one span per step (target [`HOPS`], level DEBUG):
//! `receive` for a request, `reply` for a response or an error, and inside it `place` (which
//! server hosts the actor) and `forward` (to another server) or `deliver` (to a client
//! stream). Their fields carry the message id, the actor reference and the node ids.
//!
//! Orbit 2 messages carry no headers, so no trace context can travel with a message, and a
//! trace cannot cross a Kotlin hop. Between orbit-nodes the hops of one invocation are linked
//! anyway: each node derives the trace id from what every hop sees alike, the node id of the
//! caller and the message id, so the spans of a request and of its reply, on every Rust server
//! they cross, land in one trace. A Kotlin server in the path shows as a gap.
//!
//! With no collector configured, the hop spans are disabled at their call sites (DEBUG is
//! below the default log filter) and cost nothing measurable; a log filter that enables DEBUG
//! for `orbit_node` enables them for the log lines too. `OTEL_TRACES_SAMPLER_ARG` (0 to 1)
//! keeps that share of invocations, decided from the trace id so every node agrees.

use std::time::Duration;

use compat_proto::NodeId;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::{LogFormat, TelemetryConfig};

/// The target of the per-hop spans.
pub const HOPS: &str = "orbit_node::hops";

/// How long the exporter may take to send what is buffered when the node stops.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// The installed logging and tracing; [`Telemetry::shutdown`] flushes the spans.
#[must_use = "dropping the handle without shutdown loses buffered spans"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Installs the global subscriber: log lines on stderr in `config.log_format`, and the span
    /// export when `config.otlp_endpoint` is set (call it inside a tokio runtime then: the
    /// gRPC exporter lives on it). `instance` names this node in the exported resource.
    pub fn install(config: &TelemetryConfig, instance: &str) -> Result<Self, String> {
        // The filter was checked with the configuration; `info` is the default.
        let filter = EnvFilter::try_new(config.log_filter.as_deref().unwrap_or("info"))
            .map_err(|error| format!("invalid log filter: {error}"))?;
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let lines = match config.log_format {
            LogFormat::Text => tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(ansi).boxed(),
            LogFormat::Json => tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .with_writer(std::io::stderr)
                .boxed(),
        }
        .with_filter(filter);

        let provider = match &config.otlp_endpoint {
            Some(endpoint) => Some(provider(endpoint, instance)?),
            None => None,
        };
        let export = provider.as_ref().map(|provider| {
            use opentelemetry::trace::TracerProvider as _;
            // The hop spans, and what the node logs at INFO or above inside them (as span events).
            let spans = Targets::new()
                .with_target(HOPS, LevelFilter::DEBUG)
                .with_target("orbit_node", LevelFilter::INFO)
                .with_default(LevelFilter::OFF);
            tracing_opentelemetry::layer().with_tracer(provider.tracer("orbit-node")).with_filter(spans)
        });
        tracing_subscriber::registry()
            .with(lines)
            .with(export)
            .try_init()
            .map_err(|error| format!("cannot install the log subscriber: {error}"))?;
        Ok(Self { provider })
    }

    /// Sends the buffered spans (up to 5 s) and stops the exporter.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(error) = provider.shutdown_with_timeout(FLUSH_TIMEOUT)
        {
            eprintln!("orbit-node: spans not all exported at shutdown: {error}");
        }
    }
}

fn provider(endpoint: &str, instance: &str) -> Result<SdkTracerProvider, String> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(|error| format!("cannot set up the OTLP exporter for {endpoint}: {error}"))?;
    let mut resource = Resource::builder().with_attribute(KeyValue::new("service.instance.id", instance.to_owned()));
    // OTEL_SERVICE_NAME or a service.name in OTEL_RESOURCE_ATTRIBUTES, when set, names the
    // service (the SDK reads them); orbit-node otherwise.
    let named_by_environment = std::env::var_os("OTEL_SERVICE_NAME").is_some()
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|a| a.contains("service.name="));
    if !named_by_environment {
        resource = resource.with_service_name("orbit-node");
    }
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource.build()).build())
}

/// Puts `span` (a hop span) into the trace of the invocation that `requester` (the caller's
/// node id) started with `message_id`: the same trace id on every orbit-node it crosses.
pub fn link(span: &Span, requester: &NodeId, message_id: i64) {
    if span.is_disabled() {
        return;
    }
    let (trace, parent) = ids(requester, message_id);
    let trace_id = TraceId::from_bytes(trace.to_be_bytes());
    // Every node decides alike from the trace id alone, so a trace is kept or dropped whole.
    let flags = if sampled(trace) { TraceFlags::SAMPLED } else { TraceFlags::default() };
    let context = SpanContext::new(trace_id, SpanId::from_bytes(parent.to_be_bytes()), flags, true, TraceState::NONE);
    // A span the exporter does not record (no collector) has nothing to link.
    let _ = span.set_parent(Context::new().with_remote_span_context(context));
}

/// The share of invocations traced: `OTEL_TRACES_SAMPLER_ARG` (0 to 1), read once; 1 when unset.
static SAMPLE_RATIO: std::sync::OnceLock<f64> = std::sync::OnceLock::new();

fn sample_ratio() -> f64 {
    *SAMPLE_RATIO.get_or_init(|| {
        std::env::var("OTEL_TRACES_SAMPLER_ARG")
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|r| (0.0..=1.0).contains(r))
            .unwrap_or(1.0)
    })
}

/// Whether the trace `trace` is kept at the configured ratio (the low 64 bits of the id against
/// the ratio, as OpenTelemetry's trace-id-ratio sampler compares them).
fn sampled(trace: u128) -> bool {
    let ratio = sample_ratio();
    if ratio >= 1.0 {
        return true;
    }
    let low = (trace & u128::from(u64::MAX)) as u64;
    (low >> 1) < ((ratio * (1u64 << 63) as f64) as u64)
}

/// The trace id [`link`] gives the invocation (`requester`, `message_id`), as 32 hex digits.
pub fn trace_id_of(requester: &NodeId, message_id: i64) -> String {
    format!("{:032x}", ids(requester, message_id).0)
}

/// The trace id and the (remote, never exported) parent span id of an invocation; both
/// non-zero, as OpenTelemetry requires.
fn ids(requester: &NodeId, message_id: i64) -> (u128, u64) {
    let seed = format!("{}\u{0}{}\u{0}{message_id}", requester.namespace, requester.key);
    let high = fnv1a(0x6f72_6269_7474_7261, seed.as_bytes());
    let low = fnv1a(0x6365_2d69_642d_3031, seed.as_bytes());
    let parent = fnv1a(0x7061_7265_6e74_2d31, seed.as_bytes()) | 1;
    ((u128::from(high) << 64) | u128::from(low) | 1, parent)
}

/// FNV-1a (64 bits) from `seed`: stable across builds and machines, unlike std's hasher.
fn fnv1a(seed: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(seed ^ 0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_depend_on_the_caller_and_the_message_only() {
        let caller = NodeId::new("client-1", "app");
        assert_eq!(trace_id_of(&caller, 7), trace_id_of(&NodeId::new("client-1", "app"), 7));
        assert_ne!(trace_id_of(&caller, 7), trace_id_of(&caller, 8));
        assert_ne!(trace_id_of(&caller, 7), trace_id_of(&NodeId::new("client-2", "app"), 7));
        assert_ne!(trace_id_of(&caller, 7), trace_id_of(&NodeId::new("client-1", "other"), 7));
        assert_eq!(trace_id_of(&caller, 7).len(), 32);
    }
}
