//! Google Secret Manager (`gcloud`). Signed in when `gcloud auth list --format=json` lists an
//! account, else `gcloud auth login` and the list is asked again. `--account` is `USER` or
//! `USER|SERVICE_ACCOUNT[,…]` (impersonation; `default` is gcloud's own). Secrets are
//! `[PROJECT/]NAME[/VERSION]` (`default` project, `latest` version); one `gcloud secrets
//! versions access VERSION --secret=NAME [--project=P] [--account=U]
//! [--impersonate-service-account=S] --format=json` each, its `payload.data` base64-decoded.
//! Keys are `PROJECT/NAME`.

use super::{Fetched, Json};
use crate::config::secrets::ruby::{decode64, ruby_shellescape, ruby_split};
use crate::config::secrets::vendor::{Cmd, SecretsError, Vendor};
use indexmap::IndexMap;

pub fn fetch(v: &Vendor, secrets: &[String], from: Option<&str>, account: &str) -> Result<Fetched, SecretsError> {
    v.check_installed("gcloud", "--version")?;
    if !logged_in(v)? {
        v.run(&Cmd::new("gcloud", "auth login").interactive())?;
        if !logged_in(v)? {
            return Err(v.secret_error("could not log in to gcloud (`gcloud auth login`)"));
        }
    }
    let (user, service_account) = match account.split_once('|') {
        Some((u, s)) => (u, Some(s)),
        None => (account, None),
    };
    let mut results = Fetched::new();
    for (project, name, version) in with_metadata(&super::prefixed(secrets, from))?.into_values() {
        let mut cmd = Cmd::new("gcloud", "secrets versions access").esc(version).raw(&format!("--secret={}", ruby_shellescape(name)));
        if project != "default" {
            cmd = cmd.raw(&format!("--project={}", ruby_shellescape(project)));
        }
        if user != "default" {
            cmd = cmd.raw(&format!("--account={}", ruby_shellescape(user)));
        }
        if let Some(s) = service_account {
            cmd = cmd.raw(&format!("--impersonate-service-account={}", ruby_shellescape(s)));
        }
        let cmd = cmd.raw("--format=json");
        let item = format!("{project}/{name}");
        let what = format!("could not read {item}");
        let out = v.ok(&cmd, &what)?;
        let json = v.json(&cmd, &what, out.trim())?;
        let data = json.get("payload").and_then(|p| p.get("data")).and_then(Json::str).ok_or_else(|| v.answer(&cmd, &what, "a payload with data"))?;
        let bytes = decode64(data);
        let value = String::from_utf8(bytes).map_err(|_| v.secret_error(format!("{item} is not UTF-8 text")))?;
        results.insert(item, Json::Str(value));
    }
    Ok(results)
}

fn logged_in(v: &Vendor) -> Result<bool, SecretsError> {
    let cmd = Cmd::new("gcloud", "auth list --format=json");
    let out = v.run(&cmd)?;
    let json = v.json(&cmd, "listing the signed-in accounts", out.stdout.trim())?;
    Ok(match json {
        Json::Arr(a) => a.iter().any(Json::truthy),
        Json::Obj(m) => !m.is_empty(),
        _ => false,
    })
}

type Meta<'a> = (&'a str, &'a str, &'a str);

/// secret → (project, name, version); a repeated secret is read once.
fn with_metadata(secrets: &[String]) -> Result<IndexMap<&str, Meta<'_>>, SecretsError> {
    let mut out = IndexMap::new();
    for s in secrets {
        let mut parts = ruby_split(s, "/");
        if parts.len() == 1 {
            parts.insert(0, "default");
        }
        let [project, name, rest @ ..] = parts.as_slice() else {
            return Err(SecretsError::Usage(format!("gcp_secret_manager: `{s}` names no secret ([PROJECT/]NAME[/VERSION])")));
        };
        out.insert(s.as_str(), (*project, *name, rest.first().copied().unwrap_or("latest")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_default_project_and_version() {
        let s: Vec<String> = ["a", "p/b", "p/c/3", "default/a/latest", "a"].iter().map(|s| s.to_string()).collect();
        let m = with_metadata(&s).unwrap();
        assert_eq!(
            m.values().copied().collect::<Vec<_>>(),
            vec![("default", "a", "latest"), ("p", "b", "latest"), ("p", "c", "3"), ("default", "a", "latest")]
        );
        assert!(with_metadata(&[String::new()]).is_err());
    }
}
