//! Whether a generated job would really run an app (issue 12): the per-app expectations of
//! `datasets/apps/<app>.toml` (see `datasets/apps/README.md` for the format and the exact
//! meaning of every check), and the judge that holds them against the jobs of a whole-app
//! generation, read back as Nomad's API JSON by the project's own parser, and against the
//! generator's decisions and unanswered questions.
//!
//! Each expectation is met, explained (it is not met, but a decision about the service says,
//! in the words `or_decision` lists, what could not be done and why) or missing (with what was
//! found instead). Everything here is pure: the generation itself (analysis, build, render,
//! parse) and reading the app files from disk are `cli::whole_app`'s.

mod template;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use self::template::{SecretKey, TemplateText};
use crate::jobspec::answers::Question;
use crate::jobspec::build::Decision;
use crate::jobspec::config::toml_error;
use crate::jobspec::parse::LineIndex;

/// One app file: the app, the answers given to the generator, and the expectations.
#[derive(Debug, Clone, PartialEq)]
pub struct AppFile {
    /// The app's folder under `<corpus>/apps` (`awesome-compose/flask`).
    pub app: String,
    /// `KEY=VALUE` answers, as `--set` takes them, in file order.
    pub answers: Vec<(String, String)>,
    /// The expectations, in file order.
    pub expectations: Vec<Expectation>,
}

/// One thing a right job for the app must do.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// The compose service it is about.
    pub service: String,
    /// Why an operator needs it, in words.
    pub why: String,
    /// Where in the app it is justified (`compose.yaml:38`, `main.go:23, compose.yaml:9`).
    pub at: String,
    /// Words that a decision about the service must all contain to explain a miss.
    pub or_decision: Vec<String>,
    /// What is checked.
    pub check: Check,
    /// The line of the app file where the expectation starts.
    pub line: usize,
}

/// The kinds of check; `datasets/apps/README.md` gives each one's exact meaning.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// A file rendered (or bind-mounted from a template) at a path in the container.
    File(FileCheck),
    /// A container port mapped, checked or not.
    Port(PortCheck),
    /// An environment variable's value or source.
    Env(EnvCheck),
    /// A group volume at a path, or none.
    Volume(VolumeCheck),
    /// The user that owns the volumes and runs the task.
    User(UserCheck),
    /// The task's image.
    Image(ImageCheck),
    /// The service is in no generated job.
    NotDeployed,
    /// A template of the service looks another service up.
    Reaches(ReachCheck),
    /// Two ends of one credential read the same Vault key.
    SameSecret(SameSecretCheck),
    /// The task's command line holds these words.
    Command(CommandCheck),
    /// A key of the task's driver configuration.
    Config(ConfigCheck),
    /// The task's memory is at least this.
    Memory(MemoryCheck),
    /// The task is stopped with this signal (`kill_signal`).
    StopSignal(String),
    /// A decision or question about the service mentions all these words.
    Decided(Vec<String>),
    /// None of these texts is anywhere in the service's group.
    Nowhere(Vec<String>),
}

/// `file = { destination, contains?, lacks?, lookup_of?, secret? }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCheck {
    /// The path in the container.
    pub destination: String,
    /// Substrings the template's data must contain.
    #[serde(default)]
    pub contains: Vec<String>,
    /// Substrings it must not contain.
    #[serde(default)]
    pub lacks: Vec<String>,
    /// A service the data must look up with its address and port.
    pub lookup_of: Option<String>,
    /// The data comes from Vault, and nothing else is written in it.
    #[serde(default)]
    pub secret: bool,
}

/// `port = { container, checked, static? }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortCheck {
    /// The port inside the container.
    pub container: i64,
    /// `true`: the port exists and a check targets it; `false`: no check targets it.
    pub checked: bool,
    /// The host port must be reserved and equal to the container port.
    #[serde(default, rename = "static")]
    pub fixed: bool,
}

/// `env = { name, value? | absent? | lookup_of? | secret? }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvCheck {
    /// The variable.
    pub name: String,
    /// Set to exactly this.
    pub value: Option<String>,
    /// Set nowhere in the group.
    #[serde(default)]
    pub absent: bool,
    /// Set by a template line that looks this service up.
    pub lookup_of: Option<String>,
    /// With `lookup_of`: the app reads the port from this other variable, which must look the
    /// same service up with `.Port`; this one then needs only `.Address`.
    pub port_variable: Option<String>,
    /// With `lookup_of`: the app reads no port at all (the service must listen on its default
    /// port, static); `.Address` alone is right.
    #[serde(default)]
    pub address_only: bool,
    /// Read from Vault, never written as a literal.
    #[serde(default)]
    pub secret: bool,
}

/// `volume = { destination, persistent }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeCheck {
    /// The path in the container.
    pub destination: String,
    /// `true`: a group volume (host or CSI) is mounted there; `false`: nothing that outlives
    /// the allocation is.
    pub persistent: bool,
}

/// `user = "999"` or `user = { id = "999", name = "postgres" }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum UserCheck {
    /// The numeric user.
    Id(String),
    /// The numeric user, and the name the image gives it (a task `user` may use either).
    Named {
        /// The numeric user.
        id: String,
        /// Its name in the image.
        name: String,
    },
}

/// `image = { equals?, repository?, not?, pinned? }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageCheck {
    /// Exactly this image.
    pub equals: Option<String>,
    /// The image without its tag or digest is one of these.
    #[serde(default)]
    pub repository: Vec<String>,
    /// Not this image.
    pub not: Option<String>,
    /// Neither `latest` nor without a tag.
    #[serde(default)]
    pub pinned: bool,
}

/// `reaches = { service, port }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReachCheck {
    /// The service looked up.
    pub service: String,
    /// The lookup must use `.Port` as well as `.Address`.
    pub port: bool,
}

/// `same_secret = { file? | env?, peer, peer_file? | peer_env? }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SameSecretCheck {
    /// This end is a file rendered at this path.
    pub file: Option<String>,
    /// This end is this environment variable.
    pub env: Option<String>,
    /// The service at the other end.
    pub peer: String,
    /// The other end is a file rendered at this path.
    pub peer_file: Option<String>,
    /// The other end is this environment variable.
    pub peer_env: Option<String>,
}

