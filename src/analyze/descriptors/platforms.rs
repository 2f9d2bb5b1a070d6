//! Platform descriptors: Heroku-style `Procfile`, Fly.io's `fly.toml`, Google App Engine's
//! `app.yaml`.
//!
//! These platforms inject the port (`$PORT`), so a port is reported only where the file names
//! a number. Sizes are translated to Nomad's units: Fly's `memory = "1gb"` is 1024 MB; a Fly
//! shared vCPU is counted as 250 MHz (it guarantees a fraction of a core), a performance vCPU
//! as 1000 MHz; App Engine instance classes map to their documented memory and CPU.

use serde_json::Value;

use super::{env_var, DescribedService};
use crate::analyze::manifest::port_in_command;
use crate::analyze::read::{line_of, parse_yaml, shell_words, toml_table};
use crate::analyze::resources::{memory_mb, Quantities};
use crate::analyze::walk::parent_dir;
use crate::analyze::{Evidence, Health, HealthKind, Note, Port, Protocol, Resources};

/// Reads a `Procfile`: one service per process type (`web`, `worker` ...); `release` is a
/// one-off step, not a service.
pub fn read_procfile(text: &str, file: &str, notes: &mut Vec<Note>) -> Vec<DescribedService> {
    let mut services = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let content = raw.trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let Some((process, command)) = content.split_once(':') else {
            notes.push(Note::line(file, line, "not a `type: command` line"));
            continue;
        };
        let process = process.trim();
        if process.is_empty()
            || !process.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            notes.push(Note::line(file, line, format!("not a process type: {process:?}")));
            continue;
        }
        if process == "release" {
            continue;
        }
        let command = command.trim();
        let mut service = DescribedService {
            name: process.to_string(),
            dir: parent_dir(file).to_string(),
            command: Some(shell_words(command, '\\')),
            kind: "Procfile".into(),
            ..DescribedService::default()
        };
        service.evidence.push(Evidence::at(
            file,
            Some(line),
            format!("Procfile process {process}: {command}"),
        ));
        if let Some(port) = port_in_command(command) {
            service.ports.push(Port { container: port, published: None, protocol: Protocol::Http });
            service.evidence.push(Evidence::at(file, Some(line), format!("listens on {port}")));
        }
        if command.contains("$PORT") || command.contains("${PORT") {
            service.env.push(env_var("PORT", None));
            service.evidence.push(Evidence::at(
                file,
                Some(line),
                "listens on $PORT, set by the platform",
            ));
        }
        services.push(service);
    }
    services
}

fn toml_port(value: Option<&toml::Value>) -> Option<u16> {
    value.and_then(toml::Value::as_integer).and_then(|p| u16::try_from(p).ok()).filter(|p| *p > 0)
}

