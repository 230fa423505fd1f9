//! Bitwarden Secrets Manager (`bws`, access token in its environment). `bws project list` must
//! succeed (the token works). Secrets are secret ids (one `bws secret get ID` each), or a
//! single `all` (`bws secret list`) or `PROJECT/all` (`bws secret list PROJECT`). Keys are
//! each secret's `key`.

use super::{objects, Fetched, Json};
use crate::config::secrets::ruby::ruby_split;
use crate::config::secrets::vendor::{Cmd, SecretsError, Vendor};

pub fn fetch(v: &Vendor, secrets: &[String], from: Option<&str>) -> Result<Fetched, SecretsError> {
    v.check_installed("bws", "--version")?;
    let check = Cmd::new("bws", "project list");
    v.ok(&check, "could not authenticate (is a valid access token set?)")?;
    if secrets.is_empty() {
        return Err(SecretsError::Usage("bitwarden-sm: name the secrets to read (ids, `all` or `PROJECT/all`)".into()));
    }
    let secrets = super::prefixed(secrets, from);
    let mut results = Fetched::new();
    match list_command(&secrets)? {
        Some(cmd) => {
            let what = "could not list the secrets";
            let out = v.ok(&cmd, what)?;
            let json = v.json(&cmd, what, &out)?;
            for item in objects(v, &cmd, what, &json)? {
                insert(&mut results, item);
            }
        }
        None => {
            for id in &secrets {
                let cmd = Cmd::new("bws", "secret get").esc(id);
                let what = format!("could not read {id}");
                let out = v.ok(&cmd, &what)?;
                insert(&mut results, &v.json(&cmd, &what, &out)?);
            }
        }
    }
    Ok(results)
}

fn insert(results: &mut Fetched, item: &Json) {
    results.insert(super::field_str(item, "key"), item.get("value").cloned().unwrap_or(Json::Null));
}

/// `bws secret list [PROJECT]` for a lone `all` / `PROJECT/all`, else `None` (get each id).
fn list_command(secrets: &[String]) -> Result<Option<Cmd>, SecretsError> {
    let [one] = secrets else { return Ok(None) };
    if one == "all" {
        return Ok(Some(Cmd::new("bws", "secret list")));
    }
    if !one.ends_with("/all") {
        return Ok(None);
    }
    // Ruby's `split("/all").first`: the text before the first `/all`.
    let project = ruby_split(one, "/all").first().copied().ok_or_else(|| SecretsError::Usage(format!("bitwarden-sm: `{one}` names no project")))?;
    Ok(Some(Cmd::new("bws", "secret list").esc(project)))
}
