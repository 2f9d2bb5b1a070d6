//! The `nomad-spec/secrets` check and the Vault client against the fake Vault: missing and
//! unreadable paths with their lines, keys against the names a secret declares in its custom
//! metadata, KV v1 where v2 was assumed, an expired token, no Vault, and — in every test — not
//! one request for secret data.

mod common;

use std::collections::BTreeMap;

use fakes::vault::{FakeVault, MountState, SecretState, TokenState, VaultState, SECRET_VALUE};
use nomad_spec::checks::CheckStatus;
use nomad_spec::infra::vault::{check_secrets, suggest_secrets, SecretListing, VaultClient};
use nomad_spec::infra::vault::{KvMount, VaultConventions, KEYS_METADATA};
use nomad_spec::jobspec::Severity;
use nomad_spec::settings::Settings;

const TOKEN: &str = "s.good";

fn state() -> VaultState {
    let secret = |keys: &[&str]| SecretState {
        keys: keys.iter().map(|k| k.to_string()).collect(),
        current_version: 2,
        deleted: false,
    };
    let mut state = VaultState::default();
    state.mounts.insert("kv/".into(), MountState { version: 2 });
    state.mounts.insert("legacy/".into(), MountState { version: 1 });
    state.secrets.insert("kv/shop/db".into(), secret(&["password", "user"]));
    state.secrets.insert("kv/shop/redis".into(), secret(&["password"]));
    state.secrets.insert("kv/billing/api".into(), secret(&["token"]));
    state.secrets.insert("legacy/shop/smtp".into(), secret(&["password"]));
    state.tokens.insert(
        TOKEN.into(),
        TokenState {
            policies: vec!["shop".into()],
            ttl: 3600,
            expired: false,
            read: vec!["kv/data/shop/*".into(), "legacy/*".into()],
        },
    );
    state.tokens.insert("s.expired".into(), TokenState { expired: true, ..TokenState::default() });
    state
}

fn client(fake: &FakeVault, token: &str) -> VaultClient {
    let env: BTreeMap<String, String> =
        [("VAULT_ADDR".to_string(), fake.url()), ("VAULT_TOKEN".to_string(), token.to_string())]
            .into_iter()
            .collect();
    match VaultClient::configured(&Settings::from_vars(&env)) {
        Ok(Some(client)) => client,
        other => panic!("a client for the fake: {:?}", other.err()),
    }
}

fn job(template: &str) -> String {
    format!(
        r#"job "shop" {{
  group "web" {{
    task "web" {{
      driver = "docker"
      config {{
        image = "shop:1"
      }}
      template {{
        data        = <<EOT
{template}
EOT
        destination = "secrets/app.env"
        env         = true
      }}
    }}
  }}
}}
"#
    )
}

fn lines(result: &nomad_spec::checks::CheckResult) -> String {
    result.annotations.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
}

fn assert_no_secret_output(fake: &FakeVault, result: &nomad_spec::checks::CheckResult) {
    assert_eq!(fake.secret_reads(), 0, "secret data requested: {:?}", fake.secret_read_paths());
    let text = serde_json::to_string(result).unwrap_or_default();
    assert!(!text.contains(SECRET_VALUE) && !text.contains(TOKEN), "{text}");
}

#[tokio::test]
async fn a_readable_existing_secret_passes_with_keys_marked_unverifiable() {
    let fake = FakeVault::start(state()).unwrap();
    let source = job(
        "{{ with secret \"kv/data/shop/db\" }}\nDB_PASSWORD={{ .Data.data.password }}\n{{ end }}",
    );
    let result = check_secrets(&source, "shop.nomad.hcl", Some(&client(&fake, TOKEN))).await;
    assert_eq!(result.status, CheckStatus::Success, "{}\n{}", result.summary, lines(&result));
    insta::assert_snapshot!(lines(&result), @"shop.nomad.hcl:11:16: warning: key `password` of kv/data/shop/db is not verifiable without reading the secret, and nomad-spec never reads secret values; to make it verifiable, list the secret's keys in its custom metadata: `vault kv metadata patch -custom-metadata=nomad-spec/keys=password -mount=kv shop/db`");
    assert_no_secret_output(&fake, &result);
}

