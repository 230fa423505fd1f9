//! Wildcard matching shared by host filters (`-h`/`-r`, Kamal: `*` only) and OpenSSH files
//! (known_hosts, ssh config `Host`: `*` and `?`).

/// Does `pattern` match all of `s`? `*` matches any run of characters (none included); with
/// `question`, `?` matches exactly one character, otherwise it is literal.
pub fn wildcard(pattern: &str, s: &str, question: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = s.chars().collect();
    let (mut pi, mut si) = (0, 0);
    // Last `*` seen and where in `s` it started matching: backtrack there on a mismatch.
    let (mut star, mut mark) = (None, 0);
    while si < s.len() {
        if pi < p.len() && p[pi] != '*' && ((question && p[pi] == '?') || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::wildcard;

    #[test]
    fn star_and_question() {
        assert!(wildcard("*", "x", true) && wildcard("*", "", false));
        assert!(wildcard("web?", "web1", true));
        assert!(!wildcard("web?", "web1", false));
        assert!(wildcard("web?", "web?", false));
        assert!(!wildcard("web?", "web12", true));
        assert!(wildcard("10.77.*.11", "10.77.2.11", true));
        assert!(!wildcard("a*b", "acbd", true));
        assert!(wildcard("a*b*", "acbd", false));
    }
}
