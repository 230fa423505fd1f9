//! `kdeck secrets fetch|extract|print` against real `kamal secrets …` (Kamal 2.11 must be on
//! PATH, as for the other real-kamal tests): the password managers' CLIs are stand-ins
//! (tests/support/vendors.rs) answering in the vendors' formats, the same for both tools, and
//! each invocation must give the same stdout, exit status and vendor calls (argv, in order).

use crate::support::vendors::{answer, answer_argv, assert_same_as_kamal, case, failure, Scenario};

fn op_field(vault: &str, item: &str, field: &str, value: &str) -> String {
    let label = field.rsplit('/').next().unwrap_or(field);
    format!(r#"{{"id":"x{label}","type":"CONCEALED","label":"{label}","value":"{value}","reference":"op://{vault}/{item}/{field}"}}"#)
}

#[test]
fn one_password_fetch_matches_real_kamal() {
    let two =
        format!("[{},{}]", op_field("myvault", "myitem", "section/SECRET1", "S3CRET-1"), op_field("myvault", "myitem", "section2/SECRET3", r#"S3CRET \"3\""#));
    let signed_in = |item_answer: &str| {
        Scenario::new(&["op"], vec![answer("op --version", "2.30.0\n"), answer("op account get", "{}"), answer("op item get", item_answer)])
    };
    let all = format!(
        r#"{{"id":"i","title":"myitem","fields":[{},{}]}}"#,
        op_field("myvault", "myitem", "username", "me"),
        op_field("myvault", "myitem", "password", "S3CRET-pw")
    );
    let signin = Scenario::new(
        &["op"],
        vec![
            answer("op --version", "2.30.0\n"),
            failure("op account get", 1, "[ERROR] account is not signed in\n"),
            answer("op signin", "S3CRET-TOKEN\n"),
            answer("op item get", &op_field("v", "i", "password", "S3CRET-pw")),
        ],
    );
    let cases = [
        case(
            "two fields of one item, op:// form",
            &signed_in(&two),
            &["fetch", "-a", "1password", "--account", "acct", "op://myvault/myitem/section/SECRET1", "op://myvault/myitem/section2/SECRET3"],
        ),
        case(
            "--from vault/item and field paths",
            &signed_in(&two),
            &["fetch", "--adapter", "1password", "--account", "acct", "--from", "op://myvault/myitem", "section/SECRET1", "section2/SECRET3"],
        ),
        case(
            "vault/item alone reads the password",
            &signed_in(&op_field("v", "i", "password", "S3CRET-pw")),
            &["fetch", "-a", "1password", "--account", "acct", "v/i"],
        ),
        case(
            "two vaults, two items (alias 1Password)",
            &signed_in(&op_field("v", "i", "f", "S3CRET-f")),
            &["fetch", "-a", "1Password", "--account", "acct", "v/i/f", "w/j/f"],
        ),
        case(
            "no names: every field of --from's item",
            &signed_in(&all),
            &["fetch", "-a", "one_password", "--account", "acct", "--from", "op://myvault/myitem"],
        ),
        case("not signed in: signin, then the session is passed on", &signin, &["fetch", "-a", "1password", "--account", "acct", "v/i"]),
        case(
            "signin refused",
            &Scenario::new(
                &["op"],
                vec![answer("op --version", ""), failure("op account get", 1, ""), failure("op signin", 1, "[ERROR] authorization prompt dismissed\n")],
            ),
            &["fetch", "-a", "1password", "--account", "acct", "v/i"],
        )
        .fails_naming("op signin"),
        case(
            "missing item",
            &Scenario::new(
                &["op"],
                vec![answer("op --version", ""), answer("op account get", "{}"), failure("op item get", 1, "[ERROR] \"nope\" isn't an item\n")],
            ),
            &["fetch", "-a", "1password", "--account", "acct", "v/nope/f"],
        )
        .fails_naming("isn't an item"),
        case("op not installed", &Scenario::new(&[], vec![]), &["fetch", "-a", "1password", "--account", "acct", "v/i"])
            .fails_naming("`op` CLI is not installed"),
        case("no --account: Kamal's notice, exit 0", &signed_in("{}"), &["fetch", "-a", "1password", "v/i"]),
    ];
    assert_same_as_kamal(&cases, None);
}

#[test]
fn bitwarden_fetch_matches_real_kamal() {
    let item = r#"{"object":"item","name":"myitem","login":{"username":"me","password":"S3CRET-pw"},"fields":[{"name":"f1","value":"S3CRET-f1","type":1},{"name":"f2","value":"S3CRET-f2","type":0}]}"#;
    let note = r#"{"object":"item","name":"note","type":2,"fields":[{"name":"A","value":"S3CRET-a"},{"name":"B","value":"S3CRET-b"}]}"#;
    let base = |status: Vec<crate::support::vendors::Rule>| {
        let mut r = vec![answer("bw --version", "2024.9.0\n")];
        r.extend(status);
        r.extend([
            answer("bw sync", "Syncing complete."),
            answer("bw get item myitem", item),
            answer("bw get item note", note),
            failure("bw get item", 1, "Not found.\n"),
        ]);
        Scenario::new(&["bw"], r)
    };
    let unlocked = base(vec![answer("bw status", r#"{"status":"unlocked"}"#)]);
    let locked = base(vec![
        answer("bw status", r#"{"status":"locked"}"#).once(),
        answer("bw unlock --raw", "S3CRET-SESSION"),
        answer("bw status", r#"{"status":"unlocked"}"#),
    ]);
    let logged_out = base(vec![
        answer("bw status", r#"{"status":"unauthenticated"}"#).once(),
        answer("bw login", "You are logged in!"),
        answer("bw status", r#"{"status":"locked"}"#).once(),
        answer("bw unlock --raw", "S3CRET-SESSION\n"),
        answer("bw status", r#"{"status":"unlocked"}"#),
    ]);
    let stays_locked = base(vec![answer("bw status", r#"{"status":"locked"}"#), answer("bw unlock --raw", "")]);
    let cases = [
        case("an item's login password", &unlocked, &["fetch", "-a", "bitwarden", "--account", "me@example.com", "myitem"]),
        case("named fields with --from", &unlocked, &["fetch", "-a", "bitwarden", "--account", "me@example.com", "--from", "myitem", "f2", "f1"]),
        case("no login: every field; two items", &unlocked, &["fetch", "-a", "bitwarden", "--account", "me@example.com", "note", "myitem/f1"]),
        case("locked: unlock and BW_SESSION on every later call", &locked, &["fetch", "-a", "bitwarden", "--account", "me@example.com", "myitem/f1"]),
        case("logged out: login, unlock", &logged_out, &["fetch", "-a", "bitwarden", "--account", "me@example.com", "myitem"]),
        case("missing item", &unlocked, &["fetch", "-a", "bitwarden", "--account", "me@example.com", "nope"]).fails_naming("Not found."),
        case("missing field", &unlocked, &["fetch", "-a", "bitwarden", "--account", "me@example.com", "myitem/nope"]).fails_naming("nope"),
        case("cannot unlock", &stays_locked, &["fetch", "-a", "bitwarden", "--account", "me@example.com", "myitem"]).fails_naming("unlock"),
    ];
    assert_same_as_kamal(&cases, None);
}

#[test]
fn bitwarden_secrets_manager_fetch_matches_real_kamal() {
    let secret = |id: &str, key: &str| {
        format!(r#"{{"object":"secret","id":"{id}","organizationId":"o","projectId":"p","key":"{key}","value":"S3CRET-{key}","note":""}}"#)
    };
    let list = format!("[{},{}]", secret("u1", "KEY1"), secret("u2", "KEY2"));
    let s = Scenario::new(
        &["bws"],
        vec![
            answer("bws --version", "bws 1.0.0\n"),
            answer("bws project list", "[]"),
            answer("bws secret get u1", &secret("u1", "KEY1")),
            answer("bws secret get u2", &secret("u2", "KEY2")),
            failure("bws secret get", 1, "Error: Resource not found.\n"),
            answer("bws secret list", &list),
        ],
    );
    let no_token = Scenario::new(&["bws"], vec![answer("bws --version", ""), failure("bws project list", 1, "Error: Missing access token\n")]);
    let cases = [
        case("two ids", &s, &["fetch", "-a", "bitwarden-sm", "u1", "u2"]),
        case("all", &s, &["fetch", "-a", "bitwarden-sm", "all"]),
        case("PROJECT/all through --from", &s, &["fetch", "-a", "bitwarden_secrets_manager", "--from", "p-1", "all"]),
        case("missing id", &s, &["fetch", "-a", "bitwarden-sm", "u1", "nope"]).fails_naming("Resource not found"),
        case("no access token", &no_token, &["fetch", "-a", "bitwarden-sm", "u1"]).fails_naming("Missing access token"),
    ];
    assert_same_as_kamal(&cases, None);
}

#[test]
fn lastpass_fetch_matches_real_kamal() {
    let show = r#"[{"id":"1","name":"item","fullname":"Shared-app/item","username":"me","password":"S3CRET-1","last_modified_gmt":"0","last_touch":"0","group":"Shared-app","url":"","note":""},{"id":"2","name":"other","fullname":"other","username":"","password":"S3CRET-2","group":"","url":"","note":""}]"#;
    let logged_in = Scenario::new(
        &["lpass"],
        vec![answer("lpass --version", "LastPass CLI v1.6.1\n"), answer("lpass status", "Logged in as me@example.com.\n"), answer("lpass show", show)],
    );
    let logged_out = Scenario::new(
        &["lpass"],
        vec![
            answer("lpass --version", ""),
            failure("lpass status", 1, "").once(),
            answer("lpass login", "Success: Logged in as me@example.com.\n"),
            answer("lpass show", show),
        ],
    );
    let cases = [
        case("two entries", &logged_in, &["fetch", "-a", "lastpass", "--account", "me@example.com", "Shared-app/item", "other"]),
        case("--from a folder (alias LastPass)", &logged_in, &["fetch", "-a", "LastPass", "--account", "me@example.com", "--from", "Shared-app", "item"]),
        case("not logged in: login", &logged_out, &["fetch", "-a", "last_pass", "--account", "me@example.com", "other"]),
        case("an entry not found", &logged_in, &["fetch", "-a", "lastpass", "--account", "me@example.com", "other", "missing"]).fails_naming("missing"),
        case(
            "login refused",
            &Scenario::new(
                &["lpass"],
                vec![
                    answer("lpass --version", ""),
                    answer("lpass status", "Not logged in.\n"),
                    failure("lpass login", 1, "Error: Failed to enter correct password.\n"),
                ],
            ),
            &["fetch", "-a", "lastpass", "--account", "me@example.com", "other"],
        )
        .fails_naming("lpass login"),
    ];
    assert_same_as_kamal(&cases, None);
}

#[test]
fn aws_secrets_manager_fetch_matches_real_kamal() {
    let batch = r#"{"SecretValues":[{"ARN":"arn:1","Name":"app/db","VersionId":"v","SecretString":"{\"user\":\"S3CRET-u\",\"port\":5432,\"ratio\":0.5,\"on\":true}","VersionStages":["AWSCURRENT"],"CreatedDate":"2024-01-01T00:00:00Z"},{"ARN":"arn:2","Name":"app/plain","SecretString":"S3CRET plain text"}],"Errors":[]}"#;
    let errors = r#"{"SecretValues":[],"Errors":[{"SecretId":"app/nope","ErrorCode":"ResourceNotFoundException","Message":"Secrets Manager can't find the specified secret."}]}"#;
    let ok = Scenario::new(&["aws"], vec![answer("aws --version", "aws-cli/2.17.0\n"), answer("aws secretsmanager batch-get-secret-value", batch)]);
    let cases = [
        case("JSON and plain secrets", &ok, &["fetch", "-a", "aws_secrets_manager", "app/db", "app/plain"]),
        case("--from and --account as the profile", &ok, &["fetch", "-a", "aws_secrets_manager", "--from", "app", "--account", "prod", "db", "plain"]),
        case(
            "a secret not found",
            &Scenario::new(&["aws"], vec![answer("aws --version", ""), answer("aws secretsmanager", errors)]),
            &["fetch", "-a", "aws_secrets_manager", "app/nope"],
        )
        .fails_naming("can't find the specified secret"),
        case(
            "no credentials",
            &Scenario::new(&["aws"], vec![answer("aws --version", ""), failure("aws secretsmanager", 253, "Unable to locate credentials.\n")]),
            &["fetch", "-a", "aws_secrets_manager", "app/db"],
        )
        .fails_naming("Unable to locate credentials"),
    ];
    assert_same_as_kamal(&cases, None);
}

#[test]
fn gcp_secret_manager_fetch_matches_real_kamal() {
    // base64 of "S3CRET-value" and of "S3CRET: two\nlines"
    let v1 = r#"{"name":"projects/1/secrets/a/versions/1","payload":{"data":"UzNDUkVULXZhbHVl","dataCrc32c":"1"}}"#;
    let v2 = r#"{"name":"projects/1/secrets/b/versions/2","payload":{"data":"UzNDUkVUOiB0d28KbGluZXM=","dataCrc32c":"2"}}"#;
    let accounts = r#"[{"account":"me@example.com","status":"ACTIVE"}]"#;
    let rules = |login: Vec<crate::support::vendors::Rule>| {
        let mut r = vec![answer("gcloud --version", "Google Cloud SDK 490.0.0\n")];
        r.extend(login);
        r.extend([answer("gcloud secrets versions access latest", v1), answer("gcloud secrets versions access", v2)]);
        Scenario::new(&["gcloud"], r)
    };
    let signed_in = rules(vec![answer("gcloud auth list", accounts)]);
    let signed_out = rules(vec![answer("gcloud auth list", "[]\n").once(), answer("gcloud auth login", ""), answer("gcloud auth list", accounts)]);
    let cases = [
        case("default project, versions", &signed_in, &["fetch", "-a", "gcp", "--account", "default", "a", "proj/b/2"]),
        case(
            "user and impersonation, --from project",
            &signed_in,
            &["fetch", "-a", "gcp_secret_manager", "--account", "me@example.com|sa@p.iam.gserviceaccount.com", "--from", "proj", "a", "b/2"],
        ),
        case("not signed in: auth login", &signed_out, &["fetch", "-a", "gcp", "--account", "me@example.com", "a"]),
        case(
            "a version not readable",
            &Scenario::new(
                &["gcloud"],
                vec![
                    answer("gcloud --version", ""),
                    answer("gcloud auth list", accounts),
                    failure("gcloud secrets", 1, "ERROR: (gcloud.secrets.versions.access) NOT_FOUND\n"),
                ],
            ),
            &["fetch", "-a", "gcp", "--account", "default", "nope"],
        )
        .fails_naming("NOT_FOUND"),
    ];
    assert_same_as_kamal(&cases, None);
}

#[test]
fn doppler_fetch_matches_real_kamal() {
    let got = r#"{"DB_PASSWORD":{"computed":"S3CRET-db","note":"","raw":"S3CRET-db"},"API_KEY":{"computed":"S3CRET-api","note":"","raw":"${X}"}}"#;
    let ok = Scenario::new(&["doppler"], vec![answer("doppler --version", "v3.69.0\n"), answer("doppler me --json", "{}"), answer("doppler secrets get", got)]);
    let logged_out = Scenario::new(
        &["doppler"],
        vec![answer("doppler --version", ""), failure("doppler me", 1, ""), answer("doppler login -y", ""), answer("doppler secrets get", got)],
    );
    let cases = [
        case("--from project/config", &ok, &["fetch", "-a", "doppler", "--from", "my-project/prd", "DB_PASSWORD", "API_KEY"]),
        case("project/config/name without --from", &ok, &["fetch", "-a", "doppler", "my-project/prd/DB_PASSWORD"]),
        case("a service token names the project", &ok.clone().env("DOPPLER_TOKEN", "dp.st.prd.S3CRET"), &["fetch", "-a", "doppler", "DB_PASSWORD", "API_KEY"]),
        case("not logged in: login -y", &logged_out, &["fetch", "-a", "doppler", "--from", "p/c", "DB_PASSWORD"]),
        case("no project and config", &ok, &["fetch", "-a", "doppler", "DB_PASSWORD"]).fails_naming("--from PROJECT/CONFIG"),
        case(
            "a secret not found",
            &Scenario::new(
                &["doppler"],
                vec![
                    answer("doppler --version", ""),
                    answer("doppler me", ""),
                    failure("doppler secrets get", 1, "Doppler Error: Could not find requested secret: NOPE\n"),
                ],
            ),
            &["fetch", "-a", "doppler", "--from", "p/c", "NOPE"],
        )
        .fails_naming("Could not find requested secret"),
    ];
    assert_same_as_kamal(&cases, None);
}

#[test]
fn enpass_fetch_matches_real_kamal() {
    let show = r#"[{"category":"computer","label":"DB_PASSWORD","login":"","password":"S3CRET-db","title":"FooBar","type":"password"},{"category":"computer","label":"API","login":"","password":"S3CRET-api","title":"FooBar","type":"password"},{"category":"computer","label":"","login":"me","password":"S3CRET-other","title":"Other","type":"password"},{"category":"computer","label":"EMPTY","login":"","password":"","title":"FooBar","type":"password"}]"#;
    let ok = Scenario::new(&["enpass-cli"], vec![answer("enpass-cli version", "v1.6.0\n"), answer("enpass-cli -json", show)]);
    let dup = r#"[{"label":"A","password":"S3CRET-1","title":"T"},{"label":"A","password":"S3CRET-2","title":"T"}]"#;
    let cases = [
        case("named passwords of two items", &ok, &["fetch", "-a", "enpass", "--from", "/vaults/primary", "FooBar/DB_PASSWORD", "Other"]),
        case("every password of an item", &ok, &["fetch", "-a", "enpass", "--from", "/vaults/primary", "FooBar"]),
        case("a name that matches nothing is left out", &ok, &["fetch", "-a", "enpass", "--from", "/vaults/primary", "FooBar/API", "Nope"]),
        case(
            "vault not readable",
            &Scenario::new(
                &["enpass-cli"],
                vec![answer("enpass-cli version", ""), failure("enpass-cli -json", 1, "level=fatal msg=\"could not open vault\"\n")],
            ),
            &["fetch", "-a", "enpass", "--from", "/nope", "FooBar"],
        )
        .fails_naming("could not open vault"),
        case(
            "a password twice",
            &Scenario::new(&["enpass-cli"], vec![answer("enpass-cli version", ""), answer("enpass-cli -json", dup)]),
            &["fetch", "-a", "enpass", "--from", "/v", "T"],
        )
        .fails_naming("more than once"),
    ];
    assert_same_as_kamal(&cases, None);
}

#[test]
fn passbolt_fetch_matches_real_kamal() {
    let res = |names: &[&str]| {
        let items: Vec<String> = names
            .iter()
            .map(|n| format!(r#"{{"id":"r-{n}","folder_parent_id":"","name":"{n}","username":"","uri":"","password":"S3CRET-{n}","description":""}}"#))
            .collect();
        format!("[{}]", items.join(","))
    };
    let base = |resources: &str| {
        Scenario::new(
            &["passbolt"],
            vec![
                answer("passbolt --version", "passbolt version 0.3.2\n"),
                answer("passbolt verify", "Verification successful\n"),
                answer_argv(
                    &["passbolt", "list", "folders", "--filter", "Name == \"my-project\""],
                    r#"[{"id":"f1","folder_parent_id":"","name":"my-project"}]"#,
                ),
                answer("passbolt list folders", r#"[{"id":"f2","folder_parent_id":"f1","name":"sub"}]"#),
                answer("passbolt list resources", resources),
            ],
        )
    };
    let cases = [
        case("root-level names", &base(&res(&["DB_PASSWORD", "API_KEY"])), &["fetch", "-a", "passbolt", "DB_PASSWORD", "API_KEY"]),
        case("in a folder (--from)", &base(&res(&["DB_PASSWORD"])), &["fetch", "-a", "passbolt", "--from", "my-project", "DB_PASSWORD"]),
        case("in a subfolder, and one at the root", &base(&res(&["DB_PASSWORD", "TOP"])), &["fetch", "-a", "passbolt", "my-project/sub/DB_PASSWORD", "TOP"]),
        case("a name not found", &base(&res(&["DB_PASSWORD"])), &["fetch", "-a", "passbolt", "DB_PASSWORD", "NOPE"]).fails_naming("NOPE"),
        case(
            "not logged in",
            &Scenario::new(&["passbolt"], vec![answer("passbolt --version", ""), failure("passbolt verify", 1, "Error: Verifying: no server key\n")]),
            &["fetch", "-a", "passbolt", "X"],
        )
        .fails_naming("no server key"),
    ];
    assert_same_as_kamal(&cases, None);
}

#[test]
fn test_adapter_extract_and_usage_errors_match_real_kamal() {
    let none = Scenario::new(&[], vec![]);
    let fetched = r#"{"v/app/A":"1 a","B":null,"c/B":"two\nlines","N":5,"F":1.5e20,"L":[1,["x",null]],"H":{"k":1}}"#;
    let cases = [
        case("test adapter with --from and parentheses", &none, &["fetch", "-a", "test", "--account", "a", "--from", "v/app", "xLPARENyRPAREN", "é \"q\""]),
        case("test adapter, --inline prints nothing", &none, &["fetch", "-a", "Test", "--account", "a", "--inline", "K"]),
        case("test adapter without --account", &none, &["fetch", "-a", "test", "K"]),
        case("extract by suffix", &none, &["extract", "A", fetched]),
        case("extract: null falls back to the suffix", &none, &["extract", "B", fetched]),
        case("extract a number, a float, a list, a hash", &none, &["extract", "N", fetched]),
        case("extract a float", &none, &["extract", "F", fetched]),
        case("extract a list", &none, &["extract", "L", fetched]),
        case("extract a hash", &none, &["extract", "H", fetched]),
        case("extract --inline prints nothing", &none, &["extract", "--inline", "A", fetched]),
        case("extract a missing name", &none, &["extract", "Z", fetched]).fails_naming("Z"),
        case("extract from text that is not JSON", &none, &["extract", "Z", "S3CRET-not-json"]).fails_naming("not JSON"),
        case("unknown adapter", &none, &["fetch", "-a", "vault", "--account", "a", "K"]).fails_naming("Unknown secrets adapter: vault"),
    ];
    assert_same_as_kamal(&cases, None);
}

/// An app whose `.kamal/secrets*` read 1Password through `$(kamal secrets fetch …)` and
/// `$(kamal secrets extract …)`, with a `staging` destination.
fn app_with_inline_fetches(dir: &std::path::Path) {
    std::fs::create_dir_all(dir.join("config")).unwrap();
    std::fs::create_dir_all(dir.join(".kamal")).unwrap();
    let deploy = "service: app\nimage: app\nservers:\n  - 10.0.0.1\nregistry:\n  username: u\n  password:\n    - KAMAL_REGISTRY_PASSWORD\nbuilder:\n  arch: amd64\nenv:\n  secret:\n    - SECRET1\n";
    std::fs::write(dir.join("config/deploy.yml"), deploy).unwrap();
    std::fs::write(dir.join("config/deploy.staging.yml"), "servers:\n  - 10.0.0.2\n").unwrap();
    std::fs::write(dir.join(".kamal/secrets-common"), "KAMAL_REGISTRY_PASSWORD=plain-pw\nCOMMON=$(echo from-shell)\n").unwrap();
    let main = "SECRETS=$(kamal secrets fetch --adapter 1password --account acct --from op://myvault/myitem section/SECRET1 section2/SECRET3)\n\
                SECRET1=$(kamal secrets extract SECRET1 $SECRETS)\n\
                SECRET3=$(kamal secrets extract myvault/myitem/section2/SECRET3 ${SECRETS})\n";
    std::fs::write(dir.join(".kamal/secrets"), main).unwrap();
    std::fs::write(
        dir.join(".kamal/secrets.staging"),
        "ALL=$(kamal secrets fetch -a 1password --account acct --from op://stage/item)\nUSER=$(kamal secrets extract username $ALL)\nPW=$(kamal secrets extract stage/item $ALL)\n",
    )
    .unwrap();
}

#[test]
fn secrets_print_resolves_inline_fetches_like_real_kamal() {
    let dir = tempfile::tempdir().unwrap();
    app_with_inline_fetches(dir.path());
    let two =
        format!("[{},{}]", op_field("myvault", "myitem", "section/SECRET1", "S3CRET-1"), op_field("myvault", "myitem", "section2/SECRET3", "S3CRET 3 'q'"));
    let all = format!(r#"{{"id":"i","fields":[{},{}]}}"#, op_field("stage", "item", "username", "me"), op_field("stage", "item", "password", "S3CRET-pw"));
    let op = Scenario::new(
        &["op"],
        vec![
            answer("op --version", ""),
            failure("op account get", 1, "").once(),
            answer("op account get", "{}"),
            answer("op signin", "S3CRET-TOKEN\n"),
            answer("op item get myitem", &two),
            answer("op item get item", &all),
        ],
    );
    let failing =
        Scenario::new(&["op"], vec![answer("op --version", ""), answer("op account get", "{}"), failure("op item get", 1, "[ERROR] vault not found\n")]);
    let cases = [
        case("print, signing in on the way", &op, &["print"]),
        case("print -d staging: every field of an item", &op, &["print", "-d", "staging"]),
        case("print when the vault fails", &failing, &["print"]).fails_naming("vault not found"),
    ];
    assert_same_as_kamal(&cases, Some(dir.path()));
}

#[test]
fn config_show_secrets_reads_the_same_inline_fetches() {
    let dir = tempfile::tempdir().unwrap();
    app_with_inline_fetches(dir.path());
    let op = Scenario::new(
        &["op"],
        vec![
            answer("op --version", ""),
            answer("op account get", "{}"),
            answer(
                "op item get",
                &format!("[{},{}]", op_field("myvault", "myitem", "section/SECRET1", "S3CRET-1"), op_field("myvault", "myitem", "section2/SECRET3", "x")),
            ),
        ],
    );
    let run = |args: &[&str]| {
        let bin = tempfile::tempdir().unwrap();
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_kdeck"));
        c.arg("--log-file").arg(bin.path().join("kdeck.log")).args(args).current_dir(dir.path());
        crate::support::vendors::with_stand_ins(&mut c, &op, bin.path());
        c.output().unwrap()
    };
    let shown = run(&["config", "--resolved", "--show-secrets", "--version", "v1"]);
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.status.success() && text.contains("S3CRET-1"), "{text}{}", String::from_utf8_lossy(&shown.stderr));
    let hidden = run(&["config", "--resolved", "--version", "v1"]);
    let text = String::from_utf8_lossy(&hidden.stdout);
    assert!(hidden.status.success() && !text.contains("S3CRET"), "without --show-secrets no value is shown: {text}");
}
