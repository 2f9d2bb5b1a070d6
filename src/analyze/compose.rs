//! Compose file parsing: services, builds, ports, environment, volumes, dependencies.
//!
//! Reads a compose project (`compose.yaml`, `compose.yml`, `docker-compose.yaml`,
//! `docker-compose.yml`) with its override file merged on top the way `docker compose` does,
//! interpolates `${VAR}` forms from the `.env` file beside it, and tolerates every documented
//! short and long syntax. Each fact keeps the file and line it came from (found by searching
//! the value's text inside the service's block). It owns no decisions about services; the
//! assembly in `mod.rs` combines these facts with the Dockerfile's and the others.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::dockerfile::{cut_range, exposed_ports, ExposedPort, MAX_PORTS};
use super::interpolate::{Bound, Dollar, FileSubstitution};
use super::read::{line_of, shell_words};
use super::resources::{cpu_mhz, memory_mb, Quantities};
use super::walk::{self, RepoFiles};
use super::Note;

/// Main compose file names, in the order `docker compose` prefers them.
const MAIN_FILES: [&str; 4] =
    ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"];
/// Override files merged on top of the main one.
const OVERRIDE_FILES: [&str; 4] = [
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yaml",
    "docker-compose.override.yml",
];

/// Most services of one compose project read; each becomes a group of the job, so the rest
/// are left out with a note.
const MAX_SERVICES: usize = 200;

/// Most entries a service takes from one of its lists (`environment`, `volumes`, `secrets`,
/// `depends_on`, ...), far more than real services have: each entry costs a search for its
/// line and a line of the job. The rest are left out with a note.
const MAX_ENTRIES: usize = 500;

/// A value with the file and line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Compose file relative to the analyzed root.
    pub file: String,
    /// 1-based line, when it could be found.
    pub line: Option<u32>,
}

/// A compose project: one folder's main file and overrides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Project {
    /// Folder of the compose file relative to the root (`.` for the root).
    pub dir: String,
    /// Files read, main first.
    pub files: Vec<String>,
    /// Services in file order.
    pub services: Vec<ComposeService>,
    /// Top-level `secrets` and `configs` that name a file, by name: the file relative to the
    /// analyzed root, with where the definition is.
    pub file_objects: Vec<Located<FileObject>>,
}

/// A top-level `secrets:` or `configs:` entry backed by a file of the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileObject {
    /// Its name (`db-password`).
    pub name: String,
    /// `true` for a secret, `false` for a config.
    pub secret: bool,
    /// The file relative to the analyzed root (`db/password.txt`).
    pub file: String,
}

/// A service's use of a top-level secret or config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileUse {
    /// The top-level name.
    pub name: String,
    /// Where the container reads it: `target` when given, else `/run/secrets/<name>` for a
    /// secret and `/<name>` for a config.
    pub target: String,
}

/// How a service is built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Build {
    /// Build context relative to the analyzed root (`.` for the root).
    pub context: String,
    /// Dockerfile relative to the analyzed root.
    pub dockerfile: String,
    /// Inline Dockerfile text (`dockerfile_inline`).
    pub inline: Option<String>,
    /// Stage to build.
    pub target: Option<String>,
    /// Build arguments.
    pub args: Vec<(String, String)>,
}

/// A `ports` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedPort {
    /// Port inside the container.
    pub container: u16,
    /// Port on the host, when one is fixed.
    pub published: Option<u16>,
    /// `/udp` or `protocol: udp`.
    pub udp: bool,
}

/// Kinds of `volumes` entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeSource {
    /// A named volume managed by compose.
    Named(String),
    /// A host path mounted in.
    Bind(String),
    /// A volume with no name (dies with the container).
    Anonymous,
    /// An in-memory file system.
    Tmpfs,
}

/// A `volumes` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Path inside the container.
    pub target: String,
    /// What is mounted there.
    pub source: VolumeSource,
    /// `:ro` or `read_only: true`.
    pub read_only: bool,
}

impl Mount {
    /// Data in this mount outlives the container: a named volume, or a host folder outside
    /// the repository (a relative bind mount is source code or configuration; a socket is not
    /// data).
    pub fn persistent(&self) -> bool {
        match &self.source {
            VolumeSource::Named(_) => true,
            VolumeSource::Bind(host) => {
                let outside = host.starts_with('/') || host.starts_with('~');
                outside && !host.ends_with(".sock")
            }
            VolumeSource::Anonymous | VolumeSource::Tmpfs => false,
        }
    }
}

/// A `healthcheck` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthTest {
    /// `disable: true` or `test: ["NONE"]`.
    Disabled,
    /// The words of the check command (`CMD-SHELL` gives one word).
    Check(Vec<String>),
}

/// `deploy.resources` limits (or reservations when no limit is given).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// CPU in MHz (1 CPU = 1000 MHz).
    pub cpu: Option<u32>,
    /// Memory in MB.
    pub memory: Option<u32>,
}

/// One compose service.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ComposeService {
    /// Service name.
    pub name: String,
    /// Where the service is declared.
    pub file: String,
    /// Line of the service's name.
    pub line: Option<u32>,
    /// `container_name` and `hostname`: other names other services may use for it.
    pub aliases: Vec<String>,
    /// `image`.
    pub image: Option<Located<String>>,
    /// `build`.
    pub build: Option<Located<Build>>,
    /// `ports`.
    pub ports: Vec<Located<PublishedPort>>,
    /// `expose`.
    pub expose: Vec<Located<ExposedPort>>,
    /// `environment` (a name without value takes it from the shell: `None`).
    pub environment: Vec<Located<(String, Option<String>)>>,
    /// Variables from `env_file` files.
    pub env_file_vars: Vec<Located<(String, Option<String>)>>,
    /// `secrets` the service reads, with where.
    pub secrets: Vec<Located<FileUse>>,
    /// `configs` the service reads, with where.
    pub configs: Vec<Located<FileUse>>,
    /// `volumes`.
    pub volumes: Vec<Located<Mount>>,
    /// `depends_on` and `links` service names.
    pub depends_on: Vec<Located<String>>,
    /// `healthcheck`.
    pub healthcheck: Option<Located<HealthTest>>,
    /// `deploy.resources`.
    pub resources: Option<Located<Limits>>,
    /// `command`.
    pub command: Option<Located<Vec<String>>>,
    /// `profiles`.
    pub profiles: Vec<String>,
    /// `user`.
    pub user: Option<Located<String>>,
    /// `stop_signal`: what `docker compose stop` sends instead of SIGTERM.
    pub stop_signal: Option<Located<String>>,
    /// `entrypoint` (replaces the image's).
    pub entrypoint: Option<Located<Vec<String>>>,
    /// Settings a Nomad client must allow: `cap_add`, `network_mode`, `privileged`,
    /// `runtime`, `platform`, `sysctls`, `devices` (key, value).
    pub privileges: Vec<Located<(String, String)>>,
}

