//! The analyzer against every compose app of the shared corpus (real repositories nobody
//! here wrote): each compose service is found, in compose order, with its container ports
//! (main port first), its build/image source and its dependencies, and every piece of
//! evidence points at a line that says what the evidence claims.
//!
//! The expectations below were written by reading each app's compose file, Dockerfiles and
//! web server configs. Ports marked "inferred" are not in a `ports`/`expose`/`EXPOSE` line:
//! they come from the service's own env (`FLASK_SERVER_PORT=9091`), from another service or a
//! proxy config reaching it (`proxy_pass http://backend:8000`), or from the image's
//! convention (mariadb 3306); none depends on manifest or source scanning.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use nomad_spec::analyze::{analyze, Analysis, Options, Protocol, Service, Source};

use Source::{Build, Image};

/// One compose service as the files describe it.
struct Expected {
    app: &'static str,
    service: &'static str,
    source: Source,
    /// Container ports, main port first; `/udp` marks UDP.
    ports: &'static [&'static str],
    depends_on: &'static [&'static str],
}

const fn svc(
    app: &'static str,
    service: &'static str,
    source: Source,
    ports: &'static [&'static str],
    depends_on: &'static [&'static str],
) -> Expected {
    Expected { app, service, source, ports, depends_on }
}

#[rustfmt::skip]
const EXPECTED: &[Expected] = &[
    //  app                              service          source  ports (main first)                          depends_on
    svc("angular",                       "web",           Build,  &["4200"],                                  &[]),
    svc("elasticsearch-logstash-kibana", "elasticsearch", Image,  &["9200", "9300"],                          &[]),
    svc("elasticsearch-logstash-kibana", "logstash",      Image,  &["9600", "5000", "5000/udp", "5044"],      &["elasticsearch"]),
    svc("elasticsearch-logstash-kibana", "kibana",        Image,  &["5601"],                                  &["elasticsearch"]),
    svc("flask",                         "web",           Build,  &["8000"],                                  &[]),
    svc("flask-redis",                   "redis",         Image,  &["6379"],                                  &[]),
    svc("flask-redis",                   "web",           Build,  &["8000"],                                  &["redis"]),
    svc("minecraft",                     "minecraft",     Image,  &["25565"],                                 &[]),
    // nc's POSTGRES_HOST=db names the db service.
    svc("nextcloud-postgres",            "nc",            Image,  &["80"],                                    &["db"]),
    svc("nextcloud-postgres",            "db",            Image,  &["5432"],                                  &[]),
    // backend: inferred from ASPNETCORE_URLS=http://+:8000; db: inferred (mariadb image).
    svc("nginx-aspnet-mysql",            "backend",       Build,  &["8000"],                                  &["db"]),
    svc("nginx-aspnet-mysql",            "db",            Image,  &["3306"],                                  &[]),
    svc("nginx-aspnet-mysql",            "proxy",         Build,  &["80"],                                    &["backend"]),
    // backend: inferred from its FLASK_SERVER_PORT=9091 (and web's FLASK_SERVER_ADDR=backend:9091);
    // mongo: inferred (mongo image).
    svc("nginx-flask-mongo",             "web",           Image,  &["80"],                                    &["backend"]),
    svc("nginx-flask-mongo",             "backend",       Build,  &["9091"],                                  &["mongo"]),
    svc("nginx-flask-mongo",             "mongo",         Image,  &["27017"],                                 &[]),
    svc("nginx-flask-mysql",             "db",            Image,  &["3306", "33060"],                         &[]),
    svc("nginx-flask-mysql",             "backend",       Build,  &["8000"],                                  &["db"]),
    svc("nginx-flask-mysql",             "proxy",         Build,  &["80"],                                    &["backend"]),
    // backend: inferred from proxy/nginx.conf `proxy_pass http://backend:80`.
    svc("nginx-golang",                  "proxy",         Image,  &["80"],                                    &["backend"]),
    svc("nginx-golang",                  "backend",       Build,  &["80"],                                    &[]),
    // backend: inferred from proxy/nginx.conf `proxy_pass http://backend:8000`.
    svc("nginx-golang-mysql",            "backend",       Build,  &["8000"],                                  &["db"]),
    svc("nginx-golang-mysql",            "db",            Image,  &["3306"],                                  &[]),
    svc("nginx-golang-mysql",            "proxy",         Image,  &["80"],                                    &["backend"]),
    svc("nginx-nodejs-redis",            "redis",         Image,  &["6379"],                                  &[]),
    svc("nginx-nodejs-redis",            "web1",          Build,  &["5000"],                                  &[]),
    svc("nginx-nodejs-redis",            "web2",          Build,  &["5000"],                                  &[]),
    svc("nginx-nodejs-redis",            "nginx",         Build,  &["80"],                                    &["web1", "web2"]),
    svc("pihole-cloudflared-DoH",        "cloudflared",   Image,  &["5054", "5054/udp"],                      &[]),
    svc("pihole-cloudflared-DoH",        "pihole",        Image,  &["53", "53/udp", "67/udp", "80", "443"],   &["cloudflared"]),
    // network_mode: host and no port anywhere in the files.
    svc("plex",                          "plex",          Image,  &["32400"],                                 &[]),
    svc("portainer",                     "portainer",     Image,  &["9000"],                                  &[]),
    svc("postgresql-pgadmin",            "postgres",      Image,  &["5432"],                                  &[]),
    svc("postgresql-pgadmin",            "pgadmin",       Image,  &["80"],                                    &[]),
    // db: inferred (mariadb image).
    svc("react-express-mysql",           "backend",       Build,  &["80", "9229", "9230"],                    &["db"]),
    svc("react-express-mysql",           "db",            Image,  &["3306"],                                  &[]),
    svc("react-express-mysql",           "frontend",      Build,  &["3000"],                                  &["backend"]),
    svc("react-nginx",                   "frontend",      Build,  &["80"],                                    &[]),
    svc("react-rust-postgres",           "frontend",      Build,  &["3000"],                                  &[]),
    // backend: EXPOSE 8000 in its `development` target stage.
    svc("react-rust-postgres",           "backend",       Build,  &["8000"],                                  &["db"]),
    svc("react-rust-postgres",           "db",            Image,  &["5432"],                                  &[]),
    svc("sparkjava-mysql",               "backend",       Build,  &["8080"],                                  &[]),
    svc("sparkjava-mysql",               "db",            Image,  &["3306", "33060"],                         &[]),
    svc("wasmedge-mysql-nginx",          "frontend",      Image,  &["80"],                                    &[]),
    // backend: DATABASE_URL=mysql://...@db:3306 names db; db: inferred (mariadb image).
    svc("wasmedge-mysql-nginx",          "backend",       Build,  &["8080"],                                  &["db"]),
    svc("wasmedge-mysql-nginx",          "db",            Image,  &["3306"],                                  &[]),
    svc("wireguard",                     "wireguard",     Image,  &["51820/udp"],                             &[]),
];

