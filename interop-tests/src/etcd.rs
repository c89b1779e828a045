//! A real etcd (Debian's `etcd-server`) for the tests that need one: started on free
//! loopback ports with a throw-away data directory, stopped and removed when dropped.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

use orbit_test_support::free_port;

/// A running etcd server.
pub struct EtcdServer {
    /// The client URL (`http://127.0.0.1:<port>`).
    pub url: String,
    child: Child,
    data_dir: PathBuf,
    args: Vec<String>,
    log: PathBuf,
}

/// Returns the etcd binary: `$ETCD_BIN` or `etcd` on PATH (Debian's `etcd-server` package).
fn etcd_binary() -> PathBuf {
    std::env::var_os("ETCD_BIN").map_or_else(|| PathBuf::from("etcd"), PathBuf::from)
}

impl EtcdServer {
    /// Starts etcd named `name`, logging to `<logs>/etcd-<name>.log`, and waits until it
    /// answers on its client port.
    pub async fn start(name: &str, logs: &std::path::Path) -> anyhow::Result<Self> {
        let (client_port, peer_port) = (free_port(), free_port());
        let url = format!("http://127.0.0.1:{client_port}");
        let peer = format!("http://127.0.0.1:{peer_port}");
        let data_dir = std::env::temp_dir().join(format!("orbit-etcd-{name}-{}-{client_port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data_dir);
        let log = logs.join(format!("etcd-{name}.log"));
        let args: Vec<String> = [
            "--name",
            name,
            "--data-dir",
            &data_dir.to_string_lossy(),
            "--listen-client-urls",
            &url,
            "--advertise-client-urls",
            &url,
            "--listen-peer-urls",
            &peer,
            "--initial-advertise-peer-urls",
            &peer,
            "--initial-cluster",
            &format!("{name}={peer}"),
            "--log-level",
            "warn",
            "--logger",
            "zap",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let child = spawn(&args, &log)?;
        let mut server = Self { url, child, data_dir, args, log };
        server.wait_ready(Duration::from_secs(30)).await?;
        Ok(server)
    }

    async fn wait_ready(&mut self, limit: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("etcd exited ({status}) before it served; see its log");
            }
            if let Ok(mut client) = etcd_client::Client::connect([&self.url], None).await
                && client.status().await.is_ok()
            {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("etcd at {} not ready after {limit:?}", self.url);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops etcd at once (SIGKILL), as a crash would; [`EtcdServer::restart`] brings it back
    /// with its data.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        Ok(())
    }

    /// Starts a killed etcd again on the same ports and data, and waits until it serves.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        let _ = self.child.kill().await;
        self.child = spawn(&self.args, &self.log)?;
        self.wait_ready(Duration::from_secs(30)).await
    }

    /// Returns a client for direct reads and writes.
    pub async fn client(&self) -> anyhow::Result<etcd_client::Client> {
        Ok(etcd_client::Client::connect([&self.url], None).await?)
    }
}

fn spawn(args: &[String], log: &std::path::Path) -> anyhow::Result<Child> {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
    Command::new(etcd_binary())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .context("starting etcd (install Debian's etcd-server, or set ETCD_BIN)")
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}
