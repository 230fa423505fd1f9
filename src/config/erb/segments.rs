//! Splitting a template into text, `<%= %>` output and `<% %>` code segments (trim mode "-",
//! `<%#` comments dropped, `<%%` an escaped `<%`).

#[derive(Debug, Clone)]
pub(super) enum Seg {
    Text(String),
    Out(String, usize),
    Code(String, usize),
}

/// Split a template into text / output / code segments, applying trim mode "-".
pub(super) fn segments(src: &str) -> Result<Vec<Seg>, (usize, String)> {
    let mut segs = Vec::new();
    let mut text = String::new();
    let mut line = 1usize;
    let mut rest = src;
    while let Some(pos) = rest.find("<%") {
        let before = &rest[..pos];
        text.push_str(before);
        line += before.matches('\n').count();
        let after = &rest[pos + 2..];
        if let Some(a) = after.strip_prefix('%') {
            text.push_str("<%");
            rest = a;
            continue;
        }
        let (kind, body_start) = match after.chars().next() {
            Some('=') => ('=', 1),
            Some('#') => ('#', 1),
            Some('-') => ('-', 1),
            _ => (' ', 0),
        };
        if kind == '-' {
            // `<%-`: drop the indentation before the tag when it starts the line.
            let tail_start = text.rfind('\n').map(|i| i + 1).unwrap_or(0);
            if text[tail_start..].chars().all(|c| c == ' ' || c == '\t') {
                text.truncate(tail_start);
            }
        }
        let body_all = &after[body_start..];
        let Some(end) = body_all.find("%>") else {
            return Err((line, "unterminated ERB tag".into()));
        };
        let mut body = &body_all[..end];
        let mut trim_nl = false;
        if let Some(b) = body.strip_suffix('-') {
            body = b;
            trim_nl = true;
        }
        let tag_line = line;
        line += body_all[..end].matches('\n').count();
        rest = &body_all[end + 2..];
        if trim_nl {
            if let Some(r) = rest.strip_prefix('\n') {
                rest = r;
                line += 1;
            } else if let Some(r) = rest.strip_prefix("\r\n") {
                rest = r;
                line += 1;
            }
        }
        if !text.is_empty() {
            segs.push(Seg::Text(std::mem::take(&mut text)));
        }
        match kind {
            '=' => segs.push(Seg::Out(body.to_string(), tag_line)),
            '#' => {}
            _ => segs.push(Seg::Code(body.to_string(), tag_line)),
        }
    }
    text.push_str(rest);
    if !text.is_empty() {
        segs.push(Seg::Text(text));
    }
    Ok(segs)
}
