//! `nomad-spec serve` end to end: the real binary as a webhook server in front of a fake GitHub
//! and a fake Nomad (whose Variables hold the shared queue and its locks), fed deliveries the
//! way GitHub sends them.
//!
//! One story per concern: signed, forged, unsigned, stale and replayed deliveries and a burst
//! of events for one pull request (one status comment, every command answered once); two
//! replicas sharing the queue, one killed with SIGKILL in the middle of a run (the other takes
//! the work over once the lock expires and does it once), the same with the locks as Consul
//! sessions; SIGTERM (the server finishes and exits 0).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use common::bot::STATUS_MARKER;
use common::serve::{fresh, sign, Server};
use fakes::consul::{ConsulState, FakeConsul};
use fakes::github::{FakeGitHub, Fault};
use fakes::nomad::{FakeNomad, Scenario};

use common::serve::SECRET;

/// The fakes and the repository with a pull request to talk about.
struct World {
    github: FakeGitHub,
    nomad: FakeNomad,
    pr: u64,
    dir: tempfile::TempDir,
}

impl World {
    fn new(scenario: Scenario) -> World {
        World::with(FakeGitHub::start().unwrap(), scenario)
    }

    fn with(github: FakeGitHub, scenario: Scenario) -> World {
        github.add_user("alice", "write");
        github.commit("main", &[("README.md", "# shop\n")], "initial commit", "alice").unwrap();
        let fixture =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/repos").join("nginx-static");
        let files = common::files_of(&fixture);
        let files: Vec<(&str, &str)> =
            files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
        github.commit("add-app", &files, "add the app", "alice").unwrap();
        let pr = github.open_pull_request("add-app", "Add the shop", "alice").unwrap();
        let nomad = FakeNomad::start(scenario).unwrap();
        World { github, nomad, pr, dir: tempfile::tempdir().unwrap() }
    }

    /// Starts `nomad-spec serve` on a port the system picks, for the fake GitHub (as a bot
    /// account's token) with the queue in the fake Nomad.
    fn serve(&self, extra: &[&str]) -> Server {
        self.serve_with_consul(extra, None)
    }

    /// [`World::serve`], with the locks in `consul` when it is given.
    fn serve_with_consul(&self, extra: &[&str], consul: Option<&FakeConsul>) -> Server {
        let mut vars = self.github.vars();
        if let Some(consul) = consul {
            vars.insert("CONSUL_HTTP_ADDR".into(), consul.http_addr());
        }
        vars.remove("GITHUB_REPOSITORY");
        vars.insert("NOMAD_SPEC_GITHUB_WEBHOOK_SECRET".into(), SECRET.into());
        vars.insert("NOMAD_SPEC_BOT_LOGIN".into(), self.github.bot_login());
        vars.insert("NOMAD_ADDR".into(), self.nomad.url());
        Server::start(&vars, extra, self.dir.path())
    }

    fn status_comments(&self) -> Vec<String> {
        self.github
            .bot_comments(self.pr)
            .into_iter()
            .filter(|b| b.contains(STATUS_MARKER))
            .collect()
    }

    fn queued(&self) -> usize {
        self.nomad.variables("nomad-spec/serve/queue/").len()
    }

    /// Waits for the shared queue to be empty (the runs over); panics after a generous bound,
    /// so a hang fails rather than blocks.
    fn wait_for_empty_queue(&self, servers: &[&Server]) {
        wait_until("the queue to empty", servers, || self.queued() == 0);
    }
}

