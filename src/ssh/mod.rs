//! ssh: one russh client connection per host, owned by an actor task and shared by every view
//! and action.
//!
//! - [`HostSpec`]: how to reach a host, resolved from Kamal's `ssh:` settings ([`SshOptions`]),
//!   `~/.ssh/config` and kdeck's own [`ClientOptions`].
//! - [`Session`] (Clone, cheap): handle to the host's actor. `exec`, `exec_stream`, `upload`
//!   (`scp -t` compatible), `docker()` (bollard over direct-streamlocal), `state()`,
//!   `open_interactive` (a pty channel; [`interactive::run_on_terminal`] bridges it to the
//!   local terminal for `app exec -i` and the dashboard's host shell).
//! - [`Pool`]: one `Session` per host, created lazily, shared.
//!
//! `Session::new` / `Pool::get` spawn the actor, so call them inside a tokio runtime. The actor
//! stops (and disconnects) when the last clone of the session is dropped.

// SshError carries what the user needs to act (file, line, fingerprint, command); errors are
// rare, so its size does not matter.
#![allow(clippy::result_large_err)]

pub mod auth;
mod conn;
mod exec;
pub mod interactive;
pub mod known_hosts;
mod pool;
mod session;
pub mod ssh_config;

pub use auth::{NoPrompt, PassphrasePrompt, TerminalPrompt};
pub use exec::{ExecEvent, ExecOutput, ExecStream};
pub use pool::Pool;
pub use session::{ConnState, HostStream, Session, Stats};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What to do with a host whose key is not in known_hosts. A changed key is always refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostKeyPolicy {
    #[default]
    Strict,
    /// Record unknown hosts (like OpenSSH's `StrictHostKeyChecking accept-new`).
    AcceptNew,
}

/// How `Session::docker()` reaches dockerd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DockerTransport {
    /// `direct-streamlocal` to `/var/run/docker.sock`; if the server refuses that channel
    /// (`AllowStreamLocalForwarding no`), `docker system dial-stdio` over exec from then on.
    #[default]
    Auto,
    StreamLocal,
    /// One exec channel running `docker system dial-stdio` per request (slower, and each open
    /// stream holds an exec slot, so long log streams are limited by `max_sessions`).
    DialStdio,
}

/// Private key texts from Kamal's `ssh.key_data` (secrets): never printed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct KeyData(pub Vec<String>);

impl std::fmt::Debug for KeyData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyData([{} redacted])", self.0.len())
    }
}

/// Kamal's `ssh:` section (deploy.yml), as the config module reads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SshOptions {
    pub user: Option<String>,
    pub port: Option<u16>,
    /// `ssh.keys`: paths to private keys.
    pub keys: Vec<PathBuf>,
    pub keys_only: bool,
    pub key_data: KeyData,
    /// `ssh.proxy`: `user@host[:port]` jump host.
    pub proxy: Option<String>,
    /// `ssh.proxy_command`: a local command whose stdin/stdout is the connection (`%h`, `%p`,
    /// `%r`, `%%` as in net-ssh and OpenSSH).
    pub proxy_command: Option<String>,
    /// `ssh.config`: `false` → ignore ssh config files; paths → read those instead of
    /// `~/.ssh/config`. `None` = default (`~/.ssh/config`).
    pub config_files: Option<Vec<PathBuf>>,
}

