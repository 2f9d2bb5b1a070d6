//! One small job file per validation rule, with the findings it must produce (line,
//! column, severity and message), as inline snapshots.

use super::validate_source;

/// The findings for `source` as `line:column: severity: message` lines.
fn findings(source: &str) -> String {
    validate_source(source, "job.nomad.hcl")
        .iter()
        .map(|d| d.to_string().trim_start_matches("job.nomad.hcl:").to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_valid_job_has_no_findings() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }


    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @"");
}

#[test]
fn job_type_must_be_known() {
    let source = r##"job "web" {
  type = "services"

  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }


    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"2:10: error: job type "services" is not one of "service", "batch", "system", "sysbatch""#);
}

#[test]
fn a_job_needs_a_group() {
    let source = r##"job "web" {
  datacenters = ["dc1"]
}
"##;
    insta::assert_snapshot!(findings(source), @r#"1:1: error: the job has no group: a job needs at least one `group "name" { task "name" { ... } }`"#);
}

#[test]
fn a_group_needs_a_task() {
    let source = r##"job "web" {
  group "app" {
    count = 1
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"2:3: error: group "app" has no task: a group needs at least one `task "name" { ... }`"#);
}

#[test]
fn a_task_needs_a_driver() {
    let source = r##"job "web" {
  group "app" {
    task "server" {
      user = "nobody"
    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"3:5: error: task "server" has no driver: set `driver`, such as "docker" or "exec""#);
}

#[test]
fn a_docker_task_needs_an_image() {
    let source = r##"job "web" {
  group "app" {
    task "server" {
      driver = "docker"

      config {
        command = "nginx"
      }
    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"6:7: error: docker task "server" needs `image` in its config"#);
}

#[test]
fn docker_ports_must_be_declared() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }


    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http", "admin"]
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"15:26: error: the task config uses port "admin", which is not declared; the group's network has "http""#);
}

#[test]
fn service_port_must_be_declared() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name = "web"
      port = "https"
    }

    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"11:14: error: the service uses port "https", which is not declared; the group's network has "http""#);
}

#[test]
fn check_port_must_be_declared() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name = "web"
      port = "http"

      check {
        type     = "tcp"
        port     = "metrics"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"15:20: error: the check uses port "metrics", which is not declared; the group's network has "http""#);
}

#[test]
fn grpc_checks_need_consul() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name     = "web"
      provider = "nomad"
      port     = "http"

      check {
        type     = "grpc"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"15:20: error: grpc checks need the consul service provider; the nomad provider supports "http" and "tcp""#);
}

#[test]
fn script_checks_in_group_services_need_a_task() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name = "web"
      port = "http"

      check {
        type     = "script"
        command  = "/bin/check"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"13:7: error: a script check in a group service needs `task`: the task to run it in"#);
}

#[test]
fn check_type_must_be_known() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name = "web"
      port = "http"

      check {
        type     = "https"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"14:20: error: check type "https" is not one of "http", "tcp", "grpc", "script""#);
}

#[test]
fn check_interval_and_timeout_bounds() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name = "web"
      port = "http"

      check {
        type     = "tcp"
        interval = "500ms"
      }
    }

    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"
    13:7: error: a check needs `timeout`, at least 1s
    15:20: error: check interval 0.500s is shorter than Nomad's minimum of 1s
    "#);
}

#[test]
fn check_timeout_longer_than_interval_warns() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name = "web"
      port = "http"

      check {
        type     = "tcp"
        interval = "5s"
        timeout  = "10s"
      }
    }

    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"16:20: warning: check timeout (10s) is longer than its interval (5s): checks will overlap"#);
}

#[test]
fn http_checks_need_a_relative_path() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name = "web"
      port = "http"

      check {
        type     = "http"
        interval = "10s"
        timeout  = "2s"
      }

      check {
        type     = "http"
        path     = "http://localhost/health"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"
    13:7: error: an http check needs `path`, such as "/health"
    21:20: error: the http check path "http://localhost/health" must be relative, such as "/health"; the address comes from the port
    "#);
}

#[test]
fn tcp_checks_do_not_work_for_connect_sidecars() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name = "web"
      port = "http"

      connect {
        sidecar_service {}
      }

      check {
        type     = "tcp"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"18:20: error: tcp checks do not work for Connect sidecar services: the service listens on the loopback interface"#);
}

#[test]
fn service_provider_must_be_known() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name     = "web"
      provider = "etcd"
      port     = "http"
    }

    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"11:18: error: service provider "etcd" is not one of "consul", "nomad""#);
}

