//! Line output for headless commands that survives a closed pipe (`kdeck … | head`, `| tee`
//! killed by Ctrl-C). `println!` panics on EPIPE; here the first failed write marks the stream
//! closed and later lines are dropped, so the command (and the engine's safe shutdown, lock
//! release, host-state report to the other stream) keeps running. SIGPIPE stays ignored on
//! purpose: the process also writes to child pipes and sockets.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
static STDERR_CLOSED: AtomicBool = AtomicBool::new(false);

/// Write `s` plus a newline; false (and the stream marked closed) when the write fails.
pub fn write_line(w: &mut impl Write, s: &str, closed: &AtomicBool) -> bool {
    if closed.load(Ordering::Relaxed) {
        return false;
    }
    let ok = writeln!(w, "{s}").and_then(|_| w.flush()).is_ok();
    if !ok {
        closed.store(true, Ordering::Relaxed);
    }
    ok
}

pub fn out(s: &str) -> bool {
    write_line(&mut std::io::stdout().lock(), s, &STDOUT_CLOSED)
}

pub fn err(s: &str) -> bool {
    write_line(&mut std::io::stderr().lock(), s, &STDERR_CLOSED)
}

/// Raw text (no newline added) to stdout.
pub fn out_raw(s: &str) -> bool {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return false;
    }
    let mut o = std::io::stdout().lock();
    let ok = o.write_all(s.as_bytes()).and_then(|_| o.flush()).is_ok();
    if !ok {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
    }
    ok
}

pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// `println!` that does not panic on a closed stdout.
#[macro_export]
macro_rules! outln {
    () => {{ let _ = $crate::app::out::out(""); }};
    ($($t:tt)*) => {{ let _ = $crate::app::out::out(&format!($($t)*)); }};
}

/// `eprintln!` that does not panic on a closed stderr.
#[macro_export]
macro_rules! errln {
    ($($t:tt)*) => {{ let _ = $crate::app::out::err(&format!($($t)*)); }};
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Broken(usize);
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            self.0 += 1;
            Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn broken_pipe_marks_closed_and_stops_writing() {
        let closed = AtomicBool::new(false);
        let mut w = Broken(0);
        assert!(!write_line(&mut w, "a", &closed));
        assert!(closed.load(Ordering::Relaxed));
        let tries = w.0;
        assert!(!write_line(&mut w, "b", &closed));
        assert_eq!(w.0, tries, "no write after the pipe closed");
    }

    #[test]
    fn good_writer_gets_the_line() {
        let closed = AtomicBool::new(false);
        let mut v = Vec::new();
        assert!(write_line(&mut v, "hello", &closed));
        assert_eq!(v, b"hello\n");
    }
}
