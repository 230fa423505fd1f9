//! 1Password (`op`). `op account get --account A` tells whether the account is signed in,
//! else `op signin --account A --force --raw` (its answer is the session token, passed on as
//! `--session`). Secrets are `[op://]vault/item[/field[/subfield]]` (field `password` when
//! absent); one `op item get ITEM --vault V --format json --account A [--session S] --fields
//! label=f,…` per item. Without secret names, `--from vault/item` reads every field of the item.
//! Keys are each field's `reference` without `op://` and without a trailing `/password`.

use super::{Fetched, Json};
use crate::config::secrets::ruby::{is_blank, ruby_split};
use crate::config::secrets::vendor::{Cmd, SecretsError, Vendor};
use crate::config::shell::escape_shell_value;
use crate::config::Value;
use indexmap::IndexMap;

fn dumped(s: &str) -> String {
    escape_shell_value(&Value::Str(s.to_string()))
}

pub fn fetch(v: &Vendor, secrets: &[String], from: Option<&str>, account: &str) -> Result<Fetched, SecretsError> {
    v.check_installed("op", "--version")?;
    let session = login(v, account)?;
    let session = session.as_deref().filter(|s| !is_blank(s));
    let mut results = Fetched::new();
    if secrets.is_empty() {
        let from = from.ok_or_else(|| SecretsError::Usage("1password: without secret names, --from vault/item names the item to read".into()))?;
        let parts = ruby_split(from.strip_prefix("op://").unwrap_or(from), "/");
        let (vault, item) = (parts.first().copied(), parts.get(1).copied());
        let item = item.ok_or_else(|| v.secret_error(format!("--from {from} names no item (vault/item)")))?;
        let (cmd, json) = item_get(v, vault, item, &[], account, session)?;
        let fields = json.get("fields").ok_or_else(|| v.answer(&cmd, &format!("reading {item}"), "an item with fields"))?;
        let Json::Arr(fields) = fields else { return Err(v.answer(&cmd, &format!("reading {item}"), "a list of fields")) };
        fields_map(v, &cmd, fields, &mut results)?;
        return Ok(results);
    }
    let prefixed = super::prefixed(secrets, from);
    for (vault, items) in vaults_items_fields(&prefixed) {
        for (item, fields) in items {
            let item = item.ok_or_else(|| v.secret_error(format!("a secret in vault {} names no item (vault/item[/field])", vault.unwrap_or_default())))?;
            let (cmd, json) = item_get(v, vault, item, &fields, account, session)?;
            let list = if fields.len() == 1 {
                vec![json]
            } else if let Json::Arr(a) = json {
                a
            } else {
                return Err(v.answer(&cmd, &format!("reading {item}"), "a list of fields"));
            };
            fields_map(v, &cmd, &list, &mut results)?;
        }
    }
    Ok(results)
}

/// Signed in already (`None`), or the session token `op signin` answered.
fn login(v: &Vendor, account: &str) -> Result<Option<String>, SecretsError> {
    let check = Cmd::new("op", "account get --account").esc(account).quiet();
    if v.run(&check)?.ok {
        return Ok(None);
    }
    let signin = Cmd::new("op", "signin").raw(&format!("--account {} --force --raw", dumped(account))).interactive();
    v.ok(&signin, &format!("could not sign in to account {account}")).map(Some)
}

type Grouped<'a> = IndexMap<Option<&'a str>, IndexMap<Option<&'a str>, Vec<String>>>;

/// vault → item → fields (`a/b` for a subfield is `a.b`), in first-seen order.
fn vaults_items_fields(secrets: &[String]) -> Grouped<'_> {
    let mut out: Grouped = IndexMap::new();
    for s in secrets {
        let parts = ruby_split(s.strip_prefix("op://").unwrap_or(s), "/");
        let (vault, item) = (parts.first().copied(), parts.get(1).copied());
        let mut fields: Vec<&str> = parts.iter().skip(2).copied().collect();
        if fields.is_empty() {
            fields.push("password");
        }
        out.entry(vault).or_default().entry(item).or_default().push(fields.join("."));
    }
    out
}

fn item_get(v: &Vendor, vault: Option<&str>, item: &str, fields: &[String], account: &str, session: Option<&str>) -> Result<(Cmd, Json), SecretsError> {
    let mut cmd = Cmd::new("op", "item get").esc(item);
    if let Some(vault) = vault {
        cmd = cmd.raw(&format!("--vault {}", dumped(vault)));
    }
    cmd = cmd.raw(&format!("--format {} --account {}", dumped("json"), dumped(account)));
    if let Some(s) = session {
        cmd = cmd.secret(format!("--session {}", dumped(s)));
    }
    if !fields.is_empty() {
        let labels: Vec<String> = fields.iter().map(|f| format!("label={f}")).collect();
        cmd = cmd.raw(&format!("--fields {}", dumped(&labels.join(","))));
    }
    let what = if fields.is_empty() {
        format!("could not read {item} in vault {}", vault.unwrap_or_default())
    } else {
        format!("could not read {} from {item} in vault {}", fields.join(", "), vault.unwrap_or_default())
    };
    let out = v.ok(&cmd, &what)?;
    let json = v.json(&cmd, &what, &out)?;
    Ok((cmd, json))
}

/// Each field's `reference` (without `op://` and a final `/password`) → its value.
fn fields_map(v: &Vendor, cmd: &Cmd, fields: &[Json], out: &mut Fetched) -> Result<(), SecretsError> {
    for f in fields {
        let reference = f.get("reference").and_then(Json::str).ok_or_else(|| v.answer(cmd, "reading the fields", "fields with a reference"))?;
        let key = reference.strip_prefix("op://").unwrap_or(reference);
        let key = key.strip_suffix("/password").unwrap_or(key);
        out.insert(key.to_string(), f.get("value").cloned().unwrap_or(Json::Null));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_group_by_vault_then_item_and_default_to_password() {
        let s: Vec<String> = ["op://v/i/f", "v/i", "v/j/a/b", "w/i/f/"].iter().map(|s| s.to_string()).collect();
        let g = vaults_items_fields(&s);
        let flat: Vec<String> =
            g.iter().flat_map(|(v, items)| items.iter().map(move |(i, f)| format!("{}:{}:{}", v.unwrap(), i.unwrap(), f.join(",")))).collect();
        assert_eq!(flat, vec!["v:i:f,password", "v:j:a.b", "w:i:f"]);
    }
}
