//! The layers of `src/`, held against the code's own imports (issue 18).
//!
//! **The pure core** does no I/O, so that most of the logic is tested without a server:
//! `markdown` (escaping), `file` (reading a file input names: regular files only, bounded),
//! `settings` (typed settings from the variables `main` reads once; it builds no client),
//! `command` (slash commands), `event` (CI environment → trigger),
//! `analyze` (a file tree → `Analysis`; it reads files, nothing else), `jobspec` (job files:
//! model, build, render, parse, format, validate), `checks` (the checks' vocabulary,
//! `checks/mod.rs`) and `conversation` (the bot's questions, answers, status comment and
//! checkpoint) and `memory` (episodes, preferences, good jobs, similarity, which default memory
//! gives). **The I/O modules** talk to the world: `http` and `tls` (shared plumbing),
//! `telemetry` (a run's spans, printed or exported), `git`, `llm`, `nomad`, `infra` (Vault,
//! Consul, Fabio), `checks::run` (the check runner),
//! `generation` (a generation's inputs with the cluster's context: Consul, Nomad, Vault),
//! `memory::store` (memory's stores, embeddings endpoint and recording),
//! `forge`, `workflow`, `serve` (the webhook server) and `cli`. A type the core shares lives in the core module that owns its
//! meaning, and a setting reaches the core as a value, never by naming an I/O module.
//!
//! [`the_core_names_no_io_module`] reads every `.rs` file of a core module and fails on any
//! path that names an I/O module: a `use` (grouped or not), or a fully qualified path in code
//! (`crate::infra::CheckStatus` in a type). Comments, doc comments and strings do not count.
//!
//! [`modules_import_only_from_the_floors_below`] holds every module to its floor, lowest first:
//!
//! | floor | modules |
//! |---|---|
//! | 1 | `settings` |
//! | 2 | `markdown`, `file`, `http`, `tls` |
//! | 3 | `command`, `event`, `analyze`, `git`, `telemetry` |
//! | 4 | `jobspec` |
//! | 5 | `checks`, `memory` |
//! | 6 | `conversation` |
//! | 7 | `llm` |
//! | 8 | `nomad` |
//! | 9 | `infra` |
//! | 10 | `checks::run`, `generation`, `memory::store` |
//! | 11 | `forge` |
//! | 12 | `workflow` |
//! | 13 | `serve` |
//! | 14 | `cli` |
//!
//! `settings` is alone at the bottom: every module may read it, the HTTP plumbing included
//! (the retry policy and the limits of calls are settings).
//!
//! A module imports only modules on floors below its own (so modules on one floor import
//! nothing of each other), which leaves no room for an import circle between modules. There
//! is no exception.

use std::collections::BTreeMap;
use std::path::Path;

/// The pure core.
const CORE: &[&str] = &[
    "markdown",
    "file",
    "settings",
    "command",
    "event",
    "analyze",
    "jobspec",
    "checks",
    "memory",
    "conversation",
];

/// The modules that do I/O.
const IO: &[&str] = &[
    "http",
    "tls",
    "telemetry",
    "git",
    "llm",
    "nomad",
    "infra",
    "checks::run",
    "generation",
    "memory::store",
    "forge",
    "workflow",
    "serve",
    "cli",
];

/// Every module on its floor, lowest first (the table in this file's doc).
const FLOORS: &[&[&str]] = &[
    &["settings"],
    &["markdown", "file", "http", "tls"],
    &["command", "event", "analyze", "git", "telemetry"],
    &["jobspec"],
    &["checks", "memory"],
    &["conversation"],
    &["llm"],
    &["nomad"],
    &["infra"],
    &["checks::run", "generation", "memory::store"],
    &["forge"],
    &["workflow"],
    &["serve"],
    &["cli"],
];

// ---------------------------------------------------------------------------------------------
// The tests.

#[test]
fn the_core_names_no_io_module() {
    let tree = Tree::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(tree.files.len() > 50, "src/ was not read: {} files", tree.files.len());
    let found = core_naming_io(&tree);
    assert!(found.is_empty(), "the pure core names I/O modules:\n{}", found.join("\n"));
}

#[test]
fn modules_import_only_from_the_floors_below() {
    let tree = Tree::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let problems = floor_problems(&tree);
    assert!(problems.is_empty(), "imports against the floors:\n{}", problems.join("\n"));
}

