//! The status comment (pure): the one Markdown comment the bot keeps per pull request.
//!
//! [`render`] turns what a run knows (the checkpoint, what the analyzer found, check results,
//! the plan, the builder's decisions, on a fork the proposed file) into one body that starts
//! with [`STATUS_MARKER`] and ends with the checkpoint marker. The body always stays below
//! GitHub's 65,536-character limit: when the parts are too long, the longest are cut at a line
//! boundary, their code fences closed, and a pointer to the workflow's job summary put in their
//! place; the markers are never cut.
//!
//! The app's wiring is drawn as a Mermaid flowchart ([`diagram`]) right after what was found.
//!
//! Text from the repository or from people (service names, paths, answers, summaries) goes
//! through [`escape`] or [`code`], so it cannot open HTML, end a `<details>`, start a comment,
//! mention someone or break a table.

use std::fmt::Write as _;

use super::checkpoint::{encode, Checkpoint, Owner, Stage, STATUS_MARKER};
use crate::analyze::Analysis;
use crate::checks::{CheckResult, CheckStatus};
use crate::command::PREFIX;
use crate::jobspec::build::Decision;

pub use crate::markdown::{code, escape};

pub mod diagram;

/// GitHub refuses comment bodies longer than this many characters.
pub const GITHUB_LIMIT: usize = 65_536;

/// What the body aims to stay under, leaving room for GitHub's own counting of line ends.
const BUDGET: usize = GITHUB_LIMIT - 1_000;

/// One service the analyzer found, as the comment shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundService {
    /// Service name.
    pub name: String,
    /// Where it was found (folder or compose file).
    pub path: String,
    /// Container ports.
    pub ports: Vec<u16>,
}

impl FoundService {
    /// Every service of an analysis.
    pub fn from_analysis(analysis: &Analysis) -> Vec<FoundService> {
        analysis
            .services
            .iter()
            .map(|s| FoundService {
                name: s.name.clone(),
                path: s.path.clone(),
                ports: s.ports.iter().map(|p| p.container).collect(),
            })
            .collect()
    }
}

/// Everything the status comment shows.
#[derive(Debug, Clone, Copy)]
pub struct StatusInput<'a> {
    /// The state; its marker ends the body.
    pub checkpoint: &'a Checkpoint,
    /// What the analyzer found.
    pub services: &'a [FoundService],
    /// Check results of the current head, in order.
    pub checks: &'a [CheckResult],
    /// The Nomad plan of the current job file, as Markdown (`nomad::plan::render_markdown`).
    pub plan: Option<&'a str>,
    /// Why the builder chose what it chose.
    pub decisions: &'a [Decision],
    /// On a fork, the job file the bot would commit, shown as a suggestion.
    pub proposed_file: Option<&'a str>,
    /// The app as generated, drawn as a Mermaid flowchart ([`diagram::mermaid`]).
    pub diagram: Option<&'a str>,
    /// What this run could not do that the person should know and that is no check (memory
    /// that could not be read or pushed).
    pub notes: &'a [String],
    /// The prompts this run's LLM tasks used (`answers@3`, `answers@7 (LangFuse,
    /// production)`), named in the footer; none when no LLM task ran.
    pub prompts: &'a [String],
}

