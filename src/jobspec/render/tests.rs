//! Tests of the renderer: layout of every model field, durations, escaping and headers.

use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::jobspec::{
    EphemeralDisk, Lifecycle, Port, ReschedulePolicy, RestartPolicy, Secret, Vault, VolumeMount,
    VolumeRequest, SECOND,
};

fn job_with_task(task: Task) -> JobSpec {
    JobSpec {
        id: Some("app".into()),
        task_groups: Some(vec![TaskGroup {
            name: "app".into(),
            tasks: vec![task],
            ..Default::default()
        }]),
        ..Default::default()
    }
}

fn render(job: &JobSpec) -> String {
    render_job(job, &RenderOptions::default()).unwrap()
}

/// The string Nomad would see at `path` (block types and labels, then the attribute) once the
/// text is parsed: literals unescaped, interpolations kept as `${...}` like Nomad's runtime
/// references. Anything else (a directive, a function call) fails the test.
fn parsed_value(text: &str, path: &[&str]) -> String {
    let body = hcl::parse(text).unwrap_or_else(|err| panic!("{err}\n{text}"));
    let mut body = &body;
    let mut rest = path;
    loop {
        let (name, after) = rest.split_first().expect("path ends at an attribute");
        if after.is_empty() {
            let attr = body.attributes().find(|a| a.key() == *name);
            let expr = attr.unwrap_or_else(|| panic!("no attribute {name} in\n{text}")).expr();
            return nomad_string(expr);
        }
        let block = body
            .blocks()
            .filter(|block| block.identifier() == *name)
            .find(|block| block.labels().is_empty() || block.labels()[0].as_str() == after[0])
            .unwrap_or_else(|| panic!("no block {name} {after:?} in\n{text}"));
        rest = if block.labels().is_empty() { after } else { &after[1..] };
        body = block.body();
    }
}

fn nomad_string(expr: &hcl::Expression) -> String {
    match expr {
        hcl::Expression::String(s) => s.clone(),
        hcl::Expression::TemplateExpr(template) => {
            let template = hcl::Template::from_expr(template).unwrap();
            template
                .elements()
                .iter()
                .map(|element| match element {
                    hcl::template::Element::Literal(text) => text.clone(),
                    hcl::template::Element::Interpolation(interpolation) => {
                        let reference = interpolation.expr.to_string();
                        assert!(
                            reference.chars().all(|c| c.is_alphanumeric() || "._-".contains(c)),
                            "only plain references are interpolated: {reference}"
                        );
                        format!("${{{reference}}}")
                    }
                    other => panic!("a directive in a value: {other:?}"),
                })
                .collect()
        }
        other => panic!("not a string: {other:?}"),
    }
}

#[test]
fn durations_read_like_job_files() {
    let table = [
        (0, "0s"),
        (30 * SECOND, "30s"),
        (90 * SECOND, "1m30s"),
        (300 * SECOND, "5m"),
        (3600 * SECOND, "1h"),
        (3661 * SECOND, "1h1m1s"),
        (250_000_000, "250ms"),
        (1_500_000_000, "1500ms"),
        (1_500, "1500ns"),
        (2_000, "2us"),
        (-5 * SECOND, "-5s"),
    ];
    for (nanos, text) in table {
        assert_eq!(duration(nanos), text, "{nanos}");
    }
}

