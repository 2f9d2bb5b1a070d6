//! Source scan: env vars the code reads, listen ports, gRPC servers, HTTP health routes.
//!
//! The scan reads source files by extension only (`.py .js .mjs .cjs .ts .go .java .kt .cs .php
//! .rb .rs`, `.proto`, and Spring's `application*.properties|yml`), skips tests, vendored code
//! and build output, and stops after [`MAX_SCAN_BYTES`] per call with a note. Every pattern is a
//! regular expression compiled once per process. It looks for the shapes code takes when it
//! reads configuration (`os.getenv("X", "d")`, `process.env.X || "d"`, `ENV.fetch("X") { d }`,
//! `${X:d}` ...), listens (`app.listen(3000)`, `http.ListenAndServe(":8080", ...)`,
//! `server.port=8081`), registers a gRPC server, or routes a health path; it does not
//! understand the code, so a value computed at run time is not seen.
//!
//! It also owns [`looks_secret`], the one place that decides which env names hold secrets.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use super::manifest::ReadText;
use super::walk::RepoFiles;
use super::{Evidence, Note};

/// Most bytes of source read per [`scan`] call; beyond it the scan stops with a note.
pub const MAX_SCAN_BYTES: u64 = 8 * 1024 * 1024;

/// What the source code below one folder says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceFacts {
    /// Env var names the code reads, with a default when the code gives one, and where.
    /// Defaults of secret-looking names are never kept.
    pub env: Vec<(String, Option<String>, Evidence)>,
    /// Ports the code listens on, in the order found.
    pub ports: Vec<(u16, Evidence)>,
    /// A gRPC server is registered (or, failing that, a `.proto` file defines a service).
    pub grpc: Option<Evidence>,
    /// HTTP health routes the code serves, best first.
    pub health_paths: Vec<(String, Evidence)>,
    /// Those of `ports` that serve gRPC (found next to a gRPC server registration).
    pub grpc_ports: Vec<(u16, Evidence)>,
}

/// Kinds of files the scan reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// `.py`
    Python,
    /// JavaScript and TypeScript on the server (`.js .mjs .cjs .ts .mts .cts`).
    Script,
    /// `.go`
    Go,
    /// Java, Kotlin, Scala, Groovy.
    Jvm,
    /// `.cs`
    CSharp,
    /// `.php`
    Php,
    /// `.rb`
    Ruby,
    /// `.rs`
    Rust,
    /// Protocol Buffers definitions (`.proto`).
    Proto,
    /// Spring's `application*.properties` / `bootstrap*.properties`.
    SpringProperties,
    /// Spring's `application*.yml|yaml` / `bootstrap*.yml|yaml`.
    SpringYaml,
}

/// The kind of a file from its path, or `None` when the scan does not read it.
pub fn kind_of(path: &str) -> Option<SourceKind> {
    let name = path.rsplit('/').next().unwrap_or(path);
    if name.starts_with("application") || name.starts_with("bootstrap") {
        if name.ends_with(".properties") {
            return Some(SourceKind::SpringProperties);
        }
        if name.ends_with(".yml") || name.ends_with(".yaml") {
            return Some(SourceKind::SpringYaml);
        }
    }
    let extension = name.rsplit_once('.')?.1;
    let kind = match extension {
        "py" => SourceKind::Python,
        "js" | "mjs" | "cjs" | "ts" | "mts" | "cts" => SourceKind::Script,
        "go" => SourceKind::Go,
        "java" | "kt" | "kts" | "scala" | "groovy" => SourceKind::Jvm,
        "cs" => SourceKind::CSharp,
        "php" => SourceKind::Php,
        "rb" => SourceKind::Ruby,
        "rs" => SourceKind::Rust,
        "proto" => SourceKind::Proto,
        _ => return None,
    };
    Some(kind)
}

/// Folders whose code does not run in the service: tests, vendored and generated code.
const SKIPPED_DIRS: &[&str] = &[
    "test",
    "tests",
    "__tests__",
    "__mocks__",
    "spec",
    "specs",
    "testdata",
    "test_data",
    "e2e",
    "cypress",
    "fixtures",
    "vendor",
    "node_modules",
    "bower_components",
    "dist",
    "build",
    "target",
    "venv",
    ".venv",
    "site-packages",
    "__pycache__",
    ".git",
];

/// Whether a file is a test, vendored or generated, and so not evidence of what runs.
pub fn is_skipped(path: &str) -> bool {
    let mut parts = path.split('/');
    let name = parts.next_back().unwrap_or(path);
    if parts.any(|dir| SKIPPED_DIRS.contains(&dir)) {
        return true;
    }
    let stem = name.split('.').next().unwrap_or(name);
    name.ends_with("_test.go")
        || name.ends_with(".min.js")
        || name.ends_with(".d.ts")
        || name.contains(".test.")
        || name.contains(".spec.")
        || name == "conftest.py"
        || (name.ends_with(".py") && (stem.starts_with("test_") || stem.ends_with("_test")))
        || name.ends_with("_spec.rb")
        || stem.ends_with("Test")
        || stem.ends_with("Tests")
}

/// Scans the source files below `dir`.
pub fn scan(files: &RepoFiles, dir: &str, notes: &mut Vec<Note>) -> SourceFacts {
    let listing = files.under(dir).map(|f| (f.path.as_str(), f.size));
    scan_in(listing, dir, &mut |path, notes| files.read_text(path, notes), notes)
}

/// [`scan`] over any listing: `(path, size)` pairs relative to the root, below `dir`, and
/// `read` to read one of them.
pub fn scan_in<'a>(
    listing: impl Iterator<Item = (&'a str, u64)>,
    dir: &str,
    read: &mut ReadText<'_>,
    notes: &mut Vec<Note>,
) -> SourceFacts {
    let mut facts = SourceFacts::default();
    let mut budget = MAX_SCAN_BYTES;
    for (path, size) in listing {
        let Some(kind) = kind_of(path) else { continue };
        if is_skipped(path) {
            continue;
        }
        if size > budget {
            notes.push(Note::general(format!(
                "source scan of {dir} stopped after {} MiB at {path}; files after it were not read",
                MAX_SCAN_BYTES / (1024 * 1024),
            )));
            break;
        }
        budget -= size;
        if let Some(text) = read(path, notes) {
            scan_text(path, kind, &text, &mut facts, notes);
        }
    }
    facts.finish();
    facts
}

/// A string, number or backtick literal; the default value of an env read.
const LITERAL: &str =
    r#"(?:"(?P<d1>[^"\\\n]*)"|'(?P<d2>[^'\\\n]*)'|`(?P<d3>[^`\\\n$]*)`|(?P<d4>-?\d+(?:\.\d+)?)\b)"#;
const NAME: &str = r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)";

/// Precompiled patterns, one list per kind of file.
struct Patterns {
    env: Vec<(SourceKindSet, Regex)>,
    ports: Vec<(SourceKindSet, Regex)>,
    grpc: Vec<(SourceKindSet, Regex)>,
    health: Vec<(SourceKindSet, Regex)>,
    /// Words every health route contains; a cheap test before the route patterns.
    health_words: Regex,
}

