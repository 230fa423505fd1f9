//! Authentication: Kamal's `ssh.key_data` and `ssh.keys` (+ ssh config IdentityFile), then the
//! ssh-agent, then the default key files. Encrypted keys ask a [`PassphrasePrompt`] once per
//! process (decrypted keys are cached); headless runs fail with a clear message instead.

use super::{HostSpec, SshError};
use russh::client::{AuthResult, Handle, Handler};
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Asks for the passphrase of an encrypted key. Called outside the TUI (before it starts) or
/// never (headless): `None` means "cannot ask".
pub trait PassphrasePrompt: Send + Sync {
    fn passphrase(&self, key_path: &Path) -> Option<String>;
}

/// Headless: never asks.
pub struct NoPrompt;

impl PassphrasePrompt for NoPrompt {
    fn passphrase(&self, _: &Path) -> Option<String> {
        None
    }
}

/// Reads the passphrase from `/dev/tty` with echo off. Only use while the TUI is not running.
pub struct TerminalPrompt;

impl PassphrasePrompt for TerminalPrompt {
    fn passphrase(&self, key_path: &Path) -> Option<String> {
        use std::io::{BufRead, Write};
        let mut tty = std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").ok()?;
        write!(tty, "Enter passphrase for key '{}': ", key_path.display()).ok()?;
        tty.flush().ok()?;
        let stty = |arg: &str| std::process::Command::new("stty").arg(arg).stdin(std::fs::File::open("/dev/tty").ok()?).status().ok();
        stty("-echo");
        let mut line = String::new();
        let r = std::io::BufReader::new(tty.try_clone().ok()?).read_line(&mut line);
        stty("echo");
        let _ = writeln!(tty);
        r.ok()?;
        Some(line.trim_end_matches(['\n', '\r']).to_string())
    }
}

fn key_cache() -> &'static Mutex<HashMap<PathBuf, Arc<PrivateKey>>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Arc<PrivateKey>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Loads a private key file; asks for a passphrase if it is encrypted. `Ok(None)` = file absent.
pub fn load_key(path: &Path, prompt: &dyn PassphrasePrompt) -> Result<Option<Arc<PrivateKey>>, SshError> {
    if let Some(k) = key_cache().lock().unwrap().get(path) {
        return Ok(Some(k.clone()));
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SshError::Key(format!("{}: cannot read key: {e}", path.display()))),
    };
    let key = match russh::keys::decode_secret_key(&text, None) {
        Ok(k) => k,
        Err(russh::keys::Error::KeyIsEncrypted) => {
            let Some(pass) = prompt.passphrase(path) else {
                return Err(SshError::Key(format!(
                    "{}: key is encrypted and no passphrase can be asked here; add it to ssh-agent (ssh-add {}) or run kdeck in a terminal",
                    path.display(),
                    path.display()
                )));
            };
            russh::keys::decode_secret_key(&text, Some(&pass)).map_err(|e| SshError::Key(format!("{}: cannot decrypt key: {e}", path.display())))?
        }
        Err(e) => return Err(SshError::Key(format!("{}: not a usable private key: {e}", path.display()))),
    };
    let key = Arc::new(key);
    key_cache().lock().unwrap().insert(path.to_path_buf(), key.clone());
    Ok(Some(key))
}

async fn try_key<H: Handler>(handle: &mut Handle<H>, user: &str, key: Arc<PrivateKey>) -> Result<bool, russh::Error> {
    let hash = if key.algorithm().is_rsa() { handle.best_supported_rsa_hash().await?.flatten() } else { None };
    let r = handle.authenticate_publickey(user, PrivateKeyWithHashAlg::new(key, hash)).await?;
    Ok(matches!(r, AuthResult::Success))
}

pub(crate) async fn authenticate<H: Handler>(handle: &mut Handle<H>, spec: &HostSpec) -> Result<(), SshError> {
    let user = spec.user.as_str();
    let mut tried: Vec<String> = Vec::new();
    let fail = |e: russh::Error| SshError::Down { host: spec.host.clone(), reason: format!("during authentication: {e}") };

    for (i, pem) in spec.key_data.0.iter().enumerate() {
        let key =
            russh::keys::decode_secret_key(pem, None).map_err(|e| SshError::Key(format!("ssh.key_data[{i}]: not a usable unencrypted private key: {e}")))?;
        tried.push(format!("ssh.key_data[{i}]"));
        if try_key(handle, user, Arc::new(key)).await.map_err(fail)? {
            return Ok(());
        }
    }
    for path in &spec.keys {
        match load_key(path, spec.client.prompt.as_ref())? {
            Some(k) => {
                tried.push(path.display().to_string());
                if try_key(handle, user, k).await.map_err(fail)? {
                    return Ok(());
                }
            }
            None => tried.push(format!("{} (missing)", path.display())),
        }
    }
    let agent_socket = spec.client.agent_socket.clone().or_else(|| std::env::var_os("SSH_AUTH_SOCK").map(Into::into));
    if let (false, true, Some(sock)) = (spec.keys_only, spec.client.use_agent, agent_socket) {
        match russh::keys::agent::client::AgentClient::connect_uds(&sock).await {
            Ok(mut agent) => {
                let ids = agent.request_identities().await.unwrap_or_default();
                for id in ids {
                    if let russh::keys::agent::AgentIdentity::PublicKey { key, .. } = id {
                        tried.push(format!("agent key {}", key.fingerprint(Default::default())));
                        let hash = if key.algorithm().is_rsa() { handle.best_supported_rsa_hash().await.map_err(fail)?.flatten() } else { None };
                        match handle.authenticate_publickey_with(user, key, hash, &mut agent).await {
                            Ok(AuthResult::Success) => return Ok(()),
                            Ok(_) => {}
                            Err(e) => tracing::debug!(host = %spec.host, "agent signing failed: {e}"),
                        }
                    }
                }
            }
            Err(e) => tracing::debug!("ssh-agent not usable: {e}"),
        }
    }
    if !spec.keys_only {
        for path in &spec.client.default_keys {
            if spec.keys.contains(path) {
                continue;
            }
            if let Some(k) = load_key(path, spec.client.prompt.as_ref())? {
                tried.push(path.display().to_string());
                if try_key(handle, user, k).await.map_err(fail)? {
                    return Ok(());
                }
            }
        }
    }
    Err(SshError::Auth { host: spec.host.clone(), user: user.to_string(), tried: if tried.is_empty() { "no keys found".into() } else { tried.join(", ") } })
}
