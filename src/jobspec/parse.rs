//! HCL2 job files → Nomad's API JSON (what `nomad job run -output` prints).
//!
//! The file is parsed with `hcl-edit` (which keeps byte spans), variables and locals are
//! resolved, and the `job` block is read against Nomad's schema (`parse/job.rs`) into the
//! API's PascalCase JSON, keeping runtime interpolations (`${NOMAD_PORT_http}`) as text the
//! way Nomad does. Every problem becomes a `Diagnostic` with its line and column. Validation
//! (`jobspec::validate`) reuses the decoded job and its spans; it does not live here.

mod budget;
mod decode;
mod eval;
mod functions;
mod hcl1;
mod job;
mod text;
mod value;
mod variables;

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use hcl_edit::structure::{Body, Structure};
use hcl_edit::Span;
use serde_json::Value;

use self::decode::{Problem, Reader};
use self::variables::Inputs;
use super::{Diagnostic, JobSpec, Severity};

pub(crate) use self::decode::{closest, is_unknown};
pub(crate) use self::text::LineIndex;

/// Inputs of a parse besides the file: `-var` and `-var-file` values.
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    /// `-var NAME=VALUE`, in order; later ones win.
    pub vars: Vec<(String, String)>,
    /// `-var-file FILE`, in order; `-var` wins over them.
    pub var_files: Vec<PathBuf>,
}

/// Largest job file read; far above any real job, low enough to bound time and memory.
pub const MAX_SOURCE_BYTES: usize = 16 * 1024 * 1024;

/// The text of a job file read as bytes, or an error at the first byte that is not UTF-8.
pub fn source_text<'a>(bytes: &'a [u8], file: &str) -> Result<&'a str, Diagnostic> {
    std::str::from_utf8(bytes).map_err(|err| {
        let offset = err.valid_up_to();
        let valid = std::str::from_utf8(&bytes[..offset]).unwrap_or("");
        let (line, column) = LineIndex::new(valid).position(offset);
        Diagnostic::error(
            file,
            line,
            column,
            format!(
                "the file is not valid UTF-8: byte {offset} (0x{:02x}) starts an invalid sequence",
                bytes[offset]
            ),
        )
    })
}

/// Parses a job file into the Nomad API's `Job` object (not the `{"Job":...}` envelope).
pub fn parse_job(
    source: &str,
    file: &str,
    options: &ParseOptions,
) -> Result<serde_json::Value, Vec<Diagnostic>> {
    let mut var_files = Vec::with_capacity(options.var_files.len());
    let mut diagnostics = Vec::new();
    for path in &options.var_files {
        match crate::file::read_text(path, MAX_SOURCE_BYTES as u64) {
            Ok(text) => var_files.push((path.display().to_string(), text)),
            Err(err) => diagnostics.push(Diagnostic::error(
                path.display().to_string(),
                0,
                0,
                format!("cannot read the var file: {}", err.reason()),
            )),
        }
    }
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let inputs = Inputs { files: &var_files, vars: &options.vars, lenient: false };
    let decoded = decode_job(source, file, &inputs);
    let errors: Vec<Diagnostic> =
        decoded.diagnostics.into_iter().filter(|d| d.severity == Severity::Error).collect();
    match decoded.job {
        Some(Value::Object(mut job)) if errors.is_empty() => {
            job::normalize(&mut job, &decoded.job_id);
            Ok(Value::Object(job))
        }
        _ => Err(errors),
    }
}

/// Parses a job file into the typed model.
pub fn parse_job_spec(
    source: &str,
    file: &str,
    options: &ParseOptions,
) -> Result<JobSpec, Vec<Diagnostic>> {
    let value = parse_job(source, file, options)?;
    serde_json::from_value(value).map_err(|err| {
        vec![Diagnostic::error(
            file,
            0,
            0,
            format!("the job does not fit Nomad's job model: {err}"),
        )]
    })
}

