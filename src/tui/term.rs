//! The terminal side: init/restore (with ratatui's restore-on-panic hook), and the render loop.
//!
//! The loop polls input first, then the frame deadline, then engine updates; updates are drained
//! in bounded batches and only mark the state dirty, so a flood of log lines costs at most one
//! draw per data frame (100 ms) and never delays a key by more than one batch and one frame.

use super::app::App;
use super::dispatch::{Dispatcher, Update};
use super::rows::ShellTarget;
use super::ui::draw;
use chrono::Utc;
use crossterm::event::{
    DisableBracketedPaste, DisableFocusChange, DisableMouseCapture, EnableBracketedPaste, EnableFocusChange, EnableMouseCapture, Event as TermEvent,
    EventStream,
};
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
    /// Suspend the TUI for an interactive shell, then come back.
    Shell(ShellTarget),
    /// The update channel closed (the engine is gone).
    Disconnected,
}

/// Longest time spent applying queued updates before input is looked at again.
const BATCH_BUDGET: Duration = Duration::from_millis(8);
/// Frames caused by data alone (fleet, resources, traffic, log lines, the clock) come at most
/// this often; a key's frame comes at the next frame slot. At 50 hosts the data changes many
/// times a second, and a faster redraw shows nothing an operator could read.
const DATA_FRAME: Duration = Duration::from_millis(100);

/// What the render loop drives: one destination's [`App`] with its dispatcher ([`One`]), or the
/// [`Deck`](super::deck::Deck) of several behind a tab bar. `Msg` is what its update channel
/// carries.
pub trait Screen {
    type Msg: Send;
    /// The app on screen: its quit flags, pending shell, notices and clocks drive the loop.
    fn app(&mut self) -> &mut App;
    /// A terminal event (the app on screen and its dispatcher get it).
    fn event(&mut self, ev: TermEvent);
    /// Apply one update; true when it can change what is on screen.
    fn apply(&mut self, m: Self::Msg) -> bool;
    fn draw(&self, f: &mut ratatui::Frame);
    /// The clock moved: true when something on screen moves with it.
    fn tick(&mut self) -> bool;
    /// Nothing more can arrive on the update channel.
    fn closed(&mut self);
    fn stats(&mut self) -> &mut super::app::LoopStats;
    /// An interactive shell of the app on screen, once the terminal is given back.
    fn shell(&mut self, target: &ShellTarget) -> Option<ShellFuture>;
    /// How the dashboard ended.
    fn outcome(&self) -> Outcome;
    /// The notifications of actions that ended since the last call (the loop rings them).
    fn alerts(&mut self) -> Vec<super::notify::Alert> {
        std::mem::take(&mut self.app().alerts)
    }
}

/// One app and its dispatcher: the dashboard of a single destination.
pub struct One<'a> {
    pub app: &'a mut App,
    pub d: &'a mut dyn Dispatcher,
    pub shell: Option<ShellCommand>,
}

impl Screen for One<'_> {
    type Msg = Update;
    fn app(&mut self) -> &mut App {
        self.app
    }
    fn event(&mut self, ev: TermEvent) {
        self.app.handle_event(ev, self.d);
        if self.app.switch_tab.take().is_some() {
            self.app.notice = Some((false, "one destination is open (kdeck without -d opens every destination)".into()));
        }
    }
    fn apply(&mut self, u: Update) -> bool {
        let shows = self.app.shows(&u);
        self.app.update(u);
        shows
    }
    fn draw(&self, f: &mut ratatui::Frame) {
        draw(self.app, f)
    }
    fn tick(&mut self) -> bool {
        self.app.now = Utc::now();
        // Clocks (uptime, elapsed) move even when nothing else happens.
        let moving = self.app.clock_moves();
        self.app.expire_notice() || moving
    }
    fn closed(&mut self) {
        self.app.engine_gone();
    }
    fn stats(&mut self) -> &mut super::app::LoopStats {
        &mut self.app.stats
    }
    fn shell(&mut self, target: &ShellTarget) -> Option<ShellFuture> {
        self.shell.as_mut().and_then(|s| s(target))
    }
    fn outcome(&self) -> Outcome {
        self.app.outcome()
    }
}

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
    run_screen(terminal, &mut One { app, d, shell: None }, input, updates, fps).await
}

/// Drive a [`Screen`] until it quits (see [`run_loop`]).
pub async fn run_screen<B, S, C>(
    terminal: &mut Terminal<B>,
    screen: &mut C,
    input: &mut S,
    updates: &mut mpsc::Receiver<C::Msg>,
    fps: u32,
) -> io::Result<LoopExit>
where
    B: Backend,
    S: Stream<Item = io::Result<TermEvent>> + Unpin,
    C: Screen,
{
    let frame = Duration::from_secs_f64(1.0 / fps.clamp(1, 240) as f64);
    let mut last_draw = Instant::now() - frame;
    let mut dirty = true;
    // A key waits one frame slot at most; data waits for DATA_FRAME.
    let mut urgent = true;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut updates_open = true;
    let mut key_at: Option<std::time::Instant> = None;
    loop {
        if screen.app().quit {
            return Ok(LoopExit::Quit);
        }
        if let Some(target) = screen.app().pending_shell.take() {
            return Ok(LoopExit::Shell(target));
        }
        let deadline = last_draw + if urgent { frame } else { DATA_FRAME.max(frame) };
        tokio::select! {
            biased;
            ev = input.next() => match ev {
                Some(Ok(ev)) => {
                    if matches!(ev, TermEvent::Resize(..)) {
                        terminal.autoresize()?;
                    }
                    screen.app().now = Utc::now();
                    key_at.get_or_insert_with(std::time::Instant::now);
                    screen.event(ev);
                    dirty = true;
                    urgent = true;
                }
                Some(Err(e)) => return Err(e),
                None => return Ok(LoopExit::Quit),
            },
            _ = sleep_until(deadline), if dirty => {
                screen.app().now = Utc::now();
                let started = Instant::now();
                let mut render = Duration::ZERO;
                terminal.draw(|f| {
                    let t = std::time::Instant::now();
                    screen.draw(f);
                    render = t.elapsed();
                })?;
                last_draw = Instant::now();
                dirty = false;
                urgent = false;
                let stats = screen.stats();
                stats.frames += 1;
                stats.record_draw(render, last_draw - started);
                if let Some(k) = key_at.take() {
                    stats.record_key(k.elapsed());
                }
            }
            u = updates.recv(), if updates_open => match u {
                Some(u) => {
                    dirty |= apply_batch(screen, u, updates);
                    ring(screen.alerts());
                }
                None => {
                    updates_open = false;
                    screen.closed();
                    dirty = true;
                }
            },
            _ = tick.tick() => {
                dirty |= screen.tick();
            }
        }
    }
}

