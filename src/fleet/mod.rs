//! fleet: the live picture of the servers (watchers per host, reconcile, health, log fan-in).

pub mod model;
