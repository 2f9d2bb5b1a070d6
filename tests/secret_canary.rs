//! The secret canary: one distinct, recognisable secret planted in each place a repository or
//! the run's environment can hold one (a compose env value, `.env` through interpolation, a
//! Dockerfile `ENV` and `ARG` default, a compose `command` flag, a URL password in a
//! variable, a random value under a secret-ish name, a private key, a config file the job
//! delivers, and the process environment's tokens), then `analyze`, `generate`, a pull-request
//! story of `ci` against the fake GitHub and Nomad, and `deploy` against the fake Nomad, all at
//! `RUST_LOG=trace`. None of the planted values may appear in any output, written or committed
//! file, comment, check run, or request body a fake received.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

mod common;

use fakes::github::FakeGitHub;
use fakes::nomad::{FakeNomad, Scenario};

/// A random-looking tail that makes each canary distinct and unmistakable, built here so that
/// no scanner takes this file for a leak.
fn tail(n: u32) -> String {
    format!("Cn{n}ry7Qx2Wv9Lm4Zt8Kp3Hs6Jd1Fg5Rb0YeU")
}

/// Each canary: where it is planted, and the value.
fn canaries() -> Vec<(&'static str, String)> {
    vec![
        (".env, through compose interpolation", format!("ghp_{}", tail(1))),
        ("compose environment value", format!("xoxb-4242424242-{}", tail(2))),
        ("Dockerfile ENV", "AKIAQ3CANARY7W4RZ5N3".to_string()),
        ("Dockerfile ARG default", format!("sk_live_{}", tail(4))),
        ("compose command flag", tail(5)),
        ("URL password in a variable", format!("urlpw{}", tail(6))),
        ("random value under a secret-ish name", tail(7)),
        ("private key body", format!("MIIEpriv{}", tail(8))),
        ("delivered config file", format!("glpat-{}", tail(9))),
        ("NOMAD_TOKEN of the run", format!("nomadtok-{}", tail(10))),
        ("VAULT_TOKEN of the run", format!("hvs.{}", tail(11))),
        ("a JWT in a compose env value", jwt()),
    ]
}

fn jwt() -> String {
    format!("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.{}", tail(12))
}

fn value(place: &str) -> String {
    canaries().into_iter().find(|(p, _)| *p == place).map(|(_, v)| v).unwrap()
}

/// The repository with every canary planted.
fn repository() -> Vec<(String, String)> {
    let compose = format!(
        r#"services:
  web:
    build: .
    image: ghcr.io/acme/shop:1.4
    ports:
      - "8080:8080"
    environment:
      PUBLISH_WITH: ${{GITHUB_PAT}}
      SLACK_HOOK_VALUE: {slack}
      CACHE_ADDRESS: redis://default:{url}@cache:6379/0
      SESSION_SIGNING: {random}
      TLS_MATERIAL: "-----BEGIN PRIVATE KEY-----{key}-----END PRIVATE KEY-----"
      WELCOME_JWT: {jwt}
      LOG_LEVEL: info
    volumes:
      - ./config/app.yml:/etc/shop/app.yml:ro
    depends_on:
      - cache
  cache:
    image: redis:7
    command: ["redis-server", "--requirepass", "{pass}"]
    ports:
      - "6379"
"#,
        slack = value("compose environment value"),
        url = value("URL password in a variable"),
        random = value("random value under a secret-ish name"),
        key = value("private key body"),
        jwt = jwt(),
        pass = value("compose command flag"),
    );
    let dockerfile = format!(
        "FROM python:3.12-slim\nARG BUILD_STAMP={arg}\nENV AWS_ACCESS_KEY_ID={env}\n\
         WORKDIR /app\nCOPY . .\nEXPOSE 8080\nCMD [\"python\", \"-m\", \"http.server\", \"8080\"]\n",
        arg = value("Dockerfile ARG default"),
        env = value("Dockerfile ENV"),
    );
    vec![
        ("docker-compose.yml".into(), compose),
        (".env".into(), format!("GITHUB_PAT={}\n", value(".env, through compose interpolation"))),
        ("Dockerfile".into(), dockerfile),
        (
            "config/app.yml".into(),
            format!("port: 8080\ngitlab_token: {}\n", value("delivered config file")),
        ),
        ("app.py".into(), "import os\nprint(os.environ.get('LOG_LEVEL', 'info'))\n".into()),
    ]
}

/// Every canary found in `text`, with where it was planted.
fn leaks(text: &str) -> Vec<&'static str> {
    canaries().into_iter().filter(|(_, v)| text.contains(v.as_str())).map(|(p, _)| p).collect()
}

#[track_caller]
fn assert_clean(what: &str, text: &str) {
    let found = leaks(text);
    assert!(found.is_empty(), "{what} holds the canaries of {found:?}:\n{text}");
}

