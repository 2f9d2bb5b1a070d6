//! Dependency manifests → language, framework, and the framework's conventions.
//!
//! Reads the manifests of one service folder: `package.json`, `requirements*.txt` (also in a
//! `requirements/` folder), `pyproject.toml` (PEP 621 and Poetry), `Pipfile`, `go.mod`,
//! `Cargo.toml`, `pom.xml`, `build.gradle(.kts)`, `*.csproj`, `composer.json`, `Gemfile`. Each
//! parser turns text into a [`Manifest`] (its dependencies with lines); [`rules`] say what a
//! dependency means; [`detect`] picks the manifest that best describes the service. Malformed
//! manifests become notes with file and line, never a panic. What the code itself does (the
//! port it really listens on) is the source scan's business, not this file's.

use std::sync::LazyLock;

use super::pattern::Pattern;
use super::read::{line_at, toml_table, ReadText};
use super::walk::RepoFiles;
use super::{Evidence, Language, Note};

pub mod rules;

use rules::Effect;

/// What the manifests of one service folder say about its stack.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stack {
    /// Main language.
    pub language: Option<Language>,
    /// Framework, lowercase (`express`, `flask`, `spring-boot`, ...).
    pub framework: Option<String>,
    /// The framework's conventional listen port.
    pub default_port: Option<u16>,
    /// The framework's conventional health path.
    pub health_path: Option<String>,
    /// A gRPC server dependency was found.
    pub grpc: bool,
    /// Notable client libraries, lowercase names of what they talk to (`postgres`, `redis`, ...).
    pub backing: Vec<String>,
    /// Where each conclusion came from.
    pub evidence: Vec<Evidence>,
    /// Runtime version the manifest asks for (`node >=20`, `go 1.22`, `python >=3.11`).
    pub runtime: Option<String>,
    /// The start command the manifest declares (`scripts.start` of package.json).
    pub start_command: Option<String>,
    /// A machine-learning library the service loads (`torch`); see `resources::suggest_with_ml`.
    pub ml: Option<String>,
}

/// Dependency ecosystems, each with its rule table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ecosystem {
    /// npm (`package.json`).
    Node,
    /// PyPI (`requirements*.txt`, `pyproject.toml`, `Pipfile`).
    Python,
    /// Go modules (`go.mod`).
    Go,
    /// crates.io (`Cargo.toml`).
    Rust,
    /// Maven and Gradle (`pom.xml`, `build.gradle(.kts)`).
    Jvm,
    /// NuGet (`*.csproj`).
    Dotnet,
    /// Composer (`composer.json`).
    Php,
    /// RubyGems (`Gemfile`).
    Ruby,
}

impl Ecosystem {
    fn language(self) -> Language {
        match self {
            Ecosystem::Node => Language::Node,
            Ecosystem::Python => Language::Python,
            Ecosystem::Go => Language::Go,
            Ecosystem::Rust => Language::Rust,
            Ecosystem::Jvm => Language::Java,
            Ecosystem::Dotnet => Language::Dotnet,
            Ecosystem::Php => Language::Php,
            Ecosystem::Ruby => Language::Ruby,
        }
    }

    fn rules(self) -> &'static [rules::Rule] {
        match self {
            Ecosystem::Node => rules::NODE,
            Ecosystem::Python => rules::PYTHON,
            Ecosystem::Go => rules::GO,
            Ecosystem::Rust => rules::RUST,
            Ecosystem::Jvm => rules::JVM,
            Ecosystem::Dotnet => rules::DOTNET,
            Ecosystem::Php => rules::PHP,
            Ecosystem::Ruby => rules::RUBY,
        }
    }
}

/// One dependency as a manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// Normalized name (see [`rules`]).
    pub name: String,
    /// Features or extras asked for (`sqlx` `postgres`, `celery[redis]`).
    pub features: Vec<String>,
    /// 1-based line in the manifest, when found.
    pub line: Option<u32>,
    /// A development-only dependency (counts for front-end toolchains only).
    pub dev: bool,
}

/// Most dependencies read from one manifest; far above real ones. The line of each is searched
/// for in the whole text, so 20,000 of them took seconds.
const MAX_DEPENDENCIES: usize = 2_000;

/// What one manifest file lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The file, relative to the root.
    pub file: String,
    /// Its ecosystem.
    pub ecosystem: Ecosystem,
    /// Its dependencies.
    pub dependencies: Vec<Dependency>,
    /// Runtime version asked for, with its line.
    pub runtime: Option<(String, Option<u32>)>,
    /// Start command, with its line.
    pub start: Option<(String, Option<u32>)>,
}

