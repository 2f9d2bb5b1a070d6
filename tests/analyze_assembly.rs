//! How the analyzer turns files into services: monorepo folders without compose, compose
//! files with overrides and `.env`, ignore files and walk bounds, and how facts from several
//! files meet in one service (ports main first, env without secret values, dependencies from
//! env values and proxy configs).

use std::path::Path;

use nomad_spec::analyze::walk::Limits;
use nomad_spec::analyze::{
    analyze, Analysis, HealthKind, Options, Protocol, Role, Service, Source,
};
use nomad_spec::jobspec::answers::Answers;
use nomad_spec::jobspec::build::build;
use nomad_spec::jobspec::config::{Config, ServiceProvider};

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, text).unwrap();
}

fn service<'a>(analysis: &'a Analysis, name: &str) -> &'a Service {
    analysis
        .services
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no service {name} in {:#?}", analysis.services))
}

fn has_note(analysis: &Analysis, file: &str, needle: &str) -> bool {
    analysis.notes.iter().any(|n| n.file.as_deref() == Some(file) && n.message.contains(needle))
}

#[test]
fn monorepo_folders_become_services_with_meaningful_names() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "Dockerfile", "FROM nginx:1.27\nCOPY site /usr/share/nginx/html\n");
    write(root, "services/api/Dockerfile", "FROM golang:1.22 AS build\nRUN go build -o /api\nFROM gcr.io/distroless/base\nCOPY --from=build /api /api\nEXPOSE 8080\nENTRYPOINT [\"/api\"]\n");
    write(root, "services/web/app/Dockerfile", "FROM node:20\nEXPOSE 3000\n");
    write(root, "services/web/app/Dockerfile.dev", "FROM node:20\n");
    write(root, "tools/src/Dockerfile", "FROM python:3.12\n");
    write(root, "other/tools/Dockerfile", "FROM python:3.12\n");
    write(root, ".gitignore", "vendor/\n");
    write(root, "vendor/lib/Dockerfile", "FROM alpine\n");
    let analysis = analyze(root, &Options::default());
    let repo_name = root.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let rows: Vec<(&str, &str, Source)> =
        analysis.services.iter().map(|s| (s.name.as_str(), s.path.as_str(), s.source)).collect();
    assert_eq!(
        rows,
        [
            (repo_name, ".", Source::Build),
            ("other-tools", "other/tools", Source::Build),
            ("api", "services/api", Source::Build),
            ("web", "services/web/app", Source::Build),
            ("tools-src", "tools/src", Source::Build),
        ]
    );
    assert!(has_note(
        &analysis,
        "services/web/app/Dockerfile.dev",
        "builds the service of this folder"
    ));

    let site = &analysis.services[0];
    assert_eq!(site.language.map(|l| format!("{l:?}")), Some("Static".into()));
    assert_eq!(site.ports.first().map(|p| (p.container, p.protocol)), Some((80, Protocol::Http)));
    let api = service(&analysis, "api");
    assert_eq!(api.base_image.as_deref(), Some("gcr.io/distroless/base"));
    assert_eq!(
        api.language.map(|l| format!("{l:?}")),
        Some("Go".into()),
        "from the build stage image"
    );
    assert_eq!(api.ports.iter().map(|p| p.container).collect::<Vec<_>>(), [8080]);
    // The image's own CMD is evidence, not an override the job would have to repeat.
    assert_eq!(api.command, None);
    assert!(api.evidence.iter().any(|e| e.what == "command of the built stage: /api"));
    assert_eq!(api.dockerfile.as_deref(), Some("services/api/Dockerfile"));
}

#[test]
fn compose_project_with_override_env_file_and_links() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "docker-compose.yml",
        r#"services:
  gateway:
    image: nginx:1.27
    ports: ["${GATEWAY_PORT:-80}:80"]
    volumes:
      - ./gateway/default.conf:/etc/nginx/conf.d/default.conf:ro
  api:
    build:
      context: .
      dockerfile: docker/api.Dockerfile
      target: runtime
      args: {PORT: "9000"}
    environment:
      - DATABASE_URL=postgres://app:hunter2@db:5432/app
      - CACHE_ADDR=cache:6379
      - LOG_LEVEL
    env_file: [api.env]
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:9000/healthz"]
    deploy:
      resources:
        limits: {cpus: "1.5", memory: 1g}
  db:
    image: postgres:16
    volumes: [pgdata:/var/lib/postgresql/data]
  cache:
    image: redis:7
volumes:
  pgdata:
"#,
    );
    write(root, "docker-compose.override.yml", "services:\n  api:\n    ports: [\"9229:9229\"]\n");
    write(root, ".env", "GATEWAY_PORT=8088\n");
    write(root, "api.env", "FEATURE_FLAGS=beta\n");
    write(
        root,
        "gateway/default.conf",
        "server {\n  listen 80;\n  location / {\n    proxy_pass http://api:9000;\n  }\n}\n",
    );
    write(
        root,
        "docker/api.Dockerfile",
        "FROM python:3.12 AS base\nARG PORT=8000\nENV PORT=$PORT\nEXPOSE $PORT\nFROM base AS runtime\nUSER app\nVOLUME /cache\nCMD [\"gunicorn\", \"app:app\"]\nFROM base AS test\n",
    );
    write(root, "legacy/Dockerfile", "FROM php:8\n");
    let analysis = analyze(root, &Options::default());
    let names: Vec<&str> = analysis.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["gateway", "api", "db", "cache"]);
    assert!(
        has_note(&analysis, "legacy/Dockerfile", "no compose service builds it"),
        "{:#?}",
        analysis.notes
    );

    let gateway = service(&analysis, "gateway");
    assert_eq!(gateway.ports[0].published, Some(8088), ".env interpolation");
    assert_eq!(gateway.depends_on, ["api"], "proxy_pass names api");
    assert_eq!(gateway.role, Role::Proxy);
    let proxied = gateway.evidence.iter().find(|e| e.what == "proxies to service api");
    assert_eq!(proxied.map(|e| (e.file.as_str(), e.line)), Some(("gateway/default.conf", Some(4))));

    let api = service(&analysis, "api");
    assert_eq!(api.source, Source::Build);
    assert_eq!(api.path, ".");
    assert_eq!(api.dockerfile.as_deref(), Some("docker/api.Dockerfile"));
    let ports: Vec<(u16, Option<u16>)> =
        api.ports.iter().map(|p| (p.container, p.published)).collect();
    assert_eq!(
        ports,
        [(9000, None), (9229, Some(9229))],
        "the port the process binds (ENV PORT from the build arg) first, then compose's own"
    );
    assert_eq!(api.depends_on, ["db", "cache"]);
    let health = api.health.as_ref().map(|h| (h.kind, h.path.as_deref(), h.port));
    assert_eq!(health, Some((HealthKind::Http, Some("/healthz"), None)), "on the main port");
    assert_eq!(api.ports[0].protocol, Protocol::Http, "the health check's port");
    let env: Vec<(&str, bool, Option<&str>)> =
        api.env.iter().map(|e| (e.name.as_str(), e.secret, e.default.as_deref())).collect();
    assert_eq!(
        env,
        [
            ("DATABASE_URL", true, None),
            ("CACHE_ADDR", false, Some("cache:6379")),
            ("LOG_LEVEL", false, None),
            ("FEATURE_FLAGS", false, Some("beta")),
            ("PORT", false, Some("9000")),
        ]
    );
    assert_eq!((api.resources.cpu, api.resources.memory), (1500, 1024));
    assert_eq!(api.command, None, "the built stage's CMD is the image's own");
    assert!(api.evidence.iter().any(|e| e.what.ends_with("gunicorn app:app")));
    assert_eq!(
        api.volumes.iter().map(|v| (v.path.as_str(), v.persistent)).collect::<Vec<_>>(),
        [("/cache", false)],
        "a VOLUME for a cache stays in the allocation"
    );
    let json = serde_json::to_string(&analysis).unwrap_or_default();
    assert!(!json.contains("hunter2"), "a secret value reached the output");

    let db = service(&analysis, "db");
    assert_eq!(
        db.ports.iter().map(|p| p.container).collect::<Vec<_>>(),
        [5432],
        "reached at db:5432"
    );
    assert_eq!(db.volumes[0].path, "/var/lib/postgresql/data");
    assert!(db.volumes[0].persistent);
    let cache = service(&analysis, "cache");
    assert_eq!(cache.ports.iter().map(|p| p.container).collect::<Vec<_>>(), [6379]);
}

#[test]
fn walk_bounds_reach_the_notes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "a/b/c/d/Dockerfile", "FROM alpine\n");
    write(root, "top/Dockerfile", "FROM alpine\nEXPOSE 1234\n");
    let options =
        Options { limits: Limits { max_depth: 2, ..Limits::default() }, ..Options::default() };
    let analysis = analyze(root, &options);
    assert_eq!(analysis.services.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["top"]);
    assert!(
        analysis.notes.iter().any(|n| n.message.contains("deeper than 2 levels")),
        "{:#?}",
        analysis.notes
    );
}