#[test]
fn every_model_field_is_rendered() {
    let task = Task {
        name: "web".into(),
        driver: "docker".into(),
        user: Some("nobody".into()),
        config: Some(BTreeMap::from([
            ("ports".into(), json!(["http"])),
            ("image".into(), json!("nginx:1.27")),
            ("args".into(), json!(["--listen", "0.0.0.0:${NOMAD_PORT_http}"])),
            ("logging".into(), json!({"type": "journald", "config": {"tag": "web"}})),
            ("mount".into(), json!([{"type": "tmpfs", "target": "/tmp"}])),
            ("sysctl".into(), json!({"net.core.somaxconn": "16384"})),
            ("init".into(), json!(true)),
            ("shm_size".into(), json!(64)),
        ])),
        env: Some(BTreeMap::from([
            ("A".into(), "1".into()),
            ("NODE".into(), "${node.unique.name}".into()),
        ])),
        services: Some(vec![Service {
            name: "web-admin".into(),
            port_label: Some("admin".into()),
            ..Default::default()
        }]),
        resources: Some(Resources {
            cpu: Some(200),
            cores: None,
            memory_mb: Some(256),
            memory_max_mb: Some(512),
        }),
        templates: Some(vec![
            Template {
                embedded_tmpl: Some("A={{ key \"a\" }}\n".into()),
                dest_path: Some("local/a.env".into()),
                change_mode: Some("signal".into()),
                change_signal: Some("SIGHUP".into()),
                envvars: Some(true),
                left_delim: Some("[[".into()),
                right_delim: Some("]]".into()),
                perms: Some("0640".into()),
                splay: Some(5 * SECOND),
                ..Default::default()
            },
            Template {
                source_path: Some("local/in.tpl".into()),
                dest_path: Some("local/out".into()),
                ..Default::default()
            },
        ]),
        vault: Some(Vault {
            role: Some("web".into()),
            policies: None,
            namespace: Some("ns".into()),
            cluster: Some("default".into()),
            change_mode: Some("restart".into()),
            change_signal: None,
            env: Some(false),
        }),
        secrets: Some(vec![Secret {
            name: "db".into(),
            provider: "vault".into(),
            path: "kv/data/db".into(),
            config: Some(BTreeMap::from([("engine".into(), json!("kv_v2"))])),
            env: Some(BTreeMap::from([("DB_PASSWORD".into(), "${secret.db.password}".into())])),
        }]),
        volume_mounts: Some(vec![VolumeMount {
            volume: Some("data".into()),
            destination: Some("/data".into()),
            read_only: Some(false),
        }]),
        lifecycle: Some(Lifecycle { hook: "prestart".into(), sidecar: Some(true) }),
        constraints: Some(vec![Constraint {
            l_target: Some("${meta.tier}".into()),
            r_target: Some("web".into()),
            operand: Some("=".into()),
        }]),
        meta: Some(BTreeMap::from([("owner".into(), "team-a".into())])),
        kill_timeout: Some(20 * SECOND),
        kill_signal: Some("SIGINT".into()),
        leader: Some(true),
    };
    let update = UpdateStrategy {
        max_parallel: Some(1),
        health_check: Some("checks".into()),
        min_healthy_time: Some(10 * SECOND),
        healthy_deadline: Some(300 * SECOND),
        progress_deadline: Some(600 * SECOND),
        auto_revert: Some(true),
        auto_promote: Some(false),
        canary: Some(0),
        stagger: Some(30 * SECOND),
    };
    let group = TaskGroup {
        name: "web".into(),
        count: Some(2),
        constraints: Some(vec![Constraint {
            l_target: None,
            r_target: None,
            operand: Some("distinct_hosts".into()),
        }]),
        affinities: Some(vec![Affinity {
            l_target: Some("${node.datacenter}".into()),
            r_target: Some("dc1".into()),
            operand: Some("=".into()),
            weight: Some(50),
        }]),
        networks: Some(vec![Network {
            mode: Some("bridge".into()),
            reserved_ports: Some(vec![Port {
                label: "http".into(),
                value: Some(80),
                to: Some(8080),
                host_network: Some("public".into()),
            }]),
            dynamic_ports: Some(vec![Port {
                label: "admin".into(),
                value: None,
                to: Some(9000),
                host_network: None,
            }]),
        }]),
        services: Some(vec![Service {
            name: "web".into(),
            port_label: Some("http".into()),
            provider: Some("consul".into()),
            tags: Some(vec!["urlprefix-shop.example.com/".into()]),
            address_mode: Some("alloc".into()),
            task_name: Some("web".into()),
            checks: Some(vec![
                Check {
                    name: Some("ready".into()),
                    r#type: "http".into(),
                    path: Some("/healthz".into()),
                    method: Some("GET".into()),
                    protocol: Some("http".into()),
                    port_label: Some("http".into()),
                    interval: Some(10 * SECOND),
                    timeout: Some(2 * SECOND),
                    ..Default::default()
                },
                Check {
                    r#type: "grpc".into(),
                    grpc_service: Some("health".into()),
                    grpc_use_tls: Some(false),
                    ..Default::default()
                },
                Check {
                    r#type: "script".into(),
                    command: Some("/bin/check".into()),
                    args: Some(vec!["-q".into()]),
                    task: Some("web".into()),
                    ..Default::default()
                },
            ]),
        }]),
        volumes: Some(BTreeMap::from([(
            "data".into(),
            VolumeRequest {
                name: Some("data".into()),
                r#type: Some("csi".into()),
                source: Some("web-data".into()),
                read_only: Some(false),
                access_mode: Some("single-node-writer".into()),
                attachment_mode: Some("file-system".into()),
                per_alloc: Some(true),
            },
        )])),
        restart_policy: Some(RestartPolicy {
            attempts: Some(2),
            interval: Some(1800 * SECOND),
            delay: Some(15 * SECOND),
            mode: Some("fail".into()),
        }),
        reschedule_policy: Some(ReschedulePolicy {
            attempts: Some(0),
            interval: Some(0),
            delay: Some(30 * SECOND),
            delay_function: Some("exponential".into()),
            max_delay: Some(3600 * SECOND),
            unlimited: Some(true),
        }),
        update: Some(update.clone()),
        ephemeral_disk: Some(EphemeralDisk {
            sticky: Some(true),
            size_mb: Some(500),
            migrate: Some(true),
        }),
        meta: Some(BTreeMap::from([("tier".into(), "web".into())])),
        tasks: vec![task],
    };
    let job = JobSpec {
        id: Some("shop".into()),
        name: Some("Shop".into()),
        r#type: Some("service".into()),
        region: Some("global".into()),
        namespace: Some("apps".into()),
        datacenters: Some(vec!["dc1".into(), "dc2".into()]),
        node_pool: Some("default".into()),
        priority: Some(60),
        all_at_once: Some(false),
        constraints: Some(vec![Constraint {
            l_target: Some("${attr.cpu.arch}".into()),
            r_target: Some("amd64".into()),
            operand: Some("=".into()),
        }]),
        affinities: None,
        update: Some(update),
        meta: Some(BTreeMap::from([("git_sha".into(), "abc123".into())])),
        task_groups: Some(vec![group]),
        ..Default::default()
    };
    let text = render(&job);
    insta::assert_snapshot!("render_every_field", text);
    // The reading side agrees on a few telling values.
    assert_eq!(
        parsed_value(&text, &["job", "shop", "constraint", "attribute"]),
        "${attr.cpu.arch}"
    );
    assert_eq!(
        parsed_value(&text, &["job", "shop", "group", "web", "task", "web", "template", "data"]),
        "A={{ key \"a\" }}\n"
    );
}

