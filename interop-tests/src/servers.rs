//! The two kinds of Orbit server a scenario runs against: the real Kotlin `orbit-server`
//! and our `orbit-node` binary. A scenario is written once and run against each; both runs
//! must observe the same results.
//!
//! Two ways to start one:
//! * [`ServerProcess::start`]: the harness's `server` command (an `OrbitServer` built in code,
//!   no launcher delay) or orbit-node with flags; for scenarios about the protocol.
//! * [`ServerProcess::launch`]: the real launcher, `orbit.application.AppKt` from
//!   `orbit-application` (as the Kotlin image runs it), or orbit-node, both configured only
//!   through the environment (`ORBIT_PORT`, `ORBIT_URL`, `ORBIT_SETTINGS_RAW`/`ORBIT_SETTINGS`);
//!   for scenarios about configuration and operations.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

use compat_proto::pb;
use orbit_test_support::free_port;

use crate::jvm::{HarnessProcess, READY_TIMEOUT, harness_jar};

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
    /// Kotlin or Rust.
    pub kind: ServerKind,
    inner: Inner,
}

enum Inner {
    Kotlin(HarnessProcess),
    /// orbit-node, or the Kotlin launcher's JVM.
    Process(Child),
}

/// The environment of a launched server: exactly what an operator sets for the Kotlin image.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// `ORBIT_SETTINGS_RAW`: the settings JSON itself.
    pub settings_raw: Option<String>,
    /// `ORBIT_SETTINGS`: a settings file.
    pub settings_file: Option<PathBuf>,
    /// Further variables (e.g. the ones the settings JSON interpolates).
    pub env: Vec<(String, String)>,
    /// The port (`ORBIT_PORT`); a free one when `None`. A replacement server takes its
    /// predecessor's port, as an operator swapping processes in place does.
    pub port: Option<u16>,
}

/// Returns the `orbit-node` binary: `$ORBIT_NODE_BIN` or `target/debug/orbit-node`.
pub fn orbit_node_binary() -> anyhow::Result<PathBuf> {
    workspace_binary("orbit-node", "ORBIT_NODE_BIN", "orbit-node")
}

/// Returns the workspace binary `name` of `package`: the path in the environment variable
/// `variable`, or `target/debug/<name>`; an error saying how to build it when it is missing.
pub fn workspace_binary(name: &str, variable: &str, package: &str) -> anyhow::Result<PathBuf> {
    let binary = match std::env::var_os(variable) {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug").join(name),
    };
    if !binary.is_file() {
        bail!("{} is missing: build it with `cargo build -p {package}`", binary.display());
    }
    Ok(binary)
}

impl ServerProcess {
    /// Starts a server of `kind` on a free loopback port with extra `args`
    /// (`--node-lease-seconds`, `--addressable-lease-seconds` are understood by both).
    pub async fn start(kind: ServerKind, logs: &Path, args: &[&str]) -> anyhow::Result<Self> {
        Self::start_named(kind, &format!("{}-server", kind.name()), logs, args).await
    }