/// `state()` with `kv/shop/db` declaring its keys in its custom metadata as `list`.
fn declaring(entry: &str, list: &str) -> VaultState {
    let mut state = state();
    let custom = [(entry.to_string(), list.to_string())].into_iter().collect();
    state.custom_metadata.insert("kv/shop/db".into(), custom);
    state
}

#[tokio::test]
async fn a_key_the_secret_does_not_declare_is_an_error_on_its_line() {
    let fake = FakeVault::start(declaring(KEYS_METADATA, "user,pass")).unwrap();
    let source = job("{{ with secret \"kv/data/shop/db\" }}\nDB_USER={{ .Data.data.user }}\n\
                      DB_PASSWORD={{ .Data.data.password }}\n{{ end }}");
    let result = check_secrets(&source, "shop.nomad.hcl", Some(&client(&fake, TOKEN))).await;
    assert_eq!(result.status, CheckStatus::Failure, "{}", lines(&result));
    insta::assert_snapshot!(lines(&result), @"shop.nomad.hcl:12:16: error: key `password` is not in kv/data/shop/db (its metadata declares: user, pass); did you mean `pass`?");
    assert_no_secret_output(&fake, &result);
}

#[tokio::test]
async fn declared_keys_that_are_read_pass_without_a_finding() {
    // Blanks around names and empty items are how people type lists; both are ignored.
    let fake = FakeVault::start(declaring(KEYS_METADATA, " user , password,, ")).unwrap();
    let source = job("{{ with secret \"kv/data/shop/db\" }}\nP={{ .Data.data.password }}\n\
                      U={{ index .Data.data \"user\" }}\n{{ end }}");
    let result = check_secrets(&source, "shop.nomad.hcl", Some(&client(&fake, TOKEN))).await;
    assert_eq!(result.status, CheckStatus::Success, "{}", lines(&result));
    assert_eq!(lines(&result), "", "no finding when every key read is declared");
    assert_no_secret_output(&fake, &result);
}

#[tokio::test]
async fn custom_metadata_under_another_name_is_not_a_declaration() {
    // A bare `keys` entry may mean anything to the team that wrote it: nomad-spec reads only
    // its own entry, so this stays a warning and never becomes an error.
    let fake = FakeVault::start(declaring("keys", "user")).unwrap();
    let source = job("{{ with secret \"kv/data/shop/db\" }}{{ .Data.data.password }}{{ end }}");
    let result = check_secrets(&source, "shop.nomad.hcl", Some(&client(&fake, TOKEN))).await;
    assert_eq!(result.status, CheckStatus::Success, "{}", lines(&result));
    assert!(
        lines(&result)
            .contains("10:39: warning: key `password` of kv/data/shop/db is not verifiable"),
        "{}",
        lines(&result)
    );
    assert_no_secret_output(&fake, &result);
}

#[tokio::test]
async fn keys_on_kv_v1_are_unverifiable_and_say_why() {
    let fake = FakeVault::start(state()).unwrap();
    let source = job("{{ with secret \"legacy/shop/smtp\" }}{{ .Data.password }}{{ end }}");
    let result = check_secrets(&source, "shop.nomad.hcl", Some(&client(&fake, TOKEN))).await;
    assert_eq!(result.status, CheckStatus::Success, "{}", lines(&result));
    insta::assert_snapshot!(lines(&result), @"shop.nomad.hcl:10:40: warning: key `password` of legacy/shop/smtp is not verifiable without reading the secret, and nomad-spec never reads secret values; legacy/ is a KV v1 mount, which keeps no metadata; on KV v2 a secret can declare its keys in its custom metadata (`nomad-spec/keys`)");
    assert_no_secret_output(&fake, &result);
}

