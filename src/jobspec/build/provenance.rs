//! Where each wiring of a job came from: the file and line of the analysis' evidence behind a
//! port, a variable or a delivered file, for the decisions and for the job file's comments,
//! and the record of how each service reaches another, which the status comment draws.
//!
//! The analysis keeps its evidence as sentences with a file and a line (`listens on 8000`,
//! `EXPOSE 80`, `env DATABASE_HOST`); this file picks the sentence behind a conclusion the
//! builder used, preferring what the process really does (the port it binds) over what a file
//! declares (an `EXPOSE`). It decides nothing about the job itself.

use serde::{Deserialize, Serialize};

use super::reach::Reach;
use super::{Builder, Delivered, GroupNames};
use crate::analyze::{self, Evidence};
use crate::jobspec::render::{Origin, Place};
use crate::jobspec::TaskGroup;

/// How one service reaches another in the generated jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wire {
    /// The service that dials.
    pub from: String,
    /// The service it dials.
    pub to: String,
    /// How, in a few words (`nomadService lookup`, `answer endpoint.db`, `unreachable`).
    pub how: String,
    /// Where the reference is written (`compose.yaml:16`), when known.
    pub at: Option<String>,
}

impl Wire {
    /// Whether the reference is left unreachable (a question says what to do).
    pub fn is_unreachable(&self) -> bool {
        self.how.starts_with("unreachable")
    }
}

/// The group (and task) a service of `analysis` runs as, when it is deployed.
pub fn group_name(analysis: &analyze::Analysis, service: &str) -> String {
    GroupNames::new(analysis, "").group(service)
}

/// `file:line` of evidence (the file alone when no line is known).
pub(super) fn at(evidence: &Evidence) -> String {
    match evidence.line {
        Some(line) => format!("{}:{line}", evidence.file),
        None => evidence.file.clone(),
    }
}

/// Whether `text` holds `number` as a whole number (`listens on 8000`, not `18000`).
fn names_number(text: &str, number: &str) -> bool {
    text.split(|c: char| !c.is_ascii_digit()).any(|token| token == number)
}

/// How much a sentence about a port says the process serves there: lower is stronger.
fn port_strength(what: &str) -> Option<u8> {
    let what = what.to_ascii_lowercase();
    if what.contains("left out") {
        return None;
    }
    let guessed = ["by default", "by convention", "default "].iter().any(|w| what.contains(w));
    if (what.contains("binds") || what.contains("listens on") || what.contains(" = ")) && !guessed {
        Some(0)
    } else if ["published", "expose", "container port", "service on"]
        .iter()
        .any(|w| what.contains(w))
    {
        Some(1)
    } else if guessed || what.contains("listens") || what.contains("serves") {
        Some(2)
    } else if what.contains("reaches") {
        Some(3)
    } else {
        None
    }
}

/// Where the service's container port `container` comes from (`backend/main.go:57`).
pub fn port_origin(service: &analyze::Service, container: u16) -> Option<String> {
    let number = container.to_string();
    service
        .evidence
        .iter()
        .filter(|e| names_number(&e.what, &number))
        .filter_map(|e| port_strength(&e.what).map(|strength| (strength, e)))
        .min_by_key(|(strength, _)| *strength)
        .map(|(_, e)| at(e))
}

/// Where the service's variable `name` is given or read (`compose.yaml:16`).
pub fn env_origin(service: &analyze::Service, name: &str) -> Option<String> {
    let given = format!("env {name}");
    let exact = service.evidence.iter().find(|e| e.what == given);
    let named = || {
        service.evidence.iter().find(|e| {
            e.what.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).any(|w| w == name)
        })
    };
    exact.or_else(named).map(at)
}

/// ` (from X)`, or nothing when the origin is unknown: the tail of a decision's reason.
pub(super) fn from_words(origin: Option<&str>) -> String {
    origin.map(|o| format!(" (from {o})")).unwrap_or_default()
}

/// The variables an env template sets, in its order (`NAME=value` lines).
fn template_variables(data: &str) -> Vec<&str> {
    data.lines().filter_map(|line| line.split_once('=').map(|(name, _)| name.trim())).collect()
}

