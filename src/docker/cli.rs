//! Fallback: the docker CLI over SSH exec, as Kamal itself drives it. Docker 20.10's CLI does
//! not know `--format json`, so every listing uses `--format '{{json .}}'` (one object a line).

use super::LabelFilter;
use crate::ssh::{ExecStream, Session, SshError};
use serde::Deserialize;
use std::collections::HashMap;

/// One line of `docker ps --format '{{json .}}'`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct CliContainer {
    #[serde(rename = "ID")]
    pub id: String,
    pub names: String,
    pub image: String,
    pub state: String,
    pub status: String,
    /// `a=b,c=d` as the CLI prints it.
    pub labels: String,
    pub created_at: String,
}

impl CliContainer {
    pub fn label_map(&self) -> HashMap<String, String> {
        self.labels.split(',').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error("{host}: `{cmd}` exited with {status}: {stderr}")]
    Failed { host: String, cmd: String, status: i32, stderr: String },
    #[error("{host}: `{cmd}` printed a line that is not JSON ({err}): {line}")]
    Parse { host: String, cmd: String, err: String, line: String },
}

pub fn parse_json_lines<T: for<'de> Deserialize<'de>>(out: &str) -> Result<Vec<T>, (String, String)> {
    out.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).map_err(|e| (e.to_string(), l.to_string()))).collect()
}

async fn run_json<T: for<'de> Deserialize<'de>>(session: &Session, cmd: &str) -> Result<Vec<T>, CliError> {
    let out = session.exec(cmd).await?;
    if out.status != 0 {
        return Err(CliError::Failed { host: session.host().into(), cmd: cmd.into(), status: out.status, stderr: out.stderr.trim().into() });
    }
    parse_json_lines(&out.stdout).map_err(|(err, line)| CliError::Parse { host: session.host().into(), cmd: cmd.into(), err, line })
}

/// `docker ps --all --no-trunc <Kamal filters> --format '{{json .}}'`.
pub async fn containers(session: &Session, f: &LabelFilter) -> Result<Vec<CliContainer>, CliError> {
    let cmd = format!("docker ps --all --no-trunc {} --format '{{{{json .}}}}'", f.cli_args());
    run_json(session, &cmd).await
}

/// `docker inspect id` (the CLI prints a JSON array).
pub async fn inspect(session: &Session, id: &str) -> Result<serde_json::Value, CliError> {
    let cmd = format!("docker inspect {}", shell_words::quote(id));
    let out = session.exec(&cmd).await?;
    if out.status != 0 {
        return Err(CliError::Failed { host: session.host().into(), cmd, status: out.status, stderr: out.stderr.trim().into() });
    }
    let v: serde_json::Value = serde_json::from_str(&out.stdout).map_err(|e| CliError::Parse {
        host: session.host().into(),
        cmd: cmd.clone(),
        err: e.to_string(),
        line: out.stdout.lines().next().unwrap_or_default().into(),
    })?;
    Ok(v.get(0).cloned().unwrap_or(serde_json::Value::Null))
}

/// `docker logs --timestamps --follow` over exec, wrapped so the remote command ends when the
/// channel closes: sshd does not signal commands on channel close, but it closes their stdin,
/// which `cat` notices.
pub async fn follow_logs(session: &Session, id: &str, tail: Option<u64>, since: Option<i64>) -> Result<ExecStream, SshError> {
    let mut args = String::from("--timestamps --follow");
    if let Some(t) = tail {
        args.push_str(&format!(" --tail {t}"));
    }
    if let Some(s) = since {
        args.push_str(&format!(" --since {s}"));
    }
    let inner = format!("docker logs {args} {} 2>&1 & p=$!; cat >/dev/null; kill $p 2>/dev/null", shell_words::quote(id));
    session.exec_stream(&format!("sh -c {}", shell_words::quote(&inner))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_20_10_ps_json() {
        let out = r#"{"Command":"\"/bin/busybox httpd\"","CreatedAt":"2026-11-22 16:00:00 +0000 UTC","ID":"abc123","Image":"10.77.2.1:5000/app:v1","Labels":"service=app,role=web,destination=","LocalVolumes":"0","Mounts":"","Names":"app-web-v1","Networks":"kamal","Ports":"","RunningFor":"5 minutes ago","Size":"0B","State":"running","Status":"Up 5 minutes (healthy)"}
"#;
        let v: Vec<CliContainer> = parse_json_lines(out).unwrap();
        assert_eq!(v[0].id, "abc123");
        assert_eq!(v[0].names, "app-web-v1");
        let l = v[0].label_map();
        assert_eq!(l.get("role").map(String::as_str), Some("web"));
        assert_eq!(l.get("destination").map(String::as_str), Some(""));
        assert!(parse_json_lines::<CliContainer>("not json\n").is_err());
    }
}