impl Manifest {
    fn new(file: &str, ecosystem: Ecosystem) -> Self {
        Manifest {
            file: file.to_string(),
            ecosystem,
            dependencies: Vec::new(),
            runtime: None,
            start: None,
        }
    }

    fn depend(&mut self, name: impl Into<String>, line: Option<u32>) -> &mut Dependency {
        self.dependencies.push(Dependency {
            name: name.into(),
            features: Vec::new(),
            line,
            dev: false,
        });
        let last = self.dependencies.len() - 1;
        &mut self.dependencies[last]
    }

    /// How many of the `count` entries of `section` (as the file names it) are still read,
    /// within [`MAX_DEPENDENCIES`]; a note at the section when some are not.
    fn room(&self, section: &str, count: usize, text: &str, notes: &mut Vec<Note>) -> usize {
        let room = MAX_DEPENDENCIES.saturating_sub(self.dependencies.len());
        if count > room {
            let message = format!(
                "`{section}` lists {count} packages; only the first {room} are read (a manifest \
                 is read for at most {MAX_DEPENDENCIES})"
            );
            let line = line_of(text, section);
            notes.push(Note { file: Some(self.file.clone()), line, message });
        }
        room
    }
}

/// A manifest parser: text, file path for notes and evidence, notes.
type Parser = fn(&str, &str, &mut Vec<Note>) -> Option<Manifest>;

/// The manifest parser for a file name, if it is a manifest.
fn parser_for(name: &str) -> Option<Parser> {
    let parser: Parser = match name {
        "package.json" => parse_package_json,
        "pyproject.toml" => parse_pyproject,
        "Pipfile" => parse_pipfile,
        "go.mod" => parse_go_mod,
        "Cargo.toml" => parse_cargo_toml,
        "pom.xml" => parse_pom,
        "build.gradle" | "build.gradle.kts" => parse_gradle,
        "composer.json" => parse_composer,
        "Gemfile" => parse_gemfile,
        _ if name.ends_with(".csproj") => parse_csproj,
        _ if name.starts_with("requirements") && name.ends_with(".txt") => parse_requirements,
        _ => return None,
    };
    Some(parser)
}

/// Order in which manifests describe a folder when none names a server framework: a
/// `package.json` next to another manifest is usually front-end tooling, so it comes last.
fn preference(ecosystem: Ecosystem) -> usize {
    match ecosystem {
        Ecosystem::Go => 0,
        Ecosystem::Rust => 1,
        Ecosystem::Jvm => 2,
        Ecosystem::Dotnet => 3,
        Ecosystem::Python => 4,
        Ecosystem::Ruby => 5,
        Ecosystem::Php => 6,
        Ecosystem::Node => 7,
    }
}

/// Reads the manifests in `dir` (relative to the root; `.` for the root).
pub fn detect(files: &RepoFiles, dir: &str, notes: &mut Vec<Note>) -> Stack {
    let paths = files.under(dir).map(|f| f.path.as_str());
    detect_in(paths, dir, &mut |path, notes| files.read_text(path, notes), notes)
}

/// [`detect`] over any listing: `paths` relative to the root, `read` to read one of them.
pub fn detect_in<'a>(
    paths: impl Iterator<Item = &'a str>,
    dir: &str,
    read: &mut ReadText<'_>,
    notes: &mut Vec<Note>,
) -> Stack {
    let mut manifests = Vec::new();
    for path in paths {
        let Some(parser) = manifest_in(dir, path) else { continue };
        let Some(text) = read(path, notes) else { continue };
        if let Some(manifest) = parser(&text, path, notes) {
            manifests.push(manifest);
        }
    }
    merge(manifests.iter().map(conclude).collect())
}

