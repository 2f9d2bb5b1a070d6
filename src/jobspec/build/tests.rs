//! Unit tests of the builder's heuristics; whole rendered jobs are in `tests/generate_*.rs`.

use super::volumes::known_owner;
use super::*;
use crate::analyze::{Analysis, EnvVar, Health, Service as Found};

fn service(name: &str, role: Role, ports: &[(u16, Protocol)]) -> Found {
    Found {
        name: name.into(),
        source: if role.is_backing() { Source::Image } else { Source::Build },
        path: ".".into(),
        dockerfile: None,
        build_target: None,
        image: role.is_backing().then(|| format!("{name}:16")),
        base_image: None,
        language: None,
        framework: None,
        role,
        ports: ports
            .iter()
            .map(|(container, protocol)| analyze::Port {
                container: *container,
                published: None,
                protocol: *protocol,
            })
            .collect(),
        health: None,
        env: Vec::new(),
        volumes: Vec::new(),
        depends_on: Vec::new(),
        command: None,
        resources: analyze::Resources { cpu: 100, memory: 128, reason: "default".into() },
        evidence: Vec::new(),
        ..Found::new(name, Source::Build, ".")
    }
}

fn env(name: &str, default: Option<&str>) -> EnvVar {
    EnvVar {
        name: name.into(),
        secret: false,
        default: default.map(str::to_string),
        ..EnvVar::default()
    }
}

#[test]
fn names_become_nomad_names() {
    let table = [
        ("api", "api"),
        ("My_Service.v2", "my-service-v2"),
        ("--x--", "x"),
        ("", "app"),
        ("日本", "app"),
    ];
    for (input, expected) in table {
        assert_eq!(nomad_name(input), expected, "{input}");
    }
}

#[test]
fn service_names_fit_rfc_1123() {
    let analysis = Analysis {
        services: vec![
            service("web_API", Role::App, &[]),
            service(&"x".repeat(80), Role::App, &[]),
        ],
        notes: vec![],
    };
    let names = GroupNames::new(&analysis, "shop.v2_beta");
    assert_eq!(names.service("web_API", Some("http_8080")), "shop-v2-beta-web-api-http-8080");
    let long = names.service(&"x".repeat(80), None);
    assert_eq!(long.len(), 63, "{long}");
    assert!(long.starts_with("shop-v2-beta-xxxx"), "{long}");
    assert_ne!(long, names.service(&"x".repeat(80), Some("grpc")));
}

#[test]
fn host_mentions_are_found_only_as_hosts() {
    use super::environment::host_mention;
    // (value, where `db` is and the port after it)
    type Mention = Option<(usize, usize, Option<u16>)>;
    let table: [(&str, Mention); 9] = [
        ("db", Some((0, 2, None))),
        ("db:5432", Some((0, 7, Some(5432)))),
        ("postgres://app@db:5432/shop", Some((15, 22, Some(5432)))),
        ("http://db/x", Some((7, 9, None))),
        ("172.20.0.2#5054;1.1.1.1", None),
        ("dbx", None),
        ("mydb", None),
        ("the db name", Some((4, 6, None))),
        ("name=db;x", Some((5, 7, None))),
    ];
    for (value, expected) in table {
        assert_eq!(host_mention(value, "db"), expected, "{value}");
    }
    assert_eq!(host_mention("172.20.0.2#5054;1.1.1.1", "172.20.0.2"), Some((0, 10, None)));
    let reach = super::reach::Reach::Endpoint("10.0.0.5:6000".into());
    assert_eq!(reach.inline("{{", "}}", true), "10.0.0.5:6000");
    assert_eq!(reach.inline("{{", "}}", false), "10.0.0.5");
    assert_eq!(reach.in_file("{{", "}}", true), "10.0.0.5:6000");
    // A lookup in a delivered file renders a refusing address, never nothing, while the
    // service has no instance.
    let reach = super::reach::Reach::Lookup {
        function: "nomadService",
        name: "shop-api".into(),
        how: String::new(),
    };
    assert_eq!(
        reach.in_file("[[", "]]", true),
        "[[ range $i, $s := nomadService \"shop-api\" ]][[ if eq $i 0 ]][[ .Address ]]:[[ .Port ]]\
         [[ end ]][[ else ]]127.0.0.1:9[[ end ]]"
    );
    assert_eq!(
        reach.in_file("{{", "}}", false),
        "{{ range $i, $s := nomadService \"shop-api\" }}{{ if eq $i 0 }}{{ .Address }}{{ end }}\
         {{ else }}127.0.0.1{{ end }}"
    );
}

