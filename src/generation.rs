//! One preparation of a generation, for `nomad-spec generate` and for the bot alike: the
//! repository's analysis and configuration, the cluster's context added to it (Consul's
//! conventions and the services the analysis depends on, the cluster's Nomad version, Vault's
//! secret paths for answer suggestions), and the notes of what was used and what was skipped.
//!
//! Both build and render from a [`Prepared`], so the command line and a pull request make the
//! same job file from the same repository and answers. Every service is optional (DESIGN.md
//! decision 4): one that is not configured or does not answer is a note, never a failure. The
//! services are asked at the same time under one deadline (`NOMAD_SPEC_PROBE_DEADLINE`), so a
//! silent one costs that deadline once however many there are. This file owns how the asks
//! are made and how suggestions meet a person's answers; what each service says is `infra`'s.
//! Memory's answers ([`Prepared::remembered`]) come under a person's the same way, each
//! recorded as a decision with its reason ([`record_remembered`]). With an LLM configured, its
//! review of the rules' jobs ([`Prepared::refine`], the `refine` task) comes after the build:
//! each change the guardrails accept is made and recorded as a decision; the review is shown
//! the jobs memory kept as healthy for the same stacks ([`Prepared::with_examples`]).

use crate::analyze::Analysis;
use crate::http::ProbeDeadline;
use crate::infra::vault::SecretListing;
use crate::jobspec::answers::{Answers, Question};
use crate::jobspec::build::{self, BuildError, Decision, Generated, GeneratedFile};
use crate::jobspec::config::Config;
use crate::llm::Client;
use crate::memory::learn::{self, Remembered};
use crate::memory::{GoodJob, Memory};
use crate::settings::Settings;
use tracing::Instrument as _;

/// Adds memory's answers to a build's record: a decision for each (the reason cites the answers
/// or the episode it comes from), and the questions memory answered, kept with its default.
pub fn record_remembered(
    generated: &mut Generated,
    remembered: &[Remembered],
    questions: &[Question],
) {
    generated.decisions.extend(remembered.iter().map(|item| Decision {
        subject: item.key.clone(),
        choice: item.value.clone(),
        reason: item.reason.clone(),
    }));
    for question in questions {
        if !generated.unanswered.iter().any(|q| q.key == question.key) {
            generated.unanswered.push(question.clone());
        }
    }
}

/// The LLM's review of `generated`'s jobs (the `refine` task), when `llm` is given, shown
/// `examples` (jobs memory kept as healthy for the same stacks): each change the guardrails
/// accept is made in its job and recorded as a decision whose reason ends `(LLM, refine@N)`,
/// the prompt it came from; a refused change leaves the others standing. Returns the notes:
/// what was refused or skipped, for the log (`--verbose`, the trace).
pub async fn refine_jobs(
    generated: &mut Generated,
    analysis: &Analysis,
    examples: &[GoodJob],
    llm: Option<&Client>,
) -> Vec<String> {
    let Some(llm) = llm else { return Vec::new() };
    let review = review_jobs(generated, analysis, examples, llm);
    review.instrument(crate::telemetry::stage("refine")).await
}

async fn review_jobs(
    generated: &mut Generated,
    analysis: &Analysis,
    examples: &[GoodJob],
    llm: &Client,
) -> Vec<String> {
    let mut notes = Vec::new();
    for job in &mut generated.jobs {
        let advice = crate::llm::tasks::refine(Some(llm), analysis, &job.spec, examples).await;
        notes.extend(advice.notes);
        let Some(patched) = advice.value else { continue };
        let prompt = advice.prompt.unwrap_or_else(|| "refine".into());
        job.spec = patched.spec;
        generated.decisions.extend(patched.made.into_iter().map(|made| {
            let why = if made.reason.is_empty() { "proposed by the LLM" } else { &made.reason };
            Decision {
                subject: made.subject,
                choice: made.value,
                reason: format!("{why} (LLM, {prompt})"),
            }
        }));
    }
    notes
}

