//! The load balancer Orbit's own docker-compose file puts in front of its servers: Debian's
//! `haproxy`, in HTTP/2 mode with per-request round robin over the servers and health checks,
//! listening on a free loopback port.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

use orbit_test_support::free_port;

/// A running haproxy.
pub struct Haproxy {
    /// The `host:port` clients dial.
    pub endpoint: String,
    child: Child,
}

/// Returns the haproxy configuration for `backends` (`host:port` each), listening on `port`.
///
/// The shape is Orbit's `docker/proxy/config/haproxy.cfg` (mode http, `proto h2` on both
/// sides, `balance roundrobin`, `check`, `maxconn 50`); health checks run every 500 ms and one
/// failure takes a server out, so a stopped server leaves the rotation at once; the client
/// timeout is 60 s instead of 10 s so an idle host's stream is not cut during a test.
pub fn config(port: u16, backends: &[String]) -> String {
    let mut text = format!(
        "global\n  maxconn 4096\n  tune.h2.max-concurrent-streams 8096\n\n\
         defaults\n  mode http\n  option abortonclose\n  timeout connect 10s\n  timeout client 60s\n  timeout server 86400s\n\n\
         frontend proxy\n  bind 127.0.0.1:{port} proto h2\n  default_backend mesh_node\n\n\
         backend mesh_node\n  default-server proto h2 check inter 500 fall 1 rise 1 maxconn 50\n  balance roundrobin\n"
    );
    for (index, backend) in backends.iter().enumerate() {
        text.push_str(&format!("  server mesh-node-{index} {backend}\n"));
    }
    text
}

impl Haproxy {
    /// Starts haproxy in front of `backends`, writing its configuration and log to `logs`.
    pub async fn start(logs: &Path, backends: &[String]) -> anyhow::Result<Self> {
        let port = free_port();
        let config_path: PathBuf = logs.join("haproxy.cfg");
        std::fs::write(&config_path, config(port, backends))?;
        let log = std::fs::File::create(logs.join("haproxy.log"))?;
        let child = Command::new(std::env::var_os("HAPROXY_BIN").unwrap_or_else(|| "haproxy".into()))
            .arg("-db")
            .arg("-f")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .context("starting haproxy (install Debian's haproxy, or set HAPROXY_BIN)")?;
        let mut proxy = Self { endpoint: format!("127.0.0.1:{port}"), child };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if let Some(status) = proxy.child.try_wait()? {
                bail!("haproxy exited ({status}); see {}", logs.join("haproxy.log").display());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("haproxy does not listen on {port}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(proxy)
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
