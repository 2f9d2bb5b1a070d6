//! Kubernetes manifests, Helm values and kustomize image overrides.
//!
//! Workloads (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Pod) give one
//! described service per container: the first container under the workload's name, sidecars
//! as `<workload>-<container>`. Probes are read readiness first (what decides traffic), then
//! liveness, then startup. Memory is the limit when one is set (Nomad kills a task above its
//! memory, as Kubernetes does above its limit), else the request; CPU is the request, else the
//! limit. Other kinds (Service, ConfigMap, Ingress ...) are not services and are skipped.

use serde_json::Value;

use super::{env_var, DescribedService};
use crate::analyze::read::{documents, line_of, parse_yaml};
use crate::analyze::resources::{cpu_mhz, memory_mb, Quantities};
use crate::analyze::walk::parent_dir;
use crate::analyze::{Evidence, Health, HealthKind, Note, Port, Protocol, Resources};

/// Whether YAML text looks like Kubernetes objects.
pub fn looks_like_manifest(text: &str) -> bool {
    text.contains("apiVersion:") && text.contains("kind:")
}

/// A scalar as text (numbers and booleans too, as YAML authors write them unquoted).
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn port_number(value: &Value) -> Option<u16> {
    match value {
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .filter(|p| *p > 0)
}

/// Reads every workload in a (multi-document) manifest file.
pub fn read_manifests(text: &str, file: &str, notes: &mut Vec<Note>) -> Vec<DescribedService> {
    if text.contains("{{") {
        notes.push(Note::file(file, "templated YAML (Go template), not read as Kubernetes"));
        return Vec::new();
    }
    let mut services = Vec::new();
    for (offset, doc) in documents(text) {
        let Some(value) = parse_yaml(text, doc, offset, file, notes) else { continue };
        // `kind: List` wraps objects in `items`.
        let objects = match value.get("items").and_then(Value::as_array) {
            Some(items) if value["kind"] == "List" => items.clone(),
            _ => vec![value],
        };
        for object in &objects {
            services.extend(read_workload(object, text, offset, file));
        }
    }
    services
}

fn read_workload(object: &Value, text: &str, offset: usize, file: &str) -> Vec<DescribedService> {
    let Some(kind) = object["kind"].as_str() else { return Vec::new() };
    let pod = match kind {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            &object["spec"]["template"]["spec"]
        }
        "CronJob" => &object["spec"]["jobTemplate"]["spec"]["template"]["spec"],
        "Pod" => &object["spec"],
        _ => return Vec::new(),
    };
    let workload = object["metadata"]["name"].as_str().unwrap_or("unnamed").to_string();
    let line = line_of(text, &format!("kind: {kind}"), offset);
    let Some(containers) = pod["containers"].as_array() else { return Vec::new() };
    containers
        .iter()
        .enumerate()
        .map(|(index, container)| {
            let container_name = container["name"].as_str().unwrap_or("container");
            let name =
                if index == 0 { workload.clone() } else { format!("{workload}-{container_name}") };
            let mut service = read_container(container, text, offset, file);
            service.name = name;
            service.kind = format!("kubernetes {kind}");
            service.evidence.insert(
                0,
                Evidence::at(
                    file,
                    line,
                    format!("Kubernetes {kind} {workload}, container {container_name}"),
                ),
            );
            service
        })
        .collect()
}

/// One container spec (also the shape Helm values use for probes and resources).
fn read_container(container: &Value, text: &str, offset: usize, file: &str) -> DescribedService {
    let mut service =
        DescribedService { dir: parent_dir(file).to_string(), ..DescribedService::default() };
    let start = container["name"]
        .as_str()
        .and_then(|n| text.get(offset..)?.find(&format!("name: {n}")).map(|i| i + offset))
        .unwrap_or(offset);
    if let Some(image) = container["image"].as_str() {
        service.image = Some(image.to_string());
        let line = line_of(text, image, start);
        service.evidence.push(Evidence::at(file, line, format!("runs image {image}")));
    }
    let mut named_ports = Vec::new();
    for port in container["ports"].as_array().into_iter().flatten() {
        let Some(number) = port_number(&port["containerPort"]) else { continue };
        let name = port["name"].as_str().unwrap_or("").to_ascii_lowercase();
        let protocol = if port["protocol"].as_str() == Some("UDP") {
            Protocol::Udp
        } else if name.contains("grpc") {
            Protocol::Grpc
        } else if name.contains("http") || name == "web" {
            Protocol::Http
        } else {
            Protocol::Tcp
        };
        named_ports.push((name, number));
        service.ports.push(Port { container: number, published: None, protocol });
        let line = line_of(text, &format!("containerPort: {number}"), start);
        service.evidence.push(Evidence::at(file, line, format!("container port {number}")));
    }
    for env in container["env"].as_array().into_iter().flatten() {
        let Some(name) = env["name"].as_str() else { continue };
        let line = line_of(text, &format!("name: {name}"), start);
        let from_secret = env["valueFrom"]["secretKeyRef"].is_object();
        let mut var = env_var(name, text_of(&env["value"]).as_deref());
        if from_secret {
            var.secret = true;
            var.default = None;
        }
        let what = if from_secret {
            format!("env {name} from a Kubernetes secret")
        } else if env["valueFrom"].is_object() {
            format!("env {name} from a reference")
        } else {
            format!("env {name}")
        };
        service.evidence.push(Evidence::at(file, line, what));
        service.env.push(var);
    }
    for source in container["envFrom"].as_array().into_iter().flatten() {
        for (key, what) in [("secretRef", "secret"), ("configMapRef", "config map")] {
            if let Some(name) = source[key]["name"].as_str() {
                let line = line_of(text, key, start);
                service.evidence.push(Evidence::at(file, line, format!("env from {what} {name}")));
            }
        }
    }
    read_probe(container, &named_ports, &mut service, text, start, file);
    read_resources(&container["resources"], &mut service, text, start, file);
    let mut command: Vec<String> = Vec::new();
    for key in ["command", "args"] {
        command.extend(container[key].as_array().into_iter().flatten().filter_map(text_of));
    }
    if !command.is_empty() {
        service.command = Some(command);
    }
    service
}

