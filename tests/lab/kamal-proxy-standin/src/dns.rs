//! Name resolution without glibc's NSS (the binary is static and runs in a FROM-scratch
//! image): /etc/hosts, then an A query over UDP to the nameservers of /etc/resolv.conf
//! (Docker's embedded DNS on network `kamal` resolves container names and short ids).

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

pub fn resolve(target: &str) -> io::Result<SocketAddr> {
    let (host, port) = split_host_port(target)?;
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    if let Some(ip) = from_hosts_file(&host) {
        return Ok(SocketAddr::new(ip, port));
    }
    let servers = nameservers();
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("lookup {host}: no such host"));
    for _attempt in 0..2 {
        for ns in &servers {
            match query_a(*ns, &host) {
                Ok(Some(ip)) => return Ok(SocketAddr::new(IpAddr::V4(ip), port)),
                Ok(None) => return Err(io::Error::new(io::ErrorKind::NotFound, format!("lookup {host}: no such host"))),
                Err(e) => last = e,
            }
        }
    }
    Err(last)
}

pub fn split_host_port(target: &str) -> io::Result<(String, u16)> {
    let bad = || io::Error::new(io::ErrorKind::InvalidInput, format!("invalid target \"{target}\" (want host:port)"));
    let (h, p) = target.rsplit_once(':').ok_or_else(bad)?;
    let port = p.parse::<u16>().map_err(|_| bad())?;
    let h = h.trim_start_matches('[').trim_end_matches(']');
    if h.is_empty() {
        return Err(bad());
    }
    Ok((h.to_string(), port))
}

fn from_hosts_file(host: &str) -> Option<IpAddr> {
    let text = std::fs::read_to_string("/etc/hosts").ok()?;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut f = line.split_whitespace();
        let Some(ip) = f.next() else { continue };
        if f.any(|n| n.eq_ignore_ascii_case(host)) {
            if let Ok(ip) = ip.parse::<IpAddr>() {
                if ip.is_ipv4() {
                    return Some(ip);
                }
            }
        }
    }
    None
}

fn nameservers() -> Vec<SocketAddr> {
    let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let v: Vec<SocketAddr> = text
        .lines()
        .filter_map(|l| l.strip_prefix("nameserver"))
        .filter_map(|ip| ip.trim().parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect();
    if v.is_empty() {
        vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 53)]
    } else {
        v
    }
}

fn query_a(ns: SocketAddr, host: &str) -> io::Result<Option<Ipv4Addr>> {
    let sock = UdpSocket::bind(if ns.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" })?;
    sock.set_read_timeout(Some(Duration::from_secs(2)))?;
    let id: u16 = (std::process::id() as u16) ^ (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0) as u16);
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in host.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("bad host name {host}")));
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    sock.send_to(&q, ns)?;
    let mut buf = [0u8; 1500];
    loop {
        let (n, _) = sock.recv_from(&mut buf)?;
        let r = &buf[..n];
        if n < 12 || u16::from_be_bytes([r[0], r[1]]) != id {
            continue;
        }
        let rcode = r[3] & 0x0f;
        if rcode == 3 {
            return Ok(None);
        }
        if rcode != 0 {
            return Err(io::Error::other(format!("dns rcode {rcode} for {host}")));
        }
        let qd = u16::from_be_bytes([r[4], r[5]]) as usize;
        let an = u16::from_be_bytes([r[6], r[7]]) as usize;
        let mut p = 12;
        for _ in 0..qd {
            p = skip_name(r, p).ok_or_else(|| io::Error::other("bad dns answer"))? + 4;
        }
        for _ in 0..an {
            p = skip_name(r, p).ok_or_else(|| io::Error::other("bad dns answer"))?;
            if p + 10 > n {
                break;
            }
            let typ = u16::from_be_bytes([r[p], r[p + 1]]);
            let len = u16::from_be_bytes([r[p + 8], r[p + 9]]) as usize;
            p += 10;
            if typ == 1 && len == 4 && p + 4 <= n {
                return Ok(Some(Ipv4Addr::new(r[p], r[p + 1], r[p + 2], r[p + 3])));
            }
            p += len;
        }
        return Ok(None);
    }
}

fn skip_name(r: &[u8], mut p: usize) -> Option<usize> {
    loop {
        let l = *r.get(p)? as usize;
        if l == 0 {
            return Some(p + 1);
        }
        if l & 0xc0 == 0xc0 {
            return Some(p + 2);
        }
        p += 1 + l;
    }
}
