//! Dockerfile parsing: stages, base images, exposed ports, commands, health checks.
//!
//! A tolerant line parser written for the analyzer rather than a general Dockerfile crate: an
//! instruction it cannot read becomes a note and the rest of the file is still read, and every
//! fact keeps the line it came from. It understands parser directives (`# escape=`,
//! `# syntax=`), comments, line continuations, heredocs (`<<EOF`, `<<-EOF`, quoted words),
//! multi-stage builds (a stage built `FROM` an earlier one inherits its image settings),
//! `ARG` defaults overridden by build arguments, and `ENV`/`ARG` substitution in the
//! instructions Docker substitutes. It owns no decisions about services; the assembly in
//! `mod.rs` picks the stage and combines these facts with the others.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::LazyLock;

use super::interpolate::{Bound, Dollar, FileSubstitution};
use super::pattern::Pattern;
use super::read::shell_words;
use super::{Health, HealthKind, Note};

/// A value and the 1-based line it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact<T> {
    /// The value.
    pub value: T,
    /// Line of the instruction (its first line when it is continued).
    pub line: u32,
}

/// A port named by `EXPOSE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExposedPort {
    /// Container port.
    pub port: u16,
    /// `/udp` was given.
    pub udp: bool,
}

/// `CMD`, `ENTRYPOINT` or a health check command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// JSON array form: run as is.
    Exec(Vec<String>),
    /// Shell form: run by `/bin/sh -c`.
    Shell(String),
}

impl Command {
    /// The words Docker runs.
    pub fn words(&self) -> Vec<String> {
        match self {
            Command::Exec(words) => words.clone(),
            Command::Shell(line) => vec!["/bin/sh".into(), "-c".into(), line.clone()],
        }
    }
}

/// A `HEALTHCHECK` instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Healthcheck {
    /// `HEALTHCHECK NONE`: the base image's check is switched off.
    Disabled,
    /// `HEALTHCHECK [options] CMD ...`.
    Check(Command),
}

/// A `COPY` or `ADD` of files into the image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Copied {
    /// The sources as written (relative to the build context, or to the stage named by
    /// `from`).
    pub sources: Vec<String>,
    /// The destination, absolute (a relative one resolved against the `WORKDIR` then in
    /// force); it ends with `/` when the instruction names a folder.
    pub dest: String,
    /// `--from=`: the stage (or image) the sources are copied from.
    pub from: Option<String>,
}

/// One build stage, with only the facts set by its own instructions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stage {
    /// `AS` name.
    pub name: Option<String>,
    /// The image or stage named by `FROM`, variables substituted.
    pub from: Fact<String>,
    /// Index of the earlier stage this one builds on.
    pub parent: Option<usize>,
    /// `ENV` settings.
    pub env: Vec<Fact<(String, String)>>,
    /// `EXPOSE` ports.
    pub expose: Vec<Fact<ExposedPort>>,
    /// `CMD`.
    pub cmd: Option<Fact<Command>>,
    /// `ENTRYPOINT`.
    pub entrypoint: Option<Fact<Command>>,
    /// `HEALTHCHECK`.
    pub healthcheck: Option<Fact<Healthcheck>>,
    /// `USER`.
    pub user: Option<Fact<String>>,
    /// `WORKDIR` (absolute after resolving relative ones).
    pub workdir: Option<Fact<String>>,
    /// `VOLUME` paths.
    pub volumes: Vec<Fact<String>>,
    /// `COPY` and `ADD` instructions, in order.
    pub copies: Vec<Fact<Copied>>,
}

impl Default for Fact<String> {
    fn default() -> Self {
        Fact { value: String::new(), line: 0 }
    }
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dockerfile {
    /// Path relative to the analyzed root.
    pub path: String,
    /// Build stages in file order.
    pub stages: Vec<Stage>,
}

/// What a container built from one stage runs with: the stage's own facts on top of those of
/// the stages it builds on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    /// The published image at the bottom of the stage chain (`scratch` included).
    pub base_image: Option<Fact<String>>,
    /// Every image the Dockerfile pulls, target chain first (language hints).
    pub images: Vec<String>,
    /// Effective environment.
    pub env: Vec<Fact<(String, String)>>,
    /// Exposed ports.
    pub expose: Vec<Fact<ExposedPort>>,
    /// Effective `CMD`.
    pub cmd: Option<Fact<Command>>,
    /// Effective `ENTRYPOINT`.
    pub entrypoint: Option<Fact<Command>>,
    /// Effective `HEALTHCHECK`.
    pub healthcheck: Option<Fact<Healthcheck>>,
    /// Effective `USER`.
    pub user: Option<Fact<String>>,
    /// Effective `WORKDIR`.
    pub workdir: Option<Fact<String>>,
    /// Declared volumes.
    pub volumes: Vec<Fact<String>>,
    /// Files of the build context in the image: (context path, absolute path in the image,
    /// line of the instruction that put them there), followed through `COPY --from` of
    /// earlier stages. A context path `.` is the whole context.
    pub context_files: Vec<Fact<(String, String)>>,
}

impl ImageConfig {
    /// The command the container runs (`ENTRYPOINT` followed by `CMD`), when one is set.
    pub fn command(&self) -> Option<Fact<Vec<String>>> {
        let entry = self.entrypoint.as_ref();
        let cmd = self.cmd.as_ref();
        let line = entry.or(cmd)?.line;
        let mut words = entry.map(|e| e.value.words()).unwrap_or_default();
        if let Some(cmd) = cmd {
            words.extend(cmd.value.words());
        }
        Some(Fact { value: words, line })
    }
}

