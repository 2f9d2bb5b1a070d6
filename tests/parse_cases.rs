//! Job file features → Nomad API JSON, one small file per feature, with the JSON it must
//! produce as an inline snapshot (field names and values as `nomad job run -output` has them).

use nomad_spec::jobspec::parse::{parse_job, parse_job_spec, ParseOptions};

/// Parses `source` with `-var` values and var files (written to a temporary directory).
fn parse(source: &str, vars: &[(&str, &str)], var_files: &[(&str, &str)]) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut files = Vec::new();
    for (name, text) in var_files {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("a var file");
        files.push(path);
    }
    let options = ParseOptions {
        vars: vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        var_files: files,
    };
    let job = match parse_job(source, "job.nomad.hcl", &options) {
        Ok(job) => job,
        Err(diags) => panic!("the job does not parse: {diags:#?}"),
    };
    if let Err(diags) = parse_job_spec(source, "job.nomad.hcl", &options) {
        panic!("the job does not fit JobSpec: {diags:#?}");
    }
    job
}

#[test]
fn network_ports_split_into_reserved_and_dynamic() {
    let source = r##"job "web" {
  group "app" {
    network {
      mode = "bridge"

      port "http" {
        to = 8080
      }

      port "admin" {
        static       = 9000
        host_network = "private"
      }
    }

    task "server" {
      driver = "docker"
    }
  }
}
"##;
    let job = parse(source, &[], &[]);
    insta::assert_json_snapshot!(job, @r##"
{
  "ID": "web",
  "Name": "web",
  "TaskGroups": [
    {
      "Name": "app",
      "Tasks": [
        {
          "Name": "server",
          "Driver": "docker"
        }
      ],
      "Networks": [
        {
          "Mode": "bridge",
          "DynamicPorts": [
            {
              "Label": "http",
              "To": 8080
            }
          ],
          "ReservedPorts": [
            {
              "Label": "admin",
              "Value": 9000,
              "HostNetwork": "private"
            }
          ]
        }
      ]
    }
  ]
}
"##);
}

#[test]
fn durations_become_nanoseconds() {
    let source = r##"job "web" {
  update {
    max_parallel      = 1
    min_healthy_time  = "10s"
    healthy_deadline  = "1h30m"
    progress_deadline = "2h"
    auto_revert       = true
    stagger           = "250ms"
  }

  group "app" {
    restart {
      attempts = 2
      interval = "30m"
      delay    = "15s"
      mode     = "fail"
    }

    reschedule {
      delay          = "30s"
      delay_function = "exponential"
      max_delay      = "1h"
      unlimited      = true
    }

    task "server" {
      driver       = "exec"
      kill_timeout = "20s"
    }
  }
}
"##;
    let job = parse(source, &[], &[]);
    insta::assert_json_snapshot!(job, @r##"
{
  "ID": "web",
  "Name": "web",
  "TaskGroups": [
    {
      "Name": "app",
      "Tasks": [
        {
          "Name": "server",
          "Driver": "exec",
          "KillTimeout": 20000000000
        }
      ],
      "RestartPolicy": {
        "Interval": 1800000000000,
        "Attempts": 2,
        "Delay": 15000000000,
        "Mode": "fail"
      },
      "ReschedulePolicy": {
        "Delay": 30000000000,
        "DelayFunction": "exponential",
        "MaxDelay": 3600000000000,
        "Unlimited": true
      }
    }
  ],
  "Update": {
    "Stagger": 250000000,
    "MaxParallel": 1,
    "MinHealthyTime": 10000000000,
    "HealthyDeadline": 5400000000000,
    "ProgressDeadline": 7200000000000,
    "AutoRevert": true
  }
}
"##);
}

