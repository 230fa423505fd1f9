//! Bounded log storage: one ring buffer per source (host × role × container) and a global cap.
//!
//! Lines get a global sequence number on arrival and an order key (their timestamp, or the
//! arrival time when they have none, never going back within a source), so the merged view is
//! a k-way merge of the per-source buffers by time: history fetched late (a new container, a
//! resumed stream) lands where it belongs. A chatty source is bounded by its own cap and, when the
//! global cap is reached, the oldest line of any source goes first.

use chrono::{DateTime, Utc};
use regex::Regex;
use std::collections::VecDeque;

/// Where a line came from. Sources are interned; lines carry the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub host: String,
    pub role: String,
    pub container: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub seq: u64,
    /// Merge order: nanoseconds of `ts` (or of arrival), monotonic within a source.
    pub key: i64,
    pub ts: Option<DateTime<Utc>>,
    pub stderr: bool,
    pub text: String,
}

/// Which sources a view shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Scope {
    #[default]
    All,
    Role(String),
    Host(String),
    Container(String),
    /// One container on one host (an accessory row of the fleet tree).
    HostContainer {
        host: String,
        container: String,
    },
}

impl Scope {
    pub fn admits(&self, s: &Source) -> bool {
        match self {
            Scope::All => true,
            Scope::Role(r) => &s.role == r,
            Scope::Host(h) => &s.host == h,
            Scope::Container(c) => s.container.as_deref() == Some(c.as_str()),
            Scope::HostContainer { host, container } => &s.host == host && s.container.as_deref() == Some(container.as_str()),
        }
    }
    pub fn label(&self) -> String {
        match self {
            Scope::All => "all hosts".into(),
            Scope::Role(r) => format!("role {r}"),
            Scope::Host(h) => format!("host {h}"),
            Scope::Container(c) => format!("container {c}"),
            Scope::HostContainer { host, container } => format!("{container} on {host}"),
        }
    }
}

pub struct LogStore {
    sources: Vec<Source>,
    bufs: Vec<VecDeque<Entry>>,
    per_source_cap: usize,
    global_cap: usize,
    total: usize,
    next_seq: u64,
    /// Lines ever ingested (for the status bar and benchmarks).
    pub ingested: u64,
    /// The active filter and its matches (source, seq), oldest first, kept up to date on push
    /// so drawing a filtered view never rescans the buffers.
    filter: Option<(Regex, Scope)>,
    matches: VecDeque<(usize, u64)>,
}

/// A line as a view sees it: source index + entry.
#[derive(Debug, Clone, Copy)]
pub struct LineRef<'a> {
    pub source: usize,
    pub entry: &'a Entry,
}

impl LogStore {
    pub fn new(per_source_cap: usize, global_cap: usize) -> Self {
        LogStore {
            sources: Vec::new(),
            bufs: Vec::new(),
            per_source_cap: per_source_cap.max(1),
            global_cap: global_cap.max(1),
            total: 0,
            next_seq: 0,
            ingested: 0,
            filter: None,
            matches: VecDeque::new(),
        }
    }

    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    pub fn len(&self) -> usize {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    pub fn source_id(&mut self, src: &Source) -> usize {
        if let Some(i) = self.sources.iter().position(|s| s == src) {
            return i;
        }
        self.sources.push(src.clone());
        self.bufs.push(VecDeque::new());
        self.sources.len() - 1
    }

    pub fn push(&mut self, source: usize, ts: Option<DateTime<Utc>>, stderr: bool, text: String) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.ingested += 1;
        let buf = &mut self.bufs[source];
        if buf.len() >= self.per_source_cap {
            buf.pop_front();
            self.total -= 1;
        }
        if let Some((re, scope)) = &self.filter {
            if scope.admits(&self.sources[source]) && re.is_match(&text) {
                self.matches.push_back((source, seq));
            }
        }
        let t = ts.unwrap_or_else(Utc::now);
        let key = t.timestamp_nanos_opt().unwrap_or(i64::MAX).max(buf.back().map_or(i64::MIN, |e| e.key));
        buf.push_back(Entry { seq, key, ts, stderr, text });
        self.total += 1;
        while self.total > self.global_cap {
            self.evict_oldest();
        }
        while self.matches.front().is_some_and(|m| !self.live(m)) {
            self.matches.pop_front();
        }
        seq
    }

