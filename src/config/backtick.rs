//! Running a command the way Ruby's backticks do — shared by ERB (`` `cmd` ``, `%x()`) and the
//! dotenv parser of `.kamal/secrets` (`$(cmd)`), so neither module needs the other for it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Run a command the way Ruby's backticks do; returns stdout. Err(message) only when the
/// program cannot be started (Ruby's Errno::ENOENT); a failing command just gives its output.
pub fn run_backtick(cmd: &str, env: &BTreeMap<String, String>, cwd: &Path) -> Result<String, String> {
    const META: &str = "*?{}[]<>()~&|\\$;'`\"\n#=%";
    // Fuzzing and untrusted-input tests switch command execution off through the explicit env.
    if env.get("KDECK_DISABLE_COMMANDS").is_some_and(|v| v == "1") {
        return Err(format!("commands are disabled - {}", cmd.split_whitespace().next().unwrap_or(cmd)));
    }
    let mut c = if cmd.chars().any(|c| META.contains(c)) {
        let mut c = std::process::Command::new("/bin/sh");
        c.arg("-c").arg(cmd);
        c
    } else {
        let words: Vec<&str> = cmd.split_whitespace().collect();
        let Some(prog) = words.first() else { return Err(format!("No such file or directory - {cmd}")) };
        let mut c = std::process::Command::new(resolve_prog(prog, env, cwd).unwrap_or_else(|| PathBuf::from(prog)));
        c.args(&words[1..]);
        c
    };
    c.env_clear().envs(env).current_dir(cwd).stdin(std::process::Stdio::null());
    match c.output() {
        Ok(o) => {
            if !o.stderr.is_empty() {
                tracing::debug!(command = cmd, stderr = %String::from_utf8_lossy(&o.stderr), "ERB/secrets command stderr");
            }
            Ok(String::from_utf8_lossy(&o.stdout).into_owned())
        }
        Err(_) => Err(format!("No such file or directory - {}", cmd.split_whitespace().next().unwrap_or(cmd))),
    }
}

/// Find a program on the explicit env's PATH (not the process's).
fn resolve_prog(prog: &str, env: &BTreeMap<String, String>, cwd: &Path) -> Option<PathBuf> {
    if prog.contains('/') {
        let p = Path::new(prog);
        return Some(if p.is_absolute() { p.to_path_buf() } else { cwd.join(p) });
    }
    let path = env.get("PATH")?;
    for dir in path.split(':') {
        let d = Path::new(dir);
        let d = if d.is_absolute() { d.to_path_buf() } else { cwd.join(d) };
        let cand = d.join(prog);
        if is_executable(&cand) {
            return Some(cand);
        }
    }
    None
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}