/// Reads `fly.toml`: app name, `[build] image`, `[env]`, `[http_service]` and `[[services]]`
/// ports with their checks, top-level `[checks]`, `[[vm]]` size, `[processes]`.
pub fn read_fly_toml(text: &str, file: &str, notes: &mut Vec<Note>) -> Vec<DescribedService> {
    let Some(table) = toml_table(text, file, notes) else { return Vec::new() };
    let dir = parent_dir(file).to_string();
    let name = table
        .get("app")
        .and_then(|a| a.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| dir.rsplit('/').next().unwrap_or(&dir).to_string());
    let mut service = DescribedService {
        name: name.clone(),
        dir,
        kind: "fly.toml".into(),
        ..DescribedService::default()
    };
    service.evidence.push(Evidence::at(
        file,
        line_of(text, "app", 0),
        format!("Fly.io app {name}"),
    ));
    if let Some(image) = table.get("build").and_then(|b| b.get("image")).and_then(|i| i.as_str()) {
        service.image = Some(image.to_string());
        service.evidence.push(Evidence::at(
            file,
            line_of(text, image, 0),
            format!("runs image {image}"),
        ));
    }
    if let Some(env) = table.get("env").and_then(|e| e.as_table()) {
        for (key, value) in env {
            let value = match value {
                toml::Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            };
            service.env.push(env_var(key, value.as_deref()));
            service.evidence.push(Evidence::at(
                file,
                line_of(text, &format!("{key} ="), 0),
                format!("env {key}"),
            ));
        }
    }
    let mut checks: Vec<(HealthKind, Option<String>, Option<u16>, usize)> = Vec::new();
    if let Some(http) = table.get("http_service") {
        if let Some(port) = toml_port(http.get("internal_port")) {
            service.ports.push(Port { container: port, published: None, protocol: Protocol::Http });
            service.evidence.push(Evidence::at(
                file,
                line_of(text, "internal_port", 0),
                format!("http_service on {port}"),
            ));
        }
        for check in http.get("checks").and_then(|c| c.as_array()).into_iter().flatten() {
            let path = check.get("path").and_then(|p| p.as_str()).unwrap_or("/").to_string();
            checks.push((HealthKind::Http, Some(path), None, 0));
        }
    }
    for entry in table.get("services").and_then(|s| s.as_array()).into_iter().flatten() {
        let Some(port) = toml_port(entry.get("internal_port")) else { continue };
        let handlers: Vec<&str> = entry
            .get("ports")
            .and_then(|p| p.as_array())
            .into_iter()
            .flatten()
            .flat_map(|p| p.get("handlers").and_then(|h| h.as_array()).into_iter().flatten())
            .filter_map(|h| h.as_str())
            .collect();
        let protocol = match entry.get("protocol").and_then(|p| p.as_str()) {
            Some("udp") => Protocol::Udp,
            _ if handlers.contains(&"http") => Protocol::Http,
            _ => Protocol::Tcp,
        };
        if !service.ports.iter().any(|p| p.container == port) {
            service.ports.push(Port { container: port, published: None, protocol });
            let line = line_of(text, &format!("internal_port = {port}"), 0);
            service.evidence.push(Evidence::at(file, line, format!("service on {port}")));
        }
        for check in entry.get("http_checks").and_then(|c| c.as_array()).into_iter().flatten() {
            let path = check.get("path").and_then(|p| p.as_str()).unwrap_or("/").to_string();
            checks.push((HealthKind::Http, Some(path), Some(port), 1));
        }
        if entry.get("tcp_checks").and_then(|c| c.as_array()).is_some_and(|c| !c.is_empty()) {
            checks.push((HealthKind::Tcp, None, Some(port), 2));
        }
    }
    for (_, check) in table.get("checks").and_then(|c| c.as_table()).into_iter().flatten() {
        let port = toml_port(check.get("port"));
        match check.get("type").and_then(|t| t.as_str()) {
            Some("http") => {
                let path = check.get("path").and_then(|p| p.as_str()).unwrap_or("/").to_string();
                checks.push((HealthKind::Http, Some(path), port, 1));
            }
            Some("tcp") => checks.push((HealthKind::Tcp, None, port, 2)),
            _ => {}
        }
    }
    checks.sort_by_key(|c| c.3);
    if let Some((kind, path, port, _)) = checks.into_iter().next() {
        let main = service.ports.first().map(|p| p.container);
        let needle = path.as_deref().map_or("check", |p| p);
        let line =
            line_of(text, &format!("\"{needle}\""), 0).or_else(|| line_of(text, "checks", 0));
        let what = match &path {
            Some(path) => format!("health check {path}"),
            None => "TCP health check".to_string(),
        };
        service.evidence.push(Evidence::at(file, line, what));
        service.health = Some(Health { kind, path, port: port.filter(|p| Some(*p) != main) });
    }
    let vm = table
        .get("vm")
        .and_then(|v| v.as_array())
        .and_then(|v| v.first())
        .or_else(|| table.get("vm"));
    if let Some(vm) = vm {
        let memory = vm
            .get("memory")
            .and_then(|m| match m {
                toml::Value::String(s) => memory_mb(s, Quantities::Kubernetes),
                toml::Value::Integer(n) => u32::try_from(*n).ok(),
                _ => None,
            })
            .or_else(|| {
                vm.get("memory_mb").and_then(|m| m.as_integer()).and_then(|n| u32::try_from(n).ok())
            });
        let cpus = vm
            .get("cpus")
            .and_then(|c| c.as_integer())
            .and_then(|c| u32::try_from(c).ok())
            .unwrap_or(1);
        let performance = vm.get("cpu_kind").and_then(|k| k.as_str()) == Some("performance");
        if let Some(memory) = memory {
            let per_cpu = if performance { 1000 } else { 250 };
            let kind = if performance { "performance" } else { "shared" };
            let reason = format!("from fly.toml [[vm]]: {cpus} {kind} vCPU, {memory} MB");
            service.evidence.push(Evidence::at(file, line_of(text, "vm", 0), reason.clone()));
            service.resources = Some(Resources { cpu: cpus * per_cpu, memory, reason });
        }
    }
    if let Some(processes) = table.get("processes").and_then(|p| p.as_table()) {
        if let Some((process, command)) = processes.iter().next() {
            if let Some(command) = command.as_str() {
                service.command = Some(shell_words(command, '\\'));
                let line = line_of(text, command, 0);
                service.evidence.push(Evidence::at(
                    file,
                    line,
                    format!("process {process}: {command}"),
                ));
            }
        }
    }
    vec![service]
}