/// The whole status comment.
pub fn render(input: &StatusInput<'_>) -> String {
    let checkpoint = input.checkpoint;
    let head = head(checkpoint);
    let mut parts: Vec<Part> = Vec::new();
    if !input.services.is_empty() {
        parts.push(Part::open("What I found", found(input.services)));
    }
    if let Some(diagram) = input.diagram {
        let body = format!(
            "Solid boxes are deployed by the job files, dashed ones are not (a backing service \
             is then pointed at); each arrow says how one service reaches the other and where \
             the reference is written, red when it cannot.\n\n{}",
            fenced(diagram, "mermaid")
        );
        parts.push(Part::open("How it is wired", body));
    }
    let conversing = checkpoint.stage.before_merge();
    if !checkpoint.questions.is_empty() {
        // Once merged, the answers are history: kept, but folded away.
        let part = if conversing { Part::open } else { Part::collapsed };
        parts.push(part("Questions", questions(checkpoint)));
    }
    if let Some(record) = &checkpoint.deploy {
        parts.push(Part::open("Deploy", deploy(record)));
    }
    // This run's checks, or those an earlier run kept in the checkpoint for the same file.
    let kept: Vec<CheckResult> = checkpoint.checks.iter().map(|c| c.to_result()).collect();
    let shown = if input.checks.is_empty() { kept.as_slice() } else { input.checks };
    if !shown.is_empty() {
        parts.push(Part::open("Checks", checks(shown)));
    }
    if let Some(plan) = input.plan {
        parts.push(Part::collapsed("Nomad plan", plan.to_string()));
    }
    if let Some(file) = input.proposed_file {
        let path = checkpoint.spec_path.as_deref().unwrap_or("the job file");
        let title = format!("Proposed {} (copy it into the branch yourself)", code(path));
        parts.push(Part::collapsed(&title, fenced(file, "hcl")));
    }
    if !input.decisions.is_empty() {
        parts.push(Part::collapsed("Why these choices", decisions(input.decisions)));
    }
    if !input.notes.is_empty() {
        let notes: String =
            input.notes.iter().map(|note| format!("- {}\n", escape(note))).collect();
        parts.push(Part::open("Notes", notes));
    }
    let help = if conversing {
        format!(
            "Answer in a reply (`1: value` or `key = value`), tick the boxes above, or say \
             `{PREFIX} accept` to take every proposed default. `{PREFIX} help` lists the \
             commands.\n"
        )
    } else {
        format!("`{PREFIX} help` lists the commands.\n")
    };
    let footer = prompts_footer(input.prompts);
    let marker = encode(checkpoint);
    let fixed = STATUS_MARKER.len()
        + head.chars().count()
        + help.len()
        + footer.chars().count()
        + marker.len()
        + 16;
    fit(&mut parts, BUDGET.saturating_sub(fixed));

    let mut out = format!("{STATUS_MARKER}\n{head}\n");
    for part in &parts {
        out.push_str(&part.render());
        out.push('\n');
    }
    out.push_str(&help);
    out.push_str(&footer);
    out.push('\n');
    out.push_str(&marker);
    out.push('\n');
    out
}

/// One section of the body; `body` may be cut by [`fit`].
struct Part {
    title: String,
    body: String,
    collapsed: bool,
}

impl Part {
    fn open(title: &str, body: String) -> Part {
        Part { title: title.into(), body, collapsed: false }
    }

    fn collapsed(title: &str, body: String) -> Part {
        Part { title: title.into(), body, collapsed: true }
    }

    fn render(&self) -> String {
        if self.collapsed {
            format!("<details><summary>{}</summary>\n\n{}\n</details>\n", self.title, self.body)
        } else {
            format!("### {}\n\n{}", self.title, self.body)
        }
    }

    fn len(&self) -> usize {
        self.title.chars().count() + self.body.chars().count() + 60
    }
}

/// Put in place of text cut from a part.
const POINTER: &str =
    "\n\n_… cut to fit in a comment: the full text is in the workflow's job summary._\n";

/// Cuts the longest parts until all fit in `budget` characters.
fn fit(parts: &mut [Part], budget: usize) {
    let pointer_only = POINTER.trim();
    loop {
        let total: usize = parts.iter().map(Part::len).sum();
        if total <= budget {
            return;
        }
        let Some(longest) =
            parts.iter_mut().filter(|p| p.body != pointer_only).max_by_key(|p| p.len())
        else {
            return;
        };
        let length = longest.body.chars().count();
        let keep = length.saturating_sub(total - budget + POINTER.len() + 8);
        let cut: String = longest.body.chars().take(keep).collect();
        // Cut at a line end so no table row, entity or escape is split.
        let mut body = match cut.rfind('\n') {
            Some(at) => cut[..at].to_string(),
            None => String::new(),
        };
        if let Some(fence) = open_fence(&body) {
            body.push('\n');
            body.push_str(&fence);
        }
        // Plan Markdown nests its own `<details>`; a cut one is closed after the fence.
        let open =
            body.matches("<details").count().saturating_sub(body.matches("</details>").count());
        for _ in 0..open {
            body.push_str("\n</details>");
        }
        body.push_str(POINTER);
        longest.body = if body.chars().count() < length { body } else { pointer_only.to_string() };
    }
}