/// `command = { contains }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandCheck {
    /// Substrings of the entrypoint, command and args joined by spaces.
    pub contains: Vec<String>,
}

/// `config = { key, value? | contains? }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigCheck {
    /// The driver configuration key (`runtime`, `cap_add`).
    pub key: String,
    /// The key's value, a string, is exactly this.
    pub value: Option<String>,
    /// Each of these is an element of the key's list, or a key (or `key=value`) of its map.
    #[serde(default)]
    pub contains: Vec<String>,
}

/// `memory = { at_least }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryCheck {
    /// MB.
    pub at_least: i64,
}

/// An expectation as written; `Expectation` once exactly one kind is known to be given.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpectation {
    service: String,
    why: String,
    at: String,
    #[serde(default)]
    or_decision: Vec<String>,
    file: Option<FileCheck>,
    port: Option<PortCheck>,
    env: Option<EnvCheck>,
    volume: Option<VolumeCheck>,
    user: Option<UserCheck>,
    image: Option<ImageCheck>,
    deployed: Option<bool>,
    reaches: Option<ReachCheck>,
    same_secret: Option<SameSecretCheck>,
    command: Option<CommandCheck>,
    config: Option<ConfigCheck>,
    memory: Option<MemoryCheck>,
    stop_signal: Option<String>,
    decided: Option<Vec<String>>,
    nowhere: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAppFile {
    app: String,
    #[serde(default)]
    answers: BTreeMap<String, String>,
    #[serde(default)]
    expect: Vec<toml::Spanned<RawExpectation>>,
}

impl AppFile {
    /// Reads an app file; `file` names it in errors, which carry the line.
    pub fn parse(text: &str, file: &str) -> anyhow::Result<AppFile> {
        let raw: RawAppFile = toml::from_str(text).map_err(|err| toml_error(text, file, &err))?;
        anyhow::ensure!(
            !raw.app.trim().is_empty() && !raw.app.split('/').any(|part| part == ".."),
            "{file}: `app` must name a folder under <corpus>/apps"
        );
        let mut expectations = Vec::new();
        for spanned in raw.expect {
            let (line, _) = LineIndex::new(text).position(spanned.span().start);
            let expectation = Expectation::from_raw(spanned.into_inner(), line as usize)
                .map_err(|why| anyhow::anyhow!("{file}:{line}: {why}"))?;
            expectations.push(expectation);
        }
        anyhow::ensure!(!expectations.is_empty(), "{file}: no `[[expect]]`");
        Ok(AppFile { app: raw.app, answers: raw.answers.into_iter().collect(), expectations })
    }
}

impl Expectation {
    fn from_raw(raw: RawExpectation, line: usize) -> Result<Expectation, String> {
        let subject = format!("the expectation about `{}`", raw.service);
        for (field, value) in [("service", &raw.service), ("why", &raw.why), ("at", &raw.at)] {
            if value.trim().is_empty() {
                return Err(format!("{subject}: `{field}` is empty"));
            }
        }
        let mut kinds: Vec<(&str, Check)> = Vec::new();
        if let Some(file) = raw.file {
            kinds.push(("file", Check::File(file)));
        }
        if let Some(port) = raw.port {
            kinds.push(("port", Check::Port(port)));
        }
        if let Some(env) = raw.env {
            kinds.push(("env", Check::Env(env)));
        }
        if let Some(volume) = raw.volume {
            kinds.push(("volume", Check::Volume(volume)));
        }
        if let Some(user) = raw.user {
            kinds.push(("user", Check::User(user)));
        }
        if let Some(image) = raw.image {
            kinds.push(("image", Check::Image(image)));
        }
        if let Some(deployed) = raw.deployed {
            if deployed {
                return Err(format!(
                    "{subject}: `deployed = true` checks nothing (every backing service is \
                     deployed); only `deployed = false` is a check"
                ));
            }
            kinds.push(("deployed", Check::NotDeployed));
        }
        if let Some(reaches) = raw.reaches {
            kinds.push(("reaches", Check::Reaches(reaches)));
        }
        if let Some(same) = raw.same_secret {
            kinds.push(("same_secret", Check::SameSecret(same)));
        }
        if let Some(command) = raw.command {
            kinds.push(("command", Check::Command(command)));
        }
        if let Some(config) = raw.config {
            kinds.push(("config", Check::Config(config)));
        }
        if let Some(memory) = raw.memory {
            kinds.push(("memory", Check::Memory(memory)));
        }
        if let Some(signal) = raw.stop_signal {
            kinds.push(("stop_signal", Check::StopSignal(signal)));
        }
        if let Some(words) = raw.decided {
            kinds.push(("decided", Check::Decided(words)));
        }
        if let Some(texts) = raw.nowhere {
            kinds.push(("nowhere", Check::Nowhere(texts)));
        }
        let check = match kinds.len() {
            1 => kinds.remove(0).1,
            0 => return Err(format!("{subject} has no check (one of: {KINDS})")),
            _ => {
                let names: Vec<&str> = kinds.iter().map(|(name, _)| *name).collect();
                return Err(format!(
                    "{subject} has {} checks ({}); exactly one per expectation",
                    names.len(),
                    names.join(", ")
                ));
            }
        };
        check.validate().map_err(|why| format!("{subject}: {why}"))?;
        if raw.or_decision.iter().any(|word| word.trim().is_empty()) {
            return Err(format!("{subject}: `or_decision` holds an empty word"));
        }
        Ok(Expectation {
            service: raw.service,
            why: raw.why,
            at: raw.at,
            or_decision: raw.or_decision,
            check,
            line,
        })
    }
}

/// The check kinds, for messages.
const KINDS: &str = "file, port, env, volume, user, image, deployed, reaches, same_secret, \
    command, config, memory, stop_signal, decided, nowhere";

