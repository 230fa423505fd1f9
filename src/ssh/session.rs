//! The per-host actor: owns the connection, reconnects with backoff + jitter, publishes
//! [`ConnState`], and hands out channels to every user of the host.

use super::conn::{self, Conn};
use super::exec::{self, ExecOutput, ExecStream};
use super::{HostSpec, SshError};
use russh::client::Msg;
use russh::Channel;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify, Semaphore};
use tokio_util::sync::{CancellationToken, DropGuard};

/// The connection state every user of a host sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnState {
    #[default]
    Connecting,
    Up,
    Down {
        reason: String,
    },
}

/// Counters for benchmarks and diagnostics.
#[derive(Debug, Default)]
pub struct Stats {
    /// TCP+SSH connections made (including reconnects; jump connections not counted).
    pub connects: AtomicU64,
    pub exec_channels: AtomicU64,
    pub stream_channels: AtomicU64,
    /// Channel opens refused by the server and retried (MaxSessions).
    pub open_retries: AtomicU64,
}

pub(crate) struct Shared {
    pub spec: HostSpec,
    conn: Mutex<Option<Arc<Conn>>>,
    state: watch::Sender<ConnState>,
    /// Last failure, for errors returned while down.
    last_error: Mutex<Option<SshError>>,
    /// When the last attempt failed (while down).
    down_at: Mutex<Option<std::time::Instant>>,
    exec_sem: Arc<Semaphore>,
    kick: Notify,
    /// With `ClientOptions::lazy`: set by the first use; the actor dials only then.
    wanted: std::sync::atomic::AtomicBool,
    want: Notify,
    /// The server refused direct-streamlocal once: use dial-stdio (DockerTransport::Auto).
    streamlocal_refused: std::sync::atomic::AtomicBool,
    pub stats: Stats,
}

/// Cheap handle to one host's connection actor. The actor stops when the last clone drops.
#[derive(Clone)]
pub struct Session {
    pub(crate) shared: Arc<Shared>,
    _guard: Arc<DropGuard>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Session({})", self.shared.spec.describe())
    }
}

impl Session {
    /// Starts the actor, which connects right away. Needs a tokio runtime.
    pub fn new(spec: HostSpec) -> Self {
        let (state, _) = watch::channel(ConnState::Connecting);
        let shared = Arc::new(Shared {
            exec_sem: Arc::new(Semaphore::new(spec.client.max_sessions.max(1))),
            spec,
            conn: Mutex::new(None),
            state,
            last_error: Mutex::new(None),
            down_at: Mutex::new(None),
            kick: Notify::new(),
            wanted: Default::default(),
            want: Notify::new(),
            streamlocal_refused: Default::default(),
            stats: Stats::default(),
        });
        let cancel = CancellationToken::new();
        tokio::spawn(actor(shared.clone(), cancel.clone()));
        Session { shared, _guard: Arc::new(cancel.drop_guard()) }
    }

    pub fn spec(&self) -> &HostSpec {
        &self.shared.spec
    }

    pub fn host(&self) -> &str {
        &self.shared.spec.host
    }

    pub fn state(&self) -> watch::Receiver<ConnState> {
        self.shared.state.subscribe()
    }

    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// The host key this host offered and known_hosts does not know (`type fingerprint`), while
    /// that is why it is down.
    pub fn offered_host_key(&self) -> Option<String> {
        match &*self.shared.last_error.lock().unwrap() {
            Some(SshError::UnknownHostKey { key_type, fingerprint, .. }) => Some(format!("{key_type} {fingerprint}")),
            _ => None,
        }
    }