/// A job as read from a file, before Nomad's normalisation, with where each part came from.
pub(crate) struct DecodedJob {
    /// The `Job` object; `None` when the file has no readable `job` block.
    pub job: Option<Value>,
    /// The `job` block's label.
    pub job_id: String,
    /// JSON pointer → (line, column) of the value or block in the file.
    pub positions: HashMap<String, (u32, u32)>,
    /// Syntax, variable and schema findings, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl DecodedJob {
    /// Position of a JSON pointer, or of its nearest ancestor that has one.
    pub(crate) fn position(&self, pointer: &str) -> (u32, u32) {
        let mut p = pointer;
        loop {
            if let Some(pos) = self.positions.get(p) {
                return *pos;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return (0, 0),
            }
        }
    }
}

/// Decodes a job file for validation: variables without values become unknown (skipped by
/// the rules) instead of errors.
pub(crate) fn decode_for_validation(source: &str, file: &str) -> DecodedJob {
    decode_job(source, file, &Inputs { files: &[], vars: &[], lenient: true })
}

fn decode_job(source: &str, file: &str, inputs: &Inputs<'_>) -> DecodedJob {
    // Editors on Windows may start a file with a byte order mark; it is not HCL.
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    budget::reset();
    let lines = LineIndex::new(source);
    let mut decoded = DecodedJob {
        job: None,
        job_id: String::new(),
        positions: HashMap::new(),
        diagnostics: Vec::new(),
    };
    let diagnostic = |problem: &Problem| {
        if let Some((other, line, column)) = &problem.elsewhere {
            return Diagnostic {
                file: other.clone(),
                line: *line,
                column: *column,
                severity: problem.severity,
                message: problem.message.clone(),
            };
        }
        let (line, column) =
            if problem.span == (0..0) { (0, 0) } else { lines.position(problem.span.start) };
        Diagnostic {
            file: file.to_owned(),
            line,
            column,
            severity: problem.severity,
            message: problem.message.clone(),
        }
    };
    if source.len() > MAX_SOURCE_BYTES {
        decoded.diagnostics.push(Diagnostic::error(
            file,
            0,
            0,
            format!(
                "the file is {} bytes; job files over {MAX_SOURCE_BYTES} bytes are not read",
                source.len()
            ),
        ));
        return decoded;
    }
    let body = match hcl_edit::parser::parse_body(source) {
        Ok(body) => body,
        Err(err) => {
            let location = err.location();
            let (line, column) = lines.position(location.offset());
            let message = hcl1::explain_syntax_error(source, location.offset(), err.message());
            decoded.diagnostics.push(Diagnostic::error(file, line, column, message));
            return decoded;
        }
    };
    if let Some(kind) = other_specification(&body) {
        // One sentence instead of an error for every top-level line of a file that was
        // never meant to be a job.
        let (line, column) =
            body.iter().next().and_then(structure_start).map_or((1, 1), |at| lines.position(at));
        decoded.diagnostics.push(Diagnostic::error(
            file,
            line,
            column,
            format!("this is {kind}, not a job file: a job file holds `job \"name\" {{ ... }}`"),
        ));
        return decoded;
    }
    let base_dir =
        Path::new(file).parent().map(|p| if p.as_os_str().is_empty() { Path::new(".") } else { p });
    let mut problems = Vec::new();
    check_top_level(&body, &mut problems);
    let decls = variables::declarations(&body, &mut problems, source);
    let vars = variables::values(&decls, inputs, source, base_dir, &mut problems);
    let locals = variables::locals(&body, &vars, source, base_dir, &mut problems);
    let mut decoder = variables::decoder(source, &vars, &locals, base_dir);
    decoder.problems = problems;
    let jobs: Vec<_> = body.blocks().filter(|b| b.ident.as_str() == "job").collect();
    match jobs.as_slice() {
        [] => decoder
            .error(0..0, "the file has no job block: a job file needs `job \"name\" { ... }`"),
        [first, rest @ ..] => {
            for extra in rest {
                decoder.error(
                    extra.ident.span().unwrap_or(0..0),
                    "only one job block is allowed in a job file",
                );
            }
            let span = first.ident.span().unwrap_or(0..0);
            match first.labels.as_slice() {
                [label] => {
                    decoded.job_id = label.as_str().to_owned();
                    decoder.spans.insert(String::new(), span);
                    let mut reader = Reader::new(&mut decoder, &first.body, "job", String::new());
                    job::job(&mut reader);
                    decoded.job = Some(Value::Object(reader.finish()));
                }
                _ => decoder.error(
                    span,
                    "a job block takes one label, the job's name: `job \"name\" { ... }`",
                ),
            }
        }
    }
    let mut problems = std::mem::take(&mut decoder.problems);
    problems.sort_by_key(|p| p.span.start);
    decoded.diagnostics = problems.iter().map(diagnostic).collect();
    decoded.positions = decoder
        .spans
        .iter()
        .map(|(pointer, span): (&String, &Range<usize>)| {
            (pointer.clone(), lines.position(span.start))
        })
        .collect();
    decoded
}

