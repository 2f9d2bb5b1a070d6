//! The edits on each target: an HCL file keeps its comments and layout and refuses to
//! overwrite what an expression computes, the API JSON keeps what the model does not know,
//! and every target ends with the same job. The job below is the fixture the fix rules'
//! tests share.

use serde_json::json;

use super::*;
use crate::jobspec::parse::{parse_job_spec, ParseOptions};
use crate::jobspec::{JobSpec, SECOND};

pub(crate) const HCL: &str = r#"# The web front end.
job "web" {
  datacenters = ["dc1"]

  constraint {
    attribute = "${attr.cpu.arch}"
    value     = "arm64" # built for Graviton
  }

  group "app" {
    count = 2

    network {
      port "http" {
        static = 80
        to     = 8080
      }
    }

    update {
      healthy_deadline = "30s"
    }

    service {
      name = "web"
      port = "http"

      check {
        type     = "http"
        path     = "/health" # the framework default
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "server" {
      driver = "docker"

      config {
        image = "ghcr.io/acme/web:1.4"
        ports = ["http"]
      }

      resources {
        cpu    = 200 # MHz
        memory = 256 # MB, measured locally
      }
    }
  }
}
"#;

/// The job of `HCL` as Nomad's API JSON has it, in the typed model.
pub(crate) fn spec() -> JobSpec {
    serde_json::from_value(json!({
        "ID": "web",
        "Constraints": [{"LTarget": "${attr.cpu.arch}", "RTarget": "arm64", "Operand": "="}],
        "TaskGroups": [{
            "Name": "app",
            "Networks": [{"ReservedPorts": [{"Label": "http", "Value": 80, "To": 8080}]}],
            "Update": {"HealthyDeadline": 30_000_000_000i64},
            "Services": [{"Name": "web", "Checks": [{"Type": "http", "Path": "/health"}]}],
            "Tasks": [{"Name": "server", "Driver": "docker",
                       "Resources": {"CPU": 200, "MemoryMB": 256}}]
        }]
    }))
    .unwrap()
}

/// The job of the HCL file above, as the typed model reads it.
pub(crate) fn hcl_spec() -> JobSpec {
    parse_job_spec(HCL, "web.nomad.hcl", &ParseOptions::default()).unwrap()
}

#[test]
fn json_edits_keep_unknown_fields() {
    let mut job = json!({"ID": "web", "Unknown": {"kept": true}, "TaskGroups": [{"Name": "app",
            "Tasks": [{"Name": "server", "LogConfig": {"MaxFiles": 3}, "Resources": {"MemoryMB": 256}}]}]});
    json::apply(
        &mut job,
        &Edit::SetMemory {
            group: "app".into(),
            task: "server".into(),
            memory_mb: 512,
            memory_max_mb: None,
        },
    );
    assert_eq!(job["TaskGroups"][0]["Tasks"][0]["Resources"]["MemoryMB"], 512);
    assert_eq!(job["Unknown"]["kept"], true);
    assert_eq!(job["TaskGroups"][0]["Tasks"][0]["LogConfig"]["MaxFiles"], 3);
}

fn llm_edits() -> Vec<Edit> {
    let (group, task) = (String::from("app"), String::from("server"));
    vec![
        Edit::SetEnv {
            group: group.clone(),
            task: task.clone(),
            name: "APP_ENV".into(),
            value: "production ${not.a.template}".into(),
        },
        Edit::SetImage {
            group: group.clone(),
            task: task.clone(),
            image: "ghcr.io/acme/web:1.5".into(),
        },
        Edit::SetCpu { group: group.clone(), task, cpu_mhz: 500 },
        Edit::SetPortTo { group: group.clone(), label: "http".into(), to: 9090 },
        Edit::SetPortTo { group: group.clone(), label: "metrics".into(), to: 9100 },
        Edit::SetCount { group: group.clone(), count: 3 },
        Edit::AddConstraint {
            group,
            constraint: ConstraintText {
                attribute: "${attr.kernel.name}".into(),
                operator: "=".into(),
                value: "linux".into(),
            },
        },
    ]
}

#[test]
fn every_llm_field_is_written_into_the_file_keeping_comments() {
    let edited = hcl::apply(HCL, "web.nomad.hcl", &llm_edits()).unwrap();
    insta::assert_snapshot!(edited, @r#"
        # The web front end.
        job "web" {
          datacenters = ["dc1"]

          constraint {
            attribute = "${attr.cpu.arch}"
            value     = "arm64" # built for Graviton
          }

          group "app" {
            count = 3

            constraint {
              attribute = "${attr.kernel.name}"
              value     = "linux"
            }

            network {
              port "http" {
                static = 80
                to     = 9090
              }
              port "metrics" {
                to = 9100
              }
            }

            update {
              healthy_deadline = "30s"
            }

            service {
              name = "web"
              port = "http"

              check {
                type     = "http"
                path     = "/health" # the framework default
                interval = "10s"
                timeout  = "2s"
              }
            }

            task "server" {
              driver = "docker"

              config {
                image = "ghcr.io/acme/web:1.5"
                ports = ["http"]
              }

              resources {
                cpu    = 500 # MHz
                memory = 256 # MB, measured locally
              }

              env {
                APP_ENV = "production $${not.a.template}"
              }
            }
          }
        }
        "#);
    // What was written parses back into the job the typed edits make.
    let mut expected = spec();
    for edit in &llm_edits() {
        spec::apply(&mut expected, edit);
    }
    let parsed = crate::jobspec::parse::parse_job_spec(
        &edited,
        "web.nomad.hcl",
        &crate::jobspec::parse::ParseOptions::default(),
    )
    .unwrap();
    let task = &parsed.groups()[0].tasks[0];
    let want = &expected.groups()[0].tasks[0];
    assert_eq!(task.env, want.env);
    assert_eq!(task.config.as_ref().unwrap()["image"], want.config.as_ref().unwrap()["image"]);
    assert_eq!(task.resources.as_ref().unwrap().cpu, Some(500));
    assert_eq!(parsed.groups()[0].count, Some(3));
    assert_eq!(parsed.groups()[0].constraints, expected.groups()[0].constraints);
}

#[test]
fn llm_edits_add_what_a_file_lacks() {
    let source = r#"job "web" {
  group "app" {
    # the only task
    task "server" {
      driver = "docker"
    }
  }
}
"#;
    let edits = vec![
        Edit::SetCount { group: "app".into(), count: 2 },
        Edit::SetPortTo { group: "app".into(), label: "http".into(), to: 8080 },
        Edit::SetEnv {
            group: "app".into(),
            task: "server".into(),
            name: "APP_ENV".into(),
            value: "production".into(),
        },
    ];
    insta::assert_snapshot!(hcl::apply(source, "web.nomad.hcl", &edits).unwrap(), @r#"
        job "web" {
          group "app" {
            count = 2
            network {
              port "http" {
                to = 8080
              }
            }
            # the only task
            task "server" {
              driver = "docker"
              env {
                APP_ENV = "production"
              }
            }
          }
        }
        "#);
}

#[test]
fn a_new_attribute_lines_up_with_its_neighbours() {
    let source = r#"job "web" {
  group "app" {
    task "server" {
      env {
        LOG_LEVEL = "info" # quiet
        DATABASE_HOST = "db"
      }
      env_two {
        LOG_LEVEL     = "info"
        DATABASE_HOST = "db"
      }
    }
  }
}
"#;
    let set = |name: &str| Edit::SetEnv {
        group: "app".into(),
        task: "server".into(),
        name: name.into(),
        value: "x".into(),
    };
    // Not aligned: the new line gets one space.
    let edited = hcl::apply(source, "web.nomad.hcl", &[set("APP_ENV")]).unwrap();
    assert!(edited.contains("        DATABASE_HOST = \"db\"\n        APP_ENV = \"x\"\n"));
    // Aligned: the new line joins the column; a longer name does not move the others.
    let aligned = source.replace("LOG_LEVEL = \"info\" # quiet", "LOG_LEVEL     = \"info\"");
    let edited = hcl::apply(&aligned, "web.nomad.hcl", &[set("APP_ENV")]).unwrap();
    assert!(edited.contains("        DATABASE_HOST = \"db\"\n        APP_ENV       = \"x\"\n"));
    let edited = hcl::apply(&aligned, "web.nomad.hcl", &[set("A_VERY_LONG_NAME")]).unwrap();
    assert!(edited.contains("        LOG_LEVEL     = \"info\"\n"), "{edited}");
    assert!(edited.contains("        A_VERY_LONG_NAME = \"x\"\n"), "{edited}");
}

#[test]
fn llm_edits_refuse_values_from_expressions() {
    let cases = [
        ("image = \"ghcr.io/acme/web:1.4\"", "image = var.image", "image is set by"),
        ("image = \"ghcr.io/acme/web:1.4\"", "image = \"web:${var.tag}\"", "image is set by"),
        ("cpu    = 200", "cpu    = var.cpu", "cpu is set by"),
        ("count = 2", "count = var.count", "count is set by"),
    ];
    for (from, to, expected) in cases {
        let source = HCL.replace(from, to);
        let err = hcl::apply(&source, "web.nomad.hcl", &llm_edits()).unwrap_err();
        assert!(err.to_string().contains(expected), "{to}: {err}");
    }
    let source = HCL.replace("driver = \"docker\"", "driver = \"docker\"\n      env = var.env");
    let err = hcl::apply(&source, "web.nomad.hcl", &llm_edits()).unwrap_err();
    assert!(err.to_string().contains("env of task \"server\" as an expression"), "{err}");
}

#[test]
fn llm_edits_change_the_api_json_like_the_typed_job() {
    let mut job = serde_json::to_value(spec()).unwrap();
    job["Unknown"] = json!({"kept": true});
    let mut typed = spec();
    for edit in &llm_edits() {
        json::apply(&mut job, edit);
        spec::apply(&mut typed, edit);
    }
    let mut expected = serde_json::to_value(&typed).unwrap();
    expected["Unknown"] = json!({"kept": true});
    // The JSON side writes Nomad's explicit `Value: 0` for a new dynamic port.
    let new_port = &mut job["TaskGroups"][0]["Networks"][0]["DynamicPorts"][0];
    assert_eq!(new_port["Value"], 0);
    new_port.as_object_mut().unwrap().remove("Value");
    assert_eq!(job, expected);
}

#[test]
fn new_blocks_and_one_line_blocks_are_laid_out_like_their_neighbours() {
    let source = r#"job "web" {
  group "app" {
    network {
      port "http" { static = 80 }
    }
    task "server" {
      driver = "docker"
    }
  }
}
"#;
    let edits = vec![
        Edit::PortToDynamic { group: "app".into(), label: "http".into(), to: 80 },
        Edit::SetMemory {
            group: "app".into(),
            task: "server".into(),
            memory_mb: 512,
            memory_max_mb: Some(1024),
        },
        Edit::SetHealthyDeadline {
            group: "app".into(),
            healthy_deadline: 120 * SECOND,
            progress_deadline: None,
        },
    ];
    insta::assert_snapshot!(hcl::apply(source, "web.nomad.hcl", &edits).unwrap(), @r#"
        job "web" {
          group "app" {
            network {
              port "http" { to = 80 }
            }
            task "server" {
              driver = "docker"
              resources {
                memory = 512
                memory_max = 1024
              }
            }
            update {
              healthy_deadline = "2m"
            }
          }
        }
        "#);
}
