//! Which image each built service runs, from the pull request to the deploy (issue 17): the
//! image pipeline the bot proposes for services nothing publishes, the tag the job files pin,
//! and, after a merge, the wait for the merge commit's build, the registry's word that the
//! image is there, the tag bump on the default branch and the deploy.
//!
//! ```text
//! PR: analysis ─▶ propose (services nothing publishes) ─▶ job file + pipeline, one commit
//! merge ─▶ awaited? ──yes──▶ "waiting for the image build of <sha>" (nothing deployed)
//!                  └─no───▶ deploy (the conversation)
//! build finished ─▶ failed: said on the PR, nothing deployed
//!                 └ succeeded: manifest HEAD ─▶ "nomad-spec: deploy <service> <sha>" ─▶ deploy
//! ```
//!
//! Where a repository already publishes a service's image (compose, manifests, its own CI),
//! that image is used and no pipeline is proposed for it. The job file pins the image of the
//! commit that built it; before the first build it names [`UNBUILT_TAG`], which no build ever
//! pushes, so nothing can run it by mistake. A merge that changes a service's build context
//! waits for the new image; one that doesn't keeps the running image. The rendered pipeline
//! files are `image_workflow`'s, the registry check `registry`'s.

use std::path::Path;

use super::checkout::{analyze_checkout, job_files_in, repository_config};
use super::image_workflow::{self as pipeline_files, BuiltImage};
use super::registry::{self, Presence, RegistryAccess};
use super::{RunReport, Runner};
use crate::analyze::{self, Analysis, Evidence, PublishedImage, Source};
use crate::event::Repository;
use crate::forge::{Forge, ForgeKind};
use crate::git::{NameSource, PushOutcome, Workspace};
use crate::jobspec::answers::Answers;
use crate::jobspec::config::Config;
use crate::jobspec::parse::MAX_SOURCE_BYTES;
use crate::settings::{BotSettings, Settings};

/// The tag a job file names before the pipeline has built anything: never pushed, so a job
/// naming it cannot start, and the bot replaces it with the merge commit's tag.
pub const UNBUILT_TAG: &str = "built-after-merge";

/// The setting that turns the image pipeline off (`false`): for a repository whose images are
/// built elsewhere, whose image questions a person answers.
pub const IMAGE_PIPELINE: &str = "NOMAD_SPEC_IMAGE_PIPELINE";

/// Whether the bot proposes and follows the image pipeline ([`IMAGE_PIPELINE`], on unless
/// `false`).
pub fn enabled(settings: &Settings) -> anyhow::Result<bool> {
    match settings.var(IMAGE_PIPELINE).map(str::to_ascii_lowercase).as_deref() {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(super::failure::UserError::of(anyhow::anyhow!(
            "{IMAGE_PIPELINE} is `{other}`: it takes `true` or `false`"
        ))),
    }
}

/// A file to commit: its path in the repository and its content.
pub type FileToCommit = (String, String);

/// What the proposed pipeline builds and where it pushes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// The forge whose CI runs the pipeline.
    pub forge: ForgeKind,
    /// The registry path every image goes under (`ghcr.io/acme/shop`, lower case).
    pub registry: String,
    /// The default branch, whose pushes publish.
    pub default_branch: String,
    /// The services the pipeline builds, with the tag the job files pin for each now (none
    /// when no job file names the image yet, or a person answered another one).
    pub images: Vec<(BuiltImage, Option<String>)>,
}

/// An image the default branch waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Awaited {
    pub service: String,
    /// The image repository (`ghcr.io/acme/shop/web`).
    pub repository: String,
    /// The tag the job files pin now.
    pub pinned: String,
}

/// The registry path of `repository`'s images on `kind`: GHCR under the lower-cased
/// `owner/repo` on GitHub; on GitLab the project's registry (`CI_REGISTRY_IMAGE` in a job,
/// else `registry.<host>/<path>`).
pub fn registry_path(kind: ForgeKind, repository: &Repository, settings: &Settings) -> String {
    let path = repository.full_name.to_ascii_lowercase();
    match kind {
        ForgeKind::GitHub => format!("ghcr.io/{path}"),
        ForgeKind::GitLab => match settings.var("CI_REGISTRY_IMAGE") {
            Some(image) => image.trim_end_matches('/').to_ascii_lowercase(),
            None => {
                let host = settings
                    .var("CI_SERVER_HOST")
                    .map(str::to_string)
                    .or_else(|| {
                        let url = url::Url::parse(settings.var("CI_SERVER_URL")?).ok()?;
                        url.host_str().map(str::to_string)
                    })
                    .unwrap_or_else(|| "gitlab.com".to_string());
                format!("registry.{host}/{path}")
            }
        },
    }
}

