//! Bad input never makes the analyzer panic: each case below gets a note saying what could
//! not be read (file, line when known, why), and the rest of the repository is still
//! analyzed. Also the command line: exit codes and the documented JSON shape.

mod common;

use std::path::Path;
use std::process::Command;

use nomad_spec::analyze::walk::{Limits, RepoFiles};
use nomad_spec::analyze::{analyze, Analysis, Note, Options};

fn write(root: &Path, rel: &str, bytes: impl AsRef<[u8]>) {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, bytes).unwrap();
}

/// A repository with one good service (`good/`) beside whatever the test adds.
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "good/Dockerfile",
        "FROM python:3.12\nEXPOSE 5000\nCMD [\"python\", \"app.py\"]\n",
    );
    dir
}

fn run(root: &Path) -> Analysis {
    analyze(root, &Options::default())
}

fn note<'a>(analysis: &'a Analysis, needle: &str) -> &'a Note {
    analysis
        .notes
        .iter()
        .find(|n| n.message.contains(needle))
        .unwrap_or_else(|| panic!("no note containing `{needle}` in {:#?}", analysis.notes))
}

fn good_service_is_there(analysis: &Analysis) {
    let good = analysis.services.iter().find(|s| s.name == "good");
    let good = good.unwrap_or_else(|| panic!("good service missing: {:#?}", analysis.services));
    assert_eq!(good.ports.first().map(|p| p.container), Some(5000));
}

#[test]
fn malformed_dockerfile() {
    let dir = repo();
    write(
        dir.path(),
        "broken/Dockerfile",
        "FROM node:20\nEXPOSE http\nWHATEVER this is\nRUN <<EOF\necho never closed\n",
    );
    let analysis = run(dir.path());
    let port = note(&analysis, "EXPOSE http: not a port");
    assert_eq!((port.file.as_deref(), port.line), (Some("broken/Dockerfile"), Some(2)));
    let unknown = note(&analysis, "unknown instruction `WHATEVER`");
    assert_eq!(unknown.line, Some(3));
    let heredoc = note(&analysis, "heredoc `EOF` opened here is never closed");
    assert_eq!(heredoc.line, Some(4));
    let broken = analysis.services.iter().find(|s| s.name == "broken");
    assert_eq!(broken.and_then(|s| s.base_image.as_deref()), Some("node:20"));
    good_service_is_there(&analysis);

    let dir = repo();
    write(dir.path(), "empty/Dockerfile", "# only a comment\n");
    let analysis = run(dir.path());
    assert_eq!(note(&analysis, "no FROM instruction").file.as_deref(), Some("empty/Dockerfile"));
    good_service_is_there(&analysis);
}

#[test]
fn malformed_compose_file() {
    let dir = repo();
    write(dir.path(), "compose.yaml", "services:\n  web:\n    image: [unclosed\n    ports: 80\n");
    let analysis = run(dir.path());
    let yaml = note(&analysis, "invalid YAML");
    assert_eq!(yaml.file.as_deref(), Some("compose.yaml"));
    assert!(yaml.line.is_some(), "{yaml:?}");
    good_service_is_there(&analysis);

    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "docker-compose.yml",
        "services:\n  web:\n    image: nginx\n    ports: [\"eighty:80\", 8080]\n    volumes: [\"::\"]\n  weird: 42\n",
    );
    let analysis = run(dir.path());
    assert_eq!(note(&analysis, "port `eighty:80` not understood").line, Some(4));
    assert!(note(&analysis, "volume `::`").file.is_some());
    assert!(note(&analysis, "service `weird` is not a mapping").line.is_some());
    let web = &analysis.services[0];
    assert_eq!(web.ports.iter().map(|p| p.container).collect::<Vec<_>>(), [8080]);
}

#[test]
fn a_dockerfile_built_twice_reports_its_problems_once() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  a:\n    build: ./web\n  b:\n    build: ./web\n",
    );
    write(dir.path(), "web/Dockerfile", "FROM node:20\nEXPOSE web\n");
    let analysis = run(dir.path());
    assert_eq!(analysis.services.len(), 2);
    let count = analysis.notes.iter().filter(|n| n.message.contains("EXPOSE web")).count();
    assert_eq!(count, 1, "{:#?}", analysis.notes);
}