fn output_text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The run's environment: trace logging, and the tokens a runner holds.
fn environment(home: &Path) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("PATH".to_string(), std::env::var("PATH").unwrap_or_default()),
        ("HOME".to_string(), home.display().to_string()),
        ("RUST_LOG".to_string(), "trace".to_string()),
        ("NOMAD_TOKEN".to_string(), value("NOMAD_TOKEN of the run")),
        ("VAULT_TOKEN".to_string(), value("VAULT_TOKEN of the run")),
    ])
}

fn nomad_spec(args: &[&str], dir: &Path, vars: &BTreeMap<String, String>) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(vars)
        .output()
        .unwrap()
}

/// Every file under `root` (but `.git`), as text.
fn files_under(root: &Path) -> Vec<(String, String)> {
    common::files_of(root).into_iter().filter(|(p, _)| !p.starts_with(".git/")).collect()
}

#[test]
fn no_planted_secret_reaches_any_output() {
    let repo = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    for (path, text) in repository() {
        let path = repo.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let planted: Vec<String> = repository().into_iter().map(|(p, _)| p).collect();
    let nomad = FakeNomad::start(Scenario::default()).unwrap();
    let mut vars = environment(home.path());
    vars.insert("NOMAD_ADDR".into(), nomad.url());
    let dir = repo.path().display().to_string();

    // analyze, in text and JSON.
    let analyzed = nomad_spec(&["analyze", "--path", &dir], repo.path(), &vars);
    assert_eq!(analyzed.status.code(), Some(0), "{}", output_text(&analyzed));
    assert_clean("analyze", &output_text(&analyzed));
    let json = nomad_spec(&["analyze", "--format", "json", "--path", &dir], repo.path(), &vars);
    let json_text = output_text(&json);
    assert_clean("analyze --json", &json_text);
    // The values were recognised as secrets, not merely lost.
    for name in ["PUBLISH_WITH", "SLACK_HOOK_VALUE", "CACHE_ADDRESS", "SESSION_SIGNING"] {
        assert!(json_text.contains(name), "{name} in:\n{json_text}");
    }

    // generate: what it prints and every file it writes.
    // The cache is deployed too, so that its command line reaches the job.
    let args = ["generate", "--no-questions", "--set", "deploy.cache=true", "--path", &dir];
    let generated = nomad_spec(&args, repo.path(), &vars);
    assert_clean("generate", &output_text(&generated));
    for (path, text) in files_under(repo.path()) {
        if !planted.contains(&path) {
            assert_clean(&format!("generated {path}"), &text);
        }
    }
    let jobs: Vec<(String, String)> =
        files_under(repo.path()).into_iter().filter(|(p, _)| p.ends_with(".nomad.hcl")).collect();
    let all_jobs: String = jobs.iter().map(|(_, text)| text.as_str()).collect();
    // The secrets were withheld, not dropped: the jobs read them from Vault, the cache's
    // flag from its environment (`$${...}` is HCL for a literal `${...}` Nomad fills in).
    for name in ["REQUIREPASS_SECRET", "PUBLISH_WITH", "AWS_ACCESS_KEY_ID", "app-yml"] {
        assert!(all_jobs.contains(name), "{name} in the jobs:\n{all_jobs}");
    }
    assert!(all_jobs.contains("\"--requirepass\", \"$${REQUIREPASS_SECRET}\""), "{all_jobs}");

    // deploy the generated job to the fake Nomad.
    for (path, _) in &jobs {
        let deployed = nomad_spec(&["deploy", path], repo.path(), &vars);
        let text = output_text(&deployed);
        assert_clean("deploy", &text);
        assert!(text.contains("healthy"), "{path} deployed:\n{text}");
    }
    for request in nomad.faults().seen() {
        assert_clean("a request to Nomad (analyze, generate, deploy)", &request);
    }

    // ci: a pull request adding the repository, through the fake GitHub and Nomad.
    pull_request_story(&vars);
}

fn pull_request_story(base: &BTreeMap<String, String>) {
    let github = FakeGitHub::start().unwrap();
    github.add_user("alice", "write");
    github.commit("main", &[("README.md", "# shop\n")], "initial commit", "alice").unwrap();
    let planted = repository();
    let files: Vec<(&str, &str)> = planted.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    github.commit("add-app", &files, "add the app", "alice").unwrap();
    let nomad = FakeNomad::start(Scenario::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pr = github.open_pull_request("add-app", "Add the shop", "alice").unwrap();
    let mut outputs = Vec::new();
    let run = |n: u32, (name, payload): (String, String)| {
        let event_path = dir.path().join(format!("event-{n}.json"));
        std::fs::write(&event_path, payload).unwrap();
        let mut vars = base.clone();
        vars.extend(github.vars());
        vars.insert("HOME".into(), dir.path().display().to_string());
        vars.insert("GITHUB_ACTIONS".into(), "true".into());
        vars.insert("GITHUB_EVENT_NAME".into(), name);
        vars.insert("GITHUB_EVENT_PATH".into(), event_path.display().to_string());
        vars.insert(
            "GITHUB_STEP_SUMMARY".into(),
            dir.path().join("summary.md").display().to_string(),
        );
        vars.insert("GITHUB_OUTPUT".into(), dir.path().join("output").display().to_string());
        vars.insert("NOMAD_ADDR".into(), nomad.url());
        nomad_spec(&["ci"], dir.path(), &vars)
    };
    outputs.push(run(1, github.pull_request_event(pr, "opened").unwrap()));
    let status = github
        .comments(pr)
        .into_iter()
        .find(|c| c.body.contains(common::bot::STATUS_MARKER))
        .map(|c| c.body)
        .unwrap_or_else(|| panic!("no status comment:\n{}", output_text(&outputs[0])));
    let cache = common::bot::question_number(&status, "deploy.cache");
    let reply = format!("{cache}: true");
    let answered = github.post_comment(pr, "alice", &reply).unwrap();
    outputs.push(run(2, github.issue_comment_event(answered, "created").unwrap()));
    let asked = github.post_comment(pr, "alice", "/nomad-spec accept").unwrap();
    outputs.push(run(3, github.issue_comment_event(asked, "created").unwrap()));
    github.merge_pull_request(pr).unwrap();
    outputs.push(run(4, github.pull_request_event(pr, "closed").unwrap()));

    let token = github.vars().remove("GITHUB_TOKEN").unwrap();
    let mut everything: Vec<(String, String)> = Vec::new();
    for (n, output) in outputs.iter().enumerate() {
        // `::add-mask::VALUE` is how a step tells the Actions runner which values to mask: the
        // runner takes the line and never shows it; every other line must be clean.
        let shown: String = output_text(output)
            .lines()
            .filter(|line| !line.starts_with("::add-mask::"))
            .map(|line| format!("{line}\n"))
            .collect();
        everything.push((format!("ci run {}", n + 1), shown));
    }
    for comment in github.comments(pr) {
        everything.push((format!("comment {}", comment.id), comment.body));
    }
    for branch in ["add-app", "main"] {
        let head = github.head_of(branch).unwrap();
        for run in github.check_runs(&head) {
            everything.push((format!("check run {} on {branch}", run.name), format!("{run:?}")));
        }
        let listed =
            fakes::git_http::git(&github.bare_path(), &["ls-tree", "-r", "--name-only", branch]);
        // The repository's own files hold the canaries by design; the bot's must not.
        for path in listed.unwrap().lines().filter(|p| !planted.iter().any(|(q, _)| q == p)) {
            if let Some(text) = github.read_file(branch, path) {
                everything.push((format!("{path} committed on {branch}"), text));
            }
        }
    }
    for name in ["summary.md", "output"] {
        if let Ok(text) = std::fs::read_to_string(dir.path().join(name)) {
            everything.push((name.to_string(), text));
        }
    }
    for request in github.faults().seen() {
        everything.push(("a request to GitHub".into(), request));
    }
    for request in nomad.faults().seen() {
        everything.push(("a request to Nomad (ci)".into(), request));
    }
    for (what, text) in &everything {
        assert_clean(what, text);
        // The forge's own token goes in headers to the forge only.
        assert!(!text.contains(&token), "{what} holds GITHUB_TOKEN:\n{text}");
    }
    let all: String = everything.iter().map(|(w, t)| format!("== {w}\n{t}\n")).collect();
    let jobs: String = everything
        .iter()
        .filter(|(what, _)| what.contains(".nomad.hcl committed on main"))
        .map(|(_, text)| text.as_str())
        .collect();
    assert!(jobs.contains("$${REQUIREPASS_SECRET}"), "the cache's flag reads Vault:\n{all}");
    let deployed = outputs.last().map(output_text).unwrap_or_default();
    assert!(deployed.contains("healthy"), "the merged job was deployed:\n{all}");
}

/// A token in a Dockerfile HEALTHCHECK URL (issue 13) reaches neither the analysis nor the
/// job: the service is checked by its port.
#[test]
fn a_token_in_a_health_url_is_never_written() {
    let token = "ghp_HealthCheck0123456789abcdefghijklmnopq";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!(
            "FROM python:3.12\nWORKDIR /app\nCOPY . .\nEXPOSE 8080\n\
             HEALTHCHECK CMD curl -f \"http://localhost:8080/health?token={token}\"\n\
             CMD [\"python\", \"app.py\"]\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("app.py"), "print(1)\n").unwrap();
    for args in [
        &["analyze", "--format", "json"][..],
        &["analyze"][..],
        &["generate", "--no-questions", "-o", "-"][..],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
            .args(args)
            .args(["--path", dir.path().to_str().unwrap()])
            .env_remove("NOMAD_ADDR")
            .env_remove("VAULT_ADDR")
            .env_remove("CONSUL_HTTP_ADDR")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{args:?}: {text}");
        assert!(!text.contains(token), "{args:?} shows the token:\n{text}");
    }
}
