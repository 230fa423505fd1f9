//! `kamal secrets fetch` and `kamal secrets extract` as functions: shared by `kdeck secrets …`
//! and by `$(kamal secrets …)` inside `.kamal/secrets` files (run in-process, `--inline`).

use super::adapters::{Adapter, FetchRequest};
use super::json::{dump_object, Json};
use super::ruby::{is_blank, ruby_shellescape};
use super::vendor::{SecretsError, VendorEnv};

/// What `fetch` prints to stdout (exit 0) when the adapter needs `--account` and none is given.
pub const ACCOUNT_REQUIRED: &str = "No value provided for required options '--account'";

/// `kamal secrets fetch`: the JSON of the secrets (`None` when `--account` is required and
/// missing or blank).
pub fn fetch_json(adapter: &str, req: &FetchRequest, at: VendorEnv) -> Result<Option<String>, SecretsError> {
    let adapter = Adapter::lookup(adapter)?;
    if adapter.requires_account() && req.account.as_deref().is_none_or(is_blank) {
        return Ok(None);
    }
    let fetched = adapter.fetch(req, at)?;
    Ok(Some(dump_object(fetched.iter())))
}

/// `--inline`: the JSON shell-escaped (to be split back by the next `$(kamal secrets extract …)`).
pub fn inline_json(json: &str) -> String {
    ruby_shellescape(json)
}

/// `kamal secrets extract NAME JSON`: the value of `NAME`, else of the first key ending in
/// `/NAME`. `null` and `false` count as absent for the exact name.
pub fn extract(name: &str, json: &str) -> Result<Json, SecretsError> {
    let parsed = Json::parse(json).map_err(|pos| SecretsError::Usage(format!("secrets extract: the secrets are not JSON ({pos})")))?;
    let Json::Obj(map) = parsed else {
        return Err(SecretsError::Usage("secrets extract: the secrets are not a JSON object".into()));
    };
    let exact = map.get(name).filter(|v| v.truthy());
    let suffix = format!("/{name}");
    let value = exact.or_else(|| map.iter().find(|(k, _)| k.ends_with(&suffix)).map(|(_, v)| v));
    match value {
        Some(v) if *v != Json::Null => Ok(v.clone()),
        _ => Err(SecretsError::Usage(format!("secret {name} is not in the fetched secrets"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extract_prefers_the_exact_name_then_a_path_suffix() {
        let j = r#"{"v/app/A":"1","A2":"x","B":null,"c/B":"2","C":false,"d/C":"3","E":0}"#;
        assert_eq!(extract("A", j).unwrap(), Json::Str("1".into()));
        assert_eq!(extract("B", j).unwrap(), Json::Str("2".into()));
        assert_eq!(extract("C", j).unwrap(), Json::Str("3".into()));
        assert_eq!(extract("E", j).unwrap(), Json::Int(0));
        assert_eq!(extract("Z", j).unwrap_err().to_string(), "secret Z is not in the fetched secrets");
        assert!(extract("A", "[1]").is_err());
        assert!(extract("A", "nope").is_err());
    }

    #[test]
    fn extract_of_a_value_found_as_null_is_not_found() {
        assert!(extract("A", r#"{"x/A":null}"#).is_err());
    }
}