/// Finds the compose projects of the repository: the root's when it has one, else every
/// folder's, shallowest first.
pub fn find(files: &RepoFiles, notes: &mut Vec<Note>) -> Vec<Project> {
    let mut dirs: Vec<&str> = files
        .files
        .iter()
        .filter(|f| MAIN_FILES.contains(&walk::file_name(&f.path)))
        .map(|f| walk::parent_dir(&f.path))
        .collect();
    dirs.sort_by_key(|d| (if *d == "." { 0 } else { d.matches('/').count() + 1 }, *d));
    dirs.dedup();
    if dirs.first() == Some(&".") && dirs.len() > 1 {
        for dir in &dirs[1..] {
            notes.push(Note::general(format!(
                "compose file in {dir} not read: the root compose file describes the repository"
            )));
        }
        dirs.truncate(1);
    }
    for file in &files.files {
        let name = walk::file_name(&file.path);
        let variant = (name.starts_with("docker-compose.") || name.starts_with("compose."))
            && (name.ends_with(".yml") || name.ends_with(".yaml"))
            && !MAIN_FILES.contains(&name)
            && !OVERRIDE_FILES.contains(&name);
        if variant {
            notes.push(Note::file(
                &file.path,
                "not read: only the main compose file and its override are merged, as \
                 `docker compose` does without `-f`",
            ));
        }
    }
    dirs.into_iter().map(|dir| load(files, dir, notes)).collect()
}

/// Reads the compose project in `dir`.
pub fn load(files: &RepoFiles, dir: &str, notes: &mut Vec<Note>) -> Project {
    let in_dir = |name: &str| if dir == "." { name.to_string() } else { format!("{dir}/{name}") };
    let mut project = Project { dir: dir.to_string(), ..Project::default() };
    let Some(main) = MAIN_FILES.iter().map(|n| in_dir(n)).find(|p| files.contains(p)) else {
        return project;
    };
    for other in MAIN_FILES.iter().map(|n| in_dir(n)).filter(|p| files.contains(p)) {
        if other != main {
            notes.push(Note::file(&other, format!("not read: {main} takes precedence")));
        }
    }
    let overrides: Vec<String> =
        OVERRIDE_FILES.iter().map(|n| in_dir(n)).filter(|p| files.contains(p)).collect();
    let dotenv = in_dir(".env");
    let vars = if files.contains(&dotenv) {
        files.read_text(&dotenv, notes).map(|t| dotenv_vars(&t)).unwrap_or_default()
    } else {
        Vec::new()
    };
    let var_map: HashMap<String, String> = vars.into_iter().collect();

    let mut merged = Value::Object(Map::new());
    let mut texts = Vec::new();
    for file in std::iter::once(main.clone()).chain(overrides) {
        let Some(text) = files.read_text(&file, notes) else { continue };
        let mut doc = match serde_saphyr::from_str::<Value>(&text) {
            Ok(Value::Null) => Value::Object(Map::new()),
            Ok(doc @ Value::Object(_)) => doc,
            Ok(_) => {
                notes.push(Note::file(&file, "not a compose file: the top level is not a mapping"));
                continue;
            }
            Err(err) => {
                let line = err.location().map(|l| l.line() as u32).filter(|l| *l > 0);
                let rendered = err.to_string();
                let first = rendered.lines().next().unwrap_or_default();
                let first = first.strip_prefix("error: ").unwrap_or(first).to_string();
                notes.push(Note {
                    file: Some(file.clone()),
                    line,
                    message: format!("not read: invalid YAML: {first}"),
                });
                continue;
            }
        };
        interpolate(&mut doc, &file, &text, &var_map, notes);
        merge(&mut merged, doc);
        project.files.push(file.clone());
        texts.push((file, text));
    }
    let locator = Locator::new(&texts, &var_map);
    let Some(services) = merged.get("services") else {
        if !project.files.is_empty() {
            notes.push(Note::file(&main, "no `services` section"));
        }
        return project;
    };
    let Some(services) = services.as_object() else {
        notes.push(Note::file(&main, "`services` is not a mapping of service names"));
        return project;
    };
    for (name, body) in services.iter().take(MAX_SERVICES) {
        let service = service(files, dir, name, body, &locator, notes);
        project.services.push(service);
    }
    if services.len() > MAX_SERVICES {
        let (file, line) = locator.service(services.keys().nth(MAX_SERVICES).map_or("", |k| k));
        notes.push(Note {
            file: Some(file),
            line,
            message: format!(
                "{} more services left out: a compose project is read up to {MAX_SERVICES} \
                 services",
                services.len() - MAX_SERVICES
            ),
        });
    }
    project.file_objects = file_objects(&merged, dir, &texts, notes);
    project
}

/// The top-level `secrets` and `configs` backed by a file of the repository. A definition
/// that names a file outside the repository, or `external`/`environment` ones, delivers no
/// file of the repository: they are left out (the service's use still names them).
fn file_objects(
    merged: &Value,
    dir: &str,
    texts: &[(String, String)],
    notes: &mut Vec<Note>,
) -> Vec<Located<FileObject>> {
    let mut found = Vec::new();
    for (key, secret) in [("secrets", true), ("configs", false)] {
        let Some(Value::Object(map)) = merged.get(key) else { continue };
        for (name, definition) in map {
            let Some(file) = definition.get("file").and_then(scalar) else { continue };
            let (path, line) = top_level_line(texts, key, name);
            match walk::join(dir, &file) {
                Some(rel) => found.push(Located {
                    value: FileObject { name: name.clone(), secret, file: rel },
                    file: path,
                    line,
                }),
                None => notes.push(Note {
                    file: Some(path),
                    line,
                    message: format!("{key} `{name}`: {file} is outside the repository"),
                }),
            }
        }
    }
    found
}

/// The file and line of `name:` under a top-level `section:` (the last file that has it).
fn top_level_line(texts: &[(String, String)], section: &str, name: &str) -> (String, Option<u32>) {
    let header = format!("{section}:");
    for (path, text) in texts.iter().rev() {
        let mut inside = false;
        for (i, line) in text.lines().enumerate() {
            if !line.starts_with([' ', '\t', '#']) && !line.trim().is_empty() {
                inside = line.trim_end() == header;
                continue;
            }
            let key = line.trim().trim_end_matches(':').trim_matches(['"', '\'']);
            if inside && key == name {
                return (path.clone(), Some(i as u32 + 1));
            }
        }
    }
    (texts.first().map(|t| t.0.clone()).unwrap_or_default(), None)
}

/// Reads `.env`-style files: `KEY=VALUE`, `export KEY=VALUE`, quoted values, comments.
pub fn dotenv_vars(text: &str) -> Vec<(String, String)> {
    let mut vars = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else { continue };
        let value = value.trim();
        let value = if let Some(inner) = value.strip_prefix('"') {
            inner.split_once('"').map_or(inner, |(v, _)| v).to_string()
        } else if let Some(inner) = value.strip_prefix('\'') {
            inner.split_once('\'').map_or(inner, |(v, _)| v).to_string()
        } else {
            // An unquoted value ends at a ` #` comment.
            value.split(" #").next().unwrap_or_default().trim().to_string()
        };
        vars.push((key.trim().to_string(), value));
    }
    vars
}