#[test]
fn a_registered_grpc_health_service_is_the_service_check() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let dockerfile = "FROM golang:1.22 AS build\nRUN go build -o /srv ./cmd/server\nFROM gcr.io/distroless/base\nCOPY --from=build /srv /srv\nEXPOSE 50051\nENTRYPOINT [\"/srv\"]\n";
    let server = "package main\n\nimport (\n\t\"net\"\n\n\t\"google.golang.org/grpc\"\n\t\"google.golang.org/grpc/health\"\n\thealthpb \"google.golang.org/grpc/health/grpc_health_v1\"\n)\n\nfunc main() {\n\tlis, _ := net.Listen(\"tcp\", \":50051\")\n\ts := grpc.NewServer()\n\thealthpb.RegisterHealthServer(s, health.NewServer())\n\ts.Serve(lis)\n}\n";
    // The same server without the health service: a gRPC check would get UNIMPLEMENTED.
    let bare = server.replace("\thealthpb.RegisterHealthServer(s, health.NewServer())\n", "");
    for (name, main) in [("greeter", server.to_string()), ("bare", bare)] {
        write(root, &format!("{name}/Dockerfile"), dockerfile);
        write(
            root,
            &format!("{name}/go.mod"),
            "module example.com/srv\n\ngo 1.22\n\nrequire google.golang.org/grpc v1.64.0\n",
        );
        write(root, &format!("{name}/cmd/server/main.go"), &main);
    }
    let analysis = analyze(root, &Options::default());

    let greeter = service(&analysis, "greeter");
    assert_eq!(
        greeter.ports.iter().map(|p| (p.container, p.protocol)).collect::<Vec<_>>(),
        [(50051, Protocol::Grpc)]
    );
    let health = greeter.health.as_ref().map(|h| (h.kind, h.path.as_deref(), h.port));
    assert_eq!(health, Some((HealthKind::Grpc, None, None)));
    assert!(greeter.evidence.iter().any(|e| e.file == "greeter/cmd/server/main.go"
        && e.line == Some(14)
        && e.what == "registers the gRPC health service (grpc.health.v1)"));
    let bare = service(&analysis, "bare");
    assert_eq!(bare.ports[0].protocol, Protocol::Grpc);
    assert_eq!(bare.health, None, "no health service, no gRPC health");

    // Checked as gRPC where checks can be (Consul), with the health service as the reason.
    let config = Config { service_provider: Some(ServiceProvider::Consul), ..Config::default() };
    let mut answers = Answers::default();
    answers.set("deploy.bare=false").unwrap();
    let generated = build(&analysis, &answers, &config, "shop").unwrap();
    let job = serde_json::to_value(&generated.jobs[0].spec).unwrap();
    let checks: Vec<&str> = job["TaskGroups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|group| group["Services"].as_array().into_iter().flatten())
        .flat_map(|service| service["Checks"].as_array().into_iter().flatten())
        .filter_map(|check| check["Type"].as_str())
        .collect();
    assert_eq!(checks, ["grpc"], "{job:#}");
}

#[test]
fn a_port_the_code_only_falls_back_to_is_not_a_port_when_the_image_sets_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // `process.env.PORT || 8080` in the code, PORT=80 in the image: the process listens on
    // 80, and a service checked on 8080 would never be healthy.
    let config = "module.exports = {\n  port: process.env.PORT || 8080\n};\n";
    let index = "const express = require('express');\nconst config = require('./config');\nconst app = express();\napp.listen(config.port);\n";
    let package = r#"{"name": "api", "dependencies": {"express": "4.18.2"}}"#;
    for (name, dockerfile) in [
        ("set", "FROM node:20\nWORKDIR /code\nARG PORT=80\nENV PORT $PORT\nEXPOSE $PORT\nCOPY . /code\nCMD [\"node\", \"src/index.js\"]\n"),
        ("unset", "FROM node:20\nWORKDIR /code\nCOPY . /code\nCMD [\"node\", \"src/index.js\"]\n"),
    ] {
        write(root, &format!("{name}/Dockerfile"), dockerfile);
        write(root, &format!("{name}/package.json"), package);
        write(root, &format!("{name}/src/config.js"), config);
        write(root, &format!("{name}/src/index.js"), index);
    }
    let analysis = analyze(root, &Options::default());

    let set = service(&analysis, "set");
    assert_eq!(set.ports.iter().map(|p| p.container).collect::<Vec<_>>(), [80], "{set:#?}");
    assert!(
        set.evidence.iter().any(|e| e.file == "set/src/config.js"
            && e.line == Some(2)
            && e.what == "PORT is 8080 in the code only: the image sets it to 80"),
        "{:#?}",
        set.evidence
    );
    // Nothing sets PORT: the fallback is where the process listens.
    let unset = service(&analysis, "unset");
    assert_eq!(unset.ports.iter().map(|p| p.container).collect::<Vec<_>>(), [8080]);
}