impl Check {
    /// The kind's name in the app file.
    pub fn kind(&self) -> &'static str {
        match self {
            Check::File(_) => "file",
            Check::Port(_) => "port",
            Check::Env(_) => "env",
            Check::Volume(_) => "volume",
            Check::User(_) => "user",
            Check::Image(_) => "image",
            Check::NotDeployed => "deployed",
            Check::Reaches(_) => "reaches",
            Check::SameSecret(_) => "same_secret",
            Check::Command(_) => "command",
            Check::Config(_) => "config",
            Check::Memory(_) => "memory",
            Check::StopSignal(_) => "stop_signal",
            Check::Decided(_) => "decided",
            Check::Nowhere(_) => "nowhere",
        }
    }

    /// The check in a few words, for reports (`env DATABASE_HOST lookup_of db`).
    pub fn summary(&self) -> String {
        match self {
            Check::File(f) => format!("file {}", f.destination),
            Check::Port(p) => {
                let checked = if p.checked { "checked" } else { "not checked" };
                let fixed = if p.fixed { ", static" } else { "" };
                format!("port {} {checked}{fixed}", p.container)
            }
            Check::Env(e) => {
                let what = if let Some(value) = &e.value {
                    format!("= {value:?}")
                } else if e.absent {
                    "absent".into()
                } else if let Some(peer) = &e.lookup_of {
                    format!("looks up {peer}")
                } else {
                    "from Vault".into()
                };
                format!("env {} {what}", e.name)
            }
            Check::Volume(v) => {
                let kind = if v.persistent { "persistent" } else { "not persistent" };
                format!("volume {} {kind}", v.destination)
            }
            Check::User(UserCheck::Id(id) | UserCheck::Named { id, .. }) => format!("user {id}"),
            Check::Image(_) => "image".into(),
            Check::NotDeployed => "not deployed".into(),
            Check::Reaches(r) => format!("reaches {}", r.service),
            Check::SameSecret(s) => format!("same secret as {}", s.peer),
            Check::Command(_) => "command".into(),
            Check::Config(c) => format!("driver config {}", c.key),
            Check::Memory(m) => format!("memory >= {} MB", m.at_least),
            Check::StopSignal(signal) => format!("stopped with {signal}"),
            Check::Decided(_) => "decided".into(),
            Check::Nowhere(_) => "nowhere".into(),
        }
    }

    /// Rules serde cannot express.
    fn validate(&self) -> Result<(), String> {
        match self {
            // A bare destination is a check too: the file must be delivered at all.
            Check::File(f) => absolute(&f.destination)?,
            Check::Port(p) if !(1..=65535).contains(&p.container) => {
                return Err(format!("port {} is not a port number", p.container));
            }
            Check::Port(_) => {}
            Check::Env(e) => {
                let set = [e.value.is_some(), e.absent, e.lookup_of.is_some(), e.secret];
                if set.iter().filter(|x| **x).count() != 1 {
                    return Err(format!(
                        "env {} needs exactly one of `value`, `absent`, `lookup_of`, `secret`",
                        e.name
                    ));
                }
                if e.lookup_of.is_none() && (e.port_variable.is_some() || e.address_only) {
                    return Err("`port_variable` and `address_only` go with `lookup_of`".into());
                }
                if e.port_variable.is_some() && e.address_only {
                    return Err("`port_variable` and `address_only` exclude each other".into());
                }
            }
            Check::Volume(v) => absolute(&v.destination)?,
            Check::User(UserCheck::Id(id) | UserCheck::Named { id, .. }) => {
                if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
                    return Err(format!("user `{id}` is not a numeric user id"));
                }
            }
            Check::Image(i) => {
                if i.equals.is_none() && i.repository.is_empty() && i.not.is_none() && !i.pinned {
                    return Err("image needs `equals`, `repository`, `not` or `pinned`".into());
                }
            }
            Check::SameSecret(s) => {
                if s.file.is_some() == s.env.is_some() {
                    return Err("same_secret needs exactly one of `file`, `env`".into());
                }
                if s.peer_file.is_some() == s.peer_env.is_some() {
                    return Err("same_secret needs exactly one of `peer_file`, `peer_env`".into());
                }
            }
            Check::StopSignal(signal) if !signal.starts_with("SIG") => {
                return Err(format!("`{signal}` is not a signal name (SIGINT, SIGQUIT, ...)"));
            }
            Check::Command(c) if c.contains.is_empty() => {
                return Err("command needs `contains`".into())
            }
            Check::Config(c) if c.value.is_some() != c.contains.is_empty() => {
                return Err("config needs exactly one of `value`, `contains`".into());
            }
            Check::Decided(words) | Check::Nowhere(words)
                if words.is_empty() || words.iter().any(|w| w.trim().is_empty()) =>
            {
                return Err(format!("`{}` needs non-empty words", self.kind()));
            }
            Check::NotDeployed
            | Check::Reaches(_)
            | Check::Command(_)
            | Check::Config(_)
            | Check::Memory(_)
            | Check::StopSignal(_)
            | Check::Decided(_)
            | Check::Nowhere(_) => {}
        }
        Ok(())
    }
}

fn absolute(path: &str) -> Result<(), String> {
    if path.starts_with('/') {
        Ok(())
    } else {
        Err(format!("`{path}` is not an absolute path in the container"))
    }
}

/// What a whole-app generation gave: the jobs as the project's parser reads them back (each a
/// Nomad API `Job` object), and what the generator said.
#[derive(Debug, Clone, Default)]
pub struct WholeApp {
    /// Parsed jobs.
    pub jobs: Vec<Value>,
    /// The generator's decisions.
    pub decisions: Vec<Decision>,
    /// Questions nobody answered (their defaults were used).
    pub questions: Vec<Question>,
}

/// How an expectation came out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "detail", rename_all = "lowercase")]
pub enum Outcome {
    /// The job does it.
    Met,
    /// It does not, and this decision says why.
    Explained(String),
    /// It does not: what was found instead.
    Missing(String),
}

/// One expectation, judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Judgement {
    /// The service.
    pub service: String,
    /// The check in a few words.
    pub check: String,
    /// Where the app justifies it.
    pub at: String,
    /// Why it matters.
    pub why: String,
    /// The line of the app file.
    pub line: usize,
    /// Met, explained or missing.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// Met, explained and missing expectations of one app or of many.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Score {
    /// Met.
    pub met: usize,
    /// Not met, explained by a decision.
    pub explained: usize,
    /// Not met.
    pub missing: usize,
    /// All expectations.
    pub total: usize,
}