/// A set of kinds, as a bit mask.
#[derive(Clone, Copy)]
struct SourceKindSet(u16);

impl SourceKindSet {
    const fn of(kinds: &[SourceKind]) -> Self {
        let mut mask = 0;
        let mut i = 0;
        while i < kinds.len() {
            mask |= 1 << kinds[i] as u16;
            i += 1;
        }
        SourceKindSet(mask)
    }

    fn has(self, kind: SourceKind) -> bool {
        self.0 & (1 << kind as u16) != 0
    }
}

use SourceKind as K;

const CODE: SourceKindSet =
    SourceKindSet::of(&[K::Python, K::Script, K::Go, K::Jvm, K::CSharp, K::Php, K::Ruby, K::Rust]);

/// Health paths recognised in route registrations, best first: dedicated health endpoints,
/// then framework ones, then readiness, liveness, and the generic ping/status last.
const HEALTH_PATHS: &[&str] = &[
    "/healthz",
    "/health",
    "/_healthz",
    "/_health",
    "/healthcheck",
    "/health-check",
    "/api/health",
    "/api/healthz",
    "/api/v1/health",
    "/actuator/health",
    "/q/health",
    "/up",
    "/health/ready",
    "/health/readiness",
    "/readyz",
    "/ready",
    "/readiness",
    "/health/live",
    "/health/liveness",
    "/livez",
    "/live",
    "/liveness",
    "/ping",
    "/status",
];

/// Compiles one of the analyzer's own patterns. They are constants of the source, not input,
/// and every one is exercised by a unit test, so a bad one fails the tests, not a user's run.
pub(crate) fn built_in(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("bad built-in pattern {pattern}: {e}"))
}