#[test]
fn invalid_utf8() {
    let dir = repo();
    write(dir.path(), "latin/Dockerfile", b"FROM alpine\nLABEL author=\"Jos\xe9\"\n");
    let analysis = run(dir.path());
    let bad = note(&analysis, "invalid UTF-8");
    assert_eq!((bad.file.as_deref(), bad.line), (Some("latin/Dockerfile"), Some(2)));
    good_service_is_there(&analysis);
}

#[test]
fn symlinks_out_of_the_repository_and_loops() {
    let dir = repo();
    let root = dir.path();
    std::os::unix::fs::symlink("/etc", root.join("etc-link")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", root.join("good/hostname")).unwrap();
    std::os::unix::fs::symlink("self", root.join("self")).unwrap();
    std::os::unix::fs::symlink("b", root.join("a")).unwrap();
    std::os::unix::fs::symlink("a", root.join("b")).unwrap();
    std::os::unix::fs::symlink("..", root.join("good/up")).unwrap();
    std::os::unix::fs::symlink(".", root.join("here")).unwrap();
    std::os::unix::fs::symlink("good/Dockerfile", root.join("Dockerfile.link")).unwrap();
    let analysis = run(root);
    let outside = |file: &str| {
        analysis.notes.iter().any(|n| {
            n.file.as_deref() == Some(file) && n.message.contains("outside the repository")
        })
    };
    assert!(outside("etc-link"), "{:#?}", analysis.notes);
    assert!(outside("good/hostname"), "{:#?}", analysis.notes);
    let loops: Vec<&str> = analysis
        .notes
        .iter()
        .filter(|n| n.message.contains("symlink loop"))
        .filter_map(|n| n.file.as_deref())
        .collect();
    assert_eq!(loops, ["a", "b", "self"]);
    assert!(note(&analysis, "symlink to a folder inside the repository").file.is_some());
    good_service_is_there(&analysis);
    let mut notes = Vec::new();
    let files = RepoFiles::walk(root, &Limits::default(), &mut notes);
    let listed: Vec<&str> = files.files.iter().map(|f| f.path.as_str()).collect();
    // Only the link to a file inside the repository is listed; nothing below /etc.
    assert_eq!(listed, ["Dockerfile.link", "good/Dockerfile"]);
}

#[test]
fn huge_generated_file() {
    let dir = repo();
    let line = "const x = 1; // generated\n";
    write(dir.path(), "good/bundle.js", line.repeat(10 * 1024 * 1024 / line.len() + 1));
    let analysis = run(dir.path());
    let big = note(&analysis, "over the 1048576 byte bound");
    assert_eq!(big.file.as_deref(), Some("good/bundle.js"));
    good_service_is_there(&analysis);
}

#[test]
fn binary_file_named_like_a_dockerfile() {
    let dir = repo();
    write(dir.path(), "bin/Dockerfile", b"FROM \0\0\x01binary");
    let analysis = run(dir.path());
    assert_eq!(note(&analysis, "binary file").file.as_deref(), Some("bin/Dockerfile"));
    good_service_is_there(&analysis);
}

#[test]
fn empty_repository() {
    let dir = tempfile::tempdir().unwrap();
    let analysis = run(dir.path());
    assert!(analysis.services.is_empty());
    assert!(note(&analysis, "no services found").file.is_none());
}

#[test]
fn repository_without_a_dockerfile() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "package.json",
        "{\"name\": \"api\", \"dependencies\": {\"express\": \"4\"}}\n",
    );
    write(dir.path(), "index.js", "require('express')().listen(process.env.PORT || 3000)\n");
    write(dir.path(), "README.md", "# api\n");
    let analysis = run(dir.path());
    assert!(note(&analysis, "no services found").message.contains("Dockerfile"));
}

#[test]
fn missing_root_is_a_note_not_a_panic() {
    let analysis = run(Path::new("/nonexistent/nomad-spec/repo"));
    assert!(analysis.services.is_empty());
    assert!(note(&analysis, "cannot read /nonexistent/nomad-spec/repo").file.is_none());
}

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
}