fn interpolate(
    doc: &mut Value,
    file: &str,
    text: &str,
    vars: &HashMap<String, String>,
    notes: &mut Vec<Note>,
) {
    let lookup = |name: &str| vars.get(name).cloned();
    let mut unset = Vec::new();
    let mut errors = Vec::new();
    let mut substitution = FileSubstitution::default();
    let mut spent = false;
    visit_strings(doc, &mut |s: &mut String| {
        if s.contains('$') {
            let done = substitution.substitute(s, Dollar::Doubled, &lookup, true);
            // Once the file's bound is spent, one note says so for every value after.
            let first_of_file =
                done.over != Some(Bound::File) || !std::mem::replace(&mut spent, true);
            if let Some(bound) = done.over.filter(|_| first_of_file) {
                notes.push(Note {
                    file: Some(file.to_string()),
                    line: value_line(text, s),
                    message: format!("value not substituted, kept as written: {bound}"),
                });
            }
            unset.extend(done.unset);
            errors.extend(done.errors);
            *s = done.text;
        }
    });
    unset.sort();
    unset.dedup();
    for name in unset {
        notes.push(Note::file(
            file,
            format!(
                "variable `{name}` is not set in .env: values that use it are kept as written \
                 and a job asks for them instead of setting them"
            ),
        ));
    }
    for error in errors {
        notes.push(Note::file(file, format!("required variable missing: {error}")));
    }
}

/// The line a YAML value was written on, found by its first line's text (the start of it: a
/// value can be long); `None` for a value written with escapes or folded over lines.
fn value_line(text: &str, value: &str) -> Option<u32> {
    let first = value.lines().next().unwrap_or_default();
    let mut end = first.len().min(200);
    while !first.is_char_boundary(end) {
        end -= 1;
    }
    line_of(text, &first[..end], 0).filter(|_| end > 0)
}

fn visit_strings(value: &mut Value, f: &mut dyn FnMut(&mut String)) {
    match value {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter_mut().for_each(|v| visit_strings(v, f)),
        Value::Object(map) => map.values_mut().for_each(|v| visit_strings(v, f)),
        _ => {}
    }
}

/// Keys whose lists are `KEY=VALUE` pairs that an override merges by key.
const KEYED_LISTS: [&str; 4] = ["environment", "labels", "args", "depends_on"];
/// Keys an override replaces rather than merges.
const REPLACED: [&str; 3] = ["command", "entrypoint", "test"];

/// Merges an override document into `base` the way `docker compose` does.
fn merge(base: &mut Value, over: Value) {
    let (Value::Object(base_map), Value::Object(over_map)) = (&mut *base, &over) else {
        *base = over;
        return;
    };
    for (key, value) in over_map {
        let value = if KEYED_LISTS.contains(&key.as_str()) { keyed(value) } else { value.clone() };
        let value = if key == "build" { build_map(&value) } else { value };
        match base_map.get_mut(key) {
            Some(existing) if REPLACED.contains(&key.as_str()) => *existing = value,
            Some(existing) => {
                if KEYED_LISTS.contains(&key.as_str()) {
                    *existing = keyed(existing);
                }
                if key == "build" {
                    *existing = build_map(existing);
                }
                match (existing, value) {
                    (Value::Array(items), Value::Array(more)) => {
                        for item in more {
                            // A service keeps MAX_ENTRIES of a list (saying so), so a longer
                            // merge would only cost time: each item is compared with the rest.
                            if items.len() > MAX_ENTRIES {
                                break;
                            }
                            if !items.contains(&item) {
                                items.push(item);
                            }
                        }
                    }
                    (existing @ Value::Object(_), value @ Value::Object(_)) => {
                        merge(existing, value)
                    }
                    (existing, value) => *existing = value,
                }
            }
            None => {
                base_map.insert(key.clone(), value);
            }
        }
    }
}

/// `["A=1", "B"]` → `{"A": "1", "B": null}`; a depends_on list → `{"db": {}}`.
fn keyed(value: &Value) -> Value {
    let Value::Array(items) = value else { return value.clone() };
    let mut map = Map::new();
    for item in items {
        let Some(text) = scalar(item) else { continue };
        match text.split_once('=') {
            Some((k, v)) => map.insert(k.to_string(), Value::String(v.to_string())),
            None => map.insert(text, Value::Null),
        };
    }
    Value::Object(map)
}

fn build_map(value: &Value) -> Value {
    match value {
        Value::String(context) => {
            let mut map = Map::new();
            map.insert("context".into(), Value::String(context.clone()));
            Value::Object(map)
        }
        other => other.clone(),
    }
}

/// A scalar as text (`80`, `"80"`, `true`); `None` for lists, maps and null.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Finds lines for facts: the service's block in each file, then the value's text in it.
struct Locator<'a> {
    /// Per file (override first): path, lines, and each service's block of lines.
    files: Vec<(&'a str, Vec<String>, Blocks)>,
}

/// Each service's `[first, end)` line range in one file.
type Blocks = HashMap<String, (usize, usize)>;

impl<'a> Locator<'a> {
    /// Lines are interpolated like the values were, so that a value's text is found on the
    /// line that wrote it with variables.
    fn new(texts: &'a [(String, String)], vars: &HashMap<String, String>) -> Self {
        let lookup = |name: &str| vars.get(name).cloned();
        let mut files = Vec::new();
        for (path, text) in texts.iter().rev() {
            let raw: Vec<&str> = text.lines().collect();
            let blocks = service_blocks(&raw);
            // A line over a bound stays as written; the values' own note already says so.
            let mut substitution = FileSubstitution::default();
            let lines = raw
                .iter()
                .map(|l| {
                    if l.contains('$') {
                        substitution.substitute(l, Dollar::Doubled, &lookup, false).text
                    } else {
                        l.to_string()
                    }
                })
                .collect();
            files.push((path.as_str(), lines, blocks));
        }
        Locator { files }
    }

    /// The service's name line.
    fn service(&self, name: &str) -> (String, Option<u32>) {
        for (path, _, blocks) in self.files.iter().rev() {
            if let Some((start, _)) = blocks.get(name) {
                return (path.to_string(), Some(*start as u32 + 1));
            }
        }
        let main = self.files.last().map_or("", |f| f.0);
        (main.to_string(), None)
    }

    /// The first line of the service's block containing one of the needles (tried in turn).
    fn find(&self, name: &str, needles: &[&str]) -> (String, Option<u32>) {
        for needle in needles.iter().filter(|n| !n.is_empty()) {
            for (path, lines, blocks) in &self.files {
                let Some(&(start, end)) = blocks.get(name) else { continue };
                for (i, line) in lines.iter().enumerate().take(end).skip(start) {
                    let code = line.split(" #").next().unwrap_or(line);
                    if code.contains(needle) {
                        return (path.to_string(), Some(i as u32 + 1));
                    }
                }
            }
        }
        self.service(name)
    }

    fn at<T>(&self, service: &str, needles: &[&str], value: T) -> Located<T> {
        let (file, line) = self.find(service, needles);
        Located { value, file, line }
    }
}

