//! Cost of live traffic figures (`fleet::traffic`): what the dashboard and `proxy traffic -f`
//! do per request kamal-proxy logs — split Docker's timestamp, parse the JSON line, count it in
//! its host × service × target series — and once a second, the snapshot of every series.
//!
//! Pure CPU, no lab: lines in kamal-proxy v0.9.2's format for 50 hosts × 2 targets, fed as
//! fast as one core takes them. The figure that matters is the share of one core that
//! 5,000 requests per second across the fleet costs (target: < 5 %).
//!
//! `cargo bench --bench traffic`

use kdeck::docker::{LogLine, LogSource};
use kdeck::fleet::traffic::TrafficBook;
use kdeck::kamal::proxy_log::ProxyRequest;
use std::time::Instant;

const HOSTS: usize = 50;
const LINES: usize = 1_000_000;

fn line(i: usize, t: i64) -> String {
    let target = if i % 3 == 0 { "e5d03b25accc:80" } else { "9a1f00c2b7de:80" };
    let status = if i % 97 == 0 { 502 } else { 200 };
    let ts = chrono::DateTime::from_timestamp(t, (i % 1000) as u32 * 1_000_000).unwrap();
    format!(
        "{} {{\"time\":\"{}\",\"level\":\"INFO\",\"msg\":\"Request\",\"host\":\"app.example.com\",\"port\":80,\"path\":\"/posts/{i}\",\"request_id\":\"\",\"status\":{status},\"service\":\"app-web\",\"target\":\"{target}\",\"duration\":{},\"method\":\"GET\",\"req_content_length\":0,\"req_content_type\":\"\",\"resp_content_length\":5120,\"resp_content_type\":\"text/html; charset=utf-8\",\"client_addr\":\"10.0.0.1\",\"client_port\":\"51234\",\"remote_addr\":\"203.0.113.7\",\"user_agent\":\"Mozilla/5.0 (X11; Linux x86_64)\",\"proto\":\"HTTP/1.1\",\"scheme\":\"https\",\"query\":\"page=2\"}}",
        ts.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        1_000_000 + (i % 5000) * 10_000,
    )
}

fn main() {
    let t0 = chrono::Utc::now().timestamp() - 60;
    // 1,000 lines per simulated second, spread over the hosts.
    let lines: Vec<(String, String)> =
        (0..LINES).map(|i| (format!("10.0.{}.{}", i % HOSTS / 250, 10 + i % HOSTS), line(i, t0 + (i / 1000 % 60) as i64))).collect();
    let mut book = TrafficBook::default();
    let start = Instant::now();
    for (host, raw) in &lines {
        let l = LogLine::parse(raw, LogSource::Stdout, true);
        if let Some(req) = ProxyRequest::parse(&l.text) {
            book.record(host, &req, 0);
        }
    }
    let per_line = start.elapsed().as_secs_f64() / LINES as f64;
    let now = t0 + 61;
    let snaps = 20;
    let start = Instant::now();
    let mut rows = 0;
    for _ in 0..snaps {
        rows = book.snapshot(now, &|s| Some(s.to_string())).rows.len();
    }
    let per_snap = start.elapsed().as_secs_f64() / snaps as f64;
    let at_5000 = 5000.0 * per_line + per_snap;
    println!("traffic: {LINES} lines, {HOSTS} hosts, {rows} series");
    println!("  per request line (split + parse + count): {:.2} µs", per_line * 1e6);
    println!("  snapshot of {rows} series (once a second): {:.2} ms", per_snap * 1e3);
    println!("  5,000 req/s across the fleet: {:.2} % of one core (parse + count + 1 snapshot/s)", at_5000 * 100.0);
}