/// kdeck-side connection settings shared by every host.
#[derive(Clone)]
pub struct ClientOptions {
    pub known_hosts: PathBuf,
    pub host_key_policy: HostKeyPolicy,
    /// Time to get a TCP connection, handshake and authentication done before "unreachable".
    pub connect_timeout: Duration,
    pub keepalive_interval: Duration,
    /// Unanswered keepalives before the peer counts as dead.
    pub keepalive_max: usize,
    /// Concurrent exec channels per host; keep below sshd's MaxSessions (default 10).
    pub max_sessions: usize,
    /// First wait before dialling a host that went down again; it doubles up to `max_backoff`.
    pub min_backoff: Duration,
    /// Cap of the reconnect backoff.
    pub max_backoff: Duration,
    /// Default `~/.ssh/id_ed25519`, `~/.ssh/id_rsa` (overridable for tests).
    pub default_keys: Vec<PathBuf>,
    /// Ask the ssh-agent for keys.
    pub use_agent: bool,
    /// Agent socket; `None` = `$SSH_AUTH_SOCK`.
    pub agent_socket: Option<PathBuf>,
    pub docker_transport: DockerTransport,
    /// Run `true` on a pty once per connection: sshd then sets TCP_NODELAY, which cuts the
    /// docker API latency tail (p99 ~45 ms → ~9 ms in the lab). Off by default because it is
    /// one extra command in the host's auth/command logs.
    pub pty_warmup: bool,
    /// Dial a host only when something first needs it (headless commands: `-h`/`-r` then touch
    /// only the hosts they name); off for the dashboard, which watches every host from the start.
    pub lazy: bool,
    pub prompt: Arc<dyn PassphrasePrompt>,
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("known_hosts", &self.known_hosts)
            .field("host_key_policy", &self.host_key_policy)
            .field("connect_timeout", &self.connect_timeout)
            .field("keepalive_interval", &self.keepalive_interval)
            .field("keepalive_max", &self.keepalive_max)
            .field("max_sessions", &self.max_sessions)
            .finish_non_exhaustive()
    }
}

impl Default for ClientOptions {
    fn default() -> Self {
        let home = dirs::home_dir().unwrap_or_else(|| PathBuf::from("/root"));
        ClientOptions {
            known_hosts: known_hosts::default_path(),
            host_key_policy: HostKeyPolicy::Strict,
            connect_timeout: Duration::from_secs(10),
            // Kamal (net-ssh) uses 30 s keepalives; 15 s × 3 notices a dead peer within ~60 s.
            keepalive_interval: Duration::from_secs(15),
            keepalive_max: 3,
            max_sessions: 8,
            min_backoff: Duration::from_millis(500),
            // A host that comes back is found within seconds, however long it was away.
            max_backoff: Duration::from_secs(5),
            default_keys: vec![home.join(".ssh/id_ed25519"), home.join(".ssh/id_rsa")],
            use_agent: true,
            agent_socket: None,
            docker_transport: DockerTransport::Auto,
            pty_warmup: false,
            lazy: false,
            prompt: Arc::new(NoPrompt),
        }
    }
}

/// Everything needed to reach one host.
#[derive(Debug, Clone)]
pub struct HostSpec {
    /// Host string exactly as in deploy.yml (the name everything is keyed by).
    pub host: String,
    /// Address to connect to (ssh config `HostName`, else `host`).
    pub hostname: String,
    pub port: u16,
    pub user: String,
    pub keys: Vec<PathBuf>,
    pub key_data: KeyData,
    pub keys_only: bool,
    /// Jump host (Kamal `ssh.proxy` or ssh config `ProxyJump`), connected first.
    pub proxy: Option<Box<HostSpec>>,
    /// Local command carrying the connection (Kamal `ssh.proxy_command` or ssh config
    /// `ProxyCommand`), `%` tokens not yet expanded. Not used when `proxy` is set.
    pub proxy_command: Option<String>,
    pub client: ClientOptions,
}

impl HostSpec {
    /// A host with defaults: root@host:22, default keys and agent, `~/.ssh/known_hosts`.
    pub fn new(host: &str) -> Self {
        HostSpec {
            host: host.to_string(),
            hostname: host.to_string(),
            port: 22,
            user: "root".into(),
            keys: vec![],
            key_data: KeyData::default(),
            keys_only: false,
            proxy: None,
            proxy_command: None,
            client: ClientOptions::default(),
        }
    }

    /// Resolves `host` the way Kamal + OpenSSH would: Kamal's explicit `ssh.*` settings first,
    /// then `~/.ssh/config` (or `ssh.config` files), then defaults (root, port 22).
    pub fn resolve(host: &str, kamal: &SshOptions, client: &ClientOptions) -> Result<Self, SshError> {
        let cfg = load_ssh_config(kamal)?;
        Ok(Self::resolve_with(host, kamal, client, cfg.as_ref()))
    }