fn read_probe(
    container: &Value,
    named_ports: &[(String, u16)],
    service: &mut DescribedService,
    text: &str,
    start: usize,
    file: &str,
) {
    let resolve = |value: &Value| {
        port_number(value).or_else(|| {
            let name = value.as_str()?.to_ascii_lowercase();
            named_ports.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
        })
    };
    for key in ["readinessProbe", "livenessProbe", "startupProbe"] {
        let probe = &container[key];
        if !probe.is_object() {
            continue;
        }
        let (kind, path, port) = if probe["httpGet"].is_object() {
            let path = probe["httpGet"]["path"].as_str().unwrap_or("/").to_string();
            (HealthKind::Http, Some(path), resolve(&probe["httpGet"]["port"]))
        } else if probe["grpc"].is_object() {
            (HealthKind::Grpc, None, resolve(&probe["grpc"]["port"]))
        } else if probe["tcpSocket"].is_object() {
            (HealthKind::Tcp, None, resolve(&probe["tcpSocket"]["port"]))
        } else {
            let line = line_of(text, key, start);
            service.evidence.push(Evidence::at(
                file,
                line,
                format!("{key} runs a command (not usable as a Nomad check)"),
            ));
            continue;
        };
        if let Some(port) = port {
            // The probe says what the port speaks.
            super::mark_port_protocol(service, port, kind);
        }
        let main = service.ports.first().map(|p| p.container);
        let what = match (&path, port) {
            (Some(path), Some(port)) => format!("{key}: {kind:?} {path} on {port}"),
            (Some(path), None) => format!("{key}: {kind:?} {path}"),
            (None, Some(port)) => format!("{key}: {kind:?} on {port}"),
            (None, None) => format!("{key}: {kind:?}"),
        }
        .replace("Http", "HTTP")
        .replace("Grpc", "gRPC")
        .replace("Tcp", "TCP");
        service.evidence.push(Evidence::at(file, line_of(text, key, start), what));
        service.health = Some(Health { kind, path, port: port.filter(|p| Some(*p) != main) });
        return;
    }
}

fn read_resources(
    resources: &Value,
    service: &mut DescribedService,
    text: &str,
    start: usize,
    file: &str,
) {
    let quantity = |section: &str, key: &str| text_of(&resources[section][key]);
    let memory = quantity("limits", "memory")
        .map(|q| ("limit", q))
        .or_else(|| quantity("requests", "memory").map(|q| ("request", q)));
    let cpu = quantity("requests", "cpu")
        .map(|q| ("request", q))
        .or_else(|| quantity("limits", "cpu").map(|q| ("limit", q)));
    if memory.is_none() && cpu.is_none() {
        return;
    }
    let memory_value = memory.as_ref().and_then(|(_, q)| memory_mb(q, Quantities::Kubernetes));
    let cpu_value = cpu.as_ref().and_then(|(_, q)| cpu_mhz(q));
    let mut parts = Vec::new();
    if let Some((which, q)) = &cpu {
        parts.push(format!("cpu {which} {q}"));
    }
    if let Some((which, q)) = &memory {
        parts.push(format!("memory {which} {q}"));
    }
    let described = parts.join(", ");
    let line = line_of(text, "resources:", start);
    if memory_value.is_none() && cpu_value.is_none() {
        service.evidence.push(Evidence::at(
            file,
            line,
            format!("resources not understood: {described}"),
        ));
        return;
    }
    let reason = match (cpu_value, memory_value) {
        (Some(_), Some(_)) => format!("from Kubernetes resources ({described})"),
        (None, Some(_)) => {
            format!("from Kubernetes resources ({described}); cpu not given, 100 MHz")
        }
        _ => format!("from Kubernetes resources ({described}); memory not given, 256 MB"),
    };
    service.resources = Some(Resources {
        cpu: cpu_value.unwrap_or(100),
        memory: memory_value.unwrap_or(256),
        reason: reason.clone(),
    });
    service.evidence.push(Evidence::at(file, line, reason));
}

