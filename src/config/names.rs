//! Kamal's naming rules that belong to its configuration (`Kamal::Configuration`): the primary
//! role's default, the latest tag, and the `-h`/`-r` filters.

use super::{Map, Value};

/// `primary_role:`, `web` when unset (Kamal's default).
pub(crate) fn primary_role_name(raw: &Map) -> String {
    raw.get("primary_role").filter(|v| !v.is_nil()).map(Value::to_rstring).unwrap_or_else(|| "web".into())
}

/// Kamal's latest tag (`Kamal::Configuration#latest_tag`): `latest`, or `latest-<destination>`.
pub fn latest_tag(destination: Option<&str>) -> String {
    match destination {
        Some(d) => format!("latest-{d}"),
        None => "latest".into(),
    }
}

/// Kamal's `-h`/`-r` filtering: comma-separated patterns where `*` is the only wildcard;
/// returns the matching items in pattern order, without duplicates.
pub fn filter_specific(filters: &str, items: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in filters.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        for it in items {
            if crate::pattern::wildcard(f, it, false) && !out.contains(it) {
                out.push(it.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_like_kamal() {
        let items: Vec<String> = ["web", "workers", "jobs"].iter().map(|s| s.to_string()).collect();
        assert_eq!(filter_specific("w*", &items), vec!["web", "workers"]);
        assert_eq!(filter_specific("jobs,web", &items), vec!["jobs", "web"]);
        assert!(filter_specific("x", &items).is_empty());
    }
}
