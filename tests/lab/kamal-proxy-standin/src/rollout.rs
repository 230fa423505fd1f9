//! `kamal-proxy rollout deploy|set|stop`, as kamal-proxy v0.9.2 does them (`internal/cmd/
//! rollout_*.go`, `internal/server/rollout_controller.go`, `Router.SetRolloutTargets`):
//!
//! - `rollout deploy <service> --target T [--read-target R] [--deploy-timeout D]
//!   [--drain-timeout D]`: the service must exist; T is health-checked with the service's own
//!   health-check settings (from its last `deploy`), then becomes the service's rollout target
//!   (a previous rollout target is drained). No traffic goes to it until `rollout set`.
//! - `rollout set <service> --percent N | --list a,b` (at least one): the split. Fails with
//!   `rollout target not set` when the service has none.
//! - `rollout stop <service>`: the split is removed; the rollout target stays in the state but
//!   gets no request (as in kamal-proxy, which only clears its rollout controller).
//!
//! Routing (per request): no `kamal-rollout` cookie (or an empty one) → the live target; its
//! value in the list → the rollout target; else the value's 32-bit FNV-1a hash, as a float, at
//! most `0xFFFFFFFF × percent / 100` → the rollout target.

use crate::flags::{self, Kind::Value};
use crate::{health_check, log_event, save_state, Reply, Shared};
use std::time::{Duration, Instant};

/// The cookie kamal-proxy splits on.
pub const COOKIE: &str = "kamal-rollout";

/// A service's traffic split (kamal-proxy's `RolloutController`).
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    pub percent: i64,
    pub list: Vec<String>,
}

/// Go's `hash/fnv` New32a.
pub fn fnv1a32(value: &str) -> u32 {
    let mut h: u32 = 0x811c9dc5;
    for b in value.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x01000193);
    }
    h
}

impl Split {
    /// Whether a request with this `kamal-rollout` value goes to the rollout target.
    pub fn uses_rollout(&self, value: &str) -> bool {
        if value.is_empty() {
            return false;
        }
        if self.list.iter().any(|v| v == value) {
            return true;
        }
        let point = f64::from(u32::MAX) * (self.percent as f64 / 100.0);
        f64::from(fnv1a32(value)) <= point
    }
}

/// The first valid `kamal-rollout` cookie of the request, as Go's `Request.Cookie` reads it:
/// every `Cookie` header, `;`-separated pairs, a value in double quotes unquoted, a value with
/// a byte outside printable ASCII (or `"`, `;`, `\`) skipped.
pub fn cookie(headers: &[(String, String)]) -> String {
    for (_, v) in headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("Cookie")) {
        for part in v.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, val) = part.split_once('=').unwrap_or((part, ""));
            if name != COOKIE {
                continue;
            }
            let val = if val.len() > 1 && val.starts_with('"') && val.ends_with('"') { &val[1..val.len() - 1] } else { val };
            if val.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b';' && b != b'\\') {
                return val.to_string();
            }
        }
    }
    String::new()
}

fn one_service(p: &flags::Parsed) -> Result<String, String> {
    match p.positional.as_slice() {
        [n] => Ok(n.clone()),
        _ => Err(format!("accepts 1 arg(s), received {}", p.positional.len())),
    }
}

/// `rollout <sub> …`; the exit code.
pub fn dispatch(shared: &Shared, args: &[String], r: &mut Reply) -> i32 {
    let res = match args.first().map(String::as_str) {
        None | Some("--help") | Some("-h") | Some("help") => {
            r.line(1, "Manage rollout settings\n\nUsage:\n  kamal-proxy rollout [command]\n\nAvailable Commands:\n  deploy      Deploy the rollout target\n  set         Set traffic split for rollout\n  stop        Stops rollout of a service");
            return 0;
        }
        Some("deploy") => deploy(shared, &args[1..]),
        Some("set") => set(shared, &args[1..]),
        Some("stop") => stop(shared, &args[1..]),
        Some(other) => Err(format!("unknown command \"{other}\" for \"kamal-proxy rollout\"")),
    };
    match res {
        Ok(()) => 0,
        Err(e) => {
            r.line(2, &format!("Error: {e}"));
            1
        }
    }
}

