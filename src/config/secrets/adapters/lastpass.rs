//! LastPass (`lpass`). Signed in when `lpass status --color never` says `Logged in as
//! ACCOUNT.`, else `lpass login ACCOUNT`. One `lpass show NAME… --json`; keys are each entry's
//! `fullname`; a name with no entry is an error.

use super::{objects, Fetched, Json};
use crate::config::secrets::vendor::{Cmd, SecretsError, Vendor};

pub fn fetch(v: &Vendor, secrets: &[String], from: Option<&str>, account: &str) -> Result<Fetched, SecretsError> {
    v.check_installed("lpass", "--version")?;
    let status = v.run(&Cmd::new("lpass", "status --color never"))?;
    if status.stdout.trim() != format!("Logged in as {account}.") {
        let login = Cmd::new("lpass", "login").esc(account).interactive();
        v.ok(&login, &format!("could not log in as {account}"))?;
    }
    let secrets = super::prefixed(secrets, from);
    let cmd = Cmd::new("lpass", "show").esc_all(&secrets).raw("--json");
    let what = format!("could not read {}", secrets.join(", "));
    let out = v.ok(&cmd, &what)?;
    let json = v.json(&cmd, &what, &out)?;
    let mut results = Fetched::new();
    for item in objects(v, &cmd, &what, &json)? {
        results.insert(super::field_str(item, "fullname"), item.get("password").cloned().unwrap_or(Json::Null));
    }
    let missing: Vec<&str> = secrets.iter().filter(|s| !results.contains_key(s.as_str())).map(String::as_str).collect();
    if !missing.is_empty() {
        return Err(v.secret_error(format!("no entry {} in LastPass", missing.join(", "))));
    }
    Ok(results)
}