#[test]
fn driver_config_blocks_become_lists_of_maps() {
    let source = r##"job "web" {
  group "app" {
    task "server" {
      driver = "docker"

      config {
        image   = "registry.example.com/web:1.2"
        ports   = ["http"]
        args    = ["--port", "${NOMAD_PORT_http}"]
        labels  = { team = "web" }
        command = "/app"

        auth {
          username = "bot"
          password = "hunter2"
        }

        port_map {
          http = 8080
        }

        mount {
          type   = "bind"
          source = "local/conf"
          target = "/etc/app"
        }

        mount {
          type   = "tmpfs"
          target = "/tmp"
        }

        logging {
          type = "journald"

          config {
            tag = "web"
          }
        }
      }
    }
  }
}
"##;
    let job = parse(source, &[], &[]);
    insta::assert_json_snapshot!(job, @r##"
{
  "ID": "web",
  "Name": "web",
  "TaskGroups": [
    {
      "Name": "app",
      "Tasks": [
        {
          "Name": "server",
          "Driver": "docker",
          "Config": {
            "args": [
              "--port",
              "${NOMAD_PORT_http}"
            ],
            "auth": [
              {
                "password": "hunter2",
                "username": "bot"
              }
            ],
            "command": "/app",
            "image": "registry.example.com/web:1.2",
            "labels": [
              {
                "team": "web"
              }
            ],
            "logging": [
              {
                "config": [
                  {
                    "tag": "web"
                  }
                ],
                "type": "journald"
              }
            ],
            "mount": [
              {
                "source": "local/conf",
                "target": "/etc/app",
                "type": "bind"
              },
              {
                "target": "/tmp",
                "type": "tmpfs"
              }
            ],
            "port_map": [
              {
                "http": 8080
              }
            ],
            "ports": [
              "http"
            ]
          }
        }
      ]
    }
  ]
}
"##);
}

#[test]
fn templates_get_nomads_defaults() {
    let source = r##"job "web" {
  group "app" {
    task "server" {
      driver = "docker"

      template {
        data            = <<-EOT
          DB_URL={{ with secret "kv/data/web" }}{{ .Data.data.url }}{{ end }}
          PORT=${NOMAD_PORT_http}
          EOT
        destination     = "secrets/app.env"
        env             = true
        change_mode     = "signal"
        change_signal   = "SIGHUP"
        left_delimiter  = "[["
        right_delimiter = "]]"
      }

      template {
        source      = "local/in.tpl"
        destination = "local/out.conf"
        splay       = "1m"
        perms       = "0600"

        wait {
          min = "2s"
          max = "10s"
        }
      }
    }
  }
}
"##;
    let job = parse(source, &[], &[]);
    insta::assert_json_snapshot!(job, @r##"
{
  "ID": "web",
  "Name": "web",
  "TaskGroups": [
    {
      "Name": "app",
      "Tasks": [
        {
          "Name": "server",
          "Driver": "docker",
          "Templates": [
            {
              "DestPath": "secrets/app.env",
              "EmbeddedTmpl": "DB_URL={{ with secret \"kv/data/web\" }}{{ .Data.data.url }}{{ end }}\nPORT=${NOMAD_PORT_http}\n",
              "ChangeMode": "signal",
              "ChangeSignal": "SIGHUP",
              "LeftDelim": "[[",
              "RightDelim": "]]",
              "Envvars": true,
              "Perms": "0644",
              "Splay": 5000000000,
              "ErrMissingKey": false
            },
            {
              "SourcePath": "local/in.tpl",
              "DestPath": "local/out.conf",
              "Splay": 60000000000,
              "Perms": "0600",
              "Wait": {
                "Min": 2000000000,
                "Max": 10000000000
              },
              "ChangeMode": "restart",
              "ErrMissingKey": false
            }
          ]
        }
      ]
    }
  ]
}
"##);
}

