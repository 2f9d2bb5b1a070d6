//! `nomad-spec fmt` driven as a user runs it: the real binary on temporary directories.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const FORMATTED: &str =
    "job \"web\" {\n  type        = \"service\"\n  datacenters = [\"dc1\"]\n}\n";
const UNFORMATTED: &str = "job \"web\" {\ntype = \"service\"\n  datacenters = [ \"dc1\" ]\n}\n";

fn nomad_spec(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A temporary tree of job files, some formatted, some not, some to be skipped.
fn job_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    for sub in ["jobs/nested", "jobs/.hidden", "jobs/target"] {
        fs::create_dir_all(root.join(sub)).expect("create dirs");
    }
    let files = [
        ("jobs/clean.nomad", FORMATTED),
        ("jobs/messy.nomad.hcl", UNFORMATTED),
        ("jobs/nested/agent.hcl", UNFORMATTED),
        ("jobs/nested/notes.txt", UNFORMATTED),
        ("jobs/.hidden/skipped.nomad", UNFORMATTED),
        ("jobs/target/skipped.nomad", UNFORMATTED),
    ];
    for (path, text) in files {
        fs::write(root.join(path), text).expect("write fixture");
    }
    dir
}

#[test]
fn a_single_file_is_printed_and_left_alone() {
    let dir = job_tree();
    let output = nomad_spec(dir.path(), &["fmt", "jobs/messy.nomad.hcl"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), FORMATTED);
    let on_disk = fs::read_to_string(dir.path().join("jobs/messy.nomad.hcl")).expect("read");
    assert_eq!(on_disk, UNFORMATTED);
}

#[test]
fn stdin_is_formatted_to_stdout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
        .args(["fmt", "-"])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child.stdin.take().expect("stdin").write_all(UNFORMATTED.as_bytes()).expect("write stdin");
    let output = child.wait_with_output().expect("the binary finishes");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), FORMATTED);
}

#[test]
fn check_lists_unformatted_job_files_and_exits_1() {
    let dir = job_tree();
    let output = nomad_spec(dir.path(), &["fmt", "--check", "jobs"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(stdout(&output), "jobs/messy.nomad.hcl\njobs/nested/agent.hcl\n");
    let untouched = fs::read_to_string(dir.path().join("jobs/messy.nomad.hcl")).expect("read");
    assert_eq!(untouched, UNFORMATTED, "--check must not write");
}

#[test]
fn check_passes_when_everything_is_formatted() {
    let dir = job_tree();
    let output = nomad_spec(dir.path(), &["fmt", "--check", "jobs/clean.nomad"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "");
}

#[test]
fn write_rewrites_changed_files_and_lists_them() {
    let dir = job_tree();
    let root = dir.path();
    let output = nomad_spec(root, &["fmt", "--write", "jobs"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "jobs/messy.nomad.hcl\njobs/nested/agent.hcl\n");
    for path in ["jobs/clean.nomad", "jobs/messy.nomad.hcl", "jobs/nested/agent.hcl"] {
        assert_eq!(fs::read_to_string(root.join(path)).expect("read"), FORMATTED, "{path}");
    }
    for skipped in
        ["jobs/nested/notes.txt", "jobs/.hidden/skipped.nomad", "jobs/target/skipped.nomad"]
    {
        assert_eq!(fs::read_to_string(root.join(skipped)).expect("read"), UNFORMATTED);
    }
    let leftovers: Vec<_> = fs::read_dir(root.join("jobs"))
        .expect("list")
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().starts_with(".nomad-spec-fmt"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind: {leftovers:?}");

    let again = nomad_spec(root, &["fmt", "--check", "jobs"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
}

#[cfg(unix)]
#[test]
fn write_keeps_permissions_and_symbolic_links() {
    use std::os::unix::fs::PermissionsExt;
    let dir = job_tree();
    let root = dir.path();
    let real = root.join("jobs/messy.nomad.hcl");
    fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).expect("chmod");
    std::os::unix::fs::symlink("jobs/messy.nomad.hcl", root.join("link.nomad")).expect("symlink");

    let output = nomad_spec(root, &["fmt", "--write", "link.nomad"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(fs::symlink_metadata(root.join("link.nomad")).expect("stat").file_type().is_symlink());
    assert_eq!(fs::read_to_string(&real).expect("read"), FORMATTED);
    let mode = fs::metadata(&real).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
}

#[test]
fn a_syntax_error_is_reported_with_position_and_other_files_still_processed() {
    let dir = job_tree();
    let root = dir.path();
    fs::write(root.join("jobs/broken.nomad"), "job \"x\" {\n  image = \"nginx\n}\n")
        .expect("write");
    let output = nomad_spec(root, &["fmt", "--check", "jobs"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "jobs/broken.nomad:2:11: error: unterminated string: this `\"` is not closed on its \
         line (use a heredoc for text over several lines)\n"
    );
    assert_eq!(stdout(&output), "jobs/messy.nomad.hcl\njobs/nested/agent.hcl\n");

    let output = nomad_spec(root, &["fmt", "--write", "jobs"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stdout(&output), "jobs/messy.nomad.hcl\njobs/nested/agent.hcl\n");
    let broken = fs::read_to_string(root.join("jobs/broken.nomad")).expect("read");
    assert_eq!(broken, "job \"x\" {\n  image = \"nginx\n}\n", "a broken file is never written");
}

#[test]
fn invalid_utf8_and_missing_files_exit_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    fs::write(dir.path().join("bad.nomad"), b"job \"x\" {\n  a = \"\xff\"\n}\n").expect("write");
    let output = nomad_spec(dir.path(), &["fmt", "--check", "bad.nomad", "missing.nomad"]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("bad.nomad:2:8: error: the file is not valid UTF-8"), "{err}");
    assert!(err.contains("cannot read missing.nomad"), "{err}");
}

#[test]
fn several_files_without_a_flag_are_refused() {
    let dir = job_tree();
    let output = nomad_spec(dir.path(), &["fmt", "jobs"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--write"), "{}", stderr(&output));
    assert_eq!(stdout(&output), "");
    let untouched = fs::read_to_string(dir.path().join("jobs/messy.nomad.hcl")).expect("read");
    assert_eq!(untouched, UNFORMATTED);
}

#[test]
fn check_and_write_together_are_a_usage_error() {
    let dir = job_tree();
    let output = nomad_spec(dir.path(), &["fmt", "--check", "--write", "jobs"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn help_documents_the_exit_codes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = nomad_spec(dir.path(), &["fmt", "--help"]);
    assert_eq!(output.status.code(), Some(0));
    let help = stdout(&output);
    for needle in
        ["Exit codes:", "--check", "--write", "*.nomad.hcl", "0  every file", "1  --check"]
    {
        assert!(help.contains(needle), "help lacks {needle:?}:\n{help}");
    }
}

#[test]
fn check_with_diff_prints_a_unified_diff() {
    let dir = job_tree();
    let output = nomad_spec(dir.path(), &["fmt", "--check", "--diff", "jobs/messy.nomad.hcl"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let expected = "\
--- jobs/messy.nomad.hcl
+++ jobs/messy.nomad.hcl
@@ -1,4 +1,4 @@
 job \"web\" {
-type = \"service\"
-  datacenters = [ \"dc1\" ]
+  type        = \"service\"
+  datacenters = [\"dc1\"]
 }
";
    assert_eq!(stdout(&output), expected);

    let without_check = nomad_spec(dir.path(), &["fmt", "--diff", "jobs/messy.nomad.hcl"]);
    assert_eq!(without_check.status.code(), Some(2), "--diff needs --check");
}
