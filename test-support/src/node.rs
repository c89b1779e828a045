//! An orbit-node in this process, for tests that talk to a real server over loopback TCP.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use orbit_node::{Config, NodeError};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use tracing::debug;

use crate::free_port;

/// How long [`TestNode::stop`] waits for the node to finish: its 2 s grace period and more.
const STOP_LIMIT: Duration = Duration::from_secs(10);

/// How a [`TestNode`] starts; the default is a free port and no metrics endpoint.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeOptions {
    /// The gRPC port. `None` binds port 0, so the system picks a free port with no race; a
    /// given port starts "the same" server again at an address its clients already know.
    pub port: Option<u16>,
    /// Whether to serve the Prometheus endpoint, on a free port ([`TestNode::metrics_port`]).
    pub metrics: bool,
}

/// An orbit-node running in this process on 127.0.0.1, with the in-memory directories and a
/// shutdown grace period of 2 s.
///
/// [`stop`](Self::stop) stops it gracefully and waits until it has finished. Dropping it only
/// asks it to stop: it finishes in the background while the runtime runs, and a test's runtime
/// ends with the test.
///
/// It runs on the test's runtime, so under `#[tokio::test(start_paused = true)]` its timers are
/// paused too; the node sets `TCP_NODELAY`, so loopback traffic is readable as soon as it is
/// written and the paused clock does not jump while a reply is on its way.
#[derive(Debug)]
pub struct TestNode {
    port: u16,
    metrics_port: Option<u16>,
    /// Completes the node's shutdown future; taken when the stop is asked for.
    stop: Option<oneshot::Sender<()>>,
    /// The node's task; taken by [`TestNode::stop`] (an `Option` because `Drop` needs `self`).
    run: Option<JoinHandle<Result<(), NodeError>>>,
}

impl TestNode {
    /// Starts a node on a free port, without a metrics endpoint.
    pub async fn start() -> TestNode {
        TestNode::start_with(NodeOptions::default()).await
    }

    /// Starts a node as `options` say.
    ///
    /// # Panics
    ///
    /// When the port cannot be bound (a given port still taken), or the flags are refused.
    pub async fn start_with(options: NodeOptions) -> TestNode {
        let wanted = options.port.unwrap_or(0);
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, wanted))
            .await
            .unwrap_or_else(|error| panic!("cannot bind 127.0.0.1:{wanted} for a test node: {error}"));
        let port =
            listener.local_addr().unwrap_or_else(|error| panic!("a bound listener has no address: {error}")).port();
        let metrics_port = options.metrics.then(free_port);
        let metrics_flag = metrics_port.map_or_else(|| "off".to_owned(), |p| p.to_string());
        let args: Vec<String> = [
            "--port",
            &port.to_string(),
            "--listen",
            "127.0.0.1",
            "--shutdown-grace-seconds",
            "2",
            "--metrics-port",
            &metrics_flag,
        ]
        .map(str::to_owned)
        .to_vec();
        let config = Config::from_env(&HashMap::<String, String>::new(), &args)
            .unwrap_or_else(|error| panic!("the test node's flags {args:?} are refused: {error}"));
        let (stop, stopped) = oneshot::channel::<()>();
        let run = tokio::spawn(orbit_node::run_with_listener(config, listener, async move {
            let _ = stopped.await;
        }));
        debug!(port, ?metrics_port, "test node started");
        TestNode { port, metrics_port, stop: Some(stop), run: Some(run) }
    }

    /// Returns the gRPC address as `127.0.0.1:port`, as `ClientConfig` and Kotlin's
    /// `grpcEndpoint` take it.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Returns the gRPC address as a URL, `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.endpoint())
    }

    /// Returns the gRPC port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Returns the port of the Prometheus endpoint, when it was asked for.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    /// Connects a gRPC channel to the node.
    ///
    /// # Panics
    ///
    /// When the node does not accept the connection.
    pub async fn channel(&self) -> Channel {
        let url = self.url();
        let endpoint = Channel::from_shared(url.clone()).unwrap_or_else(|error| panic!("invalid URI {url}: {error}"));
        endpoint.connect().await.unwrap_or_else(|error| panic!("cannot connect to the test node at {url}: {error}"))
    }

    /// Stops the node gracefully (DRAINING, streams closed, its record deleted) and returns how
    /// its run ended once it has finished; its port is free again then.
    ///
    /// # Panics
    ///
    /// When the node has not finished within 10 s, or its task panicked.
    pub async fn stop(mut self) -> Result<(), NodeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let run = self.run.take().expect("only stop takes the task, and it consumes the node");
        match tokio::time::timeout(STOP_LIMIT, run).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(error)) => panic!("the test node on port {} failed: {error}", self.port),
            Err(_) => panic!("the test node on port {} did not stop within {STOP_LIMIT:?}", self.port),
        }
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            debug!(port = self.port, "test node dropped; stopping it");
            let _ = stop.send(());
        }
    }
}