impl Score {
    /// The score of these judgements.
    pub fn of(judgements: &[Judgement]) -> Score {
        let mut score = Score { total: judgements.len(), ..Score::default() };
        for judgement in judgements {
            match judgement.outcome {
                Outcome::Met => score.met += 1,
                Outcome::Explained(_) => score.explained += 1,
                Outcome::Missing(_) => score.missing += 1,
            }
        }
        score
    }

    /// Adds another score.
    pub fn add(&mut self, other: Score) {
        self.met += other.met;
        self.explained += other.explained;
        self.missing += other.missing;
        self.total += other.total;
    }
}

/// Judges every expectation of `file` against `app`.
pub fn judge(file: &AppFile, app: &WholeApp) -> Vec<Judgement> {
    file.expectations
        .iter()
        .map(|expectation| {
            let outcome = match judge_one(expectation, app) {
                Ok(()) => Outcome::Met,
                Err(found) => match explanation(expectation, app) {
                    Some(decision) => Outcome::Explained(decision),
                    None => Outcome::Missing(found),
                },
            };
            Judgement {
                service: expectation.service.clone(),
                check: expectation.check.summary(),
                at: expectation.at.clone(),
                why: expectation.why.clone(),
                line: expectation.line,
                outcome,
            }
        })
        .collect()
}

/// The first decision or question about the service holding every `or_decision` word.
fn explanation(expectation: &Expectation, app: &WholeApp) -> Option<String> {
    if expectation.or_decision.is_empty() {
        return None;
    }
    statements_about(app, &expectation.service)
        .into_iter()
        .find(|text| holds_all(text, &expectation.or_decision))
}

/// Decisions about `service` (their subject is the service, or begins with it and a space)
/// and unanswered questions about it (`KIND.SERVICE...`), each as one line of text.
fn statements_about(app: &WholeApp, service: &str) -> Vec<String> {
    let decisions = app
        .decisions
        .iter()
        .filter(|d| d.subject == service || d.subject.starts_with(&format!("{service} ")))
        .map(|d| format!("{}: {} — {}", d.subject, d.choice, d.reason));
    let questions = app
        .questions
        .iter()
        .filter(|q| q.key.split('.').nth(1) == Some(service))
        .map(|q| format!("{}: {} (default {}: {})", q.key, q.prompt, q.default, q.reason));
    decisions.chain(questions).collect()
}

fn holds_all(text: &str, words: &[String]) -> bool {
    let text = text.to_lowercase();
    words.iter().all(|word| text.contains(&word.to_lowercase()))
}

/// Where a service runs: its job and group.
struct Placement<'a> {
    group: &'a Value,
}

impl<'a> Placement<'a> {
    fn tasks(&self) -> impl Iterator<Item = &'a Value> {
        array(self.group, "Tasks")
    }

    /// The task that runs the service: the one named like the group, else the first that is
    /// not a lifecycle hook.
    fn main_task(&self) -> Option<&'a Value> {
        let name = self.group.get("Name");
        self.tasks()
            .find(|task| task.get("Name") == name)
            .or_else(|| self.tasks().find(|task| !is_hook(task)))
            .or_else(|| self.tasks().next())
    }

    /// The names it is registered under (group and task services).
    fn registered_names(&self) -> Vec<String> {
        let task_services = self.tasks().flat_map(|task| array(task, "Services"));
        array(self.group, "Services")
            .chain(task_services)
            .filter_map(|service| text(service, "Name").map(String::from))
            .collect()
    }

    fn templates(&self) -> impl Iterator<Item = (&'a Value, &'a Value)> {
        self.tasks().flat_map(|task| array(task, "Templates").map(move |t| (task, t)))
    }
}

/// The group that runs `service`: named as the generator names groups (lowercase letters,
/// digits and dashes), or holding a task of that name.
fn placement<'a>(app: &'a WholeApp, service: &str) -> Option<Placement<'a>> {
    let wanted = nomad_name(service);
    let groups = || app.jobs.iter().flat_map(|job| array(job, "TaskGroups"));
    groups()
        .find(|group| text(group, "Name") == Some(wanted.as_str()))
        .or_else(|| {
            groups().find(|group| {
                array(group, "Tasks")
                    .any(|task| matches!(text(task, "Name"), Some(name) if name == wanted || name == service))
            })
        })
        .map(|group| Placement { group })
}

/// A compose name in the letters Nomad names take (`reverse_proxy` → `reverse-proxy`).
fn nomad_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

fn array<'a>(value: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    value.get(key).and_then(Value::as_array).into_iter().flatten()
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

fn is_hook(task: &Value) -> bool {
    let Some(lifecycle) = task.get("Lifecycle").filter(|l| !l.is_null()) else { return false };
    lifecycle.get("Sidecar").and_then(Value::as_bool) != Some(true)
}

fn is_prestart_step(task: &Value) -> bool {
    is_hook(task)
        && task.get("Lifecycle").and_then(|l| l.get("Hook")).and_then(Value::as_str)
            == Some("prestart")
}

type Found = Result<(), String>;

fn judge_one(expectation: &Expectation, app: &WholeApp) -> Found {
    let service = expectation.service.as_str();
    let placed = placement(app, service);
    if let Check::NotDeployed = expectation.check {
        return match placed {
            None => Ok(()),
            Some(p) => {
                Err(format!("deployed as group `{}`", text(p.group, "Name").unwrap_or_default()))
            }
        };
    }
    let Some(placed) = placed else {
        return Err(format!("`{service}` is in no generated job"));
    };
    match &expectation.check {
        Check::File(check) => judge_file(app, &placed, check),
        Check::Port(check) => judge_port(&placed, check),
        Check::Env(check) => judge_env(app, &placed, check),
        Check::Volume(check) => judge_volume(&placed, check),
        Check::User(check) => judge_user(&placed, check),
        Check::Image(check) => judge_image(&placed, check),
        Check::NotDeployed => Ok(()),
        Check::Reaches(check) => judge_reaches(app, &placed, check),
        Check::SameSecret(check) => judge_same_secret(app, &placed, check),
        Check::Command(check) => judge_command(&placed, check),
        Check::Config(check) => judge_config(&placed, check),
        Check::Memory(check) => judge_memory(&placed, check),
        Check::StopSignal(signal) => {
            let task = placed.main_task().ok_or("the group has no task")?;
            match text(task, "KillSignal") {
                Some(found) if found == signal => Ok(()),
                Some(found) => Err(format!("the task is stopped with {found}")),
                None => Err("the task is stopped with Nomad's default SIGTERM".into()),
            }
        }
        Check::Decided(words) => {
            if statements_about(app, service).iter().any(|s| holds_all(s, words)) {
                Ok(())
            } else {
                Err(format!("no decision about `{service}` mentions {}", quoted_list(words)))
            }
        }
        Check::Nowhere(texts) => judge_nowhere(&placed, texts),
    }
}