#[test]
fn resources_use_the_api_names() {
    let source = r##"job "web" {
  group "app" {
    task "server" {
      driver = "docker"

      resources {
        cpu        = 500
        memory     = 256
        memory_max = 512

        device "nvidia/gpu" {
          count = 1

          constraint {
            attribute = "${device.attr.memory}"
            operator  = ">="
            value     = "2 GiB"
          }
        }
      }
    }
  }
}
"##;
    let job = parse(source, &[], &[]);
    insta::assert_json_snapshot!(job, @r##"
{
  "ID": "web",
  "Name": "web",
  "TaskGroups": [
    {
      "Name": "app",
      "Tasks": [
        {
          "Name": "server",
          "Driver": "docker",
          "Resources": {
            "CPU": 500,
            "MemoryMB": 256,
            "MemoryMaxMB": 512,
            "Devices": [
              {
                "Name": "nvidia/gpu",
                "Count": 1,
                "Constraints": [
                  {
                    "LTarget": "${device.attr.memory}",
                    "RTarget": "2 GiB",
                    "Operand": ">="
                  }
                ]
              }
            ]
          }
        }
      ]
    }
  ]
}
"##);
}

#[test]
fn variables_locals_and_functions() {
    let source = r##"variable "image" {
  type    = string
  default = "nginx"
}

variable "tag" {
  type = string
}

variable "replicas" {
  type    = number
  default = 1
}

variable "datacenters" {
  type    = list(string)
  default = ["dc1"]
}

variable "labels" {
  type    = map(string)
  default = { team = "web" }
}

locals {
  # A local may use one defined after it.
  reference = "${local.repository}:${var.tag}"
  repository = "registry.example.com/${upper(var.image)}"
}