/// The inputs of a generation, with the cluster's context.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// What the repository holds.
    pub analysis: Analysis,
    /// `.nomad-spec.toml` (or the given file), filled from Consul's conventions and catalog
    /// where it says nothing, with the cluster's Nomad version unless it names one.
    pub config: Config,
    /// The repository's short name, which names the default job and the file's header.
    pub repository: String,
    /// The secret paths Vault has (metadata only), when it could list them.
    secret_paths: Option<SecretListing>,
    /// What the cluster added and what was skipped, for the person (stderr, the run's log).
    pub notes: Vec<String>,
    /// Memory whose answers every build takes under a person's (the bot's; the command line
    /// asks [`Prepared::remembered`] itself), with the cluster it files entries under.
    memory: Option<(std::sync::Arc<Memory>, String)>,
    /// Jobs memory kept as healthy for the analysis' stacks, shown to the LLM's review.
    examples: Vec<GoodJob>,
}

/// Asks the cluster for what a generation of `analysis` needs, all at once and within the
/// probing deadline: Consul's conventions and the services it depends on, the Nomad version
/// (unless `config` names one), Vault's secret paths (of the mount the file names, which the
/// conventions do not change).
pub async fn prepare(
    analysis: Analysis,
    mut config: Config,
    repository: String,
    settings: &Settings,
) -> Prepared {
    let mut notes = Vec::new();
    let deadline = match settings.calls() {
        Ok(calls) => calls.probe_deadline,
        Err(err) => {
            notes.push(format!("{err}: the default probing deadline is used"));
            crate::settings::CallSettings::default().probe_deadline
        }
    };
    let deadline = ProbeDeadline::after(deadline);
    let ask_nomad = config.nomad_version.is_none();
    let file = config.clone();
    let consul =
        deadline.run("Consul", crate::infra::consul::enrich(&mut config, &analysis, settings));
    let nomad = async {
        if !ask_nomad {
            return None;
        }
        Some(deadline.run("Nomad", crate::infra::nomad_version::learn(settings)).await)
    };
    let vault = deadline.run("Vault", crate::infra::vault::enrich::secret_paths(&file, settings));
    let (consul, nomad, vault) = tokio::join!(consul, nomad, vault);
    notes.extend(consul.unwrap_or_else(|why| vec![why]));
    match nomad {
        Some(Ok((version, note))) => {
            config.nomad_version = version;
            notes.push(note);
        }
        Some(Err(why)) => notes.push(format!("{why}: {}", crate::infra::nomad_version::NEWEST)),
        None => {}
    }
    let secret_paths = match vault {
        Ok((secret_paths, vault_notes)) => {
            notes.extend(vault_notes);
            secret_paths
        }
        Err(why) => {
            notes.push(why);
            None
        }
    };
    Prepared {
        analysis,
        config,
        repository,
        secret_paths,
        notes,
        memory: None,
        examples: Vec::new(),
    }
}

impl Prepared {
    /// The answers a build uses: `given` (a person's, which always win) with the secrets the
    /// conventions and Vault's paths point at confidently; and what was suggested, in words.
    pub fn answers(&self, given: &Answers) -> (Answers, Vec<String>) {
        let mut answers = given.clone();
        // Vault paths are patterns over the job's name, which an answer may have changed.
        let app_name = given.job.clone().unwrap_or_else(|| self.repository.clone());
        let notes = crate::infra::vault::enrich::suggest_answers(
            &self.analysis,
            &app_name,
            &self.config,
            self.secret_paths.as_ref(),
            &mut answers,
        );
        (answers, notes)
    }

    /// Every build takes memory's answers under a person's, each a decision citing its
    /// reason, and the questions memory answered stay asked with memory's default.
    pub fn with_memory(&mut self, memory: std::sync::Arc<Memory>, cluster: &str) {
        self.with_examples(&memory);
        self.memory = Some((memory, cluster.to_string()));
    }

    /// The LLM's review is shown the healthy jobs `recalled` holds (what
    /// `memory::learn::example_recall` asked for) as examples of what ran on this cluster.
    pub fn with_examples(&mut self, recalled: &Memory) {
        self.examples = recalled.good_jobs.clone();
    }