/// The comments of one group of a job: each port, each template of each task.
fn group_origins(
    group: &TaskGroup,
    service: &analyze::Service,
    delivered: &[Delivered],
) -> Vec<Origin> {
    let mut origins = Vec::new();
    for network in group.networks.iter().flatten() {
        let ports = network.dynamic_ports.iter().chain(&network.reserved_ports).flatten();
        for port in ports {
            let to = port.to.and_then(|to| u16::try_from(to).ok());
            if let Some(from) = to.and_then(|to| port_origin(service, to)) {
                origins.push(Origin {
                    group: group.name.clone(),
                    task: None,
                    place: Place::Port(port.label.clone()),
                    from,
                });
            }
        }
    }
    for task in &group.tasks {
        let binds: Vec<(String, String)> = task
            .config
            .as_ref()
            .and_then(|c| c.get("volumes"))
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .filter_map(|bind| {
                let mut parts = bind.split(':');
                Some((parts.next()?.to_string(), parts.next()?.to_string()))
            })
            .collect();
        for template in task.templates.iter().flatten() {
            let Some(destination) = &template.dest_path else { continue };
            let file =
                delivered.iter().find(|d| d.group == group.name && &d.rendered == destination);
            let from = if let Some(file) = file {
                Some(format!("{} ({})", file.source, file.origin))
            } else if let Some(file) = binds
                .iter()
                .find(|(rendered, _)| rendered == destination)
                .and_then(|(_, inside)| service.files.iter().find(|f| &f.destination == inside))
            {
                Some(at(&file.evidence))
            } else if template.envvars == Some(true) {
                let data = template.embedded_tmpl.as_deref().unwrap_or_default();
                let named: Vec<String> = template_variables(data)
                    .into_iter()
                    .filter_map(|name| env_origin(service, name).map(|o| format!("{o} ({name})")))
                    .collect();
                (!named.is_empty()).then(|| named.join(", "))
            } else {
                None
            };
            if let Some(from) = from {
                origins.push(Origin {
                    group: group.name.clone(),
                    task: Some(task.name.clone()),
                    place: Place::Template(destination.clone()),
                    from,
                });
            }
        }
    }
    origins
}

/// How a wire to `to` reaches it, in the diagram's words.
pub(super) fn wire_words(reach: &Reach, to: &str) -> String {
    match reach {
        Reach::Lookup { function, .. } if *function == "nomadService" => {
            "nomadService lookup".to_string()
        }
        Reach::Lookup { .. } => "Consul service lookup".to_string(),
        Reach::Endpoint(_) => format!("answer endpoint.{to}"),
    }
}

impl Builder<'_> {
    /// The comments of a job's groups, each group read against the service it runs.
    pub(super) fn origins(
        &self,
        groups: &[TaskGroup],
        services: &[&analyze::Service],
        names: &GroupNames,
    ) -> Vec<Origin> {
        let mut origins = Vec::new();
        for group in groups {
            let Some(service) = services.iter().find(|s| names.group(&s.name) == group.name) else {
                continue;
            };
            origins.extend(group_origins(group, service, &self.delivered));
        }
        origins
    }

    /// Records that `from` reaches `to` the way `reach` says, written at `at`.
    pub(super) fn wire(&mut self, from: &str, to: &str, reach: &Reach, at: Option<String>) {
        let how = wire_words(reach, to);
        self.record_wire(Wire { from: from.into(), to: to.into(), how, at });
    }

    /// Records a wire once (several variables of one service often name the same one).
    pub(super) fn record_wire(&mut self, wire: Wire) {
        if !self.wiring.iter().any(|w| w.from == wire.from && w.to == wire.to && w.how == wire.how)
        {
            self.wiring.push(wire);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(evidence: &[(&str, Option<u32>, &str)]) -> analyze::Service {
        let mut service = analyze::Service::new("web", analyze::Source::Build, "web");
        service.evidence =
            evidence.iter().map(|(file, line, what)| Evidence::at(*file, *line, *what)).collect();
        service
    }

    #[test]
    fn the_port_the_process_binds_is_cited_before_the_expose() {
        let web = service(&[
            ("web/Dockerfile", Some(9), "EXPOSE 8000"),
            ("web/app.py", Some(40), "listens on 8000"),
            ("compose.yaml", Some(7), "port 18000 published as 18000"),
        ]);
        assert_eq!(port_origin(&web, 8000).as_deref(), Some("web/app.py:40"));
        assert_eq!(port_origin(&web, 18000).as_deref(), Some("compose.yaml:7"));
        assert_eq!(port_origin(&web, 80), None);
    }

    #[test]
    fn an_expose_left_out_is_never_cited() {
        let web =
            service(&[("web/Dockerfile", Some(3), "EXPOSE 80 left out: the process binds 8080")]);
        assert_eq!(port_origin(&web, 80), None);
        assert_eq!(port_origin(&web, 8080), None);
    }

    #[test]
    fn a_variable_is_cited_where_it_is_given() {
        let web = service(&[
            ("web/db.js", Some(3), "reads DATABASE_HOST_NAME"),
            ("compose.yaml", Some(16), "env DATABASE_HOST"),
        ]);
        assert_eq!(env_origin(&web, "DATABASE_HOST").as_deref(), Some("compose.yaml:16"));
        assert_eq!(env_origin(&web, "DATABASE_HOST_NAME").as_deref(), Some("web/db.js:3"));
        assert_eq!(env_origin(&web, "PORT"), None);
    }
}
