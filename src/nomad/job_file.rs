//! Reading a job file into Nomad's API JSON, and writing fixes back into it.
//!
//! HCL goes through the cluster's own parser (`/v1/jobs/parse`) when Nomad is reachable,
//! since it is authoritative for functions and variables; when the endpoint is missing or
//! Nomad cannot be reached, the local parser takes over and the caller is told. JSON files
//! are read with or without the `{"Job": ...}` envelope. Fixes are written back in the
//! file's own format, keeping an HCL file's comments and layout.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use serde_json::Value;

use super::client::{NomadClient, NomadError};
use crate::jobspec::edit::{self, Edit};
use crate::jobspec::parse::{parse_job, ParseOptions, MAX_SOURCE_BYTES};

/// How a job file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobFormat {
    Hcl,
    Json,
}

/// A job file as read from disk.
#[derive(Debug, Clone)]
pub struct JobFile {
    pub path: PathBuf,
    pub format: JobFormat,
    pub text: String,
}

/// Which parser produced the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedBy {
    /// The file was JSON already.
    Json,
    /// Nomad's `/v1/jobs/parse`.
    Nomad,
    /// The local parser, because Nomad's was not available (the reason says why).
    Local { reason: String },
}

impl JobFile {
    /// Reads a job file; `.json` files are JSON, anything else HCL.
    pub fn read(path: &Path) -> anyhow::Result<JobFile> {
        let text = crate::file::read_text(path, MAX_SOURCE_BYTES as u64)
            .with_context(|| format!("cannot read job file {}", path.display()))?;
        let format = if path.extension().is_some_and(|ext| ext.eq_ignore_ascii_case("json")) {
            JobFormat::Json
        } else {
            JobFormat::Hcl
        };
        Ok(JobFile { path: path.to_path_buf(), format, text })
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }

    /// What the file is when it is not a job but another of Nomad's specification files (a
    /// volume, node pool, ACL policy, agent configuration ...) that happens to be named like
    /// one: a folder of job files holds those too ([`crate::jobspec::parse::not_a_job`]).
    pub fn not_a_job(&self) -> Option<&'static str> {
        match self.format {
            JobFormat::Hcl => crate::jobspec::parse::not_a_job(&self.text),
            JobFormat::Json => None,
        }
    }

    /// The job as Nomad's API JSON (the `Job` object), and which parser read it.
    pub async fn to_job(
        &self,
        client: Option<&NomadClient>,
        options: &ParseOptions,
    ) -> anyhow::Result<(Value, ParsedBy)> {
        match self.format {
            JobFormat::Json => Ok((job_from_json(&self.text, &self.name())?, ParsedBy::Json)),
            JobFormat::Hcl => {
                let reason = match client {
                    None => "no Nomad client".to_string(),
                    Some(client) => {
                        let variables = variables_text(options)?;
                        match client.parse_job(&self.text, &variables).await {
                            Ok(job) => return Ok((job, ParsedBy::Nomad)),
                            Err(
                                err @ (NomadError::Unreachable { .. } | NomadError::Timeout { .. }),
                            ) => err.to_string(),
                            Err(NomadError::Server { status: 404 | 405 | 501, .. }) => {
                                "this Nomad has no /v1/jobs/parse endpoint".to_string()
                            }
                            // Only Nomad's parser's own refusal blames the file; a rate
                            // limit or a failing server says what Nomad answered instead.
                            Err(NomadError::Server { status: 400 | 422, body, .. }) => {
                                bail!("{}: Nomad cannot parse it: {}", self.name(), body.trim())
                            }
                            Err(err) => return Err(anyhow!(err)),
                        }
                    }
                };
                let job = parse_job(&self.text, &self.name(), options).map_err(|diagnostics| {
                    let mut text = format!(
                        "{} does not parse (with nomad-spec's own parser; Nomad's was not \
                         used: {reason}):",
                        self.name()
                    );
                    for d in diagnostics {
                        let _ =
                            write!(text, "\n  {}:{}:{}: {}", d.file, d.line, d.column, d.message);
                    }
                    anyhow!(text)
                })?;
                Ok((job, ParsedBy::Local { reason }))
            }
        }
    }

    /// Writes edits into the file, in place, keeping what they do not touch.
    pub fn write_edits(&mut self, edits: &[Edit]) -> anyhow::Result<()> {
        let name = self.name();
        let edited = match self.format {
            JobFormat::Hcl => edit::hcl::apply(&self.text, &name, edits)?,
            JobFormat::Json => edit::json::apply_to_file(&self.text, &name, edits)?,
        };
        std::fs::write(&self.path, &edited)
            .with_context(|| format!("cannot write the fix into {name}"))?;
        self.text = edited;
        Ok(())
    }
}

