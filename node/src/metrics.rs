//! Metrics under the Kotlin server's meter names (`service/Meters.kt`), exposed in the
//! Prometheus text format the way Micrometer's Prometheus registry names them: counters gain
//! `_total`, timers are in seconds (`_seconds_count`, `_seconds_sum`, `_seconds_max`),
//! distribution summaries give `_count`, `_sum`, `_max`, gauges keep their name. Beside them,
//! meters only orbit-node has, all named `orbit_node_*` (see [`RUST_ONLY_FAMILIES`]).
//!
//! The Kotlin meters keep Micrometer's semantics here (registered on first use, a maximum over
//! a rotating time window), and are handed to the `prometheus` crate as metric families; the
//! Rust-only meters are that crate's own types. The crate's text encoder writes the scrape
//! (Prometheus text format 0.0.4), and hyper serves it on any path under the configured
//! context (default `/metrics`, port 8080), as Kotlin's JDK HTTP server does.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus::proto::{self, MetricFamily, MetricType};
use prometheus::{Encoder as _, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn increment(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Returns the count.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// How many buckets the time-window maximum keeps, and how often it rotates: Micrometer's
/// Prometheus registry keeps a distribution's maximum over its step (1 minute) in 3 buckets
/// rotated every 20 s, so a value stays visible for 40 to 60 s and then the max falls back.
const MAX_BUCKETS: usize = 3;
const MAX_ROTATION: Duration = Duration::from_secs(20);

/// The maximum of the values recorded in the last 40-60 s (Micrometer's `TimeWindowMax`).
#[derive(Debug)]
struct WindowMax(Mutex<WindowState>);

#[derive(Debug)]
struct WindowState {
    buckets: [u64; MAX_BUCKETS],
    current: usize,
    last_rotation: Instant,
}

impl Default for WindowMax {
    fn default() -> Self {
        Self(Mutex::new(WindowState { buckets: [0; MAX_BUCKETS], current: 0, last_rotation: Instant::now() }))
    }
}

impl WindowState {
    fn rotate(&mut self, now: Instant) {
        let mut elapsed = now.saturating_duration_since(self.last_rotation);
        if elapsed < MAX_ROTATION {
            return;
        }
        if elapsed >= MAX_ROTATION * MAX_BUCKETS as u32 {
            self.buckets = [0; MAX_BUCKETS];
            self.current = 0;
            let into_period =
                Duration::from_nanos(u64::try_from(elapsed.as_nanos() % MAX_ROTATION.as_nanos()).unwrap_or_default());
            self.last_rotation = now - into_period;
            return;
        }
        while elapsed >= MAX_ROTATION {
            self.buckets[self.current] = 0;
            self.current = (self.current + 1) % MAX_BUCKETS;
            elapsed -= MAX_ROTATION;
            self.last_rotation += MAX_ROTATION;
        }
    }
}

impl WindowMax {
    fn record_at(&self, value: u64, now: Instant) {
        let mut state = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.rotate(now);
        for bucket in &mut state.buckets {
            *bucket = (*bucket).max(value);
        }
    }

    fn get_at(&self, now: Instant) -> u64 {
        let mut state = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.rotate(now);
        state.buckets[state.current]
    }
}

/// Count, sum and recent maximum of observed values (a timer in nanoseconds, or a size in
/// bytes). Like a Micrometer meter it is registered (rendered) only from its first use, or
/// from [`Summary::register`].
#[derive(Debug, Default)]
pub struct Summary {
    registered: AtomicBool,
    count: AtomicU64,
    sum: AtomicU64,
    max: WindowMax,
}

impl Summary {
    /// Records one value.
    pub fn record(&self, value: u64) {
        self.record_at(value, Instant::now());
    }

    fn record_at(&self, value: u64, now: Instant) {
        self.registered.store(true, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
        self.max.record_at(value, now);
    }

    /// Records one duration (in nanoseconds).
    pub fn record_duration(&self, duration: Duration) {
        self.record(u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Makes the meter appear in scrapes before anything is recorded (where Kotlin creates
    /// the meter ahead of its first use).
    pub fn register(&self) {
        self.registered.store(true, Ordering::Relaxed);
    }

    fn snapshot_at(&self, now: Instant) -> Option<(u64, u64, u64)> {
        self.registered
            .load(Ordering::Relaxed)
            .then(|| (self.count.load(Ordering::Relaxed), self.sum.load(Ordering::Relaxed), self.max.get_at(now)))
    }
}

/// Gauge values read at scrape time.
#[derive(Debug, Default, Clone, Copy)]
pub struct Gauges {
    /// Incoming streams (clients and peers).
    pub connected_clients: u64,
    /// Outgoing mesh connections.
    pub connected_nodes: u64,
    /// Node directory entries.
    pub node_count: u64,
    /// Addressable directory entries.
    pub addressable_count: u64,
    /// Passing health checks (0-4).
    pub passing_health_checks: u64,
    /// Incoming streams of other servers (part of `connected_clients`).
    pub peer_streams_in: u64,
    /// Messages being processed by the pipeline.
    pub pipeline_in_flight: u64,
}

/// The families only orbit-node exposes; no Kotlin dashboard reads them. (Kotlin's own
/// `orbit_node_count` gauge shares the prefix, so match these by full name.)
pub const RUST_ONLY_FAMILIES: [&str; 7] = [
    "orbit_node_forwarded_messages_total",
    "orbit_node_streams",
    "orbit_node_pipeline_in_flight",
    "orbit_node_pipeline_rejected_total",
    "orbit_node_etcd_request_duration_seconds",
    "orbit_node_tls_handshakes_total",
    "orbit_node_tls_reloads_total",
];

/// The route label of messages handed to a client stream of this server.
const CLIENT_ROUTE: &str = "clients";

/// Latency of etcd requests by operation (`orbit_node_etcd_request_duration_seconds{op}`);
/// cheap to clone, shared by a node's etcd stores.
#[derive(Clone, Debug)]
pub struct EtcdRequests(HistogramVec);

impl EtcdRequests {
    /// A histogram that no registry exposes (a directory opened outside a node).
    pub fn detached() -> Self {
        Self(etcd_histogram())
    }

    /// Records one request of kind `op` that took `elapsed`.
    pub fn observe(&self, op: &str, elapsed: Duration) {
        self.0.with_label_values(&[op]).observe(elapsed.as_secs_f64());
    }
}

fn etcd_histogram() -> HistogramVec {
    let buckets = vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
    HistogramVec::new(
        HistogramOpts::new("orbit_node_etcd_request_duration_seconds", "Duration of etcd requests, by operation")
            .buckets(buckets),
        &["op"],
    )
    .unwrap_or_else(invalid)
}

/// The meters only orbit-node has, on the `prometheus` crate's types.
#[derive(Debug)]
pub struct NodeMeters {
    registry: prometheus::Registry,
    forwarded: IntCounterVec,
    to_clients: IntCounter,
    streams: IntGaugeVec,
    pipeline_in_flight: IntGauge,
    /// Messages answered with an error because the pipeline was full.
    pub pipeline_rejected: IntCounter,
    /// etcd request latency.
    pub etcd_requests: EtcdRequests,
    /// Handshakes on the TLS listener, by outcome (`ok`, `failed`).
    pub tls_handshakes: IntCounterVec,
    /// Reloads of the TLS files, by outcome (`ok`, `failed`).
    pub tls_reloads: IntCounterVec,
}

impl Default for NodeMeters {
    fn default() -> Self {
        let forwarded = IntCounterVec::new(
            Opts::new(
                "orbit_node_forwarded_messages_total",
                "Messages handed to a next hop: route=\"clients\" for this server's clients, else the next server's node key",
            ),
            &["route"],
        )
        .unwrap_or_else(invalid);
        let to_clients = forwarded.with_label_values(&[CLIENT_ROUTE]);
        let streams = IntGaugeVec::new(
            Opts::new("orbit_node_streams", "Open message streams: client, peer_in (accepted), peer_out (dialled)"),
            &["kind"],
        )
        .unwrap_or_else(invalid);
        let pipeline_in_flight =
            IntGauge::new("orbit_node_pipeline_in_flight", "Messages in the pipeline (capacity 10000)")
                .unwrap_or_else(invalid);
        let pipeline_rejected = IntCounter::new(
            "orbit_node_pipeline_rejected_total",
            "Messages answered with an error because the pipeline was full",
        )
        .unwrap_or_else(invalid);
        let etcd_requests = EtcdRequests(etcd_histogram());
        let tls_handshakes = IntCounterVec::new(
            Opts::new("orbit_node_tls_handshakes_total", "Handshakes on the TLS listener, by outcome"),
            &["outcome"],
        )
        .unwrap_or_else(invalid);
        let tls_reloads = IntCounterVec::new(
            Opts::new("orbit_node_tls_reloads_total", "Reloads of the TLS certificate files, by outcome"),
            &["outcome"],
        )
        .unwrap_or_else(invalid);
        // Both outcomes exist from the start, so the first failure is an increase from 0 that
        // `increase()` and `rate()` see, not a new series.
        for outcome in ["ok", "failed"] {
            tls_handshakes.with_label_values(&[outcome]);
            tls_reloads.with_label_values(&[outcome]);
        }
        let registry = prometheus::Registry::new();
        for collector in [
            Box::new(forwarded.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(streams.clone()),
            Box::new(pipeline_in_flight.clone()),
            Box::new(pipeline_rejected.clone()),
            Box::new(etcd_requests.0.clone()),
            Box::new(tls_handshakes.clone()),
            Box::new(tls_reloads.clone()),
        ] {
            registry.register(collector).unwrap_or_else(invalid);
        }
        Self {
            registry,
            forwarded,
            to_clients,
            streams,
            pipeline_in_flight,
            pipeline_rejected,
            etcd_requests,
            tls_handshakes,
            tls_reloads,
        }
    }
}

/// The meters' names and options are constants; the crate refuses only invalid ones.
fn invalid<T>(error: prometheus::Error) -> T {
    unreachable!("static meter options are valid: {error}")
}

impl NodeMeters {
    /// Counts a message handed to a client stream of this server.
    pub fn forwarded_to_client(&self) {
        self.to_clients.inc();
    }

    /// Counts a message handed to the server whose node key is `server`.
    pub fn forwarded_to_server(&self, server: &str) {
        self.forwarded.with_label_values(&[server]).inc();
    }

    /// Drops the per-server series of servers not in `servers` (node keys), so that servers
    /// that left (a restarted server has a new key) do not stay in every scrape for good.
    pub fn retain_servers(&self, servers: &[&str]) {
        use prometheus::core::Collector as _;
        for family in self.forwarded.collect() {
            for metric in family.get_metric() {
                for label in metric.get_label() {
                    let route = label.value();
                    if route != CLIENT_ROUTE && !servers.contains(&route) {
                        let _ = self.forwarded.remove_label_values(&[route]);
                    }
                }
            }
        }
    }
}

/// The node's meters. The timers Kotlin creates when its server starts are registered by
/// [`Metrics::new`]; the health-check timer appears with the first health check and the
/// message sizes with the first stream, as in Kotlin.
#[derive(Debug, Default)]
pub struct Metrics {
    /// `orbit_addressable_lease_abandon`: AbandonLease duration.
    pub addressable_lease_abandon: Summary,
    /// `orbit_addressable_lease_renewal`: addressable RenewLease duration.
    pub addressable_lease_renewal: Summary,
    /// `orbit_health_checks`: health evaluation duration.
    pub health_checks: Summary,
    /// `orbit_placement_timer`: placement duration.
    pub placement_timer: Summary,
    /// `orbit_message_sizes`: serialized size of each inbound message.
    pub message_sizes: Summary,
    /// `orbit_slow_ticks`: ticks longer than the tick rate.
    pub slow_ticks: Counter,
    /// `orbit_tick_timer`: tick duration.
    pub tick_timer: Summary,
    /// `orbit_retry_attempts`: routing retries.
    pub retry_attempts: Counter,
    /// `orbit_retry_errors`: messages turned into delivery errors.
    pub retry_errors: Counter,
    /// The `orbit_node_*` meters.
    pub node: NodeMeters,
}

impl Metrics {
    /// Returns the meters of a starting node.
    pub fn new() -> Self {
        let metrics = Self::default();
        for timer in [
            &metrics.addressable_lease_abandon,
            &metrics.addressable_lease_renewal,
            &metrics.placement_timer,
            &metrics.tick_timer,
        ] {
            timer.register();
        }
        metrics
    }

    /// Returns the Prometheus text scrape, with `gauges` read by the caller.
    pub fn render(&self, gauges: Gauges) -> String {
        let mut families = self.kotlin_families(gauges, Instant::now());
        let node = &self.node;
        let client_streams = gauges.connected_clients.saturating_sub(gauges.peer_streams_in);
        for (kind, value) in
            [("client", client_streams), ("peer_in", gauges.peer_streams_in), ("peer_out", gauges.connected_nodes)]
        {
            node.streams.with_label_values(&[kind]).set(i64::try_from(value).unwrap_or(i64::MAX));
        }
        node.pipeline_in_flight.set(i64::try_from(gauges.pipeline_in_flight).unwrap_or(i64::MAX));
        families.extend(node.registry.gather());
        let mut out = Vec::new();
        if let Err(error) = prometheus::TextEncoder::new().encode(&families, &mut out) {
            warn!(error = %error, "metrics could not be encoded");
        }
        String::from_utf8(out).unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
    }

    /// The Kotlin meters as metric families, named and typed as Micrometer exposes them.
    fn kotlin_families(&self, gauges: Gauges, now: Instant) -> Vec<MetricFamily> {
        let mut families = Vec::new();
        let timers = [
            ("orbit_addressable_lease_abandon", &self.addressable_lease_abandon),
            ("orbit_addressable_lease_renewal", &self.addressable_lease_renewal),
            ("orbit_health_checks", &self.health_checks),
            ("orbit_placement_timer", &self.placement_timer),
            ("orbit_tick_timer", &self.tick_timer),
        ];
        let seconds = |nanos: u64| nanos as f64 / 1e9;
        for (name, timer) in timers {
            if let Some((count, sum, max)) = timer.snapshot_at(now) {
                summary(&mut families, &format!("{name}_seconds"), count, seconds(sum), seconds(max));
            }
        }
        if let Some((count, sum, max)) = self.message_sizes.snapshot_at(now) {
            summary(&mut families, "orbit_message_sizes", count, sum as f64, max as f64);
        }
        for (name, counter) in [
            ("orbit_slow_ticks", &self.slow_ticks),
            ("orbit_retry_attempts", &self.retry_attempts),
            ("orbit_retry_errors", &self.retry_errors),
        ] {
            let mut value = proto::Counter::default();
            value.set_value(counter.get() as f64);
            let mut metric = proto::Metric::default();
            metric.set_counter(value);
            families.push(family(&format!("{name}_total"), MetricType::COUNTER, metric));
        }
        for (name, value) in [
            ("orbit_connected_clients", gauges.connected_clients),
            ("orbit_connected_nodes", gauges.connected_nodes),
            ("orbit_node_count", gauges.node_count),
            ("orbit_addressable_count", gauges.addressable_count),
            ("orbit_passing_health_checks", gauges.passing_health_checks),
        ] {
            families.push(gauge(name, value as f64));
        }
        families
    }
}

fn family(name: &str, kind: MetricType, metric: proto::Metric) -> MetricFamily {
    let mut family = MetricFamily::default();
    family.set_name(name.to_owned());
    family.set_field_type(kind);
    family.set_metric(vec![metric]);
    family
}

/// A Micrometer timer or distribution summary: a summary without quantiles and its `_max` gauge.
fn summary(families: &mut Vec<MetricFamily>, name: &str, count: u64, sum: f64, max: f64) {
    let mut value = proto::Summary::default();
    value.set_sample_count(count);
    value.set_sample_sum(sum);
    let mut metric = proto::Metric::default();
    metric.set_summary(value);
    families.push(family(name, MetricType::SUMMARY, metric));
    families.push(gauge(&format!("{name}_max"), max));
}

fn gauge(name: &str, value: f64) -> MetricFamily {
    let mut metric = proto::Metric::default();
    let mut inner = proto::Gauge::default();
    inner.set_value(value);
    metric.set_gauge(inner);
    family(name, MetricType::GAUGE, metric)
}

/// The scrape's `Content-Type`, as the Kotlin server sends it.
const CONTENT_TYPE: &str = "text/plain";

/// How long a scraper may take to send its request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// What the metrics port answers besides the scrape: probes for an orchestrator, as
/// linkerd2-proxy's admin port and etcd's `/health` offer them.
pub trait Probes: Send + Sync + 'static {
    /// The scrape text.
    fn scrape(&self) -> BoxFuture<'_, String>;
    /// Whether the node is ready for traffic (its gRPC health check says SERVING).
    fn ready(&self) -> BoxFuture<'_, bool>;
}

/// A boxed future (the probes are trait objects).
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// The liveness path: 200 while the process serves HTTP at all.
pub const LIVE_PATH: &str = "/live";
/// The readiness path: 200 when the node is ACTIVE with healthy directories, else 503.
pub const READY_PATH: &str = "/ready";

/// Serves on `listener` until `token` is cancelled: any request for a path under `context`
/// gets `200 text/plain` with the scrape (as Kotlin's endpoint does); [`LIVE_PATH`] and
/// [`READY_PATH`] answer the probes (unless the context is `/`, which takes every path, as in
/// Kotlin); anything else gets a 404.
pub async fn serve(listener: TcpListener, context: String, probes: Arc<dyn Probes>, token: CancellationToken) {
    let context = Arc::new(context);
    while let Some((socket, peer)) = crate::net::accept_paced(&listener, "metrics endpoint", &token).await {
        let (probes, context, token) = (probes.clone(), context.clone(), token.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let (probes, context) = (probes.clone(), context.clone());
                async move { Ok::<_, Infallible>(answer(&request, &context, probes.as_ref()).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(socket), service);
            tokio::select! {
                () = token.cancelled() => {}
                served = connection => if let Err(error) = served {
                    debug!(%peer, error = %error, "metrics connection ended with an error");
                }
            }
        });
    }
}

async fn answer(request: &Request<Incoming>, context: &str, probes: &dyn Probes) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    let (status, body) = if path.starts_with(context) {
        (StatusCode::OK, Bytes::from(probes.scrape().await))
    } else if path == LIVE_PATH {
        (StatusCode::OK, Bytes::from_static(b"live\n"))
    } else if path == READY_PATH {
        if probes.ready().await {
            (StatusCode::OK, Bytes::from_static(b"ready\n"))
        } else {
            (StatusCode::SERVICE_UNAVAILABLE, Bytes::from_static(b"not ready\n"))
        }
    } else {
        (StatusCode::NOT_FOUND, Bytes::new())
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    if status != StatusCode::NOT_FOUND {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(CONTENT_TYPE));
    }
    response
}

/// Shares the meters between the parts of a node.
pub type SharedMetrics = Arc<Metrics>;

/// Records the time from its creation to its drop into a summary.
pub struct Timer<'a> {
    summary: &'a Summary,
    started: std::time::Instant,
}

impl<'a> Timer<'a> {
    /// Starts timing into `summary`.
    pub fn start(summary: &'a Summary) -> Self {
        Self { summary, started: std::time::Instant::now() }
    }
}

impl Drop for Timer<'_> {
    fn drop(&mut self) {
        self.summary.record_duration(self.started.elapsed());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meters_appear_when_kotlin_registers_them() {
        let metrics = Metrics::new();
        let text = metrics.render(Gauges::default());
        assert!(text.contains("orbit_placement_timer_seconds_count 0\n"), "{text}");
        assert!(!text.contains("orbit_health_checks"), "created by the first health check: {text}");
        assert!(!text.contains("orbit_message_sizes"), "created by the first stream: {text}");
        metrics.message_sizes.register();
        metrics.health_checks.record(5);
        let text = metrics.render(Gauges::default());
        assert!(text.contains("orbit_message_sizes_count 0\n"), "{text}");
        assert!(text.contains("orbit_health_checks_seconds_count 1\n"), "{text}");
    }

    #[test]
    fn max_is_kept_for_40_to_60_seconds_as_micrometer_keeps_it() {
        let summary = Summary::default();
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        summary.record_at(9, at(1));
        assert_eq!(summary.snapshot_at(at(1)), Some((1, 9, 9)));
        assert_eq!(summary.snapshot_at(at(39)).map(|s| s.2), Some(9), "still in the window");
        summary.record_at(4, at(41));
        assert_eq!(summary.snapshot_at(at(41)).map(|s| s.2), Some(9), "9 was recorded less than 60 s ago");
        assert_eq!(summary.snapshot_at(at(61)).map(|s| s.2), Some(4), "9 rotated out; 4 is recent");
        assert_eq!(summary.snapshot_at(at(200)).map(|s| s.2), Some(0), "a long quiet spell resets the max");
        assert_eq!(summary.snapshot_at(at(200)).map(|s| (s.0, s.1)), Some((2, 13)), "count and sum never decay");
    }

    #[test]
    fn renders_micrometer_prometheus_names() {
        let metrics = Metrics::new();
        metrics.retry_attempts.increment();
        metrics.message_sizes.record(67);
        metrics.message_sizes.record(69);
        metrics.tick_timer.record_duration(Duration::from_millis(2));
        let text = metrics.render(Gauges { connected_clients: 2, ..Gauges::default() });
        assert!(text.contains("orbit_retry_attempts_total 1\n"), "{text}");
        assert!(text.contains("# TYPE orbit_message_sizes summary\n"), "{text}");
        assert!(text.contains("orbit_message_sizes_sum 136\norbit_message_sizes_count 2\n"), "{text}");
        assert!(text.contains("orbit_message_sizes_max 69\n"), "{text}");
        assert!(text.contains("orbit_tick_timer_seconds_sum 0.002\norbit_tick_timer_seconds_count 1\n"), "{text}");
        assert!(!text.contains("quantile"), "Micrometer timers without percentiles have no quantiles: {text}");
        assert!(text.contains("orbit_connected_clients 2\n"), "{text}");
        assert!(text.contains("# TYPE orbit_slow_ticks_total counter\n"), "{text}");
    }

    #[test]
    fn rust_only_meters_are_named_orbit_node() {
        let metrics = Metrics::new();
        metrics.node.forwarded_to_client();
        metrics.node.forwarded_to_server("abc");
        metrics.node.forwarded_to_server("abc");
        metrics.node.etcd_requests.observe("get", Duration::from_millis(3));
        let text = metrics.render(Gauges {
            connected_clients: 5,
            peer_streams_in: 2,
            connected_nodes: 1,
            pipeline_in_flight: 7,
            ..Gauges::default()
        });
        assert!(text.contains("orbit_node_forwarded_messages_total{route=\"clients\"} 1\n"), "{text}");
        assert!(text.contains("orbit_node_forwarded_messages_total{route=\"abc\"} 2\n"), "{text}");
        assert!(text.contains("orbit_node_tls_reloads_total{outcome=\"failed\"} 0\n"), "{text}");
        assert!(text.contains("orbit_node_streams{kind=\"client\"} 3\n"), "{text}");
        assert!(text.contains("orbit_node_streams{kind=\"peer_in\"} 2\n"), "{text}");
        assert!(text.contains("orbit_node_streams{kind=\"peer_out\"} 1\n"), "{text}");
        assert!(text.contains("orbit_node_pipeline_in_flight 7\n"), "{text}");
        assert!(
            text.contains("orbit_node_etcd_request_duration_seconds_bucket{op=\"get\",le=\"0.005\"} 1\n"),
            "{text}"
        );
        for family in RUST_ONLY_FAMILIES {
            assert!(text.contains(&format!("# TYPE {family} ")), "{family} in {text}");
        }
        metrics.node.forwarded_to_server("gone");
        metrics.node.retain_servers(&["abc"]);
        let text = metrics.render(Gauges::default());
        assert!(!text.contains("route=\"gone\""), "a departed server's series is dropped: {text}");
        assert!(text.contains("route=\"abc\"") && text.contains("route=\"clients\""), "{text}");
    }
}