#[test]
fn volume_owners_come_from_the_user_or_the_image_facts() {
    let table = [
        (Source::Image, Some("postgres:16"), None, None, Some("999:999")),
        (Source::Image, Some("docker.io/library/redis:7"), None, None, Some("999:999")),
        (Source::Image, Some("nextcloud"), None, None, Some("33:33")),
        (Source::Image, Some("postgres:16"), None, Some("70:70"), Some("70:70")),
        (Source::Image, Some("acme/unknown"), None, None, None),
        // Built FROM postgres and tagged with a local name: the base image decides.
        (Source::Build, Some("atsea_db"), Some("postgres"), Some("postgres"), Some("999:999")),
        (Source::Build, None, Some("node:20"), Some("1001"), Some("1001:1001")),
        (Source::Image, None, None, None, None),
    ];
    for (source, image, base, user, owner) in table {
        let mut service = service("db", Role::Database, &[]);
        service.source = source;
        service.image = image.map(str::to_string);
        service.base_image = base.map(str::to_string);
        service.user = user.map(str::to_string);
        let found = known_owner(&service).map(|(owner, _)| owner);
        assert_eq!(found.as_deref(), owner, "{image:?} {base:?} {user:?}");
    }
}

#[test]
fn backing_services_are_asked_about_and_left_out() {
    let mut web = service("web", Role::App, &[(8000, Protocol::Http)]);
    web.depends_on = vec!["db".into()];
    web.env = vec![env("DATABASE_URL", Some("postgres://app@db:5432/shop"))];
    let analysis = Analysis {
        services: vec![web, service("db", Role::Database, &[(5432, Protocol::Tcp)])],
        notes: vec![],
    };
    let generated = build(&analysis, &Answers::default(), &Config::default(), "Shop").unwrap();
    assert_eq!(generated.jobs.len(), 1);
    assert_eq!(generated.jobs[0].path, "deploy/shop.nomad.hcl");
    let keys: Vec<&str> = generated.unanswered.iter().map(|q| q.key.as_str()).collect();
    assert_eq!(
        keys,
        ["job", "deploy.db", "datacenters", "image.web", "hostname.web", "memory.web"]
    );
    let image = &generated.unanswered[3];
    assert!(image.needs_answer);
    assert_eq!(image.default, "registry.invalid/shop/web:latest");

    let mut answers = Answers::default();
    answers.set("deploy.db=true").unwrap();
    let generated = build(&analysis, &answers, &Config::default(), "Shop").unwrap();
    let jobs: Vec<&str> = generated.jobs.iter().map(|j| j.path.as_str()).collect();
    assert_eq!(jobs, ["deploy/shop.nomad.hcl", "deploy/shop-db.nomad.hcl"]);
}

#[test]
fn nothing_to_deploy_is_an_error_that_says_why() {
    let empty = Analysis::default();
    let err = build(&empty, &Answers::default(), &Config::default(), "x").unwrap_err();
    assert!(err.to_string().starts_with("no deployable service found"), "{err}");

    let only_db = Analysis { services: vec![service("db", Role::Database, &[])], notes: vec![] };
    let mut no = Answers::default();
    no.set("deploy.db=false").unwrap();
    let err = build(&only_db, &no, &Config::default(), "x").unwrap_err();
    assert!(err.to_string().contains("found: db"), "{err}");
    assert!(matches!(err, BuildError::NothingToDeploy(_)));
}

#[test]
fn a_repository_of_backing_services_only_deploys_them() {
    let only_db = Analysis { services: vec![service("db", Role::Database, &[])], notes: vec![] };
    let generated = build(&only_db, &Answers::default(), &Config::default(), "x").unwrap();
    assert_eq!(generated.jobs.len(), 1);
    let decision = generated.decisions.iter().find(|d| d.subject == "db").unwrap();
    assert_eq!(decision.choice, "deployed");
    // With an application beside it, the database is looked up instead.
    let with_app = Analysis {
        services: vec![service("web", Role::App, &[]), service("db", Role::Database, &[])],
        notes: vec![],
    };
    let generated = build(&with_app, &Answers::default(), &Config::default(), "x").unwrap();
    assert!(generated.decisions.iter().any(|d| d.subject == "db" && d.choice == "not deployed"));
}

#[test]
fn answers_about_unknown_things_are_errors() {
    let mut web = service("web", Role::App, &[(80, Protocol::Http)]);
    web.env =
        vec![EnvVar { name: "API_TOKEN".into(), secret: true, default: None, ..EnvVar::default() }];
    let analysis =
        Analysis { services: vec![web, service("worker", Role::App, &[])], notes: vec![] };
    let table = [
        (
            "env.web.API_TOKEN=hunter2",
            "env.web.API_TOKEN: API_TOKEN holds a secret, so its value is not written into the \
             job; answer secret.API_TOKEN=PATH#KEY (Vault KV v2) instead",
        ),
        (
            "image.wbe=x:1",
            "the answers name service `wbe`, which is not in this repository (services: web, worker)",
        ),
        ("static_port.web.81=81", "static_port.web.81: web has no such container port (ports: 80)"),
        ("class.web=huge", "class.web=huge: .nomad-spec.toml has no [classes.huge]"),
        (
            "hostname.worker=w.example.com",
            "hostname.worker: worker listens on no TCP port, so there is nothing to route to",
        ),
    ];
    for (line, expected) in table {
        let mut answers = Answers::default();
        answers.set(line).unwrap();
        let err = build(&analysis, &answers, &Config::default(), "x").unwrap_err();
        assert_eq!(err.to_string(), expected);
    }
}

