//! fleet: the live picture of the servers (watchers per host, reconcile, health, log fan-in,
//! host and container resources, prune preview).
//!
//! - [`Watcher::spawn`] → `watch::Receiver<FleetSnapshot>` (events + reconcile + lock).
//! - [`logs::follow`] → merged, host/role-tagged log lines of a scope, resumed after reconnects.
//! - [`traffic::follow`] → `watch::Receiver<TrafficSnapshot>`: requests/s, status classes and
//!   latency per host × service × target, read from kamal-proxy's request log.
//! - [`resources::Monitor::spawn`] → `watch::Receiver<ResourceSnapshot>`; [`resources::sample_once`]
//!   for headless use; [`resources::room_check`] and [`prune::plan`] are pure.
//!
//! Everything takes a plain-data [`FleetSpec`].

pub mod apps;
mod error;
pub mod logs;
pub mod model;
pub mod prune;
pub mod raw;
pub mod resources;
pub mod spec;
pub mod traffic;
pub mod versions;
pub mod watcher;

pub use error::FleetError;
pub use spec::FleetSpec;
pub use watcher::{Watcher, WatcherHandle};