/// Line ranges of each service under the top-level `services:` key (block style only).
fn service_blocks(lines: &[&str]) -> Blocks {
    let mut blocks = HashMap::new();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let meaningful = |l: &str| !l.trim().is_empty() && !l.trim_start().starts_with('#');
    let Some(start) = lines.iter().position(|l| l.starts_with("services:")) else {
        return blocks;
    };
    let mut service_indent = None;
    let mut current: Option<(String, usize)> = None;
    let mut end = lines.len();
    for (i, line) in lines.iter().enumerate().skip(start + 1) {
        if !meaningful(line) {
            continue;
        }
        let level = indent(line);
        if level == 0 {
            end = i;
            break;
        }
        let wanted = *service_indent.get_or_insert(level);
        if level < wanted {
            end = i;
            break;
        }
        if level == wanted {
            let key = line.trim().split(':').next().unwrap_or_default();
            let key = key.trim_matches(|c| c == '"' || c == '\'').to_string();
            if let Some((name, from)) = current.take() {
                blocks.insert(name, (from, i));
            }
            current = Some((key, i));
        }
    }
    if let Some((name, from)) = current {
        blocks.insert(name, (from, end));
    }
    blocks
}

fn service(
    files: &RepoFiles,
    dir: &str,
    name: &str,
    body: &Value,
    at: &Locator,
    notes: &mut Vec<Note>,
) -> ComposeService {
    let (file, line) = at.service(name);
    let mut service = ComposeService { name: name.to_string(), file, line, ..Default::default() };
    let empty = Map::new();
    let body = match body {
        Value::Object(map) => map,
        Value::Null => &empty,
        _ => {
            notes.push(Note {
                file: Some(service.file.clone()),
                line,
                message: format!("service `{name}` is not a mapping"),
            });
            return service;
        }
    };
    let note = |notes: &mut Vec<Note>, needle: &str, message: String| {
        let (file, line) = at.find(name, &[needle]);
        notes.push(Note {
            file: Some(file),
            line,
            message: format!("service `{name}`: {message}"),
        });
    };

    for key in ["container_name", "hostname"] {
        if let Some(alias) = body.get(key).and_then(scalar) {
            service.aliases.push(alias);
        }
    }
    // A fixed address on a compose network is a name other services use too.
    if let Some(Value::Object(networks)) = body.get("networks") {
        for network in networks.values() {
            for key in ["ipv4_address", "ipv6_address"] {
                if let Some(address) = network.get(key).and_then(scalar) {
                    service.aliases.push(address);
                }
            }
            for alias in list(network.get("aliases")).iter().filter_map(|v| scalar(v)) {
                service.aliases.push(alias);
            }
        }
    }
    if let Some(image) = body.get("image").and_then(scalar) {
        service.image = Some(at.at(name, &["image:"], image));
    }
    if let Some(build) = body.get("build") {
        match build_of(dir, build) {
            Ok(value) => service.build = Some(at.at(name, &["build:"], value)),
            Err(why) => note(notes, "build:", why),
        }
    }
    let mut left_out = 0;
    for item in list(body.get("ports")) {
        let room = MAX_PORTS.saturating_sub(service.ports.len());
        if room == 0 {
            left_out += 1;
            continue;
        }
        match ports_of(item) {
            Ok((ports, cut)) => {
                let text = scalar(item).unwrap_or_default();
                if let Some(why) = cut {
                    note(notes, "ports:", format!("port `{text}`: {why}"));
                }
                let target = item.get("target").and_then(scalar).map(|t| format!("target: {t}"));
                let needles = [text.as_str(), target.as_deref().unwrap_or(""), "ports:"];
                left_out += ports.len().saturating_sub(room);
                for port in ports.into_iter().take(room) {
                    service.ports.push(at.at(name, &needles, port));
                }
            }
            Err(why) => note(notes, "ports:", why),
        }
    }
    if left_out > 0 {
        let why = format!("{left_out} more ports left out; a service takes at most {MAX_PORTS}");
        note(notes, "ports:", why);
    }
    let mut left_out = 0;
    for item in list(body.get("expose")) {
        let room = MAX_PORTS.saturating_sub(service.expose.len());
        if room == 0 {
            left_out += 1;
            continue;
        }
        let text = scalar(item).unwrap_or_default();
        match exposed_ports(&text) {
            Ok((ports, cut)) => {
                if let Some(why) = cut {
                    note(notes, "expose:", why);
                }
                left_out += ports.len().saturating_sub(room);
                for port in ports.into_iter().take(room) {
                    service.expose.push(at.at(name, &[&text, "expose:"], port));
                }
            }
            Err(why) => note(notes, "expose:", why),
        }
    }
    if left_out > 0 {
        let why =
            format!("{left_out} more exposed ports left out; a service takes at most {MAX_PORTS}");
        note(notes, "expose:", why);
    }
    let too_many = |notes: &mut Vec<Note>, key: &str, count: usize| {
        if count > MAX_ENTRIES {
            let why =
                format!("`{key}` lists {count} entries; only the first {MAX_ENTRIES} are kept");
            note(notes, &format!("{key}:"), why);
        }
    };
    match body.get("environment") {
        Some(Value::Object(map)) => {
            too_many(notes, "environment", map.len());
            for (key, value) in map.iter().take(MAX_ENTRIES) {
                let value = scalar(value);
                service.environment.push(at.at(
                    name,
                    &[&format!("{key}:"), key],
                    (key.clone(), value),
                ));
            }
        }
        Some(Value::Array(items)) => {
            too_many(notes, "environment", items.len());
            for item in items.iter().take(MAX_ENTRIES) {
                let Some(text) = scalar(item) else { continue };
                let (key, value) = match text.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (text.clone(), None),
                };
                let needles = [format!("{key}="), key.clone()];
                service.environment.push(at.at(name, &[&needles[0], &needles[1]], (key, value)));
            }
        }
        Some(Value::Null) | None => {}
        Some(_) => {
            note(notes, "environment:", "`environment` is neither a list nor a mapping".into())
        }
    }
    let env_files = list(body.get("env_file"));
    too_many(notes, "env_file", env_files.len());
    for item in env_files.into_iter().take(MAX_ENTRIES) {
        if service.env_file_vars.len() == MAX_ENTRIES {
            // Full: a note already says so, and reading more files would only cost time.
            break;
        }
        let (path, required) = match item {
            Value::Object(map) => (
                map.get("path").and_then(scalar).unwrap_or_default(),
                map.get("required").and_then(Value::as_bool).unwrap_or(true),
            ),
            other => (scalar(other).unwrap_or_default(), true),
        };
        let Some(rel) = walk::join(dir, &path) else {
            note(notes, "env_file", format!("env_file {path} is outside the repository"));
            continue;
        };
        if !files.contains(&rel) {
            if required {
                note(notes, "env_file", format!("env_file {path} is not in the repository"));
            }
            continue;
        }
        let Some(text) = files.read_text(&rel, notes) else { continue };
        'lines: for (i, line) in text.lines().enumerate() {
            for (key, value) in dotenv_vars(line) {
                if service.env_file_vars.len() == MAX_ENTRIES {
                    let why = format!(
                        "{rel} line {} and after: not read, a service takes at most \
                         {MAX_ENTRIES} variables from its env files",
                        i + 1
                    );
                    note(notes, "env_file", why);
                    break 'lines;
                }
                service.env_file_vars.push(Located {
                    value: (key, Some(value)),
                    file: rel.clone(),
                    line: Some(i as u32 + 1),
                });
            }
        }
    }
    for (key, secret) in [("secrets", true), ("configs", false)] {
        let items = list(body.get(key));
        too_many(notes, key, items.len());
        for item in items.into_iter().take(MAX_ENTRIES) {
            let (source, target) = match item {
                Value::Object(map) => {
                    (map.get("source").and_then(scalar), map.get("target").and_then(scalar))
                }
                other => (scalar(other), None),
            };
            let Some(source) = source else { continue };
            let target = match target {
                Some(target) if target.starts_with('/') => target,
                // A relative secret target is under /run/secrets, as compose places it.
                Some(target) if secret => format!("/run/secrets/{target}"),
                Some(target) => format!("/{target}"),
                None if secret => format!("/run/secrets/{source}"),
                None => format!("/{source}"),
            };
            let needles = [source.clone(), format!("{key}:")];
            let used = at.at(name, &[&needles[0], &needles[1]], FileUse { name: source, target });
            if secret {
                service.secrets.push(used);
            } else {
                service.configs.push(used);
            }
        }
    }
    let mut mounts: Vec<Located<Mount>> = Vec::new();
    let items = list(body.get("volumes"));
    too_many(notes, "volumes", items.len());
    for item in items.into_iter().take(MAX_ENTRIES) {
        match mount_of(item) {
            Ok(mount) => {
                let text = scalar(item).unwrap_or_else(|| format!("target: {}", mount.target));
                mounts.retain(|m| m.value.target != mount.target);
                let target = mount.target.clone();
                mounts.push(at.at(name, &[&text, &target, "volumes:"], mount));
            }
            Err(why) => note(notes, "volumes:", why),
        }
    }
    service.volumes = mounts;
    match body.get("depends_on") {
        Some(Value::Object(map)) => {
            too_many(notes, "depends_on", map.len());
            for key in map.keys().take(MAX_ENTRIES) {
                service.depends_on.push(at.at(name, &[&format!("{key}:"), key], key.clone()));
            }
        }
        Some(Value::Array(items)) => {
            too_many(notes, "depends_on", items.len());
            for key in items.iter().take(MAX_ENTRIES).filter_map(scalar) {
                service.depends_on.push(at.at(name, &[&key, "depends_on:"], key.clone()));
            }
        }
        _ => {}
    }
    let links = list(body.get("links"));
    too_many(notes, "links", links.len());
    for link in links.iter().take(MAX_ENTRIES).filter_map(|v| scalar(v)) {
        let target = link.split(':').next().unwrap_or_default().to_string();
        if !service.depends_on.iter().any(|d| d.value == target) {
            service.depends_on.push(at.at(name, &[&link, "links:"], target));
        }
    }
    if let Some(check) = body.get("healthcheck") {
        let disabled = check.get("disable").and_then(Value::as_bool).unwrap_or(false);
        let test = match check.get("test") {
            _ if disabled => Some(HealthTest::Disabled),
            Some(Value::String(line)) => Some(HealthTest::Check(vec![line.clone()])),
            Some(Value::Array(items)) => {
                let words: Vec<String> = items.iter().filter_map(scalar).collect();
                match words.first().map(String::as_str) {
                    Some("NONE") => Some(HealthTest::Disabled),
                    Some("CMD") => Some(HealthTest::Check(words[1..].to_vec())),
                    Some("CMD-SHELL") => Some(HealthTest::Check(vec![words[1..].join(" ")])),
                    _ => Some(HealthTest::Check(words)),
                }
            }
            _ => None,
        };
        if let Some(test) = test {
            service.healthcheck = Some(at.at(name, &["test:", "healthcheck:"], test));
        }
    }
    if let Some(resources) = body.get("deploy").and_then(|d| d.get("resources")) {
        let pick = |section: &str| resources.get(section).filter(|v| v.is_object());
        let mut limits = Limits { cpu: None, memory: None };
        for section in [pick("limits"), pick("reservations")].into_iter().flatten() {
            if limits.cpu.is_none() {
                limits.cpu = section.get("cpus").and_then(scalar).and_then(|c| cpu_mhz(&c));
            }
            if limits.memory.is_none() {
                if let Some(text) = section.get("memory").and_then(scalar) {
                    match memory_mb(&text, Quantities::Docker) {
                        Some(mb) => limits.memory = Some(mb),
                        None => note(notes, "memory:", format!("memory `{text}` not understood")),
                    }
                }
            }
        }
        if limits.cpu.is_some() || limits.memory.is_some() {
            service.resources = Some(at.at(name, &["resources:"], limits));
        }
    }
    match body.get("command") {
        Some(Value::String(line)) => {
            service.command = Some(at.at(name, &["command:"], shell_words(line, '\\')));
        }
        Some(Value::Array(items)) => {
            let words = items.iter().filter_map(scalar).collect();
            service.command = Some(at.at(name, &["command:"], words));
        }
        _ => {}
    }
    service.profiles = list(body.get("profiles")).iter().filter_map(|v| scalar(v)).collect();
    if let Some(user) = body.get("user").and_then(scalar) {
        service.user = Some(at.at(name, &["user:"], user));
    }
    if let Some(signal) = body.get("stop_signal").and_then(scalar) {
        service.stop_signal = Some(at.at(name, &["stop_signal:"], signal));
    }
    match body.get("entrypoint") {
        Some(Value::String(line)) => {
            service.entrypoint = Some(at.at(name, &["entrypoint:"], shell_words(line, '\\')));
        }
        Some(Value::Array(items)) => {
            let words = items.iter().filter_map(scalar).collect();
            service.entrypoint = Some(at.at(name, &["entrypoint:"], words));
        }
        _ => {}
    }
    service.privileges = privileges(name, body, at);
    if service.privileges.len() > MAX_ENTRIES {
        let count = service.privileges.len();
        service.privileges.truncate(MAX_ENTRIES);
        let why = format!(
            "{count} settings for the Nomad client (cap_add, devices, sysctls, ...); only the \
             first {MAX_ENTRIES} are kept"
        );
        note(notes, "cap_add", why);
    }
    service
}

