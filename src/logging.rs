//! Tracing goes to a file, never to the terminal (the terminal belongs to the TUI).

use std::path::{Path, PathBuf};

/// Default log file: `$XDG_STATE_HOME/kamal-deck/kdeck.log` (or the platform's equivalent).
pub fn default_log_file() -> PathBuf {
    dirs::state_dir().or_else(dirs::data_local_dir).unwrap_or_else(std::env::temp_dir).join("kamal-deck").join("kdeck.log")
}

/// Install a file subscriber. Failures to open the file are reported, not fatal.
pub fn init(path: Option<&Path>, verbose: bool) -> color_eyre::Result<PathBuf> {
    let path = path.map(Path::to_path_buf).unwrap_or_else(default_log_file);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("KDECK_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(if verbose { "debug" } else { "info" }));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).with_writer(std::sync::Mutex::new(file)).try_init();
    Ok(path)
}

/// A remote command as it may appear in the log file: the registry password Kamal passes on
/// `docker login`'s command line (`-p "…"` / `--password …`) is replaced, wherever it stands.
pub fn redact_command(cmd: &str) -> std::borrow::Cow<'_, str> {
    use std::sync::OnceLock;
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let re =
        RE.get_or_init(|| regex::Regex::new(r#"(docker\s+login\b[^;&|]*?\s(?:-p|--password)(?:\s+|=))("(?:[^"\\]|\\.)*"|'[^']*'|\S+)"#).expect("static regex"));
    re.replace_all(cmd, "${1}[REDACTED]")
}

#[cfg(test)]
mod tests {
    use super::redact_command;

    #[test]
    fn registry_password_never_reaches_the_log() {
        let c = r#"docker login 10.0.0.1:5000 -u "lab" -p "s3cr\"et pw" && docker pull x"#;
        let r = redact_command(c);
        assert!(!r.contains("s3cr"), "{r}");
        assert_eq!(r, r#"docker login 10.0.0.1:5000 -u "lab" -p [REDACTED] && docker pull x"#);
        assert_eq!(redact_command("docker login r --password=hunter2"), "docker login r --password=[REDACTED]");
        assert_eq!(redact_command("docker ps -p 1"), "docker ps -p 1");
    }
}
