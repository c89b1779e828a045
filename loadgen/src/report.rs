//! The result of a run: a JSON document and a table.

use serde::Serialize;

use crate::load::Summary;
use crate::{Mode, Options};

/// How the load was driven.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "loop", rename_all = "lowercase")]
pub enum Loop {
    /// A fixed number of calls in flight.
    Closed {
        /// Calls kept in flight.
        in_flight: usize,
    },
    /// A fixed arrival rate.
    Open {
        /// Calls per second.
        rate: f64,
    },
}

/// Latency percentiles of the successful measured calls, in microseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// The slowest.
    pub max: u64,
    /// The mean.
    pub mean: f64,
}

/// Everything a run measured; serialized as the `--json` document.
#[derive(Debug, Clone, Serialize)]
pub struct LoadResult {
    /// Client runtime or raw streams.
    pub mode: Mode,
    /// Closed or open loop, with its parameter.
    #[serde(flatten)]
    pub shape: Loop,
    /// The callers' server.
    pub server: String,
    /// The hosts' server.
    pub host_server: String,
    /// Hosting clients started by this process.
    pub hosts: usize,
    /// Calling clients.
    pub callers: usize,
    /// Distinct actors called.
    pub actors: usize,
    /// Length of the echoed string.
    pub payload_bytes: usize,
    /// Length of the measured phase (until its last call ended).
    pub seconds: f64,
    /// Calls due in the measured phase.
    pub calls: u64,
    /// Of those, answered correctly.
    pub ok: u64,
    /// Of those, answered with an error (or not within the timeout).
    pub errors: u64,
    /// Of those, answered with something other than the payload.
    pub wrong: u64,
    /// Calls (warm-up included) still without an answer when the run ended.
    pub unanswered: u64,
    /// Calls made during the warm-up.
    pub warmup_calls: u64,
    /// Correct answers per second of the measured phase.
    pub calls_per_second: f64,
    /// Latencies of the correct answers, in microseconds.
    pub latency_us: Latency,
    /// A few of the errors seen.
    pub error_samples: Vec<String>,
}

impl LoadResult {
    /// Builds the result of a run of `options`.
    pub fn new(options: &Options, shape: Loop, summary: &Summary) -> Self {
        let h = &summary.histogram;
        let at = |q: f64| if h.is_empty() { 0 } else { h.value_at_quantile(q) };
        Self {
            mode: options.mode,
            shape,
            server: options.server.clone(),
            host_server: options.host_server.clone().unwrap_or_else(|| options.server.clone()),
            hosts: options.hosts,
            callers: options.callers,
            actors: options.actors,
            payload_bytes: options.payload_bytes,
            seconds: summary.seconds,
            calls: summary.sent,
            ok: summary.ok,
            errors: summary.errors,
            wrong: summary.wrong,
            unanswered: summary.unanswered,
            warmup_calls: summary.warmup_calls,
            calls_per_second: if summary.seconds > 0.0 { summary.ok as f64 / summary.seconds } else { 0.0 },
            latency_us: Latency {
                p50: at(0.5),
                p90: at(0.9),
                p99: at(0.99),
                p999: at(0.999),
                max: if h.is_empty() { 0 } else { h.max() },
                mean: if h.is_empty() { 0.0 } else { h.mean() },
            },
            error_samples: summary.error_samples.clone(),
        }
    }

    /// What makes the run's figures untrustworthy: a wrong answer, a call never answered, or
    /// counts that do not add up.
    pub fn problem(&self) -> Option<String> {
        if self.wrong > 0 {
            return Some(format!("{} calls were answered with something other than their payload", self.wrong));
        }
        if self.ok == 0 {
            return Some(format!("no call succeeded ({} errors)", self.errors));
        }
        if self.unanswered > 0 {
            return Some(format!("{} calls were never answered", self.unanswered));
        }
        if self.ok + self.errors + self.wrong != self.calls {
            return Some(format!(
                "the counts do not add up: {} calls, {} ok, {} errors, {} wrong",
                self.calls, self.ok, self.errors, self.wrong
            ));
        }
        None
    }

    /// A Markdown table of the run.
    pub fn table(&self) -> String {
        let load = match self.shape {
            Loop::Closed { in_flight } => format!("closed loop, {in_flight} in flight"),
            Loop::Open { rate } => format!("open loop, {rate:.0} calls/s"),
        };
        let mode = match self.mode {
            Mode::Client => "client runtime",
            Mode::Raw => "raw streams",
            Mode::Echo => "raw streams to an in-process echo server",
        };
        let l = &self.latency_us;
        let rows = [
            ("load", load),
            ("mode", format!("{mode}, {} callers, {} hosts, {} actors", self.callers, self.hosts, self.actors)),
            ("servers", format!("callers {}, hosts {}", self.server, self.host_server)),
            ("measured", format!("{:.1} s, {} calls ({} in the warm-up)", self.seconds, self.calls, self.warmup_calls)),
            (
                "answers",
                format!("{} ok, {} errors, {} wrong, {} unanswered", self.ok, self.errors, self.wrong, self.unanswered),
            ),
            ("calls/s", format!("{:.0}", self.calls_per_second)),
            (
                "latency",
                format!(
                    "p50 {} µs, p90 {} µs, p99 {} µs, p99.9 {} µs, max {} µs, mean {:.0} µs",
                    l.p50, l.p90, l.p99, l.p999, l.max, l.mean
                ),
            ),
        ];
        let mut table = String::from("| orbit-load | |\n|---|---|\n");
        for (name, value) in rows {
            table.push_str(&format!("| {name} | {value} |\n"));
        }
        for sample in &self.error_samples {
            table.push_str(&format!("| error | {sample} |\n"));
        }
        table.trim_end().to_owned()
    }
}
