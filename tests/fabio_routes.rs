//! `nomad-spec check` against a fake Fabio: each conflict type fails the routes check with
//! the tag's line, an update of the job's own route passes, the text table is skipped.

use std::path::Path;
use std::process::Command;

use fakes::fabio::{FabioState, FakeFabio};

const JOB: &str = r#"job "shop" {
  datacenters = ["dc1"]
  group "web" {
    network {
      port "http" { to = 8080 }
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
    }
  }
}
"#;

/// Runs `check --format json` on JOB against a fake Fabio; returns exit code and results.
fn check(fabio: &FakeFabio, extra_env: &[(&str, &str)]) -> (i32, serde_json::Value, String) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let file = dir.path().join("shop.nomad.hcl");
    std::fs::write(&file, JOB).unwrap_or_else(|e| panic!("write: {e}"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_nomad-spec"));
    command
        .current_dir(dir.path())
        .args(["check", "--format", "json"])
        .arg(Path::new("shop.nomad.hcl"))
        .env("FABIO_ADMIN_ADDR", fabio.url())
        .env_remove("NOMAD_ADDR")
        .env_remove("CONSUL_HTTP_ADDR")
        .env_remove("VAULT_ADDR");
    for (k, v) in extra_env {
        command.env(k, v);
    }
    let out = command.output().unwrap_or_else(|e| panic!("run: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let json = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap_or(-1), json, stdout)
}

fn routes_result(json: &serde_json::Value) -> serde_json::Value {
    json.as_array()
        .and_then(|a| a.iter().find(|r| r["name"] == "nomad-spec/routes"))
        .cloned()
        .unwrap_or(serde_json::Value::Null)
}

#[test]
fn each_conflict_type_fails_with_the_tag_line() {
    let cases = [
        ("shop.example.com/", "duplicates the route `shop.example.com/` of `legacy`"),
        ("shop.example.com/api", "overlaps the route `shop.example.com/api` of `legacy`"),
        ("shop.example.com", "overlaps the route"), // no path: "" is a prefix of "/"
    ];
    for (src, expected) in cases {
        let fabio = FakeFabio::start(FabioState::default().route("legacy", src))
            .unwrap_or_else(|e| panic!("fabio: {e}"));
        let (code, json, stdout) = check(&fabio, &[]);
        let routes = routes_result(&json);
        assert_eq!(code, 1, "{src}: {stdout}");
        assert_eq!(routes["status"], "failure", "{src}: {stdout}");
        let annotation = &routes["annotations"][0];
        assert_eq!(annotation["line"], 10, "{stdout}");
        let message = annotation["message"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{src}: {message}");
    }
}

#[test]
fn hostname_collision_fails_and_suggests_a_free_name() {
    let fabio = FakeFabio::start(FabioState::default().route("legacy", "shop.example.com/v1/"))
        .unwrap_or_else(|e| panic!("fabio: {e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    // The routes check reads `.nomad-spec.toml` of the working directory for the suffix.
    std::fs::write(
        dir.path().join(".nomad-spec.toml"),
        "[fabio]\nhostname_suffix = \"apps.example.com\"\n",
    )
    .unwrap_or_else(|e| panic!("write: {e}"));
    std::fs::write(dir.path().join("job.hcl"), JOB.replace("example.com/", "example.com/shop"))
        .unwrap_or_else(|e| panic!("write: {e}"));
    let out = Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
        .current_dir(dir.path())
        .args(["check", "job.hcl"])
        .env("FABIO_ADMIN_ADDR", fabio.url())
        .env_remove("NOMAD_ADDR")
        .env_remove("CONSUL_HTTP_ADDR")
        .output()
        .unwrap_or_else(|e| panic!("run: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("nomad-spec/routes: FAILED"), "{stdout}");
    assert!(
        stdout.contains("job.hcl:10:15: error: route tag `urlprefix-shop.example.com/shop` of `shop-web` uses host `shop.example.com`, already routed to `legacy`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("a free host name: `urlprefix-shop-web.apps.example.com/shop`"),
        "{stdout}"
    );
}

#[test]
fn a_route_of_the_same_service_is_an_update() {
    let fabio = FakeFabio::start(
        FabioState::default()
            .route("shop-web", "shop.example.com/")
            .route("shop-web", "shop.example.com/")
            .route("other", "other.example.com/"),
    )
    .unwrap_or_else(|e| panic!("fabio: {e}"));
    let (code, json, stdout) = check(&fabio, &[]);
    let routes = routes_result(&json);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(routes["status"], "success", "{stdout}");
    assert_eq!(routes["annotations"], serde_json::json!([]), "{stdout}");
    assert!(routes["summary"].as_str().unwrap_or_default().contains("update"), "{stdout}");
}

#[test]
fn lenient_mode_reports_without_failing() {
    let fabio = FakeFabio::start(FabioState::default().route("legacy", "shop.example.com/"))
        .unwrap_or_else(|e| panic!("fabio: {e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    std::fs::write(dir.path().join("job.hcl"), JOB).unwrap_or_else(|e| panic!("write: {e}"));
    let out = Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
        .current_dir(dir.path())
        .args(["check", "--lenient-routes", "job.hcl"])
        .env("FABIO_ADMIN_ADDR", fabio.url())
        .env_remove("NOMAD_ADDR")
        .env_remove("CONSUL_HTTP_ADDR")
        .output()
        .unwrap_or_else(|e| panic!("run: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("job.hcl:10:15: warning: route tag"), "{stdout}");
}

#[test]
fn the_text_table_is_skipped_with_a_clear_message() {
    let mut state = FabioState::default().route("legacy", "shop.example.com/");
    state.text_table = true;
    let fabio = FakeFabio::start(state).unwrap_or_else(|e| panic!("fabio: {e}"));
    let (code, json, stdout) = check(&fabio, &[]);
    let routes = routes_result(&json);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(routes["status"], "skipped", "{stdout}");
    let summary = routes["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("text table instead of JSON"), "{summary}");
}

#[test]
fn the_suggested_host_name_follows_consuls_conventions() {
    let fabio = FakeFabio::start(
        FabioState::default()
            .route("legacy", "shop.example.com/")
            .route("someone", "shop-web.apps.example.com/"),
    )
    .unwrap_or_else(|e| panic!("fabio: {e}"));
    let consul = fakes::consul::FakeConsul::start(fakes::consul::ConsulState::default().put(
        "config/nomad-agent/conventions",
        br#"{"fabio": {"hostname_suffix": "apps.example.com"}}"#,
    ))
    .unwrap_or_else(|e| panic!("consul: {e}"));
    let (code, json, stdout) = check(&fabio, &[("CONSUL_HTTP_ADDR", &consul.http_addr())]);
    assert_eq!(code, 1, "{stdout}");
    let message =
        routes_result(&json)["annotations"][0]["message"].as_str().unwrap_or_default().to_string();
    // shop-web.apps.example.com is taken: the next free name is offered.
    assert!(
        message.ends_with("a free host name: `urlprefix-shop-web-2.apps.example.com/`"),
        "{message}"
    );
}
