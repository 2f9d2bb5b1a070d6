//! Building `JobSpec`s from an analysis, a person's answers and the repository's conventions.
//!
//! Every choice is recorded as a `Decision` with a reason a person can read, and every place
//! where an answer could have decided instead is recorded as a `Question` with the default
//! used, so that the same function serves the terminal (`generate`), the PR conversation and a
//! plain `--no-questions` run. Nothing here reads files or talks to anything.
//!
//! The shape of what comes out:
//! - one job for the application (every deployed service that is not a backing service), and
//!   one job per backing service a person chose to deploy (databases, caches and queues keep
//!   their data and their own release pace);
//! - one group per service (each scales on its own), one Docker task per group;
//! - named ports, dynamic unless a static one is asked for (`to` = the container port); the
//!   group network is `bridge`, or `host` when a static port is below 1024;
//! - one service per port with a check that fits the protocol;
//! - secrets read from Vault KV v2 through a template, never written into the job;
//! - the services a service depends on found through service discovery (a template), or at a
//!   fixed endpoint a person gives.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::answers::{Answers, Question, ServiceAnswers};
use super::config::{Config, ServiceProvider};
use super::features::Feature;
use super::render::{Origin, RenderOptions};
use super::{
    Check, Constraint, JobSpec, Network, Port, Resources, RestartPolicy, Service, Task, TaskGroup,
    UpdateStrategy, SECOND,
};
use crate::analyze::{self, Analysis, HealthKind, Protocol, Role, Source};

/// The job `meta` key naming the repository a generated job comes from (its short name, the
/// one that names the default job). `nomad-spec drift` finds the jobs on the cluster that came
/// from a repository by it, to tell which of them no job file describes any more.
pub const REPOSITORY_META: &str = "nomad_spec_repository";

/// What `build` produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// The jobs, application first.
    pub jobs: Vec<GeneratedJob>,
    /// Why each choice was made, in order.
    pub decisions: Vec<Decision>,
    /// Questions nobody answered: their defaults were used.
    pub unanswered: Vec<Question>,
    /// Files of the repository the jobs deliver, with where they came from.
    pub delivered: Vec<Delivered>,
    /// How each service reaches the others, with where the reference is written.
    pub wiring: Vec<Wire>,
}

/// One job and where it goes.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedJob {
    /// The job.
    pub spec: JobSpec,
    /// Output path relative to the repository (`deploy/shop.nomad.hcl`).
    pub path: String,
    /// Where its ports and templates came from, for the job file's comments.
    pub origins: Vec<Origin>,
}

/// One choice the builder made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// What it is about (`web`, `web port http`, `job`).
    pub subject: String,
    /// What was chosen.
    pub choice: String,
    /// Why.
    pub reason: String,
}

/// Why no job could be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// Nothing to deploy.
    #[error("{0}")]
    NothingToDeploy(String),
    /// An answer names a service the analysis does not have.
    #[error(
        "the answers name service `{service}`, which is not in this repository (services: {known})"
    )]
    UnknownService {
        /// The name in the answers.
        service: String,
        /// The services found.
        known: String,
    },
    /// An answer does not fit the service it is about.
    #[error("{0}")]
    BadAnswer(String),
}

/// The render options the configuration implies (Terraform variables).
pub fn render_options(config: &Config) -> RenderOptions {
    RenderOptions {
        terraform_variables: config
            .terraform
            .iter()
            .map(|terraform| terraform.datacenters_variable.clone())
            .collect(),
        generated_from: None,
        origins: Vec::new(),
    }
}

/// One rendered job file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Path relative to the repository (`deploy/shop.nomad.hcl`).
    pub path: String,
    /// The file's text, header included.
    pub text: String,
}

/// Renders built jobs as files, each with a header naming the `repository` they come from.
pub fn render_files(
    generated: &Generated,
    config: &Config,
    repository: &str,
) -> anyhow::Result<Vec<GeneratedFile>> {
    let mut files = Vec::new();
    for job in &generated.jobs {
        let mut options = render_options(config);
        options.generated_from = Some(format!("the repository `{repository}`"));
        options.origins = job.origins.clone();
        let text = super::render::render_job(&job.spec, &options)
            .with_context(|| format!("cannot render {}", job.path))?;
        files.push(GeneratedFile { path: job.path.clone(), text });
    }
    Ok(files)
}

/// Builds the jobs for `analysis`; `repository` names the default job (the folder name).
pub fn build(
    analysis: &Analysis,
    answers: &Answers,
    config: &Config,
    repository: &str,
) -> Result<Generated, BuildError> {
    let mut builder = Builder {
        answers,
        config,
        repository,
        decisions: Vec::new(),
        unanswered: Vec::new(),
        static_needs: BTreeMap::new(),
        delivered: Vec::new(),
        wiring: Vec::new(),
    };
    builder.check_answers(analysis)?;
    let job_name = builder.job_name(repository);
    let deployed = builder.select(analysis)?;
    let names = GroupNames::new(analysis, &job_name);
    builder.static_needs = static_needs(&deployed);

    let (backing, apps): (Vec<&analyze::Service>, Vec<&analyze::Service>) =
        deployed.iter().partition(|service| service.role.is_backing());
    let job_settings = builder.job_settings();
    let mut jobs = Vec::new();
    if !apps.is_empty() {
        jobs.push(builder.job(&job_name, &apps, analysis, &names, &deployed, &job_settings)?);
    }
    for service in backing {
        let name = format!("{job_name}-{}", names.group(&service.name));
        builder.decide(
            &service.name,
            format!("its own job `{name}`"),
            "a backing service keeps data and has its own release pace, so deploying the \
             application never restarts it",
        );
        jobs.push(builder.job(&name, &[service], analysis, &names, &deployed, &job_settings)?);
    }
    for var in answers.secrets.keys() {
        let read = deployed.iter().any(|service| service.env.iter().any(|v| &v.name == var));
        if !read {
            builder.decide(
                &format!("secret {var}"),
                "unused",
                "answered, but no deployed service reads this variable",
            );
        }
    }
    let mut seen = BTreeSet::new();
    builder.unanswered.retain(|question| seen.insert(question.key.clone()));
    Ok(Generated {
        jobs,
        decisions: builder.decisions,
        unanswered: builder.unanswered,
        delivered: builder.delivered,
        wiring: builder.wiring,
    })
}

