//! `nomad-spec validate --nomad-version X.Y FILE`: the features a job file uses that the
//! given Nomad version lacks, each with its line, through the real binary.

mod common;

use std::process::Command;

const JOB: &str = r#"job "shop" {
  node_pool = "apps"

  group "web" {
    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name     = "shop"
      port     = "http"
      provider = "nomad"

      check {
        type     = "http"
        path     = "/health"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "web" {
      driver = "docker"

      config {
        image = "shop:1"
        ports = ["http"]
      }

      vault {
        role = "shop"
      }

      secret "db" {
        provider = "vault"
        path     = "kv/shop/db"
      }
    }
  }
}
"#;

fn validate(version: &str, source: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shop.nomad.hcl");
    std::fs::write(&file, source).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
        .current_dir(dir.path())
        .args(["validate", "--nomad-version", version, "shop.nomad.hcl"])
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn each_missing_feature_is_reported_on_its_line() {
    let (code, stdout, _) = validate("1.2", JOB);
    assert_eq!(code, 1, "{stdout}");
    insta::assert_snapshot!(stdout, @r#"
    shop.nomad.hcl:2:15: error: `node_pool` needs Nomad 1.6 or newer; the target is Nomad 1.2.0
    shop.nomad.hcl:14:18: error: Nomad service discovery (`provider = "nomad"`) needs Nomad 1.3 or newer; the target is Nomad 1.2.0
    shop.nomad.hcl:16:7: error: checks on `provider = "nomad"` services needs Nomad 1.4 or newer; the target is Nomad 1.2.0
    shop.nomad.hcl:33:16: error: Vault workload identity (`vault { role }`) needs Nomad 1.7 or newer; the target is Nomad 1.2.0
    shop.nomad.hcl:36:7: error: task `secret` blocks needs Nomad 1.11 or newer; the target is Nomad 1.2.0
    1 file checked: 0 valid, 1 invalid (5 errors, 0 warnings)
    "#);
}

#[test]
fn the_version_decides_what_is_missing() {
    let (code, stdout, _) = validate("1.9", JOB);
    assert_eq!(code, 1);
    assert!(stdout.contains("task `secret` blocks needs Nomad 1.11"), "{stdout}");
    assert!(!stdout.contains("node_pool") && !stdout.contains("role"), "{stdout}");
    let (code, stdout, _) = validate("1.11.0", JOB);
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn extra_hosts_in_a_bridge_group_needs_nomad_1_1_3() {
    let job =
        "job \"shop\" {\n  group \"web\" {\n    network {\n      mode = \"bridge\"\n    }\n\n    \
               task \"web\" {\n      driver = \"docker\"\n\n      config {\n        image       = \
               \"shop:1\"\n        extra_hosts = [\"db:127.0.0.2\"]\n      }\n    }\n  }\n}\n";
    let (code, stdout, _) = validate("1.1.2", job);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(
            "shop.nomad.hcl:12:23: error: docker `extra_hosts` in a bridge-mode group needs Nomad \
             1.1.3 or newer; the target is Nomad 1.1.2"
        ),
        "{stdout}"
    );
    let (code, stdout, _) = validate("1.1.3", job);
    assert_eq!(code, 0, "{stdout}");
    // Outside a bridge-mode group, Docker itself takes the option.
    let (code, stdout, _) = validate("1.0", &job.replace("bridge", "host"));
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn a_bad_version_is_a_usage_error() {
    let (code, _, stderr) = validate("eleven", JOB);
    assert_eq!(code, 2);
    assert!(stderr.contains("`eleven` is not a Nomad version"), "{stderr}");
}

#[test]
fn corpus_jobs_are_checked_against_an_old_version_without_crashing() {
    // Real job files: an old target must give findings (some corpus job uses a newer
    // feature), each with a line, and never a crash.
    let Some(corpus) = common::corpus_dir() else { return };
    let mut found = 0;
    for file in common::corpus_job_files(&corpus) {
        let Ok(source) = std::fs::read_to_string(&file) else { continue };
        let name = file.display().to_string();
        let old = nomad_spec::jobspec::features::NomadFeatures::parse("1.2").unwrap();
        let plain = nomad_spec::jobspec::validate::validate_source(&source, &name);
        let versioned = nomad_spec::jobspec::validate::validate_source_for(&source, &name, &old);
        let extra: Vec<_> = versioned.iter().filter(|d| !plain.contains(d)).collect();
        assert!(extra.iter().all(|d| d.message.contains("needs Nomad")), "{name}: {extra:?}");
        found += extra.len();
    }
    assert!(found > 0, "no corpus job uses a feature newer than Nomad 1.2");
}