    /// The jobs `given` builds, with the suggested answers (and memory's, when
    /// [`Prepared::with_memory`] gave it) under it.
    pub fn build(&self, given: &Answers) -> Result<Generated, BuildError> {
        let Some((memory, cluster)) = &self.memory else {
            let (answers, _) = self.answers(given);
            return build::build(&self.analysis, &answers, &self.config, &self.repository);
        };
        let (remembered, questions) = self.remembered(memory, cluster, given);
        let mut with_memory = given.clone();
        // An answer the grammar refuses is left out, and its question stays open.
        let remembered: Vec<Remembered> = remembered
            .into_iter()
            .filter(|item| learn::apply(std::slice::from_ref(item), &mut with_memory).is_empty())
            .collect();
        let (answers, _) = self.answers(&with_memory);
        let mut generated = build::build(&self.analysis, &answers, &self.config, &self.repository)?;
        record_remembered(&mut generated, &remembered, &questions);
        Ok(generated)
    }

    /// The LLM's review of the jobs `generated` holds ([`refine_jobs`]), unless
    /// `NOMAD_SPEC_LLM_REFINE` turns it off; the notes for the log.
    pub async fn refine(
        &self,
        generated: &mut Generated,
        llm: Option<&Client>,
        settings: &Settings,
    ) -> Vec<String> {
        match settings.llm_refine() {
            Ok(true) => refine_jobs(generated, &self.analysis, &self.examples, llm).await,
            Ok(false) => Vec::new(),
            Err(err) => vec![format!("{err}: the LLM does not review the jobs")],
        }
    }

    /// The job files of `generated`, rendered with this repository's conventions and header.
    pub fn render(&self, generated: &Generated) -> anyhow::Result<Vec<GeneratedFile>> {
        build::render_files(generated, &self.config, &self.repository)
    }

    /// The questions a build with no answer of a person's leaves open, and the primary job
    /// file's path; with the build's error when no job can be built yet. Their numbers stay
    /// stable while the person answers, since no answer of theirs changes them.
    pub fn questions_and_path(&self) -> (Vec<Question>, String, Option<BuildError>) {
        let fallback = self
            .config
            .output
            .as_deref()
            .unwrap_or(crate::jobspec::config::DEFAULT_OUTPUT)
            .replace("{job}", &self.repository);
        match self.build(&Answers::default()) {
            Ok(generated) => {
                let path = generated.jobs.first().map(|j| j.path.clone()).unwrap_or(fallback);
                (generated.unanswered, path, None)
            }
            Err(err) => (Vec::new(), fallback, Some(err)),
        }
    }

    /// What memory answers for a build with `answers`: each question nobody answered that
    /// people answered before (never a secret's), and the memory a service's stack was taught
    /// (`memory::learn::remembered_answers`); with those questions as they stay asked, their
    /// default now memory's, so that a person still sees them and may answer otherwise.
    pub fn remembered(
        &self,
        memory: &Memory,
        cluster: &str,
        answers: &Answers,
    ) -> (Vec<Remembered>, Vec<Question>) {
        let Ok(generated) = build::build(&self.analysis, answers, &self.config, &self.repository)
        else {
            return (Vec::new(), Vec::new());
        };
        let remembered = learn::remembered_answers(
            memory,
            &self.analysis,
            &generated.unanswered,
            answers,
            cluster,
        );
        let questions = remembered
            .iter()
            .filter_map(|item| {
                let asked = generated.unanswered.iter().find(|q| q.key == item.key)?;
                Some(Question {
                    default: item.value.clone(),
                    reason: item.reason.clone(),
                    needs_answer: false,
                    ..asked.clone()
                })
            })
            .collect();
        (remembered, questions)
    }

    /// The preparation without the cluster (`ci --dry-run`, which calls nothing): the
    /// repository's own configuration and no suggestions.
    pub fn offline(analysis: Analysis, config: Config, repository: String) -> Prepared {
        Prepared {
            analysis,
            config,
            repository,
            secret_paths: None,
            notes: Vec::new(),
            memory: None,
            examples: Vec::new(),
        }
    }
}
