//! Issue 13, property tests: random mutations of real files (the corpus's Dockerfiles, compose
//! files and Nomad job files, GitHub comment bodies with slash commands, and the bot's own
//! checkpoint marker) fed to their parsers. The property is that every call returns, with a
//! value or an error, and never panics; time and memory are bounded by construction (input
//! size caps and evaluation budgets), so no call here is timed: a regression shows as a panic
//! or a test that does not finish.
//!
//! The mutator is small and seeded, so every run checks the same inputs and a failure names
//! the seed, the source file and the round to reproduce it. A mutation cuts, deletes,
//! duplicates, repeats (up to tens of kilobytes), swaps lines, and inserts bytes that are not
//! UTF-8 or tokens of the file's own syntax.

mod common;

use std::path::{Path, PathBuf};

use nomad_spec::analyze::{analyze, dockerfile, Options};
use nomad_spec::command::parse_commands;
use nomad_spec::conversation::{
    decode, read_reply, render, sha256_hex, Checkpoint, Stage, StatusInput, TrackedQuestion,
};
use nomad_spec::jobspec::answers::Question;
use nomad_spec::jobspec::format::format_hcl;
use nomad_spec::jobspec::parse::{parse_job, ParseOptions};
use nomad_spec::jobspec::validate::validate_source;

/// Largest mutated input, in bytes.
const MAX_INPUT: usize = 128 * 1024;

/// A seeded source of mutations (xorshift64*).
struct Mutator {
    state: u64,
}

impl Mutator {
    fn new(seed: u64) -> Self {
        Mutator { state: seed.max(1) }
    }

