//! A mesh of Orbit servers on loopback: two real etcd stores (node directory and addressable
//! directory, as Kotlin's Helm chart runs them) and a line-up of Kotlin and Rust servers
//! configured with them. A scenario is written once and run over several line-ups.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::bail;
use compat_proto::{MANAGEMENT_NAMESPACE, NodeId, NodeInfo, NodeStatus, pb};
use prost::Message as _;

use crate::etcd::EtcdServer;
use crate::jvm::log_dir;
use crate::servers::{ServerKind, ServerProcess};

/// A line-up of servers, named like `K+R+K`.
pub fn lineup_name(kinds: &[ServerKind]) -> String {
    kinds
        .iter()
        .map(|k| match k {
            ServerKind::Kotlin => "K",
            ServerKind::Rust => "R",
        })
        .collect::<Vec<_>>()
        .join("+")
}

/// Servers sharing two etcd stores.
pub struct Mesh {
    /// The servers, in line-up order (`None` once stopped by the scenario).
    pub servers: Vec<Option<ServerProcess>>,
    /// Their kinds.
    pub kinds: Vec<ServerKind>,
    /// The servers' endpoints, kept after they stop.
    pub endpoints: Vec<String>,
    /// Where the processes' logs go.
    pub logs: PathBuf,
    /// The node directory.
    pub node_etcd: EtcdServer,
    /// The addressable directory.
    pub lease_etcd: EtcdServer,
}

impl Mesh {
    /// Starts the etcd stores and `kinds` servers for `scenario`, and waits until every
    /// server has an outgoing stream to every other (their records list each other).
    pub async fn start(scenario: &str, kinds: &[ServerKind]) -> anyhow::Result<Self> {
        let logs = log_dir(&format!("{scenario}_{}", lineup_name(kinds).replace('+', "")))?;
        let node_etcd = EtcdServer::start("nodes", &logs).await?;
        let lease_etcd = EtcdServer::start("leases", &logs).await?;
        let mut mesh =
            Self { servers: Vec::new(), kinds: kinds.to_vec(), endpoints: Vec::new(), logs, node_etcd, lease_etcd };
        for (index, kind) in kinds.iter().enumerate() {
            let server = mesh.start_server(*kind, index).await?;
            mesh.endpoints.push(server.endpoint.clone());
            mesh.servers.push(Some(server));
        }
        let args = [
            "--etcd-node-url".to_string(),
            mesh.node_etcd.url.clone(),
            "--etcd-addressable-url".to_string(),
            mesh.lease_etcd.url.clone(),
        ];
        let logs = mesh.logs.clone();
        settle(&mesh.node_etcd, &mut mesh.servers, |index, kind| {
            let (args, logs) = (args.clone(), logs.clone());
            async move {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let name = format!("server-{index}-{}-restarted", kind.name());
                ServerProcess::start_named(kind, &name, &logs, &args).await
            }
        })
        .await?;
        mesh.endpoints = mesh.servers.iter().flatten().map(|s| s.endpoint.clone()).collect();
        println!("mesh {}: servers {:?}; logs in {}", lineup_name(kinds), mesh.endpoints, mesh.logs.display());
        Ok(mesh)
    }

    /// Starts one more server of `kind` on the mesh's directories, as server number `index`.
    pub async fn start_server(&self, kind: ServerKind, index: usize) -> anyhow::Result<ServerProcess> {
        let args = ["--etcd-node-url", &self.node_etcd.url, "--etcd-addressable-url", &self.lease_etcd.url];
        ServerProcess::start_named(kind, &format!("server-{index}-{}", kind.name()), &self.logs, &args).await
    }

    /// Returns the logs directory.
    pub fn logs(&self) -> &Path {
        &self.logs
    }

    /// Returns the server records in the node directory.
    pub async fn server_records(&self) -> anyhow::Result<Vec<NodeInfo>> {
        server_records(&self.node_etcd).await
    }

    /// Waits until the ACTIVE server records number as many as the running servers and each
    /// lists every other one in its `visibleNodes` (an outgoing stream to it).
    pub async fn wait_meshed(&self, limit: Duration) -> anyhow::Result<()> {
        let expected = self.servers.iter().filter(|s| s.is_some()).count();
        wait_meshed(&self.node_etcd, expected, limit).await
    }

