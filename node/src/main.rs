//! `orbit-node`: parses configuration, sets up tracing, runs the node until SIGTERM or
//! SIGINT, and maps errors to exit codes (64: bad configuration, 1: runtime failure).

use std::process::ExitCode;

use orbit_node::config::{Config, ProcessEnv};
use tracing::error;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ORBIT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match Config::from_env(&ProcessEnv, &args) {
        Ok(config) => config,
        Err(e) => {
            error!(error = %e, "invalid configuration");
            eprintln!("orbit-node: {e}");
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
    // Signal handlers are installed before anything binds, so an early SIGTERM is a clean stop.
    let shutdown = match runtime.block_on(async { ShutdownSignal::install() }) {
        Ok(shutdown) => shutdown,
        Err(e) => {
            eprintln!("orbit-node: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(orbit_node::run(config, shutdown.wait())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!(error = %orbit_node::error_chain(&e), "node failed");
            eprintln!("orbit-node: {e}");
            ExitCode::FAILURE
        }
    }
}

/// SIGTERM (what Docker sends) and SIGINT, registered up front.
struct ShutdownSignal {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self { terminate: signal(SignalKind::terminate())?, interrupt: signal(SignalKind::interrupt())? })
    }

    /// Completes on the first SIGTERM or SIGINT.
    async fn wait(mut self) {
        tokio::select! {
            _ = self.terminate.recv() => {}
            _ = self.interrupt.recv() => {}
        }
    }
}
