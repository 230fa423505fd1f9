//! Tracing goes to a file, never to the terminal (the terminal belongs to the TUI).

use std::path::{Path, PathBuf};

/// Default log file: `$XDG_STATE_HOME/kamal-deck/kdeck.log` (or the platform's equivalent).
pub fn default_log_file() -> PathBuf {
    dirs::state_dir()
        .or_else(dirs::data_local_dir)
        .unwrap_or_else(std::env::temp_dir)
        .join("kamal-deck")
        .join("kdeck.log")
}

/// Install a file subscriber. Failures to open the file are reported, not fatal.
pub fn init(path: Option<&Path>, verbose: bool) -> color_eyre::Result<PathBuf> {
    let path = path.map(Path::to_path_buf).unwrap_or_else(default_log_file);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("KDECK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(if verbose { "debug" } else { "info" }));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
    Ok(path)
}