#[tokio::test]
async fn the_client_reads_custom_metadata_in_vaults_shape() {
    let fake = FakeVault::start(declaring(KEYS_METADATA, "user,pass")).unwrap();
    let vault = client(&fake, TOKEN);
    let mount = KvMount { path: "kv/".into(), version: 2 };
    let declared = vault.metadata(&mount, "shop/db").await.unwrap().unwrap();
    assert_eq!(
        declared.custom_metadata,
        [(KEYS_METADATA.to_string(), "user,pass".to_string())].into_iter().collect()
    );
    // A secret nobody declared anything on: Vault sends `null`, read as empty.
    let plain = vault.metadata(&mount, "shop/redis").await.unwrap().unwrap();
    assert!(plain.custom_metadata.is_empty(), "{plain:?}");
    assert_eq!(fake.secret_reads(), 0, "{:?}", fake.secret_read_paths());
}

#[tokio::test]
async fn a_missing_path_and_an_unreadable_path_are_reported_on_their_lines() {
    let fake = FakeVault::start(state()).unwrap();
    let source = job("{{ with secret \"kv/data/shop/nope\" }}\nA={{ .Data.data.a }}\n{{ end }}\n\
                      {{ with secret \"kv/data/billing/api\" }}\nB={{ .Data.data.token }}\n{{ end }}");
    let result = check_secrets(&source, "shop.nomad.hcl", Some(&client(&fake, TOKEN))).await;
    assert_eq!(result.status, CheckStatus::Failure);
    let errors: Vec<String> = result
        .annotations
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.to_string())
        .collect();
    insta::assert_snapshot!(errors.join("\n"), @r"
    shop.nomad.hcl:10:17: error: secret kv/data/shop/nope does not exist in Vault
    shop.nomad.hcl:13:17: error: the Vault token cannot read kv/data/billing/api (its capabilities there: deny)
    ");
    assert_no_secret_output(&fake, &result);
}

#[tokio::test]
async fn kv_v1_where_v2_was_assumed_gets_the_corrected_path() {
    let fake = FakeVault::start(state()).unwrap();
    let source =
        job("{{ with secret \"legacy/data/shop/smtp\" }}\nP={{ .Data.data.password }}\n{{ end }}");
    let result = check_secrets(&source, "shop.nomad.hcl", Some(&client(&fake, TOKEN))).await;
    assert_eq!(result.status, CheckStatus::Failure);
    let text = lines(&result);
    assert!(text.contains("10:17: error: legacy/data/shop/smtp is a KV v2 path, but legacy/ is a KV v1 mount: use `legacy/shop/smtp`"), "{text}");
    assert!(text.contains("keys are under `.Data` (`.Data.KEY`)"), "{text}");
    assert!(!text.contains("does not exist"), "the corrected path exists: {text}");
    assert_no_secret_output(&fake, &result);
}

#[tokio::test]
async fn a_v1_path_on_a_v2_mount_is_an_error_with_the_data_path() {
    let fake = FakeVault::start(state()).unwrap();
    let source = job("{{ with secret \"kv/shop/db\" }}\nP={{ .Data.password }}\n{{ end }}");
    let result = check_secrets(&source, "shop.nomad.hcl", Some(&client(&fake, TOKEN))).await;
    assert_eq!(result.status, CheckStatus::Failure);
    let text = lines(&result);
    assert!(text.contains("templates read `kv/data/shop/db` (with `data/`)"), "{text}");
    assert!(text.contains("its keys are under `.Data.data`"), "{text}");
    assert_no_secret_output(&fake, &result);
}

#[tokio::test]
async fn list_denied_but_readable_is_a_warning_not_a_failure() {
    let mut state = state();
    state.list_denied.push("legacy/shop".into());
    let fake = FakeVault::start(state).unwrap();
    let source = job("{{ with secret \"legacy/shop/smtp\" }}\nP={{ .Data.password }}\n{{ end }}");
    let result = check_secrets(&source, "shop.nomad.hcl", Some(&client(&fake, TOKEN))).await;
    assert_eq!(result.status, CheckStatus::Success, "{}", lines(&result));
    assert!(lines(&result).contains("10:17: warning: cannot tell whether legacy/shop/smtp exists"));
    assert_no_secret_output(&fake, &result);
}

