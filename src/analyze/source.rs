//! Source scan: env vars the code reads, listen ports, gRPC servers and their health
//! service, HTTP health routes.
//!
//! The scan reads source files by extension only (`.py .js .mjs .cjs .ts .go .java .kt .cs .php
//! .rb .rs`, `.proto`, and Spring's `application*.properties|yml`), skips tests, vendored code
//! and build output, and stops after [`MAX_SCAN_BYTES`] per call with a note. Every pattern is a
//! regular expression made once per process, on its first use, and searched by the engine that
//! costs least for the text it has seen ([`super::pattern`]): a run makes only the patterns of
//! the kinds of files it reads (compiling all of them would cost more than the analysis of a
//! small repository). It looks for the shapes code takes when it
//! reads configuration (`os.getenv("X", "d")`, `process.env.X || "d"`, `ENV.fetch("X") { d }`,
//! `${X:d}` ...), listens (`app.listen(3000)`, `http.ListenAndServe(":8080", ...)`,
//! `server.port=8081`), registers a gRPC server or gRPC's standard health service
//! (`grpc.health.v1`), or routes a health path; it does not understand the code, so a value
//! computed at run time is not seen.
//!
//! It also owns [`looks_secret`] and [`holds_secret`], the one place that decides which env
//! vars hold secrets (by name, and by value: token shapes, URL passwords, random strings), and
//! [`hosts_in`], which reads the hosts an env value points at (`DB_HOST=db`,
//! `REDIS_URL=redis://redis:6379`) so the assembly can tell which services depend on which.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::{LazyLock, OnceLock};

mod hosts;
mod secrets;

pub use hosts::{HostLiteral, MAX_HOST_LITERALS};
pub use secrets::{
    given_value_holds_secret, holds_secret, looks_random, looks_secret, mask_secret_shapes,
    secret_shape,
};

use super::dockerfile::MAX_PORTS;
use super::pattern::{Caps, Pattern};
use super::read::{documents, parse_yaml, ReadText};
use super::walk::RepoFiles;
use super::{Evidence, Note};

/// Most bytes of source read per [`scan`] call; beyond it the scan stops with a note.
pub const MAX_SCAN_BYTES: u64 = 8 * 1024 * 1024;

/// Most env vars (and health routes) one scan keeps; ports: as a Dockerfile stage,
/// [`MAX_PORTS`]. Each becomes a line of the job, and 8 MiB of code can read 200,000 names.
const MAX_ENTRIES: usize = 500;

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
    /// The server registers gRPC's standard health service (`grpc.health.v1.Health`), so a
    /// gRPC health check gets an answer (without it, the check fails with `UNIMPLEMENTED`).
    pub grpc_health: Option<Evidence>,
    /// Host-like literals in the code, with the file they are in (at most
    /// [`MAX_HOST_LITERALS`]); the assembly keeps those that name a service.
    pub hosts: Vec<(HostLiteral, String)>,
    /// Env names the code reads in a way that fails without them.
    pub required: Vec<String>,
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
    facts.cap(dir, notes);
    facts
}

/// A string, number or backtick literal; the default value of an env read.
const LITERAL: &str =
    r#"(?:"(?P<d1>[^"\\\n]*)"|'(?P<d2>[^'\\\n]*)'|`(?P<d3>[^`\\\n$]*)`|(?P<d4>-?\d+(?:\.\d+)?)\b)"#;
const NAME: &str = r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)";

/// The scan's patterns, each with the kinds of files it applies to.
struct Patterns {
    env: Vec<(SourceKindSet, LazyPattern)>,
    ports: Vec<(SourceKindSet, LazyPattern)>,
    grpc: Vec<(SourceKindSet, LazyPattern)>,
    /// Registrations of the standard health service, each with the name of its library
    /// when the call alone could be a project's own `Health` service.
    grpc_health: Vec<(SourceKindSet, Option<&'static str>, LazyPattern)>,
    health: Vec<(SourceKindSet, LazyPattern)>,
}

/// One of the analyzer's own patterns, compiled the first time a text may match it.
pub(crate) struct LazyPattern {
    source: String,
    /// Text every match contains (see [`required_literal`]): a text without it is neither
    /// searched nor a reason to compile the pattern.
    needs: Option<String>,
    regex: OnceLock<Pattern>,
}

impl LazyPattern {
    /// A pattern to compile when first needed.
    pub(crate) fn new(source: impl Into<String>) -> Self {
        let source = source.into();
        LazyPattern { needs: required_literal(&source), source, regex: OnceLock::new() }
    }

