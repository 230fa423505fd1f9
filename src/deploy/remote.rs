//! How the engine reaches a host: one exec per command from the login dir, uploads via
//! `scp -t` (what Kamal does), and streamed output for `logs -f`. The trait keeps the runner
//! independent of the transport: the shared russh backend (`crate::ssh`) and, as a fallback,
//! the local OpenSSH client with connection multiplexing.

use futures::future::BoxFuture;
use std::path::PathBuf;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;

#[derive(Debug, Clone, Default)]
pub struct ExecOutput {
    pub stdout: String,
    pub stderr: String,
    pub status: i32,
}

impl ExecOutput {
    pub fn ok(&self) -> bool {
        self.status == 0
    }
    /// Both streams, for error messages.
    pub fn combined(&self) -> String {
        let mut s = self.stdout.trim_end().to_string();
        if !self.stderr.trim().is_empty() {
            if !s.is_empty() {
                s.push('\n');
            }
            s.push_str(self.stderr.trim_end());
        }
        s
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("cannot reach {host}: {}", without_host(.host, .message))]
    Connect { host: String, message: String },
    #[error("{host}: {message}")]
    Io { host: String, message: String },
}

/// The ssh layer's errors already start with the host ("h: unreachable: …"); name it once.
fn without_host<'a>(host: &str, message: &'a str) -> &'a str {
    message.strip_prefix(host).and_then(|m| m.strip_prefix(": ")).unwrap_or(message)
}

#[cfg(test)]
#[test]
fn connect_error_names_the_host_once() {
    let e = RemoteError::Connect { host: "10.0.0.3".into(), message: "10.0.0.3: unreachable: Connection refused".into() };
    assert_eq!(e.to_string(), "cannot reach 10.0.0.3: unreachable: Connection refused");
    let e = RemoteError::Connect { host: "h".into(), message: "ssh: connect to host h port 22: refused".into() };
    assert_eq!(e.to_string(), "cannot reach h: ssh: connect to host h port 22: refused");
}

/// A line of streamed output: (is_stderr, line).
pub type StreamLine = (bool, String);

pub trait Remote: Send + Sync {
    /// The host string as written in deploy.yml.
    fn host(&self) -> &str;
    /// Run one command string; non-zero status is not an error here.
    fn exec<'a>(&'a self, cmd: &'a str) -> BoxFuture<'a, Result<ExecOutput, RemoteError>>;
    /// Run a command feeding `input` to its stdin (scp sink protocol).
    fn exec_input<'a>(&'a self, cmd: &'a str, input: Vec<u8>) -> BoxFuture<'a, Result<ExecOutput, RemoteError>>;
    /// Run an endless command on a pty (output merged), sending lines as they come; returns the
    /// exit status. Ends when the command ends or `tx` is closed (the remote command then ends).
    fn exec_stream<'a>(&'a self, cmd: &'a str, tx: mpsc::Sender<StreamLine>) -> BoxFuture<'a, Result<i32, RemoteError>>;
    /// The russh session behind this remote, for interactive channels on the same connection
    /// (`app exec -i`); `None` for other transports.
    fn ssh_session(&self) -> Option<crate::ssh::Session> {
        None
    }
}

/// scp sink stream for one file: `C<mode> <len> <name>\n<data>\0`.
pub fn scp_file_stream(name: &str, data: &[u8], mode: u32) -> Vec<u8> {
    let mut v = format!("C{:04o} {} {}\n", mode, data.len(), name).into_bytes();
    v.extend_from_slice(data);
    v.push(0);
    v
}

/// scp sink stream for a directory tree (`scp -t -r <target>` receives `D…`/`C…`/`E`).
pub fn scp_dir_stream(dir_name: &str, files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut v = format!("D0755 0 {dir_name}\n").into_bytes();
    for (name, data) in files {
        v.extend(scp_file_stream(name, data, 0o644));
    }
    v.extend_from_slice(b"E\n");
    v
}

/// Upload one file like Kamal (`scp -t <path>`, mode given).
pub async fn upload(r: &dyn Remote, path: &str, data: &[u8], mode: u32) -> Result<ExecOutput, RemoteError> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let cmd = format!("scp -t {path}");
    r.exec_input(&cmd, scp_file_stream(name, data, mode)).await
}

/// OpenSSH client transport with ControlMaster multiplexing (one TCP connection per host).
pub struct OpenSsh {
    pub host: String,
    pub user: String,
    pub port: u16,
    pub keys: Vec<PathBuf>,
    pub known_hosts: Option<PathBuf>,
    pub accept_new: bool,
    pub control_dir: PathBuf,
}

impl OpenSsh {
    fn command(&self, remote_cmd: &str) -> Command {
        self.command_tty(remote_cmd, false)
    }

    fn command_tty(&self, remote_cmd: &str, tty: bool) -> Command {
        let mut c = Command::new("ssh");
        if tty {
            c.arg("-tt");
        }
        c.arg("-o").arg("BatchMode=yes");
        c.arg("-o").arg("ControlMaster=auto");
        c.arg("-o").arg(format!("ControlPath={}/%C", self.control_dir.display()));
        c.arg("-o").arg("ControlPersist=120");
        c.arg("-o").arg("ServerAliveInterval=30");
        c.arg("-o").arg("LogLevel=ERROR");
        if let Some(k) = &self.known_hosts {
            c.arg("-o").arg(format!("UserKnownHostsFile={}", k.display()));
        }
        if self.accept_new {
            c.arg("-o").arg("StrictHostKeyChecking=accept-new");
        }
        if !self.keys.is_empty() {
            c.arg("-o").arg("IdentitiesOnly=yes");
        }
        for k in &self.keys {
            c.arg("-i").arg(k);
        }
        c.arg("-p").arg(self.port.to_string());
        c.arg(format!("{}@{}", self.user, self.host));
        c.arg("--").arg(remote_cmd);
        c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        c.kill_on_drop(true);
        c
    }

