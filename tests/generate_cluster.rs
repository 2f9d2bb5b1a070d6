//! `generate` asks the cluster at `NOMAD_ADDR` for its Nomad version and uses only what that
//! version has; without `NOMAD_ADDR` it says it assumed the newest Nomad.

use std::process::{Command, Output};

use fakes::nomad::{FakeNomad, Scenario};

fn generate(nomad_addr: Option<&str>) -> Output {
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/repos/flask-postgres");
    let mut command = Command::new(env!("CARGO_BIN_EXE_nomad-spec"));
    command.args(["generate", "--path", repo, "--no-questions", "-o", "-"]);
    for var in ["NOMAD_ADDR", "NOMAD_TOKEN", "CONSUL_HTTP_ADDR", "VAULT_ADDR"] {
        command.env_remove(var);
    }
    if let Some(addr) = nomad_addr {
        command.env("NOMAD_ADDR", addr);
    }
    command.output().expect("the binary runs")
}

#[test]
fn an_older_cluster_gets_a_job_in_its_own_terms() {
    let scenario = Scenario { version: "1.6.0".into(), ..Scenario::default() };
    let fake = FakeNomad::start(scenario).expect("the fake starts");
    let out = generate(Some(&fake.url()));
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("Nomad 1.6.0 at NOMAD_ADDR"), "{stderr}");
    // Before workload identity (1.7) a task reads Vault with policies, not a role.
    assert!(stdout.contains("policies"), "{stdout}");
}

#[test]
fn without_nomad_addr_the_newest_nomad_is_assumed_and_said() {
    let out = generate(None);
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("NOMAD_ADDR is not set: the job uses the newest Nomad"), "{stderr}");
    assert!(!stdout.contains("policies"), "{stdout}");
}

/// With Vault configured, secret variables are matched with the paths that exist there
/// (metadata only).
#[test]
fn secrets_are_pointed_at_the_paths_vault_has() {
    use fakes::vault::{FakeVault, MountState, SecretState, TokenState, VaultState};
    let mut state = VaultState::default();
    state.mounts.insert("kv/".into(), MountState { version: 2 });
    for path in ["kv/flask-postgres/db", "kv/flask-postgres/app", "kv/other/thing"] {
        state.secrets.insert(
            path.into(),
            SecretState { keys: vec!["url".into()], current_version: 1, deleted: false },
        );
    }
    state.tokens.insert(
        "s.ci".into(),
        TokenState { read: vec!["kv/*".into()], ttl: 3600, ..TokenState::default() },
    );
    let fake = FakeVault::start(state).expect("the fake starts");
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/repos/flask-postgres");
    let out = Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
        .args(["generate", "--path", repo, "--no-questions", "-o", "-"])
        .env_remove("NOMAD_ADDR")
        .env_remove("CONSUL_HTTP_ADDR")
        .env_remove("VAULT_NAMESPACE")
        .env("VAULT_ADDR", fake.url())
        .env("VAULT_TOKEN", "s.ci")
        .output()
        .expect("the binary runs");
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // A path found by name similarity is shown, not applied: only conventions (or a person)
    // are sure enough to change where the job reads its secrets.
    assert!(
        stderr.contains("suggested, not applied: secret.DATABASE_URL = kv/data/flask-postgres/db#"),
        "{stderr}"
    );
    assert!(!stdout.contains("kv/data/flask-postgres/db\""), "{stdout}");
    assert!(!stderr.contains("s.ci") && !stdout.contains("s.ci"), "the token never shows");
    assert_eq!(fake.secret_reads(), 0, "no secret data is ever requested");
}

/// `generate --prompt` with an LLM configured: the request is read as answers (checked by the
/// guardrails); without one the rules pick services by name and say the LLM was skipped.
#[test]
fn a_free_form_request_is_read_by_the_llm_when_there_is_one() {
    use fakes::llm::{FakeLlm, Reply, Rule, Script};
    let llm = FakeLlm::start(Script::new(vec![Rule::task(
        "answers",
        Reply::Json(serde_json::json!({
            "assignments": [
                {"key": "image.api", "value": "ghcr.io/acme/notes-api:1.4"},
                {"key": "memory.api", "value": "512"}
            ],
            "unclear": []
        })),
    )]))
    .expect("the fake LLM starts");
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/repos/flask-postgres");
    let run = |base_url: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_nomad-spec"));
        command.args(["generate", "--path", repo, "--no-questions", "-o", "-"]);
        command.args(["--prompt", "the api from ghcr.io/acme/notes-api:1.4 with 512 megs"]);
        for var in ["NOMAD_ADDR", "CONSUL_HTTP_ADDR", "VAULT_ADDR", "OPENAI_BASE_URL"] {
            command.env_remove(var);
        }
        command.env_remove("NOMAD_SPEC_LLM_BASE_URL");
        if let Some(url) = base_url {
            command.env("NOMAD_SPEC_LLM_BASE_URL", url);
        }
        command.output().expect("the binary runs")
    };

    let out = run(Some(&llm.url()));
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("the LLM read the request as: image.api="), "{stderr}");
    assert!(stdout.contains("ghcr.io/acme/notes-api:1.4"), "{stdout}");
    assert!(stdout.contains("memory = 512"), "{stdout}");

    let out = run(None);
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("LLM skipped: not configured"), "{stderr}");
    assert!(!stdout.contains("ghcr.io/acme/notes-api"), "{stdout}");
}
