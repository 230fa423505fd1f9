//! The composition root: what both the headless commands and the dashboard stand on. It loads
//! the app ([`context`]: the config as Kamal reads it, narrowed to `-r`/`-h`/`-p`, the lock
//! host, version and performer), builds the one ssh pool ([`context::pool`], one connection per host), and
//! describes the fleet the watchers follow ([`fleet_spec`]). `commands` and `tui` name this
//! module, never each other.

pub mod alias;
pub mod context;
pub mod out;
pub mod preflight;
pub mod staged;
pub mod states;
pub mod targets;
pub mod tunnel;
pub mod workspace;

use crate::fleet::FleetSpec;
use crate::kamal::AppSpec;
use std::time::Duration;

/// What the fleet watcher, log fan-in and resources monitor follow for this app.
pub fn fleet_spec(app: &AppSpec, lock_host: &str) -> FleetSpec {
    let roles = app.roles.iter().map(|r| (r.name.clone(), r.hosts.clone())).collect();
    let mut spec = FleetSpec::new(&app.service, app.destination.as_deref(), &app.repository(), roles);
    spec.primary_role = app.primary_role.clone();
    spec.primary_host = lock_host.to_string();
    spec.retain_containers = app.retain_containers;
    spec.reconcile_every = Duration::from_secs(3);
    spec.accessories = app
        .accessories
        .iter()
        .map(|a| crate::fleet::spec::AccessoryWatch { name: a.name.clone(), service_name: a.service_name.clone(), hosts: a.hosts.clone() })
        .collect();
    spec
}