#[test]
fn every_module_is_core_or_io_and_on_one_floor() {
    let mut floored: Vec<&str> = FLOORS.iter().flat_map(|floor| floor.iter().copied()).collect();
    let mut listed: Vec<&str> = CORE.iter().chain(IO).copied().collect();
    listed.sort_unstable();
    floored.sort_unstable();
    assert_eq!(listed, floored, "CORE and IO together are the modules on the floors, once each");
    assert!(CORE.iter().all(|m| !IO.contains(m)), "a module is either core or I/O");
}

/// The checks below run on files written here, so that the scanner is seen to fail on what it
/// must catch, not only to pass on `src/`.
#[test]
fn a_core_file_naming_io_is_found_however_it_is_written() {
    let tree = Tree::of(&[
        (
            "event/gitlab.rs",
            "//! `crate::workflow` in a doc comment does not count.\n\
             use crate::workflow::settings::BOT_LOGIN;\n\
             use crate::{markdown, nomad::api::AgentSelf};\n\
             use super::super::forge;\n\
             // use crate::git::GitRemote; (a comment)\n\
             fn status() -> crate::infra::CheckStatus {\n\
                 let text = \"crate::llm::Client in a string\";\n\
                 let raw = r#\"crate::cli::run\"#;\n\
                 let quote = '\"'; let lifetime: &'static str = \"\";\n\
                 crate::checks::run::check_file(); crate::checks::CheckStatus::Success\n\
             }\n\
             /* a block /* nested */ crate::http::client() */\n",
        ),
        ("event.rs", "pub mod gitlab;\n"),
        ("conversation/mod.rs", "mod state;\n"),
        ("conversation/state.rs", "use crate::checks::{self, run::check_file, CheckResult};\n"),
    ]);
    let found = core_naming_io(&tree);
    assert_eq!(
        found,
        [
            "src/conversation/state.rs:1: `crate::checks::run::check_file` names the I/O module \
             `checks::run`",
            "src/event/gitlab.rs:2: `crate::workflow::settings::BOT_LOGIN` names the I/O module \
             `workflow`",
            "src/event/gitlab.rs:3: `crate::nomad::api::AgentSelf` names the I/O module `nomad`",
            "src/event/gitlab.rs:4: `super::super::forge` names the I/O module `forge`",
            "src/event/gitlab.rs:6: `crate::infra::CheckStatus` names the I/O module `infra`",
            "src/event/gitlab.rs:10: `crate::checks::run::check_file` names the I/O module \
             `checks::run`",
        ]
    );
}

#[test]
fn paths_resolve_from_the_module_they_are_written_in() {
    let tree = Tree::of(&[
        ("checks/mod.rs", "pub mod run;\npub fn f() { run::check_file(); }\n"),
        ("checks/run.rs", "use super::CheckResult;\n"),
        (
            "jobspec/build.rs",
            "mod features;\nuse self::features::X;\n\
             #[cfg(test)]\nmod tests {\n    use super::*;\n    use super::super::super::git::Workspace;\n}\n\
             fn after() { crate::nomad::x(); }\n",
        ),
        ("jobspec/build/features.rs", "use super::super::config::Config;\n"),
    ]);
    let found = core_naming_io(&tree);
    assert_eq!(
        found,
        [
            "src/checks/mod.rs:2: `run::check_file` names the I/O module `checks::run`",
            "src/jobspec/build.rs:6: `super::super::super::git::Workspace` names the I/O module \
             `git`",
            "src/jobspec/build.rs:8: `crate::nomad::x` names the I/O module `nomad`",
        ]
    );
    let imports = tree.files["src/jobspec/build/features.rs"].imports(&tree);
    assert_eq!(imports[0].target, ["jobspec", "config", "Config"]);
}

