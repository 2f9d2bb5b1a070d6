//! The fault matrix (issue 13): every service nomad-spec talks to (GitHub, GitLab, Nomad,
//! Vault, Consul, Fabio, the LLM), each (a) refusing connections, (b) never answering,
//! (c) answering 500, (d) answering 429 with `Retry-After` (once, then normally),
//! (e) answering malformed JSON, (f) answering slowly (within the request timeout). Each cell
//! runs the real binary against a fake playing the fault and checks the documented outcome:
//! the exit code and what is said (the table in README.md, "When a service fails").
//!
//! Time is bounded by design: every run has short limits (`NOMAD_SPEC_RETRY_TIME=4s`, so
//! three tries wait 0.5 s then 1 s; `NOMAD_SPEC_REQUEST_TIMEOUT=5s`;
//! `NOMAD_SPEC_PROBE_DEADLINE=3s`; `NOMAD_SPEC_LLM_TIMEOUT=1`), the fakes answer slowly in
//! 200 ms and ask to come back in 1 s. Each cell's outcome and time are printed
//! (`--nocapture`); a failing row shows every cell that differs.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

mod common;

use common::files_of;
use fakes::faults::{refused_url, Fault, FaultSwitch};

/// The six ways a service fails, in the README's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Refused,
    Silent,
    Error500,
    RateLimited,
    MalformedJson,
    Slow,
}

const KINDS: [Kind; 6] = [
    Kind::Refused,
    Kind::Silent,
    Kind::Error500,
    Kind::RateLimited,
    Kind::MalformedJson,
    Kind::Slow,
];

impl Kind {
    fn fault(self) -> Option<Fault> {
        match self {
            Kind::Refused => None,
            Kind::Silent => Some(Fault::silent()),
            Kind::Error500 => Some(Fault::status(500, "internal error")),
            Kind::RateLimited => Some(Fault::rate_limited(1).times(1)),
            Kind::MalformedJson => Some(Fault::malformed_json()),
            Kind::Slow => Some(Fault::slow(Duration::from_millis(200))),
        }
    }

    /// Plays this fault on `switch` for requests under `prefix` (the API, not git).
    fn play(self, switch: &FaultSwitch, prefix: &str) {
        if let Some(fault) = self.fault() {
            switch.play(fault.under(prefix));
        }
    }
}

/// What one cell must give: the exit code and a piece of what is said.
struct Cell {
    kind: Kind,
    code: i32,
    says: &'static str,
}

const fn cell(kind: Kind, code: i32, says: &'static str) -> Cell {
    Cell { kind, code, says }
}

/// What a run gave: its exit code, the text to look in, the line shown in a failure.
struct Outcome {
    code: Option<i32>,
    text: String,
}

