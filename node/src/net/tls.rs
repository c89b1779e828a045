//! TLS where Kotlin cannot go: an optional TLS listener beside the plaintext one (rustls with
//! the ring provider), mTLS when a client CA is configured, and TLS on mesh links between
//! orbit-nodes. Kotlin servers and clients keep the plaintext port; Orbit 2 has no TLS.
//!
//! The listener's certificate, key and client CA are read at start, again on SIGHUP, and again
//! when the files have changed (checked every 2 s; read once they stop changing). A reload replaces the configuration that
//! new handshakes use; connections already open keep their session, so no stream drops. A file
//! that does not load keeps the previous configuration and says why in the log.
//!
//! Mesh links: before dialling a peer, a node with a peer CA asks it over plaintext
//! (`orbit_node.v1.PeerTransport/Describe`) for its TLS port. A Kotlin server answers
//! UNIMPLEMENTED and stays on plaintext; an orbit-node with a TLS listener is dialled over TLS
//! on its advertised host, presenting this node's certificate (for peers that require mTLS).
//! A peer that says it has TLS is never dialled in plaintext instead.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use compat_proto::pb::orbit_node::peer_transport_server::PeerTransport;
use compat_proto::pb::orbit_node::{DescribeRequest, DescribeResponse};
use thiserror::Error;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::config::TlsConfig;
use crate::metrics::SharedMetrics;

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the certificate files are checked for changes.
const FILE_CHECK_PERIOD: Duration = Duration::from_secs(2);
/// How many TLS handshakes may run at once.
const MAX_HANDSHAKES: usize = 1024;

/// A TLS file could not be used.
#[derive(Debug, Error)]
#[error("TLS file {}: {reason}", path.display())]
pub struct TlsError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

fn file_error(path: &Path, reason: impl std::fmt::Display) -> TlsError {
    TlsError { path: path.to_owned(), reason: reason.to_string() }
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(path, e))?;
    if certificates.is_empty() {
        return Err(file_error(path, "no PEM certificate in it"));
    }
    Ok(certificates)
}

/// Reads the PEM certificates of `path` as the listener does, for `check-config`; returns how
/// many there are.
pub(crate) fn count_certificates(path: &Path) -> Result<usize, TlsError> {
    read_certificates(path).map(|c| c.len())
}

/// Builds the listener's rustls configuration from the files `tls` names.
pub fn server_config(tls: &TlsConfig) -> Result<ServerConfig, TlsError> {
    let chain = read_certificates(&tls.cert)?;
    let key = PrivateKeyDer::from_pem_file(&tls.key).map_err(|e| file_error(&tls.key, e))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| file_error(&tls.cert, e))?;
    let builder = match &tls.client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for certificate in read_certificates(ca)? {
                roots.add(certificate).map_err(|e| file_error(ca, e))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| file_error(ca, e))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| file_error(&tls.key, format!("does not match the certificate or is unusable: {e}")))?;
    // gRPC runs on HTTP/2 only.
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// The TLS listener's configuration, replaced on reload.
pub struct TlsListener {
    settings: TlsConfig,
    current: RwLock<Arc<ServerConfig>>,
    metrics: SharedMetrics,
}

impl TlsListener {
    /// Loads the files `settings` names; an error names the file and what is wrong.
    pub fn load(settings: TlsConfig, metrics: SharedMetrics) -> Result<Arc<Self>, TlsError> {
        let config = server_config(&settings)?;
        Ok(Arc::new(Self { settings, current: RwLock::new(Arc::new(config)), metrics }))
    }

    /// Reads the files again; on failure the previous configuration stays in use.
    pub fn reload(&self) -> Result<(), TlsError> {
        let outcome = server_config(&self.settings);
        self.metrics.node.tls_reloads.with_label_values(&[if outcome.is_ok() { "ok" } else { "failed" }]).inc();
        let config = outcome?;
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(config);
        Ok(())
    }

    fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone())
    }

    /// Accepts TCP connections on `listener` and yields those that complete a handshake, until
    /// `token` is cancelled. A failed handshake is counted and logged, and ends only its own
    /// connection; at most [`MAX_HANDSHAKES`] run at once (more connections wait in the
    /// kernel's backlog), each within [`HANDSHAKE_TIMEOUT`].
    pub fn incoming(
        self: &Arc<Self>,
        listener: TcpListener,
        tasks: TaskTracker,
        token: CancellationToken,
    ) -> ReceiverStream<Result<TlsStream<TcpStream>, io::Error>> {
        let (sender, receiver) = mpsc::channel(64);
        let this = self.clone();
        let handshakes = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
        tasks.clone().spawn(async move {
            loop {
                let permit = tokio::select! {
                    () = token.cancelled() => return,
                    permit = handshakes.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => return,
                    },
                };
                let Some((socket, peer)) = crate::net::accept_paced(&listener, "TLS listener", &token).await else {
                    return;
                };
                let _ = socket.set_nodelay(true);
                let (acceptor, sender, metrics) = (this.acceptor(), sender.clone(), this.metrics.clone());
                let token = token.clone();
                tasks.spawn(async move {
                    let _permit = permit;
                    let handshake = tokio::select! {
                        () = token.cancelled() => return,
                        handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(socket)) => handshake,
                    };
                    match handshake {
                        Ok(Ok(stream)) => {
                            metrics.node.tls_handshakes.with_label_values(&["ok"]).inc();
                            let _ = sender.send(Ok(stream)).await;
                        }
                        Ok(Err(error)) => {
                            metrics.node.tls_handshakes.with_label_values(&["failed"]).inc();
                            info!(%peer, error = %error, "TLS handshake refused");
                        }
                        Err(_) => {
                            metrics.node.tls_handshakes.with_label_values(&["failed"]).inc();
                            debug!(%peer, "TLS handshake timed out");
                        }
                    }
                });
            }
        });
        ReceiverStream::new(receiver)
    }

    /// Reloads on SIGHUP, and when the files' modification times have changed and then stayed
    /// the same for one more check (so a rotation that copies the certificate and the key one
    /// after the other is read once, whole), until `token` is cancelled. Times that failed to
    /// load are not tried again until they change.
    pub async fn watch(self: Arc<Self>, token: CancellationToken) {
        let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(signal) => Some(signal),
            Err(error) => {
                warn!(error = %error, "no SIGHUP handler; TLS files reload on change only");
                None
            }
        };
        let mut loaded = self.modified();
        let mut failed: Option<Vec<Option<SystemTime>>> = None;
        let mut changing: Option<Vec<Option<SystemTime>>> = None;
        let mut ticks = tokio::time::interval(FILE_CHECK_PERIOD);
        loop {
            let reason = tokio::select! {
                () = token.cancelled() => return,
                Some(()) = async { match hangup.as_mut() { Some(signal) => signal.recv().await, None => std::future::pending().await } } => "SIGHUP",
                _ = ticks.tick() => {
                    let now = self.modified();
                    if now == loaded || failed.as_ref() == Some(&now) {
                        changing = None;
                        continue;
                    }
                    if changing.as_ref() != Some(&now) {
                        changing = Some(now);
                        continue;
                    }
                    "changed files"
                }
            };
            let times = self.modified();
            changing = None;
            match self.reload() {
                Ok(()) => {
                    loaded = times;
                    failed = None;
                    info!(reason, cert = %self.settings.cert.display(), "TLS certificate reloaded");
                }
                Err(error) => {
                    failed = Some(times);
                    warn!(reason, error = %error, "TLS reload failed; keeping the previous certificate");
                }
            }
        }
    }

    fn modified(&self) -> Vec<Option<SystemTime>> {
        let files = [Some(&self.settings.cert), Some(&self.settings.key), self.settings.client_ca.as_ref()];
        files.into_iter().flatten().map(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok()).collect()
    }
}

/// The certificates a node presents and trusts when it dials a peer over TLS.
#[derive(Debug, Clone)]
pub struct PeerTls {
    /// The CA peers' certificates must chain to.
    pub ca: PathBuf,
    /// This node's certificate (presented to peers that require mTLS).
    pub cert: PathBuf,
    /// Its key.
    pub key: PathBuf,
}

impl PeerTls {
    /// The mesh-link TLS of `config`, when it names a peer CA.
    pub fn of(config: &TlsConfig) -> Option<Self> {
        config.peer_ca.clone().map(|ca| Self { ca, cert: config.cert.clone(), key: config.key.clone() })
    }

