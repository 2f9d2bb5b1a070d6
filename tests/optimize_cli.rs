//! `nomad-spec optimize` against the fake LLM, scripted so that the prompt's wording decides
//! the answers: an instruction variant that raises memory where the cases need it and a demo
//! set that does the same score higher than the shipped prompt, and are found, and the new
//! version is written; a variant that helps only on the training cases is refused on the
//! held-back ones and nothing is written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fakes::llm::{FakeLlm, Reply, Rule};
use nomad_spec::cli::optimize::split;
use serde_json::json;

/// A case: its folder name, the fixture, the service, its group in the job, and whether the
/// shipped prompt (which changes nothing) gets it wrong (memory below what it expects).
struct Case {
    name: &'static str,
    fixture: &'static str,
    service: &'static str,
    group: &'static str,
    needs_memory: bool,
}

const CASES: [Case; 6] = [
    Case {
        name: "api",
        fixture: "flask-postgres",
        service: "api",
        group: "api",
        needs_memory: true,
    },
    Case {
        name: "static-site",
        fixture: "nginx-static",
        service: "nginx-static",
        group: "nginx-static",
        needs_memory: true,
    },
    Case {
        name: "flask",
        fixture: "flask-app",
        service: "flask-app",
        group: "flask-app",
        needs_memory: true,
    },
    Case {
        name: "express",
        fixture: "express-api",
        service: "express-api",
        group: "express-api",
        needs_memory: true,
    },
    Case { name: "auth", fixture: "monorepo", service: "auth", group: "auth", needs_memory: false },
    Case {
        name: "web",
        fixture: "multi-service",
        service: "web",
        group: "web",
        needs_memory: false,
    },
];

fn dataset() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/repos");
    for case in &CASES {
        let folder = dir.path().join(case.name);
        std::fs::create_dir_all(&folder).unwrap();
        let path = fixtures.join(case.fixture);
        let expected = if case.needs_memory {
            format!("path = {:?}\nservice = {:?}\nmemory_min = 2048\n", path, case.service)
        } else {
            format!("path = {:?}\nservice = {:?}\n", path, case.service)
        };
        std::fs::write(folder.join("expected.toml"), expected).unwrap();
    }
    dir
}

/// A seed whose split trains on a case the shipped prompt gets right (a demo) and holds back
/// a case that needs memory (so held-back scores can differ).
fn seed_for(dataset: &Path) -> (u64, Vec<String>, Vec<String>) {
    let cases: Vec<PathBuf> = CASES.iter().map(|c| dataset.join(c.name)).collect();
    let name = |p: &PathBuf| p.file_name().unwrap().to_string_lossy().into_owned();
    for seed in 0..200 {
        let (train, held) = split(&cases, seed);
        let train: Vec<String> = train.iter().map(name).collect();
        let held: Vec<String> = held.iter().map(name).collect();
        let demo_in_training = train.iter().any(|n| n == "auth" || n == "web");
        let memory_held = held.iter().any(|n| CASES.iter().any(|c| c.name == n && c.needs_memory));
        if demo_in_training && memory_held {
            return (seed, train, held);
        }
    }
    panic!("no seed splits the cases usefully");
}

fn raise_memory(group: &str) -> Reply {
    Reply::Json(json!({"changes": [{
        "field": "memory", "group": group, "task": "", "name": "", "value": "2048",
        "reason": "the runtime needs it"
    }]}))
}

/// Refine rules: `marker` in the prompt raises memory on the cases `only` allows.
fn raising(marker: &str, only: &dyn Fn(&Case) -> bool) -> Vec<Rule> {
    CASES
        .iter()
        .filter(|c| c.needs_memory && only(c))
        .map(|c| {
            // The job's name is the fixture's folder, in the job the prompt carries.
            Rule::task("refine", raise_memory(c.group)).containing(marker).containing(c.fixture)
        })
        .collect()
}

