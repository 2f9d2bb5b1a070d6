//! The evidence readers (manifests, source scan, descriptors) on the fixture repositories in
//! `fixtures/repos/`: each fixture shows what it stands for.
//!
//! The listing here is a plain recursive `std::fs` walk, so these tests exercise the readers
//! independently of the analyzer's repository walk.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use nomad_spec::analyze::descriptors::{self, DescribedService};
use nomad_spec::analyze::manifest::{self, Stack};
use nomad_spec::analyze::source::{self, SourceFacts};
use nomad_spec::analyze::{HealthKind, Language, Note, Protocol};

/// A fixture repository, listed once.
struct Fixture {
    root: PathBuf,
    /// Relative `/`-separated paths with sizes, sorted.
    files: Vec<(String, u64)>,
}

impl Fixture {
    fn open(name: &str) -> Fixture {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/repos").join(name);
        let mut files = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir:?}: {e}"));
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(meta) = entry.metadata() {
                    let rel = path.strip_prefix(&root).unwrap_or(&path);
                    let rel = rel.to_string_lossy().replace('\\', "/");
                    files.push((rel, meta.len()));
                }
            }
        }
        files.sort();
        assert!(!files.is_empty(), "fixture {name} is empty");
        Fixture { root, files }
    }

    fn read(&self, path: &str, notes: &mut Vec<Note>) -> Option<String> {
        match std::fs::read_to_string(self.root.join(path)) {
            Ok(text) => Some(text),
            Err(e) => {
                notes.push(Note::file(path, e.to_string()));
                None
            }
        }
    }

    fn under<'a>(&'a self, dir: &'a str) -> impl Iterator<Item = &'a (String, u64)> + 'a {
        let prefix = if dir == "." { String::new() } else { format!("{dir}/") };
        self.files.iter().filter(move |(path, _)| path.starts_with(&prefix))
    }

    fn stack(&self, dir: &str) -> Stack {
        let mut notes = Vec::new();
        let paths = self.under(dir).map(|(p, _)| p.as_str());
        let stack = manifest::detect_in(paths, dir, &mut |p, n| self.read(p, n), &mut notes);
        assert!(notes.is_empty(), "{dir}: {notes:?}");
        stack
    }

    fn source(&self, dir: &str) -> SourceFacts {
        let mut notes = Vec::new();
        let listing = self.under(dir).map(|(p, s)| (p.as_str(), *s));
        let facts = source::scan_in(listing, dir, &mut |p, n| self.read(p, n), &mut notes);
        assert!(notes.is_empty(), "{dir}: {notes:?}");
        facts
    }

    fn descriptors(&self) -> Vec<DescribedService> {
        let mut notes = Vec::new();
        let paths: BTreeSet<&str> = self.files.iter().map(|(p, _)| p.as_str()).collect();
        let services = descriptors::scan_in(
            paths.iter().copied(),
            &|other| paths.contains(other),
            &mut |p, n| self.read(p, n),
            &mut notes,
        );
        assert!(notes.is_empty(), "{notes:?}");
        services
    }
}

fn env(facts: &SourceFacts) -> Vec<(&str, Option<&str>, bool)> {
    facts.env.iter().map(|(n, d, _)| (n.as_str(), d.as_deref(), source::looks_secret(n))).collect()
}

fn ports(facts: &SourceFacts) -> Vec<u16> {
    facts.ports.iter().map(|(p, _)| *p).collect()
}

fn health(facts: &SourceFacts) -> Vec<&str> {
    facts.health_paths.iter().map(|(p, _)| p.as_str()).collect()
}