fn wait_until(what: &str, servers: &[&Server], mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > Duration::from_secs(180) {
            let logs: Vec<String> = servers.iter().map(|s| s.log()).collect();
            panic!("gave up waiting for {what}; the servers' logs:\n{}", logs.join("\n----\n"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn deliveries_are_checked_deduplicated_and_a_burst_for_one_pull_request_is_serialized() {
    let world = World::new(Scenario::default());
    let server = world.serve(&["--workers", "4"]);
    assert_eq!(server.get("/healthz").status, 200);
    assert_eq!(server.get("/readyz").status, 200);

    let opened = fresh(&world.github.pull_request_event(world.pr, "opened").unwrap());
    // Forged, unsigned, tampered with, stale: refused, nothing queued.
    let forged = server.post(&opened.0, "d-forged", &opened.1, Some(sign("guess", &opened.1)));
    assert_eq!(forged.status, 401, "{forged:?}");
    let unsigned = server.post(&opened.0, "d-unsigned", &opened.1, None);
    assert_eq!(unsigned.status, 401, "{unsigned:?}");
    let tampered = opened.1.replace("Add the shop", "Add the shoq");
    let answer = server.post(&opened.0, "d-tampered", &tampered, Some(sign(SECRET, &opened.1)));
    assert_eq!(answer.status, 401, "{answer:?}");
    // The fake's own payloads carry 2024's times: a delivery that old is a replay.
    let stale = world.github.pull_request_event(world.pr, "opened").unwrap();
    let answer = server.deliver(&stale, "d-stale");
    assert_eq!(answer.status, 400, "{answer:?}");
    assert!(answer.body.starts_with("stale delivery"), "{answer:?}");
    assert_eq!(server.metric("nomad_spec_deliveries_refused_total"), 4);

    // The burst: the opening, three commands and every one of them delivered twice.
    let mut burst = vec![("d-opened".to_string(), opened)];
    let mut commands = Vec::new();
    for n in 0..3 {
        let id = world.github.post_comment(world.pr, "alice", "/nomad-spec status").unwrap();
        let event = world.github.issue_comment_event(id, "created").unwrap();
        burst.push((format!("d-comment-{n}"), fresh(&event)));
        commands.push(id);
    }
    for (id, event) in &burst {
        let answer = server.deliver(event, id);
        assert_eq!(answer.status, 202, "{answer:?}");
    }
    for (id, event) in &burst {
        let answer = server.deliver(event, id);
        assert_eq!(answer.status, 200, "{answer:?}");
        assert!(answer.body.starts_with("duplicate delivery"), "{answer:?}");
    }
    world.wait_for_empty_queue(&[&server]);
    wait_until("the runs to finish", &[&server], || {
        server.metric("nomad_spec_runs_total") == 4
            && server.metric("nomad_spec_runs_in_flight") == 0
    });

    let statuses = world.status_comments();
    assert_eq!(statuses.len(), 1, "one status comment: {statuses:#?}\n{}", server.log());
    let bot = world.github.bot_login();
    for id in commands {
        let reactions: Vec<_> =
            world.github.reactions(id).into_iter().filter(|r| r.login == bot).collect();
        assert_eq!(reactions.len(), 1, "command {id} answered once: {reactions:?}");
    }
    assert_eq!(server.metric("nomad_spec_deliveries_accepted_total"), 4);
    assert_eq!(server.metric("nomad_spec_deliveries_duplicate_total"), 4);
    let errors = server.get("/metrics").body;
    assert!(!errors.contains("outcome=\"error\""), "{errors}\n{}", server.log());
    // Serialized: each run of this pull request starts (the workflow's `trigger:` line) after
    // the one before it ended (the server's `delivery ... (github:...#N): verdict` line).
    let log = server.log();
    let (mut running, mut runs) = (false, 0);
    for line in log.lines() {
        if line.starts_with("trigger: ") {
            assert!(!running, "a run started while another was running:\n{log}");
            running = true;
            runs += 1;
        } else if line.contains("delivery d-") && line.contains(&format!("#{}): ", world.pr)) {
            running = false;
        }
    }
    assert_eq!(runs, 4, "{log}");

    // SIGTERM: not ready any more, the process finishes and exits 0.
    let mut server = server;
    server.signal("-TERM");
    let status = server.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{}", server.log());
    assert!(server.log().contains("nomad-spec serve: stopped"), "{}", server.log());
}

#[test]
fn a_replica_killed_mid_run_leaves_its_work_to_the_other_which_does_it_once() {
    // Lock seconds last 50 ms: the 10 s TTL and delay Nomad requires take 1.5 s to run out.
    let mut scenario = Scenario::default();
    scenario.timing.lock_second_ms = 50;
    let world = World::new(scenario);
    let options = ["--lock-ttl", "10", "--lock-renew-ms", "100", "--poll-ms", "200"];
    let first = world.serve(&options);

    // GitHub answers the first replica's first calls slowly (rate limited, retried after a
    // second each), so it is surely in the middle of its run when it dies.
    world.github.fail_next(3, "/repos/", Fault::TooManyRequests);
    let opened = fresh(&world.github.pull_request_event(world.pr, "opened").unwrap());
    assert_eq!(first.deliver(&opened, "d-opened").status, 202);
    wait_until("the first replica to hold the lock", &[&first], || {
        world.nomad.variables("nomad-spec/serve/lock/").iter().any(|v| !v["Lock"].is_null())
    });
    let second = world.serve(&options);
    // The same delivery reaching the other replica is recognised from the shared queue.
    let again = second.deliver(&opened, "d-opened");
    assert_eq!(again.status, 200, "{again:?}");
    assert!(world.status_comments().is_empty(), "the first replica had not commented yet");
    let mut first = first;
    first.signal("-KILL");
    let _ = first.child.wait();

    world.wait_for_empty_queue(&[&second]);
    wait_until("the second replica's run", &[&second], || {
        second.metric("nomad_spec_runs_total") == 1
    });
    let statuses = world.status_comments();
    assert_eq!(statuses.len(), 1, "{statuses:#?}\n{}", second.log());
    assert_eq!(second.metric("nomad_spec_runs_started_total"), 1);
    assert!(!second.get("/metrics").body.contains("outcome=\"error\""), "{}", second.log());
    // The lock is free again.
    assert!(world.nomad.variables("nomad-spec/serve/lock/").iter().all(|v| v["Lock"].is_null()));
}

#[test]
fn with_consul_the_locks_are_sessions_and_a_dead_replicas_lapse_to_the_other() {
    // Session seconds last 50 ms: the 10 s TTL (twice, as Consul allows) and the 10 s lock
    // delay take 1.5 s to run out.
    let state =
        ConsulState { lock_second: Some(Duration::from_millis(50)), ..ConsulState::default() };
    let consul = FakeConsul::start(state).unwrap();
    let world = World::new(Scenario::default());
    let options = ["--lock-ttl", "10", "--lock-renew-ms", "100", "--poll-ms", "200"];
    let first = world.serve_with_consul(&options, Some(&consul));

    // GitHub answers the first replica's first calls slowly, so it is surely in the middle of
    // its run when it dies.
    world.github.fail_next(3, "/repos/", Fault::TooManyRequests);
    let opened = fresh(&world.github.pull_request_event(world.pr, "opened").unwrap());
    assert_eq!(first.deliver(&opened, "d-opened").status, 202);
    let held = || {
        consul
            .requests()
            .iter()
            .filter_map(|r| r.strip_prefix("PUT /v1/kv/").map(str::to_string))
            .find(|key| key.starts_with("nomad-spec/serve/lock/"))
            .and_then(|key| consul.lock_holder(&key).map(|holder| (key, holder)))
    };
    wait_until("the first replica to hold the Consul lock", &[&first], || held().is_some());
    let (key, holder) = held().unwrap();
    assert!(holder.starts_with("nomad-spec serve (pid "), "{holder}");
    // Nomad Variables hold the queue, not the lock.
    assert!(world.nomad.variables("nomad-spec/serve/lock/").is_empty());

    let second = world.serve_with_consul(&options, Some(&consul));
    assert_eq!(second.deliver(&opened, "d-opened").status, 200, "queued once, shared");
    assert!(world.status_comments().is_empty(), "the first replica had not commented yet");
    let mut first = first;
    first.signal("-KILL");
    let _ = first.child.wait();

    world.wait_for_empty_queue(&[&second]);
    wait_until("the second replica's run", &[&second], || {
        second.metric("nomad_spec_runs_total") == 1
    });
    let statuses = world.status_comments();
    assert_eq!(statuses.len(), 1, "{statuses:#?}\n{}", second.log());
    assert_eq!(second.metric("nomad_spec_runs_started_total"), 1);
    assert!(!second.get("/metrics").body.contains("outcome=\"error\""), "{}", second.log());
    // The second replica took the key once the dead one's session lapsed, and let it go.
    let takes =
        consul.requests().iter().filter(|r| r.starts_with("PUT /v1/session/create")).count();
    assert!(takes >= 2, "{takes} sessions");
    assert_eq!(consul.lock_holder(&key), None, "released after the run");
    assert_eq!(consul.live_sessions(), 0, "every session ended or lapsed");
}

#[test]
fn two_pull_requests_of_one_repository_merged_at_once_take_turns_to_deploy() {
    let world = World::new(Scenario::default());
    let github = &world.github;
    github.commit("add-docs", &[("docs/shop.md", "# the shop\n")], "add docs", "alice").unwrap();
    let docs = github.open_pull_request("add-docs", "Document the shop", "alice").unwrap();
    github.merge_pull_request(world.pr).unwrap();
    github.merge_pull_request(docs).unwrap();
    let server = world.serve(&["--workers", "4", "--poll-ms", "200"]);
    // GitHub answers slowly at first (rate limited, retried after a second each), so the
    // first run to hold the repository's deploy lock holds it while the other wants it.
    github.fail_next(3, "/repos/", Fault::TooManyRequests);
    for (number, delivery) in [(world.pr, "d-merged-app"), (docs, "d-merged-docs")] {
        let merged = fresh(&github.pull_request_event(number, "closed").unwrap());
        assert_eq!(server.deliver(&merged, delivery).status, 202);
    }
    world.wait_for_empty_queue(&[&server]);
    wait_until("both runs", &[&server], || server.metric("nomad_spec_runs_total") == 2);

    // The locks' history in the fake Nomad: both pull requests were taken up together (each
    // one's lock granted before the first deploy was over), and the repository's deploy lock
    // went to one run at a time.
    let granted: Vec<(String, &str)> = world
        .nomad
        .requests()
        .into_iter()
        .filter(|r| r.status == 200 && r.path.starts_with("/v1/var/nomad-spec/serve/"))
        .filter_map(|r| {
            let operation = ["lock-acquire", "lock-release"].into_iter().find(|op| {
                r.query.split('&').any(|q| q == *op || q.starts_with(&format!("{op}=")))
            })?;
            let what = r.path.trim_start_matches("/v1/var/nomad-spec/serve/");
            Some((what.split('/').next().unwrap_or_default().to_string(), operation))
        })
        .collect();
    let deploys: Vec<&str> =
        granted.iter().filter(|(what, _)| what == "deploy").map(|(_, op)| *op).collect();
    let turns = ["lock-acquire", "lock-release", "lock-acquire", "lock-release"];
    assert_eq!(deploys, turns, "{granted:?}");
    let first_deploy_over =
        granted.iter().position(|g| *g == ("deploy".to_string(), "lock-release")).unwrap();
    let taken_up = granted[..first_deploy_over]
        .iter()
        .filter(|g| **g == ("lock".to_string(), "lock-acquire"))
        .count();
    assert_eq!(taken_up, 2, "both runs in flight during the first deploy: {granted:?}");
    assert_eq!(server.metric("nomad_spec_runs_started_total"), 2);
}

#[test]
fn the_servers_own_job_file_validates_and_is_formatted() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nomad-spec.nomad.hcl");
    let text = std::fs::read_to_string(&file).unwrap();
    for needed in ["count = 2", "path     = \"/healthz\"", "with secret", "kill_signal"] {
        assert!(text.contains(needed), "the job file lacks `{needed}`");
    }
    for args in [&["validate"][..], &["fmt", "--check"][..]] {
        let output = Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
            .args(args)
            .arg(&file)
            .env_remove("NOMAD_ADDR")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "nomad-spec {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn as_a_github_app_the_server_buys_an_installation_token_and_keeps_it() {
    let settings =
        fakes::github::Settings { bot_login: "nomad-spec-test[bot]".into(), ..Default::default() };
    let github = FakeGitHub::start_on("127.0.0.1:0", settings).unwrap();
    let key = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/serve/app-key-pkcs1.pem");
    let pem = std::fs::read_to_string(&key).unwrap();
    github.install_app(4242, "nomad-spec-test", &pem, 77).unwrap();
    let world = World::with(github, Scenario::default());
    // No token, no login, no Nomad: the App's key alone, and the queue in the process.
    let mut vars = world.github.vars();
    for name in ["GITHUB_REPOSITORY", "GITHUB_TOKEN"] {
        vars.remove(name);
    }
    vars.insert("NOMAD_SPEC_GITHUB_WEBHOOK_SECRET".into(), SECRET.into());
    vars.insert("NOMAD_SPEC_GITHUB_APP_ID".into(), "4242".into());
    vars.insert("NOMAD_SPEC_GITHUB_APP_PRIVATE_KEY_FILE".into(), key.display().to_string());
    let server = Server::start(&vars, &[], world.dir.path());

    // The opening names its installation, as an App's deliveries do; the command does not, so
    // the server asks which installation the repository is in.
    let (name, body) = fresh(&world.github.pull_request_event(world.pr, "opened").unwrap());
    let mut opened: serde_json::Value = serde_json::from_str(&body).unwrap();
    opened["installation"] = serde_json::json!({ "id": 77 });
    assert_eq!(server.deliver(&(name, opened.to_string()), "d-app-opened").status, 202);
    wait_until("the opening's run", &[&server], || server.metric("nomad_spec_runs_total") == 1);
    let id = world.github.post_comment(world.pr, "alice", "/nomad-spec status").unwrap();
    let command = fresh(&world.github.issue_comment_event(id, "created").unwrap());
    assert_eq!(server.deliver(&command, "d-app-command").status, 202);
    wait_until("the command's run", &[&server], || server.metric("nomad_spec_runs_total") == 2);

    let metrics = server.get("/metrics").body;
    assert!(!metrics.contains("outcome=\"error\""), "{metrics}\n{}", server.log());
    let statuses = world.status_comments();
    assert_eq!(statuses.len(), 1, "{statuses:#?}\n{}", server.log());
    let author =
        world.github.comments(world.pr).into_iter().find(|c| c.body.contains(STATUS_MARKER));
    assert_eq!(author.map(|c| c.author).as_deref(), Some("nomad-spec-test[bot]"));
    // One installation token for both runs: it is kept until five minutes before it expires.
    assert_eq!(world.github.app_tokens_issued(), 1, "{:#?}", world.github.requests());
    let requests = world.github.requests();
    assert!(requests.iter().any(|r| r == "GET /app"), "{requests:#?}");
    assert!(requests.iter().any(|r| r == "GET /repos/acme/shop/installation"), "{requests:#?}");
}

#[test]
fn gitlab_deliveries_need_the_secret_token_and_are_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed");
    std::fs::create_dir_all(&seed).unwrap();
    std::fs::write(seed.join("README.md"), "# shop\n").unwrap();
    let gitlab = fakes::gitlab::FakeGitLab::start("acme/shop", "main", &seed).unwrap();
    gitlab.add_user("dev", Some(fakes::gitlab::DEVELOPER));
    let (bot, token) = gitlab.add_project_access_token(fakes::gitlab::DEVELOPER);
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/repos/nginx-static");
    let iid = gitlab.open_merge_request("dev", "add-app", &fixture, "Add the shop").unwrap();
    let nomad = FakeNomad::start(Scenario::default()).unwrap();
    let vars: std::collections::BTreeMap<String, String> = [
        ("NOMAD_SPEC_GITLAB_WEBHOOK_TOKEN", "gitlab-hook-secret".to_string()),
        ("NOMAD_SPEC_GITLAB_URL", gitlab.url()),
        ("NOMAD_SPEC_GITLAB_TOKEN", token),
        ("NOMAD_ADDR", nomad.url()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let server = Server::start(&vars, &[], dir.path());
    // GitHub is not configured, so it has no route at all.
    let github = common::serve::request(&server.address, "POST", "/webhooks/github", &[], "{}");
    assert_eq!(github.status, 404, "{github:?}");

    let note = gitlab.post_note("dev", iid, "/nomad-spec status").unwrap();
    let body = gitlab.note_event(note).unwrap();
    let deliver = |secret: &str, uuid: &str| {
        let headers = [
            ("X-Gitlab-Event".to_string(), "Note Hook".to_string()),
            ("X-Gitlab-Token".to_string(), secret.to_string()),
            ("X-Gitlab-Event-UUID".to_string(), uuid.to_string()),
            ("Content-Type".to_string(), "application/json".to_string()),
        ];
        common::serve::request(&server.address, "POST", "/webhooks/gitlab", &headers, &body)
    };
    assert_eq!(deliver("guess", "u-1").status, 401);
    assert_eq!(deliver("gitlab-hook-secret", "u-1").status, 202);
    let replay = deliver("gitlab-hook-secret", "u-1");
    assert_eq!(replay.status, 200, "{replay:?}");
    wait_until("the note's run", &[&server], || server.metric("nomad_spec_runs_total") == 1);

    let metrics = server.get("/metrics").body;
    assert!(!metrics.contains("outcome=\"error\""), "{metrics}\n{}", server.log());
    let statuses: Vec<String> = gitlab
        .notes(iid)
        .into_iter()
        .filter(|(author, body)| *author == bot && body.contains(STATUS_MARKER))
        .map(|(_, body)| body)
        .collect();
    assert_eq!(statuses.len(), 1, "{statuses:#?}\n{}", server.log());
    assert_eq!(server.metric("nomad_spec_runs_started_total"), 1);
}

#[test]
fn sigterm_in_the_middle_of_a_run_finishes_it_before_exiting() {
    let world = World::new(Scenario::default());
    let mut server = world.serve(&[]);
    // Rate limited twice (a second each): the run is surely going on at SIGTERM.
    world.github.fail_next(2, "/repos/", Fault::TooManyRequests);
    let opened = fresh(&world.github.pull_request_event(world.pr, "opened").unwrap());
    assert_eq!(server.deliver(&opened, "d-opened").status, 202);
    wait_until("the run to hold its lock", &[&server], || {
        world.nomad.variables("nomad-spec/serve/lock/").iter().any(|v| !v["Lock"].is_null())
    });
    assert!(world.status_comments().is_empty(), "the run had not commented yet");
    server.signal("-TERM");
    let status = server.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{}", server.log());
    // The run was finished, not cut: its comment is there and its item left the queue.
    assert_eq!(world.status_comments().len(), 1, "{}", server.log());
    assert_eq!(world.queued(), 0, "{}", server.log());
    assert!(server.log().contains("finishing 1 run(s)"), "{}", server.log());
}
