//! Interactive sessions on the host's one connection: what `ssh -t host CMD` does, without the
//! OpenSSH client. [`Session::open_interactive`] gives a channel with an optional pty;
//! [`run_on_terminal`] bridges it to this process's terminal (raw mode, window-size changes,
//! stdin EOF, exit status) and always gives the terminal back.
//!
//! Like `ssh -t`, a pty is requested only when stdin is a terminal: with piped stdin the command
//! runs on a plain channel, stdout and stderr stay apart and EOF on stdin reaches the command.

use super::session::Session;
use super::SshError;
use russh::client::Msg;
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, OwnedSemaphorePermit};

/// The pty asked for: terminal type and size in characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PtyRequest {
    pub term: String,
    pub cols: u32,
    pub rows: u32,
}

impl PtyRequest {
    /// `$TERM` and the size of the local terminal (80x24 when it cannot be read), as OpenSSH
    /// sends them.
    pub fn from_local_terminal() -> Self {
        let (cols, rows) = crossterm::terminal::size().unwrap_or((80, 24));
        PtyRequest { term: std::env::var("TERM").unwrap_or_default(), cols: cols.into(), rows: rows.into() }
    }
}

/// What the remote side sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    /// The command's exit status (128+n for a signal); the channel closes next.
    Exit(i32),
}

/// A running command on its own session channel (holding one of the host's exec slots).
pub struct InteractiveChannel {
    read: ChannelReadHalf,
    write: ChannelWriteHalf<Msg>,
    status: Option<i32>,
    closed: bool,
    _permit: OwnedSemaphorePermit,
}

impl InteractiveChannel {
    /// Next piece of output; `None` once the channel is closed. An `Exit` is always delivered
    /// before `None` (255 if the connection dropped without one, as OpenSSH reports it).
    pub async fn next(&mut self) -> Option<Output> {
        if self.closed {
            return None;
        }
        loop {
            match self.read.wait().await {
                Some(ChannelMsg::Data { data }) => return Some(Output::Stdout(data.to_vec())),
                Some(ChannelMsg::ExtendedData { data, .. }) => return Some(Output::Stderr(data.to_vec())),
                Some(ChannelMsg::ExitStatus { exit_status }) => self.status = Some(exit_status as i32),
                Some(ChannelMsg::ExitSignal { signal_name, .. }) => {
                    self.status.get_or_insert(128 + super::exec::signal_number(&signal_name));
                }
                Some(ChannelMsg::Close) | None => {
                    self.closed = true;
                    return Some(Output::Exit(self.status.unwrap_or(255)));
                }
                Some(_) => {}
            }
        }
    }

    /// A writer for the command's stdin; shutting it down sends EOF.
    pub fn stdin(&self) -> std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send + 'static>> {
        Box::pin(self.write.make_writer())
    }

    /// Tell the remote pty its new size.
    pub async fn resize(&self, cols: u32, rows: u32) -> Result<(), russh::Error> {
        self.write.window_change(cols, rows, 0, 0).await
    }

    /// Close the channel (sshd hangs up the pty, so the command ends too).
    pub async fn close(&self) -> Result<(), russh::Error> {
        self.write.close().await
    }
}

impl Session {
    /// Opens a session channel, requests `pty` if given (`ssh -t`), and runs `cmd` there.
    pub async fn open_interactive(&self, cmd: &str, pty: Option<&PtyRequest>) -> Result<InteractiveChannel, SshError> {
        let (ch, permit) = self.open_exec_channel().await?;
        if let Some(p) = pty {
            ch.request_pty(true, &p.term, p.cols, p.rows, 0, 0, &[]).await.map_err(|e| self.chan_err("request pty", e))?;
        }
        ch.exec(true, cmd).await.map_err(|e| self.chan_err("exec", e))?;
        tracing::debug!(host = %self.host(), pty = pty.is_some(), "interactive exec {}", crate::logging::redact_command(cmd));
        let (read, write) = ch.split();
        Ok(InteractiveChannel { read, write, status: None, closed: false, _permit: permit })
    }
}

/// Set while this module has the terminal in raw mode (read by the panic hook).
static RAW: AtomicBool = AtomicBool::new(false);

/// Raw mode for the session's lifetime; dropped (or a panic) restores the terminal.
struct RawMode;

impl RawMode {
    fn enter() -> std::io::Result<RawMode> {
        static HOOK: std::sync::Once = std::sync::Once::new();
        HOOK.call_once(|| {
            // The panic message must land on a cooked terminal, so restore before printing it.
            let prev = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if RAW.swap(false, Ordering::SeqCst) {
                    let _ = crossterm::terminal::disable_raw_mode();
                }
                prev(info)
            }));
        });
        crossterm::terminal::enable_raw_mode()?;
        RAW.store(true, Ordering::SeqCst);
        Ok(RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if RAW.swap(false, Ordering::SeqCst) {
            let _ = crossterm::terminal::disable_raw_mode();
        }
    }
}

