//! What the fleet watchers need to know about the app: plain data, so the fleet module does
//! not depend on the config module's API (the caller maps its `Config` onto this).

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct FleetSpec {
    pub service: String,
    pub destination: Option<String>,
    /// `<registry.server>/<image>` (Kamal's `<repo>`).
    pub repository: String,
    /// `latest` or `latest-<dest>`.
    pub latest_tag: String,
    /// Role → hosts, in deploy.yml order (primary role first is not required).
    pub roles: Vec<(String, Vec<String>)>,
    pub primary_role: String,
    /// The lock host (Kamal: first host of the primary role).
    pub primary_host: String,
    /// `.kamal/lock-<sd>` relative to the login dir.
    pub lock_dir: String,
    /// Kamal's `retain_containers` (default 5), for the prune preview.
    pub retain_containers: usize,
    /// Periodic full reconcile besides Docker events.
    pub reconcile_every: Duration,
    /// The app's accessories (deploy.yml order), watched on their hosts next to the roles.
    pub accessories: Vec<AccessoryWatch>,
}

/// An accessory as the watcher needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessoryWatch {
    /// The key under `accessories:`.
    pub name: String,
    /// Container name and `service` label (`<service>-<name>` or the accessory's `service:`).
    pub service_name: String,
    /// `host`, `hosts` or the hosts of `role(s)`.
    pub hosts: Vec<String>,
}

impl FleetSpec {
    /// Kamal's defaults derived from service, destination, repository and roles.
    pub fn new(service: &str, destination: Option<&str>, repository: &str, roles: Vec<(String, Vec<String>)>) -> Self {
        let primary_role =
            if roles.iter().any(|(r, _)| r == "web") { "web".to_string() } else { roles.first().map(|(r, _)| r.clone()).unwrap_or_else(|| "web".into()) };
        let primary_host = roles.iter().find(|(r, _)| *r == primary_role).and_then(|(_, h)| h.first().cloned()).unwrap_or_default();
        let sd = crate::kamal::app::service_and_destination(service, destination);
        FleetSpec {
            service: service.into(),
            destination: destination.map(str::to_string),
            repository: repository.into(),
            latest_tag: crate::config::latest_tag(destination),
            roles,
            primary_role,
            primary_host,
            lock_dir: crate::kamal::lock::lock_dir(&sd),
            retain_containers: 5,
            reconcile_every: Duration::from_secs(5),
            accessories: vec![],
        }
    }

    /// Every host once, in role order.
    pub fn hosts(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for (_, hs) in &self.roles {
            for h in hs {
                if !v.contains(h) {
                    v.push(h.clone());
                }
            }
        }
        v
    }

    /// Every host to watch: the roles' hosts, then accessory hosts outside every role.
    pub fn watched_hosts(&self) -> Vec<String> {
        let mut v = self.hosts();
        for a in &self.accessories {
            for h in &a.hosts {
                if !v.contains(h) {
                    v.push(h.clone());
                }
            }
        }
        v
    }

    /// The accessories placed on `host`.
    pub fn accessories_of(&self, host: &str) -> Vec<&AccessoryWatch> {
        self.accessories.iter().filter(|a| a.hosts.iter().any(|h| h == host)).collect()
    }

    pub fn roles_of(&self, host: &str) -> Vec<String> {
        self.roles.iter().filter(|(_, hs)| hs.iter().any(|h| h == host)).map(|(r, _)| r.clone()).collect()
    }

    /// `<svc>-<role>[-<dest>]`: container name prefix and kamal-proxy service name.
    pub fn prefix(&self, role: &str) -> String {
        match &self.destination {
            Some(d) => format!("{}-{role}-{d}", self.service),
            None => format!("{}-{role}", self.service),
        }
    }

    /// `<repo>:<latest>`.
    pub fn latest_image(&self) -> String {
        format!("{}:{}", self.repository, self.latest_tag)
    }

    /// Kamal's label filter for this destination (optionally one role).
    pub fn filter(&self, role: Option<&str>) -> crate::docker::LabelFilter {
        crate::docker::LabelFilter {
            service: self.service.clone(),
            role: role.map(str::to_string),
            destination: self.destination.clone(),
            any_destination: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kamal_defaults() {
        let s =
            FleetSpec::new("app", Some("staging"), "r:5000/app", vec![("worker".into(), vec!["h2".into()]), ("web".into(), vec!["h1".into(), "h2".into()])]);
        assert_eq!(s.primary_role, "web");
        assert_eq!(s.primary_host, "h1");
        assert_eq!(s.lock_dir, ".kamal/lock-app-staging");
        assert_eq!(s.latest_image(), "r:5000/app:latest-staging");
        assert_eq!(s.prefix("web"), "app-web-staging");
        assert_eq!(s.hosts(), vec!["h2", "h1"]);
        assert_eq!(s.roles_of("h2"), vec!["worker", "web"]);
    }
}
