//! Data the fleet watchers maintain and the views draw. Pure data, no I/O.

use crate::deploy::event::LockInfo;
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnState {
    #[default]
    Connecting,
    Up,
    Down { reason: String },
}

/// One container Kamal would recognise as ours (labels service/role/destination).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    pub role: String,
    /// Version parsed from the name (`<prefix>-<version>`, may carry `_replaced_…`).
    pub version: String,
    pub image: String,
    /// Docker state: running, exited, restarting, created, dead, paused.
    pub state: String,
    /// `.State.Health.Status` when the image has a HEALTHCHECK.
    pub health: Option<String>,
    /// Last failing health-check output, if any.
    pub health_failure: Option<String>,
    pub created: Option<DateTime<Utc>>,
    pub started: Option<DateTime<Utc>>,
}

/// What kamal-proxy on this host routes for a role's service name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProxyRoute {
    pub service: String,
    pub target: Option<String>,
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct HostStatus {
    /// Host string exactly as written in deploy.yml.
    pub host: String,
    pub roles: Vec<String>,
    pub conn: ConnState,
    pub containers: Vec<ContainerInfo>,
    /// Current version per role (Kamal's §4.4 query semantics).
    pub current: Vec<(String, String)>,
    pub proxy_running: Option<bool>,
    pub proxy_routes: Vec<ProxyRoute>,
    pub last_seen: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct FleetSnapshot {
    pub service: String,
    pub destination: Option<String>,
    pub image: String,
    pub primary_role: String,
    pub roles: Vec<(String, Vec<String>)>,
    pub hosts: Vec<HostStatus>,
    pub lock: Option<LockInfo>,
}