/// What one manifest means for the service's stack.
pub fn conclude(manifest: &Manifest) -> Stack {
    let file = manifest.file.as_str();
    let language = manifest.ecosystem.language();
    let mut stack = Stack { language: Some(language), ..Stack::default() };
    stack.evidence.push(Evidence::at(
        file,
        None,
        format!("{} manifest: language {}", short(file), language.as_str()),
    ));
    let table = manifest.ecosystem.rules();
    let found = |pattern: &str, dev_ok: bool| {
        manifest
            .dependencies
            .iter()
            .find(|d| (dev_ok || !d.dev) && rules::matches(pattern, &d.name, &d.features))
    };
    let framework = table.iter().find_map(|(pattern, effect)| match effect {
        Effect::Framework { name, port, health, why } => {
            found(pattern, false).map(|dep| (dep, *name, *port, *health, *why))
        }
        _ => None,
    });
    let framework = framework.or_else(|| {
        table.iter().find_map(|(pattern, effect)| match effect {
            Effect::Frontend { name, port, why } => {
                found(pattern, true).map(|dep| (dep, *name, *port, None, *why))
            }
            _ => None,
        })
    });
    if let Some((dep, name, port, health, why)) = framework {
        stack.framework = Some(name.to_string());
        stack.default_port = port;
        stack.health_path = health.map(str::to_string);
        stack.evidence.push(Evidence::at(
            file,
            dep.line,
            format!("depends on {}: framework {name} ({why})", dep.name),
        ));
    }
    for (pattern, effect) in table {
        let Some(dep) = found(pattern, false) else { continue };
        match effect {
            Effect::Health { framework, path, why }
                if stack.framework.as_deref() == Some(framework) =>
            {
                stack.health_path = Some(path.to_string());
                stack.evidence.push(Evidence::at(
                    file,
                    dep.line,
                    format!("depends on {}: health {path} ({why})", dep.name),
                ));
            }
            Effect::Serves { frameworks, port, why }
                if stack.framework.as_deref().is_some_and(|f| frameworks.contains(&f)) =>
            {
                stack.default_port = Some(*port);
                stack.evidence.push(Evidence::at(
                    file,
                    dep.line,
                    format!("depends on {}: port {port} ({why})", dep.name),
                ));
            }
            Effect::Grpc if !stack.grpc => {
                stack.grpc = true;
                stack.evidence.push(Evidence::at(
                    file,
                    dep.line,
                    format!("depends on {}: gRPC", dep.name),
                ));
            }
            Effect::Backing(service) if !stack.backing.iter().any(|b| b == service) => {
                stack.backing.push(service.to_string());
                stack.evidence.push(Evidence::at(
                    file,
                    dep.line,
                    format!("depends on {}: talks to {service}", dep.name),
                ));
            }
            Effect::Ml if stack.ml.is_none() => {
                stack.ml = Some(dep.name.clone());
                stack.evidence.push(Evidence::at(
                    file,
                    dep.line,
                    format!("depends on {}: machine learning", dep.name),
                ));
            }
            _ => {}
        }
    }
    if let Some((runtime, line)) = &manifest.runtime {
        stack.runtime = Some(runtime.clone());
        stack.evidence.push(Evidence::at(file, *line, format!("runtime {runtime}")));
    }
    if let Some((start, line)) = &manifest.start {
        stack.start_command = Some(start.clone());
        if let Some(port) = port_in_command(start) {
            stack.default_port = Some(port);
            stack.evidence.push(Evidence::at(
                file,
                *line,
                format!("start command listens on {port}"),
            ));
        }
    }
    stack
}

/// The parser for `path` when it is a manifest of the folder `dir` itself (or one of its
/// `requirements/*.txt`); manifests of sub-folders belong to other services.
fn manifest_in(dir: &str, path: &str) -> Option<Parser> {
    let rest = if dir.is_empty() || dir == "." {
        path
    } else {
        path.strip_prefix(dir)?.strip_prefix('/')?
    };
    let name = match rest.split_once('/') {
        None => rest,
        Some(("requirements", name)) if !name.contains('/') && name.ends_with(".txt") => {
            "requirements.txt"
        }
        Some(_) => return None,
    };
    parser_for(name)
}

/// Picks the stack that best describes a folder: the first manifest naming a server framework,
/// else the most specific language (see [`preference`]); gRPC, backing services and the ML
/// library are gathered from all of them.
pub fn merge(mut stacks: Vec<Stack>) -> Stack {
    let is_frontend =
        |s: &Stack| matches!(s.framework.as_deref(), Some("angular" | "react" | "vite"));
    stacks.sort_by_key(|s| {
        let server = s.framework.is_some() && !is_frontend(s);
        (!server, s.language.map_or(usize::MAX, |l| preference(ecosystem_of(l))))
    });
    let mut stacks = stacks.into_iter();
    let Some(mut best) = stacks.next() else { return Stack::default() };
    for other in stacks {
        best.grpc |= other.grpc;
        for service in other.backing {
            if !best.backing.contains(&service) {
                best.backing.push(service);
            }
        }
        if best.ml.is_none() {
            best.ml = other.ml;
        }
        if best.runtime.is_none() && best.language == other.language {
            best.runtime = other.runtime;
        }
        best.evidence.extend(other.evidence);
    }
    best
}