job "web" {
  datacenters = var.datacenters
  namespace   = lower("PROD")

  meta = merge(var.labels, { "build.sha" = format("%s-%03d", "abc", 7) })

  group "app" {
    count = var.replicas * 2

    task "server" {
      driver = "docker"

      config {
        image = local.reference
        args  = split(",", join(",", concat(["a"], ["b", "c"])))
      }

      env {
        LOOKUP  = lookup(var.labels, "team", "none")
        JSON    = jsonencode({ port = 8080, tls = false })
        TRIMMED = trimspace("  x  ")
        REPLICA = tostring(var.replicas)
        COND    = var.replicas > 1 ? "many" : "one"
        FIRST   = element(var.datacenters, 0)
        KEYS    = join(",", keys(var.labels))
        COUNT   = length(var.datacenters)
        FOR     = join(",", [for dc in var.datacenters : upper(dc)])
        REPLACE = replace("a-b", "-", "_")
        COALESCE = coalesce("", "fallback")
      }
    }
  }
}
"##;
    let job = parse(
        source,
        &[("tag", r#"1.27"#), ("replicas", r#"2"#)],
        &[(
            "dc.hcl",
            r#"datacenters = ["eu-west", "eu-east"]
"#,
        )],
    );
    insta::assert_json_snapshot!(job, @r##"
{
  "ID": "web",
  "Name": "web",
  "Namespace": "prod",
  "Datacenters": [
    "eu-west",
    "eu-east"
  ],
  "TaskGroups": [
    {
      "Name": "app",
      "Count": 4,
      "Tasks": [
        {
          "Name": "server",
          "Driver": "docker",
          "Config": {
            "args": [
              "a",
              "b",
              "c"
            ],
            "image": "registry.example.com/NGINX:1.27"
          },
          "Env": {
            "COALESCE": "fallback",
            "COND": "many",
            "COUNT": "2",
            "FIRST": "eu-west",
            "FOR": "EU-WEST,EU-EAST",
            "JSON": "{\"port\":8080,\"tls\":false}",
            "KEYS": "team",
            "LOOKUP": "web",
            "REPLACE": "a_b",
            "REPLICA": "2",
            "TRIMMED": "x"
          }
        }
      ]
    }
  ],
  "Meta": {
    "build.sha": "abc-007",
    "team": "web"
  }
}
"##);
}

#[test]
fn runtime_interpolations_and_escapes_survive() {
    let source = r##"job "web" {
  group "app" {
    task "server" {
      driver = "docker"

      env {
        PORT      = "${NOMAD_PORT_http}"
        ADDR      = "${NOMAD_IP_http}:${NOMAD_PORT_http}"
        ARCH      = "${attr.cpu.arch}"
        DC        = "${node.datacenter}"
        META      = "${meta.rack}"
        HOME_ENV  = "${env["HOME"]}"
        ALLOC_DIR = "${NOMAD_ALLOC_DIR}/data"
        BARE      = attr.unique.hostname
        ESCAPED   = "$${not_interpolated} and %%{not_a_directive}"
        LITERAL   = "quote \" brace } dollar $ newline \n end"
      }

      template {
        destination = "local/run.sh"
        data        = <<EOF
#!/bin/sh
exec app --listen ${NOMAD_ADDR_http} --dir $${HOME} {{ env "NOMAD_TASK_NAME" }}
EOF
      }
    }
  }
}
"##;
    let job = parse(source, &[], &[]);
    insta::assert_json_snapshot!(job, @r##"
{
  "ID": "web",
  "Name": "web",
  "TaskGroups": [
    {
      "Name": "app",
      "Tasks": [
        {
          "Name": "server",
          "Driver": "docker",
          "Env": {
            "ADDR": "${NOMAD_IP_http}:${NOMAD_PORT_http}",
            "ALLOC_DIR": "${NOMAD_ALLOC_DIR}/data",
            "ARCH": "${attr.cpu.arch}",
            "BARE": "${attr.unique.hostname}",
            "DC": "${node.datacenter}",
            "ESCAPED": "${not_interpolated} and %{not_a_directive}",
            "HOME_ENV": "${env[\"HOME\"]}",
            "LITERAL": "quote \" brace } dollar $ newline \n end",
            "META": "${meta.rack}",
            "PORT": "${NOMAD_PORT_http}"
          },
          "Templates": [
            {
              "DestPath": "local/run.sh",
              "EmbeddedTmpl": "#!/bin/sh\nexec app --listen ${NOMAD_ADDR_http} --dir ${HOME} {{ env \"NOMAD_TASK_NAME\" }}\n",
              "ChangeMode": "restart",
              "Perms": "0644",
              "Splay": 5000000000,
              "ErrMissingKey": false
            }
          ]
        }
      ]
    }
  ]
}
"##);
}

#[test]
fn constraint_shortcuts_set_the_operator() {
    let source = r##"job "web" {
  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }

  constraint {
    distinct_hosts = true
  }

  constraint {
    attribute = "${attr.nomad.version}"
    version   = ">= 1.7"
  }

  constraint {
    attribute = "${meta.zone}"
    regexp    = "^eu-"
  }

  constraint {
    distinct_property = "${meta.rack}"
    value             = "2"
  }

  affinity {
    attribute = "${node.datacenter}"
    value     = "dc1"
    weight    = 50
  }

  group "app" {
    task "server" {
      driver = "exec"
    }
  }
}
"##;
    let job = parse(source, &[], &[]);
    insta::assert_json_snapshot!(job, @r##"
{
  "ID": "web",
  "Name": "web",
  "Constraints": [
    {
      "LTarget": "${attr.kernel.name}",
      "RTarget": "linux",
      "Operand": "="
    },
    {
      "Operand": "distinct_hosts",
      "RTarget": "true"
    },
    {
      "LTarget": "${attr.nomad.version}",
      "Operand": "version",
      "RTarget": ">= 1.7"
    },
    {
      "LTarget": "${meta.zone}",
      "Operand": "regexp",
      "RTarget": "^eu-"
    },
    {
      "RTarget": "2",
      "Operand": "distinct_property",
      "LTarget": "${meta.rack}"
    }
  ],
  "Affinities": [
    {
      "LTarget": "${node.datacenter}",
      "RTarget": "dc1",
      "Weight": 50,
      "Operand": "="
    }
  ],
  "TaskGroups": [
    {
      "Name": "app",
      "Tasks": [
        {
          "Name": "server",
          "Driver": "exec"
        }
      ]
    }
  ]
}
"##);
}

#[test]
fn services_checks_and_volumes() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {}
    }

    volume "data" {
      type      = "host"
      source    = "web-data"
      read_only = false
    }

    volume "shared" {
      type            = "csi"
      source          = "shared"
      access_mode     = "multi-node-multi-writer"
      attachment_mode = "file-system"
      per_alloc       = true
    }

    service {
      name     = "web"
      port     = "http"
      provider = "consul"
      tags     = ["urlprefix-/web"]

      check {
        type     = "http"
        path     = "/health"
        interval = "10s"
        timeout  = "2s"

        header {
          Authorization = ["Bearer x"]
        }

        check_restart {
          limit = 3
          grace = "30s"
        }
      }
    }

    task "server" {
      driver = "docker"

      volume_mount {
        volume      = "data"
        destination = "/data"
      }
    }
  }
}
"##;
    let job = parse(source, &[], &[]);
    insta::assert_json_snapshot!(job, @r##"
{
  "ID": "web",
  "Name": "web",
  "TaskGroups": [
    {
      "Name": "app",
      "Tasks": [
        {
          "Name": "server",
          "Driver": "docker",
          "VolumeMounts": [
            {
              "Volume": "data",
              "Destination": "/data"
            }
          ]
        }
      ],
      "Volumes": {
        "data": {
          "Name": "data",
          "Type": "host",
          "Source": "web-data",
          "ReadOnly": false
        },
        "shared": {
          "Name": "shared",
          "Type": "csi",
          "Source": "shared",
          "AccessMode": "multi-node-multi-writer",
          "AttachmentMode": "file-system",
          "PerAlloc": true
        }
      },
      "Networks": [
        {
          "DynamicPorts": [
            {
              "Label": "http"
            }
          ]
        }
      ],
      "Services": [
        {
          "Name": "web",
          "Tags": [
            "urlprefix-/web"
          ],
          "PortLabel": "http",
          "Checks": [
            {
              "Type": "http",
              "Path": "/health",
              "Interval": 10000000000,
              "Timeout": 2000000000,
              "Header": {
                "Authorization": [
                  "Bearer x"
                ]
              },
              "CheckRestart": {
                "Limit": 3,
                "Grace": 30000000000
              }
            }
          ],
          "Provider": "consul"
        }
      ]
    }
  ]
}
"##);
}