/// A service's name as the last part of an image path: lower case, and only the characters a
/// registry allows there.
fn image_part(service: &str) -> String {
    service
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' })
        .collect()
}

/// The file that proposes the pipeline on `kind`.
pub fn pipeline_file(kind: ForgeKind) -> &'static str {
    match kind {
        ForgeKind::GitHub => pipeline_files::GITHUB_WORKFLOW_PATH,
        ForgeKind::GitLab => pipeline_files::GITLAB_INCLUDE_PATH,
    }
}

/// Whether the analysis says where `service`'s image is published (or `registry` of
/// `.nomad-spec.toml` names where it goes): then no pipeline is proposed for it.
fn published_elsewhere(service: &analyze::Service, config: &Config) -> bool {
    !service.published_images.is_empty()
        || service.image.as_deref().is_some_and(|i| !analyze::published::is_local_name(i))
        || config.registry.is_some()
}

/// The pipeline for the services of `analysis` built from the repository that nothing
/// publishes; each is given the pipeline's image as the one the repository publishes (so the
/// image question is answered by default), with the tag the job files under `root` pin for it,
/// or [`UNBUILT_TAG`].
pub fn propose(
    kind: ForgeKind,
    registry: String,
    default_branch: &str,
    analysis: &mut Analysis,
    config: &Config,
    root: &Path,
) -> Proposal {
    let mut proposal = Proposal {
        forge: kind,
        registry,
        default_branch: default_branch.to_string(),
        images: Vec::new(),
    };
    propose_into(&mut proposal, analysis, config, root);
    proposal
}

/// A pipeline that builds nothing: the image pipeline is off ([`IMAGE_PIPELINE`]).
pub fn none(kind: ForgeKind, registry: String, default_branch: &str) -> Proposal {
    Proposal {
        forge: kind,
        registry,
        default_branch: default_branch.to_string(),
        images: Vec::new(),
    }
}

fn propose_into(proposal: &mut Proposal, analysis: &mut Analysis, config: &Config, root: &Path) {
    let (kind, registry) = (proposal.forge, proposal.registry.clone());
    let job_texts: Vec<String> = job_files_in(root)
        .iter()
        .filter_map(|f| crate::file::read_text(&root.join(f), MAX_SOURCE_BYTES as u64).ok())
        .collect();
    let mut images = Vec::new();
    for service in &mut analysis.services {
        let Some(dockerfile) = service.dockerfile.clone() else { continue };
        if service.source != Source::Build || published_elsewhere(service, config) {
            continue;
        }
        let part = image_part(&service.name);
        let repository = format!("{registry}/{part}");
        let pinned = pinned_tag(&job_texts, &repository);
        service.published_images.push(PublishedImage {
            image: format!("{repository}:{}", pinned.as_deref().unwrap_or(UNBUILT_TAG)),
            evidence: Evidence {
                file: pipeline_file(kind).to_string(),
                line: None,
                what: format!(
                    "built by the proposed workflow ({}), which pushes {repository}:<commit>",
                    pipeline_file(kind)
                ),
            },
        });
        images.push((
            BuiltImage {
                service: part,
                context: service.path.clone(),
                dockerfile,
                target: service.build_target.clone(),
            },
            pinned,
        ));
    }
    proposal.images = images;
}

/// The tag the job files pin for `repository` (`"ghcr.io/acme/shop/web:<tag>"`), when one does.
fn pinned_tag(job_texts: &[String], repository: &str) -> Option<String> {
    let needle = format!("\"{repository}:");
    job_texts.iter().find_map(|text| {
        let start = text.find(&needle)? + needle.len();
        let tag: String = text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
            .collect();
        (!tag.is_empty() && text[start + tag.len()..].starts_with('"')).then_some(tag)
    })
}

