//! `nomad-spec parse` as a user runs it: the `{"Job": ...}` envelope on stdout, variables
//! from `-var` and `-var-file`, `file:line:column: error: message` on stderr, exit codes, and
//! bad input (invalid UTF-8, a 5 MiB file, deep nesting, answers full of HCL syntax).

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn nomad_spec(args: &[&str], dir: &Path) -> Output {
    match Command::new(env!("CARGO_BIN_EXE_nomad-spec")).args(args).current_dir(dir).output() {
        Ok(output) => output,
        Err(err) => panic!("cannot run nomad-spec: {err}"),
    }
}

fn stdout_json(output: &Output) -> Value {
    match serde_json::from_slice(&output.stdout) {
        Ok(value) => value,
        Err(err) => panic!(
            "stdout is not JSON ({err}); stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

fn write(dir: &Path, name: &str, text: impl AsRef<[u8]>) {
    if let Err(err) = std::fs::write(dir.join(name), text) {
        panic!("cannot write {name}: {err}");
    }
}

const JOB: &str = r#"variable "image" {
  type = string
}

variable "replicas" {
  type    = number
  default = 1
}

variable "message" {
  default = "hello"
}

job "web" {
  group "app" {
    count = var.replicas

    task "server" {
      driver = "docker"

      config {
        image = var.image
      }

      env {
        MESSAGE = var.message
      }
    }
  }
}
"#;

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("no temporary directory: {e}"))
}

