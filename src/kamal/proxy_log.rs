//! kamal-proxy's request log: one JSON object per request on the proxy's stdout
//! (`docker logs kamal-proxy`), written by its logging middleware through Go's `slog` JSON
//! handler (kamal-proxy v0.9.x, `internal/server/logging_middleware.go`):
//!
//! `{"time":"…","level":"INFO","msg":"Request","host":"…","port":80,"path":"/","request_id":"",
//! "status":200,"service":"app-web","target":"e5d03b25accc:80","duration":1234567,"method":"GET",…}`
//!
//! `duration` is in nanoseconds; `time` is when the request ended (slog stamps the record), in
//! RFC 3339 with milliseconds. Every other line (deploys, warnings) is not a request.

use chrono::{DateTime, Utc};

/// One request as kamal-proxy logged it (the fields traffic figures need).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRequest {
    pub time: Option<DateTime<Utc>>,
    /// kamal-proxy's service name (`<service>-<role>[-<destination>]` for Kamal apps).
    pub service: String,
    /// The target that answered (`<container id>:<port>`); empty when nothing was routed.
    pub target: String,
    pub status: u16,
    pub duration_ns: u64,
    pub method: String,
    pub host: String,
    pub path: String,
}

#[derive(serde::Deserialize)]
struct Raw<'a> {
    #[serde(borrow, default)]
    msg: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    time: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    service: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    target: std::borrow::Cow<'a, str>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    duration: Option<u64>,
    #[serde(borrow, default)]
    method: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    host: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    path: std::borrow::Cow<'a, str>,
}

impl ProxyRequest {
    /// The request in one log line, or `None` for any other line (not JSON, not a request, or
    /// a request line without its status).
    pub fn parse(line: &str) -> Option<ProxyRequest> {
        let line = line.trim_start();
        // Cheap reject before JSON: most non-request lines are deploy/health messages.
        if !line.starts_with('{') || !line.contains("\"Request\"") {
            return None;
        }
        let raw: Raw = serde_json::from_str(line).ok()?;
        if raw.msg != "Request" {
            return None;
        }
        Some(ProxyRequest {
            time: raw.time.as_deref().and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc)),
            service: raw.service.into_owned(),
            target: raw.target.into_owned(),
            status: raw.status?,
            duration_ns: raw.duration.unwrap_or(0),
            method: raw.method.into_owned(),
            host: raw.host.into_owned(),
            path: raw.path.into_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line as kamal-proxy v0.9.2's logging middleware writes it (field order and types
    /// from its source: ints for port/status/duration/lengths, strings for the rest).
    const LINE: &str = r#"{"time":"2026-12-03T10:15:02.417Z","level":"INFO","msg":"Request","host":"app.example.com","port":80,"path":"/up","request_id":"","status":200,"service":"klabapp-web","target":"e5d03b25accc:80","duration":1834211,"method":"GET","req_content_length":0,"req_content_type":"","resp_content_length":12,"resp_content_type":"text/plain","client_addr":"10.0.0.1","client_port":"51234","remote_addr":"10.0.0.1","user_agent":"curl/8.5.0","proto":"HTTP/1.1","scheme":"http","query":""}"#;

    #[test]
    fn parses_a_request_line_as_kamal_proxy_writes_it() {
        let r = ProxyRequest::parse(LINE).unwrap();
        assert_eq!(r.service, "klabapp-web");
        assert_eq!(r.target, "e5d03b25accc:80");
        assert_eq!(r.status, 200);
        assert_eq!(r.duration_ns, 1_834_211);
        assert_eq!((r.method.as_str(), r.host.as_str(), r.path.as_str()), ("GET", "app.example.com", "/up"));
        assert_eq!(r.time.unwrap().to_rfc3339(), "2026-12-03T10:15:02.417+00:00");
    }

    #[test]
    fn other_proxy_lines_are_not_requests() {
        for l in [
            r#"{"time":"2026-12-03T10:15:02Z","level":"INFO","msg":"Deployed","service":"klabapp-web","target":"x:80"}"#,
            r#"{"time":"2026-12-03T10:15:02Z","level":"INFO","msg":"Request","service":"a"}"#,
            "Request {not json",
            "",
            "2026/12/03 10:15:02 plain text",
        ] {
            assert_eq!(ProxyRequest::parse(l), None, "{l}");
        }
    }

    #[test]
    fn escaped_strings_and_missing_time_still_parse() {
        let l = r#"{"msg":"Request","status":502,"service":"a\"b","target":"","duration":5}"#;
        let r = ProxyRequest::parse(l).unwrap();
        assert_eq!((r.service.as_str(), r.status, r.time), ("a\"b", 502, None));
    }
}
