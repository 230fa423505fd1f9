//! Bitwarden (`bw`). `bw status` decides: `unauthenticated` → `bw login ACCOUNT`; `locked` →
//! `bw unlock --raw` (the session, passed on as `BW_SESSION`); then it must be `unlocked`, and
//! `bw sync` must succeed. One `bw get item ITEM` per item; secrets are `item` (its login
//! password, else all its custom fields) or `item/field` (keys `item/field`).

use super::{Fetched, Json};
use crate::config::secrets::ruby::{is_blank, ruby_split};
use crate::config::secrets::vendor::{Cmd, SecretsError, Vendor};
use indexmap::IndexMap;

fn bw(text: &str, session: Option<&str>) -> Cmd {
    with_session(Cmd::new("bw", text), session)
}

fn with_session(c: Cmd, session: Option<&str>) -> Cmd {
    match session {
        Some(s) => c.env_secret("BW_SESSION", s),
        None => c,
    }
}

pub fn fetch(v: &Vendor, secrets: &[String], from: Option<&str>, account: &str) -> Result<Fetched, SecretsError> {
    v.check_installed("bw", "--version")?;
    let session = login(v, account)?;
    let session = session.as_deref();
    let mut results = Fetched::new();
    for (item, fields) in items_fields(&super::prefixed(secrets, from)) {
        let cmd = with_session(Cmd::new("bw", "get item").esc(item), session);
        let what = format!("could not read {item}");
        let out = v.ok(&cmd, &what)?;
        let json = v.json(&cmd, &what, out.trim())?;
        if fields.iter().any(Option::is_some) {
            from_fields(v, item, &fields, &json, &mut results)?;
        } else if let Some(pw) = json.get("login").and_then(|l| l.get("password")).filter(|p| p.truthy()) {
            results.insert(item.to_string(), pw.clone());
        } else if let Some(Json::Arr(all)) = json.get("fields").filter(|f| matches!(f, Json::Arr(a) if !a.is_empty())) {
            let names: Vec<Option<String>> = all.iter().map(|f| f.get("name").map(Json::to_s)).collect();
            let names: Vec<Option<&str>> = names.iter().map(Option::as_deref).collect();
            from_fields(v, item, &names, &json, &mut results)?;
        } else {
            return Err(v.secret_error(format!("item {item} is not a login item and no field was named")));
        }
    }
    Ok(results)
}

/// The session to use (`None` when already unlocked).
fn login(v: &Vendor, account: &str) -> Result<Option<String>, SecretsError> {
    let mut status = status(v, None)?;
    if status == "unauthenticated" {
        let login = Cmd::new("bw", "login").esc(account).interactive();
        v.run(&login)?;
        status = self::status(v, None)?;
    }
    let mut session = None;
    if status == "locked" {
        let unlock = Cmd::new("bw", "unlock --raw").interactive();
        let out = v.run(&unlock)?;
        session = Some(out.stdout.trim().to_string()).filter(|s| !is_blank(s));
        status = self::status(v, session.as_deref())?;
    }
    if status != "unlocked" {
        return Err(v.secret_error(format!("could not log in to and unlock Bitwarden (`bw status` says {status:?})")));
    }
    let sync = bw("sync", session.as_deref());
    v.ok(&sync, "could not sync")?;
    Ok(session)
}

fn status(v: &Vendor, session: Option<&str>) -> Result<String, SecretsError> {
    let cmd = bw("status", session);
    let out = v.run(&cmd)?;
    let json = v.json(&cmd, "reading the vault status", out.stdout.trim())?;
    Ok(json.get("status").map(Json::to_s).unwrap_or_default())
}

/// item → the fields named for it (`None` for the bare item), first-seen order.
fn items_fields(secrets: &[String]) -> IndexMap<&str, Vec<Option<&str>>> {
    let mut out: IndexMap<&str, Vec<Option<&str>>> = IndexMap::new();
    for s in secrets {
        let parts = ruby_split(s, "/");
        out.entry(parts.first().copied().unwrap_or_default()).or_default().push(parts.get(1).copied());
    }
    out
}

fn from_fields(v: &Vendor, item: &str, fields: &[Option<&str>], json: &Json, out: &mut Fetched) -> Result<(), SecretsError> {
    let all: &[Json] = match json.get("fields") {
        Some(Json::Arr(a)) => a,
        _ => &[],
    };
    for field in fields {
        let name = field.unwrap_or_default();
        let found = all.iter().find(|f| f.get("name").map(Json::to_s).as_deref() == *field);
        let found = found.ok_or_else(|| v.secret_error(format!("no field {name} in item {item}")))?;
        out.insert(format!("{item}/{name}"), found.get("value").cloned().unwrap_or(Json::Null));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_keep_first_seen_order_and_only_the_second_segment_is_a_field() {
        let s: Vec<String> = ["a/x", "b", "a/y/z", "a"].iter().map(|s| s.to_string()).collect();
        let g = items_fields(&s);
        assert_eq!(g.keys().copied().collect::<Vec<_>>(), vec!["a", "b"]);
        assert_eq!(g["a"], vec![Some("x"), Some("y"), None]);
        assert_eq!(g["b"], vec![None]);
    }
}
