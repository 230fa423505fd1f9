//! The render loop under a log flood: input is still handled promptly, redraws are coalesced
//! (bounded by the frame cap, not by the number of updates), and requests reach the dispatcher.

use crate::support::tui_fixtures as fx;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use futures::channel::mpsc as fmpsc;
use kdeck::tui::dispatch::{ChannelDispatcher, Request};
use kdeck::tui::{run_loop, LogLine, LoopExit, Update};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

fn k(c: char) -> std::io::Result<Event> {
    let m = if c.is_ascii_uppercase() { KeyModifiers::SHIFT } else { KeyModifiers::NONE };
    Ok(Event::Key(KeyEvent::new(KeyCode::Char(c), m)))
}

fn line(i: u64) -> Update {
    Update::Log(LogLine {
        host: format!("10.77.4.{}", 11 + i % 3),
        role: "web".into(),
        container: None,
        ts: None,
        stderr: false,
        text: format!("flood line {i}"),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_does_not_starve_input_and_frames_are_coalesced() {
    let mut app = fx::app_with(fx::fleet());
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    let (key_tx, mut keys) = fmpsc::unbounded();
    let (up_tx, mut updates) = mpsc::channel::<Update>(4096);
    let (req_tx, mut reqs) = mpsc::unbounded_channel();
    let mut d = ChannelDispatcher(req_tx);

    let preflight = up_tx.clone();
    // The flood: as fast as the channel takes it, until the loop ends.
    let flood = tokio::spawn(async move {
        let mut i = 0u64;
        while up_tx.send(line(i)).await.is_ok() {
            i += 1;
        }
        i
    });
    // The operator: open logs, then deploy + confirm, then quit (asks: nothing runs → quits).
    let script = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        for c in ['l', 'f', 'D', 'y'] {
            key_tx.unbounded_send(k(c)).unwrap();
            tokio::time::sleep(Duration::from_millis(150)).await;
            if c == 'D' {
                // The deploy dialog's pre-flight answers (the engine side would).
                preflight.send(Update::Preflight(Box::new(crate::deploy_dialog::report_ok()))).await.unwrap();
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        }
        drop(preflight);
        let sent = Instant::now();
        key_tx.unbounded_send(k('q')).unwrap();
        (sent, key_tx)
    });

    let start = Instant::now();
    let exit = run_loop(&mut term, &mut app, &mut keys, &mut updates, &mut d, 60).await.unwrap();
    let done = Instant::now();
    let (sent, _keep_open) = script.await.unwrap();
    drop(updates);
    let produced = flood.await.unwrap();

    assert_eq!(exit, LoopExit::Quit);
    let quit_latency = done - sent;
    // Generous bounds: CI runs this beside lab tests on 2 cores; the bench has the real figures.
    assert!(quit_latency < Duration::from_secs(2), "q took {quit_latency:?} under a flood");
    assert!(app.stats.updates > 1_000, "only {} updates applied", app.stats.updates);
    // Every update applied was a flood line, but for the one pre-flight answer.
    assert!(produced + 1 >= app.stats.updates);
    let secs = (done - start).as_secs_f64();
    // Frame cap 60/s (+ slack for the first frame and timer rounding).
    assert!((app.stats.frames as f64) < secs * 60.0 + 5.0, "{} frames in {secs:.2}s", app.stats.frames);
    assert!(app.stats.frames >= 5, "the screen was not redrawn during the flood");
    assert!(!app.stats.key_to_frame.is_empty());
    let worst = app.stats.key_to_frame.iter().max().unwrap();
    assert!(*worst < Duration::from_secs(1), "key-to-frame {worst:?}");
    // The deploy went to the engine side, after confirmation.
    assert_eq!(reqs.try_recv().ok(), Some(Request::Preflight));
    assert!(matches!(reqs.try_recv().ok(), Some(Request::Deploy(c)) if c.version == fx::V3), "the deploy after the pre-flight");
    // And the screen shows the logs view, paused ('f').
    let screen = term.backend().to_string();
    assert!(screen.contains("Logs · all hosts · paused"), "{screen}");
}

/// Log lines are drawn only by the Logs view: while the fleet is on screen their flow does not
/// cause frames (at 50 hosts that is most of the dashboard's work at rest); in Logs it does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_redraw_only_the_logs_view() {
    async fn frames_during_lines(app: &mut kdeck::tui::App) -> u64 {
        let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
        let (key_tx, mut keys) = fmpsc::unbounded();
        let (up_tx, mut updates) = mpsc::channel::<Update>(64);
        let (req_tx, _reqs) = mpsc::unbounded_channel();
        let mut d = ChannelDispatcher(req_tx);
        let feeder = tokio::spawn(async move {
            // 50 lines/s for 1.5 s, then quit
            for i in 0..75 {
                up_tx.send(line(i)).await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            key_tx.unbounded_send(k('q')).unwrap();
            (up_tx, key_tx)
        });
        let before = app.stats.frames;
        run_loop(&mut term, app, &mut keys, &mut updates, &mut d, 60).await.unwrap();
        let _keep = feeder.await.unwrap();
        app.stats.frames - before
    }
    let mut app = fx::app_with(fx::fleet());
    let fleet_frames = frames_during_lines(&mut app).await;
    let mut app = fx::app_with(fx::fleet());
    app.handle_key(KeyEvent::new(KeyCode::Char('l'), KeyModifiers::NONE), &mut kdeck::tui::dispatch::Recorder::default());
    let logs_frames = frames_during_lines(&mut app).await;
    // the fleet: the first frame, the 500 ms clock ticks and the quit; the logs: one per data
    // frame (100 ms) while lines come, about 15
    assert!(fleet_frames <= 8, "{fleet_frames} frames on the fleet view for 75 log lines");
    assert!(logs_frames >= 10, "only {logs_frames} frames on the logs view for 75 log lines");
    assert!(logs_frames <= 25, "{logs_frames} frames on the logs view for 75 log lines: data frames are not coalesced");
}

/// Activity dials the hosts shown down again at once (the worker asks each session to try now
/// instead of at the end of its backoff): any key, even one that only moves the selection. With
/// every host up, keys ask for nothing more than what they do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_while_a_host_is_down_dials_it_again_at_once() {
    async fn requests_for_keys(mut app: kdeck::tui::App) -> Vec<Request> {
        let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
        let (key_tx, mut keys) = fmpsc::unbounded();
        let (_up_tx, mut updates) = mpsc::channel::<Update>(64);
        let (req_tx, mut reqs) = mpsc::unbounded_channel();
        let mut d = ChannelDispatcher(req_tx);
        for c in ['j', 'q'] {
            key_tx.unbounded_send(k(c)).unwrap();
        }
        run_loop(&mut term, &mut app, &mut keys, &mut updates, &mut d, 60).await.unwrap();
        let mut out = vec![];
        while let Ok(r) = reqs.try_recv() {
            out.push(r);
        }
        out
    }
    assert_eq!(requests_for_keys(fx::app_with(fx::fleet())).await, vec![]);
    let mut app = fx::app_with(fx::fleet_down());
    app.read_only = true;
    assert_eq!(requests_for_keys(app).await, vec![Request::Probe, Request::Probe]);
    // A host refused for its unknown key waits for `T` (trust), not for activity.
    let mut s = fx::fleet_down();
    s.hosts[2].unknown_host_key = Some("ssh-ed25519 SHA256:abc".into());
    assert_eq!(requests_for_keys(fx::app_with(s)).await, vec![]);
}
