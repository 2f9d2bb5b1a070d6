//! What the CI runner shows of a run: log sections, masked secrets, the job summary and step
//! outputs.
//!
//! On GitHub Actions these are workflow commands on stdout (`::group::`, `::endgroup::`,
//! `::add-mask::`) and the files named by `GITHUB_STEP_SUMMARY` and `GITHUB_OUTPUT`. GitLab
//! folds log sections with `section_start`/`section_end` markers and has no masking command
//! (CI/CD variables are masked by GitLab itself) nor step outputs; the summary goes to the log.
//! Locally (`--dry-run` on a laptop) everything is plain text on stderr.
//!
//! A runner file that cannot be written (a read-only mount, a container user without access)
//! is a warning in the log, never a failed run: the comment and checks on the forge are what
//! a person reads.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

/// Where the run is happening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runner {
    /// GitHub Actions: workflow commands and file commands.
    GitHubActions { summary: Option<PathBuf>, output: Option<PathBuf> },
    /// GitLab CI: collapsible sections in the job log.
    GitLabCi,
    /// A terminal.
    Local,
}

impl Runner {
    /// The runner the environment describes.
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Runner {
        if vars.get("GITHUB_ACTIONS").is_some_and(|v| v == "true") {
            Runner::GitHubActions {
                summary: vars.get("GITHUB_STEP_SUMMARY").map(PathBuf::from),
                output: vars.get("GITHUB_OUTPUT").map(PathBuf::from),
            }
        } else if vars.contains_key("GITLAB_CI") {
            Runner::GitLabCi
        } else {
            Runner::Local
        }
    }

    /// Starts a folded log section.
    pub fn group(&self, title: &str) {
        let title = one_line(title);
        match self {
            Runner::GitHubActions { .. } => println!("::group::{title}"),
            Runner::GitLabCi => {
                println!("\x1b[0Ksection_start:{}:{}\r\x1b[0K{title}", now(), section_id(&title))
            }
            Runner::Local => eprintln!("== {title}"),
        }
    }

    /// Ends the section `title` started.
    pub fn end_group(&self, title: &str) {
        match self {
            Runner::GitHubActions { .. } => println!("::endgroup::"),
            Runner::GitLabCi => {
                println!("\x1b[0Ksection_end:{}:{}\r\x1b[0K", now(), section_id(&one_line(title)))
            }
            Runner::Local => {}
        }
    }

    /// Asks the runner to hide `secret` in every later log line (GitHub only; GitLab masks
    /// its own variables). Values too short to mask meaningfully are skipped.
    pub fn mask(&self, secret: &str) {
        if let Runner::GitHubActions { .. } = self {
            for line in secret.lines().map(str::trim).filter(|l| l.len() >= 4) {
                println!("::add-mask::{line}");
            }
        }
    }

    /// A line in the log.
    pub fn log(&self, line: &str) {
        match self {
            Runner::Local => eprintln!("{line}"),
            _ => println!("{line}"),
        }
    }

    /// A warning the runner highlights.
    pub fn warn(&self, line: &str) {
        match self {
            Runner::GitHubActions { .. } => println!("::warning::{}", escape_command(line)),
            _ => eprintln!("warning: {line}"),
        }
    }

    /// Appends Markdown to the job summary.
    pub fn summary(&self, markdown: &str) {
        match self {
            Runner::GitHubActions { summary: Some(path), .. } => {
                if let Err(err) = append(path, markdown) {
                    self.warn(&format!("cannot write the job summary: {err}"));
                }
            }
            _ => self.log(markdown),
        }
    }

    /// Sets step outputs (`spec-path`, `job-id`, `verdict`).
    pub fn outputs(&self, outputs: &[(&str, &str)]) {
        let Runner::GitHubActions { output: Some(path), .. } = self else { return };
        let mut text = String::new();
        for (name, value) in outputs {
            if value.contains('\n') {
                // The multi-line form with a delimiter that cannot occur in the value.
                let delimiter =
                    format!("nomad_spec_{}", crate::conversation::sha256_hex(value.as_bytes()));
                text.push_str(&format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"));
            } else {
                text.push_str(&format!("{name}={value}\n"));
            }
        }
        if let Err(err) = append(path, &text) {
            self.warn(&format!("cannot write the step outputs: {err}"));
        }
    }
}

fn append(path: &PathBuf, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        file.write_all(b"\n")?;
    }
    Ok(())
}

fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

/// Workflow-command data escaping (`%`, CR, LF), so a message cannot start another command.
fn escape_command(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

fn section_id(title: &str) -> String {
    let id: String = title
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
        .take(40)
        .collect();
    format!("nomad_spec_{id}")
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_the_runner() {
        let vars = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        assert_eq!(Runner::from_vars(&vars(&[])), Runner::Local);
        assert_eq!(Runner::from_vars(&vars(&[("GITLAB_CI", "true")])), Runner::GitLabCi);
        assert_eq!(
            Runner::from_vars(&vars(&[("GITHUB_ACTIONS", "true"), ("GITHUB_OUTPUT", "/o")])),
            Runner::GitHubActions { summary: None, output: Some(PathBuf::from("/o")) }
        );
    }

    #[test]
    fn outputs_and_summary_are_appended() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("output");
        let summary = dir.path().join("summary");
        let runner =
            Runner::GitHubActions { summary: Some(summary.clone()), output: Some(output.clone()) };
        runner.outputs(&[("spec-path", "deploy/shop.nomad.hcl"), ("verdict", "two\nlines")]);
        runner.summary("## nomad-spec");
        let text = std::fs::read_to_string(&output).unwrap();
        assert!(
            text.starts_with("spec-path=deploy/shop.nomad.hcl\nverdict<<nomad_spec_"),
            "{text}"
        );
        assert!(text.contains("\ntwo\nlines\nnomad_spec_"), "{text}");
        assert_eq!(std::fs::read_to_string(&summary).unwrap(), "## nomad-spec\n");
    }

    #[test]
    fn an_unwritable_output_file_is_only_a_warning() {
        let runner = Runner::GitHubActions {
            summary: Some(PathBuf::from("/nonexistent/dir/summary")),
            output: Some(PathBuf::from("/nonexistent/dir/output")),
        };
        runner.outputs(&[("verdict", "healthy")]);
        runner.summary("text");
    }

    #[test]
    fn command_data_cannot_start_another_command() {
        assert_eq!(escape_command("a\n::add-mask::x 100%"), "a%0A::add-mask::x 100%25");
    }
}
