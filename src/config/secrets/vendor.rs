//! Running a password manager's CLI (`op`, `bw`, `lpass`, …) for an adapter: the command line
//! is built as the shell text Kamal's adapters run (so the vendor sees the same argv, quirks
//! included) and run with `/bin/sh -c`. Its stdout is the answer and is never logged or shown;
//! its stderr is kept to quote in errors. Session tokens are redacted wherever a command is shown.

use super::json::Json;
use super::ruby::ruby_shellescape;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

/// Where vendor CLIs run: the environment (PATH, DOPPLER_TOKEN, …) and the directory.
#[derive(Debug, Clone, Copy)]
pub struct VendorEnv<'a> {
    pub env: &'a BTreeMap<String, String>,
    pub cwd: &'a Path,
}

/// One piece of a command line, already in shell syntax.
#[derive(Debug, Clone)]
enum Part {
    Plain(String),
    /// A session token: in the shell text, `[REDACTED]` when shown.
    Secret(String),
}

/// A vendor command line.
#[derive(Debug, Clone)]
pub struct Cmd {
    parts: Vec<Part>,
    /// Extra environment (`BW_SESSION`); values are never shown.
    env: Vec<(String, String)>,
    /// Kamal sends stderr to /dev/null (`--version`, status checks): kept, never shown live.
    quiet: bool,
    /// A sign-in/unlock that may prompt: stdin is the terminal and stderr is shown as it comes.
    interactive: bool,
}

impl Cmd {
    /// `program` followed by literal shell text (words Kamal writes into its strings).
    pub fn new(program: &str, text: &str) -> Cmd {
        let mut c = Cmd { parts: vec![Part::Plain(program.to_string())], env: vec![], quiet: false, interactive: false };
        if !text.is_empty() {
            c.parts.push(Part::Plain(text.to_string()));
        }
        c
    }
    /// Literal shell text.
    pub fn raw(mut self, text: &str) -> Cmd {
        self.parts.push(Part::Plain(text.to_string()));
        self
    }
    /// One value, escaped like Ruby's `Shellwords.escape`.
    pub fn esc(self, value: &str) -> Cmd {
        self.raw(&ruby_shellescape(value))
    }
    /// Several values, each escaped.
    pub fn esc_all<S: AsRef<str>>(self, values: &[S]) -> Cmd {
        values.iter().fold(self, |c, v| c.esc(v.as_ref()))
    }
    /// Shell text that carries a secret (a session token).
    pub fn secret(mut self, text: String) -> Cmd {
        self.parts.push(Part::Secret(text));
        self
    }
    pub fn env_secret(mut self, key: &str, value: &str) -> Cmd {
        self.env.push((key.to_string(), value.to_string()));
        self
    }
    pub fn quiet(mut self) -> Cmd {
        self.quiet = true;
        self
    }
    pub fn interactive(mut self) -> Cmd {
        self.interactive = true;
        self
    }