#[test]
fn prints_the_job_envelope_with_variables_set_nomad_style() {
    let dir = tempdir();
    write(dir.path(), "web.nomad.hcl", JOB);
    write(dir.path(), "prod.hcl", "replicas = 3\nimage = \"nginx:1.26\"\n");
    let output = nomad_spec(
        &["parse", "web.nomad.hcl", "-var-file", "prod.hcl", "-var", "image=nginx:1.27"],
        dir.path(),
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let json = stdout_json(&output);
    let group = &json["Job"]["TaskGroups"][0];
    assert_eq!(json["Job"]["ID"], "web");
    assert_eq!(group["Count"], 3, "the var file sets replicas");
    assert_eq!(group["Tasks"][0]["Config"]["image"], "nginx:1.27", "-var wins over the var file");
}

#[test]
fn double_dash_options_work_before_the_file() {
    let dir = tempdir();
    write(dir.path(), "web.nomad.hcl", JOB);
    write(dir.path(), "vars.json", r#"{"replicas": 2}"#);
    let output = nomad_spec(
        &["parse", "--var", "image=redis:7", "--var-file", "vars.json", "web.nomad.hcl"],
        dir.path(),
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let json = stdout_json(&output);
    assert_eq!(json["Job"]["TaskGroups"][0]["Count"], 2);
    assert_eq!(json["Job"]["TaskGroups"][0]["Tasks"][0]["Config"]["image"], "redis:7");
}

#[test]
fn a_missing_required_variable_is_an_error_with_its_position() {
    let dir = tempdir();
    write(dir.path(), "web.nomad.hcl", JOB);
    let output = nomad_spec(&["parse", "web.nomad.hcl"], dir.path());
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    insta::assert_snapshot!(stderr, @r#"web.nomad.hcl:1:1: error: variable "image" is required but has no value: give it a default, or set it with -var image=VALUE or a -var-file"#);
}

#[test]
fn usage_and_io_errors_exit_2() {
    let dir = tempdir();
    write(dir.path(), "web.nomad.hcl", JOB);
    for args in [
        &["parse", "missing.nomad.hcl"][..],
        &["parse", "web.nomad.hcl", "-var", "image"][..],
        &["parse", "web.nomad.hcl", "-var"][..],
        &["parse", "web.nomad.hcl", "other.hcl"][..],
        &["parse", "web.nomad.hcl", "-var-file", "missing.hcl"][..],
    ] {
        let output = nomad_spec(args, dir.path());
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn invalid_utf8_is_reported_at_its_byte_and_line() {
    let dir = tempdir();
    let mut bytes = b"job \"web\" {\n  meta {\n    a = \"caf".to_vec();
    bytes.extend_from_slice(&[0xe9, b'"', b'\n', b'}', b'\n', b'}', b'\n']);
    write(dir.path(), "latin1.nomad.hcl", bytes);
    let output = nomad_spec(&["parse", "latin1.nomad.hcl"], dir.path());
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    insta::assert_snapshot!(stderr, @"latin1.nomad.hcl:3:13: error: the file is not valid UTF-8: byte 33 (0xe9) starts an invalid sequence");
}

#[test]
fn answers_full_of_hcl_syntax_stay_strings() {
    let dir = tempdir();
    write(dir.path(), "web.nomad.hcl", JOB);
    let answers = [
        "say \"hi\"",
        "line one\nline two",
        "${NOMAD_PORT_http} and ${var.image}",
        "}\n  }\n}\njob \"evil\" {",
        "%{ if true }x%{ endif }",
        "$${escaped}",
    ];
    for answer in answers {
        let message = format!("message={answer}");
        let output = nomad_spec(
            &["parse", "web.nomad.hcl", "-var", "image=x", "-var", &message],
            dir.path(),
        );
        assert!(output.status.success(), "{answer:?}: {}", String::from_utf8_lossy(&output.stderr));
        let json = stdout_json(&output);
        assert_eq!(json["Job"]["TaskGroups"][0]["Tasks"][0]["Env"]["MESSAGE"], answer);
        assert_eq!(json["Job"]["ID"], "web");
    }
}

#[test]
fn a_five_mib_job_file_parses() {
    let dir = tempdir();
    let mut job = String::from("job \"big\" {\n  group \"app\" {\n    task \"server\" {\n      driver = \"exec\"\n\n      env {\n");
    let mut i = 0;
    while job.len() < 5 * 1024 * 1024 {
        job.push_str(&format!(
            "        VARIABLE_{i:06} = \"value number {i} of a large environment\"\n"
        ));
        i += 1;
    }
    job.push_str("      }\n    }\n  }\n}\n");
    write(dir.path(), "big.nomad.hcl", &job);
    let output = nomad_spec(&["parse", "big.nomad.hcl"], dir.path());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let json = stdout_json(&output);
    let env = &json["Job"]["TaskGroups"][0]["Tasks"][0]["Env"];
    assert_eq!(env.as_object().map(|m| m.len()), Some(i));
}

#[test]
fn deeply_nested_input_is_an_error_not_a_crash() {
    let dir = tempdir();
    let depth = 100_000;
    let job = format!("job \"deep\" {{\n  meta = {}{}\n}}\n", "[".repeat(depth), "]".repeat(depth));
    write(dir.path(), "deep.nomad.hcl", &job);
    let mut blocks = String::from("job \"deep\" {\n");
    for _ in 0..10_000 {
        blocks.push_str("a {\n");
    }
    write(dir.path(), "blocks.nomad.hcl", &blocks);
    for file in ["deep.nomad.hcl", "blocks.nomad.hcl"] {
        let output = nomad_spec(&["parse", file], dir.path());
        assert_eq!(output.status.code(), Some(1), "{file}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("nested too deeply"), "{file}: {stderr}");
    }
}

#[test]
fn unterminated_strings_and_heredocs_point_at_the_problem() {
    let dir = tempdir();
    write(dir.path(), "string.nomad.hcl", "job \"web\" {\n  region = \"eu\n}\n");
    write(
        dir.path(),
        "heredoc.nomad.hcl",
        "job \"web\" {\n  meta {\n    a = <<EOT\nnever closed\n}\n",
    );
    let mut stderr = String::new();
    for file in ["string.nomad.hcl", "heredoc.nomad.hcl"] {
        let output = nomad_spec(&["parse", file], dir.path());
        assert_eq!(output.status.code(), Some(1), "{file}");
        stderr.push_str(&String::from_utf8_lossy(&output.stderr));
    }
    insta::assert_snapshot!(stderr, @r#"
    string.nomad.hcl:2:3: error: syntax error: invalid block body; expected `}`, newline or identifier; a string on this line is not closed: add the closing `"`
    heredoc.nomad.hcl:4:1: error: syntax error: expected heredoc end delimiter; the heredoc started with <<EOT is never closed: end it with a line holding only EOT
    "#);
}

#[test]
fn a_byte_order_mark_and_windows_line_endings_are_accepted() {
    let dir = tempdir();
    let job = "\u{feff}job \"web\" {\r\n  group \"app\" {\r\n    task \"server\" {\r\n      driver = \"exec\"\r\n    }\r\n  }\r\n}\r\n";
    write(dir.path(), "windows.nomad.hcl", job);
    let output = nomad_spec(&["parse", "windows.nomad.hcl"], dir.path());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(stdout_json(&output)["Job"]["TaskGroups"][0]["Tasks"][0]["Driver"], "exec");
}

#[test]
fn var_file_problems_point_into_the_var_file() {
    let dir = tempdir();
    write(dir.path(), "web.nomad.hcl", JOB);
    write(dir.path(), "typo.hcl", "image = \"nginx\"\nreplica = 3\n");
    write(dir.path(), "broken.hcl", "image = \"nginx\"\nreplicas = [\n");
    let mut stderr = String::new();
    for var_file in ["typo.hcl", "broken.hcl"] {
        let output = nomad_spec(&["parse", "web.nomad.hcl", "-var-file", var_file], dir.path());
        assert_eq!(output.status.code(), Some(1), "{var_file}");
        stderr.push_str(&String::from_utf8_lossy(&output.stderr));
    }
    insta::assert_snapshot!(stderr, @r#"
    typo.hcl:2:1: error: sets "replica", which the job file does not declare
    broken.hcl:2:13: error: the var file is not valid HCL: expected `]`
    web.nomad.hcl:1:1: error: variable "image" is required but has no value: give it a default, or set it with -var image=VALUE or a -var-file
    "#);
}

#[test]
fn expressions_that_would_run_for_ages_are_stopped() {
    let dir = tempdir();
    let mut job = String::from("locals {\n");
    for i in 0..20 {
        job.push_str(&format!(
            // Steps that make no value (a bool is not charged), so the step limit, not the
            // memory budget, is what stops them.
            "  huge{i} = [for a in range(1024) : [for b in range(1024) : 0 if !!!!!!!!false]]\n"
        ));
    }
    job.push_str("}\n\njob \"bomb\" {}\n");
    write(dir.path(), "loops.nomad.hcl", &job);
    write(
        dir.path(),
        "width.nomad.hcl",
        "job \"bomb\" {\n  meta {\n    width = indent(100000000, \"x\")\n  }\n}\n",
    );
    let mut stderr = String::new();
    for file in ["loops.nomad.hcl", "width.nomad.hcl"] {
        let output = nomad_spec(&["parse", file], dir.path());
        assert_eq!(output.status.code(), Some(1), "{file}");
        stderr.push_str(&String::from_utf8_lossy(&output.stderr));
    }
    assert!(stderr.contains("loops.nomad.hcl:2:69: error: the expressions of this file take more than 2000000 steps"), "{stderr}");
    assert!(stderr.contains("width.nomad.hcl:3:13: error: in call to indent(): a width of 100000000 is more than the 4096 allowed"), "{stderr}");
}