    fn evict_oldest(&mut self) {
        let oldest = self.bufs.iter().enumerate().filter_map(|(i, b)| b.front().map(|e| (e.seq, i))).min();
        if let Some((_, i)) = oldest {
            self.bufs[i].pop_front();
            self.total -= 1;
        }
    }

    pub fn clear(&mut self) {
        for b in &mut self.bufs {
            b.clear();
        }
        self.total = 0;
        self.matches.clear();
    }

    /// Set (or clear) the filter; rescans only when the regex or the scope changed.
    pub fn set_filter(&mut self, filter: Option<(&Regex, &Scope)>) {
        let same = match (&self.filter, filter) {
            (None, None) => true,
            (Some((r, s)), Some((r2, s2))) => r.as_str() == r2.as_str() && s == s2,
            _ => false,
        };
        if same {
            return;
        }
        self.matches.clear();
        self.filter = filter.map(|(r, s)| (r.clone(), s.clone()));
        if let Some((re, scope)) = &self.filter {
            let mut found: Vec<(usize, u64)> = self.iter_rev(scope).filter(|l| re.is_match(&l.entry.text)).map(|l| (l.source, l.entry.seq)).collect();
            found.reverse();
            self.matches = found.into();
        }
    }

    /// Drop matches whose lines were evicted.
    fn live(&self, m: &(usize, u64)) -> bool {
        self.bufs[m.0].front().is_some_and(|e| e.seq <= m.1)
    }

    /// Number of live matches of the active filter.
    pub fn match_count(&self) -> usize {
        self.matches.iter().filter(|m| self.live(m)).count()
    }