    pub fn resolve_with(host: &str, kamal: &SshOptions, client: &ClientOptions, cfg: Option<&ssh_config::SshConfig>) -> Self {
        let r = cfg.map(|c| c.resolve(host)).unwrap_or_default();
        let mut client = client.clone();
        if let Some(p) = &r.user_known_hosts_file {
            client.known_hosts = p.clone();
        }
        if r.strict_host_key_checking.as_deref() == Some("accept-new") {
            client.host_key_policy = HostKeyPolicy::AcceptNew;
        }
        if let Some(t) = r.connect_timeout {
            client.connect_timeout = Duration::from_secs(t);
        }
        let mut keys = kamal.keys.clone();
        for k in &r.identity_files {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
        let (host_only, inline_port) = split_host_port(host);
        let proxy = match (&kamal.proxy, &r.proxy_jump) {
            (Some(p), _) => Some(Box::new(Self::jump(p, kamal, &client, cfg))),
            // Kamal's proxy_command wins over the ssh config's jump.
            (None, Some(_)) if kamal.proxy_command.is_some() => None,
            (None, Some(chain)) => {
                // `a,b` means: reach a, through it b, through b the target.
                let mut prev: Option<Box<HostSpec>> = None;
                for hop in chain.split(',') {
                    // Jump hosts get the same keys (OpenSSH would offer the agent/defaults too).
                    let mut j = Self::jump(hop, kamal, &client, cfg);
                    j.proxy = prev.take();
                    prev = Some(Box::new(j));
                }
                prev
            }
            _ => None,
        };
        HostSpec {
            host: host.to_string(),
            hostname: r.hostname.clone().unwrap_or_else(|| host_only.to_string()),
            port: kamal.port.or(inline_port).or(r.port).unwrap_or(22),
            user: kamal.user.clone().or(r.user.clone()).unwrap_or_else(|| "root".into()),
            keys,
            key_data: kamal.key_data.clone(),
            keys_only: kamal.keys_only || r.identities_only == Some(true),
            proxy_command: if proxy.is_some() { None } else { kamal.proxy_command.clone().or(r.proxy_command.clone()) },
            proxy,
            client,
        }
    }

    fn jump(s: &str, kamal: &SshOptions, client: &ClientOptions, cfg: Option<&ssh_config::SshConfig>) -> Self {
        let (user, host, port) = ssh_config::parse_jump(s);
        let r = cfg.map(|c| c.resolve(&host)).unwrap_or_default();
        let mut keys = kamal.keys.clone();
        keys.extend(r.identity_files.iter().cloned());
        HostSpec {
            host: host.clone(),
            hostname: r.hostname.unwrap_or(host),
            port: port.or(r.port).unwrap_or(22),
            user: user.or(r.user).unwrap_or_else(|| "root".into()),
            keys,
            key_data: kamal.key_data.clone(),
            keys_only: kamal.keys_only,
            proxy: None,
            proxy_command: None,
            client: client.clone(),
        }
    }

    /// `user@host:port` (via jump) for messages.
    pub fn describe(&self) -> String {
        let mut s = format!("{}@{}:{}", self.user, self.hostname, self.port);
        if let Some(j) = &self.proxy {
            s.push_str(&format!(" via {}", j.describe()));
        } else if let Some(c) = &self.proxy_command {
            s.push_str(&format!(" via proxy command `{c}`"));
        }
        s
    }
}

fn split_host_port(host: &str) -> (&str, Option<u16>) {
    match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => match p.parse() {
            Ok(port) => (h, Some(port)),
            Err(_) => (host, None),
        },
        _ => (host, None),
    }
}

fn load_ssh_config(kamal: &SshOptions) -> Result<Option<ssh_config::SshConfig>, SshError> {
    let files = match &kamal.config_files {
        None => vec![ssh_config::default_path()],
        Some(v) => v.clone(),
    };
    if files.is_empty() {
        return Ok(None);
    }
    let mut text = String::new();
    for f in &files {
        // Concatenating keeps "first value wins" across files, like `ssh -F a -F b`.
        text.push_str(&format!("Include {}\nHost *\n", f.display()));
    }
    ssh_config::SshConfig::parse(&text).map(Some).map_err(|e| SshError::Config(e.to_string()))
}

