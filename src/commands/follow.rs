//! `app logs -f` / `proxy logs -f`: the dashboard's reconnecting log fan-in (`fleet::logs`),
//! printed as merged `host [role]: line`. A host that drops is announced and resumed (without
//! repeated lines) when it is back; a host down at start is announced and followed once it
//! comes up. Connection notices go to stderr so stdout stays the log stream.

use super::context::Ctx;
use crate::fleet::logs::{self, FleetLog, FleetLogLine, FollowOptions, LogScope};
use crate::ssh::ConnState;
use color_eyre::eyre::Result;
use std::process::ExitCode;
use std::time::Duration;
use tokio::sync::mpsc;

/// What to follow.
pub enum Follow {
    /// The current app container of every role on every host in scope.
    App,
    /// The kamal-proxy container on these hosts.
    Proxy(Vec<String>),
}

/// Local stand-in for Kamal's remote `grep` (an invalid pattern matches literally).
pub struct Grep {
    re: regex::Regex,
    invert: bool,
}

impl Grep {
    pub fn new(pattern: &str, options: Option<&str>) -> Grep {
        let opts = options.unwrap_or("");
        let flag = |c: char| opts.split_whitespace().any(|o| o.starts_with('-') && !o.starts_with("--") && o.contains(c));
        let icase = flag('i') || opts.contains("--ignore-case");
        let invert = flag('v') || opts.contains("--invert-match");
        let build = |p: &str| regex::RegexBuilder::new(p).case_insensitive(icase).build();
        let re = build(pattern).unwrap_or_else(|_| build(&regex::escape(pattern)).expect("escaped pattern"));
        Grep { re, invert }
    }
    pub fn keeps(&self, text: &str) -> bool {
        self.re.is_match(text) != self.invert
    }
}

/// The printed form of one log line (Docker's `--timestamps` layout when asked).
pub fn render_line(l: &FleetLogLine, timestamps: bool) -> String {
    let who = if l.role.is_empty() { l.host.clone() } else { format!("{} [{}]", l.host, l.role) };
    match (timestamps, l.ts) {
        (true, Some(ts)) => format!("{who}: {} {}", ts.format("%Y-%m-%dT%H:%M:%S%.9fZ"), l.text),
        _ => format!("{who}: {}", l.text),
    }
}

/// Notice for a stream event (None for lines).
pub fn render_notice(e: &FleetLog) -> Option<String> {
    let who = |h: &str, r: &str| if r.is_empty() { h.to_string() } else { format!("{h} [{r}]") };
    match e {
        FleetLog::Line(_) => None,
        FleetLog::Interrupted { host, role, reason } => {
            Some(format!("-- {}: log stream interrupted ({reason}); resuming when the host is back", who(host, role)))
        }
        FleetLog::Resumed { host, role } => Some(format!("-- {}: log stream resumed", who(host, role))),
        FleetLog::Switched { host, role, container } => Some(format!("-- {}: now following {container}", who(host, role))),
    }
}

/// Connection notices: the first failure and every change between up and down, not each retry.
/// `was_up` is None before the first verdict.
pub fn conn_notice(host: &str, was_up: &mut Option<bool>, st: &ConnState) -> Option<String> {
    match st {
        ConnState::Connecting => None,
        ConnState::Up => {
            let msg = match *was_up {
                Some(false) => Some(format!("-- {host}: reachable again, following its logs")),
                _ => None,
            };
            *was_up = Some(true);
            msg
        }
        ConnState::Down { reason } => {
            let msg = match *was_up {
                None => Some(format!("cannot reach {host}: {reason} (following it once it is up)")),
                Some(true) => Some(format!("-- {host}: connection lost: {reason}; reconnecting")),
                Some(false) => None,
            };
            *was_up = Some(false);
            msg
        }
    }
}