fn port_label(service: &Service, index: usize) -> String {
    let port = &service.ports[index];
    if port.protocol == Protocol::Udp {
        format!("{}/udp", port.container)
    } else {
        port.container.to_string()
    }
}

fn analyzed(corpus: &Path, app: &str) -> Analysis {
    let root = corpus.join("compose-apps").join(app);
    assert!(root.is_dir(), "corpus app {} is missing", root.display());
    analyze(&root, &Options::default())
}

fn apps(corpus: &Path) -> Vec<String> {
    let dir = corpus.join("compose-apps");
    let mut apps: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    apps.sort();
    apps
}

#[test]
fn every_corpus_app_has_expectations() {
    let Some(corpus) = common::corpus_dir() else { return };
    let apps = apps(&corpus);
    assert_eq!(apps.len(), 22, "{apps:?}");
    let covered: BTreeSet<&str> = EXPECTED.iter().map(|e| e.app).collect();
    for app in &apps {
        assert!(covered.contains(app.as_str()), "no expectation for corpus app {app}");
    }
}

#[test]
fn every_compose_service_with_ports_source_and_dependencies() {
    let Some(corpus) = common::corpus_dir() else { return };
    let mut failures = Vec::new();
    for app in apps(&corpus) {
        let analysis = analyzed(&corpus, &app);
        let expected: Vec<&Expected> = EXPECTED.iter().filter(|e| e.app == app).collect();
        let names: Vec<&str> = analysis.services.iter().map(|s| s.name.as_str()).collect();
        let wanted: Vec<&str> = expected.iter().map(|e| e.service).collect();
        if names != wanted {
            failures.push(format!("{app}: services {names:?}, expected {wanted:?}"));
            continue;
        }
        for (service, want) in analysis.services.iter().zip(&expected) {
            let label = format!("{app}/{}", service.name);
            if service.source != want.source {
                failures.push(format!(
                    "{label}: source {:?}, expected {:?}",
                    service.source, want.source
                ));
            }
            let ports: Vec<String> =
                (0..service.ports.len()).map(|i| port_label(service, i)).collect();
            let got: BTreeSet<&str> = ports.iter().map(String::as_str).collect();
            let wanted: BTreeSet<&str> = want.ports.iter().copied().collect();
            if got != wanted || ports.len() != want.ports.len() {
                failures.push(format!("{label}: ports {ports:?}, expected {:?}", want.ports));
            } else if ports.first().map(String::as_str) != want.ports.first().copied() {
                failures.push(format!(
                    "{label}: main port {:?}, expected {:?}",
                    ports.first(),
                    want.ports.first()
                ));
            }
            if service.depends_on != want.depends_on {
                failures.push(format!(
                    "{label}: depends_on {:?}, expected {:?}",
                    service.depends_on, want.depends_on
                ));
            }
        }
        if !analysis.notes.is_empty() {
            failures.push(format!("{app}: unexpected notes {:?}", analysis.notes));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn evidence_points_at_lines_that_say_it() {
    let Some(corpus) = common::corpus_dir() else { return };
    for app in apps(&corpus) {
        let root = corpus.join("compose-apps").join(&app);
        let analysis = analyzed(&corpus, &app);
        for service in &analysis.services {
            let first = &service.evidence[0];
            let compose_line = line_of(&root, &first.file, first.line);
            assert!(
                compose_line.trim_start().starts_with(&format!("{}:", service.name)),
                "{app}/{}: service evidence at {}:{:?} is `{compose_line}`",
                service.name,
                first.file,
                first.line
            );
            for evidence in &service.evidence {
                let Some(line) = evidence.line else { continue };
                let text = line_of(&root, &evidence.file, Some(line));
                // "port 80 published as 8090" must sit on the line publishing it.
                if let Some(rest) = evidence.what.strip_prefix("port ") {
                    let port = rest.split(['/', ' ']).next().unwrap_or_default();
                    assert!(text.contains(port), "{app}: `{}` at `{text}`", evidence.what);
                }
                if let Some(port) = evidence.what.strip_prefix("EXPOSE ") {
                    assert!(text.starts_with("EXPOSE"), "{app}: `{}` at `{text}`", evidence.what);
                    let _ = port;
                }
                if let Some(dep) = evidence.what.strip_prefix("depends_on ") {
                    assert!(text.contains(dep), "{app}: `{}` at `{text}`", evidence.what);
                }
                if evidence.what.contains(" is based on ") {
                    assert!(
                        text.to_ascii_uppercase().starts_with("FROM"),
                        "{app}: `{}` at `{text}`",
                        evidence.what
                    );
                }
            }
        }
    }
}

fn line_of(root: &std::path::Path, file: &str, line: Option<u32>) -> String {
    let text = std::fs::read_to_string(root.join(file)).unwrap_or_default();
    let line = line.unwrap_or_else(|| panic!("{file}: evidence without a line"));
    text.lines()
        .nth(line as usize - 1)
        .unwrap_or_else(|| panic!("{file}:{line} does not exist"))
        .to_string()
}

#[test]
fn facts_beyond_ports() {
    let Some(corpus) = common::corpus_dir() else { return };
    let elk = analyzed(&corpus, "elasticsearch-logstash-kibana");
    let es = &elk.services[0];
    let health = es.health.as_ref().map(|h| (h.path.as_deref(), h.port));
    assert_eq!(
        health,
        Some((Some("/_cluster/health"), None)),
        "curl localhost:9200/_cluster/health"
    );
    assert_eq!(es.ports[0].protocol, Protocol::Http);

    let minecraft = analyzed(&corpus, "minecraft");
    assert_eq!(
        minecraft.services[0].resources.memory, 1536,
        "deploy.resources.limits.memory: 1.5G"
    );
    assert!(minecraft.services[0].resources.reason.contains("compose"));

    let express = analyzed(&corpus, "react-express-mysql");
    let backend = &express.services[0];
    assert_eq!(backend.base_image.as_deref(), Some("node:lts"), "target development");
    assert_eq!(backend.dockerfile.as_deref(), Some("backend/Dockerfile"));
    assert_eq!(backend.path, "backend");
    let node_env = backend.env.iter().find(|e| e.name == "NODE_ENV");
    assert_eq!(node_env.and_then(|e| e.default.as_deref()), Some("development"));
    assert_eq!(
        backend.command.as_deref(),
        Some(&["npm".to_string(), "run".into(), "start-watch".into()][..])
    );
    let named: Vec<(&str, bool)> =
        backend.volumes.iter().map(|v| (v.path.as_str(), v.persistent)).collect();
    assert!(named.contains(&("/opt/app/node_modules", false)), "a cache, not data: {named:?}");
    assert!(!named.iter().any(|(path, _)| *path == "/code/src"), "code is no volume: {named:?}");
    // compose-apps holds the manifests only: the mounted source folder is not there.
    let code = backend.host_mounts.iter().find(|m| m.target == "/code/src");
    assert!(code.is_some(), "a mount the job must say something about: {:?}", backend.host_mounts);
    let db = &express.services[1];
    assert_eq!(db.volumes[0].path, "/var/lib/mysql");
    assert!(db.volumes[0].persistent);

    let golang = analyzed(&corpus, "nginx-golang-mysql");
    let backend = &golang.services[0];
    assert_eq!(backend.base_image.as_deref(), Some("golang:1.18-alpine"), "target builder");

    let wasm = analyzed(&corpus, "wasmedge-mysql-nginx");
    let url = wasm.services[1].env.iter().find(|e| e.name == "DATABASE_URL");
    assert_eq!(
        url.map(|e| (e.secret, e.default.clone())),
        Some((true, None)),
        "URL with a password"
    );

    // A secret's value never reaches the analysis.
    for app in apps(&corpus) {
        for service in analyzed(&corpus, &app).services {
            for env in &service.env {
                assert!(
                    !env.secret || env.default.is_none(),
                    "{app}/{}: {}",
                    service.name,
                    env.name
                );
            }
            let json = serde_json::to_string(&service).unwrap_or_default();
            assert!(!json.contains("whalehello@"), "{app}: password in output");
        }
    }
}
