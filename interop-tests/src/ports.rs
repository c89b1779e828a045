//! Free loopback ports.

use std::net::TcpListener;

/// Returns a TCP port that was free on 127.0.0.1 a moment ago.
///
/// The port is released before it is returned, so another process could take it first;
/// tests start their processes right away, which makes that rare on a test machine.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}