/// Whether a YAML file is an App Engine descriptor (it has a top-level `runtime:`).
pub fn is_app_engine(text: &str) -> bool {
    text.lines().any(|l| l.starts_with("runtime:"))
}

/// App Engine instance classes: memory MB and CPU MHz.
const INSTANCE_CLASSES: &[(&str, u32, u32)] = &[
    ("F1", 256, 600),
    ("F2", 512, 1200),
    ("F4", 1024, 2400),
    ("F4_1G", 2048, 2400),
    ("B1", 256, 600),
    ("B2", 512, 1200),
    ("B4", 1024, 2400),
    ("B4_1G", 2048, 2400),
    ("B8", 2048, 4800),
];

/// Reads an App Engine `app.yaml`: service, runtime, entrypoint, env_variables, instance class
/// or flexible resources, health checks. App Engine sends requests to `$PORT`, which is 8080.
pub fn read_app_yaml(text: &str, file: &str, notes: &mut Vec<Note>) -> Vec<DescribedService> {
    let Some(value) = parse_yaml(text, text, 0, file, notes) else { return Vec::new() };
    let name = value["service"].as_str().unwrap_or("default").to_string();
    let runtime = value["runtime"].as_str().unwrap_or("unknown");
    let mut service = DescribedService {
        name: name.clone(),
        dir: parent_dir(file).to_string(),
        kind: "app.yaml".into(),
        ..DescribedService::default()
    };
    service.evidence.push(Evidence::at(
        file,
        line_of(text, "runtime:", 0),
        format!("App Engine service {name}, runtime {runtime}"),
    ));
    service.ports.push(Port { container: 8080, published: None, protocol: Protocol::Http });
    service.evidence.push(Evidence::at(
        file,
        line_of(text, "runtime:", 0),
        "App Engine serves on $PORT, 8080",
    ));
    if let Some(entrypoint) = value["entrypoint"].as_str() {
        service.command = Some(shell_words(entrypoint, '\\'));
        service.evidence.push(Evidence::at(
            file,
            line_of(text, "entrypoint:", 0),
            format!("entrypoint: {entrypoint}"),
        ));
    }
    for (key, env) in value["env_variables"].as_object().into_iter().flatten() {
        let text_value = match env {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        };
        service.env.push(env_var(key, text_value.as_deref()));
        service.evidence.push(Evidence::at(
            file,
            line_of(text, &format!("{key}:"), 0),
            format!("env {key}"),
        ));
    }
    let class = value["instance_class"].as_str();
    if let Some((class, memory, cpu)) =
        class.and_then(|c| INSTANCE_CLASSES.iter().find(|(k, _, _)| *k == c))
    {
        let reason = format!("from app.yaml instance_class {class}: {memory} MB, {cpu} MHz");
        service.evidence.push(Evidence::at(
            file,
            line_of(text, "instance_class", 0),
            reason.clone(),
        ));
        service.resources = Some(Resources { cpu: *cpu, memory: *memory, reason });
    } else if let Some(gb) = value["resources"]["memory_gb"].as_f64() {
        let cpus = value["resources"]["cpu"].as_f64().unwrap_or(1.0);
        let memory = (gb * 1024.0).round() as u32;
        let cpu = (cpus * 1000.0).round() as u32;
        let reason = format!("from app.yaml resources: {cpus} cpu, {gb} GB");
        service.evidence.push(Evidence::at(file, line_of(text, "resources:", 0), reason.clone()));
        service.resources = Some(Resources { cpu: cpu.max(1), memory: memory.max(1), reason });
    }
    for key in ["readiness_check", "liveness_check"] {
        if let Some(path) = value[key]["path"].as_str() {
            service.evidence.push(Evidence::at(
                file,
                line_of(text, key, 0),
                format!("{key} {path}"),
            ));
            service.health =
                Some(Health { kind: HealthKind::Http, path: Some(path.to_string()), port: None });
            break;
        }
    }
    vec![service]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::EnvVar;

    #[test]
    fn commands_are_split() {
        let cases: [(&str, &[&str]); 4] = [
            (
                "gunicorn app:app --bind 0.0.0.0:$PORT",
                &["gunicorn", "app:app", "--bind", "0.0.0.0:$PORT"],
            ),
            ("sh -c 'echo hi && run'", &["sh", "-c", "echo hi && run"]),
            ("  a   \"b c\"d ", &["a", "b cd"]),
            ("", &[]),
        ];
        for (command, words) in cases {
            assert_eq!(shell_words(command, '\\'), words, "{command}");
        }
    }

    #[test]
    fn procfile() {
        let text = "# processes\nweb: gunicorn app:app --bind 0.0.0.0:$PORT --workers 3\nworker: celery -A app worker\nrelease: python manage.py migrate\nadmin: python -m http.server --port 9000\nnot a line\n";
        let mut notes = Vec::new();
        let services = read_procfile(text, "Procfile", &mut notes);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(notes[0].line, Some(6));
        let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["web", "worker", "admin"]);
        let web = &services[0];
        assert_eq!(web.dir, ".");
        assert_eq!(
            web.env,
            [EnvVar { name: "PORT".into(), secret: false, default: None, ..EnvVar::default() }]
        );
        assert!(web.ports.is_empty(), "$PORT is not a number");
        assert_eq!(web.command.as_ref().map(|c| c[0].as_str()), Some("gunicorn"));
        assert_eq!(web.evidence[0].line, Some(2));
        assert_eq!(
            services[2].ports,
            [Port { container: 9000, published: None, protocol: Protocol::Http }]
        );
    }

    #[test]
    fn fly_toml() {
        let text = r#"app = "shop-api"
primary_region = "ams"

[build]
  image = "registry.fly.io/shop-api:deploy-1"

[env]
  LOG_LEVEL = "info"
  STRIPE_SECRET_KEY = "sk_live_dont_leak"
  WORKERS = 4

[http_service]
  internal_port = 8080
  force_https = true

  [[http_service.checks]]
    interval = "15s"
    method = "GET"
    path = "/healthz"

[[vm]]
  memory = "1gb"
  cpu_kind = "shared"
  cpus = 2
"#;
        let mut notes = Vec::new();
        let services = read_fly_toml(text, "fly.toml", &mut notes);
        assert!(notes.is_empty(), "{notes:?}");
        let fly = &services[0];
        assert_eq!(fly.name, "shop-api");
        assert_eq!(fly.image.as_deref(), Some("registry.fly.io/shop-api:deploy-1"));
        assert_eq!(
            fly.ports,
            [Port { container: 8080, published: None, protocol: Protocol::Http }]
        );
        assert_eq!(
            fly.health,
            Some(Health { kind: HealthKind::Http, path: Some("/healthz".into()), port: None })
        );
        assert_eq!(
            fly.env,
            [
                EnvVar {
                    name: "LOG_LEVEL".into(),
                    secret: false,
                    default: Some("info".into()),
                    ..EnvVar::default()
                },
                EnvVar {
                    name: "STRIPE_SECRET_KEY".into(),
                    secret: true,
                    default: None,
                    ..EnvVar::default()
                },
                EnvVar {
                    name: "WORKERS".into(),
                    secret: false,
                    default: Some("4".into()),
                    ..EnvVar::default()
                },
            ]
        );
        assert_eq!(fly.resources.as_ref().map(|r| (r.cpu, r.memory)), Some((500, 1024)));
        assert!(!format!("{services:?}").contains("sk_live"));
        let health = fly
            .evidence
            .iter()
            .find(|e| e.what.starts_with("health check"))
            .expect("health evidence");
        assert_eq!(health.line, Some(19));

        let services_style = "app = \"tcp\"\n[[services]]\n  internal_port = 5432\n  protocol = \"tcp\"\n  [[services.tcp_checks]]\n    interval = \"10s\"\n";
        let services = read_fly_toml(services_style, "db/fly.toml", &mut notes);
        assert_eq!(
            services[0].ports,
            [Port { container: 5432, published: None, protocol: Protocol::Tcp }]
        );
        assert_eq!(services[0].health.as_ref().map(|h| h.kind), Some(HealthKind::Tcp));

        let broken = read_fly_toml("app = \"x\"\n[env\n", "fly.toml", &mut notes);
        assert!(broken.is_empty());
        assert_eq!(notes.last().and_then(|n| n.line), Some(2), "{notes:?}");
    }

    #[test]
    fn app_engine() {
        let text = "runtime: python312\nservice: api\nentrypoint: gunicorn -b :$PORT main:app\ninstance_class: F2\nenv_variables:\n  BUCKET: my-bucket\n  DB_PASSWORD: hunter2\n";
        assert!(is_app_engine(text));
        assert!(!is_app_engine("apiVersion: v1\nkind: Pod\n"));
        let mut notes = Vec::new();
        let services = read_app_yaml(text, "api/app.yaml", &mut notes);
        assert!(notes.is_empty(), "{notes:?}");
        let app = &services[0];
        assert_eq!((app.name.as_str(), app.dir.as_str()), ("api", "api"));
        assert_eq!(app.ports[0].container, 8080);
        assert_eq!(app.command.as_ref().map(Vec::len), Some(4));
        assert_eq!(app.resources.as_ref().map(|r| (r.cpu, r.memory)), Some((1200, 512)));
        assert_eq!(
            app.env,
            [
                EnvVar {
                    name: "BUCKET".into(),
                    secret: false,
                    default: Some("my-bucket".into()),
                    ..EnvVar::default()
                },
                EnvVar {
                    name: "DB_PASSWORD".into(),
                    secret: true,
                    default: None,
                    ..EnvVar::default()
                },
            ]
        );
        let flex = "runtime: custom\nenv: flex\nresources:\n  cpu: 2\n  memory_gb: 2.3\nreadiness_check:\n  path: \"/ready\"\n";
        let services = read_app_yaml(flex, "app.yaml", &mut notes);
        assert_eq!(services[0].name, "default");
        assert_eq!(services[0].resources.as_ref().map(|r| (r.cpu, r.memory)), Some((2000, 2355)));
        assert_eq!(services[0].health.as_ref().and_then(|h| h.path.as_deref()), Some("/ready"));
        let broken = read_app_yaml("runtime: [\n", "app.yaml", &mut notes);
        assert!(broken.is_empty());
        assert_eq!(notes.len(), 1, "{notes:?}");
    }
}