fn quoted_list(words: &[String]) -> String {
    words.iter().map(|w| format!("`{w}`")).collect::<Vec<_>>().join(", ")
}

/// The registered names of the service `peer`, or why there are none.
fn peer_names(app: &WholeApp, peer: &str) -> Result<Vec<String>, String> {
    let placed = placement(app, peer).ok_or_else(|| format!("`{peer}` is in no generated job"))?;
    let names = placed.registered_names();
    if names.is_empty() {
        return Err(format!("`{peer}` registers no service to look up"));
    }
    Ok(names)
}

/// A task-relative path as Nomad resolves it (`./local/x`, `${NOMAD_TASK_DIR}/x` → `local/x`).
fn task_path(path: &str) -> String {
    let path = path
        .replace("${NOMAD_TASK_DIR}", "local")
        .replace("${NOMAD_SECRETS_DIR}", "secrets")
        .replace("${NOMAD_ALLOC_DIR}", "../alloc");
    let path = path.strip_prefix("./").unwrap_or(&path);
    path.trim_end_matches('/').to_string()
}

/// The bind mounts of a docker task: (source, target) of `mount` blocks and `volumes`.
fn docker_mounts(task: &Value) -> Vec<(String, String)> {
    let Some(config) = task.get("Config") else { return Vec::new() };
    let mut mounts = Vec::new();
    for key in ["mount", "mounts"] {
        for mount in array(config, key) {
            let kind = text(mount, "type").unwrap_or("volume");
            if let (Some(source), Some(target)) = (text(mount, "source"), text(mount, "target")) {
                if kind == "bind" || kind == "volume" {
                    mounts.push((source.to_string(), target.to_string()));
                }
            }
        }
    }
    for volume in array(config, "volumes").filter_map(Value::as_str) {
        let mut parts = volume.splitn(3, ':');
        if let (Some(source), Some(target)) = (parts.next(), parts.next()) {
            mounts.push((source.to_string(), target.to_string()));
        }
    }
    mounts
}

/// The templates whose rendered file is at `destination` in the container.
fn files_at<'a>(placed: &Placement<'a>, destination: &str) -> Vec<&'a Value> {
    let destination = destination.trim_end_matches('/');
    placed
        .templates()
        .filter(|(task, template)| {
            let Some(dest) = text(template, "DestPath") else { return false };
            let dest = task_path(dest);
            if dest == destination {
                return true;
            }
            docker_mounts(task).iter().any(|(source, target)| {
                let (source, target) = (task_path(source), target.trim_end_matches('/'));
                (dest == source && target == destination)
                    || dest
                        .strip_prefix(&format!("{source}/"))
                        .is_some_and(|rest| format!("{target}/{rest}") == destination)
            })
        })
        .map(|(_, template)| template)
        .collect()
}

fn data(template: &Value) -> &str {
    text(template, "EmbeddedTmpl").unwrap_or_default()
}

fn judge_file(app: &WholeApp, placed: &Placement, check: &FileCheck) -> Found {
    let templates = files_at(placed, &check.destination);
    if templates.is_empty() {
        let rendered: Vec<String> =
            placed.templates().filter_map(|(_, t)| text(t, "DestPath").map(String::from)).collect();
        return Err(format!(
            "nothing is rendered or mounted at {} (templates: {})",
            check.destination,
            if rendered.is_empty() { "none".into() } else { rendered.join(", ") }
        ));
    }
    let body = templates.iter().map(|t| data(t)).collect::<Vec<_>>().join("\n");
    for wanted in &check.contains {
        if !body.contains(wanted.as_str()) {
            return Err(format!("the file at {} lacks `{wanted}`", check.destination));
        }
    }
    for unwanted in &check.lacks {
        if body.contains(unwanted.as_str()) {
            return Err(format!("the file at {} still has `{unwanted}`", check.destination));
        }
    }
    let read = TemplateText::read(&body);
    if let Some(peer) = &check.lookup_of {
        let names = peer_names(app, peer)?;
        let scopes = read.lookup_scopes(&names);
        if scopes.is_empty() {
            return Err(format!(
                "the file at {} does not look `{peer}` up ({})",
                check.destination,
                names.join(", ")
            ));
        }
        let (address, port) = read.address_and_port(&scopes, &read.everything());
        if !(address && port) {
            return Err(format!(
                "the file at {} looks `{peer}` up without {}",
                check.destination,
                missing_parts(address, port)
            ));
        }
    }
    if check.secret {
        if read.secret_keys(&read.everything()).is_empty() {
            return Err(format!("the file at {} reads nothing from Vault", check.destination));
        }
        let literal = read.literal_text();
        if !literal.trim().is_empty() {
            return Err(format!(
                "the file at {} writes text of its own besides the Vault secret: `{}`",
                check.destination,
                shorten(literal.trim())
            ));
        }
    }
    Ok(())
}

fn missing_parts(address: bool, port: bool) -> &'static str {
    match (address, port) {
        (false, false) => "`.Address` and `.Port`",
        (false, true) => "`.Address`",
        _ => "`.Port`",
    }
}

fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(60).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short.replace('\n', "⏎")
}

/// A port of the group's network: label, host value, container `to`, reserved.
struct GroupPort<'a> {
    label: &'a str,
    value: Option<i64>,
    to: Option<i64>,
    reserved: bool,
}