fn optimize(llm: &FakeLlm, dataset: &Path, prompts: &Path, seed: u64, trials: u32) -> Output {
    let home = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
        .args(["optimize", "--task", "refine", "--dataset"])
        .arg(dataset)
        .args(["--trials", &trials.to_string(), "--seed", &seed.to_string(), "--prompts"])
        .arg(prompts)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("NOMAD_SPEC_LLM_BASE_URL", llm.url())
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The table line of a candidate: its training and held-back scores.
fn scores(out: &str, label: &str) -> (f64, Option<f64>) {
    let line =
        out.lines().find(|l| l.starts_with(label)).unwrap_or_else(|| panic!("{label}:\n{out}"));
    let numbers: Vec<&str> = line.split_whitespace().rev().take(2).collect();
    (numbers[1].parse().unwrap(), numbers[0].parse().ok())
}

#[test]
fn the_better_instruction_and_demo_set_are_found_and_the_winner_written() {
    let data = dataset();
    let (seed, _, _) = seed_for(data.path());
    let mut rules = vec![Rule::task(
        "propose",
        Reply::Json(json!({"instructions": [
            "MEMORY-AWARE: raise a task's memory when its runtime needs more than it has.",
            "WORDY: explain every change at length."
        ]})),
    )];
    rules.extend(raising("MEMORY-AWARE", &|_| true));
    rules.extend(raising("Examples from cases the current prompt got right", &|_| true));
    rules.push(Rule::task("refine", Reply::Json(json!({"changes": []}))));
    let llm = FakeLlm::start(fakes::llm::Script::new(rules)).unwrap();
    let prompts = tempfile::tempdir().unwrap();
    let out = optimize(&llm, data.path(), prompts.path(), seed, 2);
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(0), "{printed}");
    let (current_train, current_held) = scores(&printed, "current (built in version 2)");
    let (memory_train, memory_held) = scores(&printed, "instruction 1");
    let (wordy_train, _) = scores(&printed, "instruction 2");
    let demos = printed.lines().find(|l| l.starts_with("demos 1")).expect(&printed);
    let (demo_train, _) = scores(&printed, demos.split("  ").next().unwrap());
    assert!(memory_train > current_train, "{printed}");
    assert!(demo_train > current_train, "a demo set scores higher too:\n{printed}");
    assert_eq!(wordy_train, current_train, "{printed}");
    assert!(memory_held.unwrap() > current_held.unwrap(), "{printed}");
    assert!(printed.contains("chosen: instruction 1, gain +"), "{printed}");
    let written = std::fs::read_to_string(prompts.path().join("refine.3.md")).expect(&printed);
    assert!(written.starts_with("---\nname: refine\nversion: 3\n---\n"), "{written}");
    assert!(written.contains("MEMORY-AWARE") && written.contains("{{job}}"), "{written}");
    // The written version is one `eval` loads.
    let prompt = nomad_spec::llm::prompt::Prompt::parse(&written, "refine.3.md").unwrap();
    assert_eq!((prompt.name.as_str(), prompt.version.as_str()), ("refine", "3"));
}

#[test]
fn a_candidate_that_only_wins_on_the_training_cases_is_refused() {
    let data = dataset();
    let (seed, train, _) = seed_for(data.path());
    let mut rules = vec![Rule::task(
        "propose",
        Reply::Json(json!({"instructions": ["OVERFIT: do what worked on these cases."]})),
    )];
    rules.extend(raising("OVERFIT", &|c| train.iter().any(|t| t == c.name)));
    rules.push(Rule::task("refine", Reply::Json(json!({"changes": []}))));
    let llm = FakeLlm::start(fakes::llm::Script::new(rules)).unwrap();
    let prompts = tempfile::tempdir().unwrap();
    let out = optimize(&llm, data.path(), prompts.path(), seed, 1);
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    let (current_train, current_held) = scores(&printed, "current (built in version 2)");
    let (overfit_train, overfit_held) = scores(&printed, "instruction 1");
    assert!(overfit_train > current_train, "{printed}");
    assert_eq!(overfit_held, current_held, "{printed}");
    assert!(printed.contains("refused: instruction 1 wins on training"), "{printed}");
    assert_eq!(std::fs::read_dir(prompts.path()).unwrap().count(), 0, "nothing written");
}
