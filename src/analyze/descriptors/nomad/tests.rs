//! Tests of the Nomad job reader, on hand-written jobs and on the shared corpus.

use super::*;
use crate::analyze::manifest::tests::corpus;
use crate::analyze::EnvVar;

const JOB: &str = r#"variable "tag" {
  default = "1.0"
}

job "shop" {
  datacenters = ["dc1"]

  group "web" {
    network {
      port "http" {
        to = 8080
      }
      port "metrics" {}
    }

    service {
      name = "shop-web"
      port = "http"

      check {
        type     = "http"
        path     = "/healthz"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "server" {
      driver = "docker"

      config {
        image   = "ghcr.io/acme/shop:${var.tag}"
        ports   = ["http", "metrics"]
        command = "/app/shop"
        args    = ["serve", "--port", "8080"]
      }

      env {
        LOG_LEVEL   = "info"
        DB_PASSWORD = "do-not-leak"
        PORT        = "${NOMAD_PORT_http}"
      }

      resources {
        cpu        = 300
        memory     = 512
        memory_max = 1024
      }
    }
  }
}
"#;

fn read(text: &str) -> (Vec<DescribedService>, Vec<Note>) {
    let mut notes = Vec::new();
    let services = read_job(text, "deploy/shop.nomad.hcl", &mut notes);
    (services, notes)
}

#[test]
fn a_complete_job() {
    let (services, notes) = read(JOB);
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(services.len(), 1);
    let shop = &services[0];
    assert_eq!(
        (shop.name.as_str(), shop.dir.as_str(), shop.kind.as_str()),
        ("server", "deploy", "nomad job")
    );
    assert_eq!(shop.image.as_deref(), Some("ghcr.io/acme/shop:${var.tag}"));
    assert_eq!(shop.ports, [Port { container: 8080, published: None, protocol: Protocol::Http }]);
    assert_eq!(
        shop.health,
        Some(Health { kind: HealthKind::Http, path: Some("/healthz".into()), port: None })
    );
    assert_eq!(
        shop.env,
        [
            EnvVar {
                name: "LOG_LEVEL".into(),
                secret: false,
                default: Some("info".into()),
                ..EnvVar::default()
            },
            EnvVar { name: "DB_PASSWORD".into(), secret: true, default: None, ..EnvVar::default() },
            EnvVar {
                name: "PORT".into(),
                secret: false,
                default: Some("${NOMAD_PORT_http}".into()),
                ..EnvVar::default()
            },
        ]
    );
    let resources = shop.resources.clone().expect("resources");
    assert_eq!((resources.cpu, resources.memory), (300, 512));
    assert!(resources.reason.contains("memory_max 1024 MB"), "{}", resources.reason);
    assert_eq!(
        shop.command,
        Some(["/app/shop", "serve", "--port", "8080"].map(String::from).to_vec())
    );
    assert!(!format!("{services:?}").contains("do-not-leak"));
    let lines: Vec<(Option<u32>, &str)> =
        shop.evidence.iter().map(|e| (e.line, e.what.as_str())).collect();
    assert_eq!(lines[0], (Some(28), "Nomad job shop, group web, task server"));
    assert!(lines.contains(&(Some(10), "port http → container 8080")), "{lines:?}");
    assert!(
        lines.contains(&(Some(13), "port metrics is dynamic (the app reads NOMAD_PORT_metrics)")),
        "{lines:?}"
    );
    assert!(lines.contains(&(Some(17), "registers service shop-web")), "{lines:?}");
}

#[test]
fn malformed_and_odd_jobs() {
    let (services, notes) =
        read("job \"x\" {\n  group \"g\" {\n    task \"t\" {\n      driver = \n");
    assert!(services.is_empty());
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].line, Some(4), "{notes:?}");
    assert!(
        notes[0].message.starts_with("not valid HCL, Nomad job skipped: invalid expression"),
        "{notes:?}"
    );

    let variable_image = "job \"v\" {\n  group \"g\" {\n    task \"t\" {\n      driver = \"docker\"\n      config {\n        image = var.image\n      }\n    }\n  }\n}\n";
    let (services, notes) = read(variable_image);
    assert!(notes.is_empty());
    assert_eq!(services[0].image, None);
    assert!(services[0].evidence.iter().any(|e| e.what.contains("from an expression")));

    let (services, notes) = read("");
    assert!(services.is_empty() && notes.is_empty());
}

#[test]
fn job_detection() {
    assert!(looks_like_job("job \"x\" {\n}"));
    assert!(looks_like_job("# c\n  job \"x\" {\n}"));
    assert!(!looks_like_job("terraform {\n}\nresource \"nomad_job\" \"x\" {}\n"));
}

#[test]
fn corpus_jobs() {
    let Some(corpus) = corpus() else { return };
    let jobs = corpus.join("nomad-jobs");
    let memcached = std::fs::read_to_string(jobs.join("brucellino+nomad-jobs/memcached.nomad"));
    let memcached = memcached.unwrap_or_else(|e| panic!("corpus memcached.nomad: {e}"));
    let mut notes = Vec::new();
    let services = read_job(&memcached, "memcached.nomad", &mut notes);
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(services.len(), 1);
    assert_eq!(services[0].image.as_deref(), Some("docker.io/memcached:${var.memcached_version}"));
    assert_eq!(
        services[0].ports,
        [Port { container: 11211, published: None, protocol: Protocol::Tcp }]
    );
    assert_eq!(services[0].health, Some(Health { kind: HealthKind::Tcp, path: None, port: None }));
    assert_eq!(services[0].resources.as_ref().map(|r| (r.cpu, r.memory)), Some((1000, 200)));

    let web = std::fs::read_to_string(
        jobs.join("hashicorp-education+learn-nomad-getting-started/jobs/pytechco-web.nomad.hcl"),
    );
    let web = web.unwrap_or_else(|e| panic!("corpus pytechco-web: {e}"));
    let services = read_job(&web, "pytechco-web.nomad.hcl", &mut notes);
    assert_eq!(
        services[0].ports,
        [Port { container: 5000, published: None, protocol: Protocol::Http }]
    );
    assert!(services[0]
        .evidence
        .iter()
        .any(|e| e.what.starts_with("env rendered from a template")));

    // Every job file of the corpus reads without a panic; unreadable ones give a note.
    let mut stack = vec![jobs];
    let mut read_files = 0;
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            if !looks_like_job(&text) {
                continue;
            }
            let mut notes = Vec::new();
            let services = read_job(&text, "job.nomad", &mut notes);
            assert!(
                !services.is_empty() || !notes.is_empty() || !text.contains("task \""),
                "{path:?}"
            );
            assert!(notes.is_empty(), "{path:?}: {notes:?}");
            read_files += 1;
        }
    }
    assert!(read_files > 100, "only {read_files} corpus jobs");
}