/// The settings of a service that a Nomad client must allow for its container.
fn privileges(
    name: &str,
    body: &Map<String, Value>,
    at: &Locator,
) -> Vec<Located<(String, String)>> {
    let mut found = Vec::new();
    let mut push = |key: &str, value: String| {
        if found.len() > MAX_ENTRIES {
            // Counted, not located: the caller keeps the first MAX_ENTRIES and says so.
            found.push(Located {
                value: (key.to_string(), value),
                file: String::new(),
                line: None,
            });
            return;
        }
        let needles = [value.clone(), format!("{key}:")];
        let located = at.at(name, &[&needles[0], &needles[1]], (key.to_string(), value));
        found.push(located);
    };
    for key in ["cap_add", "devices"] {
        for value in list(body.get(key)).iter().filter_map(|v| scalar(v)) {
            push(key, value);
        }
    }
    if let Some(Value::Object(map)) = body.get("sysctls") {
        for (key, value) in map {
            push("sysctls", format!("{key}={}", scalar(value).unwrap_or_default()));
        }
    } else {
        for value in list(body.get("sysctls")).iter().filter_map(|v| scalar(v)) {
            push("sysctls", value);
        }
    }
    if body.get("privileged").and_then(Value::as_bool) == Some(true) {
        push("privileged", "true".into());
    }
    for key in ["network_mode", "runtime", "platform", "pid", "ipc"] {
        if let Some(value) = body.get(key).and_then(scalar) {
            push(key, value);
        }
    }
    found
}

