//! The packaging, checked by construction without Docker or a forge: the GitHub Action
//! (`action.yml`), the image (`Dockerfile`, `.dockerignore`), the workflows
//! (`.github/workflows/`), the GitLab template and the README's install sections agree with
//! each other, with the variables the source reads, the settings' defaults, the CLI's
//! subcommands and the slash-command grammar.
//!
//! What needs a daemon or a forge (the image builds, the action runs on a runner) is not proved
//! here; everything a typo or a drift between these files would break is.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use regex::Regex;
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Reading the repository's files.

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    let full = root().join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|err| panic!("{}: {err}", full.display()))
}

fn yaml(path: &str) -> Value {
    serde_saphyr::from_str(&read(path)).unwrap_or_else(|err| panic!("{path} is not YAML: {err}"))
}

/// `value[key]` as a mapping, or a failure naming where.
fn map<'a>(value: &'a Value, what: &str) -> &'a serde_json::Map<String, Value> {
    value.as_object().unwrap_or_else(|| panic!("{what} is not a mapping: {value}"))
}

fn string<'a>(value: &'a Value, what: &str) -> &'a str {
    value.as_str().unwrap_or_else(|| panic!("{what} is not a string: {value}"))
}

/// The `.rs` files below `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The source files of the binary without their tests: `tests.rs` files and `tests/` folders
/// are left out, and each file is cut at its `#[cfg(test)]` module (kept last by convention),
/// so a name that only a test mentions does not count as read.
fn source_without_tests() -> Vec<(PathBuf, String)> {
    rust_files(&root().join("src"))
        .into_iter()
        .filter(|path| {
            path.file_name().is_none_or(|n| n != "tests.rs")
                && !path.components().any(|c| c.as_os_str() == "tests")
        })
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let code = match text.find("#[cfg(test)]") {
                Some(at) => text[..at].to_string(),
                None => text,
            };
            (path, code)
        })
        .collect()
}

