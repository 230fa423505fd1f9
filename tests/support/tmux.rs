//! A real terminal for the end-to-end tests: a private tmux server (its own socket) running
//! one command in a window of a given size, read with `capture-pane`, driven with `send-keys`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
    /// kdeck's log file, shown when a wait times out.
    log: Option<PathBuf>,
}

impl Tmux {
    pub fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }

    /// `cmdline` in a new `cols`×`rows` window with `dir` as its working directory.
    pub fn start(socket: &str, dir: &Path, cmdline: &str, cols: u16, rows: u16) -> Tmux {
        let t = Tmux { socket: socket.to_string(), log: None };
        let st = t
            .cmd()
            .args(["new-session", "-d", "-s", "main", "-x", &cols.to_string(), "-y", &rows.to_string(), "-c"])
            .arg(dir)
            .arg(cmdline)
            .status()
            .expect("tmux (installed by scripts/install-deps)");
        assert!(st.success(), "tmux new-session failed");
        t
    }

    /// Show the tail of this log when a wait times out.
    pub fn with_log(mut self, log: PathBuf) -> Tmux {
        self.log = Some(log);
        self
    }

    /// The screen, long lines joined (`-J`).
    pub fn screen(&self) -> String {
        let o = self.cmd().args(["capture-pane", "-p", "-J", "-t", "main"]).output().expect("capture-pane");
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// (rows, cols) of the pane, as tmux sizes it.
    pub fn pane_size(&self) -> (u32, u32) {
        let o = self.cmd().args(["display-message", "-p", "-t", "main", "#{pane_height} #{pane_width}"]).output().unwrap();
        let s = String::from_utf8_lossy(&o.stdout);
        let mut it = s.split_whitespace().map(|x| x.parse::<u32>().unwrap());
        (it.next().unwrap(), it.next().unwrap())
    }

    pub fn resize(&self, cols: u16, rows: u16) {
        let st = self.cmd().args(["resize-window", "-t", "main", "-x", &cols.to_string(), "-y", &rows.to_string()]).status().unwrap();
        assert!(st.success(), "tmux resize-window failed");
    }

    /// Keys as tmux names them; each sent alone so Esc is not read as Alt+next key.
    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            assert!(self.cmd().args(["send-keys", "-t", "main", k]).status().expect("send-keys").success());
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// Text typed as it is.
    pub fn literal(&self, text: &str) {
        assert!(self.cmd().args(["send-keys", "-t", "main", "-l", text]).status().expect("send-keys").success());
        std::thread::sleep(Duration::from_millis(150));
    }

    /// Types a line and presses Enter.
    pub fn line(&self, text: &str) {
        self.literal(text);
        self.keys(&["Enter"]);
    }

    /// Waits until the screen satisfies `pred`; returns that screen.
    pub fn wait(&self, what: &str, secs: u64, pred: impl Fn(&str) -> bool) -> String {
        self.waited(what, secs, pred).0
    }

    /// [`Tmux::wait`], with how long it took.
    pub fn waited(&self, what: &str, secs: u64, pred: impl Fn(&str) -> bool) -> (String, Duration) {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if pred(&s) {
                return (s, start.elapsed());
            }
            if start.elapsed() > Duration::from_secs(secs) {
                let log = self.log.as_ref().map(|l| std::fs::read_to_string(l).unwrap_or_default()).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect();
                panic!("timed out after {secs}s waiting for {what}; screen:\n{s}\nkdeck log:\n{}", tail.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // Only the server on our own socket; tmux leaves the socket file behind.
        let path = self.cmd().args(["display-message", "-p", "#{socket_path}"]).output().ok();
        let _ = self.cmd().args(["kill-server"]).status();
        if let Some(p) = path.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).filter(|p| p.contains(&self.socket)) {
            let _ = std::fs::remove_file(p);
        }
    }
}