    /// The operator trusts the key the host offered: it goes into known_hosts (as OpenSSH's
    /// `accept-new` writes it) and the host is dialled again. Returns the fingerprint.
    pub fn trust_offered_host_key(&self) -> Result<String, SshError> {
        let (fingerprint, key) = match &*self.shared.last_error.lock().unwrap() {
            Some(SshError::UnknownHostKey { fingerprint, key, .. }) => (fingerprint.clone(), key.clone()),
            _ => return Err(SshError::Key(format!("{}: no unknown host key to trust", self.host()))),
        };
        let spec = &self.shared.spec;
        let key = russh::keys::PublicKey::from_openssh(&key).map_err(|e| SshError::Key(format!("{}: the offered key cannot be read: {e}", self.host())))?;
        super::known_hosts::learn(&spec.client.known_hosts, &spec.hostname, spec.port, &key)
            .map_err(|e| SshError::Key(format!("{}: cannot record host key: {e}", spec.client.known_hosts.display())))?;
        tracing::info!(host = %spec.host, "trusted host key {fingerprint} ({})", spec.client.known_hosts.display());
        self.reconnect();
        Ok(fingerprint)
    }

    /// Asks the actor to try again now (after a fatal error such as an unknown host key was
    /// fixed, or to cut a backoff short).
    pub fn reconnect(&self) {
        self.shared.kick.notify_one();
    }

    /// Activity (a key, an action, news from another host): a host that is down is dialled
    /// again now instead of at the end of its backoff. Returns whether a new attempt was asked
    /// for: not while one runs, nor after a failure that needs the operator (host key,
    /// credentials), which waits for [`Session::reconnect`].
    pub fn probe(&self) -> bool {
        if !matches!(*self.shared.state.borrow(), ConnState::Down { .. }) {
            return false;
        }
        if self.shared.last_error.lock().unwrap().as_ref().is_some_and(|e| e.is_fatal()) {
            return false;
        }
        self.shared.kick.notify_one();
        true
    }

    /// How long ago the last attempt failed (None unless down).
    fn down_for(&self) -> Option<Duration> {
        self.shared.down_at.lock().unwrap().map(|t| t.elapsed())
    }

    /// Waits until the host is up; fails with the reason if the current attempt fails.
    pub async fn connected(&self) -> Result<(), SshError> {
        self.conn().await.map(|_| ())
    }

    /// Someone needs the connection: a lazy session dials now (no-op once dialled).
    fn want(&self) {
        if !self.shared.wanted.swap(true, Ordering::SeqCst) {
            self.shared.want.notify_one();
        }
    }

    /// Waits until the host is up, however long it takes (for resuming streams).
    pub async fn wait_up(&self) {
        self.want();
        let mut rx = self.state();
        let _ = rx.wait_for(|s| *s == ConnState::Up).await;
    }

    /// The connection, for an action that needs it now. A host found down since longer than
    /// [`STALE_DOWN`] is dialled once more first (it may be back before its backoff ends);
    /// a failure newer than that is the answer.
    pub(crate) async fn conn(&self) -> Result<Arc<Conn>, SshError> {
        self.want();
        let mut rx = self.state();
        let mut probed = false;
        loop {
            let st = rx.borrow_and_update().clone();
            match st {
                ConnState::Up => {
                    if let Some(c) = self.shared.conn.lock().unwrap().clone() {
                        if !c.handle.is_closed() {
                            return Ok(c);
                        }
                    }
                }
                ConnState::Down { .. } if !probed && self.down_for().is_some_and(|d| d >= STALE_DOWN) && self.probe() => probed = true,
                ConnState::Down { reason } => {
                    return Err(self.shared.last_error.lock().unwrap().clone().unwrap_or(SshError::Down { host: self.host().to_string(), reason }));
                }
                ConnState::Connecting => {}
            }
            if rx.changed().await.is_err() {
                return Err(SshError::Down { host: self.host().into(), reason: "session closed".into() });
            }
        }
    }

    pub(crate) fn chan_err(&self, what: &str, e: impl std::fmt::Display) -> SshError {
        SshError::Channel { host: self.host().into(), what: what.into(), reason: e.to_string() }
    }

