//! The password-manager adapters of `kamal secrets fetch`, one file each: each runs its
//! vendor's CLI with the arguments Kamal 2.11's adapter uses, in the same order (the
//! `--version` check, the sign-in check and sign-in, then the reads), and reads the answer as
//! Kamal does. The result is a Ruby-ordered hash of secret name → JSON value.

mod aws;
mod bitwarden;
mod bitwarden_sm;
mod doppler;
mod enpass;
mod gcp;
mod lastpass;
mod one_password;
mod passbolt;

use super::json::Json;
use super::ruby::{camelize, is_blank};
use super::vendor::{SecretsError, Vendor, VendorEnv};
use indexmap::IndexMap;

/// What the adapters return: secret name → value, in Ruby hash order.
pub type Fetched = IndexMap<String, Json>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapter {
    OnePassword,
    Bitwarden,
    BitwardenSecretsManager,
    LastPass,
    AwsSecretsManager,
    GcpSecretManager,
    Doppler,
    Enpass,
    Passbolt,
    Test,
}

const ALL: [(Adapter, &str, &str); 10] = [
    (Adapter::OnePassword, "OnePassword", "1password"),
    (Adapter::Bitwarden, "Bitwarden", "bitwarden"),
    (Adapter::BitwardenSecretsManager, "BitwardenSecretsManager", "bitwarden-sm"),
    (Adapter::LastPass, "LastPass", "lastpass"),
    (Adapter::AwsSecretsManager, "AwsSecretsManager", "aws_secrets_manager"),
    (Adapter::GcpSecretManager, "GcpSecretManager", "gcp_secret_manager"),
    (Adapter::Doppler, "Doppler", "doppler"),
    (Adapter::Enpass, "Enpass", "enpass"),
    (Adapter::Passbolt, "Passbolt", "passbolt"),
    (Adapter::Test, "Test", "test"),
];

/// What one `fetch` asks for.
#[derive(Debug, Clone, Default)]
pub struct FetchRequest {
    pub secrets: Vec<String>,
    pub account: Option<String>,
    pub from: Option<String>,
}

impl Adapter {
    /// Kamal's adapter lookup: four aliases (any case), else the name camelized must be an
    /// adapter class (`one_password`, `LastPass`, `aws_secrets_manager`, `Test`, …).
    pub fn lookup(name: &str) -> Result<Adapter, SecretsError> {
        let lower = name.to_lowercase();
        let name = match lower.as_str() {
            "1password" => "one_password",
            "lastpass" => "last_pass",
            "gcp" => "gcp_secret_manager",
            "bitwarden-sm" => "bitwarden_secrets_manager",
            _ => name,
        };
        let class = camelize(name);
        ALL.iter().find(|(_, c, _)| *c == class).map(|(a, _, _)| *a).ok_or_else(|| SecretsError::UnknownAdapter(name.to_string()))
    }

    /// The name used in messages.
    pub fn name(self) -> &'static str {
        ALL.iter().find(|(a, _, _)| *a == self).map_or("secrets", |(_, _, n)| n)
    }

    /// Whether `--account` must be given (Kamal prints a notice and exits 0 without it).
    pub fn requires_account(self) -> bool {
        matches!(self, Adapter::OnePassword | Adapter::Bitwarden | Adapter::LastPass | Adapter::GcpSecretManager | Adapter::Test)
    }

    /// Check the CLI, sign in where the vault needs it, read the secrets.
    pub fn fetch(self, req: &FetchRequest, at: VendorEnv) -> Result<Fetched, SecretsError> {
        let v = Vendor { adapter: self.name(), at };
        let account = req.account.as_deref().filter(|a| !is_blank(a));
        if self.requires_account() && account.is_none() {
            return Err(SecretsError::Usage(format!("{}: --account is required", self.name())));
        }
        let account = account.unwrap_or_default();
        let secrets = &req.secrets;
        let from = req.from.as_deref();
        match self {
            Adapter::OnePassword => one_password::fetch(&v, secrets, from, account),
            Adapter::Bitwarden => bitwarden::fetch(&v, secrets, from, account),
            Adapter::BitwardenSecretsManager => bitwarden_sm::fetch(&v, secrets, from),
            Adapter::LastPass => lastpass::fetch(&v, secrets, from, account),
            Adapter::AwsSecretsManager => aws::fetch(&v, secrets, from, req.account.as_deref()),
            Adapter::GcpSecretManager => gcp::fetch(&v, secrets, from, account),
            Adapter::Doppler => doppler::fetch(&v, secrets, from),
            Adapter::Enpass => enpass::fetch(&v, secrets, from),
            Adapter::Passbolt => passbolt::fetch(&v, secrets, from),
            Adapter::Test => Ok(test_fetch(secrets, from)),
        }
    }
}

/// Kamal's `prefixed_secrets`: `from/secret` when `--from` is given (even empty).
pub fn prefixed(secrets: &[String], from: Option<&str>) -> Vec<String> {
    secrets.iter().map(|s| from.map_or_else(|| s.clone(), |f| format!("{f}/{s}"))).collect()
}

/// The offline `test` adapter: each name's value is the name reversed (`LPAREN`/`RPAREN`
/// become parentheses first).
fn test_fetch(secrets: &[String], from: Option<&str>) -> Fetched {
    prefixed(secrets, from)
        .into_iter()
        .map(|k| {
            let v: String = k.replace("LPAREN", "(").replace("RPAREN", ")").chars().rev().collect();
            (k, Json::Str(v))
        })
        .collect()
}

/// The array of objects a vendor answered, or an error naming what was expected.
fn objects<'j>(v: &Vendor, cmd: &super::vendor::Cmd, what: &str, json: &'j Json) -> Result<&'j [Json], SecretsError> {
    match json {
        Json::Arr(a) => Ok(a),
        _ => Err(v.answer(cmd, what, "a JSON array")),
    }
}

/// `hash[key]` as a string, `""` when absent (Ruby's interpolation of nil).
fn field_str(j: &Json, key: &str) -> String {
    j.get(key).map(Json::to_s).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_accepts_kamal_names_and_aliases() {
        for (name, a) in [
            ("1password", Adapter::OnePassword),
            ("1Password", Adapter::OnePassword),
            ("one_password", Adapter::OnePassword),
            ("OnePassword", Adapter::OnePassword),
            ("LASTPASS", Adapter::LastPass),
            ("last_pass", Adapter::LastPass),
            ("gcp", Adapter::GcpSecretManager),
            ("GCP", Adapter::GcpSecretManager),
            ("bitwarden-sm", Adapter::BitwardenSecretsManager),
            ("bitwarden_secrets_manager", Adapter::BitwardenSecretsManager),
            ("aws_secrets_manager", Adapter::AwsSecretsManager),
            ("Test", Adapter::Test),
        ] {
            assert_eq!(Adapter::lookup(name).ok(), Some(a), "{name}");
        }
        for bad in ["TEST", "nope", "", "aws", "base", "lastpass_x"] {
            assert!(Adapter::lookup(bad).is_err(), "{bad}");
        }
        assert_eq!(Adapter::lookup("nope").unwrap_err().to_string(), "Unknown secrets adapter: nope");
    }

    #[test]
    fn test_adapter_reverses_prefixed_names() {
        let got = test_fetch(&["aLPARENb".into(), "c".into()], Some(""));
        assert_eq!(got.into_iter().map(|(k, v)| format!("{k}={}", v.to_s())).collect::<Vec<_>>(), vec!["/aLPARENb=b(a/", "/c=c/"]);
    }
}