    /// The client TLS settings for dialling `host`, read from the files now (so a reloaded
    /// certificate is used by the next link).
    pub fn client_config(&self, host: &str) -> Result<tonic::transport::ClientTlsConfig, TlsError> {
        let read = |path: &Path| std::fs::read(path).map_err(|e| file_error(path, e));
        Ok(tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(read(&self.ca)?))
            .identity(tonic::transport::Identity::from_pem(read(&self.cert)?, read(&self.key)?))
            .domain_name(host))
    }
}

/// `orbit_node.v1.PeerTransport`: tells a dialling orbit-node where this one speaks TLS.
pub struct PeerTransportService {
    tls_port: u32,
}

impl PeerTransportService {
    /// The service of a node whose TLS listener is on `tls_port` (`None`: no listener).
    pub fn new(tls_port: Option<u16>) -> Self {
        Self { tls_port: tls_port.map_or(0, u32::from) }
    }
}

#[tonic::async_trait]
impl PeerTransport for PeerTransportService {
    async fn describe(
        &self,
        _request: tonic::Request<DescribeRequest>,
    ) -> Result<tonic::Response<DescribeResponse>, tonic::Status> {
        Ok(tonic::Response::new(DescribeResponse { tls_port: self.tls_port }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let key = rcgen::KeyPair::generate().expect("key");
        let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
        let cert = params.self_signed(&key).expect("certificate");
        let (cert_path, key_path) = (dir.join(format!("{name}.crt")), dir.join(format!("{name}.key")));
        std::fs::write(&cert_path, cert.pem()).expect("write");
        std::fs::write(&key_path, key.serialize_pem()).expect("write");
        (cert_path, key_path)
    }

    #[test]
    fn bad_files_are_named_with_what_is_wrong() {
        let dir = std::env::temp_dir().join(format!("orbit-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let (cert, key) = issue(&dir, "a");
        let (_, other_key) = issue(&dir, "b");
        let config = |cert: &Path, key: &Path, ca: Option<&Path>| TlsConfig {
            port: 1,
            cert: cert.to_owned(),
            key: key.to_owned(),
            client_ca: ca.map(Path::to_owned),
            peer_ca: None,
        };
        let loaded = server_config(&config(&cert, &key, Some(&cert))).expect("a matching pair and a CA load");
        assert_eq!(loaded.alpn_protocols, vec![b"h2".to_vec()]);

        let missing = server_config(&config(&dir.join("nope.crt"), &key, None)).expect_err("missing file");
        assert!(missing.to_string().contains("nope.crt"), "{missing}");
        let mismatched = server_config(&config(&cert, &other_key, None)).expect_err("key of another certificate");
        assert!(mismatched.to_string().contains("does not match"), "{mismatched}");
        let not_pem = dir.join("empty.crt");
        std::fs::write(&not_pem, "not a certificate").expect("write");
        let empty = server_config(&config(&not_pem, &key, None)).expect_err("no PEM");
        assert!(empty.to_string().contains("no PEM certificate"), "{empty}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_changed_certificate_file_is_reloaded() {
        let dir = std::env::temp_dir().join(format!("orbit-tls-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let (cert, key) = issue(&dir, "server");
        let settings = TlsConfig { port: 1, cert: cert.clone(), key: key.clone(), client_ca: None, peer_ca: None };
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let listener = TlsListener::load(settings, metrics.clone()).expect("loads");
        let before = Arc::as_ptr(&listener.current.read().expect("lock").clone());
        let token = CancellationToken::new();
        let watching = tokio::spawn(listener.clone().watch(token.clone()));
        let reloads = || metrics.node.tls_reloads.with_label_values(&["ok"]).get();
        // A new pair under the same names, a second later (file systems with 1 s times).
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        issue(&dir, "server");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while reloads() == 0 {
            assert!(tokio::time::Instant::now() < deadline, "no reload after the files changed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let after = Arc::as_ptr(&listener.current.read().expect("lock").clone());
        assert_ne!(before, after, "new handshakes use the new configuration");
        // A broken file keeps the last good configuration.
        std::fs::write(&key, "garbage").expect("write");
        assert!(listener.reload().is_err());
        assert_eq!(Arc::as_ptr(&listener.current.read().expect("lock").clone()), after);
        assert!(metrics.node.tls_reloads.with_label_values(&["failed"]).get() >= 1);
        token.cancel();
        let _ = watching.await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