fn list(value: Option<&Value>) -> Vec<&Value> {
    match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(single) => vec![single],
    }
}

fn build_of(dir: &str, build: &Value) -> Result<Build, String> {
    let build = build_map(build);
    let Value::Object(map) = &build else {
        return Err("`build` is neither a path nor a mapping".into());
    };
    let context = map.get("context").and_then(scalar).unwrap_or_else(|| ".".into());
    if context.contains("://") || context.starts_with("git@") {
        return Err(format!("build context {context} is remote; not analyzed"));
    }
    let context_rel = walk::join(dir, &context)
        .ok_or_else(|| format!("build context {context} is outside the repository"))?;
    let dockerfile = map.get("dockerfile").and_then(scalar).unwrap_or_else(|| "Dockerfile".into());
    let dockerfile = walk::join(&context_rel, &dockerfile)
        .ok_or_else(|| format!("dockerfile {dockerfile} is outside the repository"))?;
    let args = match keyed(map.get("args").unwrap_or(&Value::Null)) {
        Value::Object(args) => {
            args.iter().filter_map(|(k, v)| scalar(v).map(|v| (k.clone(), v))).collect()
        }
        _ => Vec::new(),
    };
    Ok(Build {
        context: context_rel,
        dockerfile,
        inline: map.get("dockerfile_inline").and_then(scalar),
        target: map.get("target").and_then(scalar),
        args,
    })
}

/// Short syntax `[[host_ip:]published:]container[/protocol]` (ranges allowed) or the long
/// syntax mapping; with why a range was cut, when it was.
fn ports_of(item: &Value) -> Result<(Vec<PublishedPort>, Option<String>), String> {
    if let Value::Object(map) = item {
        let target = map.get("target").and_then(scalar).ok_or("port without `target`")?;
        let udp =
            map.get("protocol").and_then(scalar).is_some_and(|p| p.eq_ignore_ascii_case("udp"));
        let published = map.get("published").and_then(scalar);
        return pair_ranges(&target, published.as_deref(), udp);
    }
    let text = scalar(item).ok_or("port entry is neither text nor a mapping")?;
    let (spec, protocol) = match text.split_once('/') {
        Some((spec, protocol)) => (spec, protocol),
        None => (text.as_str(), "tcp"),
    };
    let udp = protocol.eq_ignore_ascii_case("udp");
    // A bracketed IPv6 host address holds colons of its own.
    let spec = match spec.strip_prefix('[') {
        Some(rest) => rest.split_once("]:").map_or(rest, |(_, after)| after),
        None => spec,
    };
    let parts: Vec<&str> = spec.split(':').collect();
    let (published, container) = match parts.as_slice() {
        [container] => (None, *container),
        [.., published, container] => (Some(*published).filter(|p| !p.is_empty()), *container),
        [] => return Err(format!("port `{text}` not understood")),
    };
    pair_ranges(container, published, udp).map_err(|_| format!("port `{text}` not understood"))
}

fn pair_ranges(
    container: &str,
    published: Option<&str>,
    udp: bool,
) -> Result<(Vec<PublishedPort>, Option<String>), String> {
    let range = |text: &str| -> Result<(u16, u16), String> {
        let bad = || format!("`{text}` is not a port or port range");
        let (low, high) = text.split_once('-').unwrap_or((text, text));
        let low: u16 = low.trim().parse().map_err(|_| bad())?;
        let high: u16 = high.trim().parse().map_err(|_| bad())?;
        if low == 0 || high < low {
            Err(bad())
        } else {
            Ok((low, high))
        }
    };
    let (low, high) = range(container)?;
    let published = match published {
        Some(text) => Some(range(text)?),
        None => None,
    };
    let (high, cut) = cut_range(low, high);
    let ports = (low..=high)
        .map(|port| {
            let host = published.and_then(|(plow, phigh)| {
                // Ranges pair one to one; a single host port maps the first container port.
                let offset = port - low;
                (plow.checked_add(offset)).filter(|p| *p <= phigh)
            });
            PublishedPort { container: port, published: host, udp }
        })
        .collect();
    Ok((ports, cut))
}