#[test]
fn command_exit_code_2_for_a_missing_path() {
    let output =
        binary().args(["analyze", "--path", "/nonexistent/nomad-spec/repo"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot read /nonexistent/nomad-spec/repo"), "{stderr}");
    assert!(output.stdout.is_empty());

    let file = tempfile::NamedTempFile::new().unwrap();
    let output = binary().args(["analyze", "--path"]).arg(file.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not a folder"));

    let output = binary().args(["analyze", "--format", "yaml"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "usage error");
}

/// A small two-service repository.
fn shop(root: &Path) {
    write(
        root,
        "compose.yaml",
        "services:\n  api:\n    build: ./api\n    ports: [\"8080:3000\"]\n    environment:\n      DB_HOST: db\n      API_TOKEN: s3cret-value\n    depends_on: [db]\n  db:\n    image: postgres:16\n    volumes: [\"data:/var/lib/postgresql/data\"]\nvolumes:\n  data:\n",
    );
    write(root, "api/Dockerfile", "FROM node:20-alpine\nWORKDIR /app\nEXPOSE 3000\nHEALTHCHECK CMD wget -qO- http://localhost:3000/healthz\nCMD [\"node\", \"server.js\"]\n");
}

#[test]
fn command_json_has_the_documented_shape() {
    let dir = tempfile::tempdir().unwrap();
    shop(dir.path());
    let output =
        binary().args(["analyze", "--format", "json", "--path"]).arg(dir.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let keys = |v: &serde_json::Value| -> Vec<String> {
        v.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
    };
    assert_eq!(keys(&json), ["services", "notes"]);
    let api = &json["services"][0];
    assert_eq!(
        keys(api),
        [
            "name",
            "source",
            "path",
            "dockerfile",
            "image",
            "base_image",
            "language",
            "framework",
            "role",
            "ports",
            "health",
            "env",
            "volumes",
            "depends_on",
            // `command` appears only when the compose file overrides the image's own.
            "resources",
            "evidence"
        ]
    );
    assert_eq!(api["name"], "api");
    assert_eq!(api["source"], "build");
    assert_eq!(api["path"], "api");
    assert_eq!(api["dockerfile"], "api/Dockerfile");
    assert_eq!(api["base_image"], "node:20-alpine");
    assert_eq!(
        api["ports"][0],
        serde_json::json!({"container": 3000, "published": 8080, "protocol": "http"})
    );
    assert_eq!(api["health"], serde_json::json!({"type": "http", "path": "/healthz"}));
    assert_eq!(api["depends_on"], serde_json::json!(["db"]));
    assert_eq!(keys(&api["env"][0]), ["name", "secret", "default"]);
    assert_eq!(keys(&api["resources"]), ["cpu", "memory", "reason"]);
    assert_eq!(keys(&api["evidence"][0]), ["file", "line", "what"]);
    let db = &json["services"][1];
    assert_eq!(db["source"], "image");
    assert_eq!(db["image"], "postgres:16");
    assert_eq!(
        db["volumes"],
        serde_json::json!([{"path": "/var/lib/postgresql/data", "persistent": true}])
    );
    assert!(json["notes"].as_array().is_some());
}

#[test]
fn command_text_is_a_table() {
    let dir = tempfile::tempdir().unwrap();
    shop(dir.path());
    let output = binary().args(["analyze", "--path"]).arg(dir.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("SERVICE") && lines[0].contains("DEPENDS ON"), "{text}");
    assert!(lines[1].starts_with("api ") && lines[1].contains("8080->3000/http"), "{text}");
    assert!(lines[2].starts_with("db ") && lines[2].contains("image postgres:16"), "{text}");
}

#[test]
fn command_clones_a_git_url() {
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("shop");
    shop(&source);
    let url = common::bare_repository(&source);
    let tmp = work.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let output = binary()
        .args(["analyze", "--format", "json", "--path", &url])
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["services"][0]["name"], "api");
    assert_eq!(json["services"][0]["dockerfile"], "api/Dockerfile");
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "the clone was not removed: {left:?}");

    let output = binary()
        .args(["analyze", "--path", &format!("file://{}/missing.git", work.path().display())])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot clone"));
}
