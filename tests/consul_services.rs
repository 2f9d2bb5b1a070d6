//! `nomad-spec generate` with a fake Consul: a dependency found in the catalog becomes a
//! `service` template, unhealthy ones are reported, conventions fill defaults, and bad
//! conventions or an unreachable Consul leave a note while the run goes on.

use std::path::Path;
use std::process::{Command, Output};

use fakes::consul::{ConsulState, FakeConsul};

const KEY: &str = "config/nomad-agent/conventions";

fn analysis() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/generate/app-database.json")
}

/// Runs `generate -o -` on the app-database analysis with `CONSUL_HTTP_ADDR` = `consul`.
fn generate(consul: &str) -> (Output, String, String) {
    generate_with(consul, &[])
}

/// `generate` as above with more arguments.
fn generate_with(consul: &str, args: &[&str]) -> (Output, String, String) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let repo = dir.path().join("shop");
    std::fs::create_dir(&repo).unwrap_or_else(|e| panic!("mkdir: {e}"));
    let out = Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
        .args(["generate", "--no-questions", "-o", "-", "--analysis"])
        .arg(analysis())
        .arg("--path")
        .arg(&repo)
        .args(args)
        .env("CONSUL_HTTP_ADDR", consul)
        .env_remove("CONSUL_HTTP_TOKEN")
        .output()
        .unwrap_or_else(|e| panic!("run: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    (out, stdout, stderr)
}

#[test]
fn a_dependency_in_the_catalog_becomes_a_service_template() {
    let consul = FakeConsul::start(
        ConsulState::default().service("db", 5432, "passing").service("db", 5432, "passing"),
    )
    .unwrap_or_else(|e| panic!("consul: {e}"));
    let (out, stdout, stderr) = generate(&consul.http_addr());
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains(":= service \"db\" }}"), "{stdout}");
    // redis is not in the catalog: it keeps the default lookup.
    assert!(stdout.contains(":= nomadService \"shop-redis\" }}"), "{stdout}");
    assert!(stderr.contains("note: db: found in Consul as `db` (2 of 2 passing)"), "{stderr}");
    assert!(stderr.contains("not deployed: Consul service `db`"), "{stderr}");
    assert!(!stderr.contains("deploy.db = false"), "not asked when found: {stderr}");
    assert!(consul.requests().contains(&"/v1/health/service/db".to_string()));
}

#[test]
fn a_dependency_deployed_here_is_not_taken_from_consul() {
    let consul = FakeConsul::start(ConsulState::default().service("db", 5432, "passing"))
        .unwrap_or_else(|e| panic!("consul: {e}"));
    let (out, stdout, stderr) = generate_with(&consul.http_addr(), &["--set", "deploy.db=true"]);
    assert!(out.status.success(), "{stderr}");
    assert!(!stdout.contains(":= service \"db\""), "{stdout}");
    assert!(stdout.contains(":= nomadService \"shop-db\""), "{stdout}");
}

#[test]
fn an_unhealthy_dependency_is_reported() {
    let consul = FakeConsul::start(ConsulState::default().service("db", 5432, "critical"))
        .unwrap_or_else(|e| panic!("consul: {e}"));
    let (out, stdout, stderr) = generate(&consul.http_addr());
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains(":= service \"db\" }}"), "{stdout}");
    assert!(
        stderr.contains("Consul service `db` has no passing instance (1 registered)"),
        "{stderr}"
    );
    assert!(stderr.contains("db: unhealthy in Consul"), "{stderr}");
}

#[test]
fn conventions_fill_the_datacenters_with_their_reason() {
    let conventions =
        br#"{"datacenters": ["eu-1", "eu-2"], "fabio": {"hostname_suffix": "apps.example.com"}}"#;
    let consul = FakeConsul::start(ConsulState::default().put(KEY, conventions))
        .unwrap_or_else(|e| panic!("consul: {e}"));
    let (out, stdout, stderr) = generate(&consul.http_addr());
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("\"eu-1\", \"eu-2\""), "{stdout}");
    assert!(
        stderr.contains("from Consul conventions (config/nomad-agent/conventions): datacenters"),
        "{stderr}"
    );
    assert!(stderr.contains("from conventions"), "{stderr}");
    // The suffix suggests a public name but does not make the service public.
    assert!(stderr.contains("`web.apps.example.com` follows the hostname suffix"), "{stderr}");
    assert!(!stdout.contains("urlprefix-"), "{stdout}");
}

#[test]
fn malformed_conventions_are_skipped_with_a_clear_note() {
    let cases: [(&[u8], &str); 2] = [
        (
            b"{\n  \"datacenters\": [\"dc1\",\n}",
            "consul kv config/nomad-agent/conventions:3:1: the conventions are not valid",
        ),
        (
            br#"{"fabio": {"suffix": "x"}}"#,
            "unknown field `suffix`, expected `port` or `hostname_suffix`",
        ),
    ];
    for (value, expected) in cases {
        let consul = FakeConsul::start(ConsulState::default().put(KEY, value))
            .unwrap_or_else(|e| panic!("consul: {e}"));
        let (out, stdout, stderr) = generate(&consul.http_addr());
        assert!(out.status.success(), "{stderr}");
        assert!(stdout.contains("job \"shop\""), "{stdout}");
        assert!(stderr.contains("note: Consul conventions skipped: "), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
    }
}

#[test]
fn a_refused_token_and_an_unreachable_consul_leave_notes() {
    let mut state = ConsulState::default().service("db", 5432, "passing");
    state.token = Some("right".into());
    let consul = FakeConsul::start(state).unwrap_or_else(|e| panic!("consul: {e}"));
    let (out, stdout, stderr) = generate(&consul.http_addr());
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("403: Permission denied"), "{stderr}");
    assert!(stderr.contains("service lookup skipped"), "{stderr}");
    assert!(stdout.contains("nomadService \"shop-db\""), "{stdout}");

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        listener.local_addr().unwrap_or_else(|e| panic!("{e}")).to_string()
    };
    let (out, stdout, stderr) = generate(&closed);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("job \"shop\""), "{stdout}");
    assert!(stderr.contains("is not reachable"), "{stderr}");
}
