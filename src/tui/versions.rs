//! What the views derive from a [`FleetSnapshot`]: the role → host tree and the ages and
//! durations they show; the version facts (what a host runs, where hosts disagree, what can be
//! rolled back to) are `fleet::versions`, shared with the headless commands.

pub use crate::fleet::versions::*;

use crate::fleet::model::FleetSnapshot;

/// One line of the fleet tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeRow {
    Role {
        role: String,
        hosts: usize,
    },
    Host {
        role: String,
        host: String,
    },
    /// The "accessories" group under the roles (only when the app has accessories).
    Accessories {
        count: usize,
        collapsed: bool,
    },
    /// One accessory on one of its hosts.
    Accessory {
        name: String,
        host: String,
    },
}

/// The tree with the accessories group open.
pub fn tree(s: &FleetSnapshot) -> Vec<TreeRow> {
    tree_view(s, false)
}

/// Roles with their hosts, then the accessories group (a row per accessory × host unless
/// `collapsed`).
pub fn tree_view(s: &FleetSnapshot, collapsed: bool) -> Vec<TreeRow> {
    let mut out = Vec::new();
    for (role, hosts) in &s.roles {
        out.push(TreeRow::Role { role: role.clone(), hosts: hosts.len() });
        for h in hosts {
            out.push(TreeRow::Host { role: role.clone(), host: h.clone() });
        }
    }
    if !s.accessories.is_empty() {
        out.push(TreeRow::Accessories { count: s.accessories.len(), collapsed });
        if !collapsed {
            for (name, hosts) in &s.accessories {
                for h in hosts {
                    out.push(TreeRow::Accessory { name: name.clone(), host: h.clone() });
                }
            }
        }
    }
    out
}

/// Step elapsed: 0.4s, 12.3s, 2m05s.
pub fn elapsed(d: std::time::Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1}s")
    } else {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

/// Names that call for typing the destination before a deploy.
pub fn looks_like_production(dest: &str) -> bool {
    let d = dest.to_ascii_lowercase();
    d.contains("prod") || d == "live" || d == "prd"
}