pub async fn run(ctx: &Ctx, what: Follow, tail: Option<u64>, timestamps: bool, grep: Option<Grep>) -> Result<ExitCode> {
    let pool = crate::app::context::live_pool(&ctx.app, &ctx.global)?;
    let spec = crate::app::fleet_spec(&ctx.app, &ctx.lock_host);
    let opts = FollowOptions { since: None, tail, ..Default::default() };
    let (hosts, streams) = match what {
        Follow::App => (ctx.app.all_hosts(), vec![logs::follow(&pool, &spec, LogScope::All, opts)]),
        Follow::Proxy(hosts) => {
            let s = hosts
                .iter()
                .map(|h| logs::follow(&pool, &spec, LogScope::Container { host: h.clone(), container: "kamal-proxy".into() }, opts.clone()))
                .collect();
            (hosts, s)
        }
    };
    // Fan-in of the streams and the connection notices.
    let (tx, mut rx) = mpsc::channel::<FleetLog>(1024);
    let (ntx, mut nrx) = mpsc::unbounded_channel::<String>();
    let mut handles = vec![];
    let mut tasks = vec![];
    for (mut srx, h) in streams {
        handles.push(h);
        let tx = tx.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(e) = srx.recv().await {
                if tx.send(e).await.is_err() {
                    break;
                }
            }
        }));
    }
    drop(tx);
    for h in hosts {
        let mut st = pool.get(&h).state();
        let ntx = ntx.clone();
        tasks.push(tokio::spawn(async move {
            let mut was_up = None;
            loop {
                let s = st.borrow_and_update().clone();
                if let Some(m) = conn_notice(&h, &mut was_up, &s) {
                    let _ = ntx.send(m);
                }
                if st.changed().await.is_err() {
                    break;
                }
            }
        }));
    }
    drop(ntx);
    loop {
        tokio::select! {
            m = rx.recv() => match m {
                Some(FleetLog::Line(l)) => {
                    if grep.as_ref().is_some_and(|g| !g.keeps(&l.text)) {
                        continue;
                    }
                    // A closed pipe (`| head`) ends the follow quietly.
                    if !super::out::out(&render_line(&l, timestamps)) {
                        break;
                    }
                }
                Some(e) => {
                    if let Some(n) = render_notice(&e) {
                        super::out::err(&n);
                    }
                }
                None => break,
            },
            Some(n) = nrx.recv() => { super::out::err(&n); }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    drop(handles);
    for t in tasks {
        t.abort();
    }
    // Give the sessions a moment to close cleanly.
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_down_at_start_then_up_is_announced_once_each() {
        let mut w = None;
        let down = ConnState::Down { reason: "Connection refused".into() };
        assert_eq!(conn_notice("h3", &mut w, &ConnState::Connecting), None);
        assert!(conn_notice("h3", &mut w, &down).unwrap().starts_with("cannot reach h3: Connection refused"));
        assert_eq!(conn_notice("h3", &mut w, &ConnState::Connecting), None);
        assert_eq!(conn_notice("h3", &mut w, &down), None, "no notice per retry");
        assert!(conn_notice("h3", &mut w, &ConnState::Up).unwrap().contains("h3: reachable again"));
    }

    #[test]
    fn drop_and_return_are_announced() {
        let mut w = None;
        assert_eq!(conn_notice("h1", &mut w, &ConnState::Up), None, "normal start is quiet");
        let m = conn_notice("h1", &mut w, &ConnState::Down { reason: "eof".into() }).unwrap();
        assert!(m.contains("h1: connection lost: eof"), "{m}");
        assert!(conn_notice("h1", &mut w, &ConnState::Up).is_some());
    }

    #[test]
    fn stream_notices_and_lines() {
        let i = FleetLog::Interrupted { host: "h".into(), role: "web".into(), reason: "x".into() };
        assert!(render_notice(&i).unwrap().contains("h [web]: log stream interrupted"));
        assert!(render_notice(&FleetLog::Resumed { host: "h".into(), role: "web".into() }).unwrap().contains("resumed"));
        let ts = chrono::DateTime::parse_from_rfc3339("2026-11-22T17:00:00.5Z").unwrap().with_timezone(&chrono::Utc);
        let l = FleetLogLine { host: "h".into(), role: "web".into(), container: "c".into(), ts: Some(ts), stderr: false, text: "hi".into() };
        assert_eq!(render_line(&l, true), "h [web]: 2026-11-22T17:00:00.500000000Z hi");
        assert_eq!(render_line(&l, false), "h [web]: hi");
    }

    #[test]
    fn grep_like_kamal() {
        assert!(Grep::new("tick [0-9]", None).keeps("tick 5"));
        assert!(!Grep::new("TICK", None).keeps("tick"));
        assert!(Grep::new("TICK", Some("-i")).keeps("tick"));
        assert!(Grep::new("tick", Some("-v")).keeps("tock"));
        assert!(Grep::new("it's (", None).keeps("so it's ( here"), "invalid regex matches literally");
    }
}