fn group_ports<'a>(group: &'a Value) -> Vec<GroupPort<'a>> {
    let mut ports = Vec::new();
    for network in array(group, "Networks") {
        for (key, reserved) in [("ReservedPorts", true), ("DynamicPorts", false)] {
            for port in array(network, key) {
                ports.push(GroupPort {
                    label: text(port, "Label").unwrap_or_default(),
                    value: port.get("Value").and_then(Value::as_i64),
                    to: port.get("To").and_then(Value::as_i64),
                    reserved,
                });
            }
        }
    }
    ports
}

/// Port labels some check targets (a check's own port, else its service's).
fn checked_labels(placed: &Placement) -> BTreeSet<String> {
    let task_services = placed.tasks().flat_map(|task| array(task, "Services"));
    let mut labels = BTreeSet::new();
    for service in array(placed.group, "Services").chain(task_services) {
        for check in array(service, "Checks") {
            if text(check, "Type") == Some("script") {
                continue;
            }
            let label = text(check, "PortLabel").or_else(|| text(service, "PortLabel"));
            if let Some(label) = label {
                labels.insert(label.to_string());
            }
        }
    }
    labels
}

fn judge_port(placed: &Placement, check: &PortCheck) -> Found {
    let ports = group_ports(placed.group);
    let c = check.container;
    let matching: Vec<&GroupPort> = ports
        .iter()
        .filter(|p| {
            p.to == Some(c) || (p.reserved && p.value == Some(c) && matches!(p.to, None | Some(0)))
        })
        .collect();
    let checked = checked_labels(placed);
    let known = || {
        let list: Vec<String> = ports
            .iter()
            .map(|p| match (p.to, p.value) {
                (Some(to), _) if to > 0 => format!("{} → {to}", p.label),
                (_, Some(value)) => format!("{} static {value}", p.label),
                _ => p.label.to_string(),
            })
            .collect();
        if list.is_empty() {
            "no port".into()
        } else {
            list.join(", ")
        }
    };
    if check.checked {
        if matching.is_empty() {
            return Err(format!("no port maps to container port {c} ({})", known()));
        }
        if !matching.iter().any(|p| checked.contains(p.label)) {
            return Err(format!("port {c} is not checked (checked: {})", labels_or_none(&checked)));
        }
    } else if let Some(port) = matching.iter().find(|p| checked.contains(p.label)) {
        return Err(format!("a check targets port {c} (`{}`)", port.label));
    }
    if check.fixed && !matching.iter().any(|p| p.reserved && p.value == Some(c)) {
        return Err(format!(
            "container port {c} is not reserved at the same static port ({})",
            known()
        ));
    }
    Ok(())
}

fn labels_or_none(labels: &BTreeSet<String>) -> String {
    if labels.is_empty() {
        "none".into()
    } else {
        labels.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// Env templates (`env = true`) of a task.
fn env_templates(task: &Value) -> impl Iterator<Item = &Value> {
    array(task, "Templates").filter(|t| t.get("Envvars").and_then(Value::as_bool) == Some(true))
}

/// Where a task sets `name`: its literal `env` value, and its env template lines.
struct EnvSources<'a> {
    literal: Option<&'a str>,
    lines: Vec<(&'a str, template::EnvLine)>,
}

fn env_sources<'a>(task: &'a Value, name: &str) -> EnvSources<'a> {
    let literal = task.get("Env").and_then(|env| env.get(name)).and_then(Value::as_str);
    let lines = env_templates(task)
        .filter_map(|t| {
            let body = data(t);
            TemplateText::read(body).env_line(name).map(|line| (body, line))
        })
        .collect();
    EnvSources { literal, lines }
}

fn judge_env(app: &WholeApp, placed: &Placement, check: &EnvCheck) -> Found {
    let name = check.name.as_str();
    if check.absent {
        for task in placed.tasks() {
            let sources = env_sources(task, name);
            let task_name = text(task, "Name").unwrap_or_default();
            if let Some(value) = sources.literal {
                return Err(format!("task `{task_name}` sets {name}={value:?}"));
            }
            if !sources.lines.is_empty() {
                return Err(format!("an env template of task `{task_name}` sets {name}"));
            }
        }
        return Ok(());
    }
    let task = placed.main_task().ok_or("the group has no task")?;
    let sources = env_sources(task, name);
    let described = || match (sources.literal, sources.lines.first()) {
        (Some(value), _) => format!("{name}={value:?} in env"),
        (None, Some((body, line))) => {
            format!("{name} from a template: `{}`", shorten(body[line.span.clone()].trim()))
        }
        (None, None) => format!("{name} is not set"),
    };
    if let Some(value) = &check.value {
        let literal_ok = sources.literal == Some(value.as_str());
        let line_ok = sources.lines.iter().any(|(_, line)| line.literal.as_deref() == Some(value));
        return if literal_ok || line_ok { Ok(()) } else { Err(described()) };
    }
    if check.secret {
        if let Some(value) = sources.literal {
            return Err(format!("{name} is written in the job ({} characters)", value.len()));
        }
        let from_vault = sources
            .lines
            .iter()
            .any(|(body, line)| !TemplateText::read(body).secret_keys(&line.span).is_empty());
        return if from_vault { Ok(()) } else { Err(described()) };
    }
    if let Some(peer) = &check.lookup_of {
        let names = peer_names(app, peer)?;
        let needs_port = check.port_variable.is_none() && !check.address_only;
        looks_up_in_line(&sources, &names, true, needs_port)
            .map_err(|why| format!("{why} ({})", described()))?;
        if let Some(port_name) = &check.port_variable {
            let port_sources = env_sources(task, port_name);
            looks_up_in_line(&port_sources, &names, false, true)
                .map_err(|why| format!("{port_name}: {why}"))?;
        }
        return Ok(());
    }
    Ok(())
}

/// Whether a template line of `sources` looks one of `names` up with what is needed.
fn looks_up_in_line(
    sources: &EnvSources,
    names: &[String],
    needs_address: bool,
    needs_port: bool,
) -> Found {
    if sources.lines.is_empty() {
        return Err("not set by a template that looks the service up".into());
    }
    let mut best = "the line does not look the service up".to_string();
    for (body, line) in &sources.lines {
        let read = TemplateText::read(body);
        let scopes = read.lookup_scopes(names);
        if scopes.is_empty() {
            continue;
        }
        let (address, port) = read.address_and_port(&scopes, &line.span);
        if (address || !needs_address) && (port || !needs_port) {
            return Ok(());
        }
        best = format!(
            "the line looks the service up without {}",
            missing_parts(address || !needs_address, port || !needs_port)
        );
    }
    Err(best)
}

