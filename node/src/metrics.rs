//! Metrics under the Kotlin server's meter names (`service/Meters.kt`), exposed in the
//! Prometheus text format the way Micrometer's Prometheus registry names them: counters gain
//! `_total`, timers are in seconds (`_seconds_count`, `_seconds_sum`, `_seconds_max`),
//! distribution summaries give `_count`, `_sum`, `_max`, gauges keep their name.
//!
//! The endpoint is a small HTTP/1.1 server (Kotlin: a JDK HTTP server) answering any path
//! under the configured context (default `/metrics`, port 8080) with the scrape.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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

/// Count, sum and maximum of observed values (a timer in nanoseconds, or a size in bytes).
#[derive(Debug, Default)]
pub struct Summary {
    count: AtomicU64,
    sum: AtomicU64,
    max: AtomicU64,
}

impl Summary {
    /// Records one value.
    pub fn record(&self, value: u64) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
        self.max.fetch_max(value, Ordering::Relaxed);
    }

    /// Records one duration (in nanoseconds).
    pub fn record_duration(&self, duration: Duration) {
        self.record(u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX));
    }

    fn snapshot(&self) -> (u64, u64, u64) {
        (self.count.load(Ordering::Relaxed), self.sum.load(Ordering::Relaxed), self.max.load(Ordering::Relaxed))
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

/// The node's meters.
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
    /// Returns the Prometheus text scrape, with `gauges` read by the caller.
    pub fn render(&self, gauges: Gauges) -> String {
        let mut out = String::new();
        let timers = [
            ("orbit_addressable_lease_abandon", &self.addressable_lease_abandon),
            ("orbit_addressable_lease_renewal", &self.addressable_lease_renewal),
            ("orbit_health_checks", &self.health_checks),
            ("orbit_placement_timer", &self.placement_timer),
            ("orbit_tick_timer", &self.tick_timer),
        ];
        for (name, timer) in timers {
            let (count, sum, max) = timer.snapshot();
            let seconds = |nanos: u64| nanos as f64 / 1e9;
            summary(&mut out, &format!("{name}_seconds"), count, seconds(sum), seconds(max));
        }
        let (count, sum, max) = self.message_sizes.snapshot();
        summary(&mut out, "orbit_message_sizes", count, sum as f64, max as f64);
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
    fn renders_micrometer_prometheus_names() {
        let metrics = Metrics::default();
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