#[test]
fn an_image_known_to_need_more_memory_gets_it_unless_compose_says_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "compose.yaml",
        "services:\n  kibana:\n    image: kibana:7.16.1\n  small-kibana:\n    image: kibana:7.16.1\n    deploy:\n      resources:\n        limits:\n          memory: 512M\n  web:\n    image: nginx:1.27\n",
    );
    let analysis = analyze(root, &Options::default());

    let kibana = service(&analysis, "kibana");
    assert_eq!(kibana.resources.memory, 1024, "{:?}", kibana.resources);
    assert_eq!(
        kibana.resources.reason,
        "kibana needs about 1024 MB to start and serve (the image facts)"
    );
    // A limit the repository gives is kept, and an image with no such fact keeps its class.
    assert_eq!(service(&analysis, "small-kibana").resources.memory, 512);
    assert!(service(&analysis, "web").resources.memory < 1024);
}

#[test]
fn one_credential_is_shared_by_a_client_and_its_server_not_by_strangers_with_the_same_value() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // The three hold one value; only the app reaches the database. pgAdmin's login password is
    // its own secret, whatever a sample `.env` put in both.
    write(
        root,
        "compose.yaml",
        "services:\n  app:\n    image: acme/app:1\n    environment:\n      DB_HOST: db\n      DB_PASSWORD: s3cr3t-Example-42\n    depends_on: [db]\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: s3cr3t-Example-42\n  admin:\n    image: dpage/pgadmin4:8\n    environment:\n      PGADMIN_DEFAULT_PASSWORD: s3cr3t-Example-42\n",
    );
    let analysis = analyze(root, &Options::default());
    let credential = |service: &str, name: &str| {
        let service = self::service(&analysis, service);
        let env = service.env.iter().find(|e| e.name == name);
        env.unwrap_or_else(|| panic!("no {name} in {:#?}", service.env)).credential.clone()
    };
    let shared = credential("app", "DB_PASSWORD");
    assert!(shared.is_some());
    assert_eq!(credential("db", "POSTGRES_PASSWORD"), shared);
    assert_eq!(credential("admin", "PGADMIN_DEFAULT_PASSWORD"), None);
}

#[test]
fn a_volume_at_an_older_layout_of_the_image_moves_up_to_where_it_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // postgres 18 (`alpine`, `latest`) keeps its data in /var/lib/postgresql and refuses to
    // start with a mount at /var/lib/postgresql/data; 16 keeps it there.
    write(
        root,
        "compose.yaml",
        "services:\n  new:\n    image: postgres:alpine\n    volumes:\n      - new_data:/var/lib/postgresql/data\n  old:\n    image: postgres:16\n    volumes:\n      - old_data:/var/lib/postgresql/data\n  pointed:\n    image: postgres:18\n    environment:\n      PGDATA: /var/lib/postgresql/data/pgdata\n    volumes:\n      - pointed_data:/var/lib/postgresql/data\n  parent:\n    image: postgres:16\n    volumes:\n      - parent_data:/var/lib/postgresql\nvolumes:\n  new_data:\n  old_data:\n  pointed_data:\n  parent_data:\n",
    );
    let analysis = analyze(root, &Options::default());
    let paths = |name: &str| -> Vec<String> {
        service(&analysis, name).volumes.iter().map(|v| v.path.clone()).collect()
    };
    assert_eq!(paths("new"), ["/var/lib/postgresql"]);
    assert!(service(&analysis, "new").evidence.iter().any(|e| e.what.starts_with(
        "the volume at /var/lib/postgresql/data is mounted at /var/lib/postgresql: postgres keeps"
    )));
    assert_eq!(paths("old"), ["/var/lib/postgresql/data"]);
    // The service points the image below the mount: it stays, as the person wrote it.
    assert!(paths("pointed").contains(&"/var/lib/postgresql/data".to_string()));
    // A mount above the data already holds it: no second volume inside it.
    assert_eq!(paths("parent"), ["/var/lib/postgresql"]);
}