    fn shell(&self) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Plain(s) | Part::Secret(s) => s.as_str(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The command as shown to the operator (session tokens redacted).
    pub fn display(&self) -> String {
        let env: String = self.env.iter().map(|(k, _)| format!("{k}=[REDACTED] ")).collect();
        let words: Vec<&str> = self
            .parts
            .iter()
            .map(|p| match p {
                Part::Plain(s) => s.as_str(),
                Part::Secret(_) => "[REDACTED]",
            })
            .filter(|s| !s.is_empty())
            .collect();
        format!("{env}{}", words.join(" "))
    }
}

/// What a vendor command answered.
#[derive(Debug)]
pub struct Output {
    pub ok: bool,
    pub status: String,
    pub stdout: String,
    pub stderr: String,
}

/// Everything that can go wrong reading secrets from a vault. Never holds a secret value.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SecretsError {
    #[error("Unknown secrets adapter: {0}")]
    UnknownAdapter(String),
    #[error("{adapter}: the `{program}` CLI is not installed (`{command}` {status}{})", quote(stderr))]
    NotInstalled { adapter: &'static str, program: &'static str, command: String, status: String, stderr: String },
    #[error("{adapter}: {what}: `{command}` {status}{}", quote(stderr))]
    Command { adapter: &'static str, what: String, command: String, status: String, stderr: String },
    #[error("{adapter}: {what}: `{command}` did not answer {expected}")]
    Answer { adapter: &'static str, what: String, command: String, expected: String },
    #[error("{adapter}: {message}")]
    Secret { adapter: &'static str, message: String },
    #[error("{0}")]
    Usage(String),
}

/// The vendor's stderr, trimmed, for an error message.
fn quote(stderr: &str) -> String {
    let t = stderr.trim();
    if t.is_empty() {
        return String::new();
    }
    let mut t: String = t.chars().take(600).collect();
    if t.len() < stderr.trim().len() {
        t.push('…');
    }
    format!(": {}", t.replace('\n', " | "))
}

/// One adapter's runner: names the adapter in every error.
#[derive(Debug, Clone, Copy)]
pub struct Vendor<'a> {
    pub adapter: &'static str,
    pub at: VendorEnv<'a>,
}

impl Vendor<'_> {
    /// Run `cmd`; an error only when the shell itself cannot start.
    pub fn run(&self, cmd: &Cmd) -> Result<Output, SecretsError> {
        let shown = cmd.display();
        let fail = |status: String| SecretsError::Command {
            adapter: self.adapter,
            what: "cannot run the command".into(),
            command: shown.clone(),
            status,
            stderr: String::new(),
        };
        if self.at.env.get("KDECK_DISABLE_COMMANDS").is_some_and(|v| v == "1") {
            return Err(fail("not run: commands are disabled".into()));
        }
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg(cmd.shell()).env_clear().envs(self.at.env).envs(cmd.env.iter().cloned()).current_dir(self.at.cwd);
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        c.stdin(if cmd.interactive { Stdio::inherit() } else { Stdio::null() });
        let mut child = c.spawn().map_err(|e| fail(format!("could not start /bin/sh ({e})")))?;
        let mut err_pipe = child.stderr.take();
        let live = cmd.interactive && !cmd.quiet;
        let stderr_reader = std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut buf = [0u8; 4096];
            while let Some(Ok(n @ 1..)) = err_pipe.as_mut().map(|p| p.read(&mut buf)) {
                if live {
                    let mut e = std::io::stderr();
                    let _ = e.write_all(&buf[..n]);
                    let _ = e.flush();
                }
                kept.extend_from_slice(&buf[..n]);
            }
            kept
        });
        let mut stdout = Vec::new();
        if let Some(mut p) = child.stdout.take() {
            let _ = p.read_to_end(&mut stdout);
        }
        let status = child.wait().map_err(|e| fail(format!("could not wait for it ({e})")))?;
        let stderr = String::from_utf8_lossy(&stderr_reader.join().unwrap_or_default()).into_owned();
        let status_text = match status.code() {
            Some(c) => format!("exited {c}"),
            None => "was killed by a signal".to_string(),
        };
        // The command and its status only: stdout holds secrets.
        tracing::debug!(adapter = self.adapter, command = %shown, status = %status_text, "secrets adapter command");
        Ok(Output { ok: status.success(), status: status_text, stdout: String::from_utf8_lossy(&stdout).into_owned(), stderr })
    }

    /// Kamal's `check_dependencies!`: `<program> <version_args> 2> /dev/null` must succeed.
    pub fn check_installed(&self, program: &'static str, version_args: &str) -> Result<(), SecretsError> {
        let cmd = Cmd::new(program, version_args).quiet();
        let out = self.run(&cmd)?;
        if out.ok {
            return Ok(());
        }
        Err(SecretsError::NotInstalled { adapter: self.adapter, program, command: cmd.display(), status: out.status, stderr: out.stderr })
    }

    /// Run and require success; the answer's stdout.
    pub fn ok(&self, cmd: &Cmd, what: &str) -> Result<String, SecretsError> {
        let out = self.run(cmd)?;
        if out.ok {
            Ok(out.stdout)
        } else {
            Err(self.failed(cmd, what, out))
        }
    }

    pub fn failed(&self, cmd: &Cmd, what: &str, out: Output) -> SecretsError {
        SecretsError::Command { adapter: self.adapter, what: what.to_string(), command: cmd.display(), status: out.status, stderr: out.stderr }
    }

    /// Parse an answer as JSON (the error gives the position, never the text).
    pub fn json(&self, cmd: &Cmd, what: &str, stdout: &str) -> Result<Json, SecretsError> {
        Json::parse(stdout).map_err(|pos| self.answer(cmd, what, &format!("JSON ({pos})")))
    }

    pub fn answer(&self, cmd: &Cmd, what: &str, expected: &str) -> SecretsError {
        SecretsError::Answer { adapter: self.adapter, what: what.to_string(), command: cmd.display(), expected: expected.to_string() }
    }

    pub fn secret_error(&self, message: impl Into<String>) -> SecretsError {
        SecretsError::Secret { adapter: self.adapter, message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_command_hides_session_tokens() {
        let c = Cmd::new("op", "item get").esc("my item").secret(format!("--session {}", ruby_shellescape("tok"))).env_secret("BW_SESSION", "tok");
        assert_eq!(c.shell(), "op item get my\\ item --session tok");
        assert_eq!(c.display(), "BW_SESSION=[REDACTED] op item get my\\ item [REDACTED]");
        assert!(!c.display().contains("tok"));
    }

    #[test]
    fn stderr_is_quoted_on_one_line_and_capped() {
        assert_eq!(quote(""), "");
        assert_eq!(quote(" a\nb \n"), ": a | b");
        assert!(quote(&"x".repeat(2000)).ends_with('…'));
    }
}