/// Reads a Helm chart's `values.yaml`: `image.repository`/`image.tag` (or the chart's
/// `appVersion`), `service.port`/`targetPort`/`containerPort`, `env`/`extraEnv`, probes and
/// resources. Charts without an image in their values give nothing.
pub fn read_helm_values(
    text: &str,
    chart: Option<&str>,
    file: &str,
    notes: &mut Vec<Note>,
) -> Vec<DescribedService> {
    let Some(values) = parse_yaml(text, text, 0, file, notes) else { return Vec::new() };
    let chart: Value = chart.and_then(|c| serde_saphyr::from_str(c).ok()).unwrap_or(Value::Null);
    let image = &values["image"];
    let Some(repository) = image["repository"].as_str().or_else(|| image.as_str()) else {
        return Vec::new();
    };
    let tag =
        text_of(&image["tag"]).filter(|t| !t.is_empty()).or_else(|| text_of(&chart["appVersion"]));
    let full = match tag {
        Some(tag) if image["repository"].is_string() => format!("{repository}:{tag}"),
        _ => repository.to_string(),
    };
    let mut container = serde_json::Map::new();
    container.insert("image".into(), Value::String(full));
    let port = ["targetPort", "containerPort", "port"]
        .iter()
        .find_map(|key| port_number(&values["service"][key]))
        .or_else(|| port_number(&values["containerPort"]));
    if let Some(port) = port {
        // Charts name their container port `http` (the `helm create` scaffold does).
        container
            .insert("ports".into(), serde_json::json!([{ "containerPort": port, "name": "http" }]));
    }
    let mut env = Vec::new();
    for key in ["env", "extraEnv", "extraEnvVars"] {
        match &values[key] {
            Value::Array(list) => env.extend(list.iter().cloned()),
            Value::Object(map) => env.extend(map.iter().map(|(name, value)| match value {
                Value::Object(_) => {
                    let mut entry = value.clone();
                    entry["name"] = Value::String(name.clone());
                    entry
                }
                other => serde_json::json!({ "name": name, "value": other }),
            })),
            _ => {}
        }
    }
    container.insert("env".into(), Value::Array(env));
    for key in ["readinessProbe", "livenessProbe", "startupProbe", "resources"] {
        container.insert(key.into(), values[key].clone());
    }
    let mut service = read_container(&Value::Object(container), text, 0, file);
    service.name = chart["name"].as_str().map(str::to_string).unwrap_or_else(|| {
        let dir = parent_dir(file).to_string();
        dir.rsplit('/').next().unwrap_or(&dir).to_string()
    });
    service.kind = "helm values".into();
    service.evidence.insert(
        0,
        Evidence::at(file, line_of(text, "image:", 0), format!("Helm chart {}", service.name)),
    );
    vec![service]
}

/// An image override of a kustomization (`images:`), with where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageOverride {
    /// Image name as the manifests write it, without tag.
    pub name: String,
    /// Full replacement image.
    pub image: String,
    /// Where it came from.
    pub evidence: Evidence,
}

/// Reads a `kustomization.yaml`'s `images:` overrides.
pub fn read_kustomization(text: &str, file: &str, notes: &mut Vec<Note>) -> Vec<ImageOverride> {
    let Some(value) = parse_yaml(text, text, 0, file, notes) else { return Vec::new() };
    let mut overrides = Vec::new();
    for entry in value["images"].as_array().into_iter().flatten() {
        let Some(name) = entry["name"].as_str() else { continue };
        let new_name = entry["newName"].as_str().unwrap_or(name);
        let image = match (text_of(&entry["newTag"]), entry["digest"].as_str()) {
            (_, Some(digest)) => format!("{new_name}@{digest}"),
            (Some(tag), None) => format!("{new_name}:{tag}"),
            (None, None) => new_name.to_string(),
        };
        let line = line_of(text, &format!("name: {name}"), 0);
        let evidence = Evidence::at(file, line, format!("kustomize sets image {name} to {image}"));
        overrides.push(ImageOverride { name: name.to_string(), image, evidence });
    }
    overrides
}

/// Applies kustomize image overrides to the services whose image they name.
pub fn apply_image_overrides(services: &mut [DescribedService], overrides: &[ImageOverride]) {
    for service in services.iter_mut() {
        let Some(image) = &service.image else { continue };
        let base = image.split('@').next().unwrap_or(image);
        let base = match base.rfind(':') {
            Some(i) if !base[i..].contains('/') => &base[..i],
            _ => base,
        };
        if let Some(found) = overrides.iter().find(|o| o.name == base) {
            service.image = Some(found.image.clone());
            service.evidence.push(found.evidence.clone());
        }
    }
}

#[cfg(test)]
mod tests;