impl Proposal {
    /// The images the answers leave to the pipeline: a person's own answer for a service
    /// takes it out.
    fn built(&self, answers: &Answers) -> Vec<&(BuiltImage, Option<String>)> {
        self.images
            .iter()
            .filter(|(image, _)| {
                let answer = answers
                    .services
                    .iter()
                    .find(|(name, _)| image_part(name) == image.service)
                    .and_then(|(_, a)| a.image.as_deref());
                answer
                    .is_none_or(|a| a.starts_with(&format!("{}/{}:", self.registry, image.service)))
            })
            .collect()
    }

    /// The pipeline's files to commit with the job file, `(path, content)`, and what a person
    /// must do by hand; none when the answers leave nothing to it. `root` is the checkout
    /// (GitLab's `.gitlab-ci.yml` is extended, not replaced), `jobs_dir` the job files' folder.
    pub fn files(
        &self,
        answers: &Answers,
        root: &Path,
        jobs_dir: &str,
    ) -> anyhow::Result<(Vec<FileToCommit>, Vec<String>)> {
        let images: Vec<BuiltImage> =
            self.built(answers).into_iter().map(|(i, _)| i.clone()).collect();
        if images.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        match self.forge {
            ForgeKind::GitHub => {
                let workflow = pipeline_files::github_workflow(
                    &images,
                    &self.registry,
                    &self.default_branch,
                    jobs_dir,
                );
                let text = pipeline_files::render(&workflow, "the image workflow")?;
                Ok((vec![(pipeline_files::GITHUB_WORKFLOW_PATH.to_string(), text)], Vec::new()))
            }
            ForgeKind::GitLab => {
                let include = pipeline_files::gitlab_include(&images);
                let text = pipeline_files::render(&include, "the image jobs")?;
                let mut files = vec![(pipeline_files::GITLAB_INCLUDE_PATH.to_string(), text)];
                let mut notes = Vec::new();
                let ci = root.join(pipeline_files::GITLAB_CI_PATH);
                let existing = if ci.exists() {
                    Some(crate::file::read_text(&ci, MAX_SOURCE_BYTES as u64).map_err(|err| {
                        anyhow::anyhow!(
                            "cannot read {}: {}",
                            pipeline_files::GITLAB_CI_PATH,
                            err.reason()
                        )
                    })?)
                } else {
                    None
                };
                match pipeline_files::gitlab_ci_with_include(existing.as_deref()) {
                    Some(text) => files.push((pipeline_files::GITLAB_CI_PATH.to_string(), text)),
                    None => notes.push(format!(
                        "{} has an `include:` of its own: add `- local: {}` to it so the images \
                         are built",
                        pipeline_files::GITLAB_CI_PATH,
                        pipeline_files::GITLAB_INCLUDE_PATH
                    )),
                }
                Ok((files, notes))
            }
        }
    }

    /// The images the checkout's job files wait for: one they name with [`UNBUILT_TAG`], or whose
    /// build context (or Dockerfile) changed since the commit its pinned tag names. Changes to
    /// job files and to the pipeline itself build nothing new.
    pub fn awaited(&self, workspace: &Workspace) -> anyhow::Result<Vec<Awaited>> {
        let mut awaited = Vec::new();
        for (image, pinned) in &self.images {
            // A job file that does not name the pipeline's image runs another one.
            let Some(pinned) = pinned else { continue };
            let repository = format!("{}/{}", self.registry, image.service);
            let changed = pinned == UNBUILT_TAG
                || workspace.changed_files(pinned)?.iter().any(|f| changes_image(f, image));
            if changed {
                awaited.push(Awaited {
                    service: image.service.clone(),
                    repository,
                    pinned: pinned.clone(),
                });
            }
        }
        Ok(awaited)
    }

    /// Whether the checkout's head builds the same images as `commit` (nothing in a context
    /// changed between them), so that `commit`'s images are the head's.
    fn builds_same_as(&self, workspace: &Workspace, commit: &str) -> anyhow::Result<bool> {
        let changed = workspace.changed_files(commit)?;
        Ok(!changed.iter().any(|f| self.images.iter().any(|(image, _)| changes_image(f, image))))
    }
}

