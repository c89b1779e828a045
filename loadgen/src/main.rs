//! `orbit-load`: a load generator for Orbit 2 servers, orbit-node or the Kotlin orbit-server.
//!
//! Callers send `EchoActor.echoString(<payload>)` to the actors `bench-0` .. `bench-<n-1>` of
//! the interop harness's `orbit.harness.actors.EchoActor` type, hosted by this process
//! (`--hosts`, written in Rust) or by Kotlin harness clients (`--hosts 0`). Two ways to drive
//! the load:
//!
//! * closed loop (`--in-flight N`): N calls in flight at all times, each sent when one ends;
//! * open loop (`--rate R`): calls sent at a fixed rate whatever happens to earlier ones, with
//!   latency measured from the time a call was due, so a stall shows in the figures instead of
//!   slowing the load down (no coordinated omission).
//!
//! `--mode client` uses the project's client runtime (`orbit-client`) for callers and hosts;
//! `--mode raw` uses bare streams (see `raw`), which cost almost nothing, to measure the
//! server alone; `--mode echo` runs raw callers against a bare echo server in this process,
//! the ceiling for any server on the machine. Latencies go into HDR histograms; the result is a table on stdout and, with
//! `--json`, a JSON document. A benchmark tool: it never judges speed, but it fails (exit 1)
//! when a call is answered wrongly or the counts do not add up.

mod load;
mod raw;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// The highest open-loop rate (calls per second) the schedule can keep.
const MAX_RATE: f64 = 10_000_000.0;

/// The harness actor type every load targets.
pub const ECHO_ACTOR: &str = "orbit.harness.actors.EchoActor";

/// How callers and hosts talk to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The Rust client runtime, `orbit-client`.
    Client,
    /// Bare streams built from the generated protocol types.
    Raw,
    /// Raw callers against the bare echo server of `--serve-echo` at `--server` (or, without
    /// `--server`, one in this process): the limit a server with no work at all would set on
    /// this machine.
    Echo,
}

/// Load generator for Orbit 2 servers (orbit-node or the Kotlin orbit-server).
#[derive(Debug, Clone, Parser)]
#[command(name = "orbit-load", version)]
pub struct Options {
    /// The server the callers attach to (host:port); not needed with --mode echo.
    #[arg(long, default_value = "")]
    pub server: String,
    /// The server the hosting clients attach to; a different one makes every call cross a
    /// server mesh. Defaults to --server.
    #[arg(long)]
    pub host_server: Option<String>,
    /// The application namespace.
    #[arg(long, default_value = "bench")]
    pub namespace: String,
    /// Client runtime or raw streams.
    #[arg(long, value_enum, default_value_t = Mode::Client)]
    pub mode: Mode,
    /// Hosting clients started here; 0 when the actors are hosted by other processes.
    #[arg(long, default_value_t = 1)]
    pub hosts: usize,
    /// Calling clients (each with its own stream).
    #[arg(long, default_value_t = 1)]
    pub callers: usize,
    /// Distinct actors called, round robin.
    #[arg(long, default_value_t = 1000)]
    pub actors: usize,
    /// Closed loop: calls kept in flight, spread over the callers.
    #[arg(long, default_value_t = 64)]
    pub in_flight: usize,
    /// Open loop: calls per second, sent on schedule (replaces --in-flight).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Length of the measured phase, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub duration_seconds: f64,
    /// Calls before the measured phase (activation, JIT warm-up), in seconds.
    #[arg(long, default_value_t = 3.0)]
    pub warmup_seconds: f64,
    /// Length of the echoed string, in bytes.
    #[arg(long, default_value_t = 16)]
    pub payload_bytes: usize,
    /// How long one call may wait for its answer, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub timeout_seconds: f64,
    /// Where to write the result as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// No progress line on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Only serve the bare echo server on this loopback port, until stopped (for `--mode echo`
    /// from another process).
    #[arg(long, value_name = "PORT")]
    pub serve_echo: Option<u16>,
}

impl Options {
    fn check(&self) -> Result<(), String> {
        let positive = |name: &str, value: f64| {
            if value.is_finite() && value > 0.0 { Ok(()) } else { Err(format!("{name} must be a positive number")) }
        };
        positive("--duration-seconds", self.duration_seconds)?;
        positive("--timeout-seconds", self.timeout_seconds)?;
        if !(self.warmup_seconds.is_finite() && self.warmup_seconds >= 0.0) {
            return Err("--warmup-seconds must be 0 or more".to_owned());
        }
        if let Some(rate) = self.rate {
            positive("--rate", rate)?;
            if rate > MAX_RATE {
                return Err(format!("--rate can be at most {MAX_RATE}"));
            }
        }
        if self.server.is_empty() && self.mode != Mode::Echo && self.serve_echo.is_none() {
            return Err("--server is required (except with --mode echo)".to_owned());
        }
        if self.callers == 0 || self.actors == 0 || self.in_flight == 0 {
            return Err("--callers, --actors and --in-flight must be at least 1".to_owned());
        }
        Ok(())
    }

    /// The warm-up as a duration.
    pub fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup_seconds)
    }

    /// The measured phase as a duration.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration_seconds)
    }

    /// The per-call timeout as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout_seconds)
    }
}

fn main() -> ExitCode {
    let options = Options::parse();
    if let Err(problem) = options.check() {
        eprintln!("orbit-load: {problem}");
        return ExitCode::from(64);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ORBIT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("orbit-load: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(port) = options.serve_echo {
        return match runtime.block_on(raw::serve_echo_on(port)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("orbit-load: {error:#}");
                ExitCode::FAILURE
            }
        };
    }
    match runtime.block_on(load::run(&options)) {
        Ok(result) => {
            println!("{}", result.table());
            if let Some(path) = &options.json {
                let written = serde_json::to_string_pretty(&result)
                    .map_err(std::io::Error::other)
                    .and_then(|text| std::fs::write(path, text + "\n"));
                if let Err(error) = written {
                    eprintln!("orbit-load: cannot write {}: {error}", path.display());
                    return ExitCode::FAILURE;
                }
            }
            match result.problem() {
                None => ExitCode::SUCCESS,
                Some(problem) => {
                    eprintln!("orbit-load: {problem}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(error) => {
            eprintln!("orbit-load: {error:#}");
            ExitCode::FAILURE
        }
    }
}
