//! `orbit-node`: parses the command line and configuration, sets up logs and traces, runs the node
//! until SIGTERM or SIGINT (or checks the configuration), and maps errors to exit codes (64:
//! bad command line or configuration, 1: runtime failure).

use std::process::ExitCode;

use clap::Parser as _;
use orbit_node::config::cli::{Cli, Command};
use orbit_node::config::{Config, ProcessEnv, check};
use orbit_node::telemetry::Telemetry;
use tracing::error;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print to stdout and succeed; anything else is a usage error.
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(64) } else { ExitCode::SUCCESS };
        }
    };
    let config = match Config::from_flags(&ProcessEnv, &cli.flags) {
        Ok(config) => config,
        Err(e) => {
            // Logging is configured by the configuration, so this goes to stderr as it is.
            if matches!(cli.command, Some(Command::CheckConfig)) {
                println!("configuration error: {e}");
            } else {
                eprintln!("orbit-node: invalid configuration: {e}");
            }
            return ExitCode::from(64);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("orbit-node: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let checking = matches!(cli.command, Some(Command::CheckConfig));
    // The trace exporter runs on the runtime; a configuration check exports nothing.
    let telemetry = {
        let _runtime = runtime.enter();
        let mut settings = config.telemetry.clone();
        if checking {
            settings.otlp_endpoint = None;
        }
        match Telemetry::install(&settings, &config.advertise_url) {
            Ok(telemetry) => telemetry,
            Err(e) => {
                eprintln!("orbit-node: {e}");
                return ExitCode::from(64);
            }
        }
    };
    if checking {
        let code = runtime.block_on(check_config(&config));
        telemetry.shutdown();
        return code;
    }
    // Signal handlers are installed before anything binds, so an early SIGTERM is a clean stop.
    let shutdown = match runtime.block_on(async { ShutdownSignal::install() }) {
        Ok(shutdown) => shutdown,
        Err(e) => {
            eprintln!("orbit-node: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match runtime.block_on(orbit_node::run(config, shutdown.wait())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!(error = %orbit_node::error_chain(&e), "node failed");
            eprintln!("orbit-node: {e}");
            // Unusable TLS files are a configuration error, as check-config reports them.
            if matches!(e, orbit_node::NodeError::Tls(_)) { ExitCode::from(64) } else { ExitCode::FAILURE }
        }
    };
    // Sends the spans still buffered, while the runtime that carries the exporter still runs.
    telemetry.shutdown();
    code
}

/// Prints the effective configuration and the checks; exit 64 if start-up would fail.
async fn check_config(config: &Config) -> ExitCode {
    println!("orbit-node {}: effective configuration", orbit_node::config::cli::VERSION);
    for (setting, value) in check::describe(config) {
        println!("  {setting:<24} {value}");
    }
    println!("checks:");
    let checks = check::check(config).await;
    for check in &checks {
        let verdict = match (check.passed, check.fatal) {
            (true, _) => "ok     ",
            (false, true) => "ERROR  ",
            (false, false) => "warning",
        };
        println!("  {verdict} {:<22} {}", check.field, check.finding);
    }
    if checks.iter().any(|c| c.fatal && !c.passed) {
        println!("the node would not start");
        ExitCode::from(64)
    } else {
        println!("the node would start");
        ExitCode::SUCCESS
    }
}

/// SIGTERM (what Docker sends) and SIGINT, registered up front; and SIGHUP, so that it never
/// kills the node (its default action) before or without the TLS listener that reloads on it.
struct ShutdownSignal {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// Completes on the first SIGTERM or SIGINT. SIGHUP is logged; the TLS listener (when
    /// configured) reloads its files on it.
    async fn wait(mut self) {
        loop {
            tokio::select! {
                _ = self.terminate.recv() => return,
                _ = self.interrupt.recv() => return,
                _ = self.hangup.recv() => tracing::info!("SIGHUP received (it reloads the TLS files, if any)"),
            }
        }
    }
}