/// The fence of a code block `text` leaves open, if any.
fn open_fence(text: &str) -> Option<String> {
    let mut open: Option<String> = None;
    for line in text.lines() {
        let line = line.trim_start();
        let run: String = line.chars().take_while(|&c| c == '`').collect();
        match &open {
            None if run.len() >= 3 => open = Some(run),
            Some(fence) if run.len() >= fence.len() && line.trim_end() == run => open = None,
            _ => {}
        }
    }
    open
}

/// A fence longer than any backtick run in `text`, so the text cannot close it.
fn fenced(text: &str, language: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}{language}\n{}\n{fence}\n", text.trim_end())
}

/// The footer line naming the prompts used, so a change in the bot's behaviour can be put
/// down to a prompt version; empty when none was.
fn prompts_footer(prompts: &[String]) -> String {
    if prompts.is_empty() {
        return String::new();
    }
    let named: Vec<String> = prompts.iter().map(|p| code(p)).collect();
    format!("\n<sub>LLM prompts used in this run: {}.</sub>\n", named.join(", "))
}

fn head(checkpoint: &Checkpoint) -> String {
    let mut out = format!("## nomad-spec: {}\n", stage_sentence(checkpoint));
    if let Some(why) = &checkpoint.rebuilt_because {
        let _ = writeln!(
            out,
            "\n> [!WARNING]\n> I could not trust my saved state ({}), so I rebuilt it from the \
             branch: earlier answers are forgotten, please answer again.",
            escape(why)
        );
    }
    if checkpoint.fork {
        let _ = writeln!(
            out,
            "\nThis pull request comes from a fork: I can only suggest the job file below. \
             I never commit to a fork, deploy it or read secrets for it."
        );
    }
    if checkpoint.owner == Owner::Human {
        let path = checkpoint.spec_path.as_deref().unwrap_or("the job file");
        let _ = writeln!(
            out,
            "\n{} was edited by a person since my last commit: I only check it now. \
             `{PREFIX} generate` hands it back to me.",
            code(path)
        );
    }
    out
}

fn stage_sentence(checkpoint: &Checkpoint) -> String {
    let open = checkpoint.open_questions().count();
    match checkpoint.stage {
        Stage::New => "reading the repository".into(),
        Stage::AwaitingAnswers => match open {
            1 => "1 question needs your answer".into(),
            n => format!("{n} questions need your answer"),
        },
        Stage::Generated if checkpoint.fork => "job file proposed below".into(),
        Stage::Generated => "job file committed, checks running".into(),
        Stage::Checked => "job file ready: checks passed".into(),
        Stage::ChecksFailed => "checks failed on the job file".into(),
        Stage::Merged => "merged, deploy pending".into(),
        Stage::Deploying => "deploying".into(),
        Stage::Healthy => "deployed and healthy ✅".into(),
        Stage::Failed => "deploy failed ❌".into(),
        Stage::GaveUp => "gave up and rolled back ❌".into(),
    }
}

fn found(services: &[FoundService]) -> String {
    let mut out = String::from("| service | path | ports |\n|---|---|---|\n");
    for s in services {
        let ports: Vec<String> = s.ports.iter().map(u16::to_string).collect();
        let ports = if ports.is_empty() { "none".to_string() } else { ports.join(", ") };
        let _ = writeln!(out, "| {} | {} | {ports} |", code(&s.name), code(&s.path));
    }
    out
}

