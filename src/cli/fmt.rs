//! `nomad-spec fmt`: rewrite job files in the canonical `nomad fmt` layout, or check them.
//!
//! This file owns which files are formatted (named files, directories searched for job
//! files, `-` for stdin), what happens to the result (printed, written back atomically, or
//! only compared) and the exit code. The layout itself is `jobspec::format::format_hcl`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::file::FileError;
use crate::jobspec::format::format_hcl;
use crate::jobspec::parse::MAX_SOURCE_BYTES;
use crate::nomad::job_file::find_job_files;

/// Exit code when `--check` finds files that are not formatted.
const EXIT_UNFORMATTED: u8 = 1;

/// Arguments of `nomad-spec fmt`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP, after_help = AFTER_HELP)]
pub struct Args {
    /// Only report: list the files that are not formatted and exit 1 if there are any.
    #[arg(long, conflicts_with = "write")]
    pub check: bool,
    /// Rewrite the files that are not formatted (atomically) and list them.
    #[arg(long)]
    pub write: bool,
    /// With --check: print a unified diff of each file that is not formatted instead of its
    /// name.
    #[arg(long, requires = "check")]
    pub diff: bool,
    /// Files or directories to format; `-` reads stdin and prints to stdout.
    #[arg(required = true, value_name = "FILE|DIR|-")]
    pub paths: Vec<PathBuf>,
}

const AFTER_HELP: &str = "\
Directories are searched recursively for *.nomad, *.nomad.hcl and *.hcl files, skipping
hidden directories, `target` directories and symbolic links.

Without --check or --write, a single FILE (or `-`) is printed formatted to stdout and nothing
is written. Several files or a directory without a flag is refused (exit 2) rather than
guessed at: say --write to rewrite them or --check to list the ones that would change.

--check --diff prints a unified diff (patch-applicable) instead of the file names.

Exit codes:
  0  every file is formatted (or was printed or rewritten)
  1  --check: at least one file is not formatted (they are listed on stdout)
  2  usage error, unreadable file or a syntax error (reported as `file:line:col: error: ...`
     on stderr; the other files are still processed)";

/// What to do with a formatted file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Print,
    Write,
    /// Compare only; `diff` prints how instead of which.
    Check {
        diff: bool,
    },
}

/// What happened to one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Unchanged,
    Changed,
    Failed,
}

/// Runs `nomad-spec fmt`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    let mut inputs = Vec::new();
    let mut searched_directory = false;
    for path in &args.paths {
        if path.as_os_str() == "-" {
            inputs.push(Input::Stdin);
            continue;
        }
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => {
                searched_directory = true;
                let (found, unreadable) = find_job_files(path, is_job_file);
                for problem in &unreadable {
                    eprintln!("error: {problem}");
                }
                inputs.extend(found.into_iter().map(Input::File));
                failed |= !unreadable.is_empty();
            }
            Ok(_) => inputs.push(Input::File(path.clone())),
            Err(err) => {
                eprintln!("error: cannot read {}: {err}", path.display());
                failed = true;
            }
        }
    }

    let action = if args.check {
        Action::Check { diff: args.diff }
    } else if args.write {
        Action::Write
    } else if inputs.len() > 1 || searched_directory {
        anyhow::bail!(
            "without --check or --write only a single file is formatted (to stdout); for {} \
             files say --write to rewrite them or --check to list those that would change",
            inputs.len()
        );
    } else {
        Action::Print
    };

    let mut changed = false;
    for input in &inputs {
        match process(input, action) {
            Outcome::Unchanged => {}
            Outcome::Changed => changed = true,
            Outcome::Failed => failed = true,
        }
    }
    Ok(if failed {
        ExitCode::from(super::EXIT_USAGE)
    } else if changed && matches!(action, Action::Check { .. }) {
        ExitCode::from(EXIT_UNFORMATTED)
    } else {
        ExitCode::SUCCESS
    })
}

/// One thing to format.
#[derive(Debug)]
enum Input {
    Stdin,
    File(PathBuf),
}

impl Input {
    fn name(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".to_string(),
            Input::File(path) => path.display().to_string(),
        }
    }

    /// A regular file (or stdin), at most as large as a job file is read.
    fn read(&self) -> Result<Vec<u8>, FileError> {
        let limit = MAX_SOURCE_BYTES as u64;
        match self {
            Input::Stdin => crate::file::read_stdin(limit),
            Input::File(path) => crate::file::read(path, limit),
        }
    }
}

/// Formats one input and acts on the result; problems are reported on stderr.
fn process(input: &Input, action: Action) -> Outcome {
    let name = input.name();
    let bytes = match input.read() {
        Ok(bytes) => bytes,
        Err(err) => {
            eprintln!("error: {err:#}");
            return Outcome::Failed;
        }
    };
    let source = match std::str::from_utf8(&bytes) {
        Ok(source) => source,
        Err(err) => {
            let (line, column) = position_of_byte(&bytes, err.valid_up_to());
            eprintln!("{name}:{line}:{column}: error: the file is not valid UTF-8");
            return Outcome::Failed;
        }
    };
    let formatted = match format_hcl(source, &name) {
        Ok(formatted) => formatted,
        Err(diagnostic) => {
            eprintln!("{diagnostic}");
            return Outcome::Failed;
        }
    };
    let changed = formatted != source;
    let result = match (action, input) {
        (Action::Print, _) | (Action::Write, Input::Stdin) => print(&formatted),
        (Action::Check { diff }, _) => {
            if changed && diff {
                print(&unified_diff(&name, source, &formatted))
            } else {
                if changed {
                    println!("{name}");
                }
                Ok(())
            }
        }
        (Action::Write, Input::File(path)) => {
            if changed {
                write_atomically(path, &formatted).map(|()| println!("{name}"))
            } else {
                Ok(())
            }
        }
    };
    match result {
        Ok(()) if changed => Outcome::Changed,
        Ok(()) => Outcome::Unchanged,
        Err(err) => {
            eprintln!("error: {err:#}");
            Outcome::Failed
        }
    }
}

fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes()).context("cannot write to stdout")?;
    stdout.flush().context("cannot write to stdout")
}

/// Replaces `path` with `text` through a temporary file beside it, so a reader (or a crash)
/// sees either the old file or the new one, never half of one. The file keeps its
/// permissions; a symbolic link keeps pointing where it did and its target is rewritten.
fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let target = std::fs::canonicalize(path)
        .with_context(|| format!("cannot resolve {}", path.display()))?;
    let dir = target.parent().unwrap_or(Path::new("."));
    let permissions = std::fs::metadata(&target)
        .with_context(|| format!("cannot read {}", path.display()))?
        .permissions();
    let mut temp = tempfile::Builder::new()
        .prefix(".nomad-spec-fmt")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    temp.write_all(text.as_bytes())
        .and_then(|()| temp.as_file().sync_all())
        .with_context(|| format!("cannot write a temporary file in {}", dir.display()))?;
    std::fs::set_permissions(temp.path(), permissions).with_context(|| {
        format!("cannot set permissions on a temporary file in {}", dir.display())
    })?;
    temp.persist(&target).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

/// Lines of context around each change in a diff.
const DIFF_CONTEXT: usize = 3;

/// A unified diff from `before` to its formatted text `after`. Formatting only re-spaces
/// lines, never adds, removes or reorders them, so lines correspond one to one and a hunk is
/// a run of changed lines with its context; should the line counts ever differ, the whole
/// file is one hunk.
fn unified_diff(name: &str, before: &str, after: &str) -> String {
    let old: Vec<&str> = before.split_inclusive('\n').collect();
    let new: Vec<&str> = after.split_inclusive('\n').collect();
    let mut out = format!("--- {name}\n+++ {name}\n");
    if old.len() != new.len() {
        out.push_str(&format!("@@ -1,{} +1,{} @@\n", old.len(), new.len()));
        old.iter().for_each(|line| push_diff_line(&mut out, '-', line));
        new.iter().for_each(|line| push_diff_line(&mut out, '+', line));
        return out;
    }
    let mut hunks: Vec<(usize, usize)> = Vec::new();
    for at in (0..old.len()).filter(|at| old[*at] != new[*at]) {
        let start = at.saturating_sub(DIFF_CONTEXT);
        let end = (at + 1 + DIFF_CONTEXT).min(old.len());
        match hunks.last_mut() {
            Some(last) if start <= last.1 => last.1 = end,
            _ => hunks.push((start, end)),
        }
    }
    for (start, end) in hunks {
        let len = end - start;
        out.push_str(&format!("@@ -{},{len} +{},{len} @@\n", start + 1, start + 1));
        let mut at = start;
        while at < end {
            if old[at] == new[at] {
                push_diff_line(&mut out, ' ', old[at]);
                at += 1;
                continue;
            }
            let run_end = (at..end).find(|i| old[*i] == new[*i]).unwrap_or(end);
            old[at..run_end].iter().for_each(|line| push_diff_line(&mut out, '-', line));
            new[at..run_end].iter().for_each(|line| push_diff_line(&mut out, '+', line));
            at = run_end;
        }
    }
    out
}

fn push_diff_line(out: &mut String, prefix: char, line: &str) {
    out.push(prefix);
    out.push_str(line);
    if !line.ends_with('\n') {
        out.push_str("\n\\ No newline at end of file\n");
    }
}

/// `*.nomad`, `*.nomad.hcl` and `*.hcl`.
fn is_job_file(name: &str) -> bool {
    name.ends_with(".nomad") || name.ends_with(".hcl")
}

/// 1-based line and column of a byte offset in text that may not be valid UTF-8.
fn position_of_byte(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|b| *b == b'\n').map_or(0, |at| at + 1);
    let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_file_names() {
        let cases = [
            ("web.nomad", true),
            ("web.nomad.hcl", true),
            ("agent.hcl", true),
            ("web.nomad.bak", false),
            ("README.md", false),
            ("nomad", false),
        ];
        for (name, expected) in cases {
            assert_eq!(is_job_file(name), expected, "{name}");
        }
    }

    #[test]
    fn diffs_are_unified_with_context() {
        let middle: String = (1..=8).map(|n| format!("  m{n} = {n}\n")).collect();
        let before = format!("a {{\nb=1\n{middle}  z=7\n}}");
        let after = format!("a {{\n  b = 1\n{middle}  z = 7\n}}\n");
        insta::assert_snapshot!(unified_diff("job.nomad", &before, &after), @r"
        --- job.nomad
        +++ job.nomad
        @@ -1,5 +1,5 @@
         a {
        -b=1
        +  b = 1
           m1 = 1
           m2 = 2
           m3 = 3
        @@ -8,5 +8,5 @@
           m6 = 6
           m7 = 7
           m8 = 8
        -  z=7
        -}
        \ No newline at end of file
        +  z = 7
        +}
        ");
    }

    #[test]
    fn byte_positions() {
        assert_eq!(position_of_byte(b"abc", 0), (1, 1));
        assert_eq!(position_of_byte(b"a\nbc\xff", 4), (2, 3));
        assert_eq!(position_of_byte(&[0xc3, 0xa9, b'\n', 0xc3, 0xa9, b'x', 0xff], 6), (2, 3));
    }
}
