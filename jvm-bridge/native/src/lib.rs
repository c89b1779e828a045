//! The bridge's native library without Rust actors: a JVM service that only calls actors
//! loads this one (it is inside the Maven jar). A service hosting Rust actors loads its own
//! library instead, built the same way with its actors registered.

orbit_jvm_bridge::export_actors!(|builder| builder);