fn ecosystem_of(language: Language) -> Ecosystem {
    match language {
        Language::Go => Ecosystem::Go,
        Language::Python => Ecosystem::Python,
        Language::Node | Language::Static => Ecosystem::Node,
        Language::Java => Ecosystem::Jvm,
        Language::Dotnet => Ecosystem::Dotnet,
        Language::Php => Ecosystem::Php,
        Language::Rust => Ecosystem::Rust,
        Language::Ruby => Ecosystem::Ruby,
    }
}

fn short(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}

static START_PORT: LazyLock<Pattern> = LazyLock::new(|| {
    Pattern::new(r"(?:--port[= ]|(?:^|\s)-p\s+|\bPORT=|--bind[= ]\S*:|-b\s+\S*:)(\d{2,5})\b")
});

/// A port a start command names (`next start -p 3001`, `PORT=4000 node x`, `--bind :8000`).
pub fn port_in_command(command: &str) -> Option<u16> {
    // Every match has `-p`, `-b` or `PORT=`: most commands have none, and the pattern is not
    // compiled for them.
    if !["-p", "-b", "PORT="].iter().any(|needle| command.contains(needle)) {
        return None;
    }
    START_PORT
        .captures(command)
        .and_then(|c| c.get(1))
        .and_then(|m| m.as_str().parse::<u16>().ok())
        .filter(|p| *p > 0)
}

/// 1-based line of the first occurrence of `needle`.
fn line_of(text: &str, needle: &str) -> Option<u32> {
    super::read::line_of(text, needle, 0)
}

fn json(text: &str, file: &str, notes: &mut Vec<Note>) -> Option<serde_json::Value> {
    match serde_json::from_str(text) {
        Ok(value) => Some(value),
        Err(e) => {
            let line = u32::try_from(e.line()).unwrap_or(0);
            notes.push(Note::line(file, line, format!("not valid JSON, manifest skipped: {e}")));
            None
        }
    }
}

/// `package.json`: `dependencies`, `devDependencies`, `scripts.start`, `engines.node`.
pub fn parse_package_json(text: &str, file: &str, notes: &mut Vec<Note>) -> Option<Manifest> {
    let value = json(text, file, notes)?;
    let Some(object) = value.as_object() else {
        notes.push(Note::file(file, "package.json is not a JSON object, skipped"));
        return None;
    };
    let mut manifest = Manifest::new(file, Ecosystem::Node);
    for (section, dev) in [("dependencies", false), ("devDependencies", true)] {
        if let Some(deps) = object.get(section).and_then(|d| d.as_object()) {
            let room = manifest.room(section, deps.len(), text, notes);
            for name in deps.keys().take(room) {
                let line = line_of(text, &format!("\"{name}\""));
                manifest.depend(name.to_ascii_lowercase(), line).dev = dev;
            }
        }
    }
    if let Some(start) = value.pointer("/scripts/start").and_then(|s| s.as_str()) {
        manifest.start = Some((start.to_string(), line_of(text, "\"start\"")));
    }
    if let Some(node) = value.pointer("/engines/node").and_then(|s| s.as_str()) {
        manifest.runtime = Some((format!("node {node}"), line_of(text, "\"node\"")));
    }
    Some(manifest)
}

