//! AWS Secrets Manager (`aws`). One `aws secretsmanager batch-get-secret-value --secret-id-list
//! ID… [--profile ACCOUNT] --output json`. A secret whose `SecretString` is a JSON object gives
//! one key per member (`NAME/member`, values as they are: numbers stay numbers); any other
//! string is the value of `NAME`. Any entry in `Errors` fails the fetch.

use super::{objects, Fetched, Json};
use crate::config::secrets::vendor::{Cmd, SecretsError, Vendor};

pub fn fetch(v: &Vendor, secrets: &[String], from: Option<&str>, profile: Option<&str>) -> Result<Fetched, SecretsError> {
    v.check_installed("aws", "--version")?;
    let secrets = super::prefixed(secrets, from);
    let mut cmd = Cmd::new("aws", "secretsmanager batch-get-secret-value --secret-id-list").esc_all(&secrets);
    if let Some(p) = profile {
        cmd = cmd.raw("--profile").esc(p);
    }
    let cmd = cmd.raw("--output json");
    let what = format!("could not read {}", secrets.join(", "));
    let out = v.ok(&cmd, &what)?;
    let json = v.json(&cmd, &what, &out)?;
    if let Some(Json::Arr(errors)) = json.get("Errors").filter(|e| !matches!(e, Json::Arr(a) if a.is_empty())) {
        let msgs: Vec<String> = errors.iter().map(|e| format!("{}: {}", super::field_str(e, "SecretId"), super::field_str(e, "Message"))).collect();
        return Err(v.secret_error(msgs.join(" ")));
    }
    let values = json.get("SecretValues").unwrap_or(&Json::Null);
    let mut results = Fetched::new();
    for secret in objects(v, &cmd, &what, values)? {
        let name = super::field_str(secret, "Name");
        let Some(text) = secret.get("SecretString").and_then(Json::str) else {
            return Err(v.secret_error(format!("{name} has no SecretString (binary secrets are not read)")));
        };
        match Json::parse(text) {
            Err(_) => {
                results.insert(name, Json::Str(text.to_string()));
            }
            Ok(Json::Obj(members)) => {
                for (k, val) in members {
                    results.insert(format!("{name}/{k}"), val);
                }
            }
            // `each` of a JSON array: an element pair is key and value, else the element is the key.
            Ok(Json::Arr(items)) => {
                for item in items {
                    let (k, val) = match item {
                        Json::Arr(pair) => (pair.first().map(Json::to_s).unwrap_or_default(), pair.get(1).cloned().unwrap_or(Json::Null)),
                        other => (other.to_s(), Json::Null),
                    };
                    results.insert(format!("{name}/{k}"), val);
                }
            }
            Ok(_) => return Err(v.secret_error(format!("the SecretString of {name} is JSON but neither an object nor a list"))),
        }
    }
    Ok(results)
}
