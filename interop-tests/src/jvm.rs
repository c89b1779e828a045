//! Harness processes: the real Kotlin Orbit server, clients and callers.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tokio::time::timeout;

/// How long a JVM may take to print its ready line; a cold JVM with Orbit takes a few seconds.
pub const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// Returns the harness jar: `$ORBIT_HARNESS_JAR` or `interop-tests/jvm/target/orbit-harness.jar`.
pub fn harness_jar() -> anyhow::Result<PathBuf> {
    let jar = match std::env::var_os("ORBIT_HARNESS_JAR") {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("jvm/target/orbit-harness.jar"),
    };
    if !jar.is_file() {
        bail!(
            "the Kotlin harness jar {} is missing: build it with `mvn -B -f interop-tests/jvm/pom.xml package`",
            jar.display()
        );
    }
    Ok(jar)
}

/// Returns the directory where a test keeps its processes' logs: `target/interop-logs/<test>`.
pub fn log_dir(test: &str) -> anyhow::Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/interop-logs").join(test);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// A running harness subcommand.
///
/// Its stdout lines arrive on a channel; its stderr goes to `<log dir>/<name>.log`, and
/// its stdout is copied to `<name>.out`. Dropping it kills the process.
pub struct HarnessProcess {
    /// A short name for logs and errors.
    pub name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<String>,
}

impl HarnessProcess {
    /// Starts `java -jar <harness> <args>` and waits until it prints a line starting with
    /// `READY`, which it returns.
    pub async fn start(name: &str, log_dir: &Path, args: &[&str]) -> anyhow::Result<(Self, String)> {
        let jar = harness_jar()?;
        let stderr = std::fs::File::create(log_dir.join(format!("{name}.log")))?;
        let mut stdout_copy = tokio::fs::File::create(log_dir.join(format!("{name}.out"))).await?;
        let mut child = Command::new("java")
            .arg("-XX:+UseSerialGC")
            .arg("-XX:TieredStopAtLevel=1")
            .arg("-jar")
            .arg(&jar)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true)
            .spawn()
            .context("starting java (is a JDK 17 on PATH?)")?;
        let stdout = child.stdout.take().context("stdout is piped")?;
        let stdin = child.stdin.take();
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let _ = stdout_copy.write_all(format!("{line}\n").as_bytes()).await;
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut process = Self { name: name.to_owned(), child, stdin, lines };
        let ready =
            process.next_line_matching(READY_TIMEOUT, |line| line.starts_with("READY")).await.with_context(|| {
                format!("{name} did not get ready; see {}", log_dir.join(format!("{name}.log")).display())
            })?;
        Ok((process, ready))
    }

    /// Returns the next stdout line accepted by `accept`, skipping others, within `limit`.
    pub async fn next_line_matching(
        &mut self,
        limit: Duration,
        accept: impl Fn(&str) -> bool,
    ) -> anyhow::Result<String> {
        let name = self.name.clone();
        let wait = async {
            loop {
                match self.lines.recv().await {
                    Some(line) if accept(&line) => return Ok(line),
                    Some(_) => continue,
                    None => {
                        let status = self.child.wait().await?;
                        bail!("{name} exited ({status}) before the expected line");
                    }
                }
            }
        };
        timeout(limit, wait).await.with_context(|| format!("{name}: no expected line within {limit:?}"))?
    }

    /// Returns the next stdout line that parses as a JSON object, within `limit`.
    pub async fn next_json(&mut self, limit: Duration) -> anyhow::Result<Value> {
        let line = self.next_line_matching(limit, |line| line.starts_with('{')).await?;
        serde_json::from_str(&line).with_context(|| format!("{}: bad JSON line {line}", self.name))
    }

    /// Writes one line to the process's stdin.
    pub async fn send_line(&mut self, line: &str) -> anyhow::Result<()> {
        let stdin = self.stdin.as_mut().context("stdin already closed")?;
        stdin.write_all(line.as_bytes()).await?;
        stdin.write_all(b"\n").await?;
        stdin.flush().await?;
        Ok(())
    }

    /// Closes stdin (a `call` process then finishes its calls and exits).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the process to exit on its own within `limit`, returning its exit code.
    pub async fn wait_exit(&mut self, limit: Duration) -> anyhow::Result<Option<i32>> {
        let status =
            timeout(limit, self.child.wait()).await.with_context(|| format!("{} did not exit", self.name))??;
        Ok(status.code())
    }

    /// Sends SIGTERM and waits up to `grace` before killing.
    pub async fn terminate(&mut self, grace: Duration) -> anyhow::Result<()> {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
        }
        if timeout(grace, self.child.wait()).await.is_err() {
            self.child.kill().await?;
        }
        Ok(())
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        Ok(())
    }
}