fn judge_volume(placed: &Placement, check: &VolumeCheck) -> Found {
    let destination = check.destination.trim_end_matches('/');
    let volumes = placed.group.get("Volumes");
    let mut group_volume = None;
    let mut docker_volume = None;
    for task in placed.tasks().filter(|task| !is_prestart_step(task)) {
        for mount in array(task, "VolumeMounts") {
            let Some(at) = text(mount, "Destination").map(|d| d.trim_end_matches('/')) else {
                continue;
            };
            // A persistent volume at a folder above keeps the destination too (postgres 18
            // declares /var/lib/postgresql, older ones keep their data in .../data below it).
            let above = check.persistent && destination.starts_with(&format!("{at}/"));
            if at != destination && !above {
                continue;
            }
            let name = text(mount, "Volume").unwrap_or_default();
            let kind = volumes
                .and_then(|v| v.get(name))
                .and_then(|v| text(v, "Type"))
                .unwrap_or("unknown");
            group_volume = Some(format!("group volume `{name}` ({kind})"));
        }
        let rendered: Vec<String> =
            array(task, "Templates").filter_map(|t| text(t, "DestPath")).map(task_path).collect();
        for (source, target) in docker_mounts(task) {
            let from_template = rendered.iter().any(|r| {
                let source = task_path(&source);
                *r == source || r.starts_with(&format!("{source}/"))
            });
            if target.trim_end_matches('/') == destination && !from_template {
                docker_volume = Some(format!("docker volume `{source}`"));
            }
        }
    }
    match (check.persistent, group_volume, docker_volume) {
        (true, Some(_), _) => Ok(()),
        (true, None, Some(found)) => {
            Err(format!("{destination} is a {found}, not a group volume Nomad schedules"))
        }
        (true, None, None) => Err(format!("no group volume is mounted at {destination}")),
        (false, None, None) => Ok(()),
        (false, Some(found), _) | (false, None, Some(found)) => {
            Err(format!("{destination} is mounted from a {found}"))
        }
    }
}

/// The owner a volume-owner step gives (`chown -R 999:999 /data` → `999`).
fn chown_owner(task: &Value) -> Option<String> {
    let config = task.get("Config")?;
    let words: Vec<String> = ["entrypoint", "command", "args"]
        .iter()
        .flat_map(|key| strings(config.get(*key)))
        .flat_map(|s| s.split_whitespace().map(String::from).collect::<Vec<_>>())
        .collect();
    let at = words.iter().position(|w| w == "chown" || w.ends_with("/chown"))?;
    let owner = words[at + 1..].iter().find(|w| !w.starts_with('-'))?;
    Some(owner.split(':').next().unwrap_or(owner).to_string())
}

/// A string or a list of strings.
fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => {
            items.iter().filter_map(Value::as_str).map(String::from).collect()
        }
        _ => Vec::new(),
    }
}

fn judge_user(placed: &Placement, check: &UserCheck) -> Found {
    let (id, name) = match check {
        UserCheck::Id(id) => (id.as_str(), None),
        UserCheck::Named { id, name } => (id.as_str(), Some(name.as_str())),
    };
    let owners: Vec<String> =
        placed.tasks().filter(|t| is_prestart_step(t)).filter_map(chown_owner).collect();
    let task_user = placed
        .main_task()
        .and_then(|task| text(task, "User"))
        .map(|user| user.split(':').next().unwrap_or(user).to_string());
    if owners.is_empty() && task_user.is_none() {
        return Err("no volume-owner step and no task user".into());
    }
    if let Some(wrong) = owners.iter().find(|owner| owner.as_str() != id) {
        return Err(format!("the volume-owner step gives the volume to {wrong}"));
    }
    if let Some(user) = &task_user {
        if user != id && Some(user.as_str()) != name {
            return Err(format!("the task runs as {user}"));
        }
    }
    Ok(())
}

fn judge_image(placed: &Placement, check: &ImageCheck) -> Found {
    let image = placed
        .main_task()
        .and_then(|task| task.get("Config"))
        .and_then(|config| text(config, "image"))
        .ok_or("the task has no image")?;
    if let Some(wanted) = &check.equals {
        if image != wanted {
            return Err(format!("the image is {image}"));
        }
    }
    if !check.repository.is_empty()
        && !check.repository.iter().any(|r| r == crate::analyze::published::without_tag(image))
    {
        return Err(format!("the image is {image}"));
    }
    if check.not.as_deref() == Some(image) {
        return Err(format!("the image is {image}"));
    }
    if check.pinned {
        let tagged = image.contains('@')
            || crate::analyze::published::without_tag(image).len() < image.len();
        if !tagged || image.ends_with(":latest") {
            return Err(format!("the image {image} is not pinned to a version"));
        }
    }
    Ok(())
}

fn judge_reaches(app: &WholeApp, placed: &Placement, check: &ReachCheck) -> Found {
    let names = peer_names(app, &check.service)?;
    let mut best = format!("no template looks `{}` up", check.service);
    for (_, template) in placed.templates() {
        let read = TemplateText::read(data(template));
        let scopes = read.lookup_scopes(&names);
        if scopes.is_empty() {
            continue;
        }
        let (address, port) = read.address_and_port(&scopes, &read.everything());
        if address && (port || !check.port) {
            return Ok(());
        }
        best = format!(
            "a template looks `{}` up without {}",
            check.service,
            missing_parts(address, port || !check.port)
        );
    }
    Err(best)
}

/// The Vault secrets that render one end of a credential.
fn secret_end(placed: &Placement, file: Option<&str>, env: Option<&str>) -> BTreeSet<SecretKey> {
    let mut keys = BTreeSet::new();
    if let Some(destination) = file {
        for template in files_at(placed, destination) {
            let read = TemplateText::read(data(template));
            keys.extend(read.secret_keys(&read.everything()));
        }
    }
    if let (Some(name), Some(task)) = (env, placed.main_task()) {
        for (body, line) in env_sources(task, name).lines {
            keys.extend(TemplateText::read(body).secret_keys(&line.span));
        }
    }
    keys
}

