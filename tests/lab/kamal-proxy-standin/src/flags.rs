//! Command-line parsing in the style of Go's pflag/cobra, which the real kamal-proxy uses:
//! `--flag=value` and `--flag value` for value flags, `--flag` / `--flag=true|false` for
//! boolean flags (a boolean flag never takes the next argument), unknown flags are errors.

use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Value,
}

#[derive(Default, Debug)]
pub struct Parsed {
    pub positional: Vec<String>,
    /// every occurrence, in order (repeatable flags keep all values)
    pub values: BTreeMap<String, Vec<String>>,
}

impl Parsed {
    pub fn one(&self, name: &str) -> Option<&str> {
        self.values.get(name).and_then(|v| v.last()).map(String::as_str)
    }
    pub fn all(&self, name: &str) -> Vec<String> {
        self.values.get(name).cloned().unwrap_or_default()
    }
    pub fn bool(&self, name: &str, default: bool) -> Result<bool, String> {
        match self.one(name) {
            None => Ok(default),
            Some(v) => parse_bool(v).ok_or_else(|| format!("invalid argument \"{v}\" for \"--{name}\" flag: strconv.ParseBool: parsing \"{v}\": invalid syntax")),
        }
    }
    pub fn duration(&self, name: &str, default: Duration) -> Result<Duration, String> {
        match self.one(name) {
            None => Ok(default),
            Some(v) => parse_duration(v).map_err(|e| format!("invalid argument \"{v}\" for \"--{name}\" flag: {e}")),
        }
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

pub fn parse(args: &[String], spec: &[(&str, Kind)]) -> Result<Parsed, String> {
    let mut out = Parsed::default();
    let mut i = 0;
    let mut only_positional = false;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if only_positional || !a.starts_with("--") || a == "-" {
            if a.starts_with('-') && a.len() > 1 && !only_positional && a != "-" {
                return Err(format!("unknown shorthand flag: '{}' in {a}", &a[1..2]));
            }
            out.positional.push(a.clone());
            continue;
        }
        if a == "--" {
            only_positional = true;
            continue;
        }
        let body = &a[2..];
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let kind = spec
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, k)| *k)
            .ok_or_else(|| format!("unknown flag: --{name}"))?;
        let value = match (kind, inline) {
            (_, Some(v)) => v,
            (Kind::Bool, None) => "true".to_string(),
            (Kind::Value, None) => {
                if i >= args.len() {
                    return Err(format!("flag needs an argument: --{name}"));
                }
                i += 1;
                args[i - 1].clone()
            }
        };
        if kind == Kind::Bool && parse_bool(&value).is_none() {
            return Err(format!("invalid argument \"{value}\" for \"--{name}\" flag: strconv.ParseBool: parsing \"{value}\": invalid syntax"));
        }
        out.values.entry(name.to_string()).or_default().push(value);
    }
    Ok(out)
}

/// Go's time.ParseDuration for the units kamal-proxy users write (ns us ms s m h, fractions).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let orig = s;
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(format!("time: invalid duration \"{orig}\""));
    }
    let mut rest = s;
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!("time: invalid duration \"{orig}\""));
        }
        let n: f64 = rest[..num_len].parse().map_err(|_| format!("time: invalid duration \"{orig}\""))?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration \"{orig}\""));
        }
        let mult = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            u => return Err(format!("time: unknown unit \"{u}\" in duration \"{orig}\"")),
        };
        rest = &rest[unit_len..];
        total += n * mult;
    }
    Ok(Duration::from_secs_f64(total))
}

/// Go's Duration.String() for whole milliseconds and up: 30s, 1m0s, 500ms, 1.5s, 1h0m0s.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis() as u64;
    if ms == 0 {
        return "0s".into();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let h = ms / 3_600_000;
    let m = (ms / 60_000) % 60;
    let s_ms = ms % 60_000;
    let secs = if s_ms % 1000 == 0 {
        format!("{}s", s_ms / 1000)
    } else {
        let mut t = format!("{}.{:03}", s_ms / 1000, s_ms % 1000);
        while t.ends_with('0') {
            t.pop();
        }
        format!("{t}s")
    };
    if h > 0 {
        format!("{h}h{m}m{secs}")
    } else if m > 0 {
        format!("{m}m{secs}")
    } else {
        secs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn both_value_forms_and_bools() {
        let spec = [("target", Kind::Value), ("host", Kind::Value), ("buffer-requests", Kind::Bool), ("tls", Kind::Bool)];
        let p = parse(&s(&["svc", "--target=a:80", "--host", "x", "--host=y", "--buffer-requests", "--tls=false"]), &spec).unwrap();
        assert_eq!(p.positional, ["svc"]);
        assert_eq!(p.one("target"), Some("a:80"));
        assert_eq!(p.all("host"), ["x", "y"]);
        assert!(p.bool("buffer-requests", false).unwrap());
        assert!(!p.bool("tls", true).unwrap());
        let p = parse(&s(&["--buffer-requests=\"false\""]), &spec);
        assert!(p.is_err(), "quotes are removed by the shell, not by the parser");
        assert!(parse(&s(&["--nope"]), &spec).unwrap_err().contains("unknown flag: --nope"));
        assert!(parse(&s(&["--target"]), &spec).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("10").is_err());
        assert_eq!(format_duration(Duration::from_secs(30)), "30s");
        assert_eq!(format_duration(Duration::from_secs(60)), "1m0s");
        assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
    }
}
