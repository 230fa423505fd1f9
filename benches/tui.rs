//! Dashboard benchmarks (plain binary, `cargo bench --bench tui`): frame draw time with 50 hosts
//! and 100k buffered log lines, log ingest rate, key-to-frame latency under a log flood, and
//! memory with 1M lines ingested. Prints one line per figure (README "Dashboard").

#[path = "../tests/support/tui_fixtures.rs"]
mod fx;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use kdeck::fleet::model::FleetSnapshot;
use kdeck::tui::dispatch::Recorder;
use kdeck::tui::{draw, run_loop, App, LogLine, Update};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::time::{Duration, Instant};

fn fleet50() -> FleetSnapshot {
    let mut s = fx::fleet();
    let base = s.hosts[0].clone();
    let job = s.hosts[2].clone();
    s.hosts.clear();
    let mut web = Vec::new();
    let mut jobs = Vec::new();
    for i in 0..50 {
        let name = format!("10.77.{}.{}", i / 200, 11 + i % 200);
        let mut h = if i < 40 { base.clone() } else { job.clone() };
        h.host = name.clone();
        s.hosts.push(h);
        if i < 40 {
            web.push(name)
        } else {
            jobs.push(name)
        }
    }
    s.roles = vec![("web".into(), web), ("job".into(), jobs)];
    s
}

fn line(i: usize) -> Update {
    Update::Log(LogLine {
        host: format!("10.77.0.{}", 11 + i % 50),
        role: if i % 50 < 40 { "web".into() } else { "job".into() },
        container: None,
        ts: Some(fx::now()),
        stderr: false,
        text: format!("I, [2026-11-22T16:00:00 #1] INFO -- : [req-{i:08}] Completed 200 OK in {}ms (Views: 1.2ms | ActiveRecord: 0.4ms)", i % 97),
    })
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse().unwrap_or(0)))
        .unwrap_or(0)
}

fn time_draws(app: &App, w: u16, h: u16, n: u32) -> Duration {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| draw(app, f)).unwrap();
    let start = Instant::now();
    for _ in 0..n {
        t.draw(|f| draw(app, f)).unwrap();
    }
    start.elapsed() / n
}

fn key(app: &mut App, c: char) {
    app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE), &mut Recorder::default());
}

fn main() {
    // 1. Frame draw time: 50 hosts, 100k buffered lines.
    let mut app = fx::app_with(fleet50());
    for i in 0..100_000 {
        app.update(line(i));
    }
    println!("draw fleet view, 50 hosts, 200x50: {:?}/frame", time_draws(&app, 200, 50, 200));
    key(&mut app, 'l');
    println!("draw logs view, 100k lines, following, 200x50: {:?}/frame", time_draws(&app, 200, 50, 200));
    key(&mut app, 'w');
    println!("draw logs view, 100k lines, wrapped, 200x50: {:?}/frame", time_draws(&app, 200, 50, 200));
    key(&mut app, 'w');
    key(&mut app, '/');
    for c in "req-0009999".chars() {
        key(&mut app, c);
    }
    app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE), &mut Recorder::default());
    println!("draw logs view, 100k lines, regex filter (rare match), 200x50: {:?}/frame", time_draws(&app, 200, 50, 20));
    drop(app);

    // 2. Ingest rate (App::update, the loop's work per line).
    let mut app = fx::app_with(fleet50());
    let n = 1_000_000;
    let rss_before = rss_kib();
    let start = Instant::now();
    for i in 0..n {
        app.update(line(i));
    }
    let el = start.elapsed();
    println!("ingest: {:.0} lines/s incl. making each line ({n} lines in {el:?})", n as f64 / el.as_secs_f64());
    // 3. Memory: the ring buffers hold at most the global cap, whatever was ingested.
    println!(
        "memory after 1M lines ingested: {} lines kept (cap {}), RSS {} MiB (was {} MiB before)",
        app.logs.len(),
        kdeck::tui::app::GLOBAL_CAP,
        rss_kib() / 1024,
        rss_before / 1024
    );
    drop(app);

    // 4. Key-to-frame latency with the UI under a flood (real render loop, TestBackend).
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let mut app = fx::app_with(fleet50());
        let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
        let (key_tx, mut keys) = futures::channel::mpsc::unbounded();
        let (up_tx, mut updates) = tokio::sync::mpsc::channel::<Update>(4096);
        let flood = tokio::spawn(async move {
            let mut i = 0usize;
            while up_tx.send(line(i)).await.is_ok() {
                i += 1;
            }
            i
        });
        let script = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            for i in 0..100 {
                let c = ['l', 'w', 'w', 't', 't', '1', '2', 'k', 'j', 'G'][i % 10];
                let m = if c == 'G' { KeyModifiers::SHIFT } else { KeyModifiers::NONE };
                key_tx.unbounded_send(Ok(Event::Key(KeyEvent::new(KeyCode::Char(c), m)))).unwrap();
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
            key_tx.unbounded_send(Ok(Event::Key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE)))).unwrap();
            key_tx
        });
        let mut d = Recorder::default();
        let start = Instant::now();
        run_loop(&mut term, &mut app, &mut keys, &mut updates, &mut d, 60).await.unwrap();
        let el = start.elapsed();
        let _k = script.await.unwrap();
        drop(updates);
        let _ = flood.await;
        let mut lat = app.stats.key_to_frame.clone();
        lat.sort();
        let p = |q: f64| lat[((lat.len() as f64 - 1.0) * q) as usize];
        println!(
            "under flood: {:.0} lines/s applied while drawing {:.0} frames/s; key-to-frame p50 {:?}, p99 {:?}, max {:?} ({} keys)",
            app.stats.updates as f64 / el.as_secs_f64(),
            app.stats.frames as f64 / el.as_secs_f64(),
            p(0.5),
            p(0.99),
            lat.last().unwrap(),
            lat.len()
        );
    });
}