#[test]
fn an_import_up_a_floor_or_along_one_is_found() {
    let tree = Tree::of(&[
        ("jobspec/mod.rs", "use crate::conversation::Checkpoint;\n"),
        ("git.rs", "use crate::event::Trigger;\n"),
        ("cli/mod.rs", "use crate::workflow::run;\n"),
    ]);
    let problems = floor_problems(&tree);
    assert_eq!(
        problems,
        [
            "src/git.rs:1: `git` (floor 3) imports `event` (floor 3): `crate::event::Trigger`",
            "src/jobspec/mod.rs:1: `jobspec` (floor 4) imports `conversation` (floor 6): \
             `crate::conversation::Checkpoint`",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// What the tests find.

/// Every path in a core file that names an I/O module, as `file:line: what`.
fn core_naming_io(tree: &Tree) -> Vec<String> {
    let mut found = Vec::new();
    for (path, file) in &tree.files {
        if !file.unit().is_some_and(|unit| CORE.contains(&unit.as_str())) {
            continue;
        }
        for import in file.imports(tree) {
            if let Some(unit) = unit_of(&import.target).filter(|u| IO.contains(&u.as_str())) {
                found.push(format!(
                    "{path}:{}: `{}` names the I/O module `{unit}`",
                    import.line, import.written
                ));
            }
        }
    }
    found
}

/// Every import against the floors, then every known upward import that is gone.
fn floor_problems(tree: &Tree) -> Vec<String> {
    let floor_of = |unit: &str| FLOORS.iter().position(|floor| floor.contains(&unit));
    let mut problems = Vec::new();
    for (path, file) in &tree.files {
        let Some(from) = file.unit() else {
            if !matches!(path.as_str(), "src/lib.rs" | "src/main.rs") {
                problems.push(format!("{path}: its module is on no floor; give it one"));
            }
            continue;
        };
        let Some(from_floor) = floor_of(&from) else {
            problems.push(format!("{path}: `{from}` is on no floor; give it one"));
            continue;
        };
        for import in file.imports(tree) {
            let Some(to) = unit_of(&import.target) else { continue };
            if to == from {
                continue;
            }
            let Some(to_floor) = floor_of(&to) else { continue };
            if to_floor < from_floor {
                continue;
            }
            problems.push(format!(
                "{path}:{}: `{from}` (floor {}) imports `{to}` (floor {}): `{}`",
                import.line,
                from_floor + 1,
                to_floor + 1,
                import.written
            ));
        }
    }
    problems
}

/// The module a path lands in, as the floors name it: its first segment, or `checks::run`.
fn unit_of(target: &[String]) -> Option<String> {
    match target {
        [first, second, ..] if first == "checks" && second == "run" => Some("checks::run".into()),
        [first, second, ..] if first == "memory" && second == "store" => {
            Some("memory::store".into())
        }
        [first, ..] => Some(first.clone()),
        [] => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the tree: files, their modules, and the paths their code names.

/// The `.rs` files under `src/`, by path (`src/event/gitlab.rs`).
struct Tree {
    files: BTreeMap<String, SourceFile>,
}

/// One file: its module path (`["event", "gitlab"]`) and its text.
struct SourceFile {
    module: Vec<String>,
    text: String,
}

/// One path the code names, resolved from the crate root.
#[derive(Debug)]
struct Import {
    line: usize,
    /// As written, a group expanded to this one path (`crate::nomad::api::AgentSelf`).
    written: String,
    /// From the crate root (`["nomad", "api", "AgentSelf"]`).
    target: Vec<String>,
}

impl Tree {
    /// Every `.rs` file under `src`.
    fn read(src: &Path) -> Tree {
        let mut files = BTreeMap::new();
        let mut folders = vec![src.to_path_buf()];
        while let Some(folder) = folders.pop() {
            let entries = std::fs::read_dir(&folder)
                .unwrap_or_else(|err| panic!("cannot list {}: {err}", folder.display()));
            for entry in entries {
                let path = entry.unwrap_or_else(|err| panic!("{}: {err}", folder.display())).path();
                if path.is_dir() {
                    folders.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let relative = path.strip_prefix(src).unwrap_or(&path).to_string_lossy();
                    let relative = relative.replace('\\', "/");
                    let text = std::fs::read_to_string(&path)
                        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
                    files.insert(format!("src/{relative}"), SourceFile::new(&relative, text));
                }
            }
        }
        Tree { files }
    }

    /// A tree of the given files (paths relative to `src/`).
    fn of(files: &[(&str, &str)]) -> Tree {
        let files = files
            .iter()
            .map(|(path, text)| (format!("src/{path}"), SourceFile::new(path, text.to_string())))
            .collect();
        Tree { files }
    }

    /// Whether a module has a file of its own (`a/b.rs` or `a/b/mod.rs`).
    fn has_module(&self, module: &[String]) -> bool {
        let path = module.join("/");
        self.files.contains_key(&format!("src/{path}.rs"))
            || self.files.contains_key(&format!("src/{path}/mod.rs"))
    }
}

impl SourceFile {
    fn new(relative: &str, text: String) -> SourceFile {
        let mut module: Vec<String> =
            relative.trim_end_matches(".rs").split('/').map(str::to_string).collect();
        if matches!(module.last().map(String::as_str), Some("mod" | "lib" | "main")) {
            module.pop();
        }
        SourceFile { module, text }
    }

    /// The module the file belongs to, as the floors name it (`None` for `lib.rs`, `main.rs`).
    fn unit(&self) -> Option<String> {
        unit_of(&self.module)
    }

    /// Every path of the crate that the file's code names, in order.
    fn imports(&self, tree: &Tree) -> Vec<Import> {
        let tokens = tokens(&code_of(&self.text));
        let mut imports = Vec::new();
        // Inline modules (`mod tests { ... }`) the scan is in, with the brace depth each opened at.
        let mut inline: Vec<(String, usize)> = Vec::new();
        let mut depth: usize = 0;
        let mut at = 0;
        while at < tokens.len() {
            match &tokens[at].kind {
                Kind::Open => {
                    depth += 1;
                    at += 1;
                    continue;
                }
                Kind::Close => {
                    depth = depth.saturating_sub(1);
                    if inline.last().is_some_and(|(_, opened)| *opened == depth) {
                        inline.pop();
                    }
                    at += 1;
                    continue;
                }
                Kind::Ident(word) if word == "mod" => {
                    if let (Some(Kind::Ident(name)), Some(Kind::Open)) =
                        (tokens.get(at + 1).map(|t| &t.kind), tokens.get(at + 2).map(|t| &t.kind))
                    {
                        inline.push((name.clone(), depth));
                    }
                }
                _ => {}
            }
            let starts_path = matches!(tokens[at].kind, Kind::Ident(_))
                && matches!(tokens.get(at + 1).map(|t| &t.kind), Some(Kind::PathSep))
                && !at
                    .checked_sub(1)
                    .is_some_and(|before| matches!(tokens[before].kind, Kind::PathSep | Kind::Dot));
            if !starts_path {
                at += 1;
                continue;
            }
            let mut here = self.module.clone();
            here.extend(inline.iter().map(|(name, _)| name.clone()));
            let (paths, next) = use_tree(&tokens, at, Vec::new());
            for (line, segments) in paths {
                if let Some(target) = resolve(&segments, &here, tree) {
                    imports.push(Import { line, written: segments.join("::"), target });
                }
            }
            at = next.max(at + 1);
        }
        imports
    }
}

/// A path from the crate root, when `segments` (as written in module `here`) names a module
/// of this crate: `crate::`, `super::`, `self::` or a child module of `here`.
fn resolve(segments: &[String], here: &[String], tree: &Tree) -> Option<Vec<String>> {
    let (first, rest) = segments.split_first()?;
    let mut base: Vec<String> = match first.as_str() {
        "crate" => Vec::new(),
        "self" => here.to_vec(),
        "super" => here[..here.len().checked_sub(1)?].to_vec(),
        _ => {
            let mut child = here.to_vec();
            child.push(first.clone());
            if !tree.has_module(&child) {
                return None;
            }
            child
        }
    };
    let mut rest = rest;
    while first == "super" && rest.first().is_some_and(|s| s == "super") {
        base.pop()?;
        rest = &rest[1..];
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The paths of a use tree (or of one path in code) starting at token `at`, each with the
/// line it ends on, and the token after it. `a::b::{c, d::{e}}` gives `a::b::c` and
/// `a::b::d::e`.
fn use_tree(
    tokens: &[Token],
    mut at: usize,
    mut prefix: Vec<String>,
) -> (Vec<(usize, Vec<String>)>, usize) {
    let mut line = tokens.get(at).map_or(0, |t| t.line);
    loop {
        match tokens.get(at).map(|t| &t.kind) {
            Some(Kind::Ident(word)) => {
                line = tokens[at].line;
                prefix.push(word.clone());
                at += 1;
            }
            Some(Kind::Open) => {
                let mut paths = Vec::new();
                at += 1;
                loop {
                    match tokens.get(at).map(|t| &t.kind) {
                        None => return (paths, at),
                        Some(Kind::Close) => return (paths, at + 1),
                        Some(Kind::Comma) => at += 1,
                        // `name as other`: the path is the name's.
                        Some(Kind::Ident(word)) if word == "as" => at += 2,
                        Some(_) => {
                            let (inner, next) = use_tree(tokens, at, prefix.clone());
                            paths.extend(inner);
                            at = next.max(at + 1);
                        }
                    }
                }
            }
            _ => return (vec![(line, prefix)], at),
        }
        if !matches!(tokens.get(at).map(|t| &t.kind), Some(Kind::PathSep)) {
            return (vec![(line, prefix)], at);
        }
        at += 1;
    }
}

/// What the scan tells apart in code.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Ident(String),
    PathSep,
    Dot,
    Open,
    Close,
    Comma,
    Other,
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    /// 1-based.
    line: usize,
}

/// The tokens of code (comments and literals already blanked by [`code_of`]).
fn tokens(code: &str) -> Vec<Token> {
    let chars: Vec<char> = code.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut at = 0;
    while at < chars.len() {
        let c = chars[at];
        let kind = match c {
            '\n' => {
                line += 1;
                at += 1;
                continue;
            }
            c if c.is_whitespace() => {
                at += 1;
                continue;
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = at;
                while at < chars.len() && is_ident_char(chars[at]) {
                    at += 1;
                }
                tokens.push(Token { kind: Kind::Ident(chars[start..at].iter().collect()), line });
                continue;
            }
            c if c.is_ascii_digit() => {
                while at < chars.len() && is_ident_char(chars[at]) {
                    at += 1;
                }
                tokens.push(Token { kind: Kind::Other, line });
                continue;
            }
            ':' if chars.get(at + 1) == Some(&':') => {
                at += 1;
                Kind::PathSep
            }
            '.' => Kind::Dot,
            '{' => Kind::Open,
            '}' => Kind::Close,
            ',' => Kind::Comma,
            _ => Kind::Other,
        };
        tokens.push(Token { kind, line });
        at += 1;
    }
    tokens
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// A file's text with comments (doc comments too), string and character literals blanked out,
/// newlines kept so that lines still count: what is left is code.
fn code_of(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut code = String::with_capacity(text.len());
    let blank = |code: &mut String, c: char| code.push(if c == '\n' { '\n' } else { ' ' });
    let mut at = 0;
    while at < chars.len() {
        let c = chars[at];
        let next = chars.get(at + 1).copied();
        let after_ident = at > 0 && is_ident_char(chars[at - 1]);
        if c == '/' && next == Some('/') {
            while at < chars.len() && chars[at] != '\n' {
                blank(&mut code, chars[at]);
                at += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while at < chars.len() {
                let pair = (chars[at], chars.get(at + 1).copied());
                if pair == ('/', Some('*')) || pair == ('*', Some('/')) {
                    depth = if pair.0 == '/' { depth + 1 } else { depth - 1 };
                    blank(&mut code, chars[at]);
                    blank(&mut code, chars[at + 1]);
                    at += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut code, chars[at]);
                    at += 1;
                }
            }
        } else if let Some(end) = raw_string_end(&chars, at).filter(|_| !after_ident) {
            for &c in &chars[at..end] {
                blank(&mut code, c);
            }
            at = end;
        } else if c == '"' {
            blank(&mut code, c);
            at += 1;
            while at < chars.len() {
                let c = chars[at];
                if c == '\\' {
                    blank(&mut code, c);
                    if let Some(&escaped) = chars.get(at + 1) {
                        blank(&mut code, escaped);
                    }
                    at += 2;
                    continue;
                }
                blank(&mut code, c);
                at += 1;
                if c == '"' {
                    break;
                }
            }
        } else if c == '\'' && (next == Some('\\') || chars.get(at + 2) == Some(&'\'')) {
            // A character literal ('x', '\n', '\u{1F600}'); a lifetime or label stays code.
            blank(&mut code, c);
            at += 1;
            while at < chars.len() {
                let c = chars[at];
                blank(&mut code, c);
                at += 1;
                if c == '\\' {
                    if let Some(&escaped) = chars.get(at) {
                        blank(&mut code, escaped);
                        at += 1;
                    }
                } else if c == '\'' {
                    break;
                }
            }
        } else {
            code.push(c);
            at += 1;
        }
    }
    code
}

/// Where a raw string literal starting at `at` ends (`r"..."`, `r#"..."#`, `br"..."`,
/// `cr"..."`), or `None` when none starts there.
fn raw_string_end(chars: &[char], at: usize) -> Option<usize> {
    let mut i = at;
    if matches!(chars.get(i), Some('b' | 'c')) {
        i += 1;
    }
    if chars.get(i) != Some(&'r') {
        return None;
    }
    i += 1;
    let hashes = chars[i..].iter().take_while(|&&c| c == '#').count();
    i += hashes;
    if chars.get(i) != Some(&'"') {
        return None;
    }
    i += 1;
    while i < chars.len() {
        if chars[i] == '"'
            && chars[i + 1..].iter().take(hashes).filter(|&&c| c == '#').count() == hashes
        {
            return Some(i + 1 + hashes);
        }
        i += 1;
    }
    Some(chars.len())
}