    /// Newest-first merged iterator over the sources `scope` admits.
    pub fn iter_rev<'a>(&'a self, scope: &Scope) -> RevIter<'a> {
        let heads = self.bufs.iter().enumerate().map(|(i, b)| if scope.admits(&self.sources[i]) { b.len() } else { 0 }).collect();
        RevIter { store: self, heads }
    }

    /// Lines of the same source around `seq` (for filter context).
    pub fn context(&self, source: usize, seq: u64, before: usize, after: usize) -> Vec<LineRef<'_>> {
        let buf = &self.bufs[source];
        let Ok(pos) = buf.binary_search_by_key(&seq, |e| e.seq) else { return Vec::new() };
        let lo = pos.saturating_sub(before);
        let hi = (pos + after + 1).min(buf.len());
        (lo..hi).map(|i| LineRef { source, entry: &buf[i] }).collect()
    }

    /// The active filter's matches with their context, oldest first, groups separated by
    /// `--` (as `grep -C`), for saving what the operator sees.
    pub fn dump_filtered(&self, context: usize, timestamps: bool) -> String {
        let mut rows = self.filtered_rev_grouped(context, usize::MAX);
        rows.reverse();
        let mut out = String::new();
        for (i, (l, _, g)) in rows.iter().enumerate() {
            if i > 0 && rows[i - 1].2 != *g {
                out.push_str("--\n");
            }
            out.push_str(&self.line_text(l, timestamps));
        }
        out
    }

    fn line_text(&self, l: &LineRef, timestamps: bool) -> String {
        let s = &self.sources[l.source];
        let ts = match (timestamps, l.entry.ts) {
            (true, Some(ts)) => format!("{} ", ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            _ => String::new(),
        };
        format!("{ts}{}/{} | {}\n", s.host, s.role, l.entry.text)
    }

    /// Every line as oldest-first text, for saving to a file.
    pub fn dump(&self, scope: &Scope, timestamps: bool) -> String {
        let mut lines: Vec<_> = self.iter_rev(scope).collect();
        lines.reverse();
        lines.iter().map(|l| self.line_text(l, timestamps)).collect()
    }

    /// Matching lines of the active filter (see [`set_filter`](Self::set_filter)), newest
    /// first, with `context` lines of the same source around each, deduplicated; at least
    /// `limit` rows when there are that many. `true` marks a matching row.
    pub fn filtered_rev(&self, context: usize, limit: usize) -> Vec<(LineRef<'_>, bool)> {
        self.filtered_rev_grouped(context, limit).into_iter().map(|(l, m, _)| (l, m)).collect()
    }

    /// [`filtered_rev`](Self::filtered_rev) with each row's group: matches whose context
    /// windows overlap in time (even on different hosts, interleaved in the merged view) form
    /// one group; a view draws `--` where the group changes, as `grep -C` does.
    pub fn filtered_rev_grouped(&self, context: usize, limit: usize) -> Vec<(LineRef<'_>, bool, usize)> {
        let mut rows: Vec<(LineRef<'_>, bool, usize)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let match_set: std::collections::HashSet<u64> =
            if self.matches.len() < 100_000 { self.matches.iter().map(|m| m.1).collect() } else { Default::default() };
        let re = self.filter.as_ref().map(|f| &f.0);
        // Each match's window (oldest key, newest key), newest match first.
        let mut windows: Vec<(i64, i64)> = Vec::new();
        for m in self.matches.iter().rev() {
            if rows.len() >= limit {
                break;
            }
            if !self.live(m) {
                continue;
            }
            let ctx = self.context(m.0, m.1, context, context);
            let (Some(lo), Some(hi)) = (ctx.first(), ctx.last()) else { continue };
            windows.push((lo.entry.key, hi.entry.key));
            for c in ctx.iter().rev() {
                if seen.insert(c.entry.seq) {
                    let is = c.entry.seq == m.1 || match_set.contains(&c.entry.seq) || (match_set.is_empty() && re.is_some_and(|r| r.is_match(&c.entry.text)));
                    rows.push((*c, is, 0));
                }
            }
        }
        // Context from different matches may interleave; keep the merged order.
        rows.sort_by_key(|r| std::cmp::Reverse((r.0.entry.key, r.0.entry.seq)));
        // Groups: windows merged where they overlap, newest first; a row's group is the one
        // whose span holds its key.
        windows.sort_by_key(|w| std::cmp::Reverse(w.1));
        let mut spans: Vec<(i64, i64)> = Vec::new();
        for (lo, hi) in windows {
            match spans.last_mut() {
                Some(last) if hi >= last.0 => last.0 = last.0.min(lo),
                _ => spans.push((lo, hi)),
            }
        }
        for r in &mut rows {
            r.2 = spans.iter().position(|(lo, hi)| (*lo..=*hi).contains(&r.0.entry.key)).unwrap_or(0);
        }
        rows
    }
}

pub struct RevIter<'a> {
    store: &'a LogStore,
    heads: Vec<usize>,
}

