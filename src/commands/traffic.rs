//! `kdeck proxy traffic [-f] [--json]`: requests per host × app version, read from
//! kamal-proxy's own request log over the shared connections (kdeck only; Kamal has no
//! equivalent). Without `-f` the history is read once; with `-f` the figures are printed
//! again every `--interval` until Ctrl-C.

use super::context::Ctx;
use crate::cli::proxy::TrafficArgs;
use crate::fleet::traffic::{self, fmt_ms as ms, Stats, TrafficOptions, TrafficRow, TrafficSnapshot};
use color_eyre::eyre::{Result, WrapErr};
use std::process::ExitCode;
use std::time::Duration;

pub async fn run(ctx: &Ctx, a: &TrafficArgs) -> Result<ExitCode> {
    let pool = crate::app::context::live_pool(&ctx.app, &ctx.global)?;
    let spec = crate::app::fleet_spec(&ctx.app, &ctx.lock_host);
    let hosts = ctx.app.proxy_hosts();
    if hosts.is_empty() {
        color_eyre::eyre::bail!("no role of {} runs behind kamal-proxy (proxy: false everywhere), so there is no traffic to read", ctx.app.service);
    }
    if !a.follow {
        let (snap, failed) = traffic::follow::read_history(&pool, &spec, &hosts, a.since).await;
        for (h, e) in &failed {
            super::out::err(&format!("{h}: cannot read kamal-proxy's log: {e}"));
        }
        print(&snap, &hosts, a.json)?;
        return Ok(if failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) });
    }
    let opts = TrafficOptions { history_s: Some(a.since), publish_every: Duration::from_secs(1) };
    let (mut rx, _handle) = traffic::follow(&pool, &spec, &hosts, opts);
    let mut every = tokio::time::interval(Duration::from_secs(a.interval));
    every.tick().await;
    loop {
        tokio::select! {
            _ = every.tick() => {
                let snap = rx.borrow_and_update().clone();
                if !print(&snap, &hosts, a.json)? { break }
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints one snapshot; false when stdout is closed (`| head`).
fn print(snap: &TrafficSnapshot, hosts: &[String], json: bool) -> Result<bool> {
    let rows: Vec<&TrafficRow> = snap.rows.iter().filter(|r| r.role.is_some()).collect();
    if json {
        let v = serde_json::json!({ "at": chrono::DateTime::from_timestamp(snap.at, 0), "rows": rows });
        return Ok(super::out::out(&serde_json::to_string(&v).wrap_err("encoding the traffic figures")?));
    }
    Ok(super::out::out(&render(snap.at, &rows, hosts)))
}

fn version_of(r: &TrafficRow) -> String {
    r.info.version.clone().unwrap_or_else(|| if r.target.is_empty() { "(no route)".into() } else { "?".into() })
}

/// The table: one line per host × role × target, hosts without requests named once.
pub fn render(at: i64, rows: &[&TrafficRow], hosts: &[String]) -> String {
    let at = chrono::DateTime::from_timestamp(at, 0).map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string()).unwrap_or_default();
    let mut out = format!("Proxy traffic at {at} (rates over the last 10 s and 1 min; status and latency over 1 min)\n");
    let head = ["HOST", "ROLE", "VERSION", "TARGET", "REQ/S 10s", "REQ/S 1m", "REQS 10m", "2xx", "3xx", "4xx", "5xx", "ERR%", "p50", "p95", "p99"];
    let mut table: Vec<Vec<String>> = vec![head.iter().map(|s| s.to_string()).collect()];
    for r in rows {
        let m: &Stats = &r.last_1m;
        table.push(vec![
            r.host.clone(),
            r.role.clone().unwrap_or_default(),
            version_of(r),
            r.target.clone(),
            format!("{:.1}", r.last_10s.rate),
            format!("{:.1}", m.rate),
            r.last_10m.requests.to_string(),
            m.s2xx.to_string(),
            m.s3xx.to_string(),
            m.s4xx.to_string(),
            m.s5xx.to_string(),
            format!("{:.1}", m.error_pct),
            ms(m.p50_ms),
            ms(m.p95_ms),
            ms(m.p99_ms),
        ]);
    }
    let widths: Vec<usize> = (0..head.len()).map(|i| table.iter().map(|row| row[i].chars().count()).max().unwrap_or(0)).collect();
    for row in &table {
        let cells: Vec<String> =
            row.iter().enumerate().map(|(i, c)| if i >= 4 { format!("{c:>w$}", w = widths[i]) } else { format!("{c:<w$}", w = widths[i]) }).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    for h in hosts.iter().filter(|h| !rows.iter().any(|r| &r.host == *h)) {
        out.push_str(&format!("{h}: no requests in the window read\n"));
    }
    out.trim_end().to_string()
}