/// Runs every cell of one service, one after the other (each with its own fakes), prints
/// what each did (`--nocapture` shows the row) and fails with every cell that differs from
/// its documented outcome.
fn row(service: &str, cells: &[Cell], run: impl Fn(Kind) -> Outcome) {
    let kinds: Vec<Kind> = cells.iter().map(|cell| cell.kind).collect();
    assert_eq!(kinds, KINDS, "{service}: one cell per kind of fault, in the README's order");
    let mut wrong = Vec::new();
    for cell in cells {
        let started = std::time::Instant::now();
        let outcome = run(cell.kind);
        // Shown, never asserted: the bound on a cell's time is the limits it runs with.
        eprintln!(
            "{service} | {:?} | exit {:?} | {:.1} s | {}",
            cell.kind,
            outcome.code,
            started.elapsed().as_secs_f64(),
            outcome.text.lines().find(|line| line.contains(cell.says)).unwrap_or("-")
        );
        if outcome.code != Some(cell.code) || !outcome.text.contains(cell.says) {
            wrong.push(format!(
                "{service} {:?}: expected exit {} saying {:?}, got exit {:?}:\n{}",
                cell.kind, cell.code, cell.says, outcome.code, outcome.text
            ));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n\n"));
}

/// The binary in `dir` with only `vars` and the matrix's short limits in its environment.
fn nomad_spec(dir: &Path, args: &[&str], vars: &BTreeMap<String, String>) -> Output {
    let limits = [
        ("NOMAD_SPEC_RETRY_ATTEMPTS", "3"),
        ("NOMAD_SPEC_RETRY_TIME", "4s"),
        ("NOMAD_SPEC_REQUEST_TIMEOUT", "5s"),
        ("NOMAD_SPEC_PROBE_DEADLINE", "3s"),
        ("NOMAD_SPEC_LLM_TIMEOUT", "1"),
    ];
    let vars = vars.iter().map(|(name, value)| (name.as_str(), value.as_str()));
    common::run_isolated(dir, args, &limits, vars)
}

fn vars(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn all_text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `check --format json` on `job`: the exit code and the named check's `status: summary`.
fn check(job: &str, vars: &BTreeMap<String, String>, check_name: &str) -> Outcome {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("shop.nomad.hcl"), job).unwrap_or_else(|e| panic!("{e}"));
    let out = nomad_spec(dir.path(), &["check", "--format", "json", "shop.nomad.hcl"], vars);
    let results: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let found = results.as_array().and_then(|all| all.iter().find(|r| r["name"] == check_name));
    let text = match found {
        Some(result) => format!(
            "{}: {}",
            result["status"].as_str().unwrap_or_default(),
            result["summary"].as_str().unwrap_or_default()
        ),
        None => all_text(&out),
    };
    Outcome { code: out.status.code(), text }
}

/// `generate` of a sample app, optionally with a free-form request (which the LLM reads).
fn generate(vars: &BTreeMap<String, String>, prompt: Option<&str>) -> Outcome {
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/repos/flask-postgres");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut args = vec!["generate", "--path", repo, "--no-questions", "-o", "-"];
    if let Some(prompt) = prompt {
        args.extend(["--prompt", prompt]);
    }
    let out = nomad_spec(dir.path(), &args, vars);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let wrote = String::from_utf8_lossy(&out.stdout).contains("job \"flask-postgres\"");
    let text = if wrote { stderr } else { format!("(no job written)\n{}", all_text(&out)) };
    Outcome { code: out.status.code(), text }
}

/// A job with a Vault template and a Fabio route.
const SHOP: &str = r#"job "shop" {
  datacenters = ["dc1"]

  group "web" {
    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name = "shop-web"
      port = "http"
      tags = ["urlprefix-shop.example.com/"]
    }

    task "web" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

      template {
        data        = "{{ with secret \"kv/data/shop/db\" }}DB_PASSWORD={{ .Data.data.password }}{{ end }}"
        destination = "secrets/app.env"
        env         = true
      }
    }
  }
}
"#;

#[test]
fn nomad_is_required_for_the_plan() {
    use fakes::nomad::{FakeNomad, Scenario};
    let cells = [
        cell(Kind::Refused, 1, "failure: Nomad is configured (NOMAD_ADDR) but could not plan the job: cannot reach Nomad at http://127.0.0.1:"),
        cell(Kind::Silent, 1, "did not answer"),
        cell(Kind::Error500, 1, "Nomad answered 500 to parse job files (3 tries in"),
        cell(Kind::RateLimited, 0, "success: job `shop` would change"),
        cell(Kind::MalformedJson, 1, "nomad-spec cannot read"),
        cell(Kind::Slow, 0, "success: job `shop` would change"),
    ];
    row("Nomad", &cells, |kind| {
        let nomad = FakeNomad::start(Scenario::default()).unwrap_or_else(|e| panic!("{e}"));
        kind.play(nomad.faults(), "/v1");
        let address = if kind == Kind::Refused { refused_url() } else { nomad.url() };
        check(SHOP, &vars(&[("NOMAD_ADDR", address)]), "nomad-spec/plan")
    });
}

#[test]
fn vault_is_optional_for_the_secrets_check() {
    use fakes::vault::{FakeVault, MountState, SecretState, TokenState, VaultState};
    let cells = [
        cell(Kind::Refused, 0, "skipped: cannot reach Vault at http://127.0.0.1:"),
        cell(
            Kind::Silent,
            0,
            "skipped: Vault did not answer within 3 s (NOMAD_SPEC_PROBE_DEADLINE); skipped",
        ),
        cell(
            Kind::Error500,
            0,
            "skipped: Vault answered 500 to the token lookup (auth/token/lookup-self) (3 tries in",
        ),
        cell(Kind::RateLimited, 0, "success: 1 Vault secret reference checked"),
        cell(Kind::MalformedJson, 0, "skipped: Vault sent a response to the token lookup"),
        cell(Kind::Slow, 0, "success: 1 Vault secret reference checked"),
    ];
    row("Vault", &cells, |kind| {
        let mut state = VaultState::default();
        state.mounts.insert("kv/".into(), MountState { version: 2 });
        let secret =
            SecretState { keys: vec!["password".into()], current_version: 1, deleted: false };
        state.secrets.insert("kv/shop/db".into(), secret);
        let token = TokenState { read: vec!["kv/*".into()], ttl: 3600, ..TokenState::default() };
        state.tokens.insert("s.ci".into(), token);
        let vault = FakeVault::start(state).unwrap_or_else(|e| panic!("{e}"));
        kind.play(vault.faults(), "/v1");
        let address = if kind == Kind::Refused { refused_url() } else { vault.url() };
        let vars = vars(&[("VAULT_ADDR", address), ("VAULT_TOKEN", "s.ci".into())]);
        check(SHOP, &vars, "nomad-spec/secrets")
    });
}