fn judge_same_secret(app: &WholeApp, placed: &Placement, check: &SameSecretCheck) -> Found {
    let here = secret_end(placed, check.file.as_deref(), check.env.as_deref());
    let peer = placement(app, &check.peer)
        .ok_or_else(|| format!("`{}` is in no generated job", check.peer))?;
    let there = secret_end(&peer, check.peer_file.as_deref(), check.peer_env.as_deref());
    let describe = |keys: &BTreeSet<SecretKey>| {
        if keys.is_empty() {
            "no Vault secret".to_string()
        } else {
            keys.iter().map(|(path, key)| format!("{path}#{key}")).collect::<Vec<_>>().join(", ")
        }
    };
    if here.is_empty() || there.is_empty() || here.is_disjoint(&there) {
        return Err(format!(
            "this end reads {}; `{}` reads {}",
            describe(&here),
            check.peer,
            describe(&there)
        ));
    }
    Ok(())
}

fn judge_command(placed: &Placement, check: &CommandCheck) -> Found {
    let config = placed.main_task().and_then(|task| task.get("Config"));
    let line = ["entrypoint", "command", "args"]
        .iter()
        .flat_map(|key| strings(config.and_then(|c| c.get(*key))))
        .collect::<Vec<_>>()
        .join(" ");
    match check.contains.iter().find(|word| !line.contains(word.as_str())) {
        None => Ok(()),
        Some(word) if line.is_empty() => {
            Err(format!("the task keeps the image's command (no `{word}`)"))
        }
        Some(word) => Err(format!("the command `{}` lacks `{word}`", shorten(&line))),
    }
}

fn judge_config(placed: &Placement, check: &ConfigCheck) -> Found {
    let value = placed
        .main_task()
        .and_then(|task| task.get("Config"))
        .and_then(|config| config.get(&check.key));
    let Some(value) = value else {
        return Err(format!("the driver config has no `{}`", check.key));
    };
    if let Some(wanted) = &check.value {
        return if value.as_str() == Some(wanted.as_str()) {
            Ok(())
        } else {
            Err(format!("`{}` is {value}", check.key))
        };
    }
    let mut items: Vec<String> = Vec::new();
    let mut collect = |value: &Value| match value {
        Value::String(s) => items.push(s.clone()),
        Value::Object(map) => {
            for (key, item) in map {
                items.push(key.clone());
                if let Some(item) = item.as_str() {
                    items.push(format!("{key}={item}"));
                }
            }
        }
        _ => {}
    };
    match value {
        Value::Array(list) => list.iter().for_each(&mut collect),
        other => collect(other),
    }
    match check.contains.iter().find(|wanted| !items.contains(wanted)) {
        None => Ok(()),
        Some(wanted) => Err(format!("`{}` has no `{wanted}` ({value})", check.key)),
    }
}

fn judge_memory(placed: &Placement, check: &MemoryCheck) -> Found {
    let memory = placed
        .main_task()
        .and_then(|task| task.get("Resources"))
        .and_then(|r| r.get("MemoryMB"))
        .and_then(Value::as_i64);
    match memory {
        Some(mb) if mb >= check.at_least => Ok(()),
        Some(mb) => Err(format!("the task has {mb} MB")),
        None => Err("the task sets no memory (Nomad's default is 300 MB)".into()),
    }
}

/// Every string (keys included) of a JSON value.
fn each_string<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|item| each_string(item, out)),
        Value::Object(map) => {
            for (key, item) in map {
                out.push(key);
                each_string(item, out);
            }
        }
        _ => {}
    }
}

fn judge_nowhere(placed: &Placement, texts: &[String]) -> Found {
    let mut strings = Vec::new();
    each_string(placed.group, &mut strings);
    for unwanted in texts {
        if strings.iter().any(|s| s.contains(unwanted.as_str())) {
            return Err(format!("the group holds `{unwanted}`"));
        }
    }
    Ok(())
}

/// One app's results, for `eval`.
#[derive(Debug, Clone, Serialize)]
pub struct AppReport {
    /// The app (`awesome-compose/flask`).
    pub app: String,
    /// The app file.
    pub file: String,
    /// Met, explained, missing, total.
    #[serde(flatten)]
    pub score: Score,
    /// Generated jobs that validate.
    pub valid_jobs: usize,
    /// Generated jobs.
    pub jobs: usize,
    /// Every expectation, judged.
    pub judgements: Vec<Judgement>,
    /// What happened on the way (build errors, jobs that do not parse, wrong citations).
    pub notes: Vec<String>,
}

/// The deployability part of an `eval` report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Over all apps.
    #[serde(flatten)]
    pub score: Score,
    /// Per app, in file order.
    pub apps: Vec<AppReport>,
}

impl Report {
    /// Sums the apps' scores.
    pub fn new(apps: Vec<AppReport>) -> Report {
        let mut score = Score::default();
        for app in &apps {
            score.add(app.score);
        }
        Report { score, apps }
    }

    /// The report for a person: per app its score, then each missing expectation with where
    /// the app justifies it and why.
    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(out, "\ndeployability (met + explained of total)");
        for app in &self.apps {
            let s = app.score;
            let _ = writeln!(
                out,
                "  {:<45} {:>3}/{:<3} {} met, {} explained, {} missing  ({} of {} jobs valid)",
                app.app,
                s.met + s.explained,
                s.total,
                s.met,
                s.explained,
                s.missing,
                app.valid_jobs,
                app.jobs
            );
            for judgement in &app.judgements {
                if let Outcome::Missing(found) = &judgement.outcome {
                    let _ = writeln!(
                        out,
                        "    MISS {} {} (at {}): {}\n         found: {found}",
                        judgement.service, judgement.check, judgement.at, judgement.why
                    );
                }
            }
            for note in &app.notes {
                let _ = writeln!(out, "    note: {note}");
            }
        }
        let s = self.score;
        let _ = writeln!(
            out,
            "deployability {}/{} ({} met, {} explained, {} missing)",
            s.met + s.explained,
            s.total,
            s.met,
            s.explained,
            s.missing
        );
        out
    }
}