/// Writes the notifications of ended actions to the terminal (between two frames, where the
/// bytes cannot land inside one).
fn ring(alerts: Vec<super::notify::Alert>) {
    if alerts.is_empty() {
        return;
    }
    use std::io::Write;
    let tmux = std::env::var_os("TMUX").is_some();
    let mut out = io::stdout();
    for a in alerts {
        let _ = out.write_all(&super::notify::bytes(&a, tmux));
    }
    let _ = out.flush();
}

/// Starts an interactive shell (in a container or on a host) once the TUI has given the
/// terminal back; resolves to the remote exit status. `None`: no shell possible.
pub type ShellCommand = Box<dyn FnMut(&ShellTarget) -> Option<ShellFuture> + Send>;

/// Applies `first` and whatever else is queued, for at most [`BATCH_BUDGET`]; true when the
/// screen can show a difference.
fn apply_batch<C: Screen>(screen: &mut C, first: C::Msg, updates: &mut mpsc::Receiver<C::Msg>) -> bool {
    let mut shows = screen.apply(first);
    screen.stats().updates += 1;
    let start = std::time::Instant::now();
    // Check the clock every 64 updates: cheap, and bounds the batch in time.
    while start.elapsed() < BATCH_BUDGET {
        for _ in 0..64 {
            match updates.try_recv() {
                Ok(u) => {
                    shows |= screen.apply(u);
                    screen.stats().updates += 1;
                }
                Err(_) => return shows,
            }
        }
    }
    shows
}

/// A running shell session: the remote exit status, or why it could not start.
pub type ShellFuture = futures::future::BoxFuture<'static, Result<i32, String>>;

/// How the dashboard ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// An action was running at quit and failed or was aborted.
    pub failed: bool,
    /// The operator quit while an action ran (it was stopped safely before the screen ended).
    pub quit_during_action: bool,
}

/// Own the terminal for the dashboard's lifetime; restore it on every exit path.
pub async fn run(app: App, mut updates: mpsc::Receiver<Update>, mut d: Box<dyn Dispatcher>, shell: Option<ShellCommand>) -> color_eyre::Result<Outcome> {
    let mut app = app;
    let mut one = One { app: &mut app, d: d.as_mut(), shell };
    run_screen_on_terminal(&mut one, &mut updates).await
}

/// [`run`] for any [`Screen`] (the deck of destination tabs).
pub async fn run_screen_on_terminal<C: Screen>(screen: &mut C, updates: &mut mpsc::Receiver<C::Msg>) -> color_eyre::Result<Outcome> {
    // A panic anywhere gives the mouse back too (ratatui's own hook restores the rest).
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = crossterm::execute!(io::stdout(), DisableMouseCapture, DisableFocusChange, DisableBracketedPaste);
        prev(info);
    }));
    loop {
        let mut terminal = ratatui::init();
        let _ = crossterm::execute!(io::stdout(), EnableBracketedPaste, EnableFocusChange);
        if screen.app().mouse {
            let _ = crossterm::execute!(io::stdout(), EnableMouseCapture);
        }
        let mut input = EventStream::new();
        let res = run_screen(&mut terminal, screen, &mut input, updates, 60).await;
        // Stop reading stdin before anything else (a shell) needs it.
        drop(input);
        // Every way out (quit, an error, a shell) gives the terminal back as it was.
        let _ = crossterm::execute!(io::stdout(), DisableMouseCapture, DisableFocusChange, DisableBracketedPaste);
        ratatui::restore();
        match res? {
            LoopExit::Quit | LoopExit::Disconnected => {
                screen.stats().log_summary();
                return Ok(screen.outcome());
            }
            LoopExit::Shell(target) => {
                // The screen is restored (main screen, cooked mode): the shell owns the terminal
                // until it ends, then the loop takes it back and redraws everything.
                let what = target.label();
                let notice = match screen.shell(&target) {
                    Some(session) => {
                        crate::app::out::out(&format!("kdeck: {what} (exit to return to the dashboard)"));
                        match session.await {
                            Ok(0) => None,
                            Ok(s) => Some(format!("{what} exited with status {s}")),
                            Err(e) => Some(format!("cannot start a {what}: {e}")),
                        }
                    }
                    None => Some("interactive shells are not available here".into()),
                };
                if let Some(n) = notice {
                    screen.app().notice = Some((true, n));
                }
            }
        }
    }
}
