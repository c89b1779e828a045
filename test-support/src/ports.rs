//! Free loopback ports.

use std::net::{Ipv4Addr, TcpListener};

/// Returns a TCP port that was free on 127.0.0.1 a moment ago.
///
/// The port is released before it is returned, so another process could take it first; tests
/// use it at once, which makes that rare. Where a listener can be handed over instead (as
/// [`TestNode`](crate::TestNode) does with its gRPC port), binding port 0 has no such race.
///
/// # Panics
///
/// When no loopback port can be bound (no loopback interface, or no file descriptors left).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap_or_else(|error| panic!("cannot bind a free port on 127.0.0.1: {error}"));
    listener.local_addr().unwrap_or_else(|error| panic!("a bound listener has no address: {error}")).port()
}