    /// [`ServerProcess::start`] with the log files named after `name` (several servers in one
    /// scenario).
    pub async fn start_named(kind: ServerKind, name: &str, logs: &Path, args: &[&str]) -> anyhow::Result<Self> {
        let port = free_port();
        let endpoint = format!("127.0.0.1:{port}");
        let port_text = port.to_string();
        match kind {
            ServerKind::Kotlin => {
                let mut all = vec!["server", "--port", &port_text, "--url", &endpoint];
                all.extend_from_slice(args);
                let (process, _ready) = HarnessProcess::start(name, logs, &all).await?;
                Ok(Self { endpoint, kind, inner: Inner::Kotlin(process) })
            }
            ServerKind::Rust => {
                let log = std::fs::File::create(logs.join(format!("{name}.log")))?;
                // A metrics port of its own unless the caller chose one.
                let metrics_port = free_port().to_string();
                let metrics: &[&str] =
                    if args.contains(&"--metrics-port") { &[] } else { &["--metrics-port", &metrics_port] };
                let mut command = Command::new(orbit_node_binary()?);
                scrub_environment(&mut command);
                let child = command
                    .args(["--port", &port_text, "--listen", "127.0.0.1", "--url", &endpoint])
                    .args(metrics)
                    .args(args)
                    .env("ORBIT_LOG", "info,orbit_node=debug")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::from(log))
                    .kill_on_drop(true)
                    .spawn()
                    .context("starting orbit-node")?;
                wait_for_port(port, Duration::from_secs(30)).await?;
                Ok(Self { endpoint, kind, inner: Inner::Process(child) })
            }
        }
    }

    /// Starts a server of `kind` through its launcher on a free loopback port (`ORBIT_PORT`,
    /// `ORBIT_URL`), configured by `launch`, and waits until its health check answers SERVING.
    ///
    /// The Kotlin launcher waits 5 s before it starts the server, as in the Kotlin image.
    pub async fn launch(kind: ServerKind, logs: &Path, launch: &Launch) -> anyhow::Result<Self> {
        Self::launch_named(kind, &format!("{}-launched-server", kind.name()), logs, launch).await
    }

    /// [`ServerProcess::launch`] with the log file named `<name>.log`.
    pub async fn launch_named(kind: ServerKind, name: &str, logs: &Path, launch: &Launch) -> anyhow::Result<Self> {
        let port = match launch.port {
            Some(port) => port,
            None => free_port(),
        };
        let endpoint = format!("127.0.0.1:{port}");
        let mut command = match kind {
            ServerKind::Kotlin => {
                let mut command = Command::new("java");
                command
                    .args(["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp"])
                    .arg(harness_jar()?)
                    .arg("orbit.application.AppKt");
                command
            }
            ServerKind::Rust => Command::new(orbit_node_binary()?),
        };
        // Only what `launch` says configures the server, never the test's own environment.
        scrub_environment(&mut command);
        if kind == ServerKind::Rust {
            command.env("ORBIT_LOG", "info,orbit_node=debug").env("ORBIT_LISTEN_ADDRESS", "127.0.0.1");
        }
        command.env("ORBIT_PORT", port.to_string()).env("ORBIT_URL", &endpoint);
        if let Some(raw) = &launch.settings_raw {
            command.env("ORBIT_SETTINGS_RAW", raw);
        }
        if let Some(file) = &launch.settings_file {
            command.env("ORBIT_SETTINGS", file);
        }
        command.envs(launch.env.iter().map(|(k, v)| (k, v)));
        let log_name = format!("{name}.log");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(logs.join(&log_name))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting the {} launcher", kind.name()))?;
        let mut server = Self { endpoint, kind, inner: Inner::Process(child) };
        server.wait_serving(READY_TIMEOUT).await.with_context(|| {
            format!("the {} launcher did not serve; see {}", kind.name(), logs.join(&log_name).display())
        })?;
        Ok(server)
    }

    /// Polls the gRPC health check until it answers SERVING, failing early if the process exits.
    async fn wait_serving(&mut self, limit: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + limit;
        let url = format!("http://{}", self.endpoint);
        loop {
            if let Inner::Process(child) = &mut self.inner
                && let Some(status) = child.try_wait()?
            {
                bail!("the server exited ({status}) before serving");
            }
            if let Ok(channel) = tonic::transport::Endpoint::from_shared(url.clone())?.connect().await {
                let mut health = pb::health::health_client::HealthClient::new(channel);
                let request = pb::health::HealthCheckRequest { service: String::new() };
                if let Ok(reply) = health.check(request).await
                    && reply.get_ref().status == pb::health::health_check_response::ServingStatus::Serving as i32
                {
                    return Ok(());
                }
            }
            if tokio::time::Instant::now() > deadline {
                bail!("{} not SERVING after {limit:?}", self.endpoint);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Returns whether the server process has exited (orbit-node and launched servers only).
    pub fn has_exited(&mut self) -> anyhow::Result<bool> {
        match &mut self.inner {
            Inner::Kotlin(_) => bail!("the harness server does not report its exit"),
            Inner::Process(child) => Ok(child.try_wait()?.is_some()),
        }
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        match &mut self.inner {
            Inner::Kotlin(process) => process.kill().await,
            Inner::Process(child) => Ok(child.kill().await?),
        }
    }

    /// Sends `signal` (e.g. `HUP`) to an orbit-node or launched server process.
    pub fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let Inner::Process(child) = &self.inner else { bail!("the harness server takes no signals from tests") };
        let pid = child.id().context("the server has exited")?;
        let status = std::process::Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status()?;
        anyhow::ensure!(status.success(), "kill -{signal} {pid} failed");
        Ok(())
    }

    /// Stops the server with SIGTERM and waits up to `grace`.
    pub async fn terminate(&mut self, grace: Duration) -> anyhow::Result<()> {
        match &mut self.inner {
            Inner::Kotlin(process) => process.terminate(grace).await,
            Inner::Process(child) => {
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

/// Removes the test machine's `ORBIT_*` and `OTEL_*` variables from a server's environment
/// (they would change its configuration); the caller sets what the scenario needs after.
fn scrub_environment(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("ORBIT_") || name.starts_with("OTEL_") {
            command.env_remove(name);
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