#[test]
fn flask_postgres() {
    let fixture = Fixture::open("flask-postgres");
    let stack = fixture.stack(".");
    assert_eq!(stack.language, Some(Language::Python));
    assert_eq!(stack.framework.as_deref(), Some("flask"));
    assert_eq!(stack.default_port, Some(8000), "gunicorn serves it");
    assert_eq!(stack.backing, ["postgres"]);
    let facts = fixture.source(".");
    assert_eq!(
        env(&facts),
        [
            ("DATABASE_URL", None, true),
            ("SECRET_KEY", None, true),
            ("PAGE_SIZE", Some("20"), false),
            ("LOG_LEVEL", Some("info"), false),
        ]
    );
    assert_eq!(health(&facts), ["/healthz"]);
    let route = &facts.health_paths[0].1;
    assert_eq!((route.file.as_str(), route.line), ("notes/routes.py", Some(9)));
    assert!(fixture.descriptors().is_empty());
    let everything = format!("{stack:?}{facts:?}");
    assert!(!everything.contains("dev-only"), "a secret value leaked: {everything}");
}

#[test]
fn express_api() {
    let fixture = Fixture::open("express-api");
    let stack = fixture.stack(".");
    assert_eq!(
        (stack.language, stack.framework.as_deref(), stack.default_port),
        (Some(Language::Node), Some("express"), Some(3000))
    );
    assert_eq!(stack.backing, ["redis"]);
    assert_eq!(stack.runtime.as_deref(), Some("node >=20"));
    let facts = fixture.source(".");
    assert_eq!(
        env(&facts),
        [
            ("LOG_LEVEL", Some("info"), false),
            ("REDIS_URL", None, true),
            ("API_KEY", None, true),
            ("PORT", Some("3000"), false),
        ]
    );
    assert_eq!(ports(&facts), [3000]);
    assert_eq!(health(&facts), ["/health"]);
    let fly = fixture.descriptors();
    assert_eq!(fly.len(), 1);
    assert_eq!((fly[0].name.as_str(), fly[0].kind.as_str()), ("orders-api", "fly.toml"));
    assert_eq!(fly[0].ports[0].container, 3000);
    assert_eq!(fly[0].health.as_ref().and_then(|h| h.path.as_deref()), Some("/health"));
    assert_eq!(fly[0].resources.as_ref().map(|r| r.memory), Some(512));
}

#[test]
fn flask_app() {
    let fixture = Fixture::open("flask-app");
    let stack = fixture.stack(".");
    assert_eq!((stack.framework.as_deref(), stack.default_port), (Some("flask"), Some(5000)));
    let facts = fixture.source(".");
    assert_eq!(env(&facts), [("GREETING", Some("Hello"), false)]);
    assert_eq!(ports(&facts), [5000]);
    assert!(health(&facts).is_empty());
    let procfile = fixture.descriptors();
    assert_eq!(procfile.len(), 1);
    assert_eq!((procfile[0].name.as_str(), procfile[0].kind.as_str()), ("web", "Procfile"));
    assert_eq!(procfile[0].env[0].name, "PORT");
}

#[test]
fn nginx_static() {
    let fixture = Fixture::open("nginx-static");
    assert_eq!(fixture.stack("."), Stack::default(), "no manifest: the Dockerfile decides");
    assert_eq!(fixture.source("."), SourceFacts::default());
    assert!(fixture.descriptors().is_empty());
}

#[test]
fn memory_hungry() {
    let fixture = Fixture::open("memory-hungry");
    let stack = fixture.stack(".");
    assert_eq!(
        (stack.language, stack.framework.as_deref(), stack.default_port),
        (Some(Language::Java), Some("spring-boot"), Some(8080))
    );
    assert_eq!(stack.health_path.as_deref(), Some("/actuator/health"));
    assert_eq!(stack.runtime.as_deref(), Some("java 21"));
    let facts = fixture.source(".");
    assert_eq!(
        env(&facts),
        [
            ("REPORT_ROWS", Some("500000"), false),
            ("REPORT_STORAGE_DIR", None, false),
            ("SERVER_PORT", Some("8080"), false),
            ("REPORT_CACHE_SIZE", Some("256"), false),
        ]
    );
    assert_eq!(ports(&facts), [8080]);
    let resources = nomad_spec::analyze::resources::suggest(
        stack.language,
        stack.framework.as_deref(),
        nomad_spec::analyze::Role::App,
    );
    assert_eq!(resources.memory, 1024, "{}", resources.reason);
}

