//! Prompt files: `prompts/<task>.md`, a front matter (`name`, `version`) and a body with
//! `{{placeholder}}`s.
//!
//! The shipped prompts are compiled in, so the binary needs no files beside it; `eval
//! --prompt-version` loads other versions from disk to compare them. Rendering is a plain
//! substitution: every placeholder must be given, and a value is inserted once, never
//! re-scanned, so text from a repository cannot smuggle in a placeholder of its own.
//!
//! A run that shows people which prompts it used (the bot's status comment) is wrapped in
//! [`recording_used`]: every task that got an answer within it adds its prompt's [`Prompt::label`],
//! whichever of the run's clients asked, the way a span collects a run's attributes without
//! each caller passing them along.

use std::cell::RefCell;
use std::collections::BTreeMap;

/// A prompt: its task name, version and template body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// The task (`answers`, `diagnose`, ...).
    pub name: String,
    /// The version from the front matter (`1`, `2-terse`).
    pub version: String,
    /// The template, after the front matter.
    pub body: String,
    /// Where it came from, for the trace and the reports.
    pub source: Source,
}

/// Where a prompt came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Compiled in from `prompts/`.
    Builtin,
    /// A file read at run time (`eval --prompt-version`, `optimize`).
    File(String),
    /// LangFuse prompt management, by this label.
    Langfuse {
        /// The label the version was fetched by (`production`).
        label: String,
    },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Builtin => f.write_str("built in"),
            Source::File(path) => f.write_str(path),
            Source::Langfuse { label } => write!(f, "LangFuse `{label}`"),
        }
    }
}

/// The shipped prompts, by task name.
const BUILTIN: [(&str, &str); 6] = [
    ("answers", include_str!("../../prompts/answers.md")),
    ("diagnose", include_str!("../../prompts/diagnose.md")),
    ("questions", include_str!("../../prompts/questions.md")),
    ("explain", include_str!("../../prompts/explain.md")),
    ("refine", include_str!("../../prompts/refine.md")),
    ("propose", include_str!("../../prompts/propose.md")),
];

tokio::task_local! {
    /// The labels of the prompts used so far in the run [`recording_used`] wraps.
    static USED: RefCell<Vec<String>>;
}

/// Runs `run`, keeping the label of every prompt a task of it got an answer with ([`used`]).
pub async fn recording_used<F: std::future::Future>(run: F) -> F::Output {
    USED.scope(RefCell::new(Vec::new()), run).await
}

/// The prompts used so far in the recording run, each once, in the order first used; none
/// outside a recording run.
pub fn used() -> Vec<String> {
    USED.try_with(|used| used.borrow().clone()).unwrap_or_default()
}

/// Notes that a task got an answer with `prompt` (nothing outside a recording run).
pub fn record_use(prompt: &Prompt) {
    let label = prompt.label();
    let _ = USED.try_with(|used| {
        let mut used = used.borrow_mut();
        if !used.contains(&label) {
            used.push(label);
        }
    });
}

impl Prompt {
    /// The prompt in a few words, for the status comment's footer and the decisions it made:
    /// `answers@3` when shipped, `answers@7 (LangFuse, production)`, `refine@2 (FILE)`.
    pub fn label(&self) -> String {
        let name = self.id();
        match &self.source {
            Source::Builtin => name,
            Source::File(path) => format!("{name} ({path})"),
            Source::Langfuse { label } => format!("{name} (LangFuse, {label})"),
        }
    }

    /// The prompt's name and version, `refine@2`.
    pub fn id(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    /// The shipped prompt of a task.
    pub fn builtin(task: &str) -> anyhow::Result<Prompt> {
        let (_, text) = BUILTIN
            .iter()
            .find(|(name, _)| *name == task)
            .ok_or_else(|| anyhow::anyhow!("no prompt for task `{task}`"))?;
        let prompt = Prompt::parse(text, &format!("prompts/{task}.md"))?;
        Ok(Prompt { source: Source::Builtin, ..prompt })
    }

    /// Reads a prompt file: `---`, `name: ...`, `version: ...`, `---`, then the body.
    pub fn parse(text: &str, file: &str) -> anyhow::Result<Prompt> {
        let rest = text
            .strip_prefix("---\n")
            .ok_or_else(|| anyhow::anyhow!("{file}:1: a prompt file starts with `---`"))?;
        let (front, body) = rest
            .split_once("\n---\n")
            .ok_or_else(|| anyhow::anyhow!("{file}: the front matter has no closing `---`"))?;
        let mut fields = BTreeMap::new();
        for (index, line) in front.lines().enumerate() {
            let (key, value) = line
                .split_once(':')
                .ok_or_else(|| anyhow::anyhow!("{file}:{}: expected `key: value`", index + 2))?;
            fields.insert(key.trim().to_string(), value.trim().to_string());
        }
        let field = |key: &str| {
            fields
                .get(key)
                .filter(|v| !v.is_empty())
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("{file}: the front matter has no `{key}`"))
        };
        Ok(Prompt {
            name: field("name")?,
            version: field("version")?,
            body: body.to_string(),
            source: Source::File(file.to_string()),
        })
    }

