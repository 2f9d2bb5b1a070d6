//! What the two end-to-end bot stories (GitHub and GitLab) share: reading a run's outcome and
//! the status comment the way a person would, and the files of a sample app to commit.

use std::process::Output;

/// The status comment's own marker line.
pub const STATUS_MARKER: &str = "<!-- nomad-spec:status -->";

/// The marker line of the comment in which a failed run says what went wrong.
pub const PROBLEM_MARKER: &str = "<!-- nomad-spec:problem -->";

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