#[test]
fn grpc_service() {
    let fixture = Fixture::open("grpc-service");
    let stack = fixture.stack(".");
    assert_eq!((stack.language, stack.grpc), (Some(Language::Go), true));
    assert_eq!(stack.runtime.as_deref(), Some("go 1.22"));
    let facts = fixture.source(".");
    let grpc = facts.grpc.as_ref().expect("gRPC server found");
    assert_eq!((grpc.file.as_str(), grpc.line), ("cmd/server/main.go", Some(28)));
    assert_eq!(facts.grpc_ports.iter().map(|(p, _)| *p).collect::<Vec<_>>(), [50051]);
    assert_eq!(env(&facts), [("GREETING", None, false)]);
}

#[test]
fn multi_service() {
    let fixture = Fixture::open("multi-service");
    let api = fixture.stack("api");
    assert_eq!((api.framework.as_deref(), api.default_port), (Some("fastapi"), Some(8000)));
    assert_eq!(api.backing, ["redis"]);
    let worker = fixture.stack("worker");
    assert_eq!((worker.language, worker.framework.as_deref()), (Some(Language::Python), None));
    assert_eq!(worker.backing, ["redis"]);
    let api_facts = fixture.source("api");
    assert_eq!(health(&api_facts), ["/healthz"]);
    assert_eq!(
        env(&api_facts),
        [("REDIS_URL", None, true), ("QUEUE_NAME", Some("jobs"), false), ("API_TOKEN", None, true)]
    );
    let worker_facts = fixture.source("worker");
    assert!(ports(&worker_facts).is_empty(), "a worker listens on no port");
    assert_eq!(
        env(&worker_facts),
        [
            ("REDIS_URL", None, true),
            ("QUEUE_NAME", Some("jobs"), false),
            ("THUMBNAIL_SIZE", Some("128"), false),
        ]
    );
    assert_eq!(fixture.stack("web"), Stack::default());
}

#[test]
fn monorepo() {
    let fixture = Fixture::open("monorepo");
    let cases = [
        ("services/auth", Language::Go, None, vec![8081], vec!["/healthz"]),
        ("services/catalog", Language::Node, Some("express"), vec![3000], vec!["/health"]),
        ("services/payments", Language::Python, Some("fastapi"), vec![], vec!["/ready"]),
        ("services/search", Language::Rust, Some("axum"), vec![7700], vec!["/healthz"]),
    ];
    for (dir, language, framework, code_ports, routes) in cases {
        let stack = fixture.stack(dir);
        assert_eq!(
            (stack.language, stack.framework.as_deref()),
            (Some(language), framework),
            "{dir}"
        );
        let facts = fixture.source(dir);
        assert_eq!(ports(&facts), code_ports, "{dir}");
        assert_eq!(health(&facts), routes, "{dir}");
    }
    let payments = fixture.source("services/payments");
    assert_eq!(
        env(&payments),
        [
            ("DATABASE_URL", None, true),
            ("PAYMENT_PROVIDER_API_KEY", None, true),
            ("PAYMENT_PROVIDER_URL", Some("https://api.payments.example"), false),
            ("AUTH_SERVICE_ADDR", Some("auth:8081"), false),
        ]
    );
    assert_eq!(fixture.stack("services/payments").backing, ["postgres"]);
    assert_eq!(fixture.stack("services/catalog").backing, ["mongo"]);
    let described = fixture.descriptors();
    assert_eq!(described.len(), 1);
    let catalog = &described[0];
    assert_eq!((catalog.name.as_str(), catalog.dir.as_str()), ("catalog", "deploy/k8s"));
    assert_eq!(catalog.ports[0].protocol, Protocol::Http);
    assert_eq!(catalog.health.as_ref().map(|h| h.kind), Some(HealthKind::Http));
    assert_eq!(catalog.resources.as_ref().map(|r| (r.cpu, r.memory)), Some((100, 256)));
    assert!(catalog.env.iter().any(|e| e.name == "MONGO_URL" && e.secret));
}

#[test]
fn postgres_volume() {
    let fixture = Fixture::open("postgres-volume");
    assert_eq!(fixture.stack("."), Stack::default());
    assert_eq!(fixture.source("."), SourceFacts::default());
    assert!(fixture.descriptors().is_empty());
}
