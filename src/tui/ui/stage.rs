//! A deploy in parts on the timeline: where it stands (first part, the canary's watch with its
//! live figures, the rest, a rollback or a rollout's stop), the canary's verdict and how it ended.

use super::super::app::App;
use super::super::dispatch::{Stage, StageState};
use super::super::theme::Theme;
use super::super::versions;
use crate::fleet::traffic::canary::{judge, judge_rollout};
use ratatui::text::{Line, Span};

pub fn lines<'a>(app: &App, t: &Theme, s: &Stage) -> Vec<Line<'a>> {
    let v = versions::short_version(&s.version);
    let (first, rest) = (s.first.join(", "), s.rest.join(", "));
    let kind = match (&s.rollout, s.gate) {
        (Some(_), _) => "rollout canary",
        (None, Some(_)) => "canary",
        (None, None) => "one host first",
    };
    let mut out = vec![];
    let now = match &s.state {
        StageState::First if s.rollout.is_some() => {
            let (w, split) = (s.gate.unwrap_or_default().0, s.rollout.as_ref().map(|r| r.describe()).unwrap_or_default());
            format!("{kind}: {v} beside the live version on {first}, kamal-proxy's rollout target for {split}; watched {w} s, then {rest}")
        }
        StageState::First => match s.gate {
            Some((w, _)) => format!("{kind}: deploying {v} to {first}; then its traffic is watched {w} s before {rest}"),
            None => format!("{kind}: deploying {v} to {first}; then {rest}"),
        },
        StageState::Watching { since } => {
            let (w, th) = s.gate.unwrap_or_default();
            let el = (app.now - *since).num_seconds().clamp(0, i64::from(w));
            let figures = match &app.traffic {
                Some(snap) if s.rollout.is_some() => {
                    let (c, b, _) = judge_rollout(snap, &first, &s.version, w, &th);
                    format!(" · canary {} · live {}", short(&c), short(&b))
                }
                Some(snap) => {
                    let (c, b, _) = judge(snap, &s.first, &s.version, w, &th);
                    format!(" · canary {} · others {}", short(&c), short(&b))
                }
                None => " · no traffic figures (no role behind kamal-proxy)".into(),
            };
            format!("{kind} {v} on {first}: watching {el}/{w} s{figures}")
        }
        StageState::Rest if s.rollout.is_some() => format!("{kind}: rollout stopped; deploying {v} to {rest}"),
        StageState::Rest => format!("{kind}: deploying {v} to {rest}"),
        StageState::RollingBack => format!("{kind}: rolling {first} back"),
        StageState::Stopping => format!("{kind}: stopping the rollout on {first} (every request to the live version again)"),
        StageState::Done { .. } => String::new(),
    };
    if !now.is_empty() {
        out.push(Line::from(vec![Span::styled("▸ ", t.running()), Span::raw(now)]));
    }
    if let Some((ok, why)) = &s.verdict {
        // The verdict, then the figures it read on a line of their own.
        let (mark, st) = if *ok { ("✓ ", t.ok()) } else { ("✗ ", t.err()) };
        let mut parts = why.splitn(2, '\n');
        out.push(Line::from(vec![Span::styled(mark, st), Span::styled(parts.next().unwrap_or_default().to_string(), st)]));
        if let Some(figures) = parts.next() {
            out.push(Line::styled(format!("  {figures}"), t.dim()));
        }
    }
    if let StageState::Done { ok, summary } = &s.state {
        let (mark, st) = if *ok { ("✓ ", t.ok()) } else { ("✗ ", t.err()) };
        out.push(Line::from(vec![Span::styled(mark, st), Span::styled(format!("{kind}: {summary}"), st)]));
    }
    out
}

/// `120 req · 0.0 % 5xx · p95 4ms`: a side of the canary's comparison, short.
fn short(s: &crate::fleet::traffic::canary::Side) -> String {
    format!("{} req · {:.1} % 5xx · p95 {}", s.requests, s.error_pct, crate::fleet::traffic::fmt_ms(s.p95_ms))
}
