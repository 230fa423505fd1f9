//! Enpass (`enpass-cli`, offline: no account, `--from` is the vault's directory). Secrets are
//! `TITLE` (every password of the item) or `TITLE/LABEL`. One `enpass-cli -json -vault VAULT
//! show TITLE…`; keys are `TITLE/LABEL` (`TITLE` when the label is empty). A name that matches
//! nothing is left out (as in Kamal); one that matches twice is an error.

use super::{Fetched, Json};
use crate::config::secrets::ruby::is_blank;
use crate::config::secrets::vendor::{Cmd, SecretsError, Vendor};

pub fn fetch(v: &Vendor, secrets: &[String], from: Option<&str>) -> Result<Fetched, SecretsError> {
    v.check_installed("enpass-cli", "version")?;
    let vault = from.ok_or_else(|| SecretsError::Usage("enpass: --from names the vault (its directory)".into()))?;
    let mut titles: Vec<&str> = vec![];
    for s in secrets {
        let title = match s.rsplit_once('/') {
            Some((key, _)) if !key.is_empty() => key,
            Some((_, value)) => value,
            None => s.as_str(),
        };
        if !titles.contains(&title) {
            titles.push(title);
        }
    }
    let cmd = Cmd::new("enpass-cli", "-json -vault").esc(vault).raw("show").esc_all(&titles);
    let what = format!("could not read {}", titles.join(", "));
    let out = v.run(&cmd)?;
    // Kamal reads the answer whatever the exit status; an empty one is not JSON.
    let json = v.json(&cmd, &what, out.stdout.trim()).map_err(|e| if out.ok { e } else { v.failed(&cmd, &what, out) })?;
    let items: &[Json] = match &json {
        Json::Arr(a) => a,
        _ => return Err(v.answer(&cmd, &what, "a JSON array")),
    };
    let mut results = Fetched::new();
    for item in items {
        let (Some(title), Some(password)) = (item.get("title"), item.get("password")) else { continue };
        if password.str().is_some_and(is_blank) || matches!(password, Json::Bool(false)) {
            continue;
        }
        let title = title.to_s();
        let label = item.get("label").map(Json::to_s).unwrap_or_default();
        let key = [title.as_str(), label.as_str()].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join("/");
        if secrets.contains(&title) || secrets.contains(&key) {
            if results.contains_key(&key) {
                return Err(v.secret_error(format!("{key} is in the vault more than once")));
            }
            results.insert(key, password.clone());
        }
    }
    Ok(results)
}