    fn io_err(&self, e: impl std::fmt::Display) -> RemoteError {
        RemoteError::Io { host: self.host.clone(), message: e.to_string() }
    }

    fn check(&self, out: ExecOutput) -> Result<ExecOutput, RemoteError> {
        // ssh exits 255 for its own failures (connect, auth, host key).
        if out.status == 255 {
            return Err(RemoteError::Connect { host: self.host.clone(), message: out.stderr.trim().to_string() });
        }
        Ok(out)
    }
}

impl Remote for OpenSsh {
    fn host(&self) -> &str {
        &self.host
    }

    fn exec<'a>(&'a self, cmd: &'a str) -> BoxFuture<'a, Result<ExecOutput, RemoteError>> {
        Box::pin(async move {
            let out = self.command(cmd).output().await.map_err(|e| self.io_err(e))?;
            self.check(ExecOutput {
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                status: out.status.code().unwrap_or(-1),
            })
        })
    }

    fn exec_input<'a>(&'a self, cmd: &'a str, input: Vec<u8>) -> BoxFuture<'a, Result<ExecOutput, RemoteError>> {
        Box::pin(async move {
            let mut c = self.command(cmd);
            c.stdin(Stdio::piped());
            let mut child = c.spawn().map_err(|e| self.io_err(e))?;
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(&input).await.map_err(|e| self.io_err(e))?;
                drop(stdin);
            }
            let out = child.wait_with_output().await.map_err(|e| self.io_err(e))?;
            self.check(ExecOutput {
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                status: out.status.code().unwrap_or(-1),
            })
        })
    }

    fn exec_stream<'a>(&'a self, cmd: &'a str, tx: mpsc::Sender<StreamLine>) -> BoxFuture<'a, Result<i32, RemoteError>> {
        Box::pin(async move {
            // A pty makes the remote command die with the connection (docker logs -f lingers otherwise).
            let mut c = self.command_tty(cmd, true);
            let mut child = c.spawn().map_err(|e| self.io_err(e))?;
            let out = child.stdout.take();
            let err = child.stderr.take();
            let tx2 = tx.clone();
            let t1 = tokio::spawn(async move {
                if let Some(o) = out {
                    let mut lines = BufReader::new(o).lines();
                    while let Ok(Some(l)) = lines.next_line().await {
                        if tx2.send((false, l.trim_end_matches('\r').to_string())).await.is_err() {
                            break;
                        }
                    }
                }
            });
            let t2 = tokio::spawn(async move {
                if let Some(o) = err {
                    let mut lines = BufReader::new(o).lines();
                    while let Ok(Some(l)) = lines.next_line().await {
                        if tx.send((true, l.trim_end_matches('\r').to_string())).await.is_err() {
                            break;
                        }
                    }
                }
            });
            let _ = t1.await;
            let _ = t2.await;
            let st = child.wait().await.map_err(|e| self.io_err(e))?;
            Ok(st.code().unwrap_or(-1))
        })
    }
}

/// The shared russh backend: one connection per host, an exec channel per command.
impl Remote for crate::ssh::Session {
    fn host(&self) -> &str {
        crate::ssh::Session::host(self)
    }

    fn ssh_session(&self) -> Option<crate::ssh::Session> {
        Some(self.clone())
    }

    fn exec<'a>(&'a self, cmd: &'a str) -> BoxFuture<'a, Result<ExecOutput, RemoteError>> {
        Box::pin(async move {
            let o = crate::ssh::Session::exec(self, cmd)
                .await
                .map_err(|e| RemoteError::Connect { host: crate::ssh::Session::host(self).to_string(), message: e.to_string() })?;
            Ok(ExecOutput { stdout: o.stdout, stderr: o.stderr, status: o.status })
        })
    }

    fn exec_input<'a>(&'a self, cmd: &'a str, input: Vec<u8>) -> BoxFuture<'a, Result<ExecOutput, RemoteError>> {
        Box::pin(async move {
            let o = self
                .exec_with_input(cmd, &input)
                .await
                .map_err(|e| RemoteError::Connect { host: crate::ssh::Session::host(self).to_string(), message: e.to_string() })?;
            Ok(ExecOutput { stdout: o.stdout, stderr: o.stderr, status: o.status })
        })
    }

    fn exec_stream<'a>(&'a self, cmd: &'a str, tx: mpsc::Sender<StreamLine>) -> BoxFuture<'a, Result<i32, RemoteError>> {
        Box::pin(async move {
            use crate::ssh::ExecEvent;
            // A pty: when the follower stops, sshd hangs up and `docker logs -f` ends too.
            let mut s = crate::ssh::Session::exec_stream_pty(self, cmd)
                .await
                .map_err(|e| RemoteError::Connect { host: crate::ssh::Session::host(self).to_string(), message: e.to_string() })?;
            while let Some(ev) = s.next().await {
                let sent = match ev {
                    ExecEvent::Stdout(l) => tx.send((false, l)).await,
                    ExecEvent::Stderr(l) => tx.send((true, l)).await,
                    ExecEvent::Exit(code) => return Ok(code),
                };
                if sent.is_err() {
                    break;
                }
            }
            Ok(-1)
        })
    }
}