/// What an HCL text that holds no `job` block is, when its top level shows one of Nomad's
/// other specification files (a volume, node pool, namespace, quota, ACL policy, autoscaler
/// policy or agent configuration); `None` for a job file, for text that is not HCL, and for
/// anything else (which then gets the parser's errors).
pub fn not_a_job(source: &str) -> Option<&'static str> {
    let body = hcl_edit::parser::parse_body(source).ok()?;
    other_specification(&body)
}

/// [`not_a_job`] of a parsed body.
fn other_specification(body: &Body) -> Option<&'static str> {
    if body.blocks().any(|b| b.ident.as_str() == "job") {
        return None;
    }
    let attribute = |name: &str| body.attributes().find(|a| a.key.as_str() == name);
    let block = |name: &str| body.blocks().find(|b| b.ident.as_str() == name);
    let holds_policy = |b: &hcl_edit::structure::Block| {
        b.body.attributes().any(|a| matches!(a.key.as_str(), "policy" | "capabilities"))
    };
    const ACL_SCOPES: [&str; 7] =
        ["namespace", "node", "agent", "operator", "quota", "host_volume", "plugin"];
    const AGENT: [&str; 9] = [
        "server",
        "client",
        "data_dir",
        "datacenter",
        "bind_addr",
        "advertise",
        "ports",
        "telemetry",
        "leave_on_interrupt",
    ];
    let volume_type = attribute("type")
        .and_then(|a| a.value.as_str().map(str::to_owned))
        .is_some_and(|t| matches!(t.as_str(), "csi" | "host"));
    if attribute("plugin_id").is_some() || volume_type || block("capability").is_some() {
        return Some("a volume specification (`nomad volume create` or `register`)");
    }
    if block("node_pool").is_some() {
        return Some("a node pool specification (`nomad node pool apply`)");
    }
    if body.blocks().any(|b| ACL_SCOPES.contains(&b.ident.as_str()) && holds_policy(b)) {
        return Some("an ACL policy (`nomad acl policy apply`)");
    }
    if block("namespace").is_some() {
        return Some("a namespace specification (`nomad namespace apply`)");
    }
    if block("quota").is_some() {
        return Some("a quota specification (`nomad quota apply`)");
    }
    if block("scaling").is_some() {
        return Some("a Nomad Autoscaler policy");
    }
    let agent = |name: &str| attribute(name).is_some() || block(name).is_some();
    if AGENT.iter().any(|name| agent(name)) {
        return Some("a Nomad agent configuration");
    }
    None
}

/// Where a top-level line starts in the text.
fn structure_start(structure: &Structure) -> Option<usize> {
    match structure {
        Structure::Block(b) => b.ident.span().map(|s| s.start),
        Structure::Attribute(a) => a.key.span().map(|s| s.start),
    }
}

/// The top level holds `job`, `variable`, `variables` and `locals` blocks only.
fn check_top_level(body: &Body, problems: &mut Vec<Problem>) {
    for s in body.iter() {
        let (span, message) = match s {
            Structure::Block(b)
                if matches!(b.ident.as_str(), "job" | "variable" | "variables" | "locals") =>
            {
                continue
            }
            Structure::Block(b) => (
                b.ident.span().unwrap_or(0..0),
                format!(
                    "unsupported block type {:?} at the top level; a job file holds job, \
                     variable, variables and locals blocks",
                    b.ident.as_str()
                ),
            ),
            Structure::Attribute(a) => (
                a.key.span().unwrap_or(0..0),
                format!(
                    "unsupported argument {:?} at the top level; arguments belong inside the job \
                     block",
                    a.key.as_str()
                ),
            ),
        };
        problems.push(Problem { span, severity: Severity::Error, message, elsewhere: None });
    }
}
