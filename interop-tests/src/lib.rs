//! Runs real Kotlin Orbit processes (the Maven-built harness in `jvm/`) beside ours.
//!
//! * `certs`: a test CA and the certificates it signs (rcgen), for the TLS tests.
//! * `haproxy`: the HTTP/2 load balancer of Orbit's docker-compose file, in front of a mesh.
//! * `jvm`: starting a harness subcommand as a child process, waiting for its ready line,
//!   reading its JSON lines, keeping its logs, and stopping it (also when a test panics).
//! * `etcd`: a real etcd server on free loopback ports with a throw-away data directory.
//! * `mesh`: several servers (Kotlin and Rust line-ups) sharing two etcd directories.
//! * `servers`: the Kotlin or Rust server a scenario runs against, started directly or through
//!   its launcher (settings JSON in the environment).
//! * `otlp`: a trace collector (OTLP/gRPC) that keeps the spans servers export.
//! * `prometheus`: scraping a metrics endpoint and reading the Prometheus text format.
//! * `raw`: a raw gRPC client that sends arbitrary frames.
//! * `rust_actors`: Rust implementations of the harness's Kotlin actor interfaces.
//! * `scenario`: harness callers, call lists and the answers they observe.
//!
//! The harness jar is built by `mvn -f interop-tests/jvm/pom.xml package`; a missing jar
//! fails the test with that command rather than skipping it.

pub mod certs;
pub mod etcd;
pub mod haproxy;
pub mod jvm;
pub mod mesh;
pub mod otlp;
pub mod prometheus;
pub mod raw;
pub mod rust_actors;
pub mod scenario;
pub mod servers;