#[test]
fn vault_identity_and_scaling_are_normalised() {
    let source = r##"job "web" {
  type = "batch"

  periodic {
    crons            = ["@daily"]
    prohibit_overlap = true
  }

  group "app" {
    vault {
      role = "web"
    }

    scaling {
      min = 1
      max = 3
    }

    task "server" {
      driver = "exec"

      identity {
        env  = true
        file = true
      }

      identity {
        name = "vault_default"
        aud  = ["vault.io"]
        ttl  = "1h"
      }

      scaling "cpu" {
        max = 2000

        policy {
          check "avg" {
            source = "prometheus"
          }
        }
      }
    }

    task "sidecar" {
      driver = "exec"

      vault {
        policies    = ["read"]
        change_mode = "noop"
      }

      lifecycle {
        hook    = "prestart"
        sidecar = true
      }
    }
  }
}
"##;
    let job = parse(source, &[], &[]);
    insta::assert_json_snapshot!(job, @r##"
{
  "ID": "web",
  "Name": "web",
  "Type": "batch",
  "TaskGroups": [
    {
      "Name": "app",
      "Tasks": [
        {
          "Name": "server",
          "Driver": "exec",
          "ScalingPolicies": [
            {
              "Policy": {
                "check": [
                  {
                    "avg": [
                      {
                        "source": "prometheus"
                      }
                    ]
                  }
                ]
              },
              "Max": 2000,
              "Type": "vertical_cpu"
            }
          ],
          "Identities": [
            {
              "Name": "vault_default",
              "Audience": [
                "vault.io"
              ],
              "TTL": 3600000000000
            }
          ],
          "Vault": {
            "Role": "web",
            "Env": true,
            "DisableFile": false,
            "ChangeMode": "restart"
          },
          "Identity": {
            "Env": true,
            "File": true
          }
        },
        {
          "Name": "sidecar",
          "Driver": "exec",
          "Lifecycle": {
            "Hook": "prestart",
            "Sidecar": true
          },
          "Vault": {
            "Policies": [
              "read"
            ],
            "ChangeMode": "noop",
            "Env": true,
            "DisableFile": false
          }
        }
      ],
      "Scaling": {
        "Min": 1,
        "Max": 3,
        "Type": "horizontal"
      }
    }
  ],
  "Periodic": {
    "Specs": [
      "@daily"
    ],
    "ProhibitOverlap": true,
    "SpecType": "cron"
  }
}
"##);
}

