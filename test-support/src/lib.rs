//! Helpers that the workspace's tests share, so that each exists once.
//!
//! * `node`: [`TestNode`], an orbit-node started in this process on a free loopback port, and
//!   stopped gracefully by [`TestNode::stop`] or on drop.
//! * `ports`: [`free_port`], a loopback port for a process or endpoint a test starts.
//! * `identity`: [`with_identity`], a request with the `namespace` / `nodekey` metadata through
//!   which an Orbit client names itself.
//! * `eventually`: [`assert_eventually`], which polls a condition on tokio's clock until it holds
//!   or a deadline passes (so it also works under `#[tokio::test(start_paused = true)]`).
//!
//! A dev-dependency of `orbit-node` and `orbit-client`, and a dependency of `interop-tests`. It
//! depends on `orbit-node` (to run one in process), so library code must not depend on it: a
//! client user would get the server with it.

mod eventually;
mod identity;
mod node;
mod ports;

pub use self::eventually::assert_eventually;
pub use self::identity::with_identity;
pub use self::node::{NodeOptions, TestNode};
pub use self::ports::free_port;