    /// Fills the placeholders; a placeholder without a value, or a value without a
    /// placeholder, is an error (a prompt and its task out of step).
    pub fn render(&self, values: &[(&str, &str)]) -> anyhow::Result<String> {
        let mut out = String::with_capacity(self.body.len());
        let mut rest = self.body.as_str();
        let mut used = vec![false; values.len()];
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find("}}").ok_or_else(|| {
                anyhow::anyhow!("prompt `{}`: a `{{{{` is never closed", self.name)
            })?;
            let key = after[..end].trim();
            let at = values.iter().position(|(name, _)| *name == key).ok_or_else(|| {
                anyhow::anyhow!("prompt `{}`: no value for `{{{{{key}}}}}`", self.name)
            })?;
            used[at] = true;
            out.push_str(values[at].1);
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        if let Some(at) = used.iter().position(|u| !u) {
            anyhow::bail!("prompt `{}` has no `{{{{{}}}}}`", self.name, values[at].0);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::Prompt;

    #[test]
    fn every_shipped_prompt_parses_and_names_its_task() {
        for task in ["answers", "diagnose", "questions", "explain", "refine", "propose"] {
            let prompt = Prompt::builtin(task).unwrap_or_else(|e| panic!("{task}: {e:#}"));
            assert_eq!(prompt.name, task);
            assert!(!prompt.version.is_empty());
        }
    }

    #[test]
    fn placeholders_are_filled_once_and_checked() {
        let prompt = Prompt::parse("---\nname: t\nversion: 1\n---\nA {{x}} B {{ y }}.", "t.md");
        let prompt = prompt.unwrap_or_else(|e| panic!("{e:#}"));
        let text = prompt.render(&[("x", "{{y}}"), ("y", "2")]).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(text, "A {{y}} B 2.");
        let missing = prompt.render(&[("x", "1")]).map_err(|e| e.to_string());
        assert_eq!(missing, Err("prompt `t`: no value for `{{y}}`".to_string()));
        let extra = prompt.render(&[("x", "1"), ("y", "2"), ("z", "3")]).map_err(|e| e.to_string());
        assert_eq!(extra, Err("prompt `t` has no `{{z}}`".to_string()));
        let bad = Prompt::parse("name: t\n", "t.md").map_err(|e| e.to_string());
        assert_eq!(bad, Err("t.md:1: a prompt file starts with `---`".to_string()));
    }

    #[test]
    fn a_recording_run_keeps_each_prompt_once_and_labels_say_where_it_came_from() {
        use super::{record_use, recording_used, used, Source};
        let answers = Prompt::builtin("answers").unwrap_or_else(|e| panic!("{e:#}"));
        let from_langfuse = Prompt {
            version: "7".into(),
            source: Source::Langfuse { label: "production".into() },
            ..answers.clone()
        };
        assert_eq!(answers.label(), format!("answers@{}", answers.version));
        assert_eq!(from_langfuse.label(), "answers@7 (LangFuse, production)");
        record_use(&answers);
        assert!(used().is_empty(), "nothing is kept outside a recording run");
        let runtime = tokio::runtime::Builder::new_current_thread().build();
        let Ok(runtime) = runtime else { panic!("no runtime") };
        let labels = runtime.block_on(recording_used(async {
            record_use(&from_langfuse);
            record_use(&answers);
            record_use(&from_langfuse);
            used()
        }));
        assert_eq!(labels, [from_langfuse.label(), answers.label()]);
    }
}