    fn next(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    /// `text` after one to four random mutations; `tokens` are pieces of the file's syntax.
    fn mutate(&mut self, text: &str, tokens: &[&str]) -> String {
        let mut bytes = text.as_bytes().to_vec();
        for _ in 0..1 + self.below(4) {
            let at = self.below(bytes.len() + 1);
            match self.below(9) {
                0 => {
                    const ODD: &[u8] = b"{}[]()\"'$\\\n\t:=-#<>*&|,%~`!@ 0";
                    if at < bytes.len() {
                        bytes[at] = ODD[self.below(ODD.len())];
                    }
                }
                1 => {
                    let end = (at + 1 + self.below(64)).min(bytes.len());
                    bytes.drain(at.min(end)..end);
                }
                2 => {
                    let start = self.below(bytes.len());
                    let end = (start + 1 + self.below(256)).min(bytes.len());
                    let piece = bytes[start..end].to_vec();
                    bytes.splice(at..at, piece);
                }
                3 => {
                    let token = tokens[self.below(tokens.len())].as_bytes().to_vec();
                    bytes.splice(at..at, token);
                }
                4 => bytes.truncate(at),
                5 => {
                    // A small piece many times: long lines, deep nesting, many entries.
                    let start = self.below(bytes.len());
                    let end = (start + 1 + self.below(16)).min(bytes.len());
                    let times = 1 + self.below(3000);
                    let piece = bytes[start..end].repeat(times);
                    bytes.splice(at..at, piece);
                }
                6 => {
                    let mut lines: Vec<Vec<u8>> =
                        bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
                    let (i, j) = (self.below(lines.len()), self.below(lines.len()));
                    lines.swap(i, j);
                    bytes = lines.join(&b'\n');
                }
                7 => {
                    const NOT_TEXT: &[&[u8]] = &[b"\xff", b"\xc3", b"\0", b"\xe2\x82", b"\r"];
                    let piece = NOT_TEXT[self.below(NOT_TEXT.len())].to_vec();
                    bytes.splice(at..at, piece);
                }
                _ => {
                    let token = tokens[self.below(tokens.len())].repeat(1 + self.below(200));
                    bytes.splice(at..at, token.into_bytes());
                }
            }
            bytes.truncate(MAX_INPUT);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// Files below `dir` whose name passes `wanted`, sorted.
fn files_below(dir: &Path, wanted: &dyn Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                dirs.push(path);
            } else if wanted(&name) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The text of each file (those that are UTF-8).
fn texts(files: &[PathBuf]) -> Vec<(String, String)> {
    let texts: Vec<(String, String)> = files
        .iter()
        .filter_map(|f| Some((f.display().to_string(), std::fs::read_to_string(f).ok()?)))
        .collect();
    assert!(texts.len() >= 5, "expected corpus files, found {}", texts.len());
    texts
}

fn app_files(wanted: &dyn Fn(&str) -> bool) -> Vec<(String, String)> {
    let Some(corpus) = common::corpus_dir() else { return Vec::new() };
    let mut files = files_below(&corpus.join("compose-apps"), wanted);
    files.extend(files_below(&corpus.join("apps"), wanted));
    texts(&files)
}

/// Runs `rounds` mutations of the corpus `files` through `check`; a panic names the seed,
/// the file and the round.
fn property(
    seed: u64,
    rounds: usize,
    files: &[(String, String)],
    tokens: &[&str],
    check: &dyn Fn(&str),
) {
    let mut mutator = Mutator::new(seed);
    for round in 0..rounds {
        let (name, text) = &files[mutator.below(files.len())];
        let input = mutator.mutate(text, tokens);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&input)));
        if outcome.is_err() {
            let dump = std::env::temp_dir().join(format!("nomad-spec-property-{seed}-{round}"));
            let _ = std::fs::write(&dump, &input);
            panic!(
                "seed {seed}, round {round}, mutation of {name}: the parser panicked; the input \
                 is in {}",
                dump.display()
            );
        }
    }
}

#[test]
fn mutated_dockerfiles_never_panic() {
    let files = app_files(&|name| name.to_ascii_lowercase().contains("dockerfile"));
    let tokens = [
        "FROM ",
        "AS ",
        "ARG ",
        "ENV ",
        "EXPOSE ",
        "${",
        "}",
        ":-",
        "$",
        "\\\n",
        "<<EOF\n",
        "EOF\n",
        "# escape=`\n",
        "HEALTHCHECK CMD ",
        "[\"",
        "\"]",
        "65535-1",
        "/udp",
        "--from=",
        "COPY ",
        "USER ",
        "WORKDIR ",
        "VOLUME ",
        "ONBUILD ",
        "é",
    ];
    property(13, 1500, &files, &tokens, &|text| {
        let mut notes = Vec::new();
        let file = dockerfile::parse("Dockerfile", text, &[("A".into(), "1".into())], &mut notes);
        let target = file.stages.first().and_then(|s| s.name.clone());
        let _ = file.config(target.as_deref(), &mut notes).map(|c| c.command());
        let _ = file.config(None, &mut notes);
    });
}

#[test]
fn mutated_compose_projects_are_analyzed_without_panic() {
    let composes = app_files(&|name| name.contains("compose") && name.ends_with("ml"));
    let dockerfiles = app_files(&|name| name == "Dockerfile");
    let tokens = [
        "services:\n",
        "  web:\n",
        "    ",
        "- ",
        "${A:-",
        "}",
        "$$",
        "&x ",
        "*x",
        "<<: *x\n",
        "ports: [\"1-65535\"]\n",
        "build: .\n",
        "image: ",
        "environment:\n",
        "volumes:\n",
        "depends_on: [",
        "healthcheck:\n",
        "test: [\"CMD\", ",
        "'",
        "\"",
        "{",
        "[",
        "\t",
        "~",
    ];
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut mutator = Mutator::new(29);
    property(17, 120, &composes, &tokens, &|text| {
        let (_, dockerfile) = &dockerfiles[text.len() % dockerfiles.len()];
        std::fs::write(root.join("compose.yaml"), text).unwrap();
        std::fs::write(root.join("Dockerfile"), dockerfile).unwrap();
        std::fs::write(root.join(".env"), "A=1\nB=${A}\n").unwrap();
        let analysis = analyze(root, &Options::default());
        let _ = nomad_spec::analyze::report::text(&analysis);
    });
    // And the Dockerfile mutated beside a compose file that builds it.
    let compose = "services:\n  web:\n    build: .\n    ports: [\"8080:80\"]\n";
    for _ in 0..40 {
        let (_, text) = &dockerfiles[mutator.below(dockerfiles.len())];
        let text = mutator.mutate(text, &["EXPOSE ", "1-65535 ", "${A:-", "}"]);
        std::fs::write(root.join("compose.yaml"), compose).unwrap();
        std::fs::write(root.join("Dockerfile"), &text).unwrap();
        let analysis = analyze(root, &Options::default());
        let _ = nomad_spec::analyze::report::text(&analysis);
    }
}

#[test]
fn mutated_job_files_never_panic() {
    let Some(corpus) = common::corpus_dir() else { return };
    let files = texts(&common::corpus_job_files(&corpus));
    let tokens = [
        "job \"x\" {\n",
        "group \"g\" {\n",
        "task \"t\" {\n",
        "}\n",
        "${",
        "}",
        "%{ for x in ",
        "%{ endfor }",
        "[for i in range(1000) : ",
        "format(\"%04096d\", i)",
        "]",
        "var.",
        "local.",
        "locals {\n",
        "variable \"v\" {\n",
        "dynamic \"port\" {\n",
        "for_each = range(100)\n",
        "content {\n",
        "file(\"",
        "\"",
        "<<EOF\n",
        "EOF\n",
        "(",
        ")",
        "#",
        "//",
        "/*",
        "*/",
        "= ",
        "-1",
        "1e308",
        "true",
        "null",
        "...",
        "?",
        ":",
    ];
    property(23, 250, &files, &tokens, &|text| {
        let _ = parse_job(text, "job.nomad.hcl", &ParseOptions::default());
        let _ = validate_source(text, "job.nomad.hcl");
        let _ = format_hcl(text, "job.nomad.hcl");
    });
}

/// Comments a person could write: the corpus's comment bodies, and commands with answers.
fn comments() -> Vec<(String, String)> {
    let Some(corpus) = common::corpus_dir() else { return Vec::new() };
    let dir = corpus.join("github-events/issue_comment");
    let mut found: Vec<(String, String)> = files_below(&dir, &|n| n.ends_with(".json"))
        .iter()
        .filter_map(|file| {
            let json: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(file).ok()?).ok()?;
            Some((file.display().to_string(), json["comment"]["body"].as_str()?.to_string()))
        })
        .collect();
    for text in [
        "/nomad-spec set memory.api=512 image.api=\"ghcr.io/acme/api:1\"\n1: yes\n",
        "Thanks!\n\n/nomad-spec accept\n> /nomad-spec reset\n```\n/nomad-spec deploy web\n```",
        "- [x] 1. image: `nginx`\n- [ ] 2. memory: 256\n2: 512 MB\n/nomad-spec plan",
        "/nomad-spec explain\n/nomad-spec adopt web\n/nomad-spec fix\n/nomad-spec rollback",
    ] {
        found.push(("written here".into(), text.into()));
    }
    found
}