#[test]
fn fabio_is_optional_for_the_routes_check() {
    use fakes::fabio::{FabioState, FakeFabio};
    let cells = [
        cell(Kind::Refused, 0, "skipped: Fabio at http://127.0.0.1:"),
        cell(Kind::Silent, 0, "skipped: Consul and Fabio did not answer within 3 s"),
        cell(Kind::Error500, 0, "answered 500 (3 tries in"),
        cell(Kind::RateLimited, 0, "success:"),
        cell(Kind::MalformedJson, 0, "answered JSON that is not a list of routes"),
        cell(Kind::Slow, 0, "success:"),
    ];
    row("Fabio", &cells, |kind| {
        let fabio = FakeFabio::start(FabioState::default()).unwrap_or_else(|e| panic!("{e}"));
        kind.play(fabio.faults(), "/api");
        let address = if kind == Kind::Refused { refused_url() } else { fabio.url() };
        check(SHOP, &vars(&[("FABIO_ADMIN_ADDR", address)]), "nomad-spec/routes")
    });
}

#[test]
fn consul_is_optional_for_a_generation() {
    use fakes::consul::{ConsulState, FakeConsul};
    let cells = [
        cell(Kind::Refused, 0, "Consul conventions skipped: Consul at http://127.0.0.1:"),
        cell(
            Kind::Silent,
            0,
            "Consul did not answer within 3 s (NOMAD_SPEC_PROBE_DEADLINE); skipped",
        ),
        cell(Kind::Error500, 0, "answered 500 (3 tries in"),
        cell(Kind::RateLimited, 0, "no conventions in Consul"),
        cell(Kind::MalformedJson, 0, "unexpected body"),
        cell(Kind::Slow, 0, "no conventions in Consul"),
    ];
    row("Consul", &cells, |kind| {
        let consul = FakeConsul::start(ConsulState::default()).unwrap_or_else(|e| panic!("{e}"));
        kind.play(consul.faults(), "/v1");
        let address = if kind == Kind::Refused { refused_url() } else { consul.url() };
        generate(&vars(&[("CONSUL_HTTP_ADDR", address)]), None)
    });
}

#[test]
fn the_llm_is_optional_for_a_generation() {
    use fakes::llm::{FakeLlm, Reply, Rule, Script};
    let cells = [
        cell(Kind::Refused, 0, "LLM skipped: cannot reach http://127.0.0.1:"),
        cell(Kind::Silent, 0, "LLM skipped: no answer within"),
        cell(Kind::Error500, 0, "LLM skipped: HTTP 500 after 3 attempts"),
        cell(Kind::RateLimited, 0, "the LLM read the request as: image.api="),
        cell(Kind::MalformedJson, 0, "is not an OpenAI-compatible chat completions endpoint"),
        cell(Kind::Slow, 0, "the LLM read the request as: image.api="),
    ];
    row("LLM", &cells, |kind| {
        let reply = Reply::Json(serde_json::json!({
            "assignments": [{"key": "image.api", "value": "ghcr.io/acme/notes-api:1.4"}],
            "unclear": []
        }));
        let llm = FakeLlm::start(Script::new(vec![Rule::task("answers", reply)]))
            .unwrap_or_else(|e| panic!("{e}"));
        kind.play(llm.faults(), "/v1");
        let address =
            if kind == Kind::Refused { format!("{}/v1", refused_url()) } else { llm.url() };
        let vars = vars(&[("NOMAD_SPEC_LLM_BASE_URL", address)]);
        generate(&vars, Some("the api from ghcr.io/acme/notes-api:1.4"))
    });
}

