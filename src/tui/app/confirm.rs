//! Confirmations: what a deploy, redeploy, rollback or lock release would do, and sending the
//! request once confirmed.

use super::super::dispatch::{Dispatcher, ManageOp, Request};
use super::super::versions::{self, looks_like_production};
use super::{App, Confirm};
use crate::fleet::resources::{room_check, RoomCheck};

impl App {
    /// The operator said yes: send the request (one rollout at a time).
    pub(super) fn confirmed(&mut self, req: Request, d: &mut dyn Dispatcher) {
        let one_at_a_time = matches!(req, Request::Deploy(_) | Request::Redeploy | Request::Rollback { .. } | Request::Manage(_) | Request::Row { .. });
        if self.timeline.is_running() && one_at_a_time {
            self.error("an action is already running");
            return;
        }
        // Only what runs under the deploy lock is refused while someone else holds it.
        let takes_lock = match &req {
            Request::Manage(op) => op.takes_lock(),
            Request::Row { .. } => true,
            other => matches!(other, Request::Deploy(_) | Request::Redeploy | Request::Rollback { .. }),
        };
        if let (Some(l), true) = (&self.fleet.lock, takes_lock) {
            self.error(format!("the deploy lock is held by {} — press L to release it first", l.holder));
            return;
        }
        let boots = matches!(req, Request::Deploy(_) | Request::Redeploy | Request::Rollback { .. })
            || matches!(&req, Request::Row { op: super::super::rows::RowOp::Boot, target, .. } if !matches!(target, super::super::rows::RowTarget::Accessory { .. }));
        if let (Some(p), true) = (self.secret_problems.first(), boots) {
            self.error(format!("{p} — fix the secrets and start kdeck again"));
            return;
        }
        let what = match &req {
            Request::Deploy(c) => {
                let how = match c.mode {
                    super::super::dispatch::DeployMode::Rolling => String::new(),
                    super::super::dispatch::DeployMode::Canary { window_s, .. } => format!(" as a canary ({window_s} s)"),
                    super::super::dispatch::DeployMode::Rollout { window_s, percent, .. } => {
                        format!(" as a rollout canary ({percent} % of kamal-rollout cookies, {window_s} s)")
                    }
                };
                format!("deploy of {} to {}{how}", versions::short_version(&c.version), c.scope.label())
            }
            Request::Redeploy => "redeploy".into(),
            Request::Rollback { version } => format!("rollback to {}", versions::short_version(version)),
            Request::LockRelease => "lock release".into(),
            Request::Manage(op) => op.name().replace('-', " "),
            Request::TrustHostKey { host } => format!("trusting the host key of {host}"),
            Request::Row { op, target, .. } => format!("{} on {}", op.name().trim_start_matches("row-").replace('-', " "), target.label()),
            other => format!("{other:?}"),
        };
        d.dispatch(req);
        self.info(format!("{what} requested"));
    }

    fn confirm_for(&self, title: String, request: Request, version: &str) -> Confirm {
        let dest = self.dest_name();
        let require = self.fleet.destination.clone().filter(|d| looks_like_production(d));
        let version = match versions::current_version(&self.fleet) {
            Some(now) if now != version => format!("{} → {version}", versions::short_version(&now)),
            _ => version.to_string(),
        };
        let mut lines = vec![
            format!("service: {}", self.fleet.service),
            format!("destination: {dest}"),
            format!("version: {version}"),
            format!("hosts: {}", self.all_hosts().join(", ")),
        ];
        if let Some(l) = &self.fleet.lock {
            lines.push(format!("✗ the deploy lock is held by {} ({}): release it first (L)", l.holder, l.message));
        }
        Confirm { title, lines, require, typed: String::new(), request, room: vec![] }
    }