/// Errors a caller can show as they are: each names the host and says what to do.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SshError {
    #[error("{host}: unreachable: {reason}")]
    Unreachable { host: String, reason: String },
    #[error("{host}: host key not known ({key_type} {fingerprint}); refusing to connect. To trust it run: {hint}  (or pass --accept-new-host-keys)")]
    UnknownHostKey {
        host: String,
        key_type: String,
        fingerprint: String,
        hint: String,
        /// The offered public key in OpenSSH form (to trust it: `Session::trust_offered_host_key`).
        key: String,
    },
    #[error("@@@ WARNING: {host}: REMOTE HOST KEY HAS CHANGED @@@ presented {key_type} {fingerprint}, but {path} line {line} records a different key{note}. Someone could be intercepting the connection, or the host was reinstalled. Refusing to connect; if the change is expected, remove the old entry with: ssh-keygen -R {host_token} -f {path}")]
    HostKeyChanged { host: String, host_token: String, key_type: String, fingerprint: String, path: String, line: usize, note: String },
    #[error("{host}: host key {fingerprint} is marked @revoked in {path} line {line}; refusing to connect")]
    HostKeyRevoked { host: String, fingerprint: String, path: String, line: usize },
    #[error("{host}: authentication failed for user {user} (tried: {tried})")]
    Auth { host: String, user: String, tried: String },
    #[error("{0}")]
    Key(String),
    #[error("{host}: connection down: {reason}")]
    Down { host: String, reason: String },
    #[error("{host}: {what}: {reason}")]
    Channel { host: String, what: String, reason: String },
    #[error("ssh config: {0}")]
    Config(String),
}

impl SshError {
    /// Errors that another attempt will not fix without the user acting (keys, host keys).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            SshError::UnknownHostKey { .. }
                | SshError::HostKeyChanged { .. }
                | SshError::HostKeyRevoked { .. }
                | SshError::Auth { .. }
                | SshError::Key(_)
                | SshError::Config(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_precedence_kamal_then_config_then_defaults() {
        let cfg = ssh_config::SshConfig::parse(
            "Host web1\n  HostName 10.1.1.1\n  User cfguser\n  Port 2200\n  IdentityFile /k/web\n  ProxyJump j1,j2:2222\n  StrictHostKeyChecking accept-new\n",
        )
        .unwrap();
        let client = ClientOptions::default();
        let s = HostSpec::resolve_with("web1", &SshOptions::default(), &client, Some(&cfg));
        assert_eq!((s.hostname.as_str(), s.port, s.user.as_str()), ("10.1.1.1", 2200, "cfguser"));
        assert_eq!(s.keys, vec![PathBuf::from("/k/web")]);
        assert_eq!(s.client.host_key_policy, HostKeyPolicy::AcceptNew);
        let j2 = s.proxy.as_ref().unwrap();
        assert_eq!((j2.hostname.as_str(), j2.port), ("j2", 2222));
        assert_eq!(j2.proxy.as_ref().unwrap().hostname, "j1");

        let kamal = SshOptions {
            user: Some("app".into()),
            port: Some(22),
            keys: vec!["/k/kamal".into()],
            keys_only: true,
            proxy: Some("bastion@10.0.0.9:2022".into()),
            ..Default::default()
        };
        let s = HostSpec::resolve_with("web1", &kamal, &client, Some(&cfg));
        assert_eq!((s.port, s.user.as_str()), (22, "app"));
        assert_eq!(s.keys, vec![PathBuf::from("/k/kamal"), PathBuf::from("/k/web")]);
        assert!(s.keys_only);
        let j = s.proxy.unwrap();
        assert_eq!((j.user.as_str(), j.hostname.as_str(), j.port), ("bastion", "10.0.0.9", 2022));

        let s = HostSpec::resolve_with("db:2201", &SshOptions::default(), &client, None);
        assert_eq!((s.hostname.as_str(), s.port, s.user.as_str()), ("db", 2201, "root"));
    }

    #[test]
    fn key_data_is_redacted() {
        let o = SshOptions { key_data: KeyData(vec!["-----BEGIN SECRET".into()]), ..Default::default() };
        assert!(!format!("{o:?}").contains("SECRET"));
    }

    /// QA: a proxy command that never answers used to outlive kdeck: `sh -c CMD` forked CMD,
    /// the connect timeout killed only the shell and CMD was orphaned (one per host per run).
    #[tokio::test]
    async fn proxy_command_is_killed_with_the_attempt() {
        let secs = format!("{}", 7_000_000 + std::process::id());
        let mut spec = HostSpec::new("app1");
        spec.hostname = "10.0.0.5".into();
        spec.proxy_command = Some(format!("sleep {secs}"));
        let attempt = tokio::time::timeout(Duration::from_millis(300), conn::connect(&spec)).await;
        assert!(attempt.is_err(), "the proxy command never answers, so the attempt times out");
        let needle = format!("sleep\0{secs}\0");
        let mut left = Vec::new();
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            left.clear();
            for e in std::fs::read_dir("/proc").unwrap().flatten() {
                let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
                let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
                let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
                // A zombie waiting for tokio's reaper is gone for our purpose.
                let zombie = stat.rsplit(')').next().is_some_and(|r| r.trim_start().starts_with('Z'));
                if !zombie && String::from_utf8_lossy(&cmd).contains(&needle) {
                    left.push(pid);
                }
            }
            if left.is_empty() {
                break;
            }
        }
        for pid in &left {
            // SAFETY: plain kill(2) of a process this test started.
            unsafe { libc::kill(*pid, libc::SIGKILL) };
        }
        assert!(left.is_empty(), "proxy command left running: {left:?}");
    }