#[test]
fn mutated_comments_never_panic() {
    let questions: Vec<TrackedQuestion> = ["image.api", "memory.api", "hostname.web"]
        .iter()
        .map(|key| {
            TrackedQuestion::new(&Question {
                key: key.to_string(),
                prompt: format!("What is {key}?"),
                default: "x".into(),
                reason: "guessed".into(),
                needs_answer: false,
            })
        })
        .collect();
    let tokens = [
        "/nomad-spec ",
        "set ",
        "=",
        "\"",
        "'",
        "\n",
        "```",
        "> ",
        "- [x] ",
        "1: ",
        "help",
        "accept",
        "deploy ",
        "<!--",
        "-->",
        "`",
        "\\",
        "[",
        "](",
        "é",
    ];
    property(31, 2000, &comments(), &tokens, &|text| {
        let _ = parse_commands(text);
        let _ = read_reply(text, &questions);
        let _ = nomad_spec::conversation::read_checkboxes(text, &questions);
    });
}

/// A status comment with a checkpoint that has something in every field.
fn status_comment() -> String {
    let mut checkpoint = Checkpoint::new();
    checkpoint.stage = Stage::AwaitingAnswers;
    checkpoint.questions = vec![TrackedQuestion::new(&Question {
        key: "image.api".into(),
        prompt: "Which image runs api? <b>-->".into(),
        default: "ghcr.io/acme/api:latest".into(),
        reason: "built from api/Dockerfile".into(),
        needs_answer: true,
    })];
    checkpoint.spec_path = Some("deploy/shop.nomad.hcl".into());
    checkpoint.spec_hash = Some(sha256_hex(b"job"));
    checkpoint.refused = vec!["mallory".into()];
    checkpoint.rebuilt_because = Some("the marker was edited".into());
    render(&StatusInput {
        checkpoint: &checkpoint,
        services: &[],
        checks: &[],
        plan: None,
        decisions: &[],
        proposed_file: None,
        diagram: None,
        notes: &[],
        prompts: &[],
    })
}

/// The marker's payload mutated and sealed again with its digest, so that decoding goes past
/// the digest check into the JSON.
fn resealed(comment: &str, mutator: &mut Mutator) -> String {
    let open = "<!-- nomad-spec:state v1 sha256=";
    let Some(start) = comment.find(open) else { return comment.to_string() };
    let after = &comment[start + open.len()..];
    let Some((_, rest)) = after.split_once(' ') else { return comment.to_string() };
    let Some(end) = rest.rfind(" -->") else { return comment.to_string() };
    let payload = mutator.mutate(&rest[..end], &["{", "}", "[", "]", "\"", ":", ",", "null", "1"]);
    // A `-->` inside would end the comment early; the encoder never writes one either.
    let payload = payload.replace("-->", "");
    format!(
        "{}{open}{} {payload} -->{}",
        &comment[..start],
        sha256_hex(payload.as_bytes()),
        &rest[end + 4..]
    )
}

#[test]
fn mutated_checkpoints_never_panic() {
    let comment = status_comment();
    assert!(decode(&comment).is_ok(), "the seed checkpoint decodes");
    let tokens = ["<!-- nomad-spec:state v1 sha256=", " -->", "{", "\"stage\":", "\\u002d", "v2 "];
    let files = [("status comment".to_string(), comment.clone())];
    property(37, 600, &files, &tokens, &|text| {
        let _ = decode(text);
    });
    let mut mutator = Mutator::new(41);
    let mut decoded = 0;
    for round in 0..600 {
        let text = resealed(&comment, &mut mutator);
        let outcome = std::panic::catch_unwind(|| decode(&text).is_ok());
        match outcome {
            Ok(ok) => decoded += usize::from(ok),
            Err(_) => panic!("round {round}: decoding a resealed checkpoint panicked: {text}"),
        }
    }
    // Some mutations leave the JSON readable: the checks reached past the digest.
    assert!(decoded > 0, "no resealed mutation decoded; the digest was never passed");
}
