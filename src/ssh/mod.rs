//! ssh: one russh client connection per host, owned by an actor task and shared by every view
//! and action. (Interface sketch; the backend issue fills it in. Keep these names stable: the
//! engine and the fleet watchers are written against them.)
//!
//! Planned surface:
//! - `HostSpec`: how to reach a host (deploy.yml host string, resolved address, port, user,
//!   keys, keys_only, jump proxy, known_hosts policy, timeouts).
//! - `Session` (Clone, cheap): handle to the actor.
//!   - `async fn exec(&self, cmd: &str) -> Result<ExecOutput>` — one exec channel, full output
//!     and exit status (`ExecOutput { stdout, stderr, status }`).
//!   - `async fn exec_stream(&self, cmd: &str) -> Result<ExecStream>` — lines as they come.
//!   - `async fn upload(&self, remote_path: &str, data: &[u8], mode: u32) -> Result<()>` —
//!     `scp -t` compatible upload.
//!   - `fn docker(&self) -> bollard::Docker` — bollard over direct-streamlocal.
//!   - `fn state(&self) -> tokio::sync::watch::Receiver<ConnState>`.
//! - `Pool`: one `Session` per host, created lazily, shared.