#[test]
fn user_text_stays_a_string() {
    let evil = [
        "plain",
        "quote \" and backslash \\",
        "new\nline",
        "${file(\"/etc/passwd\")}",
        "%{ if true }x%{ endif }",
        "}",
        "\"\n}\njob \"evil\" {",
        "EOT",
        "$${already} %%{escaped}",
        "ends with $",
        "$${NOMAD_PORT_http}",
        "tab\tand \u{1} control",
        "${NOMAD_PORT_http} and ${x}",
    ];
    for value in evil {
        let task = Task {
            name: "t".into(),
            driver: "docker".into(),
            config: Some(BTreeMap::from([("image".into(), json!(value))])),
            env: Some(BTreeMap::from([("V".into(), value.to_string())])),
            meta: Some(BTreeMap::from([("m".into(), value.to_string())])),
            ..Default::default()
        };
        let mut job = job_with_task(task);
        job.task_groups.as_mut().unwrap()[0].name = value.to_string();
        let text = render(&job);
        let body = hcl::parse(&text).unwrap();
        let jobs: Vec<_> = body.blocks().collect();
        assert_eq!(jobs.len(), 1, "one top-level block only:\n{text}");
        let groups: Vec<_> = jobs[0].body().blocks().collect();
        assert_eq!(groups.len(), 1, "{text}");
        assert_eq!(groups[0].labels()[0].as_str(), value, "{text}");
        let task = &["job", "app", "group", value, "task", "t"];
        for path in [&["env", "V"][..], &["meta", "m"], &["config", "image"]] {
            let full: Vec<&str> = task.iter().chain(path).copied().collect();
            assert_eq!(parsed_value(&text, &full), value, "{value:?} in\n{text}");
        }
    }
}