#[test]
fn grpc_checks_fall_back_to_tcp_without_consul() {
    let mut api = service("api", Role::App, &[(50051, Protocol::Grpc)]);
    api.health = Some(Health { kind: HealthKind::Grpc, path: None, port: None });
    let analysis = Analysis { services: vec![api], notes: vec![] };
    let check_type = |config: &Config| {
        let generated = build(&analysis, &Answers::default(), config, "x").unwrap();
        let group = &generated.jobs[0].spec.groups()[0];
        let service = &group.services.as_ref().unwrap()[0];
        let decision = generated.decisions.iter().find(|d| d.subject.ends_with("check")).cloned();
        (service.checks.as_ref().unwrap()[0].r#type.clone(), decision.unwrap().reason)
    };
    let (kind, reason) = check_type(&Config::default());
    assert_eq!(kind, "tcp");
    assert!(reason.contains("gRPC checks need Consul"), "{reason}");
    let consul = Config { service_provider: Some(ServiceProvider::Consul), ..Default::default() };
    assert_eq!(check_type(&consul).0, "grpc");
}

#[test]
fn resources_come_from_answers_then_classes_then_the_analysis() {
    let analysis = Analysis { services: vec![service("web", Role::App, &[])], notes: vec![] };
    let config = Config::from_toml(
        "[classes.app]\ncpu = 300\nmemory = 256\n[classes.big]\nmemory = 2048\nmemory_max = 4096\n",
        "c.toml",
    )
    .unwrap();
    let resources = |answers: &[&str], config: &Config| {
        let mut parsed = Answers::default();
        for line in answers {
            parsed.set(line).unwrap();
        }
        let generated = build(&analysis, &parsed, config, "x").unwrap();
        let resources = generated.jobs[0].spec.groups()[0].tasks[0].resources.clone().unwrap();
        (resources.cpu, resources.memory_mb, resources.memory_max_mb)
    };
    assert_eq!(resources(&[], &Config::default()), (Some(100), Some(128), None));
    assert_eq!(resources(&[], &config), (Some(300), Some(256), None));
    assert_eq!(resources(&["class.web=big"], &config), (Some(100), Some(2048), Some(4096)));
    assert_eq!(
        resources(&["class.web=big", "memory.web=512", "cpu.web=50"], &config),
        (Some(50), Some(512), Some(4096))
    );
}

#[test]
fn built_images_default_to_the_published_tag_the_repository_gives_them() {
    let table = [
        (Some("ghcr.io/acme/web:2"), "ghcr.io/acme/web:2", false),
        (Some("web"), "registry.invalid/shop/web:latest", true),
        (None, "registry.invalid/shop/web:latest", true),
    ];
    for (tag, expected, needs_answer) in table {
        let mut web = service("web", Role::App, &[]);
        web.image = tag.map(str::to_string);
        let analysis = Analysis { services: vec![web], notes: vec![] };
        let generated = build(&analysis, &Answers::default(), &Config::default(), "shop").unwrap();
        let question = generated.unanswered.iter().find(|q| q.key == "image.web").unwrap();
        assert_eq!((question.default.as_str(), question.needs_answer), (expected, needs_answer));
        let config = generated.jobs[0].spec.groups()[0].tasks[0].config.clone().unwrap();
        assert_eq!(config["image"], expected);
    }
}

#[test]
fn http_checks_use_absolute_paths() {
    for (found, expected) in [("/healthz", "/healthz"), ("healthz", "/healthz"), ("", "/")] {
        let mut web = service("web", Role::App, &[(80, Protocol::Http)]);
        web.health = Some(Health { kind: HealthKind::Http, path: Some(found.into()), port: None });
        let analysis = Analysis { services: vec![web], notes: vec![] };
        let generated = build(&analysis, &Answers::default(), &Config::default(), "x").unwrap();
        let service = &generated.jobs[0].spec.groups()[0].services.as_ref().unwrap()[0];
        let check = &service.checks.as_ref().unwrap()[0];
        assert_eq!((check.r#type.as_str(), check.path.as_deref()), ("http", Some(expected)));
    }
}