    /// The compiled pattern.
    pub(crate) fn get(&self) -> &Pattern {
        self.regex.get_or_init(|| Pattern::new(&self.source))
    }

    /// The compiled pattern, unless `text` lacks what every match contains.
    fn for_text(&self, text: &str) -> Option<&Pattern> {
        match &self.needs {
            Some(literal) if !text.contains(literal.as_str()) => None,
            _ => Some(self.get()),
        }
    }
}

/// The plain text a pattern starts with, which every match therefore contains
/// (`\bprocess\.env\.` → `process.env.`), when it is at least three characters long. Only the
/// shapes of the analyzer's own patterns are read: an optional `(?m)` and `\b`, then letters,
/// digits, `_`, `:`, `<`, `>`, `@`, `=` and escaped punctuation; a character a quantifier makes
/// optional is left out, and a pattern with another flag or a top-level `|` has none.
fn required_literal(pattern: &str) -> Option<String> {
    let mut depth = 0usize;
    let mut in_class = false;
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '(' if !in_class => depth += 1,
            ')' if !in_class => depth = depth.saturating_sub(1),
            '|' if !in_class && depth == 0 => return None,
            _ => {}
        }
    }
    let rest = pattern.strip_prefix("(?m)").unwrap_or(pattern);
    // A line start and the blanks that may follow it take no text: `^[ \t]*bind`.
    let rest = match rest.strip_prefix('^') {
        Some(after) => [r"[ \t]*", r"\s*"]
            .iter()
            .find_map(|blanks| after.strip_prefix(blanks))
            .unwrap_or(after),
        None => rest,
    };
    let rest = rest.strip_prefix(r"\b").unwrap_or(rest);
    if let Some(group) = rest.strip_prefix("(?:") {
        return common_prefix_of_alternatives(group);
    }
    if rest.starts_with("(?") {
        return None;
    }
    let mut literal = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_alphanumeric() || "_:<>@=\"'".contains(c) {
            literal.push(c);
            chars.next();
        } else if c == '\\' {
            let mut ahead = chars.clone();
            ahead.next();
            match ahead.next() {
                Some(escaped) if escaped.is_ascii_punctuation() => {
                    literal.push(escaped);
                    chars = ahead;
                }
                _ => break,
            }
        } else {
            break;
        }
    }
    if matches!(chars.peek(), Some('?' | '*' | '+' | '{')) {
        literal.pop();
    }
    (literal.chars().count() >= 3).then_some(literal)
}

