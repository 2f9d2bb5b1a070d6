//! Existing Nomad job files (`*.nomad`, `*.nomad.hcl`, or `*.hcl` with a `job` block).
//!
//! Read with hcl-rs, without evaluating anything: a value that is a variable or an
//! interpolation is kept as the text written (`${NOMAD_PORT_http}`) or, where a number or an
//! image is needed, reported in the evidence as not known. One described service per task;
//! its ports are the group's `network` ports the task's `config.ports` names (all of them when
//! the driver has no such list), `to` before `static`; its check comes from the task's
//! `service` blocks, else the group's.

use hcl::expr::{Expression, TemplateExpr};
use hcl::{Block, Body};

use super::{env_var, DescribedService};
use crate::analyze::read::line_of;
use crate::analyze::walk::parent_dir;
use crate::analyze::{Evidence, Health, HealthKind, Note, Port, Protocol, Resources};

/// Whether HCL text holds a Nomad job (a top-level `job` block).
pub fn looks_like_job(text: &str) -> bool {
    text.lines().any(|line| {
        let line = line.trim_start();
        line.starts_with("job \"") || line.starts_with("job ") && line.trim_end().ends_with('{')
    })
}

/// A plain or templated string, a number or a bool, as written.
fn text_of(expression: &Expression) -> Option<String> {
    match expression {
        Expression::String(s) => Some(s.clone()),
        Expression::TemplateExpr(template) => match template.as_ref() {
            TemplateExpr::QuotedString(s) => Some(s.clone()),
            TemplateExpr::Heredoc(heredoc) => Some(heredoc.template.clone()),
        },
        Expression::Number(n) => Some(n.to_string()),
        Expression::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn number_of(expression: &Expression) -> Option<u64> {
    match expression {
        Expression::Number(n) => n.as_u64(),
        Expression::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn attribute<'a>(body: &'a Body, key: &str) -> Option<&'a Expression> {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr())
}

fn blocks<'a>(body: &'a Body, identifier: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
    body.blocks().filter(move |b| b.identifier() == identifier)
}

fn label(block: &Block) -> String {
    block.labels().first().map(|l| l.as_str().to_string()).unwrap_or_default()
}

/// A group network port: label, container port (`to`, else `static`).
struct NetworkPort {
    label: String,
    container: Option<u16>,
}

/// A service check: kind, path, and the port label or number it targets.
#[derive(Clone)]
struct Check {
    kind: HealthKind,
    path: Option<String>,
    port: Option<String>,
    service: String,
}

/// Reads every task of every job in a Nomad job file.
pub fn read_job(text: &str, file: &str, notes: &mut Vec<Note>) -> Vec<DescribedService> {
    let body = match hcl::parse(text) {
        Ok(body) => body,
        Err(error) => {
            let (line, message) = match &error {
                hcl::Error::Parse(parse) => {
                    (u32::try_from(parse.location().line()).ok(), parse.message().to_string())
                }
                other => (None, other.to_string().lines().next().unwrap_or("").trim().to_string()),
            };
            notes.push(Note {
                file: Some(file.to_string()),
                line,
                message: format!("not valid HCL, Nomad job skipped: {message}"),
            });
            return Vec::new();
        }
    };
    let mut services = Vec::new();
    for job in blocks(&body, "job") {
        let job_name = label(job);
        let job_offset = text.find(&format!("job \"{job_name}\"")).unwrap_or(0);
        // Nomad also accepts tasks right in the job: an implicit group named after the job.
        let implicit = (job_name.clone(), job.body());
        let groups = blocks(job.body(), "group").map(|g| (label(g), g.body()));
        for (group_name, group) in groups.chain(std::iter::once(implicit)) {
            let group_offset = text[job_offset..]
                .find(&format!("group \"{group_name}\""))
                .map_or(job_offset, |i| i + job_offset);
            let ports = network_ports(group);
            let group_checks = checks(group);
            let tasks: Vec<&Block> = blocks(group, "task").collect();
            for task in &tasks {
                let mut service = read_task(task, &ports, text, group_offset, file);
                let mut task_checks = checks(task.body());
                if task_checks.is_empty() && tasks.len() == 1 {
                    task_checks = group_checks.clone();
                }
                apply_checks(&mut service, &task_checks, &ports, text, group_offset, file);
                service.evidence.insert(
                    0,
                    Evidence::at(
                        file,
                        line_of(text, &format!("task \"{}\"", label(task)), group_offset),
                        format!("Nomad job {job_name}, group {group_name}, task {}", label(task)),
                    ),
                );
                services.push(service);
            }
        }
    }
    services
}

fn network_ports(group: &Body) -> Vec<NetworkPort> {
    let mut ports = Vec::new();
    for network in blocks(group, "network") {
        for port in blocks(network.body(), "port") {
            let to = attribute(port.body(), "to").and_then(number_of);
            let fixed = attribute(port.body(), "static").and_then(number_of);
            // `to = -1` maps the container port to the host port: the static one, if any.
            let container = match to {
                Some(to) if to > 0 => Some(to),
                _ => fixed,
            };
            ports.push(NetworkPort {
                label: label(port),
                container: container.and_then(|p| u16::try_from(p).ok()).filter(|p| *p > 0),
            });
        }
    }
    ports
}

fn checks(body: &Body) -> Vec<Check> {
    let mut found = Vec::new();
    for service in blocks(body, "service") {
        let name = attribute(service.body(), "name").and_then(text_of).unwrap_or_default();
        let service_port = attribute(service.body(), "port").and_then(text_of);
        for check in blocks(service.body(), "check") {
            let kind = match attribute(check.body(), "type").and_then(text_of).as_deref() {
                Some("http") => HealthKind::Http,
                Some("grpc") => HealthKind::Grpc,
                Some("tcp") => HealthKind::Tcp,
                _ => continue,
            };
            found.push(Check {
                kind,
                path: attribute(check.body(), "path").and_then(text_of),
                port: attribute(check.body(), "port")
                    .and_then(text_of)
                    .or_else(|| service_port.clone()),
                service: name.clone(),
            });
        }
    }
    found
}

fn read_task(
    task: &Block,
    ports: &[NetworkPort],
    text: &str,
    from: usize,
    file: &str,
) -> DescribedService {
    let name = label(task);
    let start = text[from..].find(&format!("task \"{name}\"")).map_or(from, |i| i + from);
    let mut service = DescribedService {
        name,
        dir: parent_dir(file).to_string(),
        kind: "nomad job".into(),
        ..DescribedService::default()
    };
    let driver = attribute(task.body(), "driver").and_then(text_of).unwrap_or_default();
    let config = blocks(task.body(), "config").next().map(Block::body);
    let mut used_labels: Option<Vec<String>> = None;
    if let Some(config) = config {
        match attribute(config, "image") {
            Some(expression) => match text_of(expression) {
                Some(image) => {
                    let line = line_of(text, &image, start);
                    service.evidence.push(Evidence::at(
                        file,
                        line,
                        format!("{driver} task runs image {image}"),
                    ));
                    service.image = Some(image);
                }
                None => {
                    let line = line_of(text, "image", start);
                    service.evidence.push(Evidence::at(
                        file,
                        line,
                        "image comes from an expression (a variable), not known here",
                    ));
                }
            },
            None if !driver.is_empty() => {
                let line = line_of(text, "driver", start);
                service.evidence.push(Evidence::at(
                    file,
                    line,
                    format!("{driver} task without an image"),
                ));
            }
            None => {}
        }
        if let Some(Expression::Array(labels)) = attribute(config, "ports") {
            used_labels = Some(labels.iter().filter_map(text_of).collect());
        }
        let mut command: Vec<String> =
            attribute(config, "command").and_then(text_of).into_iter().collect();
        if let Some(Expression::Array(args)) = attribute(config, "args") {
            command.extend(args.iter().filter_map(text_of));
        }
        if !command.is_empty() {
            service.command = Some(command);
        }
    }
    for port in ports {
        if used_labels.as_ref().is_some_and(|used| !used.contains(&port.label)) {
            continue;
        }
        let line = line_of(text, &format!("port \"{}\"", port.label), from);
        let Some(container) = port.container else {
            service.evidence.push(Evidence::at(
                file,
                line,
                format!("port {} is dynamic (the app reads NOMAD_PORT_{})", port.label, port.label),
            ));
            continue;
        };
        let label = port.label.to_ascii_lowercase();
        let protocol = if label.contains("grpc") {
            Protocol::Grpc
        } else if label.contains("http") || label == "web" || label == "api" {
            Protocol::Http
        } else {
            Protocol::Tcp
        };
        service.ports.push(Port { container, published: None, protocol });
        service.evidence.push(Evidence::at(
            file,
            line,
            format!("port {} → container {container}", port.label),
        ));
    }
    for env in blocks(task.body(), "env") {
        for attr in env.body().attributes() {
            let value = text_of(attr.expr());
            service.env.push(env_var(attr.key(), value.as_deref()));
            let line = line_of(text, attr.key(), start);
            service.evidence.push(Evidence::at(file, line, format!("env {}", attr.key())));
        }
    }
    for template in blocks(task.body(), "template") {
        if attribute(template.body(), "env").and_then(|e| match e {
            Expression::Bool(b) => Some(*b),
            _ => None,
        }) == Some(true)
        {
            let line = line_of(text, "template", start);
            service.evidence.push(Evidence::at(
                file,
                line,
                "env rendered from a template (Vault or Consul): names not read",
            ));
        }
    }
    if let Some(resources) = blocks(task.body(), "resources").next().map(Block::body) {
        let cpu =
            attribute(resources, "cpu").and_then(number_of).and_then(|c| u32::try_from(c).ok());
        let memory =
            attribute(resources, "memory").and_then(number_of).and_then(|m| u32::try_from(m).ok());
        let memory_max = attribute(resources, "memory_max").and_then(number_of);
        if cpu.is_some() || memory.is_some() {
            let mut reason = format!(
                "from the Nomad job: cpu {}, memory {}",
                cpu.map_or("not given (100 MHz)".to_string(), |c| format!("{c} MHz")),
                memory.map_or("not given (300 MB)".to_string(), |m| format!("{m} MB"))
            );
            if let Some(max) = memory_max {
                reason.push_str(&format!(", memory_max {max} MB"));
            }
            let line = line_of(text, "resources", start);
            service.evidence.push(Evidence::at(file, line, reason.clone()));
            // Nomad's own defaults when a figure is left out.
            service.resources =
                Some(Resources { cpu: cpu.unwrap_or(100), memory: memory.unwrap_or(300), reason });
        }
    }
    service
}

fn apply_checks(
    service: &mut DescribedService,
    checks: &[Check],
    ports: &[NetworkPort],
    text: &str,
    from: usize,
    file: &str,
) {
    if let Some(named) =
        checks.iter().map(|c| c.service.as_str()).find(|n| !n.is_empty() && !n.contains("${"))
    {
        let line = line_of(text, &format!("\"{named}\""), from);
        service.evidence.push(Evidence::at(file, line, format!("registers service {named}")));
    }
    let Some(check) = checks.iter().min_by_key(|c| match c.kind {
        HealthKind::Http => 0,
        HealthKind::Grpc => 1,
        HealthKind::Tcp => 2,
    }) else {
        return;
    };
    let port = check.port.as_deref().and_then(|p| {
        p.parse::<u16>()
            .ok()
            .or_else(|| ports.iter().find(|n| n.label == p).and_then(|n| n.container))
    });
    if let Some(port) = port {
        super::mark_port_protocol(service, port, check.kind);
    }
    let main = service.ports.first().map(|p| p.container);
    let line = line_of(text, "check", from);
    let what = match (&check.path, check.kind) {
        (Some(path), _) => format!("check {path}"),
        (None, HealthKind::Grpc) => "gRPC check".to_string(),
        (None, _) => "TCP check".to_string(),
    };
    service.evidence.push(Evidence::at(file, line, what));
    service.health = Some(Health {
        kind: check.kind,
        path: check.path.clone(),
        port: port.filter(|p| Some(*p) != main),
    });
}

#[cfg(test)]
mod tests;