fn questions(checkpoint: &Checkpoint) -> String {
    let mut out = String::new();
    for (i, q) in checkpoint.questions.iter().enumerate() {
        let number = i + 1;
        let current = q.answer.as_deref().unwrap_or(&q.default);
        let state = match (&q.answer, &q.answered_by) {
            (Some(_), Some(by)) => format!("answered by {}", escape(by)),
            (Some(_), None) => "answered".to_string(),
            (None, _) if q.needs_answer => "**needs your answer**".to_string(),
            (None, _) => "proposed default".to_string(),
        };
        if q.is_yes_no() {
            let tick = if current == "true" { "x" } else { " " };
            let _ = writeln!(
                out,
                "{number}. [{tick}] {} — {} ({state})",
                escape(&q.key),
                escape(&q.prompt)
            );
        } else {
            let _ = writeln!(
                out,
                "{number}. {} — {}\n   {}: {} ({state})",
                escape(&q.key),
                escape(&q.prompt),
                if q.answer.is_some() { "answer" } else { "proposed" },
                code(current)
            );
        }
    }
    out
}

fn checks(results: &[CheckResult]) -> String {
    let mut out = String::from("| check | result | summary |\n|---|---|---|\n");
    for r in results {
        let mark = match r.status {
            CheckStatus::Success => "✅",
            CheckStatus::Failure => "❌",
            CheckStatus::Skipped => "⏭",
        };
        let _ = writeln!(out, "| {} | {mark} | {} |", code(&r.name), escape(&r.summary));
    }
    out
}

fn deploy(record: &super::checkpoint::DeployRecord) -> String {
    let mut out = format!(
        "Commit {}, attempt {}: {}\n",
        code(&record.commit.chars().take(12).collect::<String>()),
        record.attempts,
        escape(record.verdict.as_deref().unwrap_or("running"))
    );
    if let Some(diagnosis) = &record.diagnosis {
        let _ = writeln!(out, "\n**Diagnosis:** {}", escape(diagnosis));
    }
    out
}

fn decisions(decisions: &[Decision]) -> String {
    let mut out = String::from("| subject | choice | why |\n|---|---|---|\n");
    for d in decisions {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            escape(&d.subject),
            escape(&d.choice),
            escape(&d.reason)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_defuses_markup() {
        let cases = [
            ("</details><!--", "&lt;/details&gt;&lt;\\!\\-\\-"),
            ("@alice [x](y) `z`", "&#64;alice \\[x\\]\\(y\\) \\`z\\`"),
            ("a|b\nc", "a\\|b c"),
            ("${x}", "\\$\\{x\\}"),
        ];
        for (input, expected) in cases {
            assert_eq!(escape(input), expected, "{input}");
        }
        assert_eq!(escape(&"a".repeat(5_000)).chars().count(), crate::markdown::LONGEST_VALUE + 1);
    }

    #[test]
    fn open_fences_are_found() {
        assert_eq!(open_fence("a\n```diff\n+x\n```\nb"), None);
        assert_eq!(open_fence("`````hcl\n```\nx"), Some("`````".to_string()));
        assert_eq!(open_fence("````\nx\n`````"), None);
    }

    #[test]
    fn the_footer_names_the_prompts_used_and_nothing_without_them() {
        assert_eq!(prompts_footer(&[]), "");
        let used = ["answers@3".to_string(), "refine@7 (LangFuse, production)".to_string()];
        // Escaped like any text shown: `@` cannot mention anyone.
        assert_eq!(
            prompts_footer(&used),
            "\n<sub>LLM prompts used in this run: <code>answers&#64;3</code>, \
             <code>refine&#64;7 \\(LangFuse, production\\)</code>.</sub>\n"
        );
    }

    #[test]
    fn fences_outgrow_the_text() {
        assert_eq!(fenced("a ```` b", "hcl"), "`````hcl\na ```` b\n`````\n");
        assert_eq!(fenced("plain", ""), "```\nplain\n```\n");
    }
}