static REQUIREMENT: LazyLock<Pattern> = LazyLock::new(|| {
    Pattern::new(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?\s*(?:[<>=!~;@(,]|$)")
});

/// A PEP 508 requirement's normalized name and extras (`Flask-SQLAlchemy[x]>=3` →
/// `flask-sqlalchemy`, `[x]`).
pub fn parse_requirement(spec: &str) -> Option<(String, Vec<String>)> {
    let captures = REQUIREMENT.captures(spec.trim())?;
    let name = captures.get(1)?.as_str().to_ascii_lowercase().replace(['_', '.'], "-");
    let extras = captures
        .get(2)
        .map(|m| {
            m.as_str()
                .split(',')
                .map(|e| e.trim().to_ascii_lowercase())
                .filter(|e| !e.is_empty())
                .collect()
        })
        .unwrap_or_default();
    Some((name, extras))
}

/// `requirements*.txt`: one requirement a line; options, includes and URLs are skipped, an
/// `#egg=` fragment names an editable requirement.
pub fn parse_requirements(text: &str, file: &str, notes: &mut Vec<Note>) -> Option<Manifest> {
    let mut manifest = Manifest::new(file, Ecosystem::Python);
    for (index, raw) in text.lines().enumerate() {
        let line = u32::try_from(index + 1).ok();
        let content = raw.split(" #").next().unwrap_or(raw).trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        if let Some((_, egg)) = content.split_once("#egg=") {
            if let Some((name, extras)) = parse_requirement(egg) {
                manifest.depend(name, line).features = extras;
            }
            continue;
        }
        if content.starts_with('-') || content.contains("://") {
            continue;
        }
        match parse_requirement(content) {
            Some((name, extras)) => manifest.depend(name, line).features = extras,
            None => notes.push(Note::line(
                file,
                line.unwrap_or(0),
                format!("not a requirement: {}", clip(content)),
            )),
        }
    }
    Some(manifest)
}

fn clip(text: &str) -> String {
    let mut clipped: String = text.chars().take(60).collect();
    if clipped.len() < text.len() {
        clipped.push('…');
    }
    clipped
}

/// `pyproject.toml`: PEP 621 `[project] dependencies` and `requires-python`, or Poetry's
/// `[tool.poetry.dependencies]`.
pub fn parse_pyproject(text: &str, file: &str, notes: &mut Vec<Note>) -> Option<Manifest> {
    let table = toml_table(text, file, notes)?;
    let mut manifest = Manifest::new(file, Ecosystem::Python);
    let project = table.get("project");
    if let Some(deps) = project.and_then(|p| p.get("dependencies")).and_then(|d| d.as_array()) {
        let room = manifest.room("dependencies", deps.len(), text, notes);
        for spec in deps.iter().take(room).filter_map(|d| d.as_str()) {
            match parse_requirement(spec) {
                Some((name, extras)) => {
                    let line =
                        line_of(text, &format!("\"{spec}\"")).or_else(|| line_of(text, spec));
                    manifest.depend(name, line).features = extras;
                }
                None => notes.push(Note::file(file, format!("not a requirement: {}", clip(spec)))),
            }
        }
    }
    if let Some(python) = project.and_then(|p| p.get("requires-python")).and_then(|v| v.as_str()) {
        manifest.runtime = Some((format!("python {python}"), line_of(text, "requires-python")));
    }
    let poetry =
        table.get("tool").and_then(|t| t.get("poetry")).and_then(|p| p.get("dependencies"));
    if let Some(deps) = poetry.and_then(|d| d.as_table()) {
        let room = manifest.room("tool.poetry.dependencies", deps.len(), text, notes);
        for (name, spec) in deps.iter().take(room) {
            let line = line_of(text, &format!("\n{name} ="))
                .map(|l| l + 1)
                .or_else(|| line_of(text, name));
            if name.eq_ignore_ascii_case("python") {
                if let Some(version) = spec.as_str() {
                    manifest.runtime = Some((format!("python {version}"), line));
                }
                continue;
            }
            let extras = spec
                .get("extras")
                .and_then(|e| e.as_array())
                .map(|e| e.iter().filter_map(|x| x.as_str()).map(str::to_ascii_lowercase).collect())
                .unwrap_or_default();
            manifest.depend(name.to_ascii_lowercase().replace(['_', '.'], "-"), line).features =
                extras;
        }
    }
    Some(manifest)
}

/// `Pipfile`: `[packages]` (and `[dev-packages]` as development), `[requires] python_version`.
pub fn parse_pipfile(text: &str, file: &str, notes: &mut Vec<Note>) -> Option<Manifest> {
    let table = toml_table(text, file, notes)?;
    let mut manifest = Manifest::new(file, Ecosystem::Python);
    for (section, dev) in [("packages", false), ("dev-packages", true)] {
        if let Some(packages) = table.get(section).and_then(|p| p.as_table()) {
            let room = manifest.room(section, packages.len(), text, notes);
            for name in packages.keys().take(room) {
                let line = line_of(text, &format!("\n{name} ")).map(|l| l + 1);
                let normalized = name.to_ascii_lowercase().replace(['_', '.'], "-");
                manifest.depend(normalized, line).dev = dev;
            }
        }
    }
    let version =
        table.get("requires").and_then(|r| r.get("python_version")).and_then(|v| v.as_str());
    if let Some(version) = version {
        manifest.runtime = Some((format!("python {version}"), line_of(text, "python_version")));
    }
    Some(manifest)
}

/// `go.mod`: `go` directive and `require` lines; `// indirect` requirements are skipped (they
/// are what dependencies need, not what the service uses).
pub fn parse_go_mod(text: &str, file: &str, notes: &mut Vec<Note>) -> Option<Manifest> {
    let mut manifest = Manifest::new(file, Ecosystem::Go);
    let mut in_block: Option<(&str, u32)> = None;
    for (index, raw) in text.lines().enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let indirect = raw.contains("// indirect");
        let content = raw.split("//").next().unwrap_or(raw).trim();
        if content.is_empty() {
            continue;
        }
        if let Some((verb, _)) = in_block {
            if content == ")" {
                in_block = None;
            } else if verb == "require" && !indirect {
                if let Some(path) = content.split_whitespace().next() {
                    manifest.depend(path.to_ascii_lowercase(), Some(number));
                }
            }
            continue;
        }
        let mut words = content.split_whitespace();
        match (words.next(), words.next()) {
            (Some(verb), Some("(")) => in_block = Some((verb, number)),
            (Some("require"), Some(path)) if !indirect => {
                manifest.depend(path.to_ascii_lowercase(), Some(number));
            }
            (Some("go"), Some(version)) => {
                manifest.runtime = Some((format!("go {version}"), Some(number)))
            }
            (
                Some(
                    "module" | "require" | "replace" | "exclude" | "retract" | "toolchain"
                    | "godebug" | "tool",
                ),
                _,
            ) => {}
            _ => notes.push(Note::line(
                file,
                number,
                format!("not a go.mod directive: {}", clip(content)),
            )),
        }
    }
    if let Some((verb, line)) = in_block {
        notes.push(Note::line(file, line, format!("`{verb} (` block is never closed")));
    }
    Some(manifest)
}

/// `Cargo.toml`: `[dependencies]` with their features (a workspace root has none).
pub fn parse_cargo_toml(text: &str, file: &str, notes: &mut Vec<Note>) -> Option<Manifest> {
    let table = toml_table(text, file, notes)?;
    let mut manifest = Manifest::new(file, Ecosystem::Rust);
    let sections =
        [table.get("dependencies"), table.get("workspace").and_then(|w| w.get("dependencies"))];
    for deps in sections.into_iter().flatten().filter_map(|d| d.as_table()) {
        let room = manifest.room("dependencies", deps.len(), text, notes);
        for (key, spec) in deps.iter().take(room) {
            // `name = { package = "real-name" }` renames a dependency.
            let name = spec.get("package").and_then(|p| p.as_str()).unwrap_or(key);
            let features = spec
                .get("features")
                .and_then(|f| f.as_array())
                .map(|f| f.iter().filter_map(|x| x.as_str()).map(str::to_string).collect())
                .unwrap_or_default();
            let line = line_of(text, &format!("\n{key} ="))
                .or_else(|| line_of(text, &format!("\n{key}=")))
                .map(|l| l + 1)
                .or_else(|| line_of(text, &format!("dependencies.{key}]")));
            manifest.depend(name.to_ascii_lowercase(), line).features = features;
        }
    }
    if let Some(version) =
        table.get("package").and_then(|p| p.get("rust-version")).and_then(|v| v.as_str())
    {
        manifest.runtime = Some((format!("rust {version}"), line_of(text, "rust-version")));
    }
    Some(manifest)
}

static XML_COORDINATE: LazyLock<Pattern> = LazyLock::new(|| {
    Pattern::new(
        r"<(dependency|parent|plugin|/dependency|/parent|/plugin)>|<(groupId|artifactId)>\s*([^<\s]+)\s*</(?:groupId|artifactId)>",
    )
});

/// Blanks `<!-- -->` comments and the named sections, keeping every newline so lines stay
/// true. `None` when a comment or section is never closed, said in a note at its line.
fn blank_xml(text: &str, sections: &[&str], file: &str, notes: &mut Vec<Note>) -> Option<String> {
    match blank_xml_sections(text, sections) {
        Ok(scanned) => Some(scanned),
        Err((offset, why)) => {
            notes.push(Note::line(
                file,
                line_at(text, offset),
                format!("malformed XML, skipped: {why}"),
            ));
            None
        }
    }
}

fn blank_xml_sections(text: &str, sections: &[&str]) -> Result<String, (usize, String)> {
    let mut out = text.to_string();
    let mut blank = |open: &str, close: &str| -> Result<(), (usize, String)> {
        let mut from = 0;
        while let Some(start) = out[from..].find(open).map(|i| i + from) {
            let Some(end) = out[start..].find(close).map(|i| i + start + close.len()) else {
                return Err((start, format!("{open} is never closed")));
            };
            let replaced: String =
                out[start..end].chars().map(|c| if c == '\n' { '\n' } else { ' ' }).collect();
            out.replace_range(start..end, &replaced);
            from = start + replaced.len();
        }
        Ok(())
    };
    blank("<!--", "-->")?;
    for section in sections {
        blank(&format!("<{section}>"), &format!("</{section}>"))?;
    }
    Ok(out)
}

/// `pom.xml`: `<parent>`, `<dependencies>` and `<plugins>` coordinates as `group:artifact`
/// (managed versions in `<dependencyManagement>` are not dependencies), `<java.version>`.
pub fn parse_pom(text: &str, file: &str, notes: &mut Vec<Note>) -> Option<Manifest> {
    if !text.contains("<project") {
        notes.push(Note::file(file, "no <project> element: not a Maven POM, skipped"));
        return None;
    }
    let scanned = blank_xml(text, &["dependencyManagement", "pluginManagement"], file, notes)?;
    let opens = scanned.matches("<dependency>").count();
    let closes = scanned.matches("</dependency>").count();
    if opens != closes {
        let message = format!(
            "malformed XML: {opens} <dependency> but {closes} </dependency>; read what could be"
        );
        notes.push(Note::file(file, message));
    }
    let mut manifest = Manifest::new(file, Ecosystem::Jvm);
    let mut group: Option<String> = None;
    let mut artifact: Option<(String, u32)> = None;
    let mut depth = 0usize;
    for captures in XML_COORDINATE.captures_iter(&scanned) {
        let offset = captures.get(0).map_or(0, |m| m.start());
        if let Some(tag) = captures.get(1) {
            if tag.as_str().starts_with('/') {
                if let Some((a, line)) = artifact.take() {
                    let g = group.take().unwrap_or_default();
                    manifest.depend(format!("{g}:{a}").to_ascii_lowercase(), Some(line));
                }
                depth = depth.saturating_sub(1);
            } else {
                group = None;
                artifact = None;
                depth += 1;
            }
            continue;
        }
        if depth == 0 {
            continue;
        }
        let value = captures.get(3).map_or("", |m| m.as_str()).to_string();
        match captures.get(2).map(|m| m.as_str()) {
            Some("groupId") => group = Some(value),
            Some(_) => artifact = Some((value, line_at(text, offset))),
            None => {}
        }
    }
    for tag in ["java.version", "maven.compiler.release", "maven.compiler.target"] {
        let open = format!("<{tag}>");
        if let Some(start) = scanned.find(&open) {
            let rest = &scanned[start + open.len()..];
            if let Some(end) = rest.find('<') {
                manifest.runtime =
                    Some((format!("java {}", rest[..end].trim()), Some(line_at(text, start))));
                break;
            }
        }
    }
    Some(manifest)
}

static GRADLE_DEPENDENCY: LazyLock<Pattern> = LazyLock::new(|| {
    Pattern::new(
        r#"\b(?:implementation|api|compile|runtimeOnly|compileOnly|developmentOnly|kapt|annotationProcessor)\s*\(?\s*(?:platform\s*\(\s*)?["']([\w.\-]+):([\w.\-]+)"#,
    )
});
static GRADLE_PLUGIN: LazyLock<Pattern> = LazyLock::new(|| {
    Pattern::new(r#"\bid\s*\(?\s*["']([\w.\-]+)["']|\bapply\s+plugin\s*:\s*["']([\w.\-]+)["']"#)
});

/// `build.gradle(.kts)`: string dependency coordinates in main configurations (not test ones)
/// and plugin ids (as `plugin:id`).
pub fn parse_gradle(text: &str, file: &str, _notes: &mut Vec<Note>) -> Option<Manifest> {
    let mut manifest = Manifest::new(file, Ecosystem::Jvm);
    for captures in GRADLE_DEPENDENCY.captures_iter(text) {
        let (Some(group), Some(artifact)) = (captures.get(1), captures.get(2)) else { continue };
        let line = line_at(text, group.start());
        manifest.depend(
            format!("{}:{}", group.as_str(), artifact.as_str()).to_ascii_lowercase(),
            Some(line),
        );
    }
    for captures in GRADLE_PLUGIN.captures_iter(text) {
        let Some(id) = captures.get(1).or_else(|| captures.get(2)) else { continue };
        let line = line_at(text, id.start());
        manifest.depend(format!("plugin:{}", id.as_str().to_ascii_lowercase()), Some(line));
    }
    Some(manifest)
}

static CSPROJ_ITEM: LazyLock<Pattern> = LazyLock::new(|| {
    Pattern::new(
        r#"<Project\s+Sdk\s*=\s*"([^"]+)"|<PackageReference\s+Include\s*=\s*"([^"]+)"|<TargetFramework>\s*([^<\s]+)\s*</TargetFramework>"#,
    )
});

/// `*.csproj`: the project SDK (`sdk:microsoft.net.sdk.web`), package references, and the
/// target framework.
pub fn parse_csproj(text: &str, file: &str, notes: &mut Vec<Note>) -> Option<Manifest> {
    if !text.contains("<Project") {
        notes.push(Note::file(file, "no <Project> element: not an MSBuild project, skipped"));
        return None;
    }
    let scanned = blank_xml(text, &[], file, notes)?;
    let mut manifest = Manifest::new(file, Ecosystem::Dotnet);
    for captures in CSPROJ_ITEM.captures_iter(&scanned) {
        let offset = captures.get(0).map_or(0, |m| m.start());
        let line = Some(line_at(text, offset));
        if let Some(sdk) = captures.get(1) {
            manifest.depend(format!("sdk:{}", sdk.as_str().to_ascii_lowercase()), line);
        } else if let Some(package) = captures.get(2) {
            manifest.depend(package.as_str().to_ascii_lowercase(), line);
        } else if let Some(target) = captures.get(3) {
            manifest.runtime = Some((format!("dotnet {}", target.as_str()), line));
        }
    }
    Some(manifest)
}

/// `composer.json`: `require` (packages and `ext-*` extensions; `php` is the runtime).
pub fn parse_composer(text: &str, file: &str, notes: &mut Vec<Note>) -> Option<Manifest> {
    let value = json(text, file, notes)?;
    let mut manifest = Manifest::new(file, Ecosystem::Php);
    for (section, dev) in [("require", false), ("require-dev", true)] {
        let Some(require) = value.get(section).and_then(|r| r.as_object()) else { continue };
        let room = manifest.room(section, require.len(), text, notes);
        for (name, version) in require.iter().take(room) {
            let line = line_of(text, &format!("\"{name}\""));
            if name == "php" {
                if let Some(version) = version.as_str() {
                    manifest.runtime = Some((format!("php {version}"), line));
                }
                continue;
            }
            manifest.depend(name.to_ascii_lowercase(), line).dev = dev;
        }
    }
    Some(manifest)
}

static GEM: LazyLock<Pattern> =
    LazyLock::new(|| Pattern::new(r#"^\s*(gem|ruby)\s*\(?\s*["']([^"']+)["']"#));

/// `Gemfile`: `gem` lines outside test/development-only groups, and the `ruby` version.
pub fn parse_gemfile(text: &str, file: &str, notes: &mut Vec<Note>) -> Option<Manifest> {
    let mut manifest = Manifest::new(file, Ecosystem::Ruby);
    // One entry per open `do` block: whether it is a development-only group.
    let mut blocks: Vec<bool> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let line = raw.split('#').next().unwrap_or(raw).trim();
        if line.starts_with("group") && line.ends_with("do") {
            let production = line.contains(":production") || line.contains(":default");
            blocks.push(!production);
            continue;
        }
        if line.ends_with(" do") || line.ends_with(" do |") || line == "do" {
            blocks.push(false);
            continue;
        }
        if line == "end" {
            if blocks.pop().is_none() {
                notes.push(Note::line(file, number, "`end` without an open block"));
            }
            continue;
        }
        if let Some(captures) = GEM.captures(line) {
            let value = captures.get(2).map_or("", |m| m.as_str());
            if captures.get(1).map(|m| m.as_str()) == Some("ruby") {
                manifest.runtime = Some((format!("ruby {value}"), Some(number)));
            } else {
                let dev = blocks.iter().any(|dev| *dev);
                manifest.depend(value.to_ascii_lowercase(), Some(number)).dev = dev;
            }
        }
    }
    if !blocks.is_empty() {
        notes.push(Note::file(file, format!("{} block(s) never closed with `end`", blocks.len())));
    }
    Some(manifest)
}

#[cfg(test)]
pub(crate) mod tests;
