//! `kdeck rollback` without VERSION: the versions a rollback can choose (a container of the
//! version on every host of every role, newest first, with its age and the audit line that
//! booted it), the same list as the dashboard's picker, picked with the keyboard on a terminal;
//! without one the list is printed and the command fails asking for VERSION.

use super::context::Ctx;
use crate::docker::ContainerInfo;
use crate::fleet::model::{FleetSnapshot, HostStatus};
use crate::fleet::versions::{booted_line, rollback_choices, short_version, VersionChoice};
use crate::kamal::cmd;
use chrono::{DateTime, Utc};
use color_eyre::eyre::{eyre, Result};
use futures::future::join_all;

/// The choices, each with the audit line that booted it (the primary host's log), or `None`.
pub async fn choices(ctx: &Ctx) -> Result<Vec<(VersionChoice, Option<String>)>> {
    let snap = snapshot(ctx).await?;
    let audit = match ctx.app.primary_host().and_then(|h| ctx.remotes.get(&h).cloned()) {
        Some(r) => r.exec(&cmd::audit_tail(&ctx.app)).await.map(|o| o.stdout).unwrap_or_default(),
        None => String::new(),
    };
    Ok(rollback_choices(&snap)
        .into_iter()
        .map(|c| {
            let line = booted_line(audit.lines(), &c.version);
            (c, line)
        })
        .collect())
}

/// What the hosts hold: every container of every role in scope, and the current versions.
async fn snapshot(ctx: &Ctx) -> Result<FleetSnapshot> {
    let app = &ctx.app;
    let hosts = app.all_hosts();
    let per_host = hosts.iter().map(|h| async move {
        let r = ctx.remotes.get(h).ok_or_else(|| eyre!("no connection to {h}"))?;
        let mut status = HostStatus { host: h.clone(), ..Default::default() };
        for role in app.roles_on(h) {
            let table = r.exec(&cmd::role_containers_table(app, &role.name)).await?;
            if !table.ok() {
                return Err(eyre!("{h}: {}", table.combined().trim()));
            }
            let prefix = format!("{}-", app.prefix(&role.name));
            status.containers.extend(table.stdout.lines().filter_map(|l| container(l, &prefix, &role.name)));
            let current = r.exec(&cmd::current_running_version(app, &role.name)).await?.stdout.trim().to_string();
            status.current.push((role.name.clone(), current));
            status.roles.push(role.name.clone());
        }
        Ok::<_, color_eyre::Report>(status)
    });
    let hosts_status = join_all(per_host).await.into_iter().collect::<Result<Vec<_>>>()?;
    Ok(FleetSnapshot {
        service: app.service.clone(),
        destination: app.destination.clone(),
        primary_role: app.primary_role.clone(),
        roles: app.roles.iter().map(|r| (r.name.clone(), r.hosts.clone())).collect(),
        hosts: hosts_status,
        ..Default::default()
    })
}

/// One `name<TAB>state<TAB>created` line of a role's container.
fn container(line: &str, prefix: &str, role: &str) -> Option<ContainerInfo> {
    let mut f = line.split('\t');
    let (name, state, created) = (f.next()?, f.next()?, f.next()?);
    let version = name.strip_prefix(prefix)?.to_string();
    Some(ContainerInfo { name: name.into(), role: role.into(), version, state: state.into(), created: created_at(created), ..Default::default() })
}

/// Docker's `CreatedAt` (`2026-12-02 19:00:00 +0000 UTC`).
fn created_at(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim().trim_end_matches(|c: char| c.is_ascii_alphabetic()).trim_end();
    DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S %z").ok().map(|d| d.with_timezone(&Utc))
}

/// One row of the list: version, age, and what marks it (current, missing, who booted it).
pub fn row(now: DateTime<Utc>, c: &VersionChoice, audit: Option<&str>) -> String {
    let age = crate::fleet::versions::ago(now, c.created);
    let note = if c.current {
        "current".to_string()
    } else if !c.missing.is_empty() {
        format!("missing on {}", c.missing.join(", "))
    } else {
        audit.unwrap_or_default().to_string()
    };
    format!("{:<12} {:>10}  {note}", short_version(&c.version), age)
}

/// The version to roll back to: picked on a terminal, else the list printed and an error.
pub async fn pick(ctx: &Ctx) -> Result<Option<String>> {
    use std::io::IsTerminal;
    let list = choices(ctx).await?;
    let now = Utc::now();
    let rows: Vec<String> = list.iter().map(|(c, a)| row(now, c, a.as_deref())).collect();
    let ok: Vec<bool> = list.iter().map(|(c, _)| c.selectable()).collect();
    if !ok.iter().any(|o| *o) {
        super::out::err(&rows.join("\n"));
        return Err(eyre!("no version to roll back to: none other than the current one has a container on every host of every role"));
    }
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        crate::outln!("Versions with a container on every host of every role, newest first:");
        for (r, _) in rows.iter().zip(&ok).filter(|(_, o)| **o) {
            crate::outln!("  {r}");
        }
        return Err(eyre!("pass the version to roll back to: kdeck rollback VERSION"));
    }
    let title = "Roll back to… (versions with a container on every host of every role, newest first)";
    Ok(super::picker::choose(title, &rows, &ok)?.map(|i| list[i].0.version.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_lines_and_docker_times_parse() {
        let c = container("app-web-v2\texited\t2026-12-02 19:00:00 +0000 UTC", "app-web-", "web").unwrap();
        assert_eq!((c.version.as_str(), c.state.as_str()), ("v2", "exited"));
        assert_eq!(c.created.unwrap().to_rfc3339(), "2026-12-02T19:00:00+00:00");
        assert!(container("other-v2\texited\tx", "app-web-", "web").is_none());
        assert!(container("garbage", "app-web-", "web").is_none());
    }

    #[test]
    fn the_audit_line_that_booted_a_version_is_the_last_one() {
        let audit = "[2026-12-01T10:00:00Z] [ops@x] [web] Booted app version v2\n[2026-12-01T11:00:00Z] [ops@x] [web] Booted app version v22\n[2026-12-02T10:00:00Z] [dev@x] [web] Booted app version v2\n";
        assert_eq!(booted_line(audit.lines(), "v2").as_deref(), Some("booted [2026-12-02T10:00:00Z] [dev@x] [web]"));
        assert_eq!(booted_line(audit.lines(), "v3"), None);
    }
}