/// Whether a changed file changes the image built from `image`'s context and Dockerfile.
fn changes_image(file: &str, image: &BuiltImage) -> bool {
    let is_job = file.ends_with(".nomad.hcl") || file.ends_with(".nomad");
    let is_pipeline = [
        pipeline_files::GITHUB_WORKFLOW_PATH,
        pipeline_files::GITLAB_INCLUDE_PATH,
        pipeline_files::GITLAB_CI_PATH,
    ]
    .contains(&file);
    if is_job || is_pipeline {
        return false;
    }
    let context = image.context.trim_start_matches("./").trim_end_matches('/');
    file == image.dockerfile
        || context.is_empty()
        || context == "."
        || file.starts_with(&format!("{context}/"))
}

/// The hidden line of the comment that says the merge waits for `commit`'s images.
fn waiting_marker(commit: &str) -> String {
    format!("<!-- nomad-spec:awaiting-images {commit} -->")
}

/// The hidden line of the comment that says `commit`'s image build failed or is missing.
fn not_deployed_marker(commit: &str) -> String {
    format!("<!-- nomad-spec:images-not-deployed {commit} -->")
}

/// Says once on change request `number` what `marker` marks.
async fn say_once(forge: &Forge, number: u64, marker: &str, text: &str) -> anyhow::Result<bool> {
    let comments = forge.comments(number).await?;
    if comments.iter().any(|c| c.body.contains(marker)) {
        return Ok(false);
    }
    forge.create_comment(number, &format!("{marker}\n{text}")).await?;
    Ok(true)
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// The merge of change request `number` as `merge_sha` waits for `awaited` images: said once on
/// it, nothing deployed.
pub async fn hold_merge(
    forge: &Forge,
    runner: &Runner,
    number: u64,
    merge_sha: &str,
    awaited: &[Awaited],
) -> anyhow::Result<RunReport> {
    let mut report = RunReport::new(format!("change request #{number} merged"));
    let list: Vec<String> =
        awaited.iter().map(|a| format!("`{}:{}`", a.repository, short(merge_sha))).collect();
    let text = format!(
        "Merged. Before deploying I wait for the image build of {} ({}): {}. I deploy once I \
         have seen {} in the registry; nothing runs an image I have not seen there.",
        short(merge_sha),
        pipeline_file(forge.kind()),
        list.join(", "),
        if awaited.len() == 1 { "it" } else { "them" }
    );
    if say_once(forge, number, &waiting_marker(merge_sha), &text).await? {
        runner.log(&format!("waiting for the image build of {merge_sha}"));
    }
    report.verdict = "awaiting-images".into();
    report.log.push(format!("waiting for the image build of {}", short(merge_sha)));
    Ok(report)
}

/// Who asks the registry: the CI job's registry credentials when it has them (GitLab's
/// `CI_REGISTRY_USER`/`CI_REGISTRY_PASSWORD`), else the forge's token.
fn registry_access(forge: &Forge, settings: &Settings) -> RegistryAccess {
    let url_override = settings.var(registry::REGISTRY_URL).map(str::to_string);
    match (settings.var("CI_REGISTRY_USER"), settings.var("CI_REGISTRY_PASSWORD")) {
        (Some(user), Some(password)) => {
            RegistryAccess { username: user.to_string(), password: password.into(), url_override }
        }
        _ => {
            let remote = forge.git_remote();
            RegistryAccess { username: remote.username, password: remote.token, url_override }
        }
    }
}

/// The image pipeline finished for `commit` of the default branch. A failed build is said on
/// the change request that merged it and deploys nothing; a successful one is checked in the
/// registry, pinned on the default branch ("nomad-spec: deploy <service> <sha>") and deployed.
/// A build the job files do not wait for (a replay, an older commit's) changes nothing.
#[allow(clippy::too_many_arguments)]
pub async fn images_built(
    forge: &Forge,
    runner: &Runner,
    bot: &BotSettings,
    settings: &Settings,
    repository: &Repository,
    commit: &str,
    succeeded: bool,
    outcome: &str,
    change_request: Option<u64>,
) -> anyhow::Result<RunReport> {
    let kind = forge.kind();
    let mut report = RunReport::new(format!("image build of {}", short(commit)));
    if !enabled(settings)? {
        report.verdict = "ignored".into();
        report.log.push(format!("the image pipeline is off ({IMAGE_PIPELINE}=false)"));
        return Ok(report);
    }
    let branch = repository.default_branch.clone();
    let mut workspace = Workspace::clone(&forge.git_remote(), &format!("refs/heads/{branch}"))?;
    let name = crate::git::repository_name(NameSource::FullName(&repository.full_name));
    let registry = registry_path(kind, repository, settings);
    for _ in 0..3 {
        let config = repository_config(workspace.path(), bot)?;
        let mut analysis = analyze_checkout(workspace.path(), &name);
        let proposal =
            propose(kind, registry.clone(), &branch, &mut analysis, &config, workspace.path());
        let awaited = proposal.awaited(&workspace)?;
        if awaited.is_empty() {
            let pins_commit =
                proposal.images.iter().any(|(_, pinned)| pinned.as_deref() == Some(commit));
            return match change_request {
                // Pinned already (a replay, or a run cut short after the pin): the
                // conversation deploys it unless it did, which its checkpoint knows.
                Some(number) if succeeded && pins_commit => {
                    deploy_merge(forge, runner, bot, settings, repository, number, commit).await
                }
                _ => {
                    report.verdict = "ignored".into();
                    report.log.push("the job files wait for no image".into());
                    Ok(report)
                }
            };
        }
        if !proposal.builds_same_as(&workspace, commit)? {
            report.verdict = "ignored".into();
            report.log.push(format!(
                "{branch} changed a build context after {}: its build is the one to wait for",
                short(commit)
            ));
            return Ok(report);
        }
        if !succeeded {
            let text = format!(
                "The image build of {} ended `{}`, so nothing was deployed: the job keeps its \
                 current image. A fix merged to `{branch}` builds again.",
                short(commit),
                crate::markdown::escape(outcome)
            );
            if let Some(number) = change_request {
                say_once(forge, number, &not_deployed_marker(commit), &text).await?;
            }
            runner.log(&format!("image build of {commit} ended {outcome}: nothing deployed"));
            report.verdict = "image-build-failed".into();
            report.log.push(format!("the image build ended {outcome}: nothing deployed"));
            return Ok(report);
        }
        let access = registry_access(forge, settings);
        for image in &awaited {
            let reference = format!("{}:{commit}", image.repository);
            match registry::manifest_exists(&reference, &access).await? {
                Presence::Found { digest } => runner.log(&format!(
                    "{reference} is in the registry{}",
                    digest.map(|d| format!(" ({d})")).unwrap_or_default()
                )),
                Presence::Missing => {
                    let text = format!(
                        "The image build of {} succeeded, but `{reference}` is not in the \
                         registry, so nothing was deployed. Is the workflow pushing where the \
                         job file pulls from?",
                        short(commit)
                    );
                    if let Some(number) = change_request {
                        say_once(forge, number, &not_deployed_marker(commit), &text).await?;
                    }
                    report.verdict = "image-missing".into();
                    report
                        .log
                        .push(format!("{reference} is not in the registry: nothing deployed"));
                    return Ok(report);
                }
            }
        }
        let (files, services) = pinned_files(&workspace, &awaited, commit)?;
        let message = format!(
            "nomad-spec: deploy {} {commit}\n\nThe image build of {commit} pushed {}; the job \
             files now pin it.\n",
            services.join(", "),
            awaited
                .iter()
                .map(|a| format!("{}:{commit}", a.repository))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let identity = super::commit_identity(bot);
        let Some(pin) = workspace.commit_files(&files, &message, &identity)? else {
            anyhow::bail!("the job files name none of the images to pin");
        };
        match workspace.push(&branch)? {
            PushOutcome::Pushed { commit: pushed } => {
                runner.log(&format!("pushed {pushed} to {branch}"));
                report.commits.push(pushed);
                let deployed = match change_request {
                    Some(number) => {
                        deploy_merge(forge, runner, bot, settings, repository, number, commit)
                            .await?
                    }
                    None => {
                        let changed: Vec<String> = files.into_iter().map(|(p, _)| p).collect();
                        super::push::deploy_pushed(
                            forge, runner, bot, settings, repository, &pin, &changed,
                        )
                        .await?
                    }
                };
                report.commits.extend(deployed.commits);
                report.log.extend(deployed.log);
                report.job_id = deployed.job_id;
                report.spec_path = deployed.spec_path;
                report.verdict = deployed.verdict;
                return Ok(report);
            }
            PushOutcome::NonFastForward => {
                runner.log(&format!("{branch} moved while I was pinning the images; again"));
                workspace.sync_to(&branch)?;
            }
            PushOutcome::Rejected { message: why, .. } => {
                return Err(super::failure::UserError::of(anyhow::anyhow!(
                    "the push pinning {} to {branch} was rejected: {why}",
                    short(commit)
                )));
            }
        }
    }
    anyhow::bail!("{branch} kept moving: gave up pinning the images of {}", short(commit))
}

/// Every job file of the checkout with `awaited` images pinned to `commit`, and the services
/// that changed.
fn pinned_files(
    workspace: &Workspace,
    awaited: &[Awaited],
    commit: &str,
) -> anyhow::Result<(Vec<FileToCommit>, Vec<String>)> {
    let mut files = Vec::new();
    let mut services = Vec::new();
    for path in job_files_in(workspace.path()) {
        let text = crate::file::read_text(&workspace.path().join(&path), MAX_SOURCE_BYTES as u64)
            .map_err(|err| anyhow::anyhow!("cannot read {path}: {}", err.reason()))?;
        let mut pinned = text.clone();
        for image in awaited {
            let from = format!("\"{}:{}\"", image.repository, image.pinned);
            let to = format!("\"{}:{commit}\"", image.repository);
            if pinned.contains(&from) {
                pinned = pinned.replace(&from, &to);
                if !services.contains(&image.service) {
                    services.push(image.service.clone());
                }
            }
        }
        if pinned != text {
            files.push((path, pinned));
        }
    }
    Ok((files, services))
}

/// Deploys what change request `number` merged as `merge_sha`, through its conversation.
async fn deploy_merge(
    forge: &Forge,
    runner: &Runner,
    bot: &BotSettings,
    settings: &Settings,
    repository: &Repository,
    number: u64,
    merge_sha: &str,
) -> anyhow::Result<RunReport> {
    let start = super::conversation::Start::MergedByPush {
        number,
        merge_sha: merge_sha.to_string(),
        repository: repository.clone(),
    };
    super::conversation::run(forge, runner, bot, settings, start).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(context: &str, dockerfile: &str) -> BuiltImage {
        BuiltImage {
            service: "web".into(),
            context: context.into(),
            dockerfile: dockerfile.into(),
            target: None,
        }
    }

    #[test]
    fn what_changes_an_image() {
        let root = image(".", "Dockerfile");
        assert!(changes_image("src/main.rs", &root));
        assert!(changes_image("Dockerfile", &root));
        assert!(!changes_image("deploy/shop.nomad.hcl", &root), "a tag bump builds nothing");
        assert!(!changes_image(".github/workflows/nomad-spec-images.yml", &root));
        let sub = image("./api/", "api/Dockerfile");
        assert!(changes_image("api/app.py", &sub));
        assert!(!changes_image("web/index.html", &sub));
        assert!(!changes_image("apiary/x", &sub));
        assert!(changes_image("docker/api.Dockerfile", &image("api", "docker/api.Dockerfile")));
    }

    #[test]
    fn the_pinned_tag_is_read_from_the_job_files() {
        let texts = vec![
            "image = \"ghcr.io/acme/shop/webapp:1\"\n".to_string(),
            "image = \"ghcr.io/acme/shop/web:0123abcd\"\n".to_string(),
        ];
        assert_eq!(pinned_tag(&texts, "ghcr.io/acme/shop/web").as_deref(), Some("0123abcd"));
        assert_eq!(pinned_tag(&texts, "ghcr.io/acme/shop/api"), None);
        let odd = vec!["image = \"ghcr.io/acme/shop/web:${var.tag}\"".to_string()];
        assert_eq!(pinned_tag(&odd, "ghcr.io/acme/shop/web"), None);
    }

    #[test]
    fn registry_paths() {
        let repository =
            Repository { full_name: "Acme/Shop".into(), default_branch: "main".into() };
        let settings = Settings::from_vars(Vec::<(String, String)>::new());
        assert_eq!(registry_path(ForgeKind::GitHub, &repository, &settings), "ghcr.io/acme/shop");
        assert_eq!(
            registry_path(ForgeKind::GitLab, &repository, &settings),
            "registry.gitlab.com/acme/shop"
        );
        let settings =
            Settings::from_vars([("CI_REGISTRY_IMAGE", "registry.example.com/acme/shop")]);
        assert_eq!(
            registry_path(ForgeKind::GitLab, &repository, &settings),
            "registry.example.com/acme/shop"
        );
        assert_eq!(image_part("Web App"), "web-app");
    }
}