#[test]
fn service_names_follow_rfc_1123() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name = "my_web"
      port = "http"
    }

    service {
      name = "${NOMAD_JOB_NAME}-web"
      port = "http"
    }

    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"10:14: error: service name "my_web" is not valid: use letters, digits and dashes (RFC 1123), at most 63 characters, not starting or ending with a dash"#);
}

#[test]
fn restart_mode_must_be_known() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }

    restart {
      attempts = 3
      mode     = "retry"
    }

    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"11:18: error: restart mode "retry" is not one of "delay", "fail""#);
}

#[test]
fn update_health_check_and_deadlines() {
    let source = r##"job "web" {
  update {
    health_check     = "healthy"
    min_healthy_time = "5m"
    healthy_deadline = "1m"
  }

  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }


    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"
    3:24: error: update health_check "healthy" is not one of "checks", "task_states", "manual"
    4:24: error: min_healthy_time (300s) must be shorter than healthy_deadline (60s)
    "#);
}

#[test]
fn template_change_mode_must_be_known() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }


    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

      template {
        data        = "x"
        destination = "local/a"
        change_mode = "reload"
      }

      template {
        data        = "x"
        destination = "local/b"
        change_mode = "signal"
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"
    21:23: error: template change_mode "reload" is not one of "restart", "signal", "noop", "script"
    24:7: error: template change_mode "signal" needs `change_signal`, such as "SIGHUP"
    "#);
}

#[test]
fn template_destinations_stay_in_the_task_directory() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }


    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

      template {
        data        = "x"
        destination = "local/../../../etc/passwd"
      }

      template {
        data        = "x"
        destination = "/etc/app.conf"
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"
    20:23: error: the destination "local/../../../etc/passwd" leaves the allocation directory
    25:23: warning: the destination "/etc/app.conf" is absolute; Nomad renders it inside the task directory, usually under local/, secrets/ or alloc/
    "#);
}

#[test]
fn a_template_needs_data_and_a_destination() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }


    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

      template {
        change_mode = "noop"
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"
    18:7: error: a template needs `data` (the template text) or `source` (a file to render)
    18:7: error: a template needs `destination`, such as "local/config.yml"
    "#);
}

#[test]
fn network_mode_must_be_known() {
    let source = r##"job "web" {
  group "app" {
    network {
      mode = "overlay"

      port "http" {
        to = 8080
      }
    }


    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"4:14: error: network mode "overlay" is not "host", "bridge", "none" or "cni/<name>""#);
}

#[test]
fn port_labels_are_unique() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }

      port "http" {
        static = 80
      }
    }


    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"8:7: error: the port label "http" is declared twice"#);
}

#[test]
fn constraint_operators_come_from_nomads_list() {
    let source = r##"job "web" {
  constraint {
    attribute = "${attr.kernel.name}"
    operator  = "~="
    value     = "linux"
  }

  constraint {
    attribute = "${attr.cpu.arch}"
  }

  constraint {
    operator = "distinct_hosts"
    value    = "true"
  }

  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }


    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"
    4:17: error: constraint operator "~=" is not one of "=", "==", "is", "!=", "not", ">", ">=", "<", "<=", "distinct_hosts", "distinct_property", "regexp", "set_contains", "set_contains_all", "set_contains_any", "version", "semver", "is_set", "is_not_set"
    8:3: error: a constraint with operator "=" needs `value`: what to compare with
    "#);
}

#[test]
fn resources_within_nomads_bounds() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }


    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

      resources {
        cpu        = 0
        memory     = 4
        memory_max = 2
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"
    19:22: error: cpu 0 MHz is below Nomad's minimum of 1
    20:22: error: memory 4 MB is below Nomad's minimum of 10 MB
    21:22: error: memory_max (2 MB) must be at least memory (4 MB)
    "#);
}

#[test]
fn cpu_and_cores_exclude_each_other_and_absurd_values_warn() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }


    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

      resources {
        cpu    = 900000
        cores  = 2
        memory = 2000000
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"
    19:18: warning: cpu 900000 MHz is more than any single node offers; cpu is in MHz
    20:18: error: set either `cpu` or `cores`, not both
    21:18: warning: memory 2000000 MB is over 1 TiB; memory is in MB
    "#);
}

