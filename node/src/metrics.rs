//! Metrics under the Kotlin server's meter names (`service/Meters.kt`), exposed in the
//! Prometheus text format the way Micrometer's Prometheus registry names them: counters gain
//! `_total`, timers are in seconds (`_seconds_count`, `_seconds_sum`, `_seconds_max`),
//! distribution summaries give `_count`, `_sum`, `_max`, gauges keep their name.
//!
//! The endpoint is a small HTTP/1.1 server (Kotlin: a JDK HTTP server) answering any path
//! under the configured context (default `/metrics`, port 8080) with the scrape.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
        let now = Instant::now();
        let mut out = String::new();
        let timers = [
            ("orbit_addressable_lease_abandon", &self.addressable_lease_abandon),
            ("orbit_addressable_lease_renewal", &self.addressable_lease_renewal),
            ("orbit_health_checks", &self.health_checks),
            ("orbit_placement_timer", &self.placement_timer),
            ("orbit_tick_timer", &self.tick_timer),
        ];
        for (name, timer) in timers {
            if let Some((count, sum, max)) = timer.snapshot_at(now) {
                let seconds = |nanos: u64| nanos as f64 / 1e9;
                summary(&mut out, &format!("{name}_seconds"), count, seconds(sum), seconds(max));
            }
        }
        if let Some((count, sum, max)) = self.message_sizes.snapshot_at(now) {
            summary(&mut out, "orbit_message_sizes", count, sum as f64, max as f64);
        }
        for (name, counter) in [
            ("orbit_slow_ticks", &self.slow_ticks),
            ("orbit_retry_attempts", &self.retry_attempts),
            ("orbit_retry_errors", &self.retry_errors),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name}_total  \n# TYPE {name}_total counter\n{name}_total {:.1}",
                counter.get() as f64
            );
        }
        for (name, value) in [
            ("orbit_connected_clients", gauges.connected_clients),
            ("orbit_connected_nodes", gauges.connected_nodes),
            ("orbit_node_count", gauges.node_count),
            ("orbit_addressable_count", gauges.addressable_count),
            ("orbit_passing_health_checks", gauges.passing_health_checks),
        ] {
            gauge(&mut out, name, value as f64);
        }
        out
    }
}

fn summary(out: &mut String, name: &str, count: u64, sum: f64, max: f64) {
    let _ =
        writeln!(out, "# HELP {name}  \n# TYPE {name} summary\n{name}_count {:.1}\n{name}_sum {sum:?}", count as f64);
    gauge(out, &format!("{name}_max"), max);
}

fn gauge(out: &mut String, name: &str, value: f64) {
    let _ = writeln!(out, "# HELP {name}  \n# TYPE {name} gauge\n{name} {value:?}");
}

/// Serves scrapes on `listener` until `token` is cancelled: any GET under `context` gets
/// `200 text/plain` with the text from `scrape`, anything else a 404.
pub async fn serve<F, Fut>(listener: TcpListener, context: String, scrape: F, token: CancellationToken)
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = String> + Send,
{
    loop {
        let accepted = tokio::select! {
            () = token.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (mut socket, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                warn!(error = %error, "metrics endpoint accept failed");
                continue;
            }
        };
        let scrape = scrape.clone();
        let context = context.clone();
        tokio::spawn(async move {
            let mut buffer = vec![0u8; 8192];
            let read = match tokio::time::timeout(Duration::from_secs(5), socket.read(&mut buffer)).await {
                Ok(Ok(n)) => n,
                _ => return,
            };
            let request = String::from_utf8_lossy(&buffer[..read]);
            let path = request.split_whitespace().nth(1).unwrap_or("");
            let response = if path.starts_with(&context) {
                let body = scrape().await + "\n";
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
            };
            if let Err(error) = socket.write_all(response.as_bytes()).await {
                debug!(%peer, error = %error, "metrics response not sent");
            }
        });
    }
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
        assert!(text.contains("orbit_placement_timer_seconds_count 0.0\n"), "{text}");
        assert!(!text.contains("orbit_health_checks"), "created by the first health check: {text}");
        assert!(!text.contains("orbit_message_sizes"), "created by the first stream: {text}");
        metrics.message_sizes.register();
        metrics.health_checks.record(5);
        let text = metrics.render(Gauges::default());
        assert!(text.contains("orbit_message_sizes_count 0.0\n"), "{text}");
        assert!(text.contains("orbit_health_checks_seconds_count 1.0\n"), "{text}");
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
        assert!(text.contains("orbit_retry_attempts_total 1.0\n"), "{text}");
        assert!(text.contains("orbit_message_sizes_count 2.0\norbit_message_sizes_sum 136.0\n"), "{text}");
        assert!(text.contains("orbit_message_sizes_max 69.0\n"), "{text}");
        assert!(text.contains("orbit_tick_timer_seconds_count 1.0\norbit_tick_timer_seconds_sum 0.002\n"), "{text}");
        assert!(text.contains("orbit_connected_clients 2.0\n"), "{text}");
        assert!(text.contains("# TYPE orbit_slow_ticks_total counter\n"), "{text}");
    }
}