static PATTERNS: LazyLock<Patterns> = LazyLock::new(|| {
    let set = SourceKindSet::of;
    let lit = LITERAL;
    let env = vec![
        (set(&[K::Python]), format!(r#"\benviron\[\s*["']{NAME}["']\s*\]"#)),
        (
            set(&[K::Python]),
            format!(r#"\benviron\.(?:get|setdefault)\(\s*["']{NAME}["']\s*(?:,\s*{lit})?"#),
        ),
        (set(&[K::Python, K::Php]), format!(r#"\bgetenv\(\s*["']{NAME}["']\s*(?:,\s*{lit})?"#)),
        (set(&[K::Script]), format!(r#"\bprocess\.env\.{NAME}(?:\s*(?:\|\||\?\?)\s*{lit})?"#)),
        (
            set(&[K::Script]),
            format!(r#"\bprocess\.env\[\s*["'`]{NAME}["'`]\s*\](?:\s*(?:\|\||\?\?)\s*{lit})?"#),
        ),
        (set(&[K::Go]), format!(r#"\bos\.(?:Getenv|LookupEnv)\(\s*"{NAME}"\s*\)"#)),
        (set(&[K::Jvm]), format!(r#"\bSystem\.getenv\(\s*"{NAME}"\s*\)(?:\s*\?:\s*{lit})?"#)),
        (
            set(&[K::Jvm, K::SpringProperties, K::SpringYaml]),
            r"\$\{(?P<name>[A-Z][A-Z0-9_]*)(?::(?P<d1>[^}\n]*))?\}".to_string(),
        ),
        (
            set(&[K::Rust]),
            format!(
                r#"\benv::var(?:_os)?\(\s*"{NAME}"\s*\)(?:\s*\.unwrap_or(?:_else)?\(\s*(?:\|_\|\s*)?{lit})?"#
            ),
        ),
        (
            set(&[K::CSharp]),
            format!(
                r#"\bEnvironment\.GetEnvironmentVariable\(\s*"{NAME}"\s*\)(?:\s*\?\?\s*{lit})?"#
            ),
        ),
        (set(&[K::Php]), format!(r#"\$_ENV\[\s*["']{NAME}["']\s*\](?:\s*\?\?\s*{lit})?"#)),
        (
            set(&[K::Php]),
            format!(r#"\benv\(\s*["'](?P<name>[A-Z][A-Z0-9_]*)["']\s*(?:,\s*{lit})?"#),
        ),
        (set(&[K::Ruby]), format!(r#"\bENV\[\s*["']{NAME}["']\s*\](?:\s*\|\|\s*{lit})?"#)),
        (
            set(&[K::Ruby]),
            format!(
                r#"\bENV\.fetch\(\s*["']{NAME}["']\s*(?:,\s*{lit}|\)\s*\{{\s*{lit2})?"#,
                lit2 = lit.replace("?P<d", "?P<e")
            ),
        ),
    ];
    let ports = vec![
        (
            set(&[K::Script]),
            r"\.listen\(\s*(?:[\w.]+\s*(?:\|\||\?\?)\s*)?(?P<port>\d{2,5})\b".to_string(),
        ),
        (
            set(&[K::Script]),
            r"\.listen\(\s*\{[^}]*\bport\s*:\s*(?:[\w.]+\s*(?:\|\||\?\?)\s*)?(?P<port>\d{2,5})\b"
                .to_string(),
        ),
        (
            set(&[K::Script]),
            r"(?m)\b(?:const|let|var)\s+(?:PORT|port|httpPort|HTTP_PORT)\s*=\s*(?P<port>\d{2,5})\s*;?\s*$"
                .to_string(),
        ),
        (set(&[K::Script]), r#"\bbindAsync\(\s*["'`][^"'`\n]*:(?P<port>\d{2,5})["'`]"#.to_string()),
        (
            set(&[K::Python]),
            r"\b(?:run|run_app)\([^)]*?\bport\s*=\s*(?P<port>\d{2,5})\b".to_string(),
        ),
        (set(&[K::Python]), r#"(?m)^[ \t]*bind\s*=\s*\[?\s*["'][^"'\n]*:(?P<port>\d{2,5})["']"#.to_string()),
        (
            set(&[K::Python]),
            r#"\badd_(?:insecure|secure)_port\(\s*f?["'][^"'\n]*:(?P<port>\d{2,5})["']"#
                .to_string(),
        ),
        (
            set(&[K::Go]),
            r#"\b(?:ListenAndServe(?:TLS)?|Listen|Run|Start)\(\s*(?:"tcp[46]?"\s*,\s*)?"[^"\n]*:(?P<port>\d{2,5})""#
                .to_string(),
        ),
        (set(&[K::Go]), r#"\bAddr\s*:\s*"[^"\n]*:(?P<port>\d{2,5})""#.to_string()),
        (set(&[K::Jvm]), r"\b(?:forPort|port|start)\(\s*(?P<port>\d{2,5})\s*\)".to_string()),
        (
            set(&[K::Jvm]),
            r#"\bnew\s+InetSocketAddress\(\s*(?:"[^"\n]*"\s*,\s*)?(?P<port>\d{2,5})\s*\)"#
                .to_string(),
        ),
        (
            set(&[K::Jvm]),
            r"\bembeddedServer\([^)]*?\bport\s*=\s*(?P<port>\d{2,5})\b".to_string(),
        ),
        (
            set(&[K::SpringProperties]),
            r"(?m)^[ \t]*server\.port\s*[=:]\s*(?:\$\{[A-Za-z0-9_.]*:)?(?P<port>\d{2,5})\b".to_string(),
        ),
        (
            set(&[K::Rust]),
            r#"\bbind\(\s*&?"[^"\n]*:(?P<port>\d{2,5})""#.to_string(),
        ),
        (
            set(&[K::Rust]),
            r#"\bbind\(\s*&?\(\s*"[^"\n]*"\s*,\s*(?P<port>\d{2,5})\s*\)"#.to_string(),
        ),
        (
            set(&[K::Rust]),
            r"\bSocketAddr::from\(\(\s*\[[\d,\s]+\]\s*,\s*(?P<port>\d{2,5})\s*\)\)".to_string(),
        ),
        (set(&[K::Rust]), r#""[\[\]\w.:]*:(?P<port>\d{2,5})"\s*\.parse"#.to_string()),
        (
            set(&[K::CSharp]),
            r"\bListen(?:AnyIP|Localhost)?\(\s*(?P<port>\d{2,5})\b".to_string(),
        ),
        (
            set(&[K::CSharp]),
            r#"\b(?:UseUrls|Run)\(\s*"https?://[^"\n]*:(?P<port>\d{2,5})"#.to_string(),
        ),
        (set(&[K::Ruby]), r"\bset\s+:port\s*,\s*(?P<port>\d{2,5})\b".to_string()),
        (set(&[K::Ruby]), r"(?m)^[ \t]*port\s+(?P<port>\d{2,5})\s*$".to_string()),
    ];
    let grpc_ports = (
        set(&[K::SpringProperties]),
        r"(?m)^[ \t]*grpc\.server\.port\s*[=:]\s*(?:\$\{[A-Za-z0-9_.]*:)?(?P<port>\d{2,5})\b",
    );
    let grpc = vec![
        (set(&[K::Go]), r"\bgrpc\.NewServer\(".to_string()),
        (set(&[K::Python]), r"\bgrpc\.(?:aio\.)?server\(".to_string()),
        (set(&[K::Script]), r"\bnew\s+grpc\.Server\(|\.addService\(".to_string()),
        (
            set(&[K::Jvm]),
            r"\b(?:Netty)?ServerBuilder\s*\.\s*forPort\(|@GrpcService\b|\bextends\s+\w+Grpc\.\w+ImplBase\b"
                .to_string(),
        ),
        (set(&[K::Rust]), r"\bServer::builder\(\)".to_string()),
        (set(&[K::CSharp]), r"\bMapGrpcService<|\bAddGrpc\(".to_string()),
        (set(&[K::Ruby]), r"\bGRPC::RpcServer\.new\b".to_string()),
        (set(&[K::Proto]), r"(?m)^[ \t]*service\s+\w+\s*\{".to_string()),
        (set(&[K::SpringProperties]), grpc_ports.1.to_string()),
    ];
    let alternation =
        HEALTH_PATHS.iter().map(|p| regex::escape(&p[1..])).collect::<Vec<_>>().join("|");
    let health = vec![
        (
            CODE,
            format!(
                r#"(?:\(\s*|\b(?:get|head|route|match)\s+|\b(?:value|path)\s*=\s*)["'`](?:(?:GET|HEAD)\s+)?/(?P<path>{alternation})/?["'`]"#
            ),
        ),
        (
            set(&[K::Python]),
            format!(r#"\b(?:re_)?path\(\s*r?["']\^?(?P<path>{alternation})/?\$?["']"#),
        ),
        (set(&[K::Ruby]), format!(r#"\bget\s+["'](?P<path>{alternation})["']\s*(?:=>|,\s*to:)"#)),
    ];
    let compile = |list: Vec<(SourceKindSet, String)>| {
        list.into_iter().map(|(kinds, p)| (kinds, built_in(&p))).collect::<Vec<_>>()
    };
    Patterns {
        env: compile(env),
        ports: compile(ports),
        grpc: compile(grpc),
        health: compile(health),
        health_words: built_in(r"health|ready|live|ping|status|\bup\b"),
    }
});

/// Line starts of one text, to turn byte offsets into 1-based lines.
struct Lines(Vec<usize>);

impl Lines {
    fn of(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i + 1));
        Lines(starts)
    }

    fn at(&self, offset: usize) -> u32 {
        let index = self.0.partition_point(|start| *start <= offset);
        u32::try_from(index).unwrap_or(u32::MAX)
    }
}

/// A [`Lines`] built on first use.
struct LazyLines<'a> {
    text: &'a str,
    index: &'a std::cell::OnceCell<Lines>,
}

impl LazyLines<'_> {
    fn at(&self, offset: usize) -> u32 {
        self.index.get_or_init(|| Lines::of(self.text)).at(offset)
    }
}

fn default_of(captures: &Captures<'_>) -> Option<String> {
    ["d1", "d2", "d3", "d4", "e1", "e2", "e3", "e4"]
        .iter()
        .find_map(|group| captures.name(group))
        .map(|m| m.as_str().to_string())
}

fn port_of(captures: &Captures<'_>) -> Option<u16> {
    captures.name("port").and_then(|m| m.as_str().parse::<u16>().ok()).filter(|port| *port > 0)
}

/// Env names whose default is the port the service itself listens on (not a client's port
/// like `DB_PORT`).
fn is_listen_port_name(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    match name.strip_suffix("PORT") {
        Some("") => true,
        Some(prefix) => matches!(
            prefix,
            "HTTP_" | "SERVER_" | "APP_" | "GRPC_" | "LISTEN_" | "WEB_" | "API_" | "SERVICE_"
        ),
        None => false,
    }
}

/// Scans one file's text; `path` is the file relative to the root, used in evidence.
pub fn scan_text(
    path: &str,
    kind: SourceKind,
    text: &str,
    facts: &mut SourceFacts,
    notes: &mut Vec<Note>,
) {
    let patterns = &*PATTERNS;
    // Most files match nothing: index their lines only when a match needs one.
    let index = std::cell::OnceCell::new();
    let lines = LazyLines { text, index: &index };
    let mut file_ports = Vec::new();
    let mut file_env = Vec::new();
    for (kinds, regex) in &patterns.env {
        if !kinds.has(kind) {
            continue;
        }
        for captures in regex.captures_iter(text) {
            let Some(name) = captures.name("name") else { continue };
            let name = name.as_str().to_string();
            let line = lines.at(captures.get(0).map_or(0, |m| m.start()));
            let secret = looks_secret(&name);
            let default = if secret { None } else { default_of(&captures) };
            let what = match &default {
                Some(d) => format!("reads env {name} (default {d:?})"),
                None => format!("reads env {name}"),
            };
            if is_listen_port_name(&name) {
                if let Some(port) = default.as_deref().and_then(|d| d.parse::<u16>().ok()) {
                    let what = format!("listens on {name}, default {port}");
                    file_ports.push((port, Evidence::at(path, Some(line), what)));
                }
            }
            file_env.push((name, default, Evidence::at(path, Some(line), what)));
        }
    }
    // Several patterns read one file: report in the file's own order.
    file_env.sort_by_key(|(_, _, evidence)| evidence.line);
    facts.env.extend(file_env);
    for (kinds, regex) in &patterns.ports {
        if !kinds.has(kind) {
            continue;
        }
        for captures in regex.captures_iter(text) {
            let Some(port) = port_of(&captures) else { continue };
            let line = lines.at(captures.get(0).map_or(0, |m| m.start()));
            file_ports.push((port, Evidence::at(path, Some(line), format!("listens on {port}"))));
        }
    }
    file_ports.sort_by_key(|(_, evidence)| evidence.line);
    if kind == SourceKind::SpringYaml {
        spring_yaml_ports(path, text, &lines, &mut file_ports, facts, notes);
    }
    let mut grpc_here = None;
    for (kinds, regex) in &patterns.grpc {
        if !kinds.has(kind) {
            continue;
        }
        if kind == SourceKind::Rust && !text.contains("tonic") {
            continue;
        }
        if let Some(found) = regex.captures(text) {
            let start = found.get(0).map_or(0, |m| m.start());
            let line = lines.at(start);
            if let Some(port) = port_of(&found) {
                let what = format!("serves gRPC on {port}");
                facts.grpc_ports.push((port, Evidence::at(path, Some(line), what.clone())));
                file_ports.push((port, Evidence::at(path, Some(line), what)));
            }
            let what = if kind == SourceKind::Proto {
                "defines a gRPC service".to_string()
            } else {
                "registers a gRPC server".to_string()
            };
            grpc_here = Some(Evidence::at(path, Some(line), what));
            break;
        }
    }
    if let Some(evidence) = grpc_here {
        if !matches!(kind, SourceKind::Proto | SourceKind::SpringProperties) {
            // A port opened in the same file as the server registration is the gRPC port.
            for (port, found) in &file_ports {
                let what = format!("serves gRPC on {port}");
                facts.grpc_ports.push((*port, Evidence::at(&found.file, found.line, what)));
            }
        }
        let better = match &facts.grpc {
            None => true,
            Some(existing) => existing.what.starts_with("defines") && kind != SourceKind::Proto,
        };
        if better {
            facts.grpc = Some(evidence);
        }
    }
    facts.ports.extend(file_ports);
    // Route patterns have no literal to search for; most files name no health word at all.
    let health_words = patterns.health_words.is_match(text);
    for (kinds, regex) in &patterns.health {
        if !health_words || !kinds.has(kind) {
            continue;
        }
        for captures in regex.captures_iter(text) {
            let Some(found) = captures.name("path") else { continue };
            let route = format!("/{}", found.as_str());
            let line = lines.at(found.start());
            let what = format!("serves health route {route}");
            facts.health_paths.push((route, Evidence::at(path, Some(line), what)));
        }
    }
}

/// `server.port` and `grpc.server.port` from a Spring `application.yml` (all its documents).
fn spring_yaml_ports(
    path: &str,
    text: &str,
    lines: &LazyLines<'_>,
    ports: &mut Vec<(u16, Evidence)>,
    facts: &mut SourceFacts,
    notes: &mut Vec<Note>,
) {
    let documents: Vec<serde_json::Value> = match serde_saphyr::from_multiple(text) {
        Ok(documents) => documents,
        Err(error) => {
            let line = error.location().map(|l| u32::try_from(l.line()).unwrap_or(0));
            let message = format!("not valid YAML: {}", first_line(&error.to_string()));
            notes.push(Note { file: Some(path.to_string()), line, message });
            return;
        }
    };
    for document in documents {
        for (keys, grpc) in
            [(["server", "port"].as_slice(), false), (&["grpc", "server", "port"], true)]
        {
            let mut value = &document;
            for key in keys {
                value = &value[*key];
            }
            let port = match value {
                serde_json::Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
                // `${PORT:8081}`: the default after the colon.
                serde_json::Value::String(s) => s
                    .trim_end_matches('}')
                    .rsplit(':')
                    .next()
                    .and_then(|d| d.trim().parse::<u16>().ok()),
                _ => None,
            };
            let Some(port) = port.filter(|p| *p > 0) else { continue };
            let offset = text.find(&format!("port: {port}")).or_else(|| text.find("port:"));
            let line = offset.map(|o| lines.at(o));
            let key = keys.join(".");
            let evidence = Evidence::at(path, line, format!("{key} = {port}"));
            if grpc {
                facts.grpc_ports.push((port, evidence.clone()));
            }
            ports.push((port, evidence));
        }
    }
}

fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or(message).trim()
}

fn health_rank(path: &str) -> usize {
    HEALTH_PATHS.iter().position(|p| *p == path).unwrap_or(HEALTH_PATHS.len())
}

impl SourceFacts {
    /// Removes repeats (the first sighting stays, a later default fills a missing one) and
    /// puts health routes best first.
    pub fn finish(&mut self) {
        let mut env: Vec<(String, Option<String>, Evidence)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for (name, default, evidence) in self.env.drain(..) {
            match index.get(&name) {
                Some(&i) => {
                    if env[i].1.is_none() && default.is_some() {
                        env[i] = (name, default, evidence);
                    }
                }
                None => {
                    index.insert(name.clone(), env.len());
                    env.push((name, default, evidence));
                }
            }
        }
        self.env = env;
        dedup_by_key(&mut self.ports, |(port, _)| *port);
        dedup_by_key(&mut self.grpc_ports, |(port, _)| *port);
        dedup_by_key(&mut self.health_paths, |(path, _)| path.clone());
        self.health_paths.sort_by_key(|(path, _)| health_rank(path));
    }
}

fn dedup_by_key<T, K: PartialEq>(items: &mut Vec<T>, key: impl Fn(&T) -> K) {
    let mut seen: Vec<K> = Vec::new();
    items.retain(|item| {
        let k = key(item);
        if seen.contains(&k) {
            false
        } else {
            seen.push(k);
            true
        }
    });
}

/// Hosts (with ports) an env value names: `db`, `db:5432`, `redis://redis:6379/0`,
/// `postgresql://user:pass@db:5432/app`, `http://api:8080/v1`, or a comma list of them
/// (`kafka-1:9092,kafka-2:9092`). The caller decides which hosts are services of the analysis;
/// a plain word (`info`) comes back too, because `DB_HOST=db` looks the same. Values with
/// spaces or interpolations left in them name no host.
pub fn hosts_in(value: &str) -> Vec<(String, Option<u16>)> {
    let value = value.trim();
    if value.is_empty() || value.contains(char::is_whitespace) || value.contains("${") {
        return Vec::new();
    }
    value.split(',').filter_map(host_of).collect()
}

fn host_of(item: &str) -> Option<(String, Option<u16>)> {
    let rest = match item.split_once("://") {
        Some((_, rest)) => rest,
        None => item,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    // User info (which may hold a password) ends at the last `@`.
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let bracketed = authority.starts_with('[');
    let (host, port) = if bracketed {
        let (host, after) = authority[1..].split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
    let starts_well = bracketed || host.starts_with(|c: char| c.is_ascii_alphanumeric());
    if host.is_empty() || !host.chars().all(valid) || !starts_well {
        return None;
    }
    let port = match port {
        Some(port) => Some(port.parse::<u16>().ok().filter(|p| *p > 0)?),
        None => None,
    };
    Some((host.to_ascii_lowercase(), port))
}

/// Words that end a name whose value describes a secret rather than holding it: a lifetime,
/// a length, where the secret lives (`PASSWORD_FILE` holds a path), what it is called.
const DESCRIBING_WORDS: &[&str] = &[
    "TTL",
    "EXPIRY",
    "EXPIRES",
    "EXPIRE",
    "EXPIRATION",
    "TIMEOUT",
    "LENGTH",
    "LEN",
    "SIZE",
    "LIFETIME",
    "ENABLED",
    "ENABLE",
    "DISABLED",
    "HEADER",
    "ALGORITHM",
    "ALG",
    "ROTATION",
    "FILE",
    "PATH",
    "DIR",
    "URL",
    "URI",
    "ENDPOINT",
    "TYPE",
    "MODE",
    "METHOD",
    "NAME",
    "ARN",
    "PROVIDER",
    "ISSUER",
    "AUDIENCE",
    "HOST",
    "PORT",
    "USER",
    "USERNAME",
];

/// Names of things reached through a connection URL that usually carries a password.
const URL_HOLDERS: &[&str] = &[
    "DATABASE",
    "DB",
    "POSTGRES",
    "POSTGRESQL",
    "PG",
    "MYSQL",
    "MARIADB",
    "MONGO",
    "MONGODB",
    "REDIS",
    "CACHE",
    "AMQP",
    "RABBITMQ",
    "RABBIT",
    "BROKER",
    "MSSQL",
    "SQL",
    "SQLALCHEMY",
    "CLICKHOUSE",
    "ELASTICSEARCH",
    "OPENSEARCH",
    "SMTP",
    "EMAIL",
    "MAIL",
    // A webhook URL is itself the credential (Slack, Discord, Teams embed a token in it).
    "WEBHOOK",
];

/// Spellings that mean a secret wherever they appear in a name, even glued to other words.
const SECRET_PARTS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "SECRET",
    "CREDENTIAL",
    "APIKEY",
    "PRIVATEKEY",
    "ACCESSKEY",
    "AUTHTOKEN",
    "ACCESSTOKEN",
];

/// Whole words that mean a secret.
const SECRET_WORDS: &[&str] =
    &["PASS", "PWD", "TOKEN", "TOKENS", "CREDS", "SALT", "KEYSTORE", "PFX", "P12"];

/// Words before `KEY` that make it a non-secret key (a public key, a partition key).
const PUBLIC_KEYS: &[&str] =
    &["PUBLIC", "PUBLISHABLE", "PARTITION", "ROUTING", "SORT", "PRIMARY", "CACHE", "FOREIGN"];

/// Splits an env name into upper-case words at `_`, `-`, `.`, and camelCase boundaries.
fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    for part in name.split(|c: char| !c.is_ascii_alphanumeric()).filter(|p| !p.is_empty()) {
        let chars: Vec<char> = part.chars().collect();
        let mut start = 0;
        for i in 1..chars.len() {
            let lower_to_upper = chars[i - 1].is_ascii_lowercase() && chars[i].is_ascii_uppercase();
            let acronym_end = chars[i - 1].is_ascii_uppercase()
                && chars[i].is_ascii_uppercase()
                && chars.get(i + 1).is_some_and(|c| c.is_ascii_lowercase());
            if lower_to_upper || acronym_end {
                words.push(chars[start..i].iter().collect::<String>().to_ascii_uppercase());
                start = i;
            }
        }
        words.push(chars[start..].iter().collect::<String>().to_ascii_uppercase());
    }
    words
}

/// Whether an env var name looks like it holds a secret.
///
/// Case-insensitive, on the name's words (`_`, `-`, `.` and camelCase split it). In order:
/// - the mysql/mariadb switches `*_ALLOW_EMPTY_PASSWORD` and `*_RANDOM_ROOT_PASSWORD` are not
///   secrets (their value is `yes`);
/// - a DSN, a connection string, or a URL/URI of a database, cache, broker or mail server
///   (`DATABASE_URL`, `REDIS_URL`, `MONGODB_URI`, `EMAIL_URL`, `SENTRY_DSN`) is a secret: it can
///   carry a password; so is a webhook URL (`SLACK_WEBHOOK_URL`), which embeds a token;
/// - a name ending in a describing word (`_TTL`, `_LENGTH`, `_FILE`, `_PATH`, `_URL`, `_NAME`,
///   ...) is not: `PASSWORD_FILE` holds a path, `TOKEN_URL` an OAuth endpoint; nor is an
///   `*_KEY_ID` (AWS access key IDs appear in logs; the secret is `*_SECRET_ACCESS_KEY`);
/// - `password`, `passwd`, `passphrase`, `secret`, `credential`, `apikey`, `accesskey`,
///   `privatekey` anywhere, and the words `pass`, `pwd` (not the shell's own `PWD`), `token`,
///   `creds`, `salt`, `keystore`, `pfx`, `p12` are secrets. Words, not substrings:
///   `TOKENIZER_MODEL`, `BYPASS_CACHE` and `KEYCLOAK_URL` are not secrets;
/// - a name ending in `KEY` is (`SECRET_KEY`, `TLS_KEY`, `ENCRYPTION_KEY`), unless the key is
///   public or a data key (`PUBLIC_KEY`, `STRIPE_PUBLISHABLE_KEY`, `PARTITION_KEY`, `CACHE_KEY`);
/// - a name ending in `AUTH` or `AUTHORIZATION` is (`BASIC_AUTH`), `AUTH_*` is not
///   (`AUTH_ENABLED`, `AUTH_URL`);
/// - certificates are public by design: `TLS_CERT` is not a secret, its key is.
pub fn looks_secret(name: &str) -> bool {
    let words = words(name);
    let Some(last) = words.last().map(String::as_str) else { return false };
    let joined = words.join("_");
    if joined.contains("ALLOW_EMPTY_PASSWORD") || joined.contains("RANDOM_ROOT_PASSWORD") {
        return false;
    }
    let has = |word: &str| words.iter().any(|w| w == word);
    let connection_string = words
        .windows(2)
        .any(|pair| pair[0] == "CONNECTION" && (pair[1] == "STRING" || pair[1] == "STRINGS"))
        || has("CONNECTIONSTRING")
        || has("CONNECTIONSTRINGS");
    if last == "DSN" || connection_string {
        return true;
    }
    if (last == "URL" || last == "URI") && URL_HOLDERS.iter().any(|holder| has(holder)) {
        return true;
    }
    let before_last = words.len().checked_sub(2).map(|i| words[i].as_str());
    if DESCRIBING_WORDS.contains(&last) || (last == "ID" && before_last == Some("KEY")) {
        return false;
    }
    let glued = words.concat();
    if SECRET_PARTS.iter().any(|part| glued.contains(part)) {
        return true;
    }
    if words.len() > 1 && has("PWD") || SECRET_WORDS.iter().any(|w| *w != "PWD" && has(w)) {
        return true;
    }
    if last == "KEY" || last == "KEYS" {
        return !before_last.is_some_and(|word| PUBLIC_KEYS.contains(&word));
    }
    last == "AUTH" || last == "AUTHORIZATION"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_one(path: &str, text: &str) -> (SourceFacts, Vec<Note>) {
        let mut facts = SourceFacts::default();
        let mut notes = Vec::new();
        let kind = kind_of(path).unwrap_or_else(|| panic!("{path} is not a source file"));
        scan_text(path, kind, text, &mut facts, &mut notes);
        facts.finish();
        (facts, notes)
    }

    fn env_of(facts: &SourceFacts) -> Vec<(String, Option<String>, Option<u32>)> {
        facts.env.iter().map(|(n, d, e)| (n.clone(), d.clone(), e.line)).collect()
    }

    #[test]
    fn patterns_compile() {
        let patterns = &*PATTERNS;
        assert!(patterns.env.len() > 10 && patterns.ports.len() > 10);
    }

    /// Env names and defaults a case expects.
    type Expected<'a> = &'a [(&'a str, Option<&'a str>)];

    #[test]
    fn env_reads_per_language() {
        let cases: &[(&str, &str, Expected)] = &[
            (
                "app.py",
                "import os\nA = os.environ[\"DB_HOST\"]\nB = os.environ.get('DB_PORT', '5432')\n\
                 C = os.getenv(\"WORKERS\", 4)\nD = os.getenv('MODE')\n\
                 os.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"site.settings\")\n",
                &[
                    ("DB_HOST", None),
                    ("DB_PORT", Some("5432")),
                    ("WORKERS", Some("4")),
                    ("MODE", None),
                    ("DJANGO_SETTINGS_MODULE", Some("site.settings")),
                ],
            ),
            (
                "server.js",
                "const port = process.env.PORT || 3000;\nconst url = process.env['API_URL'] ?? \"http://api:8080\";\n\
                 const lvl = process.env.LOG_LEVEL;\n",
                &[("PORT", Some("3000")), ("LOG_LEVEL", None), ("API_URL", Some("http://api:8080"))],
            ),
            (
                "main.go",
                "addr := os.Getenv(\"LISTEN_ADDR\")\nv, ok := os.LookupEnv(\"FEATURE_X\")\n",
                &[("LISTEN_ADDR", None), ("FEATURE_X", None)],
            ),
            (
                "App.java",
                "String h = System.getenv(\"REDIS_HOST\");\n@Value(\"${QUEUE_NAME:jobs}\") String q;\n",
                &[("REDIS_HOST", None), ("QUEUE_NAME", Some("jobs"))],
            ),
            (
                "Main.kt",
                "val port = System.getenv(\"HTTP_PORT\") ?: \"8080\"\n",
                &[("HTTP_PORT", Some("8080"))],
            ),
            (
                "main.rs",
                "let p = std::env::var(\"PORT\").unwrap_or_else(|_| \"8000\".to_string());\n\
                 let d = env::var(\"DATABASE_URL\")?;\nlet r = env::var(\"RUST_LOG\").unwrap_or(\"info\".into());\n",
                &[("PORT", Some("8000")), ("DATABASE_URL", None), ("RUST_LOG", Some("info"))],
            ),
            (
                "Program.cs",
                "var c = Environment.GetEnvironmentVariable(\"CACHE_HOST\") ?? \"cache\";\n",
                &[("CACHE_HOST", Some("cache"))],
            ),
            (
                "config.php",
                "<?php\n$h = getenv('DB_HOST');\n$u = $_ENV['APP_URL'] ?? 'http://localhost';\n\
                 'debug' => env('APP_DEBUG', false),\n'name' => env('APP_NAME', 'Laravel'),\n",
                &[
                    ("APP_URL", Some("http://localhost")),
                    ("APP_NAME", Some("Laravel")),
                    ("APP_DEBUG", None),
                    ("DB_HOST", None),
                ],
            ),
            (
                "config/puma.rb",
                "port ENV.fetch(\"PORT\") { 3000 }\nthreads = ENV.fetch('RAILS_MAX_THREADS', 5)\n\
                 host = ENV['REDIS_HOST'] || 'localhost'\n",
                &[("PORT", Some("3000")), ("RAILS_MAX_THREADS", Some("5")), ("REDIS_HOST", Some("localhost"))],
            ),
            (
                "src/main/resources/application.properties",
                "spring.datasource.url=jdbc:postgresql://${DB_HOST:localhost}:5432/app\n\
                 spring.datasource.password=${DB_PASSWORD:devpass}\nserver.port=${PORT:8081}\n\
                 spring.application.name=${spring.app.name}\n",
                &[("DB_HOST", Some("localhost")), ("DB_PASSWORD", None), ("PORT", Some("8081"))],
            ),
        ];
        for (path, text, expected) in cases {
            let (facts, notes) = scan_one(path, text);
            assert!(notes.is_empty(), "{path}: {notes:?}");
            let mut got: Vec<(String, Option<String>)> =
                facts.env.iter().map(|(n, d, _)| (n.clone(), d.clone())).collect();
            let mut want: Vec<(String, Option<String>)> =
                expected.iter().map(|(n, d)| (n.to_string(), d.map(str::to_string))).collect();
            got.sort();
            want.sort();
            assert_eq!(got, want, "{path}");
        }
    }

    #[test]
    fn env_evidence_has_lines_and_no_secret_values() {
        let (facts, _) = scan_one(
            "app.py",
            "import os\n\nSECRET = os.getenv('SECRET_KEY', 'dev-only-secret')\nPORT = os.getenv('PORT', '5000')\nX = os.getenv('PORT')\n",
        );
        assert_eq!(
            env_of(&facts),
            vec![
                ("SECRET_KEY".to_string(), None, Some(3)),
                ("PORT".to_string(), Some("5000".to_string()), Some(4)),
            ]
        );
        let all = format!("{facts:?}");
        assert!(!all.contains("dev-only-secret"), "{all}");
        assert_eq!(
            facts.ports.iter().map(|(p, e)| (*p, e.line)).collect::<Vec<_>>(),
            [(5000, Some(4))]
        );
    }

    #[test]
    fn listen_ports_per_language() {
        let cases: &[(&str, &str, &[u16])] = &[
            ("index.js", "app.listen(3000, () => {})", &[3000]),
            ("index.js", "server.listen(process.env.PORT || 8080);", &[8080]),
            ("server.ts", "await app.listen({ port: 4000, host: '0.0.0.0' })", &[4000]),
            (
                "app.py",
                "if __name__ == '__main__':\n    app.run(host='0.0.0.0', port=5000)\n",
                &[5000],
            ),
            ("main.py", "uvicorn.run(app, host=\"0.0.0.0\", port=8000)", &[8000]),
            ("gunicorn.conf.py", "bind = \"0.0.0.0:8001\"\nworkers = 2\n", &[8001]),
            ("main.go", "log.Fatal(http.ListenAndServe(\":8080\", mux))", &[8080]),
            ("main.go", "lis, err := net.Listen(\"tcp\", \":50051\")", &[50051]),
            (
                "main.go",
                "r.Run(\":9000\")\nsrv := &http.Server{Addr: \"0.0.0.0:9001\"}",
                &[9000, 9001],
            ),
            ("App.java", "port(4567);\nServerBuilder.forPort(50052)", &[4567, 50052]),
            ("src/main/resources/application.properties", "server.port=8081\n", &[8081]),
            (
                "src/main/resources/application.properties",
                "server.port = ${SERVER_PORT:8082}\n",
                &[8082],
            ),
            (
                "src/main/resources/application.yml",
                "spring:\n  application:\n    name: x\nserver:\n  port: 8083\n",
                &[8083],
            ),
            ("main.rs", "HttpServer::new(f).bind((\"0.0.0.0\", 8080))?", &[8080]),
            ("main.rs", "let l = TcpListener::bind(\"0.0.0.0:3000\").await?;", &[3000]),
            ("main.rs", "let addr = SocketAddr::from(([0, 0, 0, 0], 3001));", &[3001]),
            ("Program.cs", "app.Run(\"http://0.0.0.0:5005\");", &[5005]),
            ("Program.cs", "o.ListenAnyIP(8085);", &[8085]),
            ("app.rb", "set :port, 4567\n", &[4567]),
            ("index.js", "const port = 4001;\napp.listen(port)", &[4001]),
            ("index.js", "app.listen(port)", &[]),
            ("index.js", "const port = 4001 + offset;", &[]),
            ("index.js", "const x = foo(3000)", &[]),
            ("main.go", "fmt.Println(\":8080\")", &[]),
        ];
        for (path, text, expected) in cases {
            let (facts, _) = scan_one(path, text);
            let got: Vec<u16> = facts.ports.iter().map(|(p, _)| *p).collect();
            assert_eq!(got, *expected, "{path}: {text}");
        }
    }

    #[test]
    fn grpc_servers_and_their_ports() {
        let go = "package main\nfunc main() {\n\tlis, _ := net.Listen(\"tcp\", \":50051\")\n\ts := grpc.NewServer()\n}\n";
        let (facts, _) = scan_one("cmd/server/main.go", go);
        let grpc = facts.grpc.expect("grpc found");
        assert_eq!((grpc.line, grpc.what.as_str()), (Some(4), "registers a gRPC server"));
        assert_eq!(facts.grpc_ports.iter().map(|(p, _)| *p).collect::<Vec<_>>(), [50051]);

        let python = "server = grpc.server(futures.ThreadPoolExecutor(max_workers=10))\nserver.add_insecure_port('[::]:50052')\n";
        let (facts, _) = scan_one("server.py", python);
        assert!(facts.grpc.is_some());
        assert_eq!(facts.grpc_ports.iter().map(|(p, _)| *p).collect::<Vec<_>>(), [50052]);

        let node =
            "const server = new grpc.Server();\nserver.bindAsync('0.0.0.0:50053', creds, cb);\n";
        let (facts, _) = scan_one("server.js", node);
        assert_eq!(facts.grpc_ports.iter().map(|(p, _)| *p).collect::<Vec<_>>(), [50053]);

        let rust = "use tonic::transport::Server;\nServer::builder().add_service(s).serve(\"[::]:50054\".parse()?).await?;\n";
        let (facts, _) = scan_one("src/main.rs", rust);
        assert_eq!(facts.grpc_ports.iter().map(|(p, _)| *p).collect::<Vec<_>>(), [50054]);

        let axum = "let app = Server::builder();\n";
        assert!(scan_one("src/main.rs", axum).0.grpc.is_none(), "no tonic, no gRPC");

        let proto = "syntax = \"proto3\";\n\nservice Greeter {\n  rpc SayHello (HelloRequest) returns (HelloReply);\n}\n";
        let (facts, _) = scan_one("proto/greeter.proto", proto);
        assert_eq!(
            facts.grpc.map(|e| (e.line, e.what)),
            Some((Some(3), "defines a gRPC service".into()))
        );

        let spring = "grpc.server.port=9090\n";
        let (facts, _) = scan_one("src/main/resources/application.properties", spring);
        assert_eq!(facts.grpc_ports.iter().map(|(p, _)| *p).collect::<Vec<_>>(), [9090]);

        let plain = "http.ListenAndServe(\":8080\", nil)";
        let (facts, _) = scan_one("main.go", plain);
        assert!(facts.grpc.is_none() && facts.grpc_ports.is_empty());
    }

    #[test]
    fn health_routes_best_first() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("app.py", "@app.route(\"/ping\")\ndef ping(): pass\n@app.route('/health')\ndef h(): pass\n", &["/health", "/ping"]),
            ("main.py", "@app.get(\"/healthz\")\nasync def hz(): ...\n@router.get('/readyz')\n", &["/healthz", "/readyz"]),
            ("index.js", "app.get('/health', (req, res) => res.send('ok'))", &["/health"]),
            ("main.go", "mux.HandleFunc(\"/healthz\", h)\nmux.HandleFunc(\"GET /livez\", l)\nr.GET(\"/status\", s)\n", &["/healthz", "/livez", "/status"]),
            ("Api.java", "@GetMapping(\"/ready\")\n@RequestMapping(value = \"/health\")\n", &["/health", "/ready"]),
            ("Program.cs", "app.MapHealthChecks(\"/healthz\");\napp.MapGet(\"/ping\", () => \"pong\");", &["/healthz", "/ping"]),
            ("urls.py", "urlpatterns = [path(\"health/\", views.health), path('admin/', admin.site.urls)]", &["/health"]),
            ("config/routes.rb", "Rails.application.routes.draw do\n  get \"up\" => \"rails/health#show\"\nend\n", &["/up"]),
            ("app.rb", "get '/health' do\n  'ok'\nend\n", &["/health"]),
            ("src/main.rs", ".route(\"/healthz\", get(health))", &["/healthz"]),
            ("src/main.rs", "#[get(\"/health\")]\nasync fn h() {}", &["/health"]),
            // Near misses: a path that is not a route, a longer path.
            ("index.js", "const s = '/health';\nfetch('https://x/health')\n", &[]),
            ("main.go", "mux.HandleFunc(\"/healthy-food\", h)", &[]),
        ];
        for (path, text, expected) in cases {
            let (facts, _) = scan_one(path, text);
            let got: Vec<&str> = facts.health_paths.iter().map(|(p, _)| p.as_str()).collect();
            assert_eq!(got, *expected, "{path}: {text}");
        }
        let (facts, _) = scan_one("index.js", "\n\napp.get('/health', h)");
        assert_eq!(facts.health_paths[0].1.line, Some(3));
    }

    #[test]
    fn malformed_spring_yaml_is_a_note() {
        let (facts, notes) =
            scan_one("src/main/resources/application.yml", "server:\n  port: [8080\n");
        assert!(facts.ports.is_empty());
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].message.starts_with("not valid YAML"), "{notes:?}");
        assert_eq!(notes[0].file.as_deref(), Some("src/main/resources/application.yml"));
    }

    #[test]
    fn binary_looking_and_odd_text_does_not_panic() {
        let odd =
            "process.env.\nprocess.env[\nos.getenv(\napp.listen(99999)\n\u{0}\u{1}é\n@app.get(\"/";
        for path in ["a.js", "a.py", "a.go", "a.rs", "a.rb", "a.php", "a.cs", "A.java"] {
            let (facts, _) = scan_one(path, odd);
            assert!(facts.ports.is_empty(), "{path}");
        }
    }

    #[test]
    fn the_scan_is_bounded() {
        let listing = [
            ("svc/a.py", 10),
            ("svc/node_modules/x.js", MAX_SCAN_BYTES),
            ("svc/b.py", MAX_SCAN_BYTES - 10),
            ("svc/c.py", 6),
            ("svc/d.py", 1),
        ];
        let mut read_files = Vec::new();
        let mut notes = Vec::new();
        let facts = scan_in(
            listing.iter().map(|(p, s)| (*p, *s)),
            "svc",
            &mut |path, _| {
                read_files.push(path.to_string());
                Some("import os\nX = os.getenv('SETTING')\n".to_string())
            },
            &mut notes,
        );
        assert_eq!(read_files, ["svc/a.py", "svc/b.py"], "skipped folders are not read");
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].message.contains("stopped after 8 MiB at svc/c.py"), "{notes:?}");
        assert_eq!(facts.env.len(), 1, "both files read the same name");
    }

    #[test]
    fn files_scanned_and_skipped() {
        let cases = [
            ("src/app.py", Some(SourceKind::Python), false),
            ("web/server.mjs", Some(SourceKind::Script), false),
            ("web/App.tsx", None, false),
            ("cmd/api/main.go", Some(SourceKind::Go), false),
            ("cmd/api/main_test.go", Some(SourceKind::Go), true),
            ("src/main/resources/application-prod.yml", Some(SourceKind::SpringYaml), false),
            ("config/settings.yml", None, false),
            ("node_modules/express/index.js", Some(SourceKind::Script), true),
            ("tests/test_app.py", Some(SourceKind::Python), true),
            ("app/test_views.py", Some(SourceKind::Python), true),
            ("src/app.test.ts", Some(SourceKind::Script), true),
            ("src/test/java/AppTest.java", Some(SourceKind::Jvm), true),
            ("vendor/github.com/x/y.go", Some(SourceKind::Go), true),
            ("README.md", None, false),
            ("Makefile", None, false),
        ];
        for (path, kind, skipped) in cases {
            assert_eq!(kind_of(path), kind, "{path}");
            assert_eq!(is_skipped(path), skipped, "{path}");
        }
    }

    #[test]
    fn secret_names() {
        let cases = [
            ("PASSWORD", true),
            ("DB_PASSWORD", true),
            ("POSTGRES_PASSWORD", true),
            ("MYSQL_ROOT_PASSWORD", true),
            ("dbPassword", true),
            ("SMTP_PASS", true),
            ("DB_PWD", true),
            ("JWT_SECRET", true),
            ("SECRET_KEY", true),
            ("SECRET_KEY_BASE", true),
            ("GITHUB_TOKEN", true),
            ("access_token", true),
            ("API_KEY", true),
            ("apiKey", true),
            ("APIKEY", true),
            ("STRIPE_KEY", true),
            ("TLS_KEY", true),
            ("AWS_SECRET_ACCESS_KEY", true),
            ("PRIVATE_KEY", true),
            ("GOOGLE_APPLICATION_CREDENTIALS", true),
            ("DOCKER_CREDS", true),
            ("BASIC_AUTH", true),
            ("REDIS_AUTH", true),
            ("DATABASE_URL", true),
            ("SQLALCHEMY_DATABASE_URI", true),
            ("REDIS_URL", true),
            ("MONGODB_URI", true),
            ("CELERY_BROKER_URL", true),
            ("SENTRY_DSN", true),
            ("SLACK_WEBHOOK_URL", true),
            ("EMAIL_URL", true),
            ("CACHE_URL", true),
            ("ConnectionStrings__DefaultConnection", true),
            ("SSL_KEYSTORE_PASSWORD", true),
            ("AUTH_SALT", true),
            // Near misses.
            ("PWD", false),
            ("KEYCLOAK_URL", false),
            ("TOKENIZER_MODEL", false),
            ("BYPASS_CACHE", false),
            ("COMPASS_URL", false),
            ("AUTHOR_NAME", false),
            ("AUTH_ENABLED", false),
            ("AUTH_URL", false),
            ("OAUTH_CLIENT_ID", false),
            ("AWS_ACCESS_KEY_ID", false),
            ("PUBLIC_KEY", false),
            ("STRIPE_PUBLISHABLE_KEY", false),
            ("CACHE_KEY", false),
            ("KEY_PREFIX", false),
            ("TOKEN_TTL", false),
            ("JWT_EXPIRY", false),
            ("PASSWORD_MIN_LENGTH", false),
            ("POSTGRES_PASSWORD_FILE", false),
            ("PRIVATE_KEY_PATH", false),
            ("SECRET_NAME", false),
            ("TLS_CERT", false),
            ("API_URL", false),
            ("NEXTAUTH_URL", false),
            ("ELASTIC_APM_SERVER_URL", false),
            ("REDIS_HOST", false),
            ("DB_USER", false),
            ("MYSQL_ALLOW_EMPTY_PASSWORD", false),
            ("MYSQL_RANDOM_ROOT_PASSWORD", false),
            ("PORT", false),
            ("", false),
        ];
        for (name, secret) in cases {
            assert_eq!(looks_secret(name), secret, "{name}");
        }
    }

    /// Hosts and ports a case expects.
    type Hosts<'a> = &'a [(&'a str, Option<u16>)];

    #[test]
    fn hosts_in_values() {
        let cases: &[(&str, Hosts)] = &[
            ("db", &[("db", None)]),
            ("db:5432", &[("db", Some(5432))]),
            ("redis://redis:6379/0", &[("redis", Some(6379))]),
            (
                "postgresql://app:s3cr3t@Postgres:5432/app?sslmode=disable",
                &[("postgres", Some(5432))],
            ),
            ("postgres://user:p@ss@db/app", &[("db", None)]),
            ("http://api:8080/v1", &[("api", Some(8080))]),
            ("amqp://guest:guest@rabbitmq", &[("rabbitmq", None)]),
            ("kafka-1:9092,kafka-2:9092", &[("kafka-1", Some(9092)), ("kafka-2", Some(9092))]),
            ("http://[::1]:8080/", &[("::1", Some(8080))]),
            ("10.0.0.5:80", &[("10.0.0.5", Some(80))]),
            ("info", &[("info", None)]),
            ("", &[]),
            ("hello world", &[]),
            ("${DB_HOST}", &[]),
            ("db:notaport", &[]),
            ("/var/run/app.sock", &[]),
            ("-x", &[]),
        ];
        for (value, expected) in cases {
            let want: Vec<(String, Option<u16>)> =
                expected.iter().map(|(h, p)| (h.to_string(), *p)).collect();
            assert_eq!(hosts_in(value), want, "{value}");
        }
    }

    #[test]
    fn name_words() {
        assert_eq!(words("dbPassword"), ["DB", "PASSWORD"]);
        assert_eq!(words("APIKey"), ["API", "KEY"]);
        assert_eq!(words("ConnectionStrings__Default"), ["CONNECTION", "STRINGS", "DEFAULT"]);
        assert_eq!(words("a.b-c_d"), ["A", "B", "C", "D"]);
    }
}
