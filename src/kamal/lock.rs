//! The deploy lock's `details` file: Kamal's text, base64 as Ruby writes it, and parsing back.

use super::ruby::{decode64, encode64};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Who holds the deploy lock, since when, for which version and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LockInfo {
    pub holder: String,
    pub at: Option<DateTime<Utc>>,
    pub version: Option<String>,
    pub message: String,
}

pub const DEFAULT_MESSAGE: &str = "Automatic deploy lock";

/// The lock a rollout canary holds from its start to its stop (kamal-proxy splitting requests
/// between two versions meanwhile); a `kamal deploy` meanwhile fails with this message.
pub const ROLLOUT_MESSAGE: &str = "Rollout canary by kdeck: kamal-proxy splits requests between two versions until kdeck stops it";

/// `Locked by: <who> at <UTC>\nVersion: <v>\nMessage: <m>` (no trailing newline).
pub fn details_text(who: &str, at: DateTime<Utc>, version: &str, message: &str) -> String {
    format!("Locked by: {who} at {}\nVersion: {version}\nMessage: {message}", at.format("%Y-%m-%dT%H:%M:%SZ"))
}

pub fn encode_details(who: &str, at: DateTime<Utc>, version: &str, message: &str) -> String {
    encode64(details_text(who, at, version, message).as_bytes())
}

/// Parse decoded details text (as `lock status` prints it).
pub fn parse_details(text: &str) -> LockInfo {
    let mut info = LockInfo { holder: String::new(), at: None, version: None, message: String::new() };
    let mut in_message = false;
    for line in text.lines() {
        if in_message {
            info.message.push('\n');
            info.message.push_str(line);
            continue;
        }
        if let Some(rest) = line.strip_prefix("Locked by: ") {
            match rest.rsplit_once(" at ") {
                Some((who, at)) => {
                    info.holder = who.to_string();
                    info.at = DateTime::parse_from_rfc3339(at.trim()).ok().map(|d| d.with_timezone(&Utc));
                }
                None => info.holder = rest.to_string(),
            }
        } else if let Some(v) = line.strip_prefix("Version: ") {
            info.version = Some(v.to_string());
        } else if let Some(m) = line.strip_prefix("Message: ") {
            info.message = m.to_string();
            in_message = true;
        }
    }
    info
}

/// Parse the base64 `details` file content.
pub fn parse_encoded(b64: &str) -> Option<LockInfo> {
    let bytes = decode64(b64)?;
    Some(parse_details(&String::from_utf8_lossy(&bytes)))
}

/// The deploy lock's directory on the lock host: `.kamal/lock-<service>[-<destination>]`.
pub fn lock_dir(service_and_destination: &str) -> String {
    format!(".kamal/lock-{service_and_destination}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn roundtrip_trace_03() {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 14, 9, 13).unwrap();
        let b = encode_details("Klab Tester", at, "900ee7979f10680541cad0fcc045fc29641cd653", DEFAULT_MESSAGE);
        assert_eq!(b, "TG9ja2VkIGJ5OiBLbGFiIFRlc3RlciBhdCAyMDI2LTExLTIyVDE0OjA5OjEz\nWgpWZXJzaW9uOiA5MDBlZTc5NzlmMTA2ODA1NDFjYWQwZmNjMDQ1ZmMyOTY0\nMWNkNjUzCk1lc3NhZ2U6IEF1dG9tYXRpYyBkZXBsb3kgbG9jaw==\n");
        let info = parse_encoded(&b).unwrap();
        assert_eq!(info.holder, "Klab Tester");
        assert_eq!(info.at, Some(at));
        assert_eq!(info.version.as_deref(), Some("900ee7979f10680541cad0fcc045fc29641cd653"));
        assert_eq!(info.message, DEFAULT_MESSAGE);
    }
}
