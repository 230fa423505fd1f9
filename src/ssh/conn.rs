//! One established, authenticated russh connection (possibly through jump hosts).

use super::known_hosts::{self, HostKeyStatus, KnownHosts};
use super::{HostKeyPolicy, HostSpec, SshError};
use russh::client::{self, DisconnectReason, Handle};
use russh::keys::{HashAlg, PublicKeyOrCertificate};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

pub(crate) struct Client {
    spec: HostSpec,
    /// Why the key check refused, for a message better than russh's "UnknownKey".
    refusal: Arc<Mutex<Option<SshError>>>,
    dead: Option<oneshot::Sender<String>>,
}

impl Client {
    fn died(&mut self, reason: String) {
        if let Some(tx) = self.dead.take() {
            let _ = tx.send(reason);
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.died("connection closed".into());
    }
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(&mut self, key: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let key = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            PublicKeyOrCertificate::Certificate(c) => c.public_key().clone().into(),
        };
        let spec = &self.spec;
        let path = &spec.client.known_hosts;
        let fp = key.fingerprint(HashAlg::Sha256).to_string();
        let kt = key.algorithm().to_string();
        let kh = match KnownHosts::load(path) {
            Ok(k) => k,
            Err(e) => {
                *self.refusal.lock().unwrap() = Some(SshError::Key(format!("{}: cannot read known_hosts: {e}", path.display())));
                return Ok(false);
            }
        };
        let refusal = match kh.check(&spec.hostname, spec.port, &key) {
            HostKeyStatus::Known => return Ok(true),
            HostKeyStatus::Unknown if spec.client.host_key_policy == HostKeyPolicy::AcceptNew => {
                match known_hosts::learn(path, &spec.hostname, spec.port, &key) {
                    Ok(()) => {
                        tracing::info!(host = %spec.host, "recorded new host key {fp} in {}", path.display());
                        return Ok(true);
                    }
                    Err(e) => SshError::Key(format!("{}: cannot record host key: {e}", path.display())),
                }
            }
            HostKeyStatus::Unknown => SshError::UnknownHostKey {
                host: spec.host.clone(),
                key_type: kt,
                fingerprint: fp,
                hint: known_hosts::keyscan_hint(&spec.hostname, spec.port, path),
                key: key.to_openssh().unwrap_or_default(),
            },
            HostKeyStatus::Changed { line, same_type } => SshError::HostKeyChanged {
                host: spec.host.clone(),
                host_token: known_hosts::host_token(&spec.hostname, spec.port),
                key_type: kt,
                fingerprint: fp,
                path: path.display().to_string(),
                line,
                note: if same_type { String::new() } else { " (of another key type)".into() },
            },
            HostKeyStatus::Revoked { line } => SshError::HostKeyRevoked { host: spec.host.clone(), fingerprint: fp, path: path.display().to_string(), line },
        };
        tracing::warn!(host = %spec.host, "{refusal}");
        *self.refusal.lock().unwrap() = Some(refusal);
        Ok(false)
    }

    async fn disconnected(&mut self, reason: DisconnectReason<Self::Error>) -> Result<(), Self::Error> {
        match reason {
            DisconnectReason::ReceivedDisconnect(info) => {
                self.died(format!("server disconnected: {}", info.message));
                Ok(())
            }
            DisconnectReason::Error(e) => {
                let msg = match &e {
                    russh::Error::KeepaliveTimeout => "no answer to keepalives (peer dead or link down)".to_string(),
                    other => other.to_string(),
                };
                self.died(msg);
                Err(e)
            }
        }
    }
}

pub(crate) struct Conn {
    pub handle: Handle<Client>,
    /// Keeps the jump connection alive as long as this one.
    pub _jump: Option<Arc<Conn>>,
    /// The proxy command carrying this connection; killed with it.
    pub _proxy_child: Option<Mutex<tokio::process::Child>>,
}

pub(crate) struct Connected {
    pub conn: Arc<Conn>,
    pub dead: oneshot::Receiver<String>,
}

fn russh_config(spec: &HostSpec) -> Arc<client::Config> {
    Arc::new(client::Config {
        keepalive_interval: Some(spec.client.keepalive_interval),
        keepalive_max: spec.client.keepalive_max,
        inactivity_timeout: None,
        // Without it, small request/response exchanges (docker API) see ~40 ms Nagle stalls.
        nodelay: true,
        ..Default::default()
    })
}

fn map_connect_error(spec: &HostSpec, refusal: &Arc<Mutex<Option<SshError>>>, e: russh::Error) -> SshError {
    if let Some(r) = refusal.lock().unwrap().take() {
        return r;
    }
    let reason = match &e {
        russh::Error::IO(io) => io.to_string(),
        russh::Error::Disconnect => "connection closed during handshake".into(),
        other => other.to_string(),
    };
    SshError::Unreachable { host: spec.host.clone(), reason }
}

