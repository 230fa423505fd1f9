//! Log lines with Docker timestamps, and resuming a followed stream across reconnects:
//! re-subscribe with `since` (whole seconds, all the API takes) and drop the lines already
//! delivered by comparing timestamp + content.

use chrono::{DateTime, Utc};
use std::collections::HashSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogSource {
    Stdout,
    Stderr,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogLine {
    /// Docker's RFC 3339 nanosecond timestamp (present when requested with timestamps).
    pub ts: Option<DateTime<Utc>>,
    pub source: LogSource,
    pub text: String,
}

impl LogLine {
    /// Splits Docker's `2024-01-01T00:00:00.123456789Z text` prefix.
    pub fn parse(raw: &str, source: LogSource, with_ts: bool) -> Self {
        if with_ts {
            if let Some((ts, rest)) = raw.split_once(' ') {
                if let Ok(t) = DateTime::parse_from_rfc3339(ts) {
                    return LogLine { ts: Some(t.with_timezone(&Utc)), source, text: rest.to_string() };
                }
            }
        }
        LogLine { ts: None, source, text: raw.to_string() }
    }
}

/// Splits chunks into lines, keeping partial lines per source until their newline.
#[derive(Debug, Default)]
pub struct LineSplitter {
    out: Vec<u8>,
    err: Vec<u8>,
}

impl LineSplitter {
    pub fn push(&mut self, source: LogSource, data: &[u8]) -> Vec<String> {
        let buf = match source {
            LogSource::Stdout => &mut self.out,
            LogSource::Stderr => &mut self.err,
        };
        buf.extend_from_slice(data);
        let mut lines = vec![];
        while let Some(pos) = buf.iter().position(|&b| b == b'\n') {
            let mut l: Vec<u8> = buf.drain(..=pos).collect();
            l.pop();
            if l.last() == Some(&b'\r') {
                l.pop();
            }
            lines.push(String::from_utf8_lossy(&l).into_owned());
        }
        lines
    }

    /// What is left without a trailing newline.
    pub fn flush(&mut self) -> Vec<(LogSource, String)> {
        let mut v = vec![];
        for (s, b) in [(LogSource::Stdout, &mut self.out), (LogSource::Stderr, &mut self.err)] {
            if !b.is_empty() {
                v.push((s, String::from_utf8_lossy(&std::mem::take(b)).into_owned()));
            }
        }
        v
    }
}

/// Remembers what was delivered so a re-subscription with `since` repeats nothing.
#[derive(Debug, Default, Clone)]
pub struct LogDedup {
    last: Option<DateTime<Utc>>,
    /// Lines delivered with exactly `last` as timestamp.
    at_last: HashSet<(LogSource, String)>,
}

impl LogDedup {
    /// True if the line is new (and records it).
    pub fn accept(&mut self, line: &LogLine) -> bool {
        let Some(ts) = line.ts else { return true };
        match self.last {
            Some(last) if ts < last => false,
            Some(last) if ts == last => self.at_last.insert((line.source, line.text.clone())),
            _ => {
                self.last = Some(ts);
                self.at_last.clear();
                self.at_last.insert((line.source, line.text.clone()));
                true
            }
        }
    }

    /// `since` for the re-subscription: the whole second of the last line (inclusive).
    pub fn since(&self) -> Option<i64> {
        self.last.map(|t| t.timestamp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(ts: &str, text: &str) -> LogLine {
        LogLine::parse(&format!("{ts} {text}"), LogSource::Stdout, true)
    }

    #[test]
    fn parses_docker_timestamps() {
        let l = line("2026-11-22T16:05:31.123456789Z", "hello world");
        assert_eq!(l.text, "hello world");
        assert_eq!(l.ts.unwrap().timestamp_subsec_nanos(), 123456789);
        let n = LogLine::parse("no ts here", LogSource::Stderr, true);
        assert_eq!((n.ts, n.text.as_str()), (None, "no ts here"));
    }

    #[test]
    fn resubscription_from_the_whole_second_repeats_nothing() {
        let first = [
            line("2026-11-22T16:05:30.900000000Z", "a"),
            line("2026-11-22T16:05:31.100000000Z", "b"),
            line("2026-11-22T16:05:31.500000000Z", "c"),
            line("2026-11-22T16:05:31.500000000Z", "c2"),
        ];
        let mut d = LogDedup::default();
        assert!(first.iter().all(|l| d.accept(l)));
        assert_eq!(d.since(), Some(first[1].ts.unwrap().timestamp()));
        // Docker replays the whole second 16:05:31 and then new lines.
        let replay = [
            line("2026-11-22T16:05:31.100000000Z", "b"),
            line("2026-11-22T16:05:31.500000000Z", "c"),
            line("2026-11-22T16:05:31.500000000Z", "c2"),
            line("2026-11-22T16:05:31.500000000Z", "c3"),
            line("2026-11-22T16:05:31.700000000Z", "d"),
            line("2026-11-22T16:05:32.000000000Z", "e"),
        ];
        let fresh: Vec<_> = replay.iter().filter(|l| d.accept(l)).map(|l| l.text.as_str()).collect();
        assert_eq!(fresh, vec!["c3", "d", "e"]);
    }

    #[test]
    fn splitter_keeps_partial_lines_per_source() {
        let mut s = LineSplitter::default();
        assert_eq!(s.push(LogSource::Stdout, b"ab"), Vec::<String>::new());
        assert_eq!(s.push(LogSource::Stderr, b"x\ny"), vec!["x"]);
        assert_eq!(s.push(LogSource::Stdout, b"c\r\nd\n"), vec!["abc", "d"]);
        assert_eq!(s.flush(), vec![(LogSource::Stderr, "y".to_string())]);
    }
}