    /// Returns the endpoint of server `index`.
    pub fn endpoint(&self, index: usize) -> &str {
        &self.endpoints[index]
    }

    /// Kills server `index` (SIGKILL).
    pub async fn kill(&mut self, index: usize) -> anyhow::Result<()> {
        if let Some(mut server) = self.servers[index].take() {
            server.kill().await?;
        }
        Ok(())
    }

    /// Stops server `index` gracefully (SIGTERM), waiting up to `grace`.
    pub async fn terminate(&mut self, index: usize, grace: Duration) -> anyhow::Result<()> {
        if let Some(mut server) = self.servers[index].take() {
            server.terminate(grace).await?;
        }
        Ok(())
    }

    /// Stops every server still running.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        for index in 0..self.servers.len() {
            self.terminate(index, Duration::from_secs(20)).await?;
        }
        Ok(())
    }
}

/// Waits until `servers` have meshed (see [`wait_meshed`]). A Kotlin server can lose its own
/// ACTIVE write to a concurrent read-modify-write of its record and stay STARTING for good
/// (spec 15.2 #2, `docs/compatibility.md`); such a server is stopped and started again with
/// `restart(index, kind)`, at most twice, and the restart is printed. A Rust server that stays
/// STARTING, or servers that do not mesh for any other reason, fail the set-up.
pub async fn settle<F, Fut>(
    etcd: &EtcdServer,
    servers: &mut [Option<ServerProcess>],
    mut restart: F,
) -> anyhow::Result<()>
where
    F: FnMut(usize, ServerKind) -> Fut,
    Fut: Future<Output = anyhow::Result<ServerProcess>>,
{
    let expected = servers.iter().flatten().count();
    let mut restarts = 0;
    loop {
        let error = match wait_meshed(etcd, expected, Duration::from_secs(30)).await {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        let records = server_records(etcd).await?;
        let stuck: Vec<usize> = servers
            .iter()
            .enumerate()
            .filter_map(|(index, server)| server.as_ref().map(|server| (index, server)))
            .filter(|(_, server)| {
                server.kind == ServerKind::Kotlin
                    && records
                        .iter()
                        .any(|r| r.status == NodeStatus::Starting && r.url.as_deref() == Some(server.endpoint.as_str()))
            })
            .map(|(index, _)| index)
            .collect();
        if stuck.is_empty() || restarts == 2 {
            return Err(error);
        }
        restarts += 1;
        for index in stuck {
            println!(
                "Kotlin server {index} stayed STARTING (its own ACTIVE write was lost, spec 15.2 #2): restarting it"
            );
            if let Some(mut server) = servers[index].take() {
                server.terminate(Duration::from_secs(20)).await?;
            }
            servers[index] = Some(restart(index, ServerKind::Kotlin).await?);
        }
    }
}

/// Returns the server (`management`) records in the node directory `etcd`.
pub async fn server_records(etcd: &EtcdServer) -> anyhow::Result<Vec<NodeInfo>> {
    let mut client = etcd.client().await?;
    let prefix = format!("node/{MANAGEMENT_NAMESPACE}/");
    let response = client.get(prefix.as_str(), Some(etcd_client::GetOptions::new().with_prefix())).await?;
    let mut records = Vec::new();
    for kv in response.kvs() {
        records.push(NodeInfo::try_from(pb::NodeInfoProto::decode(kv.value())?)?);
    }
    Ok(records)
}

/// Waits until `expected` ACTIVE server records are in the node directory `etcd` and each
/// lists every other one in its `visibleNodes` (an outgoing stream to it).
pub async fn wait_meshed(etcd: &EtcdServer, expected: usize, limit: Duration) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let records = server_records(etcd).await.unwrap_or_default();
        let active: Vec<&NodeInfo> = records.iter().filter(|r| r.status == NodeStatus::Active).collect();
        let ids: Vec<&NodeId> = active.iter().map(|r| &r.id).collect();
        let meshed = active.len() == expected
            && active.iter().all(|r| ids.iter().all(|id| *id == &r.id || r.visible_nodes.contains(id)));
        if meshed {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            let edges: Vec<String> =
                records.iter().map(|r| format!("{} {:?} -> {:?}", r.id, r.status, r.visible_nodes)).collect();
            bail!("the servers did not mesh within {limit:?}; records: {edges:#?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