impl Dockerfile {
    /// The image settings of `target` (a stage name), or of the final stage.
    pub fn config(&self, target: Option<&str>, notes: &mut Vec<Note>) -> Option<ImageConfig> {
        let mut index = self.stages.len().checked_sub(1)?;
        if let Some(target) = target {
            match self.stage_index(target) {
                Some(found) => index = found,
                None => notes.push(Note::file(
                    &self.path,
                    format!("build target `{target}` is not a stage here; using the last stage"),
                )),
            }
        }
        let mut chain = vec![index];
        while let Some(parent) = self.stages[*chain.last()?].parent {
            chain.push(parent);
        }
        let mut config = ImageConfig::default();
        let bottom = &self.stages[*chain.last()?];
        config.base_image = Some(bottom.from.clone());
        for &i in chain.iter().rev() {
            let stage = &self.stages[i];
            for env in &stage.env {
                config.env.retain(|e| e.value.0 != env.value.0);
                config.env.push(env.clone());
            }
            config.expose.extend(stage.expose.iter().cloned());
            if stage.entrypoint.is_some() {
                config.entrypoint = stage.entrypoint.clone();
                // Docker clears an inherited CMD when a stage sets its own ENTRYPOINT.
                config.cmd = None;
            }
            if stage.cmd.is_some() {
                config.cmd = stage.cmd.clone();
            }
            if stage.healthcheck.is_some() {
                config.healthcheck = stage.healthcheck.clone();
            }
            if stage.user.is_some() {
                config.user = stage.user.clone();
            }
            if stage.workdir.is_some() {
                config.workdir = stage.workdir.clone();
            }
            config.volumes.extend(stage.volumes.iter().cloned());
        }
        config.context_files = self.context_files(index, 0);
        for &i in &chain {
            if self.stages[i].parent.is_none() {
                config.images.push(self.stages[i].from.value.clone());
            }
        }
        for stage in &self.stages {
            if stage.parent.is_none() && !config.images.contains(&stage.from.value) {
                config.images.push(stage.from.value.clone());
            }
        }
        Some(config)
    }