#[tokio::test]
async fn an_expired_token_skips_the_check_with_a_clear_message() {
    let fake = FakeVault::start(state()).unwrap();
    let source = job("{{ with secret \"kv/data/shop/db\" }}{{ .Data.data.password }}{{ end }}");
    let result = check_secrets(&source, "shop.nomad.hcl", Some(&client(&fake, "s.expired"))).await;
    assert_eq!(result.status, CheckStatus::Skipped);
    assert!(
        result.summary.contains("refused the token (expired, revoked or invalid)"),
        "{}",
        result.summary
    );
    assert_no_secret_output(&fake, &result);
}

#[tokio::test]
async fn without_vault_the_check_says_it_was_skipped() {
    let source = job("{{ with secret \"kv/data/shop/db\" }}{{ .Data.data.password }}{{ end }}");
    let result = check_secrets(&source, "shop.nomad.hcl", None).await;
    assert_eq!(result.status, CheckStatus::Skipped);
    assert_eq!(result.name, "nomad-spec/secrets");
    assert!(result.summary.contains("VAULT_ADDR is not set"), "{}", result.summary);
    assert!(VaultClient::configured(&Settings::default()).unwrap().is_none());
}

#[tokio::test]
async fn old_vault_without_ui_mounts_falls_back_to_sys_mounts() {
    let mut state = state();
    state.no_ui_mounts = true;
    let fake = FakeVault::start(state).unwrap();
    let source = job("{{ with secret \"kv/data/shop/db\" }}{{ .Data.data.password }}{{ end }}");
    let result = check_secrets(&source, "shop.nomad.hcl", Some(&client(&fake, TOKEN))).await;
    assert_eq!(result.status, CheckStatus::Success, "{}", lines(&result));
    assert!(fake.requests().iter().any(|r| r == "GET /v1/sys/mounts"), "{:?}", fake.requests());
    assert_no_secret_output(&fake, &result);
}

#[tokio::test]
async fn a_deleted_current_version_is_reported() {
    let mut state = state();
    if let Some(secret) = state.secrets.get_mut("kv/shop/db") {
        secret.deleted = true;
    }
    let fake = FakeVault::start(state).unwrap();
    let source = job("{{ with secret \"kv/data/shop/db\" }}{{ .Data.data.password }}{{ end }}");
    let result = check_secrets(&source, "shop.nomad.hcl", Some(&client(&fake, TOKEN))).await;
    assert_eq!(result.status, CheckStatus::Failure);
    assert!(
        lines(&result).contains("10:17: error: the current version of kv/data/shop/db is deleted"),
        "{}",
        lines(&result)
    );
    assert_no_secret_output(&fake, &result);
}

#[tokio::test]
async fn a_secret_block_is_checked_on_its_mount() {
    let fake = FakeVault::start(state()).unwrap();
    let source = job("").replace(
        "      template {",
        "      secret \"db\" {\n        provider = \"vault\"\n        path     = \"kv/shop/gone\"\n      }\n\n      template {",
    );
    let result = check_secrets(&source, "shop.nomad.hcl", Some(&client(&fake, TOKEN))).await;
    assert_eq!(result.status, CheckStatus::Failure, "{}", lines(&result));
    assert!(
        lines(&result).contains("10:21: error: secret kv/data/shop/gone does not exist"),
        "{}",
        lines(&result)
    );
    assert_no_secret_output(&fake, &result);
}

