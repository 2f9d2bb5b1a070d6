//! The app drawn as a Mermaid flowchart for the status comment (GitHub and GitLab render it):
//! one node per service with its ports, deployed services apart from those only pointed at,
//! the volumes each keeps, and one edge per dependency labelled with how it is reached
//! (`nomadService lookup`, `Consul service lookup`, `answer endpoint.db`) and where the
//! reference is written, so a reviewer sees a wrong wiring at a glance. An unreachable
//! reference is drawn red, a dependency nothing wires dotted.
//!
//! Names, paths and hosts come from the repository: every label is reduced to characters
//! Mermaid and Markdown both read as plain text (no quote, bracket, pipe, backtick, `<`, `#`
//! or `;`), and node ids are made of letters, digits and `_` only.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::analyze::Analysis;
use crate::jobspec::build::{group_name, Generated};
use crate::jobspec::TaskGroup;

/// Longest label text kept, in characters: a diagram is read at a glance.
const LONGEST_LABEL: usize = 90;

/// The Mermaid source (without its fence) drawing `analysis` as `generated` deploys it.
pub fn mermaid(analysis: &Analysis, generated: &Generated) -> String {
    let groups: BTreeMap<&str, &TaskGroup> = generated
        .jobs
        .iter()
        .flat_map(|job| job.spec.groups())
        .map(|group| (group.name.as_str(), group))
        .collect();
    let mut ids = Ids::default();
    let mut out = String::from("flowchart LR\n");
    let mut volumes = String::new();
    let mut links = Vec::new();
    for service in &analysis.services {
        let id = ids.of(&service.name);
        let group = groups.get(group_name(analysis, &service.name).as_str());
        let ports: Vec<String> = match group {
            Some(group) => group
                .networks
                .iter()
                .flatten()
                .flat_map(|n| n.dynamic_ports.iter().chain(&n.reserved_ports).flatten())
                .map(|p| match (p.value.filter(|v| *v > 0), p.to) {
                    (Some(host), Some(to)) => format!("{} {host}:{to}", p.label),
                    (_, Some(to)) => format!("{} :{to}", p.label),
                    (Some(host), None) => format!("{} {host}", p.label),
                    (None, None) => p.label.clone(),
                })
                .collect(),
            None => service.ports.iter().map(|p| format!(":{}", p.container)).collect(),
        };
        let ports = if ports.is_empty() { "no ports".to_string() } else { ports.join(", ") };
        let (shape, class, state) = match group {
            Some(_) => (("[", "]"), "deployed", "deployed"),
            None if service.role.is_backing() => {
                (("([", "])"), "pointed", "pointed at, not deployed")
            }
            None => (("([", "])"), "pointed", "not deployed"),
        };
        let _ = writeln!(
            out,
            "  {id}{}\"{}<br/>{}<br/><i>{state}</i>\"{}:::{class}",
            shape.0,
            label(&service.name),
            label(&ports),
            shape.1
        );
        let Some(group) = group else { continue };
        let mut sources: BTreeMap<&str, String> = BTreeMap::new();
        for (name, volume) in group.volumes.iter().flatten() {
            let kind = volume.r#type.as_deref().unwrap_or("host");
            let source = volume.source.as_deref().unwrap_or(name);
            sources.insert(name.as_str(), format!("{kind} volume {source}"));
        }
        for task in &group.tasks {
            for mount in task.volume_mounts.iter().flatten() {
                let Some(volume) = mount.volume.as_deref() else { continue };
                let Some(text) = sources.get(volume) else { continue };
                // One node per volume of the group, drawn once even when two tasks mount it.
                let volume_id = ids.of(&format!("volume {} {volume}", service.name));
                if !volumes.contains(&format!("  {volume_id}[(")) {
                    let _ = writeln!(volumes, "  {volume_id}[(\"{}\")]:::volume", label(text));
                }
                if task.lifecycle.is_none() {
                    let at = mount.destination.as_deref().unwrap_or_default();
                    links.push((format!("{id} ---|\"{}\"| {volume_id}", label(at)), None));
                }
            }
        }
    }
    out.push_str(&volumes);
    for wire in &generated.wiring {
        let (from, to) = (ids.of(&wire.from), ids.of(&wire.to));
        let words = match &wire.at {
            Some(at) => format!("{} ({at})", wire.how),
            None => wire.how.clone(),
        };
        let arrow = if wire.is_unreachable() { "-.->" } else { "-->" };
        let colour = wire.is_unreachable().then_some("stroke:#d1242f,color:#d1242f");
        links.push((format!("{from} {arrow}|\"{}\"| {to}", label(&words)), colour));
    }
    for service in &analysis.services {
        for dependency in &service.depends_on {
            let wired =
                generated.wiring.iter().any(|w| w.from == service.name && &w.to == dependency);
            let known = analysis.services.iter().any(|s| &s.name == dependency);
            if wired || !known {
                continue;
            }
            let (from, to) = (ids.of(&service.name), ids.of(dependency));
            links.push((format!("{from} -.->|\"depends_on, no address wired\"| {to}"), None));
        }
    }
    for (index, (link, colour)) in links.iter().enumerate() {
        let _ = writeln!(out, "  {link}");
        if let Some(colour) = colour {
            let _ = writeln!(out, "  linkStyle {index} {colour}");
        }
    }
    out.push_str(
        "  classDef deployed fill:#dafbe1,stroke:#1a7f37\n  \
         classDef pointed fill:#f6f8fa,stroke:#8c959f,stroke-dasharray:5 5\n  \
         classDef volume fill:#fff8c5,stroke:#9a6700\n",
    );
    out
}

/// Mermaid node ids: letters, digits and `_`, one per name, never two names on one id.
#[derive(Default)]
struct Ids {
    given: BTreeMap<String, String>,
}

impl Ids {
    fn of(&mut self, name: &str) -> String {
        if let Some(id) = self.given.get(name) {
            return id.clone();
        }
        let base: String =
            name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        let base = format!("n_{base}");
        let mut id = base.clone();
        let mut n = 2;
        while self.given.values().any(|used| used == &id) {
            id = format!("{base}_{n}");
            n += 1;
        }
        self.given.insert(name.to_string(), id.clone());
        id
    }
}

/// Text a quoted Mermaid label shows as it is: a double quote or a backtick becomes `'`
/// (either would end the label or the code fence), anything else that could start an entity,
/// an HTML tag or Markdown becomes `_`; long text is cut.
fn label(text: &str) -> String {
    let safe: String = text
        .chars()
        .map(|c| match c {
            '"' | '`' => '\'',
            c if c.is_alphanumeric() || " -_./:,()=+*@'".contains(c) => c,
            _ => '_',
        })
        .collect();
    if safe.chars().count() > LONGEST_LABEL {
        let cut: String = safe.chars().take(LONGEST_LABEL - 1).collect();
        format!("{cut}…")
    } else {
        safe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_cannot_break_out() {
        assert_eq!(label("a\"b]|c`d<e>#f;g\nh"), "a'b__c'd_e__f_g_h");
        assert_eq!(label(&"x".repeat(200)).chars().count(), LONGEST_LABEL);
    }

    #[test]
    fn ids_are_plain_and_distinct() {
        let mut ids = Ids::default();
        assert_eq!(ids.of("my-app.web"), "n_my_app_web");
        assert_eq!(ids.of("my_app_web"), "n_my_app_web_2");
        assert_eq!(ids.of("my-app.web"), "n_my_app_web");
        assert_eq!(ids.of("end"), "n_end");
    }
}
