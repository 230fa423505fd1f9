//! Just enough HTTP/1.1: read a request or response head + body (Content-Length, chunked, or
//! until EOF for responses), write them back with explicit framing. Bodies are buffered
//! whole (the stand-in always behaves as if --buffer-requests/--buffer-responses were on).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

const MAX_HEAD: usize = 64 * 1024;

pub struct Request {
    pub method: String,
    pub target: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn has_token(h: &[(String, String)], name: &str, token: &str) -> bool {
    h.iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .any(|(_, v)| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

fn read_head<R: BufRead>(r: &mut R) -> io::Result<Option<Vec<String>>> {
    let mut lines = Vec::new();
    let mut total = 0;
    loop {
        let mut line = String::new();
        let n = r.read_line(&mut line)?;
        if n == 0 {
            if lines.is_empty() {
                return Ok(None);
            }
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "truncated head"));
        }
        total += n;
        if total > MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "head too large"));
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        if line.is_empty() {
            if lines.is_empty() {
                continue; // tolerate stray CRLF between requests
            }
            return Ok(Some(lines));
        }
        lines.push(line);
    }
}

fn parse_headers(lines: &[String]) -> io::Result<Vec<(String, String)>> {
    lines
        .iter()
        .map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("bad header line {l:?}")))
        })
        .collect()
}

fn read_chunked<R: BufRead>(r: &mut R) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        if r.read_line(&mut size)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "truncated chunk"));
        }
        let size = size.trim().split(';').next().unwrap_or("");
        let n = usize::from_str_radix(size, 16).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
        if n == 0 {
            // trailers until empty line
            loop {
                let mut t = String::new();
                if r.read_line(&mut t)? == 0 || t.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + n, 0);
        r.read_exact(&mut body[start..])?;
        let mut crlf = String::new();
        r.read_line(&mut crlf)?;
    }
}

pub fn read_request<R: BufRead>(r: &mut R) -> io::Result<Option<Request>> {
    let Some(lines) = read_head(r)? else { return Ok(None) };
    let mut parts = lines[0].split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "bad request line"));
    };
    let headers = parse_headers(&lines[1..])?;
    let body = if has_token(&headers, "Transfer-Encoding", "chunked") {
        read_chunked(r)?
    } else if let Some(cl) = header(&headers, "Content-Length") {
        let n: usize = cl.parse().map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad content-length"))?;
        let mut b = vec![0; n];
        r.read_exact(&mut b)?;
        b
    } else {
        Vec::new()
    };
    Ok(Some(Request { method: method.into(), target: target.into(), version: version.into(), headers, body }))
}

/// Whether the client wants the connection kept open after this request.
pub fn keep_alive(req: &Request) -> bool {
    if has_token(&req.headers, "Connection", "close") {
        return false;
    }
    req.version != "HTTP/1.0" || has_token(&req.headers, "Connection", "keep-alive")
}

const HOP: [&str; 8] = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "content-length"];

fn is_hop(name: &str) -> bool {
    HOP.iter().any(|h| name.eq_ignore_ascii_case(h))
}

/// Sends `req` to `addr` (a fresh connection, `Connection: close`) and reads the whole response.
pub fn forward(addr: std::net::SocketAddr, host_for_upstream: Option<&str>, req: &Request, extra: &[(String, String)], timeout: Duration) -> io::Result<Response> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5).min(timeout))?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.set_nodelay(true)?;
    let mut out = Vec::with_capacity(512 + req.body.len());
    write!(out, "{} {} HTTP/1.1\r\n", req.method, req.target)?;
    let mut saw_host = false;
    for (k, v) in &req.headers {
        if is_hop(k) {
            continue;
        }
        if k.eq_ignore_ascii_case("host") {
            saw_host = true;
            if let Some(h) = host_for_upstream {
                write!(out, "Host: {h}\r\n")?;
                continue;
            }
        }
        write!(out, "{k}: {v}\r\n")?;
    }
    if !saw_host {
        write!(out, "Host: {}\r\n", host_for_upstream.unwrap_or("localhost"))?;
    }
    for (k, v) in extra {
        write!(out, "{k}: {v}\r\n")?;
    }
    if !req.body.is_empty() || matches!(req.method.as_str(), "POST" | "PUT" | "PATCH") {
        write!(out, "Content-Length: {}\r\n", req.body.len())?;
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(&req.body);
    s.write_all(&out)?;
    let mut r = BufReader::new(s);
    let lines = read_head(&mut r)?.ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "upstream closed without a response"))?;
    let mut parts = lines[0].splitn(3, ' ');
    let _v = parts.next();
    let status: u16 = parts.next().and_then(|c| c.parse().ok()).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad status line"))?;
    let reason = parts.next().unwrap_or("").to_string();
    let headers = parse_headers(&lines[1..])?;
    let no_body = req.method == "HEAD" || status == 204 || status == 304 || (100..200).contains(&status);
    let body = if no_body {
        Vec::new()
    } else if has_token(&headers, "Transfer-Encoding", "chunked") {
        read_chunked(&mut r)?
    } else if let Some(cl) = header(&headers, "Content-Length") {
        let n: usize = cl.parse().map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad content-length"))?;
        let mut b = vec![0; n];
        r.read_exact(&mut b)?;
        b
    } else {
        let mut b = Vec::new();
        r.read_to_end(&mut b)?;
        b
    };
    let _ = r.get_ref().shutdown(Shutdown::Both);
    Ok(Response { status, reason, headers, body })
}

pub fn write_response<W: Write>(w: &mut W, resp: &Response, head_only: bool, keep: bool) -> io::Result<()> {
    let mut out = Vec::with_capacity(256 + resp.body.len());
    let reason = if resp.reason.is_empty() { reason_for(resp.status) } else { &resp.reason };
    write!(out, "HTTP/1.1 {} {}\r\n", resp.status, reason)?;
    for (k, v) in &resp.headers {
        if !is_hop(k) {
            write!(out, "{k}: {v}\r\n")?;
        }
    }
    write!(out, "Content-Length: {}\r\n", resp.body.len())?;
    out.extend_from_slice(if keep { b"Connection: keep-alive\r\n\r\n" } else { b"Connection: close\r\n\r\n" });
    if !head_only {
        out.extend_from_slice(&resp.body);
    }
    w.write_all(&out)?;
    w.flush()
}

pub fn simple(status: u16, body: &str) -> Response {
    Response {
        status,
        reason: reason_for(status).into(),
        headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
        body: body.as_bytes().to_vec(),
    }
}

pub fn reason_for(status: u16) -> &'static str {
    match status {
        200 => "OK",
        404 => "Not Found",
        400 => "Bad Request",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}