/// Short syntax `[SOURCE:]TARGET[:MODE]` or the long syntax mapping.
fn mount_of(item: &Value) -> Result<Mount, String> {
    if let Value::Object(map) = item {
        let target = map.get("target").and_then(scalar).ok_or("volume without `target`")?;
        let kind = map.get("type").and_then(scalar).unwrap_or_else(|| "volume".into());
        let source = map.get("source").and_then(scalar);
        let source = match (kind.as_str(), source) {
            ("bind", Some(host)) => VolumeSource::Bind(host),
            ("tmpfs", _) => VolumeSource::Tmpfs,
            ("volume", Some(name)) => VolumeSource::Named(name),
            _ => VolumeSource::Anonymous,
        };
        let read_only = map.get("read_only").and_then(Value::as_bool).unwrap_or(false);
        return Ok(Mount { target, source, read_only });
    }
    let text = scalar(item).ok_or("volume entry is neither text nor a mapping")?;
    let parts: Vec<&str> = text.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [target] => (None, *target, ""),
        [source, target] => (Some(*source), *target, ""),
        [source, target, mode] => (Some(*source), *target, *mode),
        _ => return Err(format!("volume `{text}` not understood")),
    };
    let read_only = mode.split(',').any(|m| m == "ro");
    if target.is_empty() {
        return Err(format!("volume `{text}` has no container path"));
    }
    let source = match source {
        None => VolumeSource::Anonymous,
        Some(s) if s.starts_with('/') || s.starts_with('.') || s.starts_with('~') => {
            VolumeSource::Bind(s.to_string())
        }
        Some(s) => VolumeSource::Named(s.to_string()),
    };
    Ok(Mount { target: target.to_string(), source, read_only })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(files: &[(&str, &str)]) -> (Project, Vec<Note>) {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, text).unwrap();
        }
        let mut notes = Vec::new();
        let listing = RepoFiles::walk(dir.path(), &walk::Limits::default(), &mut notes);
        let projects = find(&listing, &mut notes);
        (projects.into_iter().next().unwrap_or_default(), notes)
    }

    fn port(container: u16, published: Option<u16>, udp: bool) -> PublishedPort {
        PublishedPort { container, published, udp }
    }

    #[test]
    fn port_syntaxes() {
        let cases: [(Value, Vec<PublishedPort>); 9] = [
            (Value::from("80"), vec![port(80, None, false)]),
            (Value::from(3000), vec![port(3000, None, false)]),
            (Value::from("8080:80"), vec![port(80, Some(8080), false)]),
            (Value::from("127.0.0.1:8080:80/udp"), vec![port(80, Some(8080), true)]),
            (Value::from("127.0.0.1::80"), vec![port(80, None, false)]),
            (Value::from("[::1]:6000:6001"), vec![port(6001, Some(6000), false)]),
            (
                Value::from("9000-9002:9000-9002"),
                vec![
                    port(9000, Some(9000), false),
                    port(9001, Some(9001), false),
                    port(9002, Some(9002), false),
                ],
            ),
            (
                serde_json::json!({"target": 80, "published": "8080", "protocol": "tcp", "host_ip": "0.0.0.0"}),
                vec![port(80, Some(8080), false)],
            ),
            (serde_json::json!({"target": 53, "protocol": "udp"}), vec![port(53, None, true)]),
        ];
        for (value, expected) in cases {
            assert_eq!(ports_of(&value).map(|(ports, _)| ports), Ok(expected), "{value}");
        }
        assert!(ports_of(&Value::from("eighty")).is_err());
        assert!(ports_of(&serde_json::json!({"published": 80})).is_err());
    }

    #[test]
    fn volume_syntaxes() {
        let cases: [(Value, Mount, bool); 7] = [
            (
                Value::from("db-data:/var/lib/mysql"),
                Mount {
                    target: "/var/lib/mysql".into(),
                    source: VolumeSource::Named("db-data".into()),
                    read_only: false,
                },
                true,
            ),
            (
                Value::from("./src:/code/src:ro"),
                Mount {
                    target: "/code/src".into(),
                    source: VolumeSource::Bind("./src".into()),
                    read_only: true,
                },
                false,
            ),
            (
                Value::from("/code/node_modules"),
                Mount {
                    target: "/code/node_modules".into(),
                    source: VolumeSource::Anonymous,
                    read_only: false,
                },
                false,
            ),
            (
                Value::from("~/data:/data"),
                Mount {
                    target: "/data".into(),
                    source: VolumeSource::Bind("~/data".into()),
                    read_only: false,
                },
                true,
            ),
            (
                Value::from("/var/run/docker.sock:/var/run/docker.sock"),
                Mount {
                    target: "/var/run/docker.sock".into(),
                    source: VolumeSource::Bind("/var/run/docker.sock".into()),
                    read_only: false,
                },
                false,
            ),
            (
                serde_json::json!({"type": "bind", "source": "./nginx.conf", "target": "/etc/nginx/conf.d/default.conf"}),
                Mount {
                    target: "/etc/nginx/conf.d/default.conf".into(),
                    source: VolumeSource::Bind("./nginx.conf".into()),
                    read_only: false,
                },
                false,
            ),
            (
                serde_json::json!({"type": "tmpfs", "target": "/tmp"}),
                Mount { target: "/tmp".into(), source: VolumeSource::Tmpfs, read_only: false },
                false,
            ),
        ];
        for (value, expected, persistent) in cases {
            let mount = mount_of(&value);
            assert_eq!(mount.as_ref().map(Mount::persistent), Ok(persistent), "{value}");
            assert_eq!(mount, Ok(expected), "{value}");
        }
    }

    #[test]
    fn dotenv_forms() {
        let vars =
            dotenv_vars("# c\nA=1\nexport B=\"two words\"\nC='x # y'\nD=value # comment\nE=\n");
        let expected = [("A", "1"), ("B", "two words"), ("C", "x # y"), ("D", "value"), ("E", "")];
        let got: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn a_full_service_with_override_and_interpolation() {
        let compose = "\
services:
  web:
    build:
      context: ./web
      dockerfile: docker/Dockerfile.prod
      target: runtime
      args:
        - VERSION=${VERSION:-1.0}
    ports:
      - \"${WEB_PORT:-8080}:80\"
    environment:
      DB_HOST: db
      API_KEY: $${NOT_INTERPOLATED}
    env_file: web.env
    secrets:
      - source: api-key
    depends_on:
      db:
        condition: service_healthy
    healthcheck:
      test: curl -f http://localhost/healthz
    deploy:
      resources:
        limits: {cpus: '0.25', memory: 256M}
    command: [\"serve\", \"--port\", \"80\"]
    profiles: [web]
  db:
    image: postgres:${PG:?set PG}
    volumes:
      - type: volume
        source: data
        target: /var/lib/postgresql/data
";
        let over =
            "services:\n  web:\n    ports:\n      - 9229:9229\n    environment:\n      - DEBUG=1\n";
        let (project, notes) = project(&[
            ("compose.yaml", compose),
            ("compose.override.yaml", over),
            (".env", "WEB_PORT=8081\nPG=16\n"),
            ("web.env", "SECRET_TOKEN=abc\n"),
        ]);
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(project.files, ["compose.yaml", "compose.override.yaml"]);
        let web = &project.services[0];
        assert_eq!((web.name.as_str(), web.line), ("web", Some(2)));
        let build = web.build.as_ref().map(|b| b.value.clone()).unwrap_or_default();
        assert_eq!(build.context, "web");
        assert_eq!(build.dockerfile, "web/docker/Dockerfile.prod");
        assert_eq!(build.target.as_deref(), Some("runtime"));
        assert_eq!(build.args, [("VERSION".to_string(), "1.0".to_string())]);
        let ports: Vec<(PublishedPort, &str, Option<u32>)> =
            web.ports.iter().map(|p| (p.value, p.file.as_str(), p.line)).collect();
        assert_eq!(
            ports,
            [
                (port(80, Some(8081), false), "compose.yaml", Some(10)),
                (port(9229, Some(9229), false), "compose.override.yaml", Some(4)),
            ]
        );
        let env: Vec<(&str, Option<&str>, Option<u32>)> = web
            .environment
            .iter()
            .map(|e| (e.value.0.as_str(), e.value.1.as_deref(), e.line))
            .collect();
        assert_eq!(
            env,
            [
                ("DB_HOST", Some("db"), Some(12)),
                ("API_KEY", Some("${NOT_INTERPOLATED}"), Some(13)),
                ("DEBUG", Some("1"), Some(6)),
            ]
        );
        assert_eq!(web.env_file_vars[0].value.0, "SECRET_TOKEN");
        assert_eq!(web.secrets[0].value.name, "api-key");
        assert_eq!(web.secrets[0].value.target, "/run/secrets/api-key");
        assert_eq!(web.depends_on[0].value, "db");
        assert_eq!(web.depends_on[0].line, Some(18));
        assert_eq!(
            web.healthcheck.as_ref().map(|h| h.value.clone()),
            Some(HealthTest::Check(vec!["curl -f http://localhost/healthz".into()]))
        );
        assert_eq!(
            web.resources.as_ref().map(|r| r.value),
            Some(Limits { cpu: Some(250), memory: Some(256) })
        );
        assert_eq!(
            web.command.as_ref().map(|c| c.value.clone()),
            Some(vec!["serve".into(), "--port".into(), "80".into()])
        );
        assert_eq!(web.profiles, ["web"]);
        let db = &project.services[1];
        assert_eq!(db.image.as_ref().map(|i| i.value.as_str()), Some("postgres:16"));
        assert!(db.volumes[0].value.persistent());
        assert_eq!(db.volumes[0].line, Some(32));
    }

    #[test]
    fn anchors_and_merge_keys() {
        let text = "x-common: &common\n  image: app:1\n  environment:\n    LOG: debug\nservices:\n  a:\n    <<: *common\n    ports: [\"80\"]\n  b:\n    <<: *common\n";
        let (project, notes) = project(&[("compose.yaml", text)]);
        assert!(notes.is_empty(), "{notes:?}");
        let images: Vec<Option<&str>> =
            project.services.iter().map(|s| s.image.as_ref().map(|i| i.value.as_str())).collect();
        assert_eq!(images, [Some("app:1"), Some("app:1")]);
        assert_eq!(
            project.services[1].environment[0].value,
            ("LOG".to_string(), Some("debug".to_string()))
        );
    }

    #[test]
    fn random_compose_documents_never_panic() {
        let fragments = [
            "services:\n",
            "  web:\n",
            "    ",
            "ports:",
            " - ",
            "\"",
            "80",
            ":",
            "-",
            "/udp",
            "[",
            "]",
            "{",
            "}",
            "build:",
            "context:",
            "..",
            "/",
            "environment:",
            "A=",
            "${",
            "X:-1",
            "$$",
            "volumes:",
            "x:/y",
            "depends_on:",
            "healthcheck:",
            "test:",
            "NONE",
            "deploy:",
            "resources:",
            "limits:",
            "memory:",
            "1.5g",
            "cpus:",
            "-1",
            "\n",
            "&a",
            "*a",
            "<<: *a",
            "null",
            "~",
            "env_file:",
            "secrets:",
            "expose:",
            "65536",
            "target:",
        ];
        let mut state = 11u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        for _ in 0..300 {
            let len = next() % 60;
            let text: String = (0..len).map(|_| fragments[next() % fragments.len()]).collect();
            let _ = project(&[("compose.yaml", &text)]);
        }
    }

    #[test]
    fn problems_become_notes() {
        let (_, notes) = project(&[("compose.yaml", "services:\n  web:\n    image: [unclosed\n")]);
        assert!(notes[0].message.contains("invalid YAML"), "{notes:?}");
        assert_eq!(notes[0].file.as_deref(), Some("compose.yaml"));
        let (project_read, notes) = project(&[(
            "docker-compose.yml",
            "services:\n  web:\n    image: x:${TAG}\n    ports: [\"eighty\"]\n    env_file: missing.env\n",
        )]);
        assert_eq!(project_read.services.len(), 1);
        let messages: Vec<&str> = notes.iter().map(|n| n.message.as_str()).collect();
        assert!(messages.iter().any(|m| m.contains("`TAG` is not set")), "{messages:?}");
        assert!(
            messages.iter().any(|m| m.contains("port `eighty` not understood")),
            "{messages:?}"
        );
        assert!(
            messages.iter().any(|m| m.contains("missing.env is not in the repository")),
            "{messages:?}"
        );
        let (_, notes) = project(&[("compose.yaml", "- a\n- b\n")]);
        assert!(notes[0].message.contains("top level is not a mapping"));
        let (_, notes) = project(&[("docker-compose.prod.yml", "services: {}\n")]);
        assert_eq!(notes[0].file.as_deref(), Some("docker-compose.prod.yml"));
        assert!(notes[0].message.contains("only the main compose file"));
    }

    #[test]
    fn a_value_nested_past_the_bound_is_kept_as_written_with_a_note() {
        // Issue 13: 20,000 levels took 7 GB and 35 s, 50,000 more than 22 GB.
        for levels in [20_000, 50_000] {
            let value = format!("{}x{}", "${A:-".repeat(levels), "}".repeat(levels));
            let text = format!(
                "services:\n  web:\n    image: nginx\n    environment:\n      B: \"{value}\"\n      C: ${{A:-${{D:-3}}}}\n"
            );
            let (project, notes) = project(&[("compose.yaml", &text)]);
            let env = &project.services[0].environment;
            assert_eq!(env[0].value, ("B".to_string(), Some(value.clone())), "{levels} levels");
            assert_eq!(env[1].value, ("C".to_string(), Some("3".to_string())));
            let over: Vec<&Note> =
                notes.iter().filter(|n| n.message.contains("not substituted")).collect();
            assert_eq!(over.len(), 1, "{notes:?}");
            assert_eq!(over[0].file.as_deref(), Some("compose.yaml"));
            assert_eq!(over[0].line, Some(5));
            assert_eq!(
                over[0].message,
                "value not substituted, kept as written: variables are nested more than 32 \
                 levels deep"
            );
        }
    }

    #[test]
    fn ports_and_services_are_capped_with_a_note() {
        let ports: String = (1..=300).map(|p| format!("      - \"{p}\"\n")).collect();
        let services: String =
            (0..250).map(|i| format!("  s{i:03}:\n    image: nginx\n")).collect();
        let text = format!(
            "services:\n  web:\n    image: nginx\n    ports:\n{ports}    expose:\n      - \"9000-9999\"\n{services}"
        );
        let (read, notes) = project(&[("compose.yaml", &text)]);
        assert_eq!(read.services.len(), 200);
        let web = &read.services[0];
        assert_eq!((web.ports.len(), web.expose.len()), (100, 100));
        let messages: Vec<(Option<u32>, &str)> =
            notes.iter().map(|n| (n.line, n.message.as_str())).collect();
        assert_eq!(
            messages,
            [
                (Some(4), "service `web`: 200 more ports left out; a service takes at most 100"),
                (
                    Some(305),
                    "service `web`: EXPOSE 9000-9999: a range of 1000 ports; only its first 100 \
                     are kept"
                ),
                (
                    Some(705),
                    "51 more services left out: a compose project is read up to 200 services"
                ),
            ]
        );
        let (read, notes) =
            project(&[("compose.yaml", "services:\n  a:\n    ports: [\"8000-8999:8000-8999\"]\n")]);
        assert_eq!(read.services[0].ports.len(), 100);
        assert_eq!(
            notes[0].message,
            "service `a`: port `8000-8999:8000-8999`: a range of 1000 ports; only its first 100 \
             are kept"
        );
    }

    #[test]
    fn long_lists_of_a_service_are_capped_with_a_note() {
        let env: String = (0..600).map(|i| format!("      V{i}: x\n")).collect();
        let volumes: String = (0..600).map(|i| format!("      - /data{i}\n")).collect();
        let file: String = (0..600).map(|i| format!("F{i}=1\n")).collect();
        let text = format!(
            "services:\n  web:\n    image: nginx\n    env_file: web.env\n    environment:\n{env}    volumes:\n{volumes}"
        );
        let (read, notes) = project(&[("compose.yaml", &text), ("web.env", &file)]);
        let web = &read.services[0];
        assert_eq!(web.environment.len(), 500);
        assert_eq!(web.volumes.len(), 500);
        assert_eq!(web.env_file_vars.len(), 500);
        let messages: Vec<(Option<u32>, &str)> =
            notes.iter().map(|n| (n.line, n.message.as_str())).collect();
        assert_eq!(
            messages,
            [
                (
                    Some(5),
                    "service `web`: `environment` lists 600 entries; only the first 500 are kept"
                ),
                (
                    Some(4),
                    "service `web`: web.env line 501 and after: not read, a service takes at \
                     most 500 variables from its env files"
                ),
                (
                    Some(606),
                    "service `web`: `volumes` lists 600 entries; only the first 500 are kept"
                ),
            ]
        );
    }
}