#[test]
fn runtime_references_stay_live_and_readable() {
    let task = Task {
        name: "t".into(),
        driver: "docker".into(),
        env: Some(BTreeMap::from([
            ("PORT".into(), "${NOMAD_PORT_http}".into()),
            ("ADDR".into(), "http://${NOMAD_IP_http}:${NOMAD_PORT_http}/\"x\"".into()),
            ("NOT".into(), "${NOMAD_PORT_http.x} ${env.X} ${upper(\"a\")}".into()),
        ])),
        ..Default::default()
    };
    let text = render(&job_with_task(task));
    insta::assert_snapshot!("render_runtime_references", text);
}

#[test]
fn template_data_is_a_heredoc_with_a_free_delimiter() {
    let table = [
        ("A={{ .X }}\n", true),
        ("EOT\nx ${y} %{z}\n", true),
        ("no final newline", false),
        ("carriage\r\n", false),
    ];
    for (data, heredoc) in table {
        let task = Task {
            name: "t".into(),
            driver: "docker".into(),
            templates: Some(vec![Template {
                embedded_tmpl: Some(data.into()),
                dest_path: Some("local/x".into()),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let text = render(&job_with_task(task));
        assert_eq!(text.contains("<<"), heredoc, "{text}");
        let path = ["job", "app", "group", "app", "task", "t", "template", "data"];
        assert_eq!(parsed_value(&text, &path), data, "{text}");
    }
    let task = Task {
        name: "t".into(),
        driver: "docker".into(),
        templates: Some(vec![Template {
            embedded_tmpl: Some("EOT\n EOT1 \n${x}\n".into()),
            ..Default::default()
        }]),
        ..Default::default()
    };
    insta::assert_snapshot!("render_heredoc_delimiter", render(&job_with_task(task)));
}

#[test]
fn terraform_mode_escapes_everything_but_its_variables() {
    let task = Task {
        name: "t".into(),
        driver: "docker".into(),
        env: Some(BTreeMap::from([
            ("PORT".into(), "${NOMAD_PORT_http}".into()),
            ("LITERAL".into(), "${x} %{y} $${z}".into()),
            ("SNEAKY".into(), "__nomad_spec_tf0_0__".into()),
            ("NOT_TERRAFORM".into(), "${datacenter}".into()),
        ])),
        templates: Some(vec![Template {
            embedded_tmpl: Some("${a} {{ .B }}\n".into()),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let mut job = job_with_task(task);
    job.datacenters = Some(vec!["${datacenter}".into()]);
    let options =
        RenderOptions { terraform_variables: vec!["datacenter".into()], ..Default::default() };
    let text = render_job(&job, &options).unwrap();
    insta::assert_snapshot!("render_terraform_template", text);
    // What Terraform's templatefile makes of it (scanning left to right) is the plain job file.
    let mut after_terraform = String::new();
    let mut rest = text.as_str();
    while let Some(c) = rest.chars().next() {
        let (out, skip) = if rest.starts_with("$${") {
            ("${", 3)
        } else if rest.starts_with("%%{") {
            ("%{", 3)
        } else if rest.starts_with("${datacenter}") {
            ("dc1", "${datacenter}".len())
        } else {
            (&rest[..c.len_utf8()], c.len_utf8())
        };
        after_terraform.push_str(out);
        rest = &rest[skip..];
    }
    let mut plain = job.clone();
    plain.datacenters = Some(vec!["dc1".into()]);
    assert_eq!(after_terraform, render(&plain));
}

#[test]
fn headers_tell_generated_edited_and_foreign_files_apart() {
    let job =
        job_with_task(Task { name: "t".into(), driver: "docker".into(), ..Default::default() });
    let options =
        RenderOptions { generated_from: Some("examples/shop".into()), ..Default::default() };
    let text = render_job(&job, &options).unwrap();
    assert!(text.starts_with("# Generated by nomad-spec from examples/shop;"), "{text}");
    assert_eq!(provenance(&text), Provenance::Generated);
    assert_eq!(provenance(&text.replace("docker", "exec")), Provenance::Edited);
    assert_eq!(provenance(&render(&job)), Provenance::Foreign);
    assert_eq!(provenance(HEADER_MARKER), Provenance::Edited);
}

#[test]
fn bad_keys_and_missing_ids_are_errors() {
    let task = Task {
        name: "t".into(),
        driver: "docker".into(),
        env: Some(BTreeMap::from([("a\" = 1\n#".into(), "x".into())])),
        ..Default::default()
    };
    let err = render_job(&job_with_task(task), &RenderOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "task \"t\" env: `a\" = 1\n#` cannot be written as an HCL attribute name"
    );
    let err = render_job(&JobSpec::default(), &RenderOptions::default()).unwrap_err();
    assert_eq!(err, RenderError::MissingJobId);
}

#[test]
fn empty_blocks_close_on_their_line_but_heredoc_data_is_untouched() {
    let task = Task {
        name: "t".into(),
        driver: "docker".into(),
        vault: Some(Vault::default()),
        templates: Some(vec![Template {
            embedded_tmpl: Some("vault {   }\n".into()),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let text = render(&job_with_task(task));
    assert!(text.contains("      vault {}\n"), "{text}");
    let path = ["job", "app", "group", "app", "task", "t", "template", "data"];
    assert_eq!(parsed_value(&text, &path), "vault {   }\n");
}

#[test]
fn origins_are_comments_above_their_blocks_and_say_nothing_a_template_reads() {
    let task = Task {
        name: "app".into(),
        driver: "docker".into(),
        templates: Some(vec![
            Template {
                embedded_tmpl: Some("port {{ env \"NOMAD_PORT_http\" }}\n".into()),
                dest_path: Some("local/app.conf".into()),
                ..Default::default()
            },
            Template {
                embedded_tmpl: Some("x\n".into()),
                dest_path: Some("local/other".into()),
                ..Default::default()
            },
        ]),
        ..Default::default()
    };
    let mut job = job_with_task(task);
    job.task_groups.as_mut().unwrap()[0].networks = Some(vec![Network {
        mode: Some("bridge".into()),
        dynamic_ports: Some(vec![Port {
            label: "http".into(),
            to: Some(8080),
            ..Default::default()
        }]),
        ..Default::default()
    }]);
    let origin = |task: Option<&str>, place: Place, from: &str| Origin {
        group: "app".into(),
        task: task.map(str::to_string),
        place,
        from: from.into(),
    };
    let origins = vec![
        origin(None, Place::Port("http".into()), "src/main.go:12"),
        origin(
            Some("app"),
            Place::Template("local/app.conf".into()),
            "conf/app.conf (compose.yaml:${x}%{y}\n7)",
        ),
        // Another group's port of the same label is not this one's.
        Origin { group: "other".into(), ..origin(None, Place::Port("http".into()), "elsewhere:1") },
    ];
    let options = RenderOptions { origins, ..Default::default() };
    let text = render_job(&job, &options).unwrap();
    assert!(text.contains("\n      # from src/main.go:12\n      port \"http\" {\n"), "{text}");
    assert!(
        text.contains("\n      # from conf/app.conf (compose.yaml:_{x}_{y}_7)\n      template {\n"),
        "{text}"
    );
    assert_eq!(text.matches("# from").count(), 2, "{text}");
    assert!(!text.contains("elsewhere"), "{text}");
    // Only comments were added: the job reads the same, and the layout is the formatter's.
    assert_eq!(hcl::parse(&text).unwrap(), hcl::parse(&render(&job)).unwrap());
    let without: String =
        text.lines().filter(|l| !l.contains("# from")).map(|l| format!("{l}\n")).collect();
    assert_eq!(without, render(&job));
    // In a Terraform template the comment holds nothing Terraform would read either.
    let options = RenderOptions {
        terraform_variables: vec!["datacenter".into()],
        origins: options.origins.clone(),
        ..Default::default()
    };
    let text = render_job(&job, &options).unwrap();
    assert!(text.contains("# from conf/app.conf (compose.yaml:_{x}_{y}_7)"), "{text}");
}