impl<'a> Iterator for RevIter<'a> {
    type Item = LineRef<'a>;
    fn next(&mut self) -> Option<LineRef<'a>> {
        let mut best: Option<((i64, u64), usize)> = None;
        for (i, &h) in self.heads.iter().enumerate() {
            if h == 0 {
                continue;
            }
            let e = &self.store.bufs[i][h - 1];
            let k = (e.key, e.seq);
            if best.is_none_or(|(b, _)| k > b) {
                best = Some((k, i));
            }
        }
        let (_, i) = best?;
        self.heads[i] -= 1;
        Some(LineRef { source: i, entry: &self.store.bufs[i][self.heads[i]] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(h: &str) -> Source {
        Source { host: h.into(), role: "web".into(), container: None }
    }

    #[test]
    fn caps_per_source_and_global() {
        let mut s = LogStore::new(3, 5);
        let a = s.source_id(&src("a"));
        let b = s.source_id(&src("b"));
        for i in 0..10 {
            s.push(a, None, false, format!("a{i}"));
        }
        assert_eq!(s.len(), 3);
        s.push(b, None, false, "b0".into());
        s.push(b, None, false, "b1".into());
        s.push(b, None, false, "b2".into());
        assert_eq!(s.len(), 5);
        let texts: Vec<_> = s.iter_rev(&Scope::All).map(|l| l.entry.text.clone()).collect();
        assert_eq!(texts, vec!["b2", "b1", "b0", "a9", "a8"]);
    }

    #[test]
    fn merged_order_and_scope() {
        let mut s = LogStore::new(100, 100);
        let a = s.source_id(&src("a"));
        let b = s.source_id(&src("b"));
        s.push(a, None, false, "1".into());
        s.push(b, None, false, "2".into());
        s.push(a, None, false, "3".into());
        let all: Vec<_> = s.iter_rev(&Scope::All).map(|l| l.entry.text.as_str()).collect();
        assert_eq!(all, vec!["3", "2", "1"]);
        let only_b: Vec<_> = s.iter_rev(&Scope::Host("b".into())).map(|l| l.entry.text.as_str()).collect();
        assert_eq!(only_b, vec!["2"]);
    }

    #[test]
    fn late_history_is_merged_by_time() {
        use chrono::TimeZone;
        let t = |s: i64| Some(Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap());
        let mut s = LogStore::new(100, 100);
        let a = s.source_id(&src("a"));
        let b = s.source_id(&src("b"));
        s.push(a, t(10), false, "a10".into());
        s.push(a, t(20), false, "a20".into());
        // b's history arrives after a's newer lines.
        s.push(b, t(5), false, "b05".into());
        s.push(b, t(15), false, "b15".into());
        let all: Vec<_> = s.iter_rev(&Scope::All).map(|l| l.entry.text.as_str()).collect();
        assert_eq!(all, vec!["a20", "b15", "a10", "b05"]);
    }

    #[test]
    fn filter_keeps_context_of_same_source() {
        let mut s = LogStore::new(100, 100);
        let a = s.source_id(&src("a"));
        let b = s.source_id(&src("b"));
        for i in 0..6 {
            s.push(a, None, false, format!("a{i}"));
            s.push(b, None, false, format!("b{i}"));
        }
        let re = Regex::new("a3").unwrap();
        s.set_filter(Some((&re, &Scope::All)));
        let rows: Vec<_> = s.filtered_rev(1, 100).iter().map(|(l, m)| (l.entry.text.clone(), *m)).collect();
        assert_eq!(rows, vec![("a4".into(), false), ("a3".into(), true), ("a2".into(), false)]);
    }

    #[test]
    fn separate_matches_form_groups_and_a_save_separates_them_like_grep() {
        let mut s = LogStore::new(100, 100);
        let a = s.source_id(&src("a"));
        for i in 0..20 {
            s.push(a, None, false, format!("line{i}"));
        }
        // line3 and line4 overlap (one group); line15 is apart.
        let re = Regex::new("^line(3|4|15)$").unwrap();
        s.set_filter(Some((&re, &Scope::All)));
        let groups: Vec<usize> = s.filtered_rev_grouped(1, 100).iter().map(|r| r.2).collect();
        assert_eq!(groups, vec![0, 0, 0, 1, 1, 1, 1], "newest first: 16 15 14 | 5 4 3 2");
        let dump = s.dump_filtered(1, false);
        let lines: Vec<&str> = dump.lines().map(|l| l.rsplit(" | ").next().unwrap()).collect();
        assert_eq!(lines, vec!["line2", "line3", "line4", "line5", "--", "line14", "line15", "line16"]);
    }
}
