//! Doppler (`doppler`). Signed in when `doppler me --json` succeeds, else `doppler login -y`.
//! Secrets are `PROJECT/CONFIG/NAME` (usually `--from PROJECT/CONFIG`); with a service token in
//! `DOPPLER_TOKEN` (`dp.st…`) the project and config come from the token. One `doppler secrets
//! get NAME… --json [-p PROJECT -c CONFIG]`; keys are the secret names, values their
//! `computed` value.

use super::{Fetched, Json};
use crate::config::secrets::ruby::{ruby_shellescape, ruby_split};
use crate::config::secrets::vendor::{Cmd, SecretsError, Vendor};

pub fn fetch(v: &Vendor, secrets: &[String], from: Option<&str>) -> Result<Fetched, SecretsError> {
    v.check_installed("doppler", "--version")?;
    if !v.run(&Cmd::new("doppler", "me --json").quiet())?.ok {
        v.ok(&Cmd::new("doppler", "login -y").interactive(), "could not log in")?;
    }
    let secrets = super::prefixed(secrets, from);
    let service_token = v.at.env.get("DOPPLER_TOKEN").is_some_and(|t| t.starts_with("dp.st"));
    let flags = if service_token {
        String::new()
    } else {
        let first = secrets.first().map(|s| ruby_split(s, "/")).unwrap_or_default();
        let (Some(project), Some(config)) = (first.first(), first.get(1)) else {
            return Err(SecretsError::Usage("doppler: name the project and config (`--from PROJECT/CONFIG`)".into()));
        };
        format!("-p {} -c {}", ruby_shellescape(project), ruby_shellescape(config))
    };
    let names: Vec<&str> = secrets.iter().map(|s| ruby_split(s, "/").last().copied().unwrap_or_default()).collect();
    let cmd = Cmd::new("doppler", "secrets get").esc_all(&names).raw("--json").raw(&flags);
    let what = format!("could not read {}", secrets.join(", "));
    let out = v.ok(&cmd, &what)?;
    let Json::Obj(items) = v.json(&cmd, &what, &out)? else { return Err(v.answer(&cmd, &what, "a JSON object")) };
    Ok(items.into_iter().map(|(k, item)| (k, item.get("computed").cloned().unwrap_or(Json::Null))).collect())
}