/// Reads fd 0 on its own thread until EOF or `stop`. It polls with a short timeout rather than
/// blocking in `read`, so that once the session is over nothing keeps consuming the terminal's
/// input (the dashboard reads it again right after a shell).
struct StdinPump {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StdinPump {
    fn start(tx: mpsc::Sender<Vec<u8>>) -> StdinPump {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("kdeck-stdin".into())
            .spawn(move || {
                let mut buf = vec![0u8; 16 * 1024];
                while !flag.load(Ordering::SeqCst) {
                    let mut pfd = libc::pollfd { fd: 0, events: libc::POLLIN, revents: 0 };
                    // SAFETY: one valid pollfd for the duration of the call.
                    let r = unsafe { libc::poll(&mut pfd, 1, 50) };
                    if r < 0 {
                        if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                            continue;
                        }
                        return;
                    }
                    if r == 0 {
                        continue;
                    }
                    // SAFETY: reads into our own buffer of the given length.
                    let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
                    if n < 0 {
                        let e = std::io::Error::last_os_error();
                        if matches!(e.kind(), std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock) {
                            continue;
                        }
                        return;
                    }
                    if n == 0 || tx.blocking_send(buf[..n as usize].to_vec()).is_err() {
                        // EOF (the sender drops: the channel gets EOF), or the session is over.
                        return;
                    }
                }
            })
            .ok();
        StdinPump { stop, thread }
    }

    async fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            // Ends within one poll interval.
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

/// Runs `cmd` on `session` attached to this process's terminal, like `ssh -t host CMD`: with a
/// terminal on stdin a pty of the local size and `$TERM` is requested, the local terminal goes
/// to raw mode (every key, ctrl-c and ctrl-d included, goes to the remote side) and window-size
/// changes are forwarded; with piped stdin there is no pty and EOF on stdin reaches the command.
/// Returns the remote exit status (255 if the connection dropped). The terminal is restored on
/// every path, panics included; SIGTERM/SIGHUP close the channel and return 255.
pub async fn run_on_terminal(session: &Session, cmd: &str) -> Result<i32, SshError> {
    let tty = std::io::stdin().is_terminal();
    let pty = tty.then(PtyRequest::from_local_terminal);
    let mut ch = session.open_interactive(cmd, pty.as_ref()).await?;
    let raw = if tty {
        match RawMode::enter() {
            Ok(r) => Some(r),
            Err(e) => {
                let _ = ch.close().await;
                return Err(SshError::Channel { host: session.host().into(), what: "terminal raw mode".into(), reason: e.to_string() });
            }
        }
    } else {
        None
    };

    let (in_tx, mut in_rx) = mpsc::channel::<Vec<u8>>(16);
    let pump = StdinPump::start(in_tx);
    // Stdin goes to the channel in its own task: a slow remote reader must not stop output.
    let mut stdin_w = ch.stdin();
    let writer = tokio::spawn(async move {
        while let Some(chunk) = in_rx.recv().await {
            if stdin_w.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = stdin_w.shutdown().await;
    });

    use tokio::signal::unix::{signal, SignalKind};
    let mut winch = if tty { signal(SignalKind::window_change()).ok() } else { None };
    let mut term = signal(SignalKind::terminate()).ok();
    let mut hup = signal(SignalKind::hangup()).ok();
    async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
        match s {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    }

    let mut out = tokio::io::stdout();
    let mut err = tokio::io::stderr();
    let mut out_open = true;
    let mut last_size = pty.as_ref().map(|p| (p.cols, p.rows));
    let status = loop {
        tokio::select! {
            o = ch.next() => match o {
                Some(Output::Stdout(b)) => {
                    if out_open && (out.write_all(&b).await.is_err() || out.flush().await.is_err()) {
                        // Nobody reads our output any more: end the command (OpenSSH dies of EPIPE).
                        out_open = false;
                        let _ = ch.close().await;
                    }
                }
                Some(Output::Stderr(b)) => {
                    let _ = err.write_all(&b).await;
                    let _ = err.flush().await;
                }
                Some(Output::Exit(s)) => break s,
                None => break 255,
            },
            _ = recv(&mut winch) => {
                if let Ok((c, r)) = crossterm::terminal::size() {
                    let size = (u32::from(c), u32::from(r));
                    if last_size != Some(size) {
                        last_size = Some(size);
                        let _ = ch.resize(size.0, size.1).await;
                    }
                }
            }
            _ = recv(&mut term) => { let _ = ch.close().await; break 255; }
            _ = recv(&mut hup) => { let _ = ch.close().await; break 255; }
        }
    };
    pump.stop().await;
    writer.abort();
    drop(raw);
    Ok(status)
}