    #[test]
    fn proxy_command_tokens_and_precedence() {
        let mut spec = HostSpec::new("app1");
        spec.hostname = "10.0.0.5".into();
        spec.port = 2222;
        spec.user = "deploy".into();
        let line = conn::expand_proxy_command("ssh -W %h:%p %r@bastion # 100%%", &spec).unwrap();
        assert_eq!(line, "ssh -W 10.0.0.5:2222 deploy@bastion # 100%");
        assert!(conn::expand_proxy_command("nc %x", &spec).unwrap_err().contains("%x"));
        assert!(conn::expand_proxy_command("nc %", &spec).is_err());

        // Kamal's proxy_command beats the ssh config's ProxyJump; the config's ProxyCommand
        // applies when Kamal sets none; `ProxyCommand none` switches it off.
        let cfg = ssh_config::SshConfig::parse(
            "Host a\n  ProxyJump j1\nHost b\n  ProxyCommand ssh -W %h:%p gw\nHost c\n  ProxyCommand none\nHost *\n  ProxyCommand ssh -W %h:%p other\n",
        )
        .unwrap();
        let client = ClientOptions::default();
        let kamal = SshOptions { proxy_command: Some("nc %h %p".into()), ..Default::default() };
        let a = HostSpec::resolve_with("a", &kamal, &client, Some(&cfg));
        assert!(a.proxy.is_none());
        assert_eq!(a.proxy_command.as_deref(), Some("nc %h %p"));
        let plain = SshOptions::default();
        assert!(HostSpec::resolve_with("a", &plain, &client, Some(&cfg)).proxy.is_some());
        assert_eq!(HostSpec::resolve_with("b", &plain, &client, Some(&cfg)).proxy_command.as_deref(), Some("ssh -W %h:%p gw"));
        assert_eq!(HostSpec::resolve_with("c", &plain, &client, Some(&cfg)).proxy_command, None);
        // Kamal's jump (ssh.proxy) beats any proxy command.
        let jump = SshOptions { proxy: Some("root@j".into()), proxy_command: Some("nc %h %p".into()), ..Default::default() };
        let d = HostSpec::resolve_with("d", &jump, &client, Some(&cfg));
        assert!(d.proxy.is_some() && d.proxy_command.is_none());
    }
}