/// Connects (through the jump chain when set), checks the host key and authenticates.
pub(crate) fn connect(spec: &HostSpec) -> Pin<Box<dyn Future<Output = Result<Connected, SshError>> + Send + '_>> {
    Box::pin(async move {
        let refusal = Arc::new(Mutex::new(None));
        let (dead_tx, dead_rx) = oneshot::channel();
        let handler = Client { spec: spec.clone(), refusal: refusal.clone(), dead: Some(dead_tx) };
        let config = russh_config(spec);
        let (handle, jump) = match &spec.proxy {
            Some(jspec) => {
                let j = connect(jspec)
                    .await
                    .map_err(|e| SshError::Unreachable { host: spec.host.clone(), reason: format!("jump host {}: {e}", jspec.describe()) })?;
                let ch = j.conn.handle.channel_open_direct_tcpip(spec.hostname.clone(), spec.port as u32, "127.0.0.1", 0).await.map_err(|e| {
                    SshError::Unreachable {
                        host: spec.host.clone(),
                        reason: format!("jump host {} cannot reach {}:{}: {e}", jspec.describe(), spec.hostname, spec.port),
                    }
                })?;
                let h = client::connect_stream(config, ch.into_stream(), handler).await.map_err(|e| map_connect_error(spec, &refusal, e))?;
                (h, Some(j.conn))
            }
            None if spec.proxy_command.is_some() => {
                let template = spec.proxy_command.as_deref().unwrap_or_default();
                let (h, child) = connect_via_command(spec, template, config, handler, &refusal).await?;
                let mut handle = h;
                super::auth::authenticate(&mut handle, spec).await?;
                let conn = Conn { handle, _jump: None, _proxy_child: Some(Mutex::new(child)) };
                return Ok(Connected { conn: Arc::new(conn), dead: dead_rx });
            }
            None => {
                let h = client::connect(config, (spec.hostname.as_str(), spec.port), handler).await.map_err(|e| map_connect_error(spec, &refusal, e))?;
                (h, None)
            }
        };
        let mut handle = handle;
        super::auth::authenticate(&mut handle, spec).await?;
        Ok(Connected { conn: Arc::new(Conn { handle, _jump: jump, _proxy_child: None }), dead: dead_rx })
    })
}

/// Expands a proxy command's tokens as net-ssh and OpenSSH do: `%h` host, `%p` port, `%r`
/// user, `%%` a percent sign. Unknown tokens are an error (net-ssh raises on them too).
pub(crate) fn expand_proxy_command(template: &str, spec: &HostSpec) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut it = template.chars();
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('h') => out.push_str(&spec.hostname),
            Some('p') => out.push_str(&spec.port.to_string()),
            Some('r') => out.push_str(&spec.user),
            Some('%') => out.push('%'),
            Some(other) => return Err(format!("unknown token %{other} in ssh proxy_command `{template}` (known: %h %p %r %%)")),
            None => return Err(format!("ssh proxy_command `{template}` ends with a lone %")),
        }
    }
    Ok(out)
}

/// Runs the proxy command (`sh -c`, as net-ssh's popen does) and speaks SSH over its
/// stdin/stdout. Its stderr is kept to explain a failed connection.
async fn connect_via_command(
    spec: &HostSpec,
    template: &str,
    config: Arc<client::Config>,
    handler: Client,
    refusal: &Arc<Mutex<Option<SshError>>>,
) -> Result<(Handle<Client>, tokio::process::Child), SshError> {
    use tokio::io::AsyncReadExt;
    let unreachable = |reason: String| SshError::Unreachable { host: spec.host.clone(), reason };
    let line = expand_proxy_command(template, spec).map_err(&unreachable)?;
    // `exec`, as OpenSSH runs a ProxyCommand: the command replaces the shell, so killing the
    // child (on drop, e.g. after the connect timeout) kills the command itself rather than
    // only a shell whose command lives on as an orphan.
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(format!("exec {line}"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| unreachable(format!("cannot start proxy command `{line}`: {e}")))?;
    let (Some(stdin), Some(stdout), Some(mut stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take()) else {
        return Err(unreachable(format!("proxy command `{line}`: no pipes")));
    };
    // Collect (a bounded amount of) stderr in the background: read while the handshake runs,
    // so a chatty command cannot block on a full pipe.
    let err_buf = Arc::new(Mutex::new(Vec::<u8>::new()));
    let eb = err_buf.clone();
    tokio::spawn(async move {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            let mut b = eb.lock().unwrap();
            if b.len() < 16 * 1024 {
                b.extend_from_slice(&chunk[..n]);
            }
        }
    });
    let stream = tokio::io::join(stdout, stdin);
    match client::connect_stream(config, stream, handler).await {
        Ok(h) => Ok((h, child)),
        Err(e) => {
            // Give the command a moment to say why it went away.
            let _ = tokio::time::timeout(std::time::Duration::from_millis(300), child.wait()).await;
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            let said = String::from_utf8_lossy(&err_buf.lock().unwrap()).trim().to_string();
            let mut err = map_connect_error(spec, refusal, e);
            if let SshError::Unreachable { reason, .. } = &mut err {
                *reason = if said.is_empty() {
                    format!("proxy command `{line}`: {reason}")
                } else {
                    format!("proxy command `{line}`: {reason}: {}", said.lines().last().unwrap_or_default())
                };
            }
            Err(err)
        }
    }
}