#[test]
fn group_and_task_names_are_unique() {
    let source = r##"job "web" {
  group "app" {
    task "server" {
      driver = "exec"
    }

    task "server" {
      driver = "exec"
    }
  }

  group "app" {
    task "worker" {
      driver = "exec"
    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"
    7:5: error: there are two tasks named "server" in group "app"; task names must be unique in a group
    12:3: error: there are two groups named "app"; group names must be unique in a job
    "#);
}

#[test]
fn volume_mounts_need_a_declared_volume() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }

    volume "data" {
      type   = "host"
      source = "data"
    }

    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

      volume_mount {
        volume      = "cache"
        destination = "/cache"
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"23:23: error: the volume_mount uses volume "cache", which the group does not declare; the group declares "data""#);
}

#[test]
fn csi_volumes_need_access_and_attachment_modes() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }

    volume "data" {
      type   = "csi"
      source = "data"
    }

    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"
    9:5: error: a CSI volume needs `access_mode`: one of "single-node-reader-only", "single-node-writer", "multi-node-reader-only", "multi-node-single-writer", "multi-node-multi-writer"
    9:5: error: a CSI volume needs `attachment_mode`: one of "file-system", "block-device"
    "#);
}

#[test]
fn count_must_not_be_negative() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }

    count = -1

    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"9:13: error: count must not be negative, found -1"#);
}

#[test]
fn durations_must_parse() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }

    restart {
      interval = "5x"
      delay    = "15"
    }

    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"
    10:18: error: invalid duration "5x" for "interval": unknown unit "x" (use ns, us, ms, s, m or h); write a number with a unit, such as "30s", "5m" or "1h30m"
    11:18: error: invalid duration "15" for "delay": a unit is missing (ns, us, ms, s, m or h); write a number with a unit, such as "30s", "5m" or "1h30m"
    "#);
}

#[test]
fn unknown_arguments_are_errors_with_a_suggestion() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }


    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

      kill_timout = "10s"

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"18:7: error: unsupported argument "kill_timout" in a task block; did you mean "kill_timeout"?"#);
}

#[test]
fn unknown_blocks_are_errors() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }


    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

      resource {
        cpu = 100
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"18:7: error: unsupported block type "resource" in a task block; did you mean "resources"?"#);
}

#[test]
fn wrong_types_are_errors() {
    let source = r##"job "web" {
  datacenters = "dc1"
  priority    = "high"

  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }


    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"
    2:17: error: invalid value for "datacenters": a list of strings is required, found the string "dc1"
    3:17: error: invalid value for "priority": a whole number is required, found the string "high"
    "#);
}

#[test]
fn lifecycle_hooks_come_from_nomads_list() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }


    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

      lifecycle {
        hook = "before"
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"
    2:3: error: group "app" has only lifecycle tasks; it needs a main task, one without a lifecycle hook
    19:16: error: lifecycle hook "before" is not one of "prestart", "poststart", "poststop"
    "#);
}

#[test]
fn affinity_weight_and_spread_targets() {
    let source = r##"job "web" {
  affinity {
    attribute = "${node.datacenter}"
    value     = "dc1"
    weight    = 0
  }

  spread {
    attribute = "${node.datacenter}"

    target "dc1" {
      percent = 70
    }

    target "dc2" {
      percent = 50
    }
  }

  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }


    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"
    5:17: error: an affinity weight of 0 has no effect; use -100 to 100, not 0
    8:3: error: the spread targets add up to 120%, more than 100%
    "#);
}

#[test]
fn periodic_jobs_are_batch_jobs() {
    let source = r##"job "web" {
  periodic {
    crons = ["@daily"]
  }

  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }


    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"2:3: error: a periodic job must be a batch or sysbatch job, not "service""#);
}

#[test]
fn vault_signal_needs_a_signal() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }


    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

      vault {
        role        = "web"
        change_mode = "signal"
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"18:7: error: vault change_mode "signal" needs `change_signal`, such as "SIGHUP""#);
}

#[test]
fn logs_need_at_least_one_file() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }


    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

      logs {
        max_files = 0
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"19:21: error: logs max_files must be at least 1, found 0"#);
}

#[test]
fn variables_without_defaults_are_skipped_not_rejected() {
    let source = r##"variable "count" {
  type = number
}

variable "image" {
  type    = string
  default = "nginx:1.27"
}

job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }

    count = var.count

    task "server" {
      driver = "docker"

      config {
        image = var.image
        ports = ["http"]
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"1:1: warning: variable "count" has no default; checks of values that use it are skipped"#);
}

#[test]
fn runtime_interpolations_are_not_judged() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name = "${NOMAD_JOB_NAME}-${NOMAD_GROUP_NAME}"
      port = "http"
      tags = ["urlprefix-${meta.host}/"]
    }

    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

      env {
        PORT = "${NOMAD_PORT_http}"
        ARCH = "${attr.cpu.arch}"
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @"");
}

