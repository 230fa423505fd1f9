//! The terminal side: init/restore (with ratatui's restore-on-panic hook), and the render loop.
//!
//! The loop polls input first, then the frame deadline, then engine updates; updates are drained
//! in bounded batches and only mark the state dirty, so a flood of log lines costs at most one
//! draw per frame interval and never delays a key by more than one batch.

use super::app::App;
use super::dispatch::{Dispatcher, Update};
use super::ui::draw;
use chrono::Utc;
use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste, Event as TermEvent, EventStream};
use futures::{Stream, StreamExt};
use ratatui::backend::Backend;
use ratatui::Terminal;
use std::io;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

/// Why the loop returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoopExit {
    Quit,
    /// Suspend the TUI for an interactive shell on this host, then come back.
    Shell {
        host: String,
        reuse: bool,
    },
    /// The update channel closed (the engine is gone).
    Disconnected,
}

/// Longest time spent applying queued updates before input is looked at again.
const BATCH_BUDGET: Duration = Duration::from_millis(8);

/// Drive `app` until it quits. `fps` caps redraws; the clock tick keeps elapsed times moving.
pub async fn run_loop<B, S>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    input: &mut S,
    updates: &mut mpsc::Receiver<Update>,
    d: &mut dyn Dispatcher,
    fps: u32,
) -> io::Result<LoopExit>
where
    B: Backend,
    S: Stream<Item = io::Result<TermEvent>> + Unpin,
{
    let frame = Duration::from_secs_f64(1.0 / fps.clamp(1, 240) as f64);
    let mut last_draw = Instant::now() - frame;
    let mut dirty = true;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut updates_open = true;
    let mut key_at: Option<std::time::Instant> = None;
    loop {
        if app.quit {
            return Ok(LoopExit::Quit);
        }
        if let Some((host, reuse)) = app.pending_shell.take() {
            return Ok(LoopExit::Shell { host, reuse });
        }
        let deadline = last_draw + frame;
        tokio::select! {
            biased;
            ev = input.next() => match ev {
                Some(Ok(ev)) => {
                    if matches!(ev, TermEvent::Resize(..)) {
                        terminal.autoresize()?;
                    }
                    app.now = Utc::now();
                    key_at.get_or_insert_with(std::time::Instant::now);
                    app.handle_event(ev, d);
                    dirty = true;
                }
                Some(Err(e)) => return Err(e),
                None => return Ok(LoopExit::Quit),
            },
            _ = sleep_until(deadline), if dirty => {
                app.now = Utc::now();
                let started = Instant::now();
                terminal.draw(|f| draw(app, f))?;
                last_draw = Instant::now();
                dirty = false;
                app.stats.frames += 1;
                app.stats.record_draw(last_draw - started);
                if let Some(k) = key_at.take() {
                    app.stats.record_key(k.elapsed());
                }
            }
            u = updates.recv(), if updates_open => match u {
                Some(u) => {
                    let mut shows = app.shows(&u);
                    app.update(u);
                    app.stats.updates += 1;
                    let start = std::time::Instant::now();
                    // Check the clock every 64 updates: cheap, and bounds the batch in time.
                    'batch: while start.elapsed() < BATCH_BUDGET {
                        for _ in 0..64 {
                            match updates.try_recv() {
                                Ok(u) => {
                                    shows |= app.shows(&u);
                                    app.update(u);
                                    app.stats.updates += 1;
                                }
                                Err(_) => break 'batch,
                            }
                        }
                    }
                    dirty |= shows;
                }
                None => {
                    updates_open = false;
                    // Nothing more can arrive: a pending safe quit has nothing left to wait for.
                    if app.quitting {
                        app.exit_failed = true;
                        app.quit = true;
                    }
                    app.notice = Some((true, "the engine stopped; press q to quit".into()));
                    dirty = true;
                }
            },
            _ = tick.tick() => {
                // Clocks (uptime, elapsed) move even when nothing else happens.
                if app.timeline.is_running() || app.fleet_loaded {
                    dirty = true;
                }
                app.now = Utc::now();
                dirty |= app.expire_notice();
            }
        }
    }
}

/// Starts an interactive shell on a host (`reuse`: in the running container) once the TUI has
/// given the terminal back; resolves to the remote exit status. `None`: no shell possible.
pub type ShellCommand = Box<dyn FnMut(&str, bool) -> Option<futures::future::BoxFuture<'static, Result<i32, String>>> + Send>;

/// How the dashboard ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// An action was running at quit and failed or was aborted.
    pub failed: bool,
    /// The operator quit while an action ran (it was stopped safely before the screen ended).
    pub quit_during_action: bool,
}

/// Own the terminal for the dashboard's lifetime; restore it on every exit path.
pub async fn run(
    mut app: App,
    mut updates: mpsc::Receiver<Update>,
    mut d: Box<dyn Dispatcher>,
    mut shell: Option<ShellCommand>,
) -> color_eyre::Result<Outcome> {
    loop {
        let mut terminal = ratatui::init();
        let _ = crossterm::execute!(io::stdout(), EnableBracketedPaste);
        let mut input = EventStream::new();
        let res = run_loop(&mut terminal, &mut app, &mut input, &mut updates, d.as_mut(), 60).await;
        // Stop reading stdin before anything else (a shell) needs it.
        drop(input);
        let _ = crossterm::execute!(io::stdout(), DisableBracketedPaste);
        ratatui::restore();
        match res? {
            LoopExit::Quit | LoopExit::Disconnected => {
                app.stats.log_summary();
                return Ok(Outcome { failed: app.exit_failed, quit_during_action: app.quitting });
            }
            LoopExit::Shell { host, reuse } => {
                // The screen is restored (main screen, cooked mode): the shell owns the terminal
                // until it ends, then the loop takes it back and redraws everything.
                match shell.as_mut().and_then(|s| s(&host, reuse)) {
                    Some(session) => {
                        crate::app::out::out(&format!("kdeck: shell on {host} (exit to return to the dashboard)"));
                        match session.await {
                            Ok(0) => {}
                            Ok(s) => app.notice = Some((true, format!("shell on {host} exited with status {s}"))),
                            Err(e) => app.notice = Some((true, format!("cannot start a shell on {host}: {e}"))),
                        }
                    }
                    None => app.notice = Some((true, "interactive shells are not available here".into())),
                }
            }
        }
    }
}
