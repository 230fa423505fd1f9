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
                *self.refusal.lock().unwrap() =
                    Some(SshError::Key(format!("{}: cannot read known_hosts: {e}", path.display())));
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
            HostKeyStatus::Revoked { line } => SshError::HostKeyRevoked {
                host: spec.host.clone(),
                fingerprint: fp,
                path: path.display().to_string(),
                line,
            },
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
                let j = connect(jspec).await.map_err(|e| SshError::Unreachable {
                    host: spec.host.clone(),
                    reason: format!("jump host {}: {e}", jspec.describe()),
                })?;
                let ch = j
                    .conn
                    .handle
                    .channel_open_direct_tcpip(spec.hostname.clone(), spec.port as u32, "127.0.0.1", 0)
                    .await
                    .map_err(|e| SshError::Unreachable {
                        host: spec.host.clone(),
                        reason: format!("jump host {} cannot reach {}:{}: {e}", jspec.describe(), spec.hostname, spec.port),
                    })?;
                let h = client::connect_stream(config, ch.into_stream(), handler)
                    .await
                    .map_err(|e| map_connect_error(spec, &refusal, e))?;
                (h, Some(j.conn))
            }
            None => {
                let h = client::connect(config, (spec.hostname.as_str(), spec.port), handler)
                    .await
                    .map_err(|e| map_connect_error(spec, &refusal, e))?;
                (h, None)
            }
        };
        let mut handle = handle;
        super::auth::authenticate(&mut handle, spec).await?;
        Ok(Connected { conn: Arc::new(Conn { handle, _jump: jump }), dead: dead_rx })
    })
}