/// One `ci` run of a GitHub pull request just opened.
fn github_opened(kind: Kind) -> Outcome {
    use fakes::github::FakeGitHub;
    let github = FakeGitHub::start().unwrap_or_else(|e| panic!("{e}"));
    github.add_user("alice", "write");
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/repos/nginx-static");
    let files = files_of(&app);
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    let commit = |branch: &str, files: &[(&str, &str)], message: &str| {
        github.commit(branch, files, message, "alice").unwrap_or_else(|e| panic!("{e}"));
    };
    commit("main", &[("README.md", "# shop\n")], "initial commit");
    commit("add-app", &files, "add the app");
    let pr = github.open_pull_request("add-app", "Add the shop", "alice");
    let pr = pr.unwrap_or_else(|e| panic!("{e}"));
    let (event, payload) =
        github.pull_request_event(pr, "opened").unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let event_path = dir.path().join("event.json");
    std::fs::write(&event_path, payload).unwrap_or_else(|e| panic!("{e}"));
    let mut vars = github.vars();
    vars.insert("GITHUB_ACTIONS".into(), "true".into());
    vars.insert("GITHUB_EVENT_NAME".into(), event);
    vars.insert("GITHUB_EVENT_PATH".into(), event_path.display().to_string());
    if kind == Kind::Refused {
        vars.insert("GITHUB_API_URL".into(), refused_url());
    }
    kind.play(github.faults(), "/repos");
    let out = nomad_spec(dir.path(), &["ci"], &vars);
    Outcome { code: out.status.code(), text: all_text(&out) }
}

#[test]
fn github_is_required_for_the_bot() {
    let cells = [
        cell(Kind::Refused, 1, "error: GitHub GET /repos/acme/shop/issues/1/comments: no answer from http://127.0.0.1:"),
        cell(Kind::Silent, 1, "error: GitHub GET /repos/acme/shop/issues/1/comments: no answer within 4 s (NOMAD_SPEC_RETRY_TIME)"),
        cell(Kind::Error500, 1, "error: GitHub GET /repos/acme/shop/issues/1/comments: HTTP 500 Internal Server Error: internal error (3 tries in"),
        cell(Kind::RateLimited, 0, "→ checked"),
        cell(Kind::MalformedJson, 1, "error: GitHub GET /repos/acme/shop/issues/1/comments: the answer is not what GitHub sends"),
        cell(Kind::Slow, 0, "→ checked"),
    ];
    row("GitHub", &cells, github_opened);
}

/// One `ci` run of a GitLab merge request pipeline.
fn gitlab_opened(kind: Kind) -> Outcome {
    use fakes::gitlab::{FakeGitLab, DEVELOPER};
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let seed = dir.path().join("seed");
    std::fs::create_dir_all(&seed).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(seed.join("README.md"), "# shop\n").unwrap_or_else(|e| panic!("{e}"));
    let gitlab = FakeGitLab::start("acme/shop", "main", &seed).unwrap_or_else(|e| panic!("{e}"));
    gitlab.add_user("dev", Some(DEVELOPER));
    gitlab.add_project_access_token(DEVELOPER);
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/repos/nginx-static");
    let iid = gitlab.open_merge_request("dev", "add-app", &app, "Add the shop");
    let iid = iid.unwrap_or_else(|e| panic!("{e}"));
    let mut vars = gitlab.mr_pipeline_vars(iid).unwrap_or_else(|e| panic!("{e}"));
    vars.retain(|_, v| !v.is_empty());
    if kind == Kind::Refused {
        vars.insert("CI_API_V4_URL".into(), format!("{}/api/v4", refused_url()));
    }
    kind.play(gitlab.faults(), "/api/v4");
    let out = nomad_spec(dir.path(), &["ci"], &vars);
    Outcome { code: out.status.code(), text: all_text(&out) }
}

#[test]
fn gitlab_is_required_for_the_bot() {
    let cells = [
        cell(Kind::Refused, 1, "error: GitLab GET /user: no answer from http://127.0.0.1:"),
        cell(
            Kind::Silent,
            1,
            "error: GitLab GET /user: no answer within 4 s (NOMAD_SPEC_RETRY_TIME)",
        ),
        cell(Kind::Error500, 1, "error: GitLab GET /user: HTTP 500: internal error (3 tries in"),
        cell(Kind::RateLimited, 0, "→ checked"),
        cell(
            Kind::MalformedJson,
            1,
            "error: GitLab GET /user: the answer is not what GitLab sends",
        ),
        cell(Kind::Slow, 0, "→ checked"),
    ];
    row("GitLab", &cells, gitlab_opened);
}