#[tokio::test]
async fn the_namespace_goes_with_every_call() {
    let fake = FakeVault::start(state()).unwrap();
    let env: BTreeMap<String, String> = [
        ("VAULT_ADDR", fake.url().as_str()),
        ("VAULT_TOKEN", TOKEN),
        ("VAULT_NAMESPACE", "team-a"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let vault = VaultClient::configured(&Settings::from_vars(&env)).unwrap().unwrap();
    let source = job("{{ with secret \"kv/data/shop/db\" }}{{ .Data.data.password }}{{ end }}");
    let result = check_secrets(&source, "shop.nomad.hcl", Some(&vault)).await;
    assert_eq!(result.status, CheckStatus::Success, "{}", lines(&result));
    let namespaces = fake.namespaces();
    assert!(namespaces.len() >= 4, "{:?}", fake.requests());
    assert!(namespaces.iter().all(|n| n == "team-a"), "{namespaces:?} for {:?}", fake.requests());
    assert_no_secret_output(&fake, &result);
}

#[tokio::test]
async fn an_unreachable_vault_skips_the_check() {
    // Nothing listens there.
    let vault_addr = fakes::faults::refused_url();
    let env: BTreeMap<String, String> =
        [("VAULT_ADDR".to_string(), vault_addr), ("VAULT_TOKEN".to_string(), TOKEN.to_string())]
            .into_iter()
            .collect();
    let vault = VaultClient::configured(&Settings::from_vars(&env)).unwrap().unwrap();
    let source = job("{{ with secret \"kv/data/shop/db\" }}{{ .Data.data.password }}{{ end }}");
    let result = check_secrets(&source, "shop.nomad.hcl", Some(&vault)).await;
    assert_eq!(result.status, CheckStatus::Skipped);
    assert!(
        result.summary.contains("cannot reach Vault at http://127.0.0.1:"),
        "{}",
        result.summary
    );
    assert!(!result.summary.contains(TOKEN));
}

#[test]
fn an_unreadable_ca_file_is_a_clear_setting_error() {
    let env: BTreeMap<String, String> =
        [("VAULT_ADDR", "https://127.0.0.1:8200"), ("VAULT_CACERT", "/nonexistent/ca.pem")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    let err = VaultClient::configured(&Settings::from_vars(&env))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("VAULT_CACERT") && err.contains("/nonexistent/ca.pem"), "{err}");
}

#[tokio::test]
async fn a_path_filled_in_at_run_time_is_noted_not_checked() {
    let fake = FakeVault::start(state()).unwrap();
    let source =
        job("{{ with secret \"kv/data/${NOMAD_JOB_NAME}/db\" }}{{ .Data.data.password }}{{ end }}");
    let result = check_secrets(&source, "shop.nomad.hcl", Some(&client(&fake, TOKEN))).await;
    assert_eq!(result.status, CheckStatus::Success, "{}", lines(&result));
    assert!(lines(&result).contains("is filled in at run time: not checked"), "{}", lines(&result));
    assert!(!fake.requests().iter().any(|r| r.contains("NOMAD_JOB_NAME")), "{:?}", fake.requests());
    assert_no_secret_output(&fake, &result);
}

#[tokio::test]
async fn the_fake_catches_a_secret_read() {
    // Proof that `secret_reads() == 0` in the other tests means something: a real read of
    // secret data, as a careless client would make it, is recorded.
    let fake = FakeVault::start(state()).unwrap();
    nomad_spec::tls::install_crypto_provider();
    let http = reqwest::Client::new();
    for path in ["kv/data/shop/db", "legacy/shop/smtp"] {
        let response = http
            .get(format!("{}/v1/{path}", fake.url()))
            .header("X-Vault-Token", TOKEN)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
    assert_eq!(fake.secret_reads(), 2);
    assert_eq!(fake.secret_read_paths(), ["kv/data/shop/db", "legacy/shop/smtp"]);
}

#[tokio::test]
async fn suggestions_from_existing_paths_listed_in_vault() {
    let fake = FakeVault::start(state()).unwrap();
    let vault = client(&fake, TOKEN);
    let token = vault.lookup_self().await.unwrap();
    assert_eq!(token.policies, ["shop"]);
    let mount = KvMount { path: "kv/".into(), version: 2 };
    let paths = vault.list_all(&mount, "", 100).await.unwrap();
    assert_eq!(paths, ["billing/api", "shop/db", "shop/redis"]);
    let listing = SecretListing { mount: mount.path.clone(), kv_version: 2, paths };
    let analysis = analysis_with_secrets(&["DB_PASSWORD", "REDIS_PASSWORD"]);
    let found = suggest_secrets(&analysis, "shop", &VaultConventions::default(), Some(&listing));
    let refs: Vec<String> = found.iter().map(|s| s.reference()).collect();
    assert_eq!(refs, ["kv/data/shop/db#password", "kv/data/shop/redis#password"]);
    assert!(found.iter().all(|s| s.reason.starts_with("existing path")), "{found:?}");

    let conventions: VaultConventions =
        serde_json::from_str(r#"{"patterns":{"database":"kv/data/{app_name}/db"}}"#).unwrap();
    let found = suggest_secrets(&analysis, "shop", &conventions, Some(&listing));
    assert_eq!(found[0].reference(), "kv/data/shop/db#password");
    assert_eq!(found[0].confidence, 0.9);
    assert_eq!(fake.secret_reads(), 0);
}

fn analysis_with_secrets(names: &[&str]) -> nomad_spec::analyze::Analysis {
    // A real analysis of a corpus-independent folder: a compose file naming the variables.
    let dir = tempfile::tempdir().unwrap();
    let env: String = names.iter().map(|n| format!("      {n}: ${{{n}}}\n")).collect();
    std::fs::write(
        dir.path().join("compose.yaml"),
        format!("services:\n  web:\n    image: shop:1\n    environment:\n{env}"),
    )
    .unwrap();
    let mut analysis = nomad_spec::analyze::analyze(dir.path(), &Default::default());
    for service in &mut analysis.services {
        service.env.retain(|var| names.contains(&var.name.as_str()));
    }
    assert!(analysis.services.iter().flat_map(|s| &s.env).all(|v| v.secret), "{analysis:?}");
    analysis
}

#[test]
fn corpus_jobs_that_read_vault_secrets_yield_references() {
    // Real job files nobody here wrote: every one that parses and has `with secret "` in a
    // template must give at least one reference, each with a line in the file.
    let Some(corpus) = common::corpus_dir() else { return };
    let mut seen = 0;
    for file in common::corpus_job_files(&corpus) {
        let Ok(source) = std::fs::read_to_string(&file) else { continue };
        if !source.contains("with secret \"") {
            continue;
        }
        let name = file.display().to_string();
        let Ok(references) = nomad_spec::infra::vault::check::secret_references(&source, &name)
        else {
            continue;
        };
        assert!(!references.is_empty(), "{name}: no secret reference found");
        for reference in &references {
            assert!(reference.line > 0, "{name}: {} has no line", reference.path);
        }
        seen += 1;
    }
    assert!(seen > 0, "no corpus job reads a Vault secret through a template");
}

/// `nomad-spec check` runs the secrets check with the Vault settings of its environment.
#[test]
fn the_check_command_reports_a_missing_secret_on_its_line() {
    let fake = FakeVault::start(state()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.nomad.hcl");
    std::fs::write(
        &path,
        job("{{ with secret \"kv/data/shop/missing\" }}\nX={{ .Data.data.x }}\n{{ end }}"),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
        .current_dir(dir.path())
        .args(["check", "shop.nomad.hcl"])
        .env("VAULT_ADDR", fake.url())
        .env("VAULT_TOKEN", TOKEN)
        .env_remove("VAULT_NAMESPACE")
        .env_remove("NOMAD_ADDR")
        .env_remove("CONSUL_HTTP_ADDR")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("nomad-spec/secrets: FAILED"), "{stdout}");
    assert!(
        stdout.contains("shop.nomad.hcl:10:17: error: secret kv/data/shop/missing does not exist"),
        "{stdout}"
    );
    assert!(!stdout.contains(TOKEN), "{stdout}");
    assert_eq!(fake.secret_reads(), 0);
}