struct Builder<'a> {
    answers: &'a Answers,
    config: &'a Config,
    /// The repository's short name, written into every job's meta.
    repository: &'a str,
    decisions: Vec<Decision>,
    unanswered: Vec<Question>,
    /// Container ports a deployed service must bind statically, because another service
    /// dials it at a host variable with no port variable: service → port → why.
    static_needs: BTreeMap<String, BTreeMap<u16, String>>,
    /// Files the jobs deliver.
    delivered: Vec<Delivered>,
    /// How services reach each other.
    wiring: Vec<Wire>,
}

/// The static ports the deployed services need (see [`Builder::static_needs`]).
fn static_needs(deployed: &[&analyze::Service]) -> BTreeMap<String, BTreeMap<u16, String>> {
    let mut needs: BTreeMap<String, BTreeMap<u16, String>> = BTreeMap::new();
    for service in deployed {
        for var in service.env.iter().filter(|v| !v.secret && v.origin != analyze::EnvOrigin::Image)
        {
            let Some(value) = &var.default else { continue };
            let is_address = environment::is_address_name(&var.name);
            for target in deployed.iter().filter(|t| t.name != service.name) {
                let mention = environment::target_mention(value, is_address, target);
                let Some((_, (_, _, None))) = mention else { continue };
                if environment::has_sibling_port(&var.name, service) || value.contains("://") {
                    continue;
                }
                let Some(port) = target.ports.first() else { continue };
                let why = format!(
                    "{}'s {} names it without a port and the code reads no port variable",
                    service.name, var.name
                );
                needs.entry(target.name.clone()).or_default().insert(port.container, why);
            }
        }
    }
    needs
}

/// Job-wide settings resolved once.
struct JobSettings {
    datacenters: Vec<String>,
    namespace: Option<String>,
    node_pool: Option<String>,
    constraints: Option<Vec<Constraint>>,
}

/// Group and service names: Nomad names derived from the analysis names.
struct GroupNames {
    job: String,
    groups: BTreeMap<String, String>,
}

impl GroupNames {
    fn new(analysis: &Analysis, job: &str) -> Self {
        let mut groups = BTreeMap::new();
        let mut used = BTreeSet::new();
        for service in &analysis.services {
            let base = nomad_name(&service.name);
            let mut name = base.clone();
            let mut n = 2;
            while !used.insert(name.clone()) {
                name = format!("{base}-{n}");
                n += 1;
            }
            groups.insert(service.name.clone(), name);
        }
        GroupNames { job: job.to_string(), groups }
    }

    fn group(&self, service: &str) -> String {
        self.groups.get(service).cloned().unwrap_or_else(|| nomad_name(service))
    }

    /// The registered service name of a service's port (`shop-api`, `shop-api-admin`):
    /// lowercase letters, digits and dashes, at most 63 characters (RFC 1123, as Nomad and
    /// Consul require), a hash keeping long ones apart.
    fn service(&self, service: &str, label: Option<&str>) -> String {
        // A single-service repository names its job and its group alike: `shop`, not
        // `shop-shop`.
        let group = self.group(service);
        let mut full = if group == self.job { group } else { format!("{}-{}", self.job, group) };
        if let Some(label) = label {
            full = format!("{full}-{label}");
        }
        let name = sanitize(&full);
        if name.len() <= 63 {
            return name;
        }
        let digest: String =
            Sha256::digest(full.as_bytes()).iter().take(4).map(|b| format!("{b:02x}")).collect();
        format!("{}-{digest}", name[..54].trim_end_matches('-'))
    }
}

/// A group or task name: lowercase letters, digits and dashes, at most 50 characters.
fn nomad_name(name: &str) -> String {
    let name = sanitize(name);
    let name: String = name.chars().take(50).collect();
    name.trim_end_matches('-').to_string()
}

/// Lowercase ASCII letters, digits and single dashes, never empty.
fn sanitize(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-');
    if out.is_empty() {
        "app".to_string()
    } else {
        out.to_string()
    }
}

/// A port as the job names it.
struct NamedPort<'a> {
    label: String,
    port: &'a analyze::Port,
    host: Option<u16>,
}

impl<'a> Builder<'a> {
    fn decide(&mut self, subject: &str, choice: impl Into<String>, reason: impl Into<String>) {
        self.decisions.push(Decision {
            subject: subject.to_string(),
            choice: choice.into(),
            reason: reason.into(),
        });
    }

    fn ask(&mut self, key: String, prompt: String, default: String, reason: String, needs: bool) {
        self.unanswered.push(Question { key, prompt, default, reason, needs_answer: needs });
    }

    fn service_answers(&self, service: &str) -> ServiceAnswers {
        self.answers.for_service(service).cloned().unwrap_or_default()
    }

    fn check_answers(&self, analysis: &Analysis) -> Result<(), BuildError> {
        let known: Vec<&str> = analysis.services.iter().map(|s| s.name.as_str()).collect();
        for (service, service_answers) in &self.answers.services {
            if !known.contains(&service.as_str()) {
                return Err(BuildError::UnknownService {
                    service: service.clone(),
                    known: known.join(", "),
                });
            }
            let found = analysis.services.iter().find(|s| &s.name == service);
            let secret = found.and_then(|found| {
                found
                    .env
                    .iter()
                    .find(|var| var.secret && service_answers.env.contains_key(&var.name))
            });
            if let Some(var) = secret {
                // Secret values never go into a job file; Vault holds them.
                return Err(BuildError::BadAnswer(format!(
                    "env.{service}.{name}: {name} holds a secret, so its value is not written into \
                     the job; answer secret.{name}=PATH#KEY (Vault KV v2) instead",
                    name = var.name
                )));
            }
            if let Some(class) = &service_answers.class {
                if !self.config.classes.contains_key(class) {
                    return Err(BuildError::BadAnswer(format!(
                        "class.{service}={class}: .nomad-spec.toml has no [classes.{class}]"
                    )));
                }
            }
        }
        Ok(())
    }

