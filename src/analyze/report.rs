//! The text form of an [`Analysis`] for a person at a terminal: one table row per service
//! (source, stack, ports, health, dependencies, resources), then the notes. The JSON form is
//! the model itself, serialized; this file owns only the text.

use std::fmt::Write;

use super::{Analysis, HealthKind, Language, Protocol, Service, Source};

/// Widest cell shown, in characters; a longer one is cut with an ellipsis. A service can list
/// hundreds of ports, and one cell should not make the table unreadable (nor wider than the
/// 65,535 characters `format!` can pad to, which panicked).
const MAX_CELL: usize = 60;

/// Renders the analysis as a table followed by the notes.
pub fn text(analysis: &Analysis) -> String {
    let mut out = String::new();
    if analysis.services.is_empty() {
        out.push_str("No services found.\n");
    } else {
        let header = ["SERVICE", "SOURCE", "STACK", "PORTS", "HEALTH", "DEPENDS ON", "RESOURCES"];
        let rows: Vec<[String; 7]> =
            analysis.services.iter().map(|service| row(service).map(cut)).collect();
        let mut widths = header.map(str::len);
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        line(&mut out, &header.map(str::to_string), &widths);
        for row in &rows {
            line(&mut out, row, &widths);
        }
    }
    if !analysis.notes.is_empty() {
        out.push_str("\nNotes:\n");
        for note in &analysis.notes {
            let place = match (&note.file, note.line) {
                (Some(file), Some(line)) => format!("{file}:{line}: "),
                (Some(file), None) => format!("{file}: "),
                _ => String::new(),
            };
            let _ = writeln!(out, "  - {place}{}", note.message);
        }
    }
    out
}

fn line(out: &mut String, cells: &[String; 7], widths: &[usize; 7]) {
    let mut text = String::new();
    for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
        text.push_str(cell);
        if i + 1 < cells.len() {
            let pad = width.saturating_sub(cell.chars().count()) + 2;
            text.extend(std::iter::repeat_n(' ', pad));
        }
    }
    out.push_str(text.trim_end());
    out.push('\n');
}

/// The cell as shown: at most [`MAX_CELL`] characters, the last an ellipsis when it was cut.
fn cut(cell: String) -> String {
    if cell.chars().count() <= MAX_CELL {
        return cell;
    }
    let mut shown: String = cell.chars().take(MAX_CELL - 1).collect();
    shown.push('…');
    shown
}

fn row(service: &Service) -> [String; 7] {
    let source = match service.source {
        Source::Build => format!("build {}", service.path),
        Source::Image => format!("image {}", service.image.as_deref().unwrap_or("?")),
    };
    let language = service.language.map(Language::as_str);
    let stack = match (language, service.framework.as_deref()) {
        (Some(l), Some(f)) => format!("{l}/{f}"),
        (Some(l), None) => l.to_string(),
        (None, Some(f)) => f.to_string(),
        (None, None) => "-".to_string(),
    };
    let ports = if service.ports.is_empty() {
        "-".to_string()
    } else {
        service
            .ports
            .iter()
            .map(|p| {
                let protocol = match p.protocol {
                    Protocol::Http => "http",
                    Protocol::Grpc => "grpc",
                    Protocol::Tcp => "tcp",
                    Protocol::Udp => "udp",
                };
                match p.published {
                    Some(host) => format!("{host}->{}/{protocol}", p.container),
                    None => format!("{}/{protocol}", p.container),
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let health = match &service.health {
        None => "-".to_string(),
        Some(h) => {
            let kind = match h.kind {
                HealthKind::Http => "http",
                HealthKind::Grpc => "grpc",
                HealthKind::Tcp => "tcp",
            };
            let mut text = kind.to_string();
            if let Some(path) = &h.path {
                text = format!("{text} {path}");
            }
            if let Some(port) = h.port {
                text = format!("{text} :{port}");
            }
            text
        }
    };
    let deps =
        if service.depends_on.is_empty() { "-".to_string() } else { service.depends_on.join(", ") };
    let resources = format!("{} MHz, {} MB", service.resources.cpu, service.resources.memory);
    [service.name.clone(), source, stack, ports, health, deps, resources]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::{Health, Note, Port, Resources, Role};

    #[test]
    fn table_and_notes() {
        let service = Service {
            name: "web".into(),
            source: Source::Build,
            path: "web".into(),
            dockerfile: Some("web/Dockerfile".into()),
            build_target: None,
            image: None,
            base_image: Some("python:3.12".into()),
            language: Some(Language::Python),
            framework: Some("flask".into()),
            role: Role::App,
            ports: vec![Port { container: 5000, published: Some(8000), protocol: Protocol::Http }],
            health: Some(Health {
                kind: HealthKind::Http,
                path: Some("/healthz".into()),
                port: None,
            }),
            env: Vec::new(),
            volumes: Vec::new(),
            depends_on: vec!["db".into()],
            command: None,
            resources: Resources { cpu: 200, memory: 256, reason: "python web app".into() },
            evidence: Vec::new(),
            ..Service::new("web", Source::Build, "web")
        };
        let db = Service {
            name: "db".into(),
            source: Source::Image,
            path: ".".into(),
            image: Some("postgres:16".into()),
            language: None,
            framework: None,
            ports: vec![Port { container: 5432, published: None, protocol: Protocol::Tcp }],
            health: None,
            depends_on: Vec::new(),
            ..service.clone()
        };
        let analysis = Analysis {
            services: vec![service, db],
            notes: vec![Note::line("Dockerfile", 3, "unknown instruction `FOO`")],
        };
        insta::assert_snapshot!(text(&analysis), @r"
        SERVICE  SOURCE             STACK         PORTS            HEALTH         DEPENDS ON  RESOURCES
        web      build web          python/flask  8000->5000/http  http /healthz  db          200 MHz, 256 MB
        db       image postgres:16  -             5432/tcp         -              -           200 MHz, 256 MB

        Notes:
          - Dockerfile:3: unknown instruction `FOO`
        ");
    }

    #[test]
    fn long_cells_are_cut_with_an_ellipsis() {
        // Issue 13: a Dockerfile with `EXPOSE 1 2 3 ... 10000` made a cell of 70,000
        // characters, and padding it panicked ("Formatting argument out of range").
        let ports: Vec<Port> = (1..=10_000)
            .map(|container| Port { container, published: None, protocol: Protocol::Tcp })
            .collect();
        let service = Service {
            ports,
            depends_on: vec!["x".repeat(70_000)],
            ..Service::new("wide", Source::Build, "wide")
        };
        let narrow = Service::new("narrow", Source::Build, "narrow");
        let analysis = Analysis { services: vec![service, narrow], notes: Vec::new() };
        let table = text(&analysis);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        assert!(lines.iter().all(|l| l.chars().count() < 7 * (MAX_CELL + 2)), "{table}");
        let ports = "1/tcp 2/tcp 3/tcp 4/tcp 5/tcp 6/tcp 7/tcp 8/tcp 9/tcp 10/tc…";
        assert!(lines[1].contains(&format!("{ports}  ")), "{table}");
        assert_eq!(ports.chars().count(), MAX_CELL);
        // The next column starts at the same place on the header and the cut line.
        let at = |l: &str, needle: &str| l.find(needle).map(|b| l[..b].chars().count());
        assert_eq!(at(lines[0], "DEPENDS ON"), at(lines[1], "xxx"), "{table}");
    }
}