fn deploy(shared: &Shared, args: &[String]) -> Result<(), String> {
    let p = flags::parse(args, &[("target", Value), ("read-target", Value), ("deploy-timeout", Value), ("drain-timeout", Value), ("help", flags::Kind::Bool)])?;
    let name = one_service(&p)?;
    // StringSlice flags: repeatable, commas split.
    let targets: Vec<String> = p.all("target").iter().flat_map(|t| t.split(',')).map(str::to_string).filter(|t| !t.is_empty()).collect();
    let Some(target) = targets.first().cloned() else { return Err("required flag(s) \"target\" not set".into()) };
    crate::dns::split_host_port(&target).map_err(|e| e.to_string())?;
    let deploy_timeout = p.duration("deploy-timeout", Duration::from_secs(30))?;
    let drain_timeout = p.duration("drain-timeout", Duration::from_secs(30))?;
    let health = shared.services.lock().unwrap().get(&name).map(|s| s.health.clone()).ok_or("service not found")?;
    log_event("INFO", "Deploying for rollout", &[("service", name.clone()), ("targets", target.clone())]);
    let deadline = Instant::now() + deploy_timeout;
    loop {
        let started = Instant::now();
        let left = deadline.saturating_duration_since(started);
        if left.is_zero() {
            return Err(format!("target failed to become healthy within configured timeout ({})", flags::format_duration(deploy_timeout)));
        }
        match health_check(&target, &health.path, health.host.as_deref(), health.port, health.timeout.min(left)) {
            Ok(_) => break,
            Err(e) => log_event("INFO", "Healthcheck failed", &[("target", target.clone()), ("path", health.path.clone()), ("error", e)]),
        }
        std::thread::sleep(health.interval.saturating_sub(started.elapsed()).min(deadline.saturating_duration_since(Instant::now())));
    }
    let old = {
        let mut services = shared.services.lock().unwrap();
        let s = services.get_mut(&name).ok_or("service not found")?;
        let old = std::mem::replace(&mut s.rollout_target, target.clone());
        save_state(&services);
        shared.changed.notify_all();
        old
    };
    if !old.is_empty() && old != target {
        crate::drain(shared, &old, drain_timeout);
    }
    log_event("INFO", "Deployed for rollout", &[("service", name), ("targets", target)]);
    Ok(())
}

fn set(shared: &Shared, args: &[String]) -> Result<(), String> {
    let p = flags::parse(args, &[("percent", Value), ("list", Value), ("help", flags::Kind::Bool)])?;
    let name = one_service(&p)?;
    if p.one("percent").is_none() && p.one("list").is_none() {
        return Err("at least one of the flags in the group [percent list] is required".into());
    }
    let percent = match p.one("percent") {
        None => 0,
        Some(v) => {
            v.parse::<i64>().map_err(|_| format!("invalid argument \"{v}\" for \"--percent\" flag: strconv.ParseInt: parsing \"{v}\": invalid syntax"))?
        }
    };
    let list: Vec<String> = p.all("list").iter().flat_map(|v| v.split(',')).map(str::to_string).collect();
    let mut services = shared.services.lock().unwrap();
    let s = services.get_mut(&name).ok_or("service not found")?;
    if s.rollout_target.is_empty() {
        return Err("rollout target not set".into());
    }
    s.split = Some(Split { percent, list: list.clone() });
    save_state(&services);
    shared.changed.notify_all();
    log_event("INFO", "Set rollout split", &[("service", name), ("percentage", percent.to_string()), ("allowlist", list.join(","))]);
    Ok(())
}

fn stop(shared: &Shared, args: &[String]) -> Result<(), String> {
    let p = flags::parse(args, &[("help", flags::Kind::Bool)])?;
    let name = one_service(&p)?;
    let mut services = shared.services.lock().unwrap();
    let s = services.get_mut(&name).ok_or("service not found")?;
    s.split = None;
    save_state(&services);
    shared.changed.notify_all();
    log_event("INFO", "Stopped rollout", &[("service", name)]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_go() {
        // hash/fnv New32a reference values
        assert_eq!(fnv1a32(""), 0x811c9dc5);
        assert_eq!(fnv1a32("a"), 0xe40c292c);
        assert_eq!(fnv1a32("foobar"), 0xbf9cf968);
    }

    #[test]
    fn split_by_list_then_percentage() {
        let s = Split { percent: 0, list: vec!["alice".into()] };
        assert!(s.uses_rollout("alice"));
        assert!(!s.uses_rollout("bob"));
        assert!(!s.uses_rollout(""));
        let all = Split { percent: 100, list: vec![] };
        assert!(all.uses_rollout("anyone"));
        assert!(!all.uses_rollout(""), "no cookie: always the live target");
        let half = Split { percent: 50, list: vec![] };
        let n = (0..1000).filter(|i| half.uses_rollout(&format!("user-{i}"))).count();
        assert!((400..600).contains(&n), "{n}");
        // "a" hashes to 0xe40c292c (89 % of the range): in at 90 %, out at 89 %.
        assert!(Split { percent: 90, list: vec![] }.uses_rollout("a"));
        assert!(!Split { percent: 89, list: vec![] }.uses_rollout("a"));
    }

    #[test]
    fn cookie_as_go_reads_it() {
        let h = |v: &str| vec![("Cookie".to_string(), v.to_string())];
        assert_eq!(cookie(&h("a=1; kamal-rollout=user-7; b=2")), "user-7");
        assert_eq!(cookie(&h("kamal-rollout=\"quoted\"")), "quoted");
        assert_eq!(cookie(&h("kamal-rollout=bad\\value; kamal-rollout=good")), "good");
        assert_eq!(cookie(&h("other=x")), "");
        assert_eq!(cookie(&[]), "");
    }
}