#[test]
fn undeclared_variables_and_unknown_functions() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }

    count = var.replicas

    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

      env {
        ID = uuid()
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"
    9:13: error: there is no variable named "replicas"; declare it with a `variable` block
    20:14: error: in call to uuid(): there is no function named "uuid"; job files can call: abs, abspath, base64decode, base64encode, basename, can, ceil, chomp, coalesce, coalescelist, compact, concat, contains, dirname, distinct, element, file, fileexists, flatten, floor, format, formatlist, indent, index, join, jsondecode, jsonencode, keys, length, lookup, lower, max, merge, min, parseint, pathexpand, range, regex_replace, replace, reverse, setunion, slice, sort, split, strrev, substr, title, tobool, tolist, tomap, tonumber, toset, tostring, trim, trimprefix, trimspace, trimsuffix, try, upper, urlencode, uuidv4, uuidv5, values, zipmap
    "#);
}

#[test]
fn unterminated_string() {
    let source = r##"job "web" {
  datacenters = ["dc1]
}
"##;
    insta::assert_snapshot!(findings(source), @r#"2:18: error: syntax error: expected `]`; a string on this line is not closed: add the closing `"`"#);
}

#[test]
fn unterminated_heredoc() {
    let source = r##"job "web" {
  group "app" {
    task "t" {
      template {
        data = <<EOT
hello
"##;
    insta::assert_snapshot!(findings(source), @r#"6:1: error: syntax error: expected heredoc end delimiter; the heredoc started with <<EOT is never closed: end it with a line holding only EOT"#);
}

#[test]
fn one_line_block_with_two_arguments() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }


    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

      resources { cpu = 100 memory = 128 }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"18:29: error: syntax error: invalid block body; expected `}`, newline or identifier; a block written on one line holds a single argument: put each argument on its own line (HCL1 allowed more, and Nomad removed HCL1 support in 1.9)"#);
}

#[test]
fn hcl1_quoted_argument_names() {
    let source = r##"job "web" {
  meta {
    "team.owner" = "ops"
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"3:5: error: syntax error: invalid block body; expected `}`, newline or identifier; a quoted argument name (`"key" = value`) is HCL1 syntax, and Nomad removed HCL1 support in 1.9: rewrite the file in HCL2"#);
}

#[test]
fn hcl1_block_as_an_argument() {
    let source = r##"job "web" {
  update = {
    max_parallel = 1
  }

  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }


    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"2:3: error: "update" is a block, not an argument: write `update { ... }` without `=` (`update = { ... }` is HCL1 syntax; Nomad removed HCL1 support in 1.9)"#);
}

#[test]
fn levant_templates_are_not_job_files() {
    let source = r##"job "[[ .name ]]" {
  datacenters = [[ .datacenters | toJson ]]
}
"##;
    insta::assert_snapshot!(findings(source), @r#"2:20: error: syntax error: invalid expression; expected `"`, `[`, `{`, `-`, `!`, `(`, `_`, `<`, letter or digit; the file looks like a Levant or Nomad Pack template (`[[ ... ]]`): render it before parsing"#);
}

#[test]
fn terraform_templatefile_placeholders() {
    let source = r##"job "web" {
  group "app" {
    count = ${count}
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"3:13: error: syntax error: invalid expression; expected `"`, `[`, `{`, `-`, `!`, `(`, `_`, `<`, letter or digit; `${...}` outside a string looks like a Terraform `templatefile` placeholder: render the template before parsing"#);
}

#[test]
fn a_file_without_a_job() {
    let source = r##"variable "x" {
  default = 1
}
"##;
    insta::assert_snapshot!(findings(source), @r#"0:0: error: the file has no job block: a job file needs `job "name" { ... }`"#);
}

#[test]
fn another_nomad_specification_is_named_in_one_error() {
    let volume = r##"# A dynamic host volume
name      = "data"
type      = "host"
plugin_id = "mkdir"

capability {
  access_mode     = "single-node-writer"
  attachment_mode = "file-system"
}
"##;
    insta::assert_snapshot!(findings(volume), @"2:1: error: this is a volume specification (`nomad volume create` or `register`), not a job file: a job file holds `job \"name\" { ... }`");
    let cases = [
        ("node_pool \"prod\" {\n  description = \"x\"\n}\n", "a node pool specification"),
        ("namespace \"default\" {\n  policy = \"read\"\n}\n", "an ACL policy"),
        ("namespace \"web\" {\n  description = \"x\"\n}\n", "a namespace specification"),
        (
            "data_dir = \"/opt/nomad\"\nclient {\n  enabled = true\n}\n",
            "a Nomad agent configuration",
        ),
        ("scaling \"cpu\" {\n  enabled = true\n}\n", "a Nomad Autoscaler policy"),
    ];
    for (source, kind) in cases {
        let found = findings(source);
        assert!(found.starts_with(&format!("1:1: error: this is {kind}")), "{found}");
        assert_eq!(found.lines().count(), 1, "{found}");
        assert_eq!(
            crate::jobspec::parse::not_a_job(source).map(|k| k.starts_with(kind)),
            Some(true)
        );
    }
    // A job file, or text that says nothing of what it is, is not one.
    assert_eq!(crate::jobspec::parse::not_a_job("job \"web\" {\n  datacenter = 1\n}\n"), None);
    assert_eq!(crate::jobspec::parse::not_a_job("jbo \"web\" {}\n"), None);
    assert_eq!(crate::jobspec::parse::not_a_job("not { hcl"), None);
}

#[test]
fn deeply_nested_input_is_rejected_cleanly() {
    let source = r##"job "web" {
  meta = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]
}
"##;
    insta::assert_snapshot!(findings(source), @r#"2:74: error: syntax error: invalid nesting depth; expected at most 64 nested levels; the input is nested too deeply to be a job file"#);
}

#[test]
fn numeric_ports_need_driver_address_mode() {
    let source = r##"job "web" {
  group "app" {
    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
      }

      service {
        name = "web"
        port = "8080"
      }

      service {
        name         = "direct"
        port         = "8080"
        address_mode = "driver"
      }
    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"12:16: error: the service uses the port number 8080; a number needs address_mode = "driver", otherwise name a port of the group's network"#);
}

#[test]
fn services_are_unique_and_share_a_provider() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name = "web"
      port = "http"
    }

    service {
      name = "web"
      port = "http"
    }

    service {
      name     = "web-nomad"
      provider = "nomad"
      port     = "http"
    }

    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"
    14:5: error: the service "web" on port "http" is defined twice in the group
    19:5: error: the services of a group must use one provider; this one uses "nomad" and an earlier one does not
    "#);
}

#[test]
fn address_modes_depend_on_where_the_service_is() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name         = "web"
      port         = "http"
      address_mode = "driver"
    }

    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

      service {
        name         = "task-web"
        port         = "http"
        address_mode = "alloc"

        connect {
          native = true
        }
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"
    12:22: error: a group service cannot use address_mode "driver"; only task services can
    26:24: error: a task service cannot use address_mode "alloc"; only group services can
    28:9: error: a connect block belongs in a group service, not in a task service
    "#);
}

#[test]
fn checks_name_tasks_that_exist() {
    let source = r##"job "web" {
  group "app" {
    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name = "web"
      port = "http"

      check {
        type     = "script"
        command  = "/bin/true"
        task     = "missing"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"16:20: error: the check runs in task "missing", which the group does not have"#);
}

#[test]
fn job_types_limit_which_blocks_a_group_takes() {
    let source = r##"job "nightly" {
  type = "batch"

  group "run" {
    max_run_duration = "1h"

    update {
      max_parallel = 1
    }

    migrate {
      max_parallel = 1
    }

    task "work" {
      driver = "exec"
    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"
    7:5: error: a batch job cannot have an update block; it is for service and system jobs
    11:5: error: a batch job cannot have a migrate block; it is for service jobs
    "#);
}

#[test]
fn system_jobs_run_once_per_node() {
    let source = r##"job "agent" {
  type = "system"

  group "agent" {
    count            = 3
    max_run_duration = "1h"

    spread {
      attribute = "${node.datacenter}"
    }

    task "agent" {
      driver = "exec"
    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"
    5:24: error: a system job runs one instance per node; count 3 must be 0 or 1
    6:24: error: max_run_duration is for batch and sysbatch jobs, not system jobs
    8:5: error: a system job cannot have spread blocks
    "#);
}

#[test]
fn a_group_needs_a_main_task() {
    let source = r##"job "web" {
  group "app" {
    task "init" {
      driver = "exec"

      lifecycle {
        hook = "prestart"
      }
    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"2:3: error: group "app" has only lifecycle tasks; it needs a main task, one without a lifecycle hook"#);
}

#[test]
fn job_ids_have_no_spaces() {
    let source = r##"job "my web" {
  group "app" {
    task "server" {
      driver = "exec"
    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"1:1: error: the job ID "my web" contains a space; use dashes instead"#);
}

#[test]
fn deprecated_task_networks_and_port_map_warn() {
    let source = r##"job "web" {
  group "app" {
    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.27"

        port_map {
          http = 80
        }
      }

      resources {
        network {
          port "http" {}
        }
      }
    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"
    9:9: warning: docker port_map is deprecated: set `to` on the group network's port and list the port in `ports`
    15:9: warning: a network block in task resources is deprecated (Nomad 0.12): declare the ports in the group's network block
    "#);
}

#[test]
fn shell_variables_in_heredocs_need_escaping() {
    let source = r##"job "a" {
  group "g" {
    task "t" {
      driver = "exec"

      template {
        destination = "local/run.sh"
        data        = <<EOT
#!/bin/sh
echo ${PORT:-8080}
EOT
      }
    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"10:12: error: syntax error: expected `}`; `${` starts an HCL interpolation, even in heredocs: write `$${` to keep a literal `${`, as shell and template variables need"#);
}

#[test]
fn volume_access_modes_follow_nomads_rules() {
    let source = r##"job "db" {
  type = "system"

  group "db" {
    count = 2

    volume "data" {
      type            = "csi"
      source          = "data"
      access_mode     = "single-node-writer"
      attachment_mode = "block-device"

      mount_options {
        fs_type = "ext4"
      }
    }

    volume "cache" {
      type      = "host"
      source    = "cache"
      per_alloc = true
      sticky    = true
    }

    task "db" {
      driver = "exec"
    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"
    5:13: error: a system job runs one instance per node; count 2 must be 0 or 1
    10:25: error: a single-node-writer volume serves one allocation, but count is 2: set per_alloc = true or use a multi-node access mode
    13:7: error: block devices take no mount_options
    21:19: error: a volume cannot be per_alloc in a system or sysbatch job
    21:19: error: a volume cannot be per_alloc and sticky at once
    "#);
}

#[test]
fn task_and_template_rules_from_nomad() {
    let source = r##"job "web" {
  group "app" {
    update {
      progress_deadline = "5m"
    }

    task "alloc" {
      driver       = "exec"
      kill_timeout = "10m"

      constraint {
        distinct_hosts = true
      }

      template {
        data          = "A=1"
        destination   = "local/app.env"
        env           = true
        change_mode   = "signal"
        change_signal = "SIGHUP"
        perms         = "rw-r--r--"
      }

      template {
        data        = "B=2"
        destination = "./local/app.env"
        vault_grace = "5m"
      }

      template {
        data        = "C=3"
        destination = "../shared/c.txt"
      }
    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"
    7:5: error: a task cannot be named "alloc": "alloc" and slashes are reserved
    9:22: error: kill_timeout (600s) is longer than the group's progress_deadline (300s)
    11:7: error: a distinct_hosts constraint places allocations, so it belongs in a group or the job, not a task
    19:25: error: a template with env = true cannot use change_mode "signal": the environment is read only when the task starts; use "restart"
    21:25: error: perms "rw-r--r--" is not an octal file mode, such as "0644"
    26:23: error: two templates render to "./local/app.env"; each needs its own destination
    27:23: error: vault_grace was removed from Nomad (ignored since Vault 0.5); delete it
    "#);
}

#[test]
fn values_from_variables_without_defaults_are_unknown_not_wrong() {
    let source = r##"variable "datacenters" {
  type = list(string)
}

variable "resources" {
  type = object({ cpu = number, memory = number })
}

variable "labels" {
  type = map(string)
}

job "web" {
  datacenters = var.datacenters
  meta        = var.labels

  group "app" {
    count = length(var.datacenters) * 2

    task "server" {
      driver = "docker"

      config {
        image = "nginx:${var.labels["version"]}"
      }

      resources {
        cpu    = var.resources.cpu
        memory = var.resources.memory > 0 ? var.resources.memory : 128
      }

      env {
        FIRST_DC = var.datacenters[0]
        ALL      = join(",", var.datacenters)
      }
    }
  }
}
"##;
    insta::assert_snapshot!(findings(source), @r#"
    1:1: warning: variable "datacenters" has no default; checks of values that use it are skipped
    5:1: warning: variable "resources" has no default; checks of values that use it are skipped
    9:1: warning: variable "labels" has no default; checks of values that use it are skipped
    "#);
}
