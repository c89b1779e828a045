//! Free loopback ports.
//!
//! A port bound to 0 comes from the kernel's ephemeral range, the same range every outgoing
//! connection takes its local port from. Between the moment a test learns such a port and the
//! moment the server it starts binds it (seconds, for a JVM), one of the many connections the
//! tests open can take it, and the server fails with `Address already in use`. So ports are
//! handed out from below the ephemeral range, where no outgoing connection lands: each test
//! process walks its own stretch (chosen from its process id), skipping ports that cannot be
//! bound.

use std::net::{Ipv4Addr, TcpListener};
use std::sync::atomic::{AtomicU32, Ordering};

/// The lowest port handed out: above the well-known and most registered service ports.
const FIRST: u32 = 20_000;
/// Where the kernel's ephemeral range starts when it cannot be read (Linux's default).
const DEFAULT_EPHEMERAL_START: u32 = 32_768;
/// How many consecutive ports one process walks before it starts again at its first one.
const STRETCH: u32 = 1_000;

/// How far into its stretch this process is (counted from a start chosen by the process id,
/// so processes that share a stretch do not walk it in step).
static NEXT: AtomicU32 = AtomicU32::new(0);

/// Returns a TCP port that was free on 127.0.0.1 a moment ago, outside the kernel's ephemeral
/// port range.
///
/// The port is released before it is returned, so another process could still take it first;
/// outside the ephemeral range only another test's server can, and each test process walks
/// its own stretch of ports. Where a listener can be handed over instead (as
/// [`TestNode`](crate::TestNode) does with its gRPC port), binding port 0 has no race at all.
///
/// # Panics
///
/// When no loopback port can be bound (no loopback interface, or no file descriptors left).
pub fn free_port() -> u16 {
    let ephemeral_start = ephemeral_range_start().max(FIRST + STRETCH);
    let stretches = ((ephemeral_start - FIRST) / STRETCH).max(1);
    let base = FIRST + (std::process::id() % stretches) * STRETCH;
    for _ in 0..STRETCH {
        let offset = (NEXT.fetch_add(1, Ordering::Relaxed) + std::process::id() / stretches) % STRETCH;
        let Ok(port) = u16::try_from(base + offset) else { continue };
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
    // Every port of the stretch is taken: fall back to one the kernel picks.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap_or_else(|error| panic!("cannot bind a free port on 127.0.0.1: {error}"));
    listener.local_addr().unwrap_or_else(|error| panic!("a bound listener has no address: {error}")).port()
}

/// The first port of the kernel's ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`).
fn ephemeral_range_start() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next().and_then(|first| first.parse().ok()))
        .unwrap_or(DEFAULT_EPHEMERAL_START)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_come_from_below_the_ephemeral_range_and_do_not_repeat() {
        let ports: Vec<u16> = (0..50).map(|_| free_port()).collect();
        let start = ephemeral_range_start();
        assert!(ports.iter().all(|p| u32::from(*p) >= FIRST), "{ports:?}");
        if start >= FIRST + STRETCH {
            assert!(ports.iter().all(|p| u32::from(*p) < start), "below the ephemeral range {start}: {ports:?}");
        }
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ports.len(), "{ports:?}");
    }
}