    /// A confirmation for something that boots new containers: with the room check, and the
    /// secrets the new containers would lack.
    pub(super) fn confirm_for_deploy(&self, title: String, request: Request, version: &str) -> Confirm {
        let mut c = self.confirm_for(title, request, version);
        c.lines.extend(self.secret_problems.iter().map(|p| format!("✗ {p}")));
        c.room = self.room_checks();
        if self.resources.is_none() {
            c.lines.push("room for a second copy: unknown (no resource sample yet)".into());
        }
        // What the switch will move: the traffic kamal-proxy serves right now.
        if let Some(t) = self.traffic.as_ref().and_then(|t| t.fleet_total(10)) {
            use crate::fleet::traffic::{fmt_ms, fmt_rate};
            c.lines.push(format!("traffic now: {} · 5xx {:.1}% · p95 {} (last 10 s)", fmt_rate(t.rate), t.error_pct, fmt_ms(t.p95_ms)));
        }
        c
    }

    /// Room for a second copy of every role's container, per host (empty without resources).
    pub fn room_checks(&self) -> Vec<RoomCheck> {
        let Some(snap) = &self.resources else { return vec![] };
        let by_host: Vec<(String, Vec<String>)> = self
            .all_hosts()
            .into_iter()
            .map(|h| {
                let roles = self.fleet.roles.iter().filter(|(_, hs)| hs.contains(&h)).map(|(r, _)| r.clone()).collect();
                (h, roles)
            })
            .collect();
        room_check(snap, &by_host)
    }

    /// `R`: a redeploy of the start version (no new proxy, hooks or accessories).
    pub(super) fn redeploy_confirm(&self) -> Confirm {
        let version = self.next_version.clone().unwrap_or_else(|| "built from git HEAD".into());
        let mut c = self.confirm_for_deploy("Redeploy".into(), Request::Redeploy, &version);
        if self.skip_push {
            c.lines.push("push: skipped (-P: the image must already be in the registry)".into());
        }
        c
    }

    /// Releasing the deploy lock, when it is held (None: there is none to release).
    pub(super) fn lock_release_confirm(&self) -> Option<Confirm> {
        let l = self.fleet.lock.as_ref()?;
        Some(Confirm {
            title: "Release the deploy lock".into(),
            lines: vec![format!("held by {}", l.holder), format!("message: {}", l.message), format!("destination: {}", self.dest_name())],
            require: None,
            typed: String::new(),
            request: Request::LockRelease,
            room: vec![],
        })
    }

    /// A management command: what it does, where, and for the destructive ones the service
    /// name to type.
    pub(super) fn manage_confirm(&self, op: ManageOp) -> Confirm {
        let hosts = self.fleet.hosts.len();
        Confirm {
            title: format!("kdeck {}", op.name().replacen('-', " ", 1)),
            lines: vec![op.effect().to_string(), format!("destination: {} · {hosts} host(s)", self.dest_name())],
            require: op.typed().then(|| self.fleet.service.clone()),
            typed: String::new(),
            request: Request::Manage(op),
            room: vec![],
        }
    }

    /// Trusting the key an unknown host offered (None: the host's key is not the problem).
    pub(super) fn trust_confirm(&self, host: &str) -> Option<Confirm> {
        let key = versions::host(&self.fleet, host)?.unknown_host_key.clone()?;
        Some(Confirm {
            title: format!("Trust the host key of {host}"),
            lines: vec![
                format!("offered key: {key}"),
                "known_hosts does not know it. Compare the fingerprint with the host's own".into(),
                "(ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on it) before you say yes.".into(),
                "yes: written to known_hosts, then the host is dialled again".into(),
            ],
            require: None,
            typed: String::new(),
            request: Request::TrustHostKey { host: host.to_string() },
            room: vec![],
        })
    }

    /// Some proxied role of the app is stopped in kamal-proxy (`app maintenance`).
    pub fn in_maintenance(&self) -> bool {
        self.fleet.hosts.iter().flat_map(|h| &h.proxy_routes).any(|r| r.state == "stopped")
    }
}