/// Behaviours pinned by Nomad's own `jobspec2` tests.
mod like_nomad {
    use super::parse;
    use serde_json::json;

    #[test]
    fn meta_as_block_or_argument_is_the_same_job() {
        let as_block = r#"job "example" {
  group "group" {
    task "task" {
      driver = "config"

      meta {
        source = "task"
      }
    }

    meta {
      source = "group"
    }
  }

  meta {
    source = "job"
  }
}
"#;
        let as_argument = as_block.replace("meta {", "meta = {");
        let job = parse(as_block, &[], &[]);
        assert_eq!(job, parse(&as_argument, &[], &[]));
        assert_eq!(job["Meta"], json!({"source": "job"}));
        assert_eq!(job["TaskGroups"][0]["Meta"], json!({"source": "group"}));
        assert_eq!(job["TaskGroups"][0]["Tasks"][0]["Meta"], json!({"source": "task"}));
    }

    #[test]
    fn constraint_shortcuts_equal_operator_and_value() {
        let long = r#"job "example" {
  constraint {
    operator = "distinct_hosts"
    value    = "true"
  }

  constraint {
    operator  = "distinct_property"
    attribute = "${meta.rack}"
    value     = "1"
  }

  group "group" {
    constraint {
      operator = "distinct_hosts"
      value    = "false"
    }

    task "task" {
      driver = "config"
    }
  }
}
"#;
        let short = r#"job "example" {
  constraint {
    distinct_hosts = true
  }

  constraint {
    distinct_property = "${meta.rack}"
    value             = "1"
  }

  group "group" {
    constraint {
      distinct_hosts = false
    }

    task "task" {
      driver = "config"
    }
  }
}
"#;
        // Map equality ignores key order, which follows the order arguments were read in.
        let (long, short) = (parse(long, &[], &[]), parse(short, &[], &[]));
        assert_eq!(long["Constraints"], short["Constraints"]);
        assert_eq!(
            short["Constraints"][0],
            json!({"Operand": "distinct_hosts", "RTarget": "true"})
        );
        assert_eq!(
            short["TaskGroups"][0]["Constraints"][0],
            json!({"Operand": "distinct_hosts", "RTarget": "false"})
        );
        assert_eq!(
            short["Constraints"][1],
            json!({"RTarget": "1", "Operand": "distinct_property", "LTarget": "${meta.rack}"})
        );
    }

    #[test]
    fn env_accepts_maps_with_dots_colons_and_for_expressions() {
        let cases = [
            ("env {\n        key = \"value\"\n      }", json!({"key": "value"})),
            (
                "env = {\n        \"key.dot\" = \"val1\"\n        plain = \"val2\"\n      }",
                json!({"key.dot": "val1", "plain": "val2"}),
            ),
            ("env = {\n        \"key.dot\" : \"val1\"\n      }", json!({"key.dot": "val1"})),
            ("env = {}", json!({})),
            (
                "env = { for k in [\"a\", \"b\"] : k => \"val-${k}\" }",
                json!({"a": "val-a", "b": "val-b"}),
            ),
        ];
        for (snippet, want) in cases {
            let source = format!(
                "job \"example\" {{\n  group \"group\" {{\n    task \"task\" {{\n      driver = \"docker\"\n\n      {snippet}\n    }}\n  }}\n}}\n"
            );
            let job = parse(&source, &[], &[]);
            assert_eq!(job["TaskGroups"][0]["Tasks"][0]["Env"], want, "{snippet}");
        }
    }

    #[test]
    fn unknown_references_keep_their_text() {
        let cases = [
            "plain",
            "foo-${BAR}",
            "foo-${attr.network.dev-us-east1-relay-vpc.external-ip.0}",
            r#"${env["BLAH"]}"#,
            r#"${mixed-indexing.0[3]["FOO"].5}"#,
            r#"with spaces ${   root.  field[  "FOO"].5  }"#,
        ];
        for case in cases {
            let source =
                format!("job \"example\" {{\n  region = \"{}\"\n}}\n", case.replace('"', "\\\""));
            let source = source.replace("\\\"", "\"");
            let job = parse(&source, &[], &[]);
            assert_eq!(job["Region"], case, "{source}");
        }
        let job = parse("job \"example\" {\n  region = meta.mytest\n}\n", &[], &[]);
        assert_eq!(job["Region"], "${meta.mytest}");
    }

    #[test]
    fn job_and_group_secrets_reach_every_task() {
        let source = r#"job "example" {
  secret "db" {
    provider = "vault"
    path     = "kv/db"
  }

  group "group" {
    secret "api" {
      provider = "nomad"
      path     = "nomad/jobs/example"
    }

    task "a" {
      driver = "exec"

      secret "own" {
        provider = "nomad"
        path     = "nomad/jobs/example/a"
      }
    }

    task "b" {
      driver = "exec"
    }
  }
}
"#;
        let job = parse(source, &[], &[]);
        let names = |task: usize| -> Vec<String> {
            job["TaskGroups"][0]["Tasks"][task]["Secrets"]
                .as_array()
                .map(|s| s.iter().filter_map(|s| s["Name"].as_str().map(str::to_owned)).collect())
                .unwrap_or_default()
        };
        assert_eq!(names(0), ["own", "api", "db"]);
        assert_eq!(names(1), ["api", "db"]);
    }

    #[test]
    fn dynamic_blocks_repeat_their_content() {
        let source = r#"job "example" {

  dynamic "group" {
    for_each = [
      { name = "groupA", idx = 1 },
      { name = "groupB", idx = 2 },
      { name = "groupC", idx = 3 },
    ]
    labels   = [group.value.name]

    content {
      count = group.value.idx

      service {
        port = group.value.name
      }

      task "simple" {
        driver  = "raw_exec"
        config {
          command = group.value.name
        }
        meta {
          VERSION = group.value.idx
        }
        env {
          ID = format("id:%s", group.value.idx)
        }
        resources {
          cpu = group.value.idx
        }

        dynamic "template" {
          for_each = { a = "local/a", b = "local/b" }
          iterator = tpl
          content {
            data        = "${tpl.key} in ${group.value.name}"
            destination = tpl.value
          }
        }
      }
    }
  }
}
"#;
        let job = parse(source, &[], &[]);
        let groups = job["TaskGroups"].as_array().map(Vec::as_slice).unwrap_or_default();
        let names: Vec<&str> = groups.iter().filter_map(|g| g["Name"].as_str()).collect();
        assert_eq!(names, ["groupA", "groupB", "groupC"]);
        let task = &groups[0]["Tasks"][0];
        assert_eq!(groups[0]["Count"], 1);
        assert_eq!(groups[0]["Services"][0]["PortLabel"], "groupA");
        assert_eq!(task["Config"]["command"], "groupA");
        assert_eq!(task["Meta"]["VERSION"], "1");
        assert_eq!(task["Env"]["ID"], "id:1");
        assert_eq!(task["Resources"]["CPU"], 1);
        assert_eq!(groups[1]["Tasks"][0]["Env"]["ID"], "id:2");
        assert_eq!(groups[2]["Tasks"][0]["Meta"]["VERSION"], "3");
        // A nested dynamic block with its own iterator sees the outer one too.
        assert_eq!(task["Templates"][1]["EmbeddedTmpl"], "b in groupA");
        assert_eq!(task["Templates"][1]["DestPath"], "local/b");
    }
}