/// The `Job` object of a JSON job file, with or without the envelope.
pub fn job_from_json(text: &str, file: &str) -> anyhow::Result<Value> {
    let document: Value = serde_json::from_str(text)
        .map_err(|err| anyhow!("{file}:{}:{}: not valid JSON: {err}", err.line(), err.column()))?;
    let job = match document.get("Job") {
        Some(job) if job.is_object() => job.clone(),
        _ => document,
    };
    if !job.is_object() {
        bail!("{file}: a JSON job file holds a job object (or {{\"Job\": {{...}}}})");
    }
    if job.get("ID").and_then(Value::as_str).is_none_or(str::is_empty)
        && job.get("Name").and_then(Value::as_str).is_none_or(str::is_empty)
    {
        bail!("{file}: the job has neither an \"ID\" nor a \"Name\"");
    }
    Ok(job)
}

/// `-var` and `-var-file` values as the HCL var-file text `/v1/jobs/parse` takes.
fn variables_text(options: &ParseOptions) -> anyhow::Result<String> {
    let mut text = String::new();
    for file in &options.var_files {
        let content = crate::file::read_text(file, MAX_SOURCE_BYTES as u64)
            .with_context(|| format!("cannot read var file {}", file.display()))?;
        text.push_str(&content);
        text.push('\n');
    }
    for (name, value) in &options.vars {
        // A JSON string is a valid HCL string literal; `${` must not start a template.
        let quoted = serde_json::to_string(value)?.replace("${", "$${").replace("%{", "%%{");
        let _ = writeln!(text, "{name} = {quoted}");
    }
    Ok(text)
}

/// The files under `dir` whose names `wanted` accepts, sorted; symbolic links are not
/// followed and hidden folders and `target` are not entered. What could not be read is
/// returned in words (`cannot list deploy: permission denied`), the rest still found.
pub fn find_job_files(dir: &Path, wanted: fn(&str) -> bool) -> (Vec<PathBuf>, Vec<String>) {
    let mut found = Vec::new();
    let mut unreadable = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(err) => {
                unreadable.push(format!("cannot list {}: {err}", dir.display()));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) => {
                    unreadable.push(format!("cannot list {}: {err}", dir.display()));
                    continue;
                }
            };
            let Ok(file_type) = entry.file_type() else {
                unreadable.push(format!("cannot read {}", entry.path().display()));
                continue;
            };
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if file_type.is_dir() {
                if !name.starts_with('.') && name != "target" {
                    pending.push(entry.path());
                }
            } else if file_type.is_file() && wanted(&name) {
                found.push(entry.path());
            }
        }
    }
    found.sort();
    (found, unreadable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_with_and_without_envelope() {
        let bare = job_from_json(r#"{"ID": "web", "Type": "service"}"#, "web.json").unwrap();
        let wrapped =
            job_from_json(r#"{"Job": {"ID": "web", "Type": "service"}}"#, "web.json").unwrap();
        assert_eq!(bare, wrapped);
    }

    #[test]
    fn bad_json_says_where() {
        let err = job_from_json("{\n  \"ID\": web\n}", "web.json").unwrap_err();
        assert!(err.to_string().starts_with("web.json:2:"), "{err}");
        let err = job_from_json(r#"{"Type": "service"}"#, "web.json").unwrap_err();
        assert!(err.to_string().contains("neither"), "{err}");
        let err = job_from_json("[1]", "web.json").unwrap_err();
        assert!(err.to_string().contains("job object"), "{err}");
    }

    #[test]
    fn variables_become_var_file_text() {
        let options = ParseOptions {
            vars: vec![
                ("image".into(), "web:1".into()),
                ("greeting".into(), "say \"${hi}\"".into()),
            ],
            var_files: vec![],
        };
        assert_eq!(
            variables_text(&options).unwrap(),
            "image = \"web:1\"\ngreeting = \"say \\\"$${hi}\\\"\"\n"
        );
    }

    #[test]
    fn fixes_are_written_into_hcl_files_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.nomad.hcl");
        let source = "job \"web\" {\n  group \"app\" {\n    task \"server\" {\n      \
                      resources {\n        memory = 256 # measured\n      }\n    }\n  }\n}\n";
        std::fs::write(&path, source).unwrap();
        let mut file = JobFile::read(&path).unwrap();
        assert_eq!(file.format, JobFormat::Hcl);
        let edit = Edit::SetMemory {
            group: "app".into(),
            task: "server".into(),
            memory_mb: 512,
            memory_max_mb: None,
        };
        file.write_edits(&[edit]).unwrap();
        let written = std::fs::read_to_string(&path).unwrap();
        assert_eq!(written, source.replace("256", "512"));
        assert_eq!(file.text, written);
    }
}