/// The text every alternative of a leading group of plain words starts with (`(?:run|run_app)`
/// → `run`), when it is at least three characters long; `group` is what follows `(?:`.
fn common_prefix_of_alternatives(group: &str) -> Option<String> {
    let end = group.find(')')?;
    // An optional group (`(?:run)?`) needs nothing.
    if matches!(group[end + 1..].chars().next(), Some('?' | '*' | '{')) {
        return None;
    }
    let inside = &group[..end];
    let alternatives: Vec<&str> = inside.split('|').collect();
    if !alternatives.iter().all(|a| a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')) {
        return None;
    }
    let first = alternatives.first()?;
    let common = (0..=first.len())
        .rev()
        .find(|&n| alternatives.iter().all(|a| a.starts_with(&first[..n])))
        .unwrap_or(0);
    (common >= 3).then(|| first[..common].to_string())
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
    // A port is ASCII digits `[0-9]`, not `\d` (every Unicode digit), which is much dearer to
    // compile; where the digits are followed by something no digit matches (`\b`, a quote,
    // `)`, the end of the line), a port in other digits failed to parse anyway, so the facts
    // are the same. The one pattern that ends with its port keeps `\d`.
    let ports = vec![
        (
            set(&[K::Script]),
            r"\.listen\(\s*(?:[\w.]+\s*(?:\|\||\?\?)\s*)?(?P<port>[0-9]{2,5})\b".to_string(),
        ),
        (
            set(&[K::Script]),
            r"\.listen\(\s*\{[^}]*\bport\s*:\s*(?:[\w.]+\s*(?:\|\||\?\?)\s*)?(?P<port>[0-9]{2,5})\b"
                .to_string(),
        ),
        (
            set(&[K::Script]),
            r"(?m)\b(?:const|let|var)\s+(?:PORT|port|httpPort|HTTP_PORT)\s*=\s*(?P<port>[0-9]{2,5})\s*;?\s*$"
                .to_string(),
        ),
        (set(&[K::Script]), r#"\bbindAsync\(\s*["'`][^"'`\n]*:(?P<port>[0-9]{2,5})["'`]"#.to_string()),
        (
            set(&[K::Python]),
            r"\b(?:run|run_app)\([^)]*?\bport\s*=\s*(?P<port>[0-9]{2,5})\b".to_string(),
        ),
        (set(&[K::Python]), r#"(?m)^[ \t]*bind\s*=\s*\[?\s*["'][^"'\n]*:(?P<port>[0-9]{2,5})["']"#.to_string()),
        (
            set(&[K::Python]),
            r#"\badd_(?:insecure|secure)_port\(\s*f?["'][^"'\n]*:(?P<port>[0-9]{2,5})["']"#
                .to_string(),
        ),
        (
            set(&[K::Go]),
            r#"\b(?:ListenAndServe(?:TLS)?|Listen|Run|Start)\(\s*(?:"tcp[46]?"\s*,\s*)?"[^"\n]*:(?P<port>[0-9]{2,5})""#
                .to_string(),
        ),
        (set(&[K::Go]), r#"\bAddr\s*:\s*"[^"\n]*:(?P<port>[0-9]{2,5})""#.to_string()),
        // `if port == "" { port = "8080" }`: the Go idiom for a default.
        (
            set(&[K::Go]),
            r#"==\s*""\s*\{\s*\w+\s*=\s*"(?::)?(?P<port>[0-9]{2,5})"\s*\}?"#.to_string(),
        ),
        (set(&[K::Jvm]), r"\b(?:forPort|port|start)\(\s*(?P<port>[0-9]{2,5})\s*\)".to_string()),
        (
            set(&[K::Jvm]),
            r#"\bnew\s+InetSocketAddress\(\s*(?:"[^"\n]*"\s*,\s*)?(?P<port>[0-9]{2,5})\s*\)"#
                .to_string(),
        ),
        (
            set(&[K::Jvm]),
            r"\bembeddedServer\([^)]*?\bport\s*=\s*(?P<port>[0-9]{2,5})\b".to_string(),
        ),
        (
            set(&[K::SpringProperties]),
            r"(?m)^[ \t]*server\.port\s*[=:]\s*(?:\$\{[A-Za-z0-9_.]*:)?(?P<port>[0-9]{2,5})\b".to_string(),
        ),
        (
            set(&[K::Rust]),
            r#"\bbind\(\s*&?"[^"\n]*:(?P<port>[0-9]{2,5})""#.to_string(),
        ),
        (
            set(&[K::Rust]),
            r#"\bbind\(\s*&?\(\s*"[^"\n]*"\s*,\s*(?P<port>[0-9]{2,5})\s*\)"#.to_string(),
        ),
        (
            set(&[K::Rust]),
            r"\bSocketAddr::from\(\(\s*\[[\d,\s]+\]\s*,\s*(?P<port>[0-9]{2,5})\s*\)\)".to_string(),
        ),
        (set(&[K::Rust]), r#""[\[\]\w.:]*:(?P<port>[0-9]{2,5})"\s*\.parse"#.to_string()),
        (
            set(&[K::CSharp]),
            r"\bListen(?:AnyIP|Localhost)?\(\s*(?P<port>[0-9]{2,5})\b".to_string(),
        ),
        (
            set(&[K::CSharp]),
            r#"\b(?:UseUrls|Run)\(\s*"https?://[^"\n]*:(?P<port>\d{2,5})"#.to_string(),
        ),
        (set(&[K::Ruby]), r"\bset\s+:port\s*,\s*(?P<port>[0-9]{2,5})\b".to_string()),
        (set(&[K::Ruby]), r"(?m)^[ \t]*port\s+(?P<port>[0-9]{2,5})\s*$".to_string()),
    ];
    let grpc_ports = (
        set(&[K::SpringProperties]),
        r"(?m)^[ \t]*grpc\.server\.port\s*[=:]\s*(?:\$\{[A-Za-z0-9_.]*:)?(?P<port>[0-9]{2,5})\b",
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
    // Registering the service, never a client of it (`NewHealthClient`, `HealthStub`,
    // `HealthGrpc.newBlockingStub`).
    let grpc_health = [
        (set(&[K::Go]), Some("google.golang.org/grpc/health"), r"\bRegisterHealthServer\("),
        (set(&[K::Python]), Some("grpc_health"), r"\badd_HealthServicer_to_server\("),
        (
            set(&[K::Script]),
            Some("grpc-health-check"),
            r"\bnew\s+(?:\w+\.)?(?:HealthImplementation|Implementation)\(",
        ),
        (set(&[K::Jvm]), None, r"\.getHealthService\(\s*\)"),
        (set(&[K::CSharp]), None, r"\bMapGrpcHealthChecksService\("),
        (set(&[K::Rust]), Some("tonic_health"), r"\bhealth_reporter\(\s*\)"),
        (set(&[K::Ruby]), None, r"\bGrpc::Health::Checker\.new\b"),
    ];
    // Any route path; a health one is kept by its name ([`HEALTH_PATHS`]). Written as the
    // alternation of those paths, the first pattern cost 0.5 ms to compile.
    let route = r"(?P<path>[A-Za-z0-9_][A-Za-z0-9_/.-]*?)";
    let health = vec![
        (
            CODE,
            format!(
                r#"(?:\(\s*|\b(?:get|head|route|match)\s+|\b(?:value|path)\s*=\s*)["'`](?:(?:GET|HEAD)\s+)?/{route}/?["'`]"#
            ),
        ),
        (set(&[K::Python]), format!(r#"\b(?:re_)?path\(\s*r?["']\^?{route}/?\$?["']"#)),
        (set(&[K::Ruby]), format!(r#"\bget\s+["']{route}["']\s*(?:=>|,\s*to:)"#)),
    ];
    let compile = |list: Vec<(SourceKindSet, String)>| {
        list.into_iter().map(|(kinds, p)| (kinds, LazyPattern::new(p))).collect::<Vec<_>>()
    };
    Patterns {
        env: compile(env),
        ports: compile(ports),
        grpc: compile(grpc),
        grpc_health: grpc_health
            .into_iter()
            .map(|(kinds, library, pattern)| (kinds, library, LazyPattern::new(pattern)))
            .collect(),
        health: compile(health),
    }
});

/// Whether the text holds a word every health route contains (`health`, `ready`, `live`,
/// `ping`, `status`, or `up` as a word of its own): a cheap test before the route patterns.
fn names_health_word(text: &str) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    ["health", "ready", "live", "ping", "status"].iter().any(|word| text.contains(word))
        || text.match_indices("up").any(|(at, _)| {
            !text[..at].chars().next_back().is_some_and(is_word)
                && !text[at + 2..].chars().next().is_some_and(is_word)
        })
}

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

fn default_of(captures: &Caps<'_>) -> Option<String> {
    ["d1", "d2", "d3", "d4", "e1", "e2", "e3", "e4"]
        .iter()
        .find_map(|group| captures.name(group))
        .map(|m| m.as_str().to_string())
}

fn port_of(captures: &Caps<'_>) -> Option<u16> {
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
    for (kinds, pattern) in &patterns.env {
        if !kinds.has(kind) {
            continue;
        }
        let Some(regex) = pattern.for_text(text) else { continue };
        for captures in regex.captures_iter(text) {
            let Some(name) = captures.name("name") else { continue };
            let name = name.as_str().to_string();
            let line = lines.at(captures.get(0).map_or(0, |m| m.start()));
            // A secret default, by the name or by the value (`os.getenv("X", "ghp_...")`), is
            // dropped: the code holds it, the job must not.
            let default = default_of(&captures).filter(|d| !holds_secret(&name, d));
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
    for (kinds, pattern) in &patterns.ports {
        if !kinds.has(kind) {
            continue;
        }
        let Some(regex) = pattern.for_text(text) else { continue };
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
    for (kinds, pattern) in &patterns.grpc {
        if !kinds.has(kind) || (kind == SourceKind::Rust && !text.contains("tonic")) {
            continue;
        }
        let Some(regex) = pattern.for_text(text) else { continue };
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
    if facts.grpc_health.is_none() {
        facts.grpc_health = grpc_health_registration(patterns, path, kind, text, &lines);
    }
    facts.ports.extend(file_ports);
    if kind != SourceKind::Proto && facts.hosts.len() < MAX_HOST_LITERALS {
        let room = MAX_HOST_LITERALS - facts.hosts.len();
        let at = |offset: usize| lines.at(offset);
        let found = hosts::host_literals(kind, text, &at);
        facts.hosts.extend(found.into_iter().take(room).map(|h| (h, path.to_string())));
    }
    facts.required.extend(hosts::required_reads(kind, text));
    // Route patterns have no literal to search for; most files name no health word at all.
    let mut routed = patterns.health.iter().filter(|(kinds, _)| kinds.has(kind)).peekable();
    if routed.peek().is_none() || !names_health_word(text) {
        return;
    }
    for (_, regex) in routed {
        for captures in regex.get().captures_iter(text) {
            let Some(found) = captures.name("path") else { continue };
            let route = format!("/{}", found.as_str());
            if !HEALTH_PATHS.contains(&route.as_str()) {
                continue;
            }
            let line = lines.at(found.start());
            let what = format!("serves health route {route}");
            facts.health_paths.push((route, Evidence::at(path, Some(line), what)));
        }
    }
}

/// Where a file registers gRPC's standard health service, if it does.
fn grpc_health_registration(
    patterns: &Patterns,
    path: &str,
    kind: SourceKind,
    text: &str,
    lines: &LazyLines<'_>,
) -> Option<Evidence> {
    let found = patterns
        .grpc_health
        .iter()
        .filter(|(kinds, library, _)| kinds.has(kind) && library.is_none_or(|l| text.contains(l)))
        .find_map(|(_, _, pattern)| pattern.for_text(text)?.find(text))?;
    let what = "registers the gRPC health service (grpc.health.v1)";
    Some(Evidence::at(path, Some(lines.at(found.start())), what))
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
    let documents = documents(text)
        .into_iter()
        .filter_map(|(offset, doc)| parse_yaml(text, doc, offset, path, notes));
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

impl SourceFacts {
    /// Cuts each list to its cap, the first found (the best, for health routes) kept, with a
    /// note per list cut.
    fn cap(&mut self, dir: &str, notes: &mut Vec<Note>) {
        let place = if dir.is_empty() { "the repository".to_string() } else { dir.to_string() };
        let mut cut = |what: &str, count: usize, max: usize| {
            notes.push(Note::general(format!(
                "source scan of {place}: the code reads {count} {what}; only the first {max} \
                 are kept"
            )));
        };
        if self.env.len() > MAX_ENTRIES {
            cut("env vars", self.env.len(), MAX_ENTRIES);
            self.env.truncate(MAX_ENTRIES);
            let kept: HashSet<&str> = self.env.iter().map(|(name, ..)| name.as_str()).collect();
            self.required.retain(|name| kept.contains(name.as_str()));
        }
        if self.ports.len() > MAX_PORTS {
            cut("listen ports", self.ports.len(), MAX_PORTS);
            self.ports.truncate(MAX_PORTS);
            let kept: HashSet<u16> = self.ports.iter().map(|(port, _)| *port).collect();
            self.grpc_ports.retain(|(port, _)| kept.contains(port));
        }
        if self.health_paths.len() > MAX_ENTRIES {
            cut("health routes", self.health_paths.len(), MAX_ENTRIES);
            self.health_paths.truncate(MAX_ENTRIES);
        }
    }
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
        self.required.sort();
        self.required.dedup();
        self.health_paths.sort_by_key(|(path, _)| health_rank(path));
    }
}

fn dedup_by_key<T, K: Hash + Eq>(items: &mut Vec<T>, key: impl Fn(&T) -> K) {
    // A set, not a list of those seen: code can listen on 60,000 ports.
    let mut seen: HashSet<K> = HashSet::new();
    items.retain(|item| seen.insert(key(item)));
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

#[cfg(test)]
mod tests;