    fn job_name(&mut self, repository: &str) -> String {
        let base = match &self.answers.job {
            Some(job) => job.clone(),
            None => {
                let name = nomad_name(repository);
                self.ask(
                    "job".into(),
                    "Job name?".into(),
                    name.clone(),
                    "the repository's folder name, in the letters Nomad accepts".into(),
                    false,
                );
                name
            }
        };
        let name = format!("{}{base}", self.config.job_prefix.as_deref().unwrap_or_default());
        if self.config.job_prefix.is_some() {
            self.decide("job", format!("name `{name}`"), "`job_prefix` of .nomad-spec.toml");
        }
        name
    }

    /// The services to deploy: answers first, then everything but backing services.
    fn select<'b>(
        &mut self,
        analysis: &'b Analysis,
    ) -> Result<Vec<&'b analyze::Service>, BuildError> {
        let mut deployed = Vec::new();
        // A repository that holds nothing but backing services (a database stack, say) is
        // there to deploy them: nothing else would point at them.
        let only_backing = analysis.services.iter().all(|s| s.role.is_backing());
        for service in &analysis.services {
            let answer = self.answers.for_service(&service.name).and_then(|a| a.deploy);
            let deploy = match answer {
                Some(deploy) => {
                    let choice = if deploy { "deployed" } else { "not deployed" };
                    self.decide(&service.name, choice, "answered");
                    deploy
                }
                None if service.role.is_backing()
                    && self.config.cluster.services.contains_key(&service.name) =>
                {
                    let found = &self.config.cluster.services[&service.name];
                    self.decide(
                        &service.name,
                        format!("not deployed: Consul service `{}`", found.name),
                        format!(
                            "found in Consul's catalog ({} of {} instances passing); the \
                             application looks it up there (answer deploy.{}=true to deploy it)",
                            found.passing, found.instances, service.name
                        ),
                    );
                    if found.passing == 0 {
                        self.decide(
                            &service.name,
                            "unhealthy in Consul",
                            "no instance passes its checks: the application will not reach it \
                             until one does",
                        );
                    }
                    false
                }
                None if !service.profiles.is_empty() => {
                    let profiles = service.profiles.join(", ");
                    self.ask(
                        format!("deploy.{}", service.name),
                        format!("Deploy {} (compose profile {profiles})?", service.name),
                        "false".into(),
                        "compose starts it only when its profile is asked for".into(),
                        false,
                    );
                    self.decide(
                        &service.name,
                        "not deployed",
                        format!(
                            "it belongs to the compose profile {profiles}, an optional part \
                             `docker compose up` leaves out (answer deploy.{}=true to deploy it)",
                            service.name
                        ),
                    );
                    false
                }
                None if service.role.is_backing() && only_backing => {
                    self.ask(
                        format!("deploy.{}", service.name),
                        format!("Deploy {} ({})?", service.name, role_name(service.role)),
                        "true".into(),
                        "the repository runs nothing but backing services".into(),
                        false,
                    );
                    self.decide(
                        &service.name,
                        "deployed",
                        format!(
                            "a {}, and the repository has no application that would use an \
                             existing one instead: it is what there is to deploy",
                            role_name(service.role)
                        ),
                    );
                    true
                }
                None if service.role.is_backing() => {
                    self.ask(
                        format!("deploy.{}", service.name),
                        format!(
                            "Deploy {} ({}) with the application? Otherwise it is looked up as \
                             an existing service.",
                            service.name,
                            role_name(service.role)
                        ),
                        "false".into(),
                        "backing services usually already run elsewhere (a managed database, \
                         a shared cache)"
                            .into(),
                        false,
                    );
                    self.decide(
                        &service.name,
                        "not deployed",
                        format!(
                            "a {} is a backing service: the application is pointed at an \
                             existing one (answer deploy.{}=true to deploy it)",
                            role_name(service.role),
                            service.name
                        ),
                    );
                    false
                }
                None => true,
            };
            if deploy {
                deployed.push(service);
            }
        }
        if deployed.is_empty() {
            let message = if analysis.services.is_empty() {
                "no deployable service found: no Dockerfile, compose file or descriptor names a \
                 service"
                    .to_string()
            } else {
                let names: Vec<&str> = analysis.services.iter().map(|s| s.name.as_str()).collect();
                format!(
                    "no service selected for deployment (found: {}); backing services need \
                     deploy.SERVICE=true",
                    names.join(", ")
                )
            };
            return Err(BuildError::NothingToDeploy(message));
        }
        Ok(deployed)
    }

    fn job_settings(&mut self) -> JobSettings {
        match (self.config.service_provider, &self.config.fabio) {
            (None, Some(_)) => self.decide(
                "job",
                "services registered in Consul",
                "[fabio] is configured and Fabio reads its routes from Consul's catalog",
            ),
            (Some(ServiceProvider::Nomad), Some(_)) => self.decide(
                "job",
                "services registered in Nomad",
                "service_provider = \"nomad\" of .nomad-spec.toml; note that Fabio reads routes \
                 from Consul, so it will not see the route tags",
            ),
            _ => {}
        }
        let datacenters = if let Some(terraform) = &self.config.terraform {
            let variable = terraform.datacenters_variable.clone();
            self.decide(
                "job",
                format!("datacenters = [\"${{{variable}}}\"]"),
                "[terraform] in .nomad-spec.toml: the file is a Terraform template and the \
                 datacenter comes from its variable",
            );
            vec![format!("${{{variable}}}")]
        } else if let Some(datacenters) = &self.answers.datacenters {
            datacenters.clone()
        } else {
            let (datacenters, reason) = match &self.config.datacenters {
                Some(list) if self.config.cluster.from_conventions.contains("datacenters") => (
                    list.clone(),
                    "`datacenters` of the team's conventions in Consul (0.8, from conventions)",
                ),
                Some(list) => (list.clone(), "`datacenters` of .nomad-spec.toml"),
                None => (vec!["*".to_string()], "every datacenter, as Nomad does by default"),
            };
            self.ask(
                "datacenters".into(),
                "Datacenters to run in (comma-separated)?".into(),
                datacenters.join(","),
                reason.into(),
                false,
            );
            datacenters
        };
        let namespace = self.answers.namespace.clone().or_else(|| self.config.namespace.clone());
        let mut node_pool =
            self.answers.node_pool.clone().or_else(|| self.config.node_pool.clone());
        let features = self.config.nomad_features();
        if node_pool.is_some() && !features.has(Feature::NodePools) {
            node_pool = None;
            self.decide(
                "job",
                "no node_pool",
                format!("node pools need Nomad 1.6; the cluster runs {}", features.describe()),
            );
        }
        let constraints = self.config.architecture.map(|arch| {
            self.decide(
                "job",
                format!("only on {} nodes", arch.as_str()),
                "`architecture` of .nomad-spec.toml: images are built for it",
            );
            vec![arch.constraint()]
        });
        JobSettings { datacenters, namespace, node_pool, constraints }
    }

    fn job(
        &mut self,
        name: &str,
        services: &[&analyze::Service],
        analysis: &Analysis,
        names: &GroupNames,
        deployed: &[&analyze::Service],
        settings: &JobSettings,
    ) -> Result<GeneratedJob, BuildError> {
        let mut groups = Vec::new();
        for service in services {
            groups.push(self.group(service, analysis, names, deployed)?);
        }
        let spec = JobSpec {
            id: Some(name.to_string()),
            name: Some(name.to_string()),
            r#type: Some("service".into()),
            namespace: settings.namespace.clone(),
            datacenters: Some(settings.datacenters.clone()),
            node_pool: settings.node_pool.clone(),
            constraints: settings.constraints.clone(),
            meta: Some(BTreeMap::from([(
                REPOSITORY_META.to_string(),
                self.repository.to_string(),
            )])),
            task_groups: Some(groups),
            ..Default::default()
        };
        let path = self.config.output_pattern().replace("{job}", name);
        let origins =
            self.origins(spec.task_groups.as_deref().unwrap_or_default(), services, names);
        Ok(GeneratedJob { spec, path, origins })
    }

    fn group(
        &mut self,
        service: &analyze::Service,
        analysis: &Analysis,
        names: &GroupNames,
        deployed: &[&analyze::Service],
    ) -> Result<TaskGroup, BuildError> {
        let answers = self.service_answers(&service.name);
        let group_name = names.group(&service.name);
        if group_name != service.name {
            self.decide(
                &service.name,
                format!("group and task `{group_name}`"),
                "Nomad names here use lowercase letters, digits and dashes",
            );
        }
        let ports = self.ports(service, &answers)?;
        let config = self.docker_config(service, &answers, &ports, names);
        let mut network = self.network(service, &ports);
        let services = self.services(service, &answers, &ports, names);
        let mut task = Task {
            name: group_name.clone(),
            driver: "docker".into(),
            config: Some(config),
            resources: Some(self.resources(service, &answers)),
            kill_signal: service.stop_signal.clone().filter(|s| s != "SIGTERM"),
            ..Default::default()
        };
        if let Some(signal) = &task.kill_signal {
            self.decide(
                &service.name,
                format!("stopped with {signal}"),
                "compose's stop_signal: the process shuts down cleanly on it, not on SIGTERM",
            );
        }
        let mut templates = Vec::new();
        let mut lines = environment::EnvLines::default();
        let secrets = self.secrets(
            service,
            &answers,
            analysis,
            names,
            deployed,
            &mut templates,
            &mut task,
            &mut lines,
        );
        self.environment(service, &answers, &secrets, analysis, names, deployed, &mut lines);
        self.files(service, analysis, names, deployed, &mut task, &mut templates);
        let mut env = lines.plain;
        // A line with nothing to look up (an answered endpoint) is a plain variable.
        let (left, _) = self.config.delimiters();
        let fixed: Vec<String> = lines
            .template
            .iter()
            .filter(|(_, v)| !v.contains(left))
            .map(|(k, _)| k.clone())
            .collect();
        for name in fixed {
            if let Some(value) = lines.template.remove(&name) {
                env.insert(name, value);
            }
        }
        if !lines.template.is_empty() {
            let data: String =
                lines.template.iter().map(|(name, value)| format!("{name}={value}\n")).collect();
            templates.push(self.template(data, "local/endpoints.env"));
        }
        // Secret blocks put their `${secret.*}` references into the task's env already.
        env.extend(task.env.take().unwrap_or_default());
        if !env.is_empty() {
            task.env = Some(env);
        }
        if !templates.is_empty() {
            task.templates = Some(templates);
        }
        let mut tasks = Vec::new();
        let volumes = self.volumes(service, &answers, names, &mut task, &mut tasks);
        self.compose_names(service, lines.dialed, &mut network, &mut task, &mut tasks);
        tasks.push(task);
        let has_checks = services.iter().any(|s| s.checks.as_ref().is_some_and(|c| !c.is_empty()));
        let count = answers.count.unwrap_or(1);
        if answers.count.is_none() && count == 1 {
            self.decide(&service.name, "1 instance", "the default; answer count.SERVICE to scale");
        }
        let mut meta = None;
        if let (Some(port), None) = (answers.route_port, &self.config.fabio) {
            self.decide(
                &service.name,
                format!("route port {port} not used"),
                "no router convention is configured ([fabio] in .nomad-spec.toml)",
            );
        }
        if let (Some(hostname), None) = (&answers.hostname, &self.config.fabio) {
            self.decide(
                &service.name,
                format!("public hostname {hostname} recorded in group meta"),
                "no router convention is configured ([fabio] in .nomad-spec.toml), so nothing \
                 routes it yet",
            );
            meta = Some(BTreeMap::from([("public_hostname".to_string(), hostname.clone())]));
        }
        Ok(TaskGroup {
            name: group_name,
            count: Some(i64::from(count)),
            networks: network.map(|network| vec![network]),
            services: (!services.is_empty()).then_some(services),
            volumes,
            restart_policy: Some(RestartPolicy {
                attempts: Some(2),
                interval: Some(30 * 60 * SECOND),
                delay: Some(15 * SECOND),
                mode: Some("fail".into()),
            }),
            update: Some(self.update(service, has_checks)),
            meta,
            tasks,
            ..Default::default()
        })
    }

    fn ports<'s>(
        &mut self,
        service: &'s analyze::Service,
        answers: &ServiceAnswers,
    ) -> Result<Vec<NamedPort<'s>>, BuildError> {
        if answers.hostname.is_some() && answers.route_port.is_some() {
            return Err(BuildError::BadAnswer(format!(
                "hostname.{0} and route_port.{0}: a service is routed by host name or by a Fabio \
                 TCP port, not both",
                service.name
            )));
        }
        let routed = [
            ("hostname", answers.hostname.is_some()),
            ("route_port", answers.route_port.is_some()),
        ];
        if let Some((key, _)) = routed.iter().find(|(_, set)| *set) {
            if !service.ports.iter().any(|p| p.protocol != Protocol::Udp) {
                return Err(BuildError::BadAnswer(format!(
                    "{key}.{0}: {0} listens on no TCP port, so there is nothing to route to",
                    service.name
                )));
            }
        }
        for container in answers.static_ports.keys() {
            let known = container == "main" && !service.ports.is_empty()
                || service.ports.iter().any(|p| p.container.to_string() == *container);
            if !known {
                let list: Vec<String> =
                    service.ports.iter().map(|p| p.container.to_string()).collect();
                return Err(BuildError::BadAnswer(format!(
                    "static_port.{}.{container}: {} has no such container port (ports: {})",
                    service.name,
                    service.name,
                    if list.is_empty() { "none".to_string() } else { list.join(", ") }
                )));
            }
        }
        let mut named: Vec<NamedPort> = Vec::new();
        let others = service.ports.iter().filter(|p| !p.is_debugger()).count();
        for (index, port) in service.ports.iter().enumerate() {
            let answered = answers.static_ports.contains_key(&port.container.to_string());
            if port.is_debugger() && others > 0 && !answered {
                self.decide(
                    &format!("{} port {}", service.name, port.container),
                    "not exposed",
                    "a debugger listens there by convention: a development setting that a \
                     deployment should not open (answer static_port to keep it)",
                );
                continue;
            }
            let base = match port.protocol {
                Protocol::Http => "http",
                Protocol::Grpc => "grpc",
                Protocol::Tcp => "tcp",
                Protocol::Udp => "udp",
            };
            let label = if named.iter().any(|n| n.label == base) {
                format!("{base}_{}", port.container)
            } else {
                base.to_string()
            };
            let host = answers
                .static_ports
                .get(&port.container.to_string())
                .or_else(|| if index == 0 { answers.static_ports.get("main") } else { None })
                .copied();
            let subject = format!("{} port {label}", service.name);
            let from =
                provenance::from_words(provenance::port_origin(service, port.container).as_deref());
            let needed =
                self.static_needs.get(&service.name).and_then(|n| n.get(&port.container)).cloned();
            // A port clients reach directly (not through a router): UDP, or the TCP port of a
            // published image that is no backing service (a game server, a DNS server).
            let direct = port.published.filter(|_| {
                port.protocol == Protocol::Udp
                    || port.protocol == Protocol::Tcp
                        && service.source == Source::Image
                        && !service.role.is_backing()
            });
            let host = match (host, needed, direct) {
                (Some(host), _, _) => {
                    self.decide(
                        &subject,
                        format!("static host port {host} → container {}", port.container),
                        format!("answered{from}"),
                    );
                    Some(host)
                }
                (None, Some(why), _) => {
                    self.decide(
                        &subject,
                        format!("static host port {0} → container {0}", port.container),
                        format!("{why}; answer static_port to choose another{from}"),
                    );
                    Some(port.container)
                }
                (None, None, Some(published)) => {
                    self.decide(
                        &subject,
                        format!("static host port {published} → container {}", port.container),
                        format!(
                            "compose publishes it and clients reach this {} port directly, not \
                             through a router; only one instance per client node can hold it{from}",
                            if port.protocol == Protocol::Udp { "UDP" } else { "TCP" }
                        ),
                    );
                    Some(published)
                }
                (None, None, None) => {
                    let reason = if port.published.is_some() {
                        "dynamic host port (Nomad picks a free one, so instances never collide); \
                         the repository publishes a fixed one, answer static_port to keep it"
                    } else {
                        "dynamic host port: Nomad picks a free one, so instances never collide"
                    };
                    self.decide(
                        &subject,
                        format!("dynamic → container {}", port.container),
                        format!("{reason}{from}"),
                    );
                    None
                }
            };
            named.push(NamedPort { label, port, host });
        }
        Ok(named)
    }

    fn network(&mut self, service: &analyze::Service, ports: &[NamedPort]) -> Option<Network> {
        if ports.is_empty() {
            self.decide(&service.name, "no network ports", "the analysis found no listening port");
            return None;
        }
        let privileged = ports.iter().any(|p| p.host.is_some_and(|host| host < 1024));
        let mode = if privileged {
            self.decide(
                &service.name,
                "network mode host",
                "a static port below 1024 is asked for: it is bound in host mode, the \
                 convention for edge ports",
            );
            "host"
        } else {
            "bridge"
        };
        let port = |p: &NamedPort, value: Option<u16>| Port {
            label: p.label.clone(),
            value: value.map(i64::from),
            to: Some(i64::from(p.port.container)),
            host_network: None,
        };
        let reserved: Vec<Port> =
            ports.iter().filter(|p| p.host.is_some()).map(|p| port(p, p.host)).collect();
        let dynamic: Vec<Port> =
            ports.iter().filter(|p| p.host.is_none()).map(|p| port(p, None)).collect();
        Some(Network {
            mode: Some(mode.into()),
            reserved_ports: (!reserved.is_empty()).then_some(reserved),
            dynamic_ports: (!dynamic.is_empty()).then_some(dynamic),
        })
    }

    fn services(
        &mut self,
        service: &analyze::Service,
        answers: &ServiceAnswers,
        ports: &[NamedPort],
        names: &GroupNames,
    ) -> Vec<Service> {
        let provider = self.config.provider();
        let health_port = service.health.as_ref().and_then(|h| h.port);
        let facts = service
            .image
            .as_deref()
            .filter(|_| service.source == Source::Image)
            .and_then(analyze::images::facts);
        let known_ports: Option<Vec<u16>> = facts.and_then(|f| {
            let main = f.port?;
            let served = f.other_ports.iter().filter(|o| o.checked).map(|o| o.number);
            Some(std::iter::once(main.number).chain(served).collect())
        });
        let mut out = Vec::new();
        for (index, port) in ports.iter().enumerate() {
            if port.port.protocol == Protocol::Udp {
                self.decide(
                    &format!("{} port {}", service.name, port.label),
                    "not registered as a service",
                    "UDP ports cannot be health-checked by Nomad or Consul",
                );
                continue;
            }
            let main = index == 0;
            let name = names.service(&service.name, (!main).then_some(port.label.as_str()));
            // A published image's facts say where the service listens; its other listeners
            // (MySQL's X protocol, a log input a mounted pipeline may not open) depend on
            // configuration, and a failing check on one would keep the deployment from
            // turning healthy. Other services' ports are each checked.
            let checked = match &known_ports {
                Some(known) => {
                    known.contains(&port.port.container) || health_port == Some(port.port.container)
                }
                None => true,
            };
            let checks = if checked {
                Some(vec![self.check(service, port, main, health_port, ports)])
            } else {
                self.decide(
                    &format!("{} port {}", service.name, port.label),
                    "registered without a check",
                    "the image facts name another port as the service's: this listener depends \
                     on configuration, and the service's check says whether it is up",
                );
                None
            };
            let mut tags = None;
            if main {
                if let (Some(hostname), Some(fabio)) = (&answers.hostname, &self.config.fabio) {
                    let prefix = fabio.tag_prefix.as_deref().unwrap_or("urlprefix-");
                    let route = if hostname.contains('/') {
                        hostname.clone()
                    } else {
                        format!("{hostname}/")
                    };
                    let mut tag = format!("{prefix}{route}");
                    if port.port.protocol == Protocol::Grpc {
                        tag.push_str(" proto=grpc");
                    }
                    self.decide(
                        &service.name,
                        format!("Fabio route `{tag}`"),
                        "public hostname answered; [fabio] routes requests for it to this \
                         service's main port",
                    );
                    tags = Some(vec![tag]);
                } else if let (Some(listener), Some(fabio)) =
                    (answers.route_port, &self.config.fabio)
                {
                    // Fabio's TCP proxy: a listener port of Fabio forwards to this service.
                    let prefix = fabio.tag_prefix.as_deref().unwrap_or("urlprefix-");
                    let tag = format!("{prefix}:{listener} proto=tcp");
                    self.decide(
                        &service.name,
                        format!("Fabio route `{tag}`"),
                        format!(
                            "route port answered; Fabio forwards connections on its port \
                             {listener} to this service (Fabio needs a `proxy.addr` listener \
                             `:{listener};proto=tcp`)"
                        ),
                    );
                    tags = Some(vec![tag]);
                } else if answers.hostname.is_none()
                    && port.port.protocol == Protocol::Http
                    && !service.role.is_backing()
                {
                    let mut reason =
                        "nothing in the repository says the service is public".to_string();
                    // The suffix only suggests a name: making a service public stays a choice.
                    if let Some(suffix) =
                        self.config.fabio.as_ref().and_then(|f| f.hostname_suffix.as_deref())
                    {
                        let origin = if self
                            .config
                            .cluster
                            .from_conventions
                            .contains("fabio.hostname_suffix")
                        {
                            "Consul's conventions"
                        } else {
                            ".nomad-spec.toml"
                        };
                        reason.push_str(&format!(
                            "; if it is, `{}.{}` follows the hostname suffix (0.6, from \
                             conventions: {origin})",
                            service.name,
                            suffix.trim_start_matches('.')
                        ));
                    }
                    self.ask(
                        format!("hostname.{}", service.name),
                        format!("Public hostname of {} (empty: not public)?", service.name),
                        String::new(),
                        reason,
                        false,
                    );
                }
            }
            out.push(Service {
                name,
                port_label: Some(port.label.clone()),
                provider: Some(provider.as_str().into()),
                tags,
                checks,
                ..Default::default()
            });
        }
        out
    }

    fn check(
        &mut self,
        service: &analyze::Service,
        port: &NamedPort,
        main: bool,
        health_port: Option<u16>,
        ports: &[NamedPort],
    ) -> Check {
        let subject = format!("{} port {} check", service.name, port.label);
        let provider = self.config.provider();
        // The analyzer's health check belongs to the main port unless it names another one.
        let health = service.health.as_ref().filter(|_| match health_port {
            Some(container) => container == port.port.container,
            None => main,
        });
        let health_label = |container: u16| {
            ports.iter().find(|p| p.port.container == container).map(|p| p.label.clone())
        };
        let mut check =
            Check { interval: Some(10 * SECOND), timeout: Some(2 * SECOND), ..Default::default() };
        let kind = health.map(|h| h.kind).unwrap_or(match port.port.protocol {
            Protocol::Grpc => HealthKind::Grpc,
            _ => HealthKind::Tcp,
        });
        match (kind, health.and_then(|h| h.path.clone())) {
            (HealthKind::Http, Some(path)) => {
                // Check paths are absolute URL paths; `healthz` means `/healthz`.
                let path = if path.starts_with('/') { path } else { format!("/{path}") };
                check.r#type = "http".into();
                check.path = Some(path.clone());
                self.decide(
                    &subject,
                    format!("http GET {path}"),
                    "the health endpoint the analysis found",
                );
            }
            (HealthKind::Grpc, _) if provider == ServiceProvider::Consul => {
                check.r#type = "grpc".into();
                self.decide(&subject, "grpc health", "a gRPC service, checked by Consul");
            }
            (HealthKind::Grpc, _) => {
                check.r#type = "tcp".into();
                self.decide(
                    &subject,
                    "tcp",
                    "gRPC checks need Consul and the service provider is Nomad \
                     (service_provider = \"consul\" in .nomad-spec.toml enables them)",
                );
            }
            (_, _) => {
                check.r#type = "tcp".into();
                let reason = if port.port.protocol == Protocol::Http {
                    "no health endpoint was found, so only the port is checked"
                } else {
                    "a plain TCP port: the check is that it accepts connections"
                };
                self.decide(&subject, "tcp", reason);
            }
        }
        if let Some(container) = health_port.filter(|_| health.is_some()) {
            check.port_label = health_label(container);
        }
        check
    }

    /// The image a service runs: the answer; for a built service the image the repository
    /// publishes it as, else the configured registry, else `registry.invalid` (never pullable,
    /// so the job fails clearly instead of pulling someone else's image); for a published image
    /// without a version, the stable tag the image facts know, proposed as an answer.
    /// An image of the repository's own that another registry than Docker Hub holds
    /// (`ghcr.io/acme/shop/web`, a company registry): a package of a private repository is
    /// private by default, and pulling it takes credentials on the Nomad side. The job carries
    /// none (they would sit in the job or the container's environment); the decision says
    /// where they go.
    fn pull_credentials(&mut self, service: &analyze::Service, image: &str) {
        if service.source != Source::Build {
            return;
        }
        let Some(host) = analyze::published::registry_host(image) else { return };
        if host == "registry.invalid" || host == "docker.io" {
            return;
        }
        self.decide(
            &service.name,
            format!("pulled from {host}"),
            format!(
                "if the image is private (a private repository's packages are, by default), the \
                 Nomad clients need pull credentials for {host}: the docker plugin's `auth` \
                 setting on each client (`config` naming a docker config.json, or a credential \
                 `helper`); the job carries none, so no credential sits in the job or the \
                 container's environment"
            ),
        );
    }

    fn image_of(
        &mut self,
        service: &analyze::Service,
        answers: &ServiceAnswers,
        names: &GroupNames,
    ) -> String {
        let key = format!("image.{}", service.name);
        if let Some(image) = &answers.image {
            self.decide(&service.name, format!("image {image}"), "answered");
            return image.clone();
        }
        let prompt = format!("Image reference of {} (built from {})?", service.name, service.path);
        if service.source == Source::Image {
            let Some(image) = &service.image else {
                let image =
                    format!("registry.invalid/{}/{}:latest", names.job, names.group(&service.name));
                let reason = "no image was found for the service".to_string();
                self.ask(
                    key,
                    format!("Image reference of {}?", service.name),
                    image.clone(),
                    reason.clone(),
                    true,
                );
                self.decide(&service.name, format!("image {image}"), reason);
                return image;
            };
            let proposal = analyze::images::facts(image).and_then(|facts| {
                let stable = facts.proposed_tag()?;
                Some((
                    format!("{}:{}", analyze::published::without_tag(image), stable.tag),
                    stable.checked.clone(),
                ))
            });
            return match proposal {
                Some((pinned, checked)) => {
                    let reason = format!(
                        "{image} names no version, so every restart may run a different one; \
                         {pinned} is the stable release the image facts know (checked {checked})"
                    );
                    self.ask(
                        key,
                        format!("Image of {} (pin a version)?", service.name),
                        pinned.clone(),
                        reason.clone(),
                        false,
                    );
                    self.decide(&service.name, format!("image {pinned}"), reason);
                    pinned
                }
                None if analyze::images::ImageRef::parse(image)
                    .is_some_and(|r| r.is_unpinned()) =>
                {
                    let reason = format!(
                        "{image} names no version, so every restart may run a different one; \
                         answer image.{} with a version tag",
                        service.name
                    );
                    self.ask(
                        key,
                        format!("Image of {} (pin a version)?", service.name),
                        image.clone(),
                        reason.clone(),
                        false,
                    );
                    self.decide(&service.name, format!("image {image}, not pinned"), reason);
                    image.clone()
                }
                None => {
                    self.decide(
                        &service.name,
                        format!("image {image}"),
                        "the published image the repository runs",
                    );
                    image.clone()
                }
            };
        }
        // Compose's `image:` beside `build:` with a registry is where the build is pushed
        // (the analysis lists it first; an analysis saved without the list still has it).
        let tagged =
            service.image.as_ref().filter(|i| !analyze::published::is_local_name(i)).map(|i| {
                (
                    i.clone(),
                    "the name compose tags the build with; it must be pushed there".to_string(),
                )
            });
        let published = service.published_images.first().map(|p| {
            let at = p.evidence.line.map(|l| format!(":{l}")).unwrap_or_default();
            (
                p.image.clone(),
                format!("the image the repository publishes for it ({}{at})", p.evidence.file),
            )
        });
        if let Some((image, reason)) = published.or(tagged) {
            self.ask(key, prompt, image.clone(), reason.clone(), false);
            self.decide(&service.name, format!("image {image}"), reason);
            return image;
        }
        let local = service.image.as_ref().map(|i| {
            format!(" (compose tags the build `{i}`, a name on the developer's machine that no client can pull)")
        });
        let (image, reason, needs) = match &self.config.registry {
            Some(registry) => (
                format!("{}/{}:latest", registry.trim_end_matches('/'), names.group(&service.name)),
                "`registry` of .nomad-spec.toml; pin a version tag so a rollback means something"
                    .to_string(),
                false,
            ),
            None => (
                format!("registry.invalid/{}/{}:latest", names.job, names.group(&service.name)),
                format!(
                    "the service is built from this repository and nothing says where its image is \
                     pushed{}; `registry.invalid` can never be pulled, so the job fails clearly \
                     instead of pulling someone else's image",
                    local.unwrap_or_default()
                ),
                true,
            ),
        };
        self.ask(key, prompt, image.clone(), reason.clone(), needs);
        self.decide(&service.name, format!("image {image}"), reason);
        image
    }

    fn docker_config(
        &mut self,
        service: &analyze::Service,
        answers: &ServiceAnswers,
        ports: &[NamedPort],
        names: &GroupNames,
    ) -> BTreeMap<String, serde_json::Value> {
        let image = self.image_of(service, answers, names);
        self.pull_credentials(service, &image);
        let mut config = BTreeMap::from([("image".to_string(), serde_json::Value::from(image))]);
        if !ports.is_empty() {
            let labels: Vec<serde_json::Value> =
                ports.iter().map(|p| serde_json::Value::from(p.label.clone())).collect();
            config.insert("ports".into(), serde_json::Value::Array(labels));
        }
        if let Some(command) = &service.command {
            // Compose's `command` replaces the image's CMD and keeps its ENTRYPOINT: `args`.
            let args = command.iter().map(|a| serde_json::Value::from(a.clone())).collect();
            config.insert("args".into(), serde_json::Value::Array(args));
        }
        self.privileges(service, &mut config);
        config
    }

    /// What compose asks of the Docker daemon: capabilities, kernel parameters and a runtime
    /// are carried into the driver configuration (each needs the client's docker plugin to
    /// allow it); what would widen the container's reach over its host (privileged, host
    /// devices, the host's network, process or IPC namespace) is left out and said.
    fn privileges(
        &mut self,
        service: &analyze::Service,
        config: &mut BTreeMap<String, serde_json::Value>,
    ) {
        use serde_json::Value;
        for privilege in &service.privileges {
            let at = format!(
                "{}{}",
                privilege.evidence.file,
                privilege.evidence.line.map(|l| format!(":{l}")).unwrap_or_default()
            );
            let subject = format!("{} {}", service.name, privilege.key);
            match privilege.key.as_str() {
                "cap_add" => {
                    let list = config.entry("cap_add".to_string()).or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(list) = list {
                        list.push(Value::from(privilege.value.to_ascii_lowercase()));
                    }
                    self.decide(
                        &subject,
                        format!("cap_add {}", privilege.value),
                        format!("compose adds it ({at}); the client's docker plugin must list it in allow_caps"),
                    );
                }
                "sysctls" => {
                    let Some((name, value)) = privilege.value.split_once('=') else { continue };
                    // Nomad's docker driver reads `sysctl` as a list of maps.
                    let list = config
                        .entry("sysctl".to_string())
                        .or_insert_with(|| Value::Array(vec![Value::Object(Default::default())]));
                    if let Some(Value::Object(map)) = list.as_array_mut().and_then(|l| l.first_mut()) {
                        map.insert(name.trim().to_string(), Value::from(value.trim()));
                    }
                    self.decide(&subject, format!("sysctl {}", privilege.value), format!("compose sets it ({at})"));
                }
                "runtime" => {
                    config.insert("runtime".into(), Value::from(privilege.value.clone()));
                    self.decide(
                        &subject,
                        format!("runtime {}", privilege.value),
                        format!(
                            "compose runs it with this runtime ({at}); the client's docker plugin \
                             must list it in allow_runtimes, and only clients that have it can run the task"
                        ),
                    );
                }
                "platform" => self.decide(
                    &subject,
                    format!("platform {} not carried", privilege.value),
                    format!("compose asks for it ({at}); Nomad places by the client's architecture: add a constraint on attr.cpu.arch if the image has no other"),
                ),
                _ => self.decide(
                    &subject,
                    format!("{} {} left out", privilege.key, privilege.value),
                    format!(
                        "compose asks for it ({at}); it widens the container's reach over its host, \
                         so the job does not ask for it: add it by hand if the service cannot run \
                         without it and the client allows it"
                    ),
                ),
            }
        }
    }

    fn resources(&mut self, service: &analyze::Service, answers: &ServiceAnswers) -> Resources {
        let class_name = answers
            .class
            .clone()
            .or_else(|| self.config.service_classes.get(&service.name).cloned())
            .or_else(|| {
                let role = role_name(service.role).to_string();
                self.config.classes.contains_key(&role).then_some(role)
            });
        let class = class_name.as_ref().and_then(|name| self.config.classes.get(name));
        let (mut cpu, mut memory) = (service.resources.cpu, service.resources.memory);
        let mut memory_max = None;
        let mut reason = format!("analysis: {}", service.resources.reason);
        if let (Some(name), Some(class)) = (&class_name, class) {
            cpu = class.cpu.unwrap_or(cpu);
            memory = class.memory.unwrap_or(memory);
            memory_max = class.memory_max;
            reason = format!("service class `{name}` of .nomad-spec.toml");
        }
        if let Some(answered) = answers.cpu {
            cpu = answered;
        }
        match answers.memory {
            Some(answered) => {
                memory = answered;
                reason = "answered".into();
            }
            None => self.ask(
                format!("memory.{}", service.name),
                format!("Memory for {} in MB?", service.name),
                memory.to_string(),
                reason.clone(),
                false,
            ),
        }
        if let Some(answered) = answers.memory_max {
            memory_max = Some(answered);
        }
        let cpu = cpu.max(1);
        let memory = memory.max(10);
        let max = memory_max.map(|m| format!(", up to {m} MB")).unwrap_or_default();
        self.decide(&service.name, format!("{cpu} MHz, {memory} MB{max}"), reason);
        Resources {
            cpu: Some(i64::from(cpu)),
            cores: None,
            memory_mb: Some(i64::from(memory)),
            memory_max_mb: memory_max.filter(|m| *m > memory).map(i64::from),
        }
    }

    fn update(&mut self, service: &analyze::Service, has_checks: bool) -> UpdateStrategy {
        let health_check = if has_checks { "checks" } else { "task_states" };
        self.decide(
            &service.name,
            format!("rolling update one at a time, healthy by {health_check}, auto-revert"),
            if has_checks {
                "a new version must pass its checks for 10s within 5m, else Nomad rolls back"
            } else {
                "without checks, a new version is healthy once its task runs for 10s; a failed \
                 update rolls back"
            },
        );
        UpdateStrategy {
            max_parallel: Some(1),
            health_check: Some(health_check.into()),
            min_healthy_time: Some(10 * SECOND),
            healthy_deadline: Some(5 * 60 * SECOND),
            progress_deadline: Some(10 * 60 * SECOND),
            auto_revert: Some(true),
            ..Default::default()
        }
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::App => "app",
        Role::Database => "database",
        Role::Cache => "cache",
        Role::Queue => "queue",
        Role::Proxy => "proxy",
        Role::Tool => "tool",
    }
}

mod compose_names;
mod environment;
mod files;
mod provenance;
mod reach;
mod vault;
mod volumes;

pub use files::Delivered;
pub use provenance::{group_name, Wire};

#[cfg(test)]
mod tests;