    /// Files of the build context in the image of stage `index`: its chain's copies from
    /// the context, and what `COPY --from` of another stage takes of that stage's context
    /// files. `depth` bounds the walk through stages.
    fn context_files(&self, index: usize, depth: usize) -> Vec<Fact<(String, String)>> {
        let mut chain = vec![index];
        while let Some(parent) = chain.last().and_then(|i| self.stages.get(*i)?.parent) {
            if chain.contains(&parent) || chain.len() > self.stages.len() {
                break;
            }
            chain.push(parent);
        }
        let mut found: Vec<Fact<(String, String)>> = Vec::new();
        for &i in chain.iter().rev() {
            for copy in &self.stages[i].copies {
                let Copied { sources, dest, from } = &copy.value;
                let from_stage = from.as_deref().and_then(|f| {
                    f.parse::<usize>()
                        .ok()
                        .filter(|n| *n < self.stages.len())
                        .or_else(|| self.stage_index(f))
                });
                match (from, from_stage) {
                    (None, _) => {
                        for source in sources {
                            let source = normalize_context(source);
                            let target = copy_target(dest, &source, sources.len());
                            found.push(Fact { value: (source, target), line: copy.line });
                        }
                    }
                    (Some(_), Some(other)) if depth < 4 && other != index => {
                        let theirs = self.context_files(other, depth + 1);
                        for source in sources {
                            for file in &theirs {
                                let (context, in_image) = &file.value;
                                if let Some(rest) = under(source, in_image) {
                                    // A file (or folder) inside what the other stage copied.
                                    let context = join_context(context, rest);
                                    let name = source.rsplit('/').next().unwrap_or(source);
                                    let target = if dest.ends_with('/') || sources.len() > 1 {
                                        format!("{}/{name}", dest.trim_end_matches('/'))
                                    } else {
                                        dest.clone()
                                    };
                                    found.push(Fact { value: (context, target), line: copy.line });
                                } else if let Some(rest) = under(in_image, source) {
                                    // A folder that holds what the other stage copied.
                                    let target = format!("{}/{rest}", dest.trim_end_matches('/'));
                                    let value = (context.clone(), target);
                                    found.push(Fact { value, line: copy.line });
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        found
    }

    fn stage_index(&self, name: &str) -> Option<usize> {
        self.stages
            .iter()
            .position(|s| s.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(name)))
    }
}

const KNOWN_INSTRUCTIONS: [&str; 18] = [
    "FROM",
    "RUN",
    "CMD",
    "LABEL",
    "MAINTAINER",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ARG",
    "ONBUILD",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
];

/// Ports beyond this in one `EXPOSE` range are not listed one by one (a note says so).
pub(crate) const MAX_RANGE: u32 = 100;

/// Most ports a stage (and a compose service) takes; more are left out with a note. Each port
/// becomes a port, a service and a check in the job: `EXPOSE 1 2 3 ... 10000` made a 2.7 MB
/// job.
pub(crate) const MAX_PORTS: usize = 100;

/// Most variables (`ENV`), volumes (`VOLUME`) and copies (`COPY`, `ADD`) a stage takes; the
/// rest are left out with a note. Far above real stages, low enough that one file cannot make
/// a job of thousands of lines.
const MAX_ENTRIES: usize = 500;

/// Most stages of one Dockerfile read; the rest are left out with a note (each stage inherits
/// its parent's settings, so thousands of them cost time for nothing real).
const MAX_STAGES: usize = 64;

static DIRECTIVE: LazyLock<Pattern> =
    LazyLock::new(|| Pattern::new(r"^#\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(.*?)\s*$"));

static HEREDOC: LazyLock<Pattern> = LazyLock::new(|| {
    Pattern::new(
        r#"<<(-?)(?:"([A-Za-z_][A-Za-z0-9_]*)"|'([A-Za-z_][A-Za-z0-9_]*)'|([A-Za-z_][A-Za-z0-9_]*))"#,
    )
});

/// One instruction as written: keyword, arguments (continuations joined), first line.
struct Instruction {
    keyword: String,
    args: String,
    line: u32,
}

/// Parses a Dockerfile. `build_args` override `ARG` defaults (compose `build.args`).
pub fn parse(
    path: &str,
    text: &str,
    build_args: &[(String, String)],
    notes: &mut Vec<Note>,
) -> Dockerfile {
    let lines: Vec<&str> = text.lines().collect();
    let (escape, first) = directives(path, &lines, notes);
    let instructions = instructions(path, &lines, first, escape, notes);
    let mut file = Dockerfile { path: path.to_string(), stages: Vec::new() };
    let overrides: HashMap<&str, &str> =
        build_args.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut global_args: HashMap<String, String> = HashMap::new();
    let mut declared_global: Vec<String> = Vec::new();
    // Variables in scope in the current stage: its ARGs, then ENV (ENV wins).
    let mut stage_args: HashMap<String, String> = HashMap::new();
    let mut stage_env: HashMap<String, String> = HashMap::new();
    let mut warned_before_from = false;
    // (stage, instruction) pairs whose cap was already noted: a note per stage, not per line.
    let mut capped: Vec<(usize, &'static str)> = Vec::new();
    let over: RefCell<Substitutions> = RefCell::default();

    for ins in instructions {
        let line = ins.line;
        let keyword = ins.keyword.as_str();
        if !KNOWN_INSTRUCTIONS.contains(&keyword) {
            notes.push(Note::line(path, line, format!("unknown instruction `{}`", ins.keyword)));
            continue;
        }
        if keyword == "ARG" {
            for (name, default) in arg_declarations(&ins.args) {
                let value = overrides
                    .get(name.as_str())
                    .map(|v| v.to_string())
                    .or(default.map(|d| {
                        let lookup = |n: &str| lookup_in(n, &stage_env, &stage_args, &global_args);
                        substituted(&d, escape, &lookup, line, &over)
                    }))
                    .or_else(|| global_args.get(&name).cloned());
                if file.stages.is_empty() {
                    declared_global.push(name.clone());
                    if let Some(value) = value {
                        global_args.insert(name, value);
                    }
                } else if let Some(value) = value {
                    stage_args.insert(name, value);
                }
            }
            continue;
        }
        if keyword == "FROM" {
            let from = from_instruction(&ins.args, line, &global_args, escape, &file, &over);
            let Some(stage) = from else {
                notes.push(Note::line(path, line, "FROM names no image"));
                continue;
            };
            if let Some(parent) = stage.parent {
                stage_env = file.stages[parent]
                    .env
                    .iter()
                    .map(|e| (e.value.0.clone(), e.value.1.clone()))
                    .collect();
                // Inherited ENV of the parent's own ancestors.
                let mut ancestor = file.stages[parent].parent;
                while let Some(a) = ancestor {
                    for e in &file.stages[a].env {
                        stage_env.entry(e.value.0.clone()).or_insert_with(|| e.value.1.clone());
                    }
                    ancestor = file.stages[a].parent;
                }
            } else {
                stage_env.clear();
            }
            stage_args.clear();
            if file.stages.len() == MAX_STAGES {
                notes.push(Note::line(
                    path,
                    line,
                    format!("this stage and the ones after it are not read: a Dockerfile is read up to {MAX_STAGES} stages"),
                ));
                break;
            }
            file.stages.push(stage);
            continue;
        }
        let stage_index = file.stages.len().saturating_sub(1);
        let Some(stage) = file.stages.last_mut() else {
            if !warned_before_from {
                notes.push(Note::line(
                    path,
                    line,
                    format!("`{keyword}` before the first FROM; the file does not start a stage"),
                ));
                warned_before_from = true;
            }
            continue;
        };
        let subst = |text: &str, env: &HashMap<String, String>| {
            let lookup = |n: &str| lookup_in(n, env, &stage_args, &HashMap::new());
            substituted(text, escape, &lookup, line, &over)
        };
        match keyword {
            "ENV" => {
                let pairs = env_pairs(&ins.args, escape);
                if pairs.is_empty() {
                    notes.push(Note::line(path, line, "ENV sets no variable"));
                }
                for (name, raw) in pairs {
                    let new = !stage.env.iter().any(|e| e.value.0 == name);
                    if new && stage.env.len() >= MAX_ENTRIES {
                        if first_cut(&mut capped, stage_index, "ENV") {
                            let why = format!(
                                "ENV {name}: a stage takes at most {MAX_ENTRIES} variables; this \
                                 one and the stage's later ones are left out"
                            );
                            notes.push(Note::line(path, line, why));
                        }
                        continue;
                    }
                    let value = subst(&raw, &stage_env);
                    stage_env.insert(name.clone(), value.clone());
                    stage.env.retain(|e| e.value.0 != name);
                    stage.env.push(Fact { value: (name, value), line });
                }
            }
            "EXPOSE" => {
                let mut left_out = 0;
                for written in ins.args.split_whitespace() {
                    let room = MAX_PORTS.saturating_sub(stage.expose.len());
                    if room == 0 {
                        left_out += 1;
                        continue;
                    }
                    let word = subst(written, &stage_env);
                    if word.is_empty() {
                        let why = format!("EXPOSE {written}: the variable is not set");
                        notes.push(Note::line(path, line, why));
                        continue;
                    }
                    match exposed_ports(&word) {
                        Ok((ports, cut)) => {
                            if let Some(why) = cut {
                                notes.push(Note::line(path, line, why));
                            }
                            left_out += ports.len().saturating_sub(room);
                            let kept = ports.into_iter().take(room);
                            stage.expose.extend(kept.map(|p| Fact { value: p, line }));
                        }
                        Err(why) => notes.push(Note::line(path, line, why)),
                    }
                }
                if left_out > 0 && first_cut(&mut capped, stage_index, "EXPOSE") {
                    notes.push(Note::line(
                        path,
                        line,
                        format!(
                            "EXPOSE: {left_out} more ports left out, and any the stage exposes \
                             later; a stage takes at most {MAX_PORTS}"
                        ),
                    ));
                }
            }
            "CMD" => stage.cmd = Some(Fact { value: command(&ins.args), line }),
            "ENTRYPOINT" => stage.entrypoint = Some(Fact { value: command(&ins.args), line }),
            "HEALTHCHECK" => match healthcheck(&ins.args) {
                Some(check) => stage.healthcheck = Some(Fact { value: check, line }),
                None => notes.push(Note::line(path, line, "HEALTHCHECK without NONE or CMD")),
            },
            "USER" => {
                let user = subst(ins.args.trim(), &stage_env);
                stage.user = Some(Fact { value: user, line });
            }
            "WORKDIR" => {
                let dir = subst(ins.args.trim(), &stage_env);
                let dir = if dir.starts_with('/') {
                    dir
                } else {
                    let base = stage.workdir.as_ref().map_or("/", |w| w.value.as_str());
                    format!("{}/{dir}", base.trim_end_matches('/'))
                };
                stage.workdir = Some(Fact { value: dir, line });
            }
            "COPY" | "ADD" => {
                let workdir = effective_workdir(&file.stages);
                if let Some(stage) = file.stages.last_mut() {
                    if stage.copies.len() >= MAX_ENTRIES {
                        if first_cut(&mut capped, stage_index, "COPY") {
                            let why = format!(
                                "{keyword}: a stage takes at most {MAX_ENTRIES} copies; this one \
                                 and the stage's later ones are left out"
                            );
                            notes.push(Note::line(path, line, why));
                        }
                    } else if let Some(copied) = copy_instruction(&ins.args, &workdir, escape) {
                        stage.copies.push(Fact { value: copied, line });
                    }
                }
                continue;
            }
            "VOLUME" => {
                let args = ins.args.trim();
                let paths = if args.starts_with('[') {
                    match serde_json::from_str::<Vec<String>>(args) {
                        Ok(paths) => paths,
                        Err(err) => {
                            notes.push(Note::line(path, line, format!("VOLUME list: {err}")));
                            Vec::new()
                        }
                    }
                } else {
                    args.split_whitespace().map(str::to_string).collect()
                };
                for p in paths {
                    if stage.volumes.len() >= MAX_ENTRIES {
                        if first_cut(&mut capped, stage_index, "VOLUME") {
                            let why = format!(
                                "VOLUME {p}: a stage takes at most {MAX_ENTRIES} volumes; this \
                                 one and the stage's later ones are left out"
                            );
                            notes.push(Note::line(path, line, why));
                        }
                        break;
                    }
                    stage.volumes.push(Fact { value: subst(&p, &stage_env), line });
                }
            }
            _ => {}
        }
    }
    for (line, bound) in over.into_inner().over {
        notes.push(Note::line(
            path,
            line,
            format!("value not substituted, kept as written: {bound}"),
        ));
    }
    if file.stages.is_empty() {
        notes.push(Note::file(path, "no FROM instruction: not a Dockerfile this tool can read"));
    }
    file
}

/// The substitutions of one Dockerfile: the bound they share, and the values over a bound by
/// line (noted once the instructions are read; the file's bound once).
#[derive(Default)]
struct Substitutions {
    file: FileSubstitution,
    over: Vec<(u32, Bound)>,
}

/// Substitutes `text` as Docker does; a value over a bound is kept as written and recorded in
/// `over` with its line.
fn substituted(
    text: &str,
    escape: char,
    lookup: &dyn Fn(&str) -> Option<String>,
    line: u32,
    over: &RefCell<Substitutions>,
) -> String {
    let mut subs = over.borrow_mut();
    let done = subs.file.substitute(text, Dollar::Escaped(escape), lookup, false);
    if let Some(bound) = done.over {
        if bound != Bound::File || !subs.over.iter().any(|(_, b)| *b == Bound::File) {
            subs.over.push((line, bound));
        }
    }
    done.text
}

/// Whether this is the first time `what` goes over its cap in `stage` (and records it).
fn first_cut(capped: &mut Vec<(usize, &'static str)>, stage: usize, what: &'static str) -> bool {
    if capped.contains(&(stage, what)) {
        return false;
    }
    capped.push((stage, what));
    true
}

/// The `WORKDIR` in force at the end of the last stage (its own, else its ancestors').
fn effective_workdir(stages: &[Stage]) -> String {
    let mut index = stages.len().checked_sub(1);
    let mut steps = 0;
    while let Some(i) = index {
        if let Some(workdir) = &stages[i].workdir {
            return workdir.value.clone();
        }
        index = stages[i].parent;
        steps += 1;
        if steps > stages.len() {
            break;
        }
    }
    "/".to_string()
}

/// `COPY [--from=x] [--chown=..] src... dest` or the JSON form; `None` for heredoc copies and
/// remote sources.
fn copy_instruction(args: &str, workdir: &str, escape: char) -> Option<Copied> {
    let trimmed = args.trim();
    let mut words: Vec<String> = if trimmed.starts_with('[') {
        serde_json::from_str::<Vec<String>>(trimmed).ok()?
    } else {
        shell_words(trimmed, escape)
    };
    let mut from = None;
    words.retain(|w| match w.strip_prefix("--") {
        Some(flag) => {
            if let Some(stage) = flag.strip_prefix("from=") {
                from = Some(stage.to_string());
            }
            false
        }
        None => true,
    });
    if words.len() < 2 || words.iter().any(|w| w.starts_with("<<") || w.contains("://")) {
        return None;
    }
    let dest = words.pop()?;
    let dest = if dest.starts_with('/') {
        dest
    } else {
        let base = workdir.trim_end_matches('/');
        match dest.as_str() {
            "." | "./" => format!("{base}/"),
            _ => format!("{base}/{}", dest.trim_start_matches("./")),
        }
    };
    Some(Copied { sources: words, dest, from })
}

/// A context path as the analyzer writes paths: `./a/b/` → `a/b`, `.` or `./` → `.`.
fn normalize_context(source: &str) -> String {
    let trimmed = source.trim_start_matches("./").trim_end_matches('/');
    if trimmed.is_empty() || trimmed == "." || trimmed == "*" {
        ".".to_string()
    } else {
        trimmed.to_string()
    }
}

/// Where `source` lands for a copy to `dest`: a folder destination (ending in `/`, or one of
/// several sources) keeps the file's name; the whole context lands at the folder itself.
fn copy_target(dest: &str, source: &str, sources: usize) -> String {
    if source == "." {
        let folder = dest.trim_end_matches('/');
        return if folder.is_empty() { "/".to_string() } else { folder.to_string() };
    }
    if dest.ends_with('/') || sources > 1 {
        let name = source.rsplit('/').next().unwrap_or(source);
        format!("{}/{name}", dest.trim_end_matches('/'))
    } else {
        dest.to_string()
    }
}

/// A path below a context path (`.` is the context itself).
fn join_context(context: &str, rest: &str) -> String {
    match (context, rest) {
        (context, "") => context.to_string(),
        (".", rest) => rest.to_string(),
        (context, rest) => format!("{context}/{rest}"),
    }
}

/// The rest of `path` below `prefix` (`""` when they are equal), or `None`.
fn under<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    let prefix = prefix.trim_end_matches('/');
    if path == prefix {
        return Some("");
    }
    path.strip_prefix(prefix)?.strip_prefix('/')
}

fn lookup_in(
    name: &str,
    env: &HashMap<String, String>,
    args: &HashMap<String, String>,
    global: &HashMap<String, String>,
) -> Option<String> {
    env.get(name).or_else(|| args.get(name)).or_else(|| global.get(name)).cloned()
}

/// Reads the parser directives at the top; returns the escape character and the first line
/// after them.
fn directives(path: &str, lines: &[&str], notes: &mut Vec<Note>) -> (char, usize) {
    let mut escape = '\\';
    let mut index = 0;
    while let Some(line) = lines.get(index) {
        // A directive is a comment; a Dockerfile without one at the top compiles nothing here.
        if !line.trim_start().starts_with('#') {
            break;
        }
        let Some(captures) = DIRECTIVE.captures(line) else { break };
        let name = captures[1].to_ascii_lowercase();
        let value = &captures[2];
        if name == "escape" {
            match value {
                "\\" => escape = '\\',
                "`" => escape = '`',
                other => notes.push(Note::line(
                    path,
                    index as u32 + 1,
                    format!("escape directive `{other}` is not \\ or `; keeping \\"),
                )),
            }
        }
        index += 1;
    }
    (escape, index)
}

/// Splits the file into instructions: comments dropped, continuations joined, heredoc bodies
/// skipped.
fn instructions(
    path: &str,
    lines: &[&str],
    first: usize,
    escape: char,
    notes: &mut Vec<Note>,
) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut i = first;
    while i < lines.len() {
        let trimmed = lines[i].trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            i += 1;
            continue;
        }
        let start = i;
        let mut logical = String::new();
        loop {
            let current = lines[i].trim_end();
            i += 1;
            match current.strip_suffix(escape) {
                Some(joined) => {
                    logical.push_str(joined);
                    // Comment and blank lines inside a continued instruction are dropped.
                    while i < lines.len() {
                        let next = lines[i].trim_start();
                        if next.is_empty() || next.starts_with('#') {
                            i += 1;
                        } else {
                            break;
                        }
                    }
                    if i >= lines.len() {
                        break;
                    }
                }
                None => {
                    logical.push_str(current);
                    break;
                }
            }
        }
        let logical = logical.trim_start();
        let (keyword, args) = match logical.find(char::is_whitespace) {
            Some(split) => (&logical[..split], logical[split..].trim_start()),
            None => (logical, ""),
        };
        let keyword = keyword.to_ascii_uppercase();
        if matches!(keyword.as_str(), "RUN" | "COPY" | "ADD") && args.contains("<<") {
            for captures in HEREDOC.captures_iter(args) {
                let before = &args[..captures.get(0).map_or(0, |m| m.start())];
                let quoted = |q: char| before.matches(q).count() % 2 == 1;
                if quoted('"') || quoted('\'') {
                    // `echo "a <<b"` is text, not a heredoc.
                    continue;
                }
                let strip_tabs = &captures[1] == "-";
                let word = captures
                    .get(2)
                    .or(captures.get(3))
                    .or(captures.get(4))
                    .map_or("", |m| m.as_str());
                loop {
                    let Some(body) = lines.get(i) else {
                        notes.push(Note::line(
                            path,
                            start as u32 + 1,
                            format!("heredoc `{word}` opened here is never closed"),
                        ));
                        break;
                    };
                    i += 1;
                    let body = if strip_tabs { body.trim_start_matches('\t') } else { body };
                    if body.trim_end() == word {
                        break;
                    }
                }
            }
        }
        out.push(Instruction { keyword, args: args.to_string(), line: start as u32 + 1 });
    }
    out
}

fn from_instruction(
    args: &str,
    line: u32,
    global_args: &HashMap<String, String>,
    escape: char,
    file: &Dockerfile,
    over: &RefCell<Substitutions>,
) -> Option<Stage> {
    let words: Vec<&str> = args.split_whitespace().filter(|w| !w.starts_with("--")).collect();
    let image = words.first()?;
    let lookup = |n: &str| global_args.get(n).cloned();
    let image = substituted(image, escape, &lookup, line, over);
    let name = match (words.get(1), words.get(2)) {
        (Some(as_word), Some(name)) if as_word.eq_ignore_ascii_case("as") => Some(name.to_string()),
        _ => None,
    };
    let parent = file.stage_index(&image);
    Some(Stage { name, from: Fact { value: image, line }, parent, ..Stage::default() })
}

/// `ARG a=1 b` → `[("a", Some("1")), ("b", None)]`.
fn arg_declarations(args: &str) -> Vec<(String, Option<String>)> {
    shell_words(args, '\\')
        .into_iter()
        .map(|word| match word.split_once('=') {
            Some((name, value)) => (name.to_string(), Some(value.to_string())),
            None => (word, None),
        })
        .collect()
}

/// `ENV a=1 b="two words"` or the legacy `ENV a one value`.
fn env_pairs(args: &str, escape: char) -> Vec<(String, String)> {
    let trimmed = args.trim();
    let first = trimmed.split_whitespace().next().unwrap_or("");
    if !first.contains('=') {
        let Some((name, value)) = trimmed.split_once(char::is_whitespace) else {
            return Vec::new();
        };
        return vec![(name.to_string(), unquote(value.trim()))];
    }
    shell_words(trimmed, escape)
        .into_iter()
        .filter_map(|word| word.split_once('=').map(|(n, v)| (n.to_string(), v.to_string())))
        .collect()
}

fn unquote(value: &str) -> String {
    let bytes = value.as_bytes();
    if bytes.len() >= 2
        && (bytes[0] == b'"' || bytes[0] == b'\'')
        && bytes[bytes.len() - 1] == bytes[0]
    {
        value[1..value.len() - 1].to_string()
    } else {
        value.to_string()
    }
}

/// `80`, `80/tcp`, `53/udp`, `8000-8002`, `8000-8002/udp`; with the note to make when a range
/// was cut at [`MAX_RANGE`] ports.
pub(crate) fn exposed_ports(word: &str) -> Result<(Vec<ExposedPort>, Option<String>), String> {
    let (range, protocol) = match word.split_once('/') {
        Some((range, protocol)) => (range, protocol.to_ascii_lowercase()),
        None => (word, "tcp".to_string()),
    };
    let udp = match protocol.as_str() {
        "tcp" => false,
        "udp" => true,
        other => return Err(format!("EXPOSE {word}: unknown protocol `{other}`")),
    };
    let bad = || format!("EXPOSE {word}: not a port or port range");
    let (low, high) = match range.split_once('-') {
        Some((low, high)) => (low, high),
        None => (range, range),
    };
    let low: u16 = low.trim().parse().map_err(|_| bad())?;
    let high: u16 = high.trim().parse().map_err(|_| bad())?;
    if low == 0 || high < low {
        return Err(bad());
    }
    let (high, cut) = cut_range(low, high);
    Ok((
        (low..=high).map(|port| ExposedPort { port, udp }).collect(),
        cut.map(|why| format!("EXPOSE {word}: {why}")),
    ))
}

/// The last port kept of the range `low..=high`, with why when it is not `high`.
pub(crate) fn cut_range(low: u16, high: u16) -> (u16, Option<String>) {
    let last = high.min(low.saturating_add((MAX_RANGE - 1) as u16));
    let why = (last < high).then(|| {
        let written = u32::from(high) - u32::from(low) + 1;
        format!("a range of {written} ports; only its first {MAX_RANGE} are kept")
    });
    (last, why)
}

fn command(args: &str) -> Command {
    let trimmed = args.trim();
    if trimmed.starts_with('[') {
        if let Ok(words) = serde_json::from_str::<Vec<String>>(trimmed) {
            return Command::Exec(words);
        }
    }
    Command::Shell(trimmed.to_string())
}

fn healthcheck(args: &str) -> Option<Healthcheck> {
    let trimmed = args.trim();
    if trimmed.eq_ignore_ascii_case("none") {
        return Some(Healthcheck::Disabled);
    }
    let mut rest = trimmed;
    while rest.starts_with("--") {
        let end = rest.find(char::is_whitespace)?;
        rest = rest[end..].trim_start();
    }
    let (word, command_text) = rest.split_once(char::is_whitespace)?;
    word.eq_ignore_ascii_case("cmd").then(|| Healthcheck::Check(command(command_text)))
}

static URL_LIKE: LazyLock<Pattern> = LazyLock::new(|| {
    Pattern::new(r"^(?:(https?)://)?(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+)(?::(\d+))?(/[^\s]*)?$")
});

/// The health check a check command performs: `curl`/`wget` of a URL gives an HTTP check
/// (path and port), `grpc_health_probe` a gRPC check, a port probe (`nc -z`, `pg_isready`,
/// `redis-cli ping`, ...) a TCP check; a script gives none.
pub fn health_from_check(words: &[String]) -> Option<Health> {
    let tokens: Vec<String> = words
        .iter()
        .flat_map(|w| w.split_whitespace())
        .map(|t| t.trim_matches(|c| c == '"' || c == '\'').to_string())
        .collect();
    let program = |name: &str| tokens.iter().any(|t| t.rsplit('/').next() == Some(name));
    if program("curl") || program("wget") {
        for token in &tokens {
            if token.starts_with('-') {
                continue;
            }
            let Some(captures) = URL_LIKE.captures(token) else { continue };
            let host = &captures[2];
            let has_scheme = captures.get(1).is_some();
            let local = matches!(host, "localhost" | "127.0.0.1" | "0.0.0.0" | "[::1]");
            if !has_scheme && !local {
                continue;
            }
            let port = captures.get(3).and_then(|p| p.as_str().parse().ok());
            let path = captures.get(4).map_or("/", |p| p.as_str()).to_string();
            return Some(Health { kind: HealthKind::Http, path: Some(path), port });
        }
        return None;
    }
    if program("grpc_health_probe") || program("grpc-health-probe") {
        let port = tokens.iter().find_map(|t| {
            let addr = t.strip_prefix("-addr=").or(t.strip_prefix("--addr="))?;
            addr.rsplit(':').next()?.parse().ok()
        });
        return Some(Health { kind: HealthKind::Grpc, path: None, port });
    }
    let probes = ["pg_isready", "redis-cli", "mysqladmin", "mongosh", "nc"];
    if probes.iter().any(|p| program(p)) {
        let port = if program("nc") {
            tokens.iter().rev().find_map(|t| t.parse::<u16>().ok())
        } else {
            None
        };
        return Some(Health { kind: HealthKind::Tcp, path: None, port });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> (Dockerfile, Vec<Note>) {
        let mut notes = Vec::new();
        let file = parse("Dockerfile", text, &[], &mut notes);
        (file, notes)
    }

    fn final_config(text: &str) -> ImageConfig {
        let (file, _) = parsed(text);
        file.config(None, &mut Vec::new()).unwrap_or_default()
    }

    fn ports(config: &ImageConfig) -> Vec<(u16, bool, u32)> {
        config.expose.iter().map(|p| (p.value.port, p.value.udp, p.line)).collect()
    }

    #[test]
    fn expose_forms() {
        let config = final_config(
            "FROM alpine\nEXPOSE 80 443/tcp\nEXPOSE 53/udp 9000-9002\nEXPOSE 7000-7001/UDP\n",
        );
        assert_eq!(
            ports(&config),
            [
                (80, false, 2),
                (443, false, 2),
                (53, true, 3),
                (9000, false, 3),
                (9001, false, 3),
                (9002, false, 3),
                (7000, true, 4),
                (7001, true, 4)
            ]
        );
    }

    #[test]
    fn arg_and_env_substitution() {
        let text = "ARG BASE=node:20\nFROM ${BASE} AS dev\nARG PORT=80\nENV PORT $PORT\n\
                    ENV A=${MISSING:-3000} B=${PORT:+set} C=\"two words\"\nEXPOSE $PORT ${A}\n";
        let config = final_config(text);
        assert_eq!(config.base_image.as_ref().map(|b| b.value.as_str()), Some("node:20"));
        assert_eq!(ports(&config), [(80, false, 6), (3000, false, 6)]);
        let env: Vec<(&str, &str)> =
            config.env.iter().map(|e| (e.value.0.as_str(), e.value.1.as_str())).collect();
        assert_eq!(env, [("PORT", "80"), ("A", "3000"), ("B", "set"), ("C", "two words")]);
    }

    #[test]
    fn build_args_override_arg_defaults() {
        let mut notes = Vec::new();
        let args = [("PORT".to_string(), "8081".to_string())];
        let file = parse("Dockerfile", "FROM x\nARG PORT=80\nEXPOSE $PORT\n", &args, &mut notes);
        let config = file.config(None, &mut notes).unwrap_or_default();
        assert_eq!(ports(&config), [(8081, false, 3)]);
    }

    #[test]
    fn stages_inherit_and_target_picks_one() {
        let text = "FROM golang:1.22 AS build\nENV CGO_ENABLED=0\nEXPOSE 8080\nCMD [\"go\",\"run\",\".\"]\n\
                    FROM build AS dev\nUSER app\n\
                    FROM scratch\nCOPY --from=build /out /app\nENTRYPOINT [\"/app\"]\n";
        let (file, notes) = parsed(text);
        assert!(notes.is_empty(), "{notes:?}");
        let mut notes = Vec::new();
        let dev = file.config(Some("dev"), &mut notes).unwrap_or_default();
        assert_eq!(dev.base_image.as_ref().map(|b| b.value.as_str()), Some("golang:1.22"));
        assert_eq!(ports(&dev), [(8080, false, 3)]);
        assert_eq!(dev.user.map(|u| (u.value, u.line)), Some(("app".into(), 6)));
        assert_eq!(
            dev.cmd.map(|c| c.value),
            Some(Command::Exec(vec!["go".into(), "run".into(), ".".into()]))
        );
        let last = file.config(None, &mut notes).unwrap_or_default();
        assert_eq!(last.base_image.as_ref().map(|b| b.value.as_str()), Some("scratch"));
        assert!(last.expose.is_empty());
        assert_eq!(last.images, ["scratch", "golang:1.22"]);
        assert_eq!(last.command().map(|c| c.value), Some(vec!["/app".to_string()]));
        assert!(notes.is_empty());
        file.config(Some("nope"), &mut notes);
        assert!(notes[0].message.contains("`nope` is not a stage"));
    }

    #[test]
    fn continuations_comments_heredocs_and_escape_directive() {
        let text = "# syntax=docker/dockerfile:1.4\n# escape=`\n\nFROM alpine\nRUN echo a `\n  # a comment\n  && echo b\nRUN <<EOF\nEXPOSE 1\nEOF\nRUN <<-\"END\" cat\n\tEXPOSE 2\n\tEND\nEXPOSE `\n  8080\nCMD echo \"hi\"\n";
        let (file, notes) = parsed(text);
        assert!(notes.is_empty(), "{notes:?}");
        let config = file.config(None, &mut Vec::new()).unwrap_or_default();
        assert_eq!(ports(&config), [(8080, false, 14)]);
        assert_eq!(
            config.cmd.map(|c| (c.value, c.line)),
            Some((Command::Shell("echo \"hi\"".into()), 16))
        );
    }

    #[test]
    fn healthchecks() {
        let cases: [(&str, Option<Healthcheck>); 4] = [
            ("HEALTHCHECK NONE", Some(Healthcheck::Disabled)),
            (
                "HEALTHCHECK --interval=30s --timeout=3s CMD curl -f http://localhost:8080/healthz || exit 1",
                Some(Healthcheck::Check(Command::Shell(
                    "curl -f http://localhost:8080/healthz || exit 1".into(),
                ))),
            ),
            (
                "HEALTHCHECK CMD [\"wget\", \"-qO-\", \"localhost:3000/ready\"]",
                Some(Healthcheck::Check(Command::Exec(vec![
                    "wget".into(),
                    "-qO-".into(),
                    "localhost:3000/ready".into(),
                ]))),
            ),
            ("HEALTHCHECK --interval=5s", None),
        ];
        for (line, expected) in cases {
            let (file, notes) = parsed(&format!("FROM x\n{line}\n"));
            let got = file.stages[0].healthcheck.as_ref().map(|h| h.value.clone());
            assert_eq!(got, expected, "{line}");
            assert_eq!(notes.is_empty(), expected.is_some(), "{line}: {notes:?}");
        }
    }

    #[test]
    fn health_from_check_commands() {
        let http = |path: &str, port| {
            Some(Health { kind: HealthKind::Http, path: Some(path.into()), port })
        };
        let cases: [(&str, Option<Health>); 7] = [
            ("curl -f http://localhost:8080/healthz || exit 1", http("/healthz", Some(8080))),
            (
                "curl --silent --fail localhost:9200/_cluster/health || exit 1",
                http("/_cluster/health", Some(9200)),
            ),
            ("wget -q --spider http://127.0.0.1/", http("/", None)),
            (
                "grpc_health_probe -addr=:50051",
                Some(Health { kind: HealthKind::Grpc, path: None, port: Some(50051) }),
            ),
            (
                "pg_isready -U postgres",
                Some(Health { kind: HealthKind::Tcp, path: None, port: None }),
            ),
            ("node healthcheck.js", None),
            ("curl -f $URL", None),
        ];
        for (check, expected) in cases {
            assert_eq!(health_from_check(&[check.to_string()]), expected, "{check}");
        }
    }

    #[test]
    fn malformed_input_gives_notes_not_panics() {
        let cases = [
            ("", "no FROM"),
            ("RUN echo\nFROM x\n", "before the first FROM"),
            ("FROM\n", "FROM names no image"),
            ("FROM x\nEXPOSE eighty\n", "not a port"),
            ("FROM x\nEXPOSE 80/sctp\n", "unknown protocol"),
            ("FROM x\nFROBNICATE y\n", "unknown instruction"),
            ("FROM x\nRUN <<EOF\necho\n", "never closed"),
            ("FROM x\nVOLUME [\"/data\"\n", "VOLUME list"),
            ("# escape=x\nFROM x\n", "escape directive"),
            ("FROM x\nEXPOSE 99999\n", "not a port"),
            ("FROM x\nEXPOSE $PORT\n", "EXPOSE $PORT: the variable is not set"),
            ("FROM x\nRUN echo \\", ""),
            ("FROM x\nRUN echo \"a <<EOF\"\nEXPOSE 80\n", ""),
        ];
        for (text, expected) in cases {
            let (_, notes) = parsed(text);
            if expected.is_empty() {
                assert!(notes.is_empty(), "{text:?}: {notes:?}");
            } else {
                assert!(notes.iter().any(|n| n.message.contains(expected)), "{text:?}: {notes:?}");
            }
        }
    }

    /// Deterministic pseudo-random sequence for the no-panic test.
    fn lcg(state: &mut u64) -> usize {
        *state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (*state >> 33) as usize
    }

    #[test]
    fn a_value_nested_past_the_bound_is_kept_as_written_with_a_note() {
        let value = format!("{}x{}", "${A:-".repeat(20_000), "}".repeat(20_000));
        let text = format!("FROM alpine\nENV B={value} C=${{A:-3}}\nEXPOSE ${{P:-80}}\n");
        let mut notes = Vec::new();
        let file = parse("Dockerfile", &text, &[], &mut notes);
        let env: Vec<_> = file.stages[0].env.iter().map(|e| e.value.clone()).collect();
        assert_eq!(env, [("B".to_string(), value), ("C".to_string(), "3".to_string())]);
        assert_eq!(file.stages[0].expose[0].value.port, 80);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!((notes[0].file.as_deref(), notes[0].line), (Some("Dockerfile"), Some(2)));
        assert!(notes[0].message.contains("nested more than 32 levels"), "{notes:?}");
    }

    #[test]
    fn ports_and_stages_are_capped_with_a_note() {
        // Issue 13: `EXPOSE 1 2 3 ... 10000` became a job with 10,000 ports.
        let words: Vec<String> = (1..=10_000).map(|p| p.to_string()).collect();
        let text = format!("FROM alpine\nEXPOSE {}\nEXPOSE 20000-29999/udp\n", words.join(" "));
        let mut notes = Vec::new();
        let file = parse("Dockerfile", &text, &[], &mut notes);
        let ports: Vec<u16> = file.stages[0].expose.iter().map(|p| p.value.port).collect();
        assert_eq!(ports, (1..=100).collect::<Vec<u16>>());
        let messages: Vec<(Option<u32>, &str)> =
            notes.iter().map(|n| (n.line, n.message.as_str())).collect();
        assert_eq!(
            messages,
            [(
                Some(2),
                "EXPOSE: 9900 more ports left out, and any the stage exposes later; a stage \
                     takes at most 100"
            ),]
        );
        let mut notes = Vec::new();
        let file = parse("Dockerfile", "FROM alpine\nEXPOSE 8000-8999/udp 80\n", &[], &mut notes);
        assert_eq!(file.stages[0].expose.len(), 100);
        assert_eq!(file.stages[0].expose[99].value, ExposedPort { port: 8099, udp: true });
        assert_eq!(
            notes[0].message,
            "EXPOSE 8000-8999/udp: a range of 1000 ports; only its first 100 are kept"
        );
        assert_eq!(
            notes[1].message,
            "EXPOSE: 1 more ports left out, and any the stage exposes later; a stage takes at \
             most 100"
        );

        let lines: String =
            (0..600).map(|i| format!("ENV V{i}=x\nVOLUME /v{i}\nCOPY a{i} /a{i}\n")).collect();
        let mut notes = Vec::new();
        let file = parse("Dockerfile", &format!("FROM alpine\n{lines}ENV V0=y\n"), &[], &mut notes);
        let stage = &file.stages[0];
        assert_eq!((stage.env.len(), stage.volumes.len(), stage.copies.len()), (500, 500, 500));
        assert_eq!(stage.env.last().map(|e| e.value.clone()), Some(("V0".into(), "y".into())));
        let messages: Vec<(Option<u32>, &str)> =
            notes.iter().map(|n| (n.line, n.message.as_str())).collect();
        assert_eq!(
            messages,
            [
                (
                    Some(1502),
                    "ENV V500: a stage takes at most 500 variables; this one and the stage's \
                     later ones are left out"
                ),
                (
                    Some(1503),
                    "VOLUME /v500: a stage takes at most 500 volumes; this one and the stage's \
                     later ones are left out"
                ),
                (
                    Some(1504),
                    "COPY: a stage takes at most 500 copies; this one and the stage's later \
                     ones are left out"
                ),
            ]
        );

        let stages: String = (0..70).map(|i| format!("FROM alpine AS s{i}\n")).collect();
        let mut notes = Vec::new();
        let file = parse("Dockerfile", &stages, &[], &mut notes);
        assert_eq!(file.stages.len(), 64);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(notes[0].line, Some(65));
        assert!(notes[0].message.contains("read up to 64 stages"), "{notes:?}");
    }

    #[test]
    fn random_fragments_never_panic() {
        let fragments = [
            "FROM ",
            "AS ",
            "x",
            " ",
            "\\\n",
            "\n",
            "`",
            "# escape=`\n",
            "${",
            "}",
            "$",
            ":-",
            ":+",
            "EXPOSE ",
            "80",
            "-",
            "/udp",
            "[",
            "]",
            "\"",
            "'",
            "<<",
            "EOF",
            "<<-",
            "\t",
            "HEALTHCHECK ",
            "CMD ",
            "NONE",
            "ARG ",
            "ENV ",
            "=",
            "VOLUME ",
            "WORKDIR ",
            "USER ",
            "RUN ",
            "COPY ",
            "#",
            "é",
            "\r\n",
            "65535",
            "0",
            "99999",
            "FROM x AS y\nFROM y\n",
        ];
        let mut state = 7u64;
        for _ in 0..3000 {
            let len = lcg(&mut state) % 40;
            let text: String =
                (0..len).map(|_| fragments[lcg(&mut state) % fragments.len()]).collect();
            let mut notes = Vec::new();
            let file = parse("Dockerfile", &text, &[], &mut notes);
            let target = file.stages.first().and_then(|s| s.name.clone());
            let _ = file.config(target.as_deref(), &mut notes);
            let _ = file.config(None, &mut notes).map(|c| c.command());
        }
    }

    #[test]
    fn volumes_workdir_and_user() {
        let config = final_config(
            "FROM x\nWORKDIR /srv\nWORKDIR app\nVOLUME [\"/data\", \"/logs\"]\nVOLUME /cache /tmp/x\nUSER 1000:1000\n",
        );
        let volumes: Vec<&str> = config.volumes.iter().map(|v| v.value.as_str()).collect();
        assert_eq!(volumes, ["/data", "/logs", "/cache", "/tmp/x"]);
        assert_eq!(config.workdir.map(|w| w.value), Some("/srv/app".into()));
        assert_eq!(config.user.map(|u| u.value), Some("1000:1000".into()));
    }

    #[test]
    fn copies_follow_the_context_through_stages() {
        let config = final_config(
            "FROM node:20 AS build\nWORKDIR /app\nCOPY package.json ./\nCOPY . .\n\
             FROM nginx:alpine\nCOPY --from=build /app/.nginx/nginx.conf /etc/nginx/conf.d/default.conf\n\
             COPY conf /etc/nginx/conf.d/extra.conf\nWORKDIR /srv\nCOPY [\"a.txt\", \"b.txt\", \"./\"]\n",
        );
        let files: Vec<(&str, &str, u32)> = config
            .context_files
            .iter()
            .map(|f| (f.value.0.as_str(), f.value.1.as_str(), f.line))
            .collect();
        assert_eq!(
            files,
            [
                (".nginx/nginx.conf", "/etc/nginx/conf.d/default.conf", 6),
                ("conf", "/etc/nginx/conf.d/extra.conf", 7),
                ("a.txt", "/srv/a.txt", 9),
                ("b.txt", "/srv/b.txt", 9),
            ]
        );
        let code =
            final_config("FROM python:3\nWORKDIR /code\nCOPY requirements.txt /code\nCOPY . .\n");
        let whole: Vec<(&str, &str)> =
            code.context_files.iter().map(|f| (f.value.0.as_str(), f.value.1.as_str())).collect();
        assert_eq!(whole, [("requirements.txt", "/code"), (".", "/code")]);
    }
}