/// Every environment variable name the binary's code spells out as a string literal.
fn variables_read_by_the_source() -> BTreeSet<String> {
    let quoted = Regex::new(r#""([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)""#).unwrap();
    source_without_tests()
        .iter()
        .flat_map(|(_, code)| {
            quoted.captures_iter(code).map(|c| c[1].to_string()).collect::<Vec<_>>()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The action.

/// The action's input → variable mapping (`runs.env`), checked to be one `${{ inputs.x }}`
/// per variable.
fn action_env(action: &Value) -> BTreeMap<String, String> {
    let pattern = Regex::new(r"^\$\{\{ inputs\.([a-z][a-z0-9-]*) \}\}$").unwrap();
    map(&action["runs"]["env"], "runs.env")
        .iter()
        .map(|(variable, value)| {
            let value = string(value, variable);
            let input = pattern
                .captures(value)
                .unwrap_or_else(|| panic!("runs.env.{variable} = {value:?} is not one input"))[1]
                .to_string();
            (input, variable.clone())
        })
        .collect()
}

fn action_image(action: &Value) -> String {
    string(&action["runs"]["image"], "runs.image").to_string()
}

/// The version tag every packaging file names: `v` and the crate's version.
fn release_tag() -> String {
    format!("v{}", env!("CARGO_PKG_VERSION"))
}

/// A variable that holds a credential, by its name.
fn is_secret_variable(name: &str) -> bool {
    ["TOKEN", "API_KEY", "SECRET", "PASSWORD"].iter().any(|word| name.contains(word))
}

#[test]
fn the_action_runs_the_published_image_of_this_version_with_the_ci_subcommand() {
    let action = yaml("action.yml");
    assert_eq!(action["runs"]["using"], "docker");
    let image = action_image(&action);
    let reference = image
        .strip_prefix("docker://")
        .unwrap_or_else(|| panic!("runs.image {image:?} is not a published image (docker://)"));
    let (name, tag) = reference
        .rsplit_once(':')
        .filter(|(name, _)| !name.is_empty())
        .unwrap_or_else(|| panic!("runs.image {image:?} has no tag"));
    assert!(name.starts_with("ghcr.io/") && !tag.contains('/'), "{image}");
    assert_eq!(tag, release_tag(), "the image tag must be this release's (Cargo.toml)");
    assert_eq!(name, name.to_lowercase(), "registries want lower-case names");

    // The image's entrypoint is the binary; the arguments start the bot.
    assert!(action["runs"].get("entrypoint").is_none(), "runs.entrypoint overrides the binary");
    let args: Vec<&str> = action["runs"]["args"]
        .as_array()
        .expect("runs.args is a list")
        .iter()
        .map(|a| string(a, "runs.args"))
        .collect();
    assert_eq!(args, ["ci"]);
    let cli = nomad_spec::cli::Cli::command();
    assert!(cli.find_subcommand("ci").is_some(), "`nomad-spec ci` is not a subcommand");
}

#[test]
fn every_input_becomes_a_variable_nomad_spec_reads() {
    let action = yaml("action.yml");
    let inputs = map(&action["inputs"], "inputs");
    let env = action_env(&action);
    let declared: BTreeSet<&String> = inputs.keys().collect();
    let mapped: BTreeSet<&String> = env.keys().collect();
    assert_eq!(declared, mapped, "every input is mapped once, and only declared inputs are");
    let variables: BTreeSet<&String> = env.values().collect();
    assert_eq!(variables.len(), env.len(), "two inputs set the same variable: {env:?}");

    let read = variables_read_by_the_source();
    let unread: Vec<&&String> = variables.iter().filter(|v| !read.contains(v.as_str())).collect();
    assert!(unread.is_empty(), "variables the action sets but no source file reads: {unread:?}");
    for (input, spec) in inputs {
        let description = string(&spec["description"], input);
        assert!(!description.trim().is_empty(), "input {input} has no description");
        assert_ne!(spec.get("required"), Some(&Value::Bool(true)), "{input}: blank is unset");
    }
}

#[test]
fn secret_inputs_are_marked_and_never_have_a_literal_default() {
    let action = yaml("action.yml");
    let env = action_env(&action);
    for (input, spec) in map(&action["inputs"], "inputs") {
        let variable = &env[input];
        let marked = string(&spec["description"], input).starts_with("Secret.");
        assert_eq!(
            marked,
            is_secret_variable(variable),
            "input {input} ({variable}): a credential's description starts with \"Secret.\", \
             and only a credential's"
        );
        if marked {
            // The one default a secret may have is the workflow's own token, by expression.
            match spec.get("default") {
                None => {}
                Some(default) => {
                    assert_eq!(variable, "GITHUB_TOKEN", "{input} has a default");
                    assert_eq!(default, "${{ github.token }}", "{input}");
                }
            }
        }
    }
}

#[test]
fn the_inputs_defaults_are_the_binarys_defaults() {
    use nomad_spec::settings::{self, BotSettings as Settings};
    let action = yaml("action.yml");
    let env = action_env(&action);
    let defaults: BTreeMap<String, String> = map(&action["inputs"], "inputs")
        .iter()
        .filter_map(|(input, spec)| {
            let default = spec.get("default")?.as_str()?;
            (!default.contains("${{")).then(|| (env[input].clone(), default.to_string()))
        })
        .collect();
    // The job file's path has no default in the action: blank leaves the choice to the
    // binary, which also reads the repository's `.nomad-spec.toml`.
    assert!(!defaults.contains_key(settings::SPEC_PATH), "spec-path must default to blank");
    for name in [settings::AUTO_DEPLOY, settings::MAX_FIX_ITERATIONS, settings::ENVIRONMENT] {
        assert!(defaults.contains_key(name), "the input for {name} shows no default");
    }
    let from_action = Settings::from_vars(&defaults).expect("the defaults are valid settings");
    let built_in = Settings::from_vars(&BTreeMap::new()).unwrap();
    assert_eq!(from_action, built_in, "action.yml's defaults differ from the binary's");
}

#[test]
fn the_outputs_are_the_three_the_bot_writes() {
    let action = yaml("action.yml");
    let outputs = map(&action["outputs"], "outputs");
    let names: Vec<&str> = outputs.keys().map(String::as_str).collect();
    assert_eq!(names, ["spec-path", "job-id", "verdict"]);
    for (name, spec) in outputs {
        // A Docker action's outputs are declared only; `value` belongs to composite actions.
        assert!(spec.get("value").is_none(), "output {name} has a value");
        assert!(spec["description"].as_str().is_some_and(|d| !d.is_empty()), "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// The workflows.

fn workflow(name: &str) -> Value {
    yaml(&format!(".github/workflows/{name}"))
}

/// The event types a workflow listens to for `event`.
fn types(on: &Value, event: &str) -> BTreeSet<String> {
    on[event]["types"]
        .as_array()
        .unwrap_or_else(|| panic!("on.{event}.types is not a list"))
        .iter()
        .map(|t| string(t, event).to_string())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_example_workflow_listens_to_what_the_bot_handles() {
    let flow = workflow("nomad-spec.yml");
    let on = &flow["on"];
    assert_eq!(
        types(on, "pull_request"),
        set(&["opened", "synchronize", "reopened", "ready_for_review", "closed"])
    );
    assert_eq!(types(on, "issue_comment"), set(&["created", "edited"]));
    let push = &on["push"];
    assert!(push["branches"].as_array().is_some_and(|b| !b.is_empty()), "push: branches");
    let paths: Vec<&str> =
        push["paths"].as_array().expect("push: paths").iter().map(|p| string(p, "path")).collect();
    // The default spec path must be among the paths a push deploys.
    let default_folder = nomad_spec::settings::DEFAULT_SPEC_PATH
        .split('/')
        .next()
        .expect("the default spec path has a folder");
    assert!(paths.iter().any(|p| p.starts_with(&format!("{default_folder}/"))), "{paths:?}");
    assert!(on.get("workflow_dispatch").is_some(), "on: workflow_dispatch");
    // Events nomad-spec's trigger parser knows (`event::from_github`): a workflow that listens
    // to `pull_request_target` would run pull requests' code with secrets.
    let events: Vec<&String> = map(on, "on").keys().collect();
    assert_eq!(
        events,
        ["pull_request", "issue_comment", "push", "workflow_run", "workflow_dispatch", "schedule"]
    );
    // The image pipeline's finished builds (issue 17), by the name the bot gives its workflow.
    assert_eq!(types(on, "workflow_run"), set(&["completed"]));
    assert_eq!(
        on["workflow_run"]["workflows"],
        serde_json::json!([nomad_spec::workflow::image_workflow::GITHUB_WORKFLOW_NAME])
    );
    let crons = on["schedule"].as_array().expect("on: schedule is a list");
    assert!(crons.iter().all(|c| c["cron"].is_string()) && !crons.is_empty(), "{crons:?}");
}

#[test]
fn the_example_workflow_asks_for_the_least_permissions() {
    let flow = workflow("nomad-spec.yml");
    let permissions = map(&flow["permissions"], "permissions (not `write-all`)");
    let granted: BTreeMap<&str, &str> =
        permissions.iter().map(|(scope, level)| (scope.as_str(), string(level, scope))).collect();
    let expected: BTreeMap<&str, &str> = [
        ("checks", "write"),
        ("contents", "write"),
        ("deployments", "write"),
        ("issues", "write"),
        ("packages", "read"),
        ("pull-requests", "write"),
        ("statuses", "write"),
    ]
    .into();
    assert_eq!(granted, expected);
    // Each grant says why, in the comment just above it.
    let text = read(".github/workflows/nomad-spec.yml");
    let lines: Vec<&str> = text.lines().collect();
    for (scope, level) in &expected {
        let at = lines
            .iter()
            .position(|l| l.trim() == format!("{scope}: {level}"))
            .unwrap_or_else(|| panic!("`{scope}: {level}` is not on its own line"));
        assert!(at > 0 && lines[at - 1].trim_start().starts_with('#'), "{scope} has no reason");
    }
    for (_, job) in map(&flow["jobs"], "jobs") {
        assert!(job.get("permissions").is_none(), "a job widens the workflow's permissions");
    }
}

#[test]
fn deploying_runs_share_one_group_and_pull_requests_have_their_own() {
    let flow = workflow("nomad-spec.yml");
    let jobs = map(&flow["jobs"], "jobs");
    assert_eq!(jobs.len(), 1, "one job: the bot");
    let job = jobs.values().next().unwrap();
    let concurrency = &job["concurrency"];
    assert_eq!(concurrency["cancel-in-progress"], false, "a run is never cancelled halfway");
    let group = string(&concurrency["group"], "concurrency.group");
    for part in [
        "'deploy'",
        "github.event_name == 'push'",
        "github.event_name == 'workflow_dispatch'",
        "github.event_name == 'workflow_run'",
        "github.event.pull_request.merged",
        "github.event.issue.pull_request.merged_at",
        "github.event.pull_request.number",
        "github.event.issue.number",
        "github.event_name == 'schedule' && 'drift'",
    ] {
        assert!(group.contains(part), "the concurrency group does not use {part}: {group}");
    }
    // A folded expression must stay one line, or GitHub reads a broken expression.
    assert!(!group.contains('\n'), "{group:?}");
}

#[test]
fn the_example_workflow_passes_secrets_as_secrets_and_only_declared_inputs() {
    let flow = workflow("nomad-spec.yml");
    let action = yaml("action.yml");
    let env = action_env(&action);
    let job = map(&flow["jobs"], "jobs").values().next().unwrap();
    let steps = job["steps"].as_array().expect("steps");
    let step = steps
        .iter()
        .find(|s| s["uses"] == "./")
        .expect("this repository runs its own action with `uses: ./`");
    let checkout = steps
        .iter()
        .position(|s| s["uses"].as_str().is_some_and(|u| u.starts_with("actions/checkout@")));
    let uses_at = steps.iter().position(|s| s["uses"] == "./").unwrap();
    assert!(checkout.is_some_and(|c| c < uses_at), "a local action needs the checkout first");

    let reference = Regex::new(r"^\$\{\{ (secrets|vars)\.([A-Z][A-Z0-9_]*) \}\}$").unwrap();
    for (input, value) in map(&step["with"], "with") {
        let variable = env.get(input).unwrap_or_else(|| panic!("`{input}` is not an input"));
        let value = string(value, input);
        let c = reference
            .captures(value)
            .unwrap_or_else(|| panic!("with.{input} = {value:?} is not a variable or a secret"));
        let from_secrets = &c[1] == "secrets";
        assert_eq!(from_secrets, is_secret_variable(variable), "{input} from {value}");
        assert_eq!(&c[2], variable, "with.{input}: name it as the variable it sets");
    }
    assert!(step["with"].get("nomad-addr").is_some());
    // The job runs where a cluster is configured (or by hand), so this repository's own pull
    // requests do not ask for a job file.
    let condition = string(&job["if"], "if");
    assert!(condition.contains("vars.NOMAD_ADDR != ''"), "{condition}");
    // A fork's pull request event gets a read-only token: nothing the bot could do.
    assert!(
        condition.contains("github.event.pull_request.head.repo.full_name == github.repository"),
        "{condition}"
    );
}

#[test]
fn the_projects_ci_workflow_runs_the_ci_script() {
    let flow = workflow("ci.yml");
    assert!(root().join(".ci/run").is_file(), ".ci/run");
    let runs_script = map(&flow["jobs"], "jobs").values().any(|job| {
        job["steps"]
            .as_array()
            .is_some_and(|steps| steps.iter().any(|s| s["run"] == "bash .ci/run"))
    });
    assert!(runs_script, "no job runs `bash .ci/run`");
}

#[test]
fn the_release_workflow_publishes_both_architectures_on_a_version_tag() {
    let flow = workflow("release.yml");
    assert_eq!(flow["on"]["push"]["tags"], serde_json::json!(["v*"]));
    assert_eq!(flow["permissions"], serde_json::json!({"contents": "read", "packages": "write"}));
    let job = map(&flow["jobs"], "jobs").values().next().expect("a job");
    let steps = job["steps"].as_array().expect("steps");
    let uses = |prefix: &str| {
        steps
            .iter()
            .find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(prefix)))
            .unwrap_or_else(|| panic!("no step uses {prefix}"))
    };
    uses("docker/setup-qemu-action@");
    uses("docker/setup-buildx-action@");
    assert_eq!(uses("docker/login-action@")["with"]["registry"], "ghcr.io");
    let tags = string(&uses("docker/metadata-action@")["with"]["tags"], "tags");
    assert!(tags.lines().any(|l| l.trim() == "type=ref,event=tag"), "the `vX.Y.Z` tag: {tags}");
    let build = &uses("docker/build-push-action@")["with"];
    assert_eq!(build["push"], true);
    let platforms: BTreeSet<&str> =
        string(&build["platforms"], "platforms").split(',').map(str::trim).collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"].into());
    // The release refuses a tag that action.yml and the GitLab template do not name.
    let checks = steps.iter().filter_map(|s| s["run"].as_str()).collect::<Vec<_>>().join("\n");
    for file in ["Cargo.toml", "action.yml", "templates/nomad-spec.gitlab-ci.yml"] {
        assert!(checks.contains(file), "the release does not check {file}");
    }
}

// ---------------------------------------------------------------------------------------------
// The GitLab template.

/// A GitLab `rules: if:` made of `&&`-joined terms: `$A == "text"`, `$A == $B`, `$A`.
/// Anything else is a failure, so a rule this cannot read never passes unread.
fn rule_holds(rule: &str, vars: &BTreeMap<&str, &str>) -> bool {
    let value = |operand: &str| -> Option<String> {
        let operand = operand.trim();
        if let Some(name) = operand.strip_prefix('$') {
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{rule}");
            return vars.get(name).map(|v| v.to_string());
        }
        let text = operand.strip_prefix('"').and_then(|o| o.strip_suffix('"'));
        Some(text.unwrap_or_else(|| panic!("cannot read {operand:?} in {rule:?}")).to_string())
    };
    rule.split("&&").all(|term| match term.split_once("==") {
        Some((left, right)) => value(left) == value(right),
        None => value(term).is_some_and(|v| !v.is_empty()),
    })
}

/// The template's jobs (keys not starting with `.`) that a pipeline with `vars` would run.
fn jobs_run(template: &Value, vars: &BTreeMap<&str, &str>) -> Vec<String> {
    map(template, "template")
        .iter()
        .filter(|(name, job)| {
            !name.starts_with('.') && name.as_str() != "variables" && job.is_object()
        })
        .filter(|(name, job)| {
            job["rules"].as_array().unwrap_or_else(|| panic!("{name} has no rules")).iter().any(
                |rule| {
                    rule_holds(string(&rule["if"], name), vars)
                        && rule.get("when") != Some(&Value::from("never"))
                },
            )
        })
        .map(|(name, _)| name.clone())
        .collect()
}

#[test]
fn the_gitlab_template_runs_one_job_per_kind_of_pipeline() {
    let template = yaml("templates/nomad-spec.gitlab-ci.yml");
    let pipeline =
        |pairs: &[(&'static str, &'static str)]| -> BTreeMap<&'static str, &'static str> {
            let mut vars: BTreeMap<&str, &str> = [("CI_DEFAULT_BRANCH", "main")].into();
            vars.extend(pairs.iter().copied());
            vars
        };
    let merge_request =
        pipeline(&[("CI_PIPELINE_SOURCE", "merge_request_event"), ("CI_MERGE_REQUEST_IID", "7")]);
    assert_eq!(jobs_run(&template, &merge_request), ["nomad-spec:merge-request"]);
    let merged = pipeline(&[("CI_PIPELINE_SOURCE", "push"), ("CI_COMMIT_BRANCH", "main")]);
    assert_eq!(jobs_run(&template, &merged), ["nomad-spec:deploy"]);
    let other_branch = pipeline(&[("CI_PIPELINE_SOURCE", "push"), ("CI_COMMIT_BRANCH", "topic")]);
    assert!(jobs_run(&template, &other_branch).is_empty());
    // The webhook triggers pipelines of the default branch: only the comment job may run there.
    let comment = pipeline(&[
        ("CI_PIPELINE_SOURCE", "trigger"),
        ("CI_COMMIT_BRANCH", "main"),
        ("TRIGGER_PAYLOAD", "/builds/acme/shop.tmp/TRIGGER_PAYLOAD"),
    ]);
    assert_eq!(jobs_run(&template, &comment), ["nomad-spec:comment"]);
    let bare_trigger = pipeline(&[("CI_PIPELINE_SOURCE", "trigger"), ("CI_COMMIT_BRANCH", "main")]);
    assert!(jobs_run(&template, &bare_trigger).is_empty());
    let scheduled = pipeline(&[("CI_PIPELINE_SOURCE", "schedule"), ("CI_COMMIT_BRANCH", "main")]);
    assert_eq!(jobs_run(&template, &scheduled), ["nomad-spec:drift"]);
    let scheduled_elsewhere =
        pipeline(&[("CI_PIPELINE_SOURCE", "schedule"), ("CI_COMMIT_BRANCH", "topic")]);
    assert!(jobs_run(&template, &scheduled_elsewhere).is_empty());
}

#[test]
fn the_gitlab_template_runs_the_same_image_and_never_two_deploys_at_once() {
    let template = yaml("templates/nomad-spec.gitlab-ci.yml");
    let action_image = action_image(&yaml("action.yml"));
    assert_eq!(
        Some(template["variables"]["NOMAD_SPEC_IMAGE"].as_str().unwrap_or_default()),
        action_image.strip_prefix("docker://"),
        "the template and the action run one image"
    );
    let base = &template[".nomad-spec"];
    assert_eq!(base["image"]["name"], "$NOMAD_SPEC_IMAGE");
    assert_eq!(base["image"]["entrypoint"], serde_json::json!([""]), "GitLab needs a shell");
    assert_eq!(base["script"], serde_json::json!(["nomad-spec ci"]));
    for job in
        ["nomad-spec:merge-request", "nomad-spec:comment", "nomad-spec:deploy", "nomad-spec:drift"]
    {
        assert_eq!(template[job]["extends"], ".nomad-spec", "{job}");
    }
    // Every job that can touch the cluster holds the one deploy resource group.
    for job in ["nomad-spec:comment", "nomad-spec:deploy"] {
        assert_eq!(template[job]["resource_group"], "nomad-spec-deploy", "{job}");
    }
    let per_mr = string(&template["nomad-spec:merge-request"]["resource_group"], "resource_group");
    assert!(per_mr.contains("$CI_MERGE_REQUEST_IID"), "{per_mr}");
}

#[test]
fn the_gitlab_template_documents_every_variable_the_action_sets() {
    let text = read("templates/nomad-spec.gitlab-ci.yml");
    let comments: String =
        text.lines().filter(|l| l.trim_start().starts_with('#')).collect::<Vec<_>>().join("\n");
    let env = action_env(&yaml("action.yml"));
    let mut documented: Vec<&str> = env.values().map(String::as_str).collect();
    documented.retain(|v| *v != "GITHUB_TOKEN");
    documented.push(nomad_spec::settings::GITLAB_TOKEN);
    for variable in documented {
        assert!(comments.contains(variable), "the template does not document {variable}");
    }
    let include = format!(
        "raw.githubusercontent.com/nomad-spec/nomad-spec/{}/templates/nomad-spec.gitlab-ci.yml",
        release_tag()
    );
    assert!(comments.contains(&include), "the include example names another release");
}

// ---------------------------------------------------------------------------------------------
// The image.

/// One `FROM` stage of the Dockerfile: its name and instructions (continuations joined).
struct Stage {
    name: String,
    instructions: Vec<(String, String)>,
}

fn dockerfile_stages() -> Vec<Stage> {
    let text = read("Dockerfile");
    let mut logical = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                logical.push(std::mem::take(&mut current));
            }
        }
    }
    let mut stages: Vec<Stage> = Vec::new();
    for line in logical {
        let (keyword, rest) = line.split_once(char::is_whitespace).unwrap_or((&line, ""));
        let (keyword, rest) = (keyword.to_ascii_uppercase(), rest.trim().to_string());
        if keyword == "FROM" {
            let words: Vec<&str> = rest.split_whitespace().collect();
            let name = match words.as_slice() {
                [_, as_, name] if as_.eq_ignore_ascii_case("as") => name.to_string(),
                _ => panic!("every stage is named: FROM {rest}"),
            };
            stages.push(Stage { name, instructions: Vec::new() });
        } else if let Some(stage) = stages.last_mut() {
            stage.instructions.push((keyword, rest));
        }
    }
    stages
}

impl Stage {
    fn all(&self, keyword: &str) -> Vec<&str> {
        self.instructions.iter().filter(|(k, _)| k == keyword).map(|(_, r)| r.as_str()).collect()
    }

    /// `${NAME}` and `$NAME` replaced by the stage's `ARG NAME=default`.
    fn resolve(&self, text: &str) -> String {
        let mut out = text.to_string();
        for arg in self.all("ARG") {
            if let Some((name, default)) = arg.split_once('=') {
                out = out
                    .replace(&format!("${{{name}}}"), default)
                    .replace(&format!("${name}"), default);
            }
        }
        out
    }
}

#[test]
fn the_image_is_built_locked_and_runs_the_binary_unprivileged() {
    let stages = dockerfile_stages();
    assert!(stages.len() >= 2, "a build stage and a runtime stage");
    let build = &stages[0];
    let runtime = stages.last().unwrap();
    assert!(
        build.all("RUN").iter().any(|r| r.contains("cargo build --release --locked")),
        "the build compiles with the locked dependencies"
    );
    let entrypoint: Vec<String> =
        serde_json::from_str(runtime.all("ENTRYPOINT").last().expect("ENTRYPOINT"))
            .expect("ENTRYPOINT in exec form");
    let [binary] = entrypoint.as_slice() else { panic!("the entrypoint is the binary alone") };
    assert!(binary.ends_with("/nomad-spec"), "{binary}");
    let copied = runtime.all("COPY");
    assert!(
        copied
            .iter()
            .any(|c| c.starts_with(&format!("--from={}", build.name))
                && c.ends_with(binary.as_str())),
        "the runtime copies {binary} from the build stage: {copied:?}"
    );

    // Non-root, as the uid that owns the runner's mounts on GitHub-hosted runners.
    let user = runtime.resolve(runtime.all("USER").last().expect("USER"));
    let uid = user.split(':').next().unwrap_or_default();
    assert_eq!(uid, "1001", "USER {user}: see the Dockerfile's header");
    let installs = runtime.all("RUN").join(" ");
    assert!(installs.contains("ca-certificates"), "TLS needs the CA certificates");
    // nomad-spec clones and pushes through libgit2; nothing runs a `git` program.
    let runs_git =
        source_without_tests().iter().any(|(_, code)| code.contains("Command::new(\"git\")"));
    assert!(!runs_git && !installs.split_whitespace().any(|w| w == "git"), "git in the image");
}

/// `.dockerignore` as ordered patterns; a path is excluded when the last pattern matching it
/// (or one of its parent folders) is not a `!` exception.
fn dockerignored(path: &str) -> bool {
    let patterns: Vec<(bool, String)> = read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.strip_prefix('!') {
            Some(p) => (false, p.to_string()),
            None => (true, l.to_string()),
        })
        .collect();
    let matches = |pattern: &str, candidate: &str| {
        let regex = format!(
            "^{}$",
            regex::escape(pattern.trim_start_matches('/'))
                .replace(r"\*\*/", "(?:.*/)?")
                .replace(r"\*\*", ".*")
                .replace(r"\*", "[^/]*")
        );
        Regex::new(&regex).unwrap().is_match(candidate)
    };
    let mut prefixes = Vec::new();
    let mut at = 0;
    while let Some(slash) = path[at..].find('/') {
        prefixes.push(&path[..at + slash]);
        at += slash + 1;
    }
    prefixes.push(path);
    let mut excluded = false;
    for (exclude, pattern) in &patterns {
        if prefixes.iter().any(|p| matches(pattern, p)) {
            excluded = *exclude;
        }
    }
    excluded
}

#[test]
fn the_build_context_holds_everything_the_compiler_reads() {
    let build = &dockerfile_stages()[0];
    let copied: Vec<String> = build
        .all("COPY")
        .iter()
        .filter(|c| !c.starts_with("--"))
        .flat_map(|c| {
            let words: Vec<&str> = c.split_whitespace().collect();
            words[..words.len() - 1]
                .iter()
                .map(|w| w.trim_end_matches('/').to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let in_context = |path: &str| {
        copied.iter().any(|c| path == c || path.starts_with(&format!("{c}/")))
            && !dockerignored(path)
    };

    let mut needed =
        vec!["Cargo.toml".to_string(), "Cargo.lock".to_string(), "src/main.rs".to_string()];
    let manifest: toml::Value = toml::from_str(&read("Cargo.toml")).expect("Cargo.toml");
    for member in manifest["workspace"]["members"].as_array().expect("workspace members") {
        let member = member.as_str().unwrap();
        if member != "." {
            needed.push(format!("{member}/Cargo.toml"));
            needed.push(format!("{member}/src/lib.rs"));
        }
    }
    // Targets the manifest declares must exist for Cargo to read it at all (`[[bench]]`
    // without a `path` means `benches/<name>.rs`), even when only the binary is built.
    for kind in ["bench", "test", "example", "bin"] {
        for target in manifest.get(kind).and_then(|t| t.as_array()).into_iter().flatten() {
            let path = match target.get("path").and_then(|p| p.as_str()) {
                Some(path) => path.to_string(),
                None if kind == "bin" => continue,
                None => {
                    let folder = match kind {
                        "bench" => "benches",
                        "test" => "tests",
                        _ => "examples",
                    };
                    format!("{folder}/{}.rs", target["name"].as_str().unwrap())
                }
            };
            needed.push(path);
        }
    }
    // Files compiled into the binary, from the code that is not a test.
    let include = Regex::new(r#"include_(?:str|bytes)!\(\s*"([^"]+)"\s*\)"#).unwrap();
    for (file, code) in source_without_tests() {
        for c in include.captures_iter(&code) {
            let target = file.parent().unwrap().join(&c[1]);
            let target = std::fs::canonicalize(&target)
                .unwrap_or_else(|err| panic!("{}: {}: {err}", file.display(), &c[1]));
            let relative = target.strip_prefix(std::fs::canonicalize(root()).unwrap()).unwrap();
            needed.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
    assert!(needed.iter().any(|n| n.starts_with("prompts/")), "the prompts are compiled in");
    let missing: Vec<&String> = needed.iter().filter(|n| !in_context(n)).collect();
    assert!(
        missing.is_empty(),
        "the image build would not see {missing:?} (Dockerfile COPY, .dockerignore)"
    );
    // And the context stays small: what the build does not read is left out.
    for heavy in ["target/release/nomad-spec", ".git/HEAD", "fixtures/repos", "datasets"] {
        assert!(dockerignored(heavy), "{heavy} is sent to the image build");
    }
}

// ---------------------------------------------------------------------------------------------
// The README.

/// The README's section under `heading`, up to the next `## `.
fn readme_section(heading: &str) -> String {
    let readme = read("README.md");
    let start = readme.find(&format!("\n{heading}\n")).unwrap_or_else(|| panic!("no `{heading}`"));
    let body = &readme[start + heading.len() + 2..];
    body[..body.find("\n## ").unwrap_or(body.len())].to_string()
}

#[test]
fn the_readme_lists_every_slash_command_as_the_bot_parses_it() {
    use nomad_spec::command::{parse_commands, Command};
    let section = readme_section("## Install the bot on GitHub in five minutes");
    let row = Regex::new(r"(?m)^\| `(/nomad-spec [^`]+)` \|").unwrap();
    let mut kinds = HashSet::new();
    let mut rows = 0;
    for c in row.captures_iter(&section) {
        rows += 1;
        let line = c[1].replace("KEY=VALUE ...", "memory.api=512");
        let parsed = parse_commands(&line);
        let [Ok(command)] = parsed.as_slice() else { panic!("`{line}` parses as {parsed:?}") };
        kinds.insert(std::mem::discriminant(command));
    }
    let every = [
        Command::Help,
        Command::Generate,
        Command::Accept,
        Command::Set { pairs: Vec::new() },
        Command::Plan,
        Command::Validate,
        Command::Explain,
        Command::Status,
        Command::Fix,
        Command::Rollback,
        Command::Reset,
    ];
    let all: HashSet<_> = every.iter().map(std::mem::discriminant).collect();
    assert_eq!(rows, all.len(), "the README's command table lists each command once");
    assert!(kinds == all, "the README's command table and `Command` differ");
}

#[test]
fn the_first_command_builds_quickly_and_what_is_shipped_or_measured_fully_optimized() {
    let first = readme_section("## Two commands on a fresh machine");
    let command = first.lines().find(|l| l.starts_with("cargo run")).expect("a cargo run line");
    let profile = command.split_whitespace().skip_while(|w| *w != "--profile").nth(1);
    assert_eq!(profile, Some("quick"), "the first command: {command}");
    let manifest: toml::Value = toml::from_str(&read("Cargo.toml")).expect("Cargo.toml");
    let profiles = &manifest["profile"];
    let quick = &profiles["quick"];
    assert_eq!(quick["inherits"].as_str(), Some("release"), "quick is an optimized build");
    assert_eq!(quick["lto"].as_bool(), Some(false), "without link-time optimization");
    let release = &profiles["release"];
    assert!(release["lto"].as_str().is_some_and(|lto| lto != "off"), "release: {release}");
    // `cargo bench` builds with the bench profile, which is the release one unless changed.
    assert!(profiles.get("bench").is_none(), "the benchmarks measure the release profile");
    let build = &dockerfile_stages()[0];
    assert!(
        build.all("RUN").iter().any(|r| r.contains("cargo build --release")),
        "the image is the release build"
    );
}

#[test]
fn the_readme_names_only_real_subcommands() {
    let readme = read("README.md");
    let cli = nomad_spec::cli::Cli::command();
    let mut seen = BTreeSet::new();
    // Inline code.
    let inline = Regex::new(r"`nomad-spec ([a-z][a-z-]*)").unwrap();
    seen.extend(inline.captures_iter(&readme).map(|c| c[1].to_string()));
    // Command lines in code blocks (also after `VAR=value`), and `cargo run --`.
    let line = Regex::new(
        r"^\s*(?:[A-Z_]+=\S+\s+)*(?:nomad-spec|cargo run(?: --release| --profile [a-z]+)? --) ([a-z][a-z-]*)",
    )
    .unwrap();
    for (index, block) in readme.split("```").enumerate() {
        if index % 2 == 1 {
            seen.extend(block.lines().filter_map(|l| line.captures(l)).map(|c| c[1].to_string()));
        }
    }
    assert!(seen.contains("ci") && seen.contains("analyze"), "{seen:?}");
    let unknown: Vec<&String> = seen.iter().filter(|s| cli.find_subcommand(s).is_none()).collect();
    assert!(unknown.is_empty(), "the README names commands the CLI does not have: {unknown:?}");
}

#[test]
fn the_readme_install_sections_match_the_files() {
    let github = readme_section("## Install the bot on GitHub in five minutes");
    for step in 1..=5 {
        assert!(github.contains(&format!("\n{step}. **")), "GitHub step {step}");
    }
    // Every variable and secret the example workflow reads is one the README asks for.
    let flow = read(".github/workflows/nomad-spec.yml");
    let reference = Regex::new(r"\$\{\{ (?:secrets|vars)\.([A-Z][A-Z0-9_]*) \}\}").unwrap();
    for c in reference.captures_iter(&flow) {
        assert!(github.contains(&format!("`{}`", &c[1])), "the README does not ask for {}", &c[1]);
    }
    assert!(github.contains("uses: nomad-spec/nomad-spec@v0"));

    let gitlab = readme_section("## Install the bot on GitLab");
    for step in 1..=6 {
        assert!(gitlab.contains(&format!("\n{step}. **")), "GitLab step {step}");
    }
    let include = format!(
        "https://raw.githubusercontent.com/nomad-spec/nomad-spec/{}/templates/nomad-spec.gitlab-ci.yml",
        release_tag()
    );
    assert!(gitlab.contains(&include), "the include names another release");
    assert!(gitlab
        .contains("/api/v4/projects/<project-id>/ref/<default-branch>/trigger/pipeline?token="));
    for word in ["TRIGGER_PAYLOAD", "NOMAD_SPEC_GITLAB_TOKEN", "ci.skip", "nomad-spec-deploy"] {
        assert!(gitlab.contains(word), "the GitLab section does not mention {word}");
    }
}
