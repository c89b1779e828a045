//! A trace collector for tests: the OTLP/gRPC `TraceService` (the OpenTelemetry project's own
//! protocol definitions) on a free loopback port, keeping every span it is sent.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use tokio::task::JoinHandle;

/// One exported span, flattened.
#[derive(Debug, Clone)]
pub struct ExportedSpan {
    /// The span name (`receive`, `place`, ...).
    pub name: String,
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// 16 hex digits, empty for a root span.
    pub parent_span_id: String,
    /// The span's attributes, values as text.
    pub attributes: BTreeMap<String, String>,
    /// The exporting process's `service.instance.id`.
    pub instance: String,
}

impl ExportedSpan {
    /// The attribute `key`, or "".
    pub fn attribute(&self, key: &str) -> &str {
        self.attributes.get(key).map_or("", String::as_str)
    }
}

#[derive(Default)]
struct Store(Mutex<Vec<ExportedSpan>>);

/// The service, sharing the store with its [`Collector`].
struct Receiver(Arc<Store>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = Vec::new();
        for resource_spans in request.into_inner().resource_spans {
            let resource = resource_spans.resource.map(|r| r.attributes).unwrap_or_default();
            let instance = resource
                .iter()
                .find(|kv| kv.key == "service.instance.id")
                .map(|kv| text(kv.value.as_ref()))
                .unwrap_or_default();
            for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
                spans.push(ExportedSpan {
                    name: span.name,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    attributes: span.attributes.iter().map(|kv| (kv.key.clone(), text(kv.value.as_ref()))).collect(),
                    instance: instance.clone(),
                });
            }
        }
        self.0.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(spans);
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

/// A running collector; it stops when dropped.
pub struct Collector {
    /// `http://127.0.0.1:<port>`, for `--otlp-endpoint`.
    pub endpoint: String,
    store: Arc<Store>,
    server: JoinHandle<()>,
}

impl Collector {
    /// Starts a collector on a free loopback port.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let store = Arc::new(Store::default());
        let service = TraceServiceServer::new(Receiver(store.clone()));
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        let server = tokio::spawn(async move {
            if let Err(error) =
                tonic::transport::Server::builder().add_service(service).serve_with_incoming(incoming).await
            {
                eprintln!("OTLP collector failed: {error}");
            }
        });
        Ok(Self { endpoint, store, server })
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ExportedSpan> {
        self.store.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.server.abort();
    }
}
