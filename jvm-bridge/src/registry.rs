//! Clients by handle. The JVM holds a `long` that names an entry here, never a pointer: a
//! handle that was closed, or never issued, finds nothing and becomes a Java exception.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{LazyLock, Mutex, PoisonError};

use orbit_client::OrbitClient;

static CLIENTS: LazyLock<Mutex<HashMap<i64, OrbitClient>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// Handles start at a value derived from the process id and clock, so a number made up on
/// the Java side (or left over from another process) is unlikely to name a live client.
static NEXT: LazyLock<AtomicI64> = LazyLock::new(|| {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let seed = (i64::from(std::process::id()) << 32) ^ i64::from(nanos);
    AtomicI64::new((seed & 0x3fff_ffff_ffff_ffff) | 0x100_0000)
});

/// Stores `client` and returns its new handle.
pub fn insert(client: OrbitClient) -> i64 {
    let handle = NEXT.fetch_add(1, Ordering::Relaxed);
    CLIENTS.lock().unwrap_or_else(PoisonError::into_inner).insert(handle, client);
    handle
}

/// Returns the client of `handle`.
pub fn get(handle: i64) -> Option<OrbitClient> {
    CLIENTS.lock().unwrap_or_else(PoisonError::into_inner).get(&handle).cloned()
}

/// Removes and returns the client of `handle`.
pub fn remove(handle: i64) -> Option<OrbitClient> {
    CLIENTS.lock().unwrap_or_else(PoisonError::into_inner).remove(&handle)
}
