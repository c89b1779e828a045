//! The two kinds of Orbit server a scenario runs against: the real Kotlin `orbit-server`
//! (through the harness) and our `orbit-node` binary. A scenario is written once and run
//! against each; both runs must observe the same results.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

use crate::jvm::HarnessProcess;
use crate::ports::free_port;

/// Which implementation serves the clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// The real Kotlin orbit-server, started by the harness.
    Kotlin,
    /// Our Rust `orbit-node`.
    Rust,
}

impl ServerKind {
    /// Returns a short name for logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Kotlin => "kotlin",
            Self::Rust => "rust",
        }
    }
}

/// A running server of either kind; dropping it kills the process.
pub struct ServerProcess {
    /// The `host:port` clients dial.
    pub endpoint: String,
    inner: Inner,
}

enum Inner {
    Kotlin(HarnessProcess),
    Rust(Child),
}

/// Returns the `orbit-node` binary: `$ORBIT_NODE_BIN` or `target/debug/orbit-node`.
pub fn orbit_node_binary() -> anyhow::Result<PathBuf> {
    let binary = match std::env::var_os("ORBIT_NODE_BIN") {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/orbit-node"),
    };
    if !binary.is_file() {
        bail!("{} is missing: build it with `cargo build -p orbit-node`", binary.display());
    }
    Ok(binary)
}

impl ServerProcess {
    /// Starts a server of `kind` on a free loopback port with extra `args`
    /// (`--node-lease-seconds`, `--addressable-lease-seconds` are understood by both).
    pub async fn start(kind: ServerKind, logs: &Path, args: &[&str]) -> anyhow::Result<Self> {
        let port = free_port()?;
        let endpoint = format!("127.0.0.1:{port}");
        let port_text = port.to_string();
        match kind {
            ServerKind::Kotlin => {
                let mut all = vec!["server", "--port", &port_text, "--url", &endpoint];
                all.extend_from_slice(args);
                let (process, _ready) = HarnessProcess::start("kotlin-server", logs, &all).await?;
                Ok(Self { endpoint, inner: Inner::Kotlin(process) })
            }
            ServerKind::Rust => {
                let log = std::fs::File::create(logs.join("rust-server.log"))?;
                let child = Command::new(orbit_node_binary()?)
                    .args(["--port", &port_text, "--listen", "127.0.0.1", "--url", &endpoint])
                    .args(["--metrics-port", &free_port()?.to_string()])
                    .args(args)
                    .env("ORBIT_LOG", "info,orbit_node=debug")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::from(log))
                    .kill_on_drop(true)
                    .spawn()
                    .context("starting orbit-node")?;
                wait_for_port(port, Duration::from_secs(30)).await?;
                Ok(Self { endpoint, inner: Inner::Rust(child) })
            }
        }
    }

    /// Stops the server with SIGTERM and waits up to `grace`.
    pub async fn terminate(&mut self, grace: Duration) -> anyhow::Result<()> {
        match &mut self.inner {
            Inner::Kotlin(process) => process.terminate(grace).await,
            Inner::Rust(child) => {
                if let Some(pid) = child.id() {
                    let _ = std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
                }
                if tokio::time::timeout(grace, child.wait()).await.is_err() {
                    child.kill().await?;
                }
                Ok(())
            }
        }
    }
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`.
async fn wait_for_port(port: u16, limit: Duration) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("nothing listens on port {port} after {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
