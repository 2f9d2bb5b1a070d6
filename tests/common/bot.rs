//! What the two end-to-end bot stories (GitHub and GitLab) share: reading a run's outcome and
//! the status comment the way a person would, and the files of a sample app to commit.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

/// The status comment's own marker line.
pub const STATUS_MARKER: &str = "<!-- nomad-spec:status -->";

/// The marker line of the comment in which a failed run says what went wrong.
pub const PROBLEM_MARKER: &str = "<!-- nomad-spec:problem -->";

/// Runs `nomad-spec ci` as a CI job would, with exactly `vars` (blank ones dropped, as CI does
/// not set them) and `home` as its home folder.
pub fn run_ci(home: &Path, vars: &BTreeMap<String, String>) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
        .arg("ci")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .envs(vars.iter().filter(|(_, v)| !v.is_empty()))
        .output()
        .unwrap_or_else(|e| panic!("cannot run nomad-spec ci: {e}"))
}

/// stdout and stderr of a `nomad-spec ci` run that must have failed (exit code 1).
pub fn failed(output: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(1), "nomad-spec ci did not fail:\n{text}");
    text
}

/// stdout and stderr of a `nomad-spec ci` run that must have succeeded.
pub fn ok(output: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(0), "nomad-spec ci failed:\n{text}");
    text
}

/// The number of the question whose key starts with `prefix` in a status comment.
pub fn question_number(status: &str, prefix: &str) -> u32 {
    let escaped = prefix.replace('.', "\\.");
    status
        .lines()
        .find_map(|line| {
            let (number, rest) = line.trim().split_once(". ")?;
            let rest = rest.trim_start_matches("[ ] ").trim_start_matches("[x] ");
            (rest.starts_with(&escaped) || rest.starts_with(prefix)).then(|| number.parse().ok())?
        })
        .unwrap_or_else(|| panic!("no question {prefix} in:\n{status}"))
}