    /// Opens a session channel under the exec semaphore, retrying refusals (MaxSessions).
    pub(crate) async fn open_exec_channel(&self) -> Result<(Channel<Msg>, tokio::sync::OwnedSemaphorePermit), SshError> {
        let permit = self.shared.exec_sem.clone().acquire_owned().await.expect("semaphore never closed");
        let mut delay = Duration::from_millis(50);
        for attempt in 0.. {
            let c = self.conn().await?;
            match c.handle.channel_open_session().await {
                Ok(ch) => {
                    self.shared.stats.exec_channels.fetch_add(1, Ordering::Relaxed);
                    return Ok((ch, permit));
                }
                Err(russh::Error::ChannelOpenFailure(f)) if attempt < 8 => {
                    self.shared.stats.open_retries.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(host = %self.host(), "session channel refused ({f:?}), retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(1));
                }
                Err(e) => return Err(self.chan_err("open session channel", e)),
            }
        }
        unreachable!()
    }

    async fn start(&self, cmd: &str) -> Result<tokio::sync::mpsc::UnboundedReceiver<exec::Raw>, SshError> {
        let (ch, permit) = self.open_exec_channel().await?;
        ch.exec(true, cmd).await.map_err(|e| self.chan_err("exec", e))?;
        Ok(exec::drain(ch, Some(permit)))
    }

    /// Runs `cmd` (one exec channel, no pty, like SSHKit) and returns its whole output.
    pub async fn exec(&self, cmd: &str) -> Result<ExecOutput, SshError> {
        let rx = self.start(cmd).await?;
        let out = exec::collect(rx).await;
        tracing::debug!(host = %self.host(), status = out.status, "exec {}", crate::logging::redact_command(cmd));
        Ok(out)
    }

    /// Runs `cmd` and streams its output lines.
    pub async fn exec_stream(&self, cmd: &str) -> Result<ExecStream, SshError> {
        Ok(ExecStream::new(self.start(cmd).await?))
    }

    /// Runs `cmd` on a pty (stdout and stderr merged, as on a terminal). Dropping the stream
    /// closes the channel and sshd hangs the pty up, so the remote command ends too — use this
    /// for endless commands (`docker logs -f`, `tail -f`) when no API stream fits.
    pub async fn exec_stream_pty(&self, cmd: &str) -> Result<ExecStream, SshError> {
        let (ch, permit) = self.open_exec_channel().await?;
        ch.request_pty(true, "dumb", 200, 50, 0, 0, &[]).await.map_err(|e| self.chan_err("request pty", e))?;
        ch.exec(true, cmd).await.map_err(|e| self.chan_err("exec", e))?;
        Ok(ExecStream::new(exec::drain(ch, Some(permit))))
    }

    /// Runs `cmd` with `stdin` fed to it, then EOF.
    pub async fn exec_with_input(&self, cmd: &str, stdin: &[u8]) -> Result<ExecOutput, SshError> {
        let (ch, permit) = self.open_exec_channel().await?;
        ch.exec(true, cmd).await.map_err(|e| self.chan_err("exec", e))?;
        let writer = ch.make_writer();
        let rx = exec::drain(ch, Some(permit));
        let data = stdin.to_vec();
        let mut w = writer;
        use tokio::io::AsyncWriteExt;
        w.write_all(&data).await.map_err(|e| self.chan_err("write stdin", e))?;
        w.shutdown().await.map_err(|e| self.chan_err("close stdin", e))?;
        drop(w);
        Ok(exec::collect(rx).await)
    }

    /// Writes `data` to `remote_path` with `mode` through `scp -t` (what Kamal uses for env
    /// files), so servers that only allow scp work too.
    pub async fn upload(&self, remote_path: &str, data: &[u8], mode: u32) -> Result<(), SshError> {
        use russh::ChannelMsg;
        let (mut ch, _permit) = self.open_exec_channel().await?;
        let cmd = format!("scp -t {}", shell_words::quote(remote_path));
        ch.exec(true, cmd.as_str()).await.map_err(|e| self.chan_err("scp", e))?;
        let host = self.host().to_string();
        let fail = |reason: String| SshError::Channel { host: host.clone(), what: format!("upload {remote_path}"), reason };
        // scp acknowledges each step with a 0 byte; 1/2 + message is a warning/error.
        async fn ack(ch: &mut Channel<Msg>) -> Result<(), String> {
            let mut err = Vec::new();
            loop {
                match ch.wait().await {
                    Some(ChannelMsg::Data { data }) => {
                        if err.is_empty() && data.first() == Some(&0) {
                            return Ok(());
                        }
                        err.extend_from_slice(&data);
                        if err.ends_with(b"\n") {
                            return Err(String::from_utf8_lossy(&err[1..]).trim().to_string());
                        }
                    }
                    Some(ChannelMsg::ExtendedData { data, .. }) => err.extend_from_slice(&data),
                    Some(ChannelMsg::ExitStatus { exit_status }) if exit_status != 0 => {
                        return Err(format!("scp exited with {exit_status}: {}", String::from_utf8_lossy(&err).trim()))
                    }
                    Some(_) => {}
                    None => return Err(format!("channel closed: {}", String::from_utf8_lossy(&err).trim())),
                }
            }
        }
        ack(&mut ch).await.map_err(&fail)?;
        let name = remote_path.rsplit('/').next().unwrap_or(remote_path);
        let header = format!("C{:04o} {} {}\n", mode & 0o7777, data.len(), name);
        ch.data_bytes(header.into_bytes()).await.map_err(|e| fail(e.to_string()))?;
        ack(&mut ch).await.map_err(&fail)?;
        let mut body = data.to_vec();
        body.push(0);
        ch.data(&body[..]).await.map_err(|e| fail(e.to_string()))?;
        ack(&mut ch).await.map_err(&fail)?;
        let _ = ch.eof().await;
        // Drain to the exit status so the channel closes cleanly.
        let mut status = None;
        while let Some(m) = ch.wait().await {
            match m {
                ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
                ChannelMsg::Close => break,
                _ => {}
            }
        }
        match status {
            Some(0) | None => Ok(()),
            Some(s) => Err(fail(format!("scp exited with {s}"))),
        }
    }

    /// Opens a `direct-streamlocal` channel to a Unix socket on the host. Not bounded by the
    /// exec semaphore: sshd's MaxSessions does not count forwarded streams.
    pub async fn open_unix_stream(&self, socket_path: &str) -> Result<russh::ChannelStream<Msg>, SshError> {
        let c = self.conn().await?;
        let ch = c.handle.channel_open_direct_streamlocal(socket_path).await.map_err(|e| self.chan_err(&format!("open {socket_path}"), e))?;
        self.shared.stats.stream_channels.fetch_add(1, Ordering::Relaxed);
        Ok(ch.into_stream())
    }

    /// A byte stream to the host's dockerd: `direct-streamlocal` to `socket_path`, or
    /// `docker system dial-stdio` over exec (see [`super::DockerTransport`]).
    pub async fn open_docker_stream(&self, socket_path: &str) -> Result<HostStream, SshError> {
        use super::DockerTransport::*;
        let mode = self.shared.spec.client.docker_transport;
        if mode == StreamLocal || (mode == Auto && !self.shared.streamlocal_refused.load(Ordering::Relaxed)) {
            let c = self.conn().await?;
            match c.handle.channel_open_direct_streamlocal(socket_path).await {
                Ok(ch) => {
                    self.shared.stats.stream_channels.fetch_add(1, Ordering::Relaxed);
                    return Ok(HostStream { inner: ch.into_stream(), _permit: None });
                }
                Err(russh::Error::ChannelOpenFailure(f)) if mode == Auto => {
                    tracing::warn!(host = %self.host(), "direct-streamlocal refused ({f:?}); using docker system dial-stdio");
                    self.shared.streamlocal_refused.store(true, Ordering::Relaxed);
                }
                Err(e) => return Err(self.chan_err(&format!("open {socket_path}"), e)),
            }
        }
        let (ch, permit) = self.open_exec_channel().await?;
        ch.exec(true, "docker system dial-stdio").await.map_err(|e| self.chan_err("docker system dial-stdio", e))?;
        Ok(HostStream { inner: ch.into_stream(), _permit: Some(permit) })
    }

    /// Opens a `direct-tcpip` channel to `host:port` as seen from the host.
    pub async fn open_tcp_stream(&self, host: &str, port: u16) -> Result<russh::ChannelStream<Msg>, SshError> {
        let c = self.conn().await?;
        let ch =
            c.handle.channel_open_direct_tcpip(host, port as u32, "127.0.0.1", 0).await.map_err(|e| self.chan_err(&format!("open tcp {host}:{port}"), e))?;
        self.shared.stats.stream_channels.fetch_add(1, Ordering::Relaxed);
        Ok(ch.into_stream())
    }
}

/// A channel used as a byte stream (docker API), holding an exec slot when it is an exec.
pub struct HostStream {
    inner: russh::ChannelStream<Msg>,
    _permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl tokio::io::AsyncRead for HostStream {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for HostStream {
    fn poll_write(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>, buf: &[u8]) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A failed attempt older than this is not the answer for an action that needs the host: it
/// dials again (see [`Session::conn`]).
const STALE_DOWN: Duration = Duration::from_secs(1);

fn jittered(d: Duration) -> Duration {
    use rand::Rng;
    let f: f64 = rand::thread_rng().gen_range(0.5..1.0);
    d.mul_f64(f)
}

async fn actor(shared: Arc<Shared>, cancel: CancellationToken) {
    let host = shared.spec.host.clone();
    // A lazy session (headless commands): no connection to a host nothing asks for (`-h`/`-r`).
    if shared.spec.client.lazy && !shared.wanted.load(Ordering::SeqCst) {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = shared.want.notified() => {}
        }
    }
    let min_backoff = shared.spec.client.min_backoff.min(shared.spec.client.max_backoff);
    let mut backoff = min_backoff;
    loop {
        shared.state.send_replace(ConnState::Connecting);
        let attempt = tokio::time::timeout(shared.spec.client.connect_timeout, conn::connect(&shared.spec));
        let result = tokio::select! {
            _ = cancel.cancelled() => return,
            r = attempt => r,
        };
        let err = match result {
            Ok(Ok(c)) => {
                shared.stats.connects.fetch_add(1, Ordering::Relaxed);
                *shared.conn.lock().unwrap() = Some(c.conn.clone());
                *shared.last_error.lock().unwrap() = None;
                *shared.down_at.lock().unwrap() = None;
                shared.state.send_replace(ConnState::Up);
                tracing::info!(host = %host, "connected ({})", shared.spec.describe());
                if shared.spec.client.pty_warmup {
                    let conn = c.conn.clone();
                    tokio::spawn(async move {
                        if let Ok(ch) = conn.handle.channel_open_session().await {
                            if ch.request_pty(true, "dumb", 80, 24, 0, 0, &[]).await.is_ok() && ch.exec(true, "true").await.is_ok() {
                                let _ = exec::collect(exec::drain(ch, None)).await;
                            }
                        }
                    });
                }
                backoff = min_backoff;
                let reason = tokio::select! {
                    _ = cancel.cancelled() => {
                        let c = shared.conn.lock().unwrap().take();
                        if let Some(c) = c {
                            let _ = c.handle.disconnect(russh::Disconnect::ByApplication, "", "en").await;
                        }
                        return;
                    }
                    r = c.dead => r.unwrap_or_else(|_| "connection closed".into()),
                };
                shared.conn.lock().unwrap().take();
                SshError::Down { host: host.clone(), reason }
            }
            Ok(Err(e)) => e,
            Err(_) => SshError::Unreachable { host: host.clone(), reason: format!("no connection within {:?}", shared.spec.client.connect_timeout) },
        };
        let fatal = err.is_fatal();
        let msg = err.to_string();
        tracing::warn!(host = %host, "{msg}");
        // The state is shown next to the host already: keep just the reason.
        let reason = msg.strip_prefix(&format!("{host}: ")).unwrap_or(&msg).to_string();
        *shared.last_error.lock().unwrap() = Some(err);
        *shared.down_at.lock().unwrap() = Some(std::time::Instant::now());
        // A probe that came while the last attempt was still being made (several Docker events
        // at once) left a permit: it is older than this failure and must not cut the backoff.
        let _ = futures::FutureExt::now_or_never(shared.kick.notified());
        shared.state.send_replace(ConnState::Down { reason });
        if fatal {
            // Host key or credentials problems need the user; wait for an explicit retry.
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = shared.kick.notified() => {}
            }
        } else {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = shared.kick.notified() => {}
                _ = tokio::time::sleep(jittered(backoff)) => {}
            }
            backoff = (backoff * 2).min(shared.spec.client.max_backoff);
        }
    }
}
