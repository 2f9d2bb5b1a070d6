//! Environment of a service's task: plain values, secrets from Vault, and the addresses of the
//! services it depends on (a service-discovery template, or a fixed endpoint).

use std::collections::{BTreeMap, BTreeSet};

use super::{Builder, GroupNames};
use crate::analyze::{self, Analysis};
use crate::jobspec::answers::{is_env_name, SecretRef, ServiceAnswers};
use crate::jobspec::config::ServiceProvider;
use crate::jobspec::features::Feature;
use crate::jobspec::{Secret, Task, Template, Vault};

impl Builder<'_> {
    /// Secret variables → a Vault template; returns the names handled.
    pub(super) fn secrets(
        &mut self,
        service: &analyze::Service,
        answers: &ServiceAnswers,
        names: &GroupNames,
        templates: &mut Vec<Template>,
        task: &mut Task,
    ) -> BTreeSet<String> {
        let mut by_path: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        let mut handled = BTreeSet::new();
        let kv_v1 = self.config.vault.as_ref().and_then(|v| v.kv_version) == Some(1);
        for var in &service.env {
            let answered = self.answers.secrets.get(&var.name);
            if !(var.secret || answered.is_some()) || answers.env.contains_key(&var.name) {
                continue;
            }
            if !is_env_name(&var.name) {
                self.decide(
                    &service.name,
                    format!("{} left out", var.name),
                    "not a valid variable name",
                );
                continue;
            }
            let reference = match answered.and_then(|a| SecretRef::parse("secret", a).ok()) {
                Some(reference) => {
                    self.decide(
                        &format!("{} secret {}", service.name, var.name),
                        format!("from Vault {}#{}", reference.path, reference.key),
                        "answered",
                    );
                    reference
                }
                None => {
                    let vault = self.config.vault.clone().unwrap_or_default();
                    let mount =
                        vault.mount.as_deref().unwrap_or("kv").trim_matches('/').to_string();
                    let pattern = vault.path.as_deref().unwrap_or("{job}");
                    let path = pattern
                        .replace("{job}", &names.job)
                        .replace("{service}", &names.group(&service.name));
                    let data = if kv_v1 { "" } else { "data/" };
                    let reference = SecretRef {
                        path: format!("{mount}/{data}{}", path.trim_matches('/')),
                        key: var.name.clone(),
                    };
                    let default = format!("{}#{}", reference.path, reference.key);
                    let reason = if kv_v1 {
                        "the [vault] convention (KV v1 under <mount>/<job>), the key named \
                         after the variable"
                    } else {
                        "the [vault] convention (KV v2 under <mount>/data/<job>), the key \
                                  named after the variable"
                    };
                    let kv = if kv_v1 { 1 } else { 2 };
                    self.ask(
                        format!("secret.{}", var.name),
                        format!(
                            "Vault KV v{kv} path#key holding {} (for {})?",
                            var.name, service.name
                        ),
                        default.clone(),
                        reason.into(),
                        false,
                    );
                    self.decide(
                        &format!("{} secret {}", service.name, var.name),
                        format!("from Vault {default}"),
                        reason,
                    );
                    // An unparsable convention path would put odd text into a template.
                    match SecretRef::parse("secret", &default) {
                        Ok(reference) => reference,
                        Err(err) => {
                            self.decide(
                                &service.name,
                                format!("{} left out", var.name),
                                err.to_string(),
                            );
                            continue;
                        }
                    }
                }
            };
            handled.insert(var.name.clone());
            by_path.entry(reference.path).or_default().push((var.name.clone(), reference.key));
        }
        if by_path.is_empty() {
            return handled;
        }
        let features = self.config.nomad_features();
        let vault = self.config.vault.clone().unwrap_or_default();
        let blocks_wanted = vault.use_secret_blocks == Some(true);
        let what = if blocks_wanted && features.has(Feature::SecretBlocks) {
            self.secret_blocks(service, &by_path, kv_v1, task);
            "Vault token for the task's `secret` blocks"
        } else {
            if blocks_wanted {
                self.decide(
                    &service.name,
                    "secrets read through templates, not `secret` blocks",
                    format!(
                        "[vault] use_secret_blocks needs Nomad 1.11; the cluster runs {}",
                        features.describe()
                    ),
                );
            }
            let (left, right) = self.config.delimiters();
            let data_field = if kv_v1 { ".Data" } else { ".Data.data" };
            let mut data = String::new();
            for (path, vars) in &by_path {
                data.push_str(&format!("{left} with secret \"{path}\" {right}\n"));
                for (var, key) in vars {
                    let access = if is_env_name(key) {
                        format!("{left} {data_field}.{key} {right}")
                    } else {
                        format!("{left} index {data_field} \"{key}\" {right}")
                    };
                    data.push_str(&format!("{var}={access}\n"));
                }
                data.push_str(&format!("{left} end {right}\n"));
            }
            templates.push(self.template(data, "secrets/vault.env"));
            "secrets rendered from Vault into secrets/vault.env"
        };
        let identity = features.has(Feature::VaultWorkloadIdentity);
        let (role, policies, reason) = match (&vault.role, &vault.policies) {
            (Some(role), _) if identity => (
                Some(role.clone()),
                None,
                format!("workload identity role `{role}` of .nomad-spec.toml"),
            ),
            (_, Some(policies)) => (
                None,
                Some(policies.clone()),
                "legacy token policies of .nomad-spec.toml".to_string(),
            ),
            (None, None) if identity => (
                None,
                None,
                "Nomad 1.7+ workload identity with the cluster's default Vault role \
                 (set [vault] role to name one)"
                    .to_string(),
            ),
            (role, None) => {
                // Before 1.7 a task's Vault token comes from policies; a role there would be
                // a token role, not the workload identity role the config names.
                let policy = names.job.clone();
                (
                    None,
                    Some(vec![policy.clone()]),
                    format!(
                        "{} has no Vault workload identity (Nomad 1.7+){}: token policy \
                         `{policy}` named after the job (set [vault] policies to choose)",
                        features.describe(),
                        if role.is_some() { ", so [vault] role is not used" } else { "" }
                    ),
                )
            }
        };
        self.decide(&service.name, what, reason);
        task.vault = Some(Vault { role, policies, ..Default::default() });
        handled
    }

    /// Nomad 1.11 `secret` blocks, one per Vault path, and task env entries
    /// `VAR = "${secret.<name>.<key>}"`. The block's path is the secret's path without KV
    /// v2's `data/` segment; the engine says which KV version reads it.
    fn secret_blocks(
        &mut self,
        service: &analyze::Service,
        by_path: &BTreeMap<String, Vec<(String, String)>>,
        kv_v1: bool,
        task: &mut Task,
    ) {
        let mut names = BTreeSet::new();
        for (path, vars) in by_path {
            let logical = if kv_v1 {
                path.clone()
            } else {
                match path.split_once("/data/") {
                    Some((mount, rest)) => format!("{mount}/{rest}"),
                    None => path.clone(),
                }
            };
            let base: String = logical
                .rsplit('/')
                .take(2)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("_")
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' })
                .collect();
            let mut name = base.clone();
            let mut n = 2;
            while !names.insert(name.clone()) {
                name = format!("{base}_{n}");
                n += 1;
            }
            let engine = if kv_v1 { "kv" } else { "kv_v2" };
            let mut config = BTreeMap::new();
            config.insert("engine".to_string(), serde_json::Value::String(engine.into()));
            task.secrets.get_or_insert_with(Vec::new).push(Secret {
                name: name.clone(),
                provider: "vault".into(),
                path: logical,
                config: Some(config),
                env: None,
            });
            let env = task.env.get_or_insert_with(BTreeMap::new);
            for (var, key) in vars {
                env.insert(var.clone(), format!("${{secret.{name}.{key}}}"));
            }
        }
        self.decide(
            &service.name,
            "secrets read by Nomad 1.11 `secret` blocks",
            "[vault] use_secret_blocks, and the cluster runs Nomad 1.11 or newer",
        );
    }

    fn template(&self, data: String, destination: &str) -> Template {
        let (left, right) = self.config.delimiters();
        let custom = (left, right) != ("{{", "}}");
        Template {
            embedded_tmpl: Some(data),
            dest_path: Some(destination.into()),
            change_mode: Some("restart".into()),
            envvars: Some(true),
            left_delim: custom.then(|| left.to_string()),
            right_delim: custom.then(|| right.to_string()),
            ..Default::default()
        }
    }

    /// Plain variables → `env`; variables naming another service → a discovery template.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn environment(
        &mut self,
        service: &analyze::Service,
        answers: &ServiceAnswers,
        secrets: &BTreeSet<String>,
        analysis: &Analysis,
        names: &GroupNames,
        deployed: &[&analyze::Service],
        env: &mut BTreeMap<String, String>,
        templates: &mut Vec<Template>,
    ) {
        let (left, right) = self.config.delimiters();
        let mut lookups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut pointed = BTreeSet::new();
        // Dependencies found in Consul's catalog are looked up there whatever the provider.
        let mut consul_names = BTreeSet::new();
        for var in &service.env {
            if secrets.contains(&var.name) || answers.env.contains_key(&var.name) || var.secret {
                continue;
            }
            let Some(default) = &var.default else {
                self.decide(
                    &format!("{} env {}", service.name, var.name),
                    "not set",
                    "read by the service but no value was found; it keeps its own default",
                );
                continue;
            };
            if !is_env_name(&var.name) {
                self.decide(
                    &service.name,
                    format!("{} left out", var.name),
                    "not a valid variable name",
                );
                continue;
            }
            let mut value = default.clone();
            let mut lookup = None;
            for dependency in &service.depends_on {
                let Some(target) = analysis.services.iter().find(|s| &s.name == dependency) else {
                    continue;
                };
                let Some(rewritten) = point_at(&value, dependency, target, left, right) else {
                    continue;
                };
                let target_answers = self.service_answers(dependency);
                if let Some(endpoint) = &target_answers.endpoint {
                    value = endpoint_value(&value, dependency, endpoint);
                    self.decide(
                        &format!("{} env {}", service.name, var.name),
                        format!("points at {endpoint}"),
                        format!("endpoint.{dependency} answered"),
                    );
                } else if let Some(found) = self
                    .config
                    .cluster
                    .services
                    .get(dependency)
                    .filter(|_| !deployed.iter().any(|s| &s.name == dependency))
                {
                    self.decide(
                        &format!("{} env {}", service.name, var.name),
                        format!("looked up as Consul service `{}`", found.name),
                        format!("its value names {dependency}, found in Consul's catalog"),
                    );
                    consul_names.insert(found.name.clone());
                    lookup = Some((found.name.clone(), rewritten.0));
                } else {
                    let name = names.service(dependency, None);
                    let where_ = if deployed.iter().any(|s| &s.name == dependency) {
                        "deployed by these jobs"
                    } else {
                        "not deployed here: it must be registered under that name, or answer \
                         endpoint.SERVICE=host:port"
                    };
                    self.decide(
                        &format!("{} env {}", service.name, var.name),
                        format!("looked up as service `{name}`"),
                        format!("its value names {dependency} ({where_}); addresses and ports in Nomad are assigned at placement"),
                    );
                    if !rewritten.1 {
                        self.decide(
                            &format!("{} env {}", service.name, var.name),
                            "host only",
                            format!(
                                "the port of {dependency} is assigned at placement, so the service must \
                                 also read it from the same lookup, or answer \
                                 static_port.{dependency} or endpoint.{dependency}"
                            ),
                        );
                    }
                    lookup = Some((name, rewritten.0));
                }
                pointed.insert(dependency.clone());
            }
            match lookup {
                Some((name, line)) => {
                    lookups.entry(name).or_default().push(format!("{}={line}", var.name))
                }
                None => {
                    env.insert(var.name.clone(), value);
                }
            }
        }
        for dependency in &service.depends_on {
            if !pointed.contains(dependency) {
                let known = analysis.services.iter().any(|s| &s.name == dependency);
                let reason = if known {
                    "no variable with a value naming it was found; if the service reaches it by \
                     the compose host name, that name does not resolve on Nomad"
                } else {
                    "it is not a service of this repository"
                };
                self.decide(
                    &service.name,
                    format!("depends on {dependency}: nothing rewritten"),
                    reason,
                );
            }
        }
        for (var, value) in &answers.env {
            env.insert(var.clone(), value.clone());
            self.decide(&format!("{} env {var}", service.name), "set", "answered");
        }
        if lookups.is_empty() {
            return;
        }
        let function = match self.config.provider() {
            ServiceProvider::Nomad => "nomadService",
            ServiceProvider::Consul => "service",
        };
        let mut data = String::new();
        for (name, lines) in &lookups {
            let function = if consul_names.contains(name) { "service" } else { function };
            data.push_str(&format!("{left} range {function} \"{name}\" {right}\n"));
            for line in lines {
                data.push_str(line);
                data.push('\n');
            }
            data.push_str(&format!("{left} end {right}\n"));
        }
        templates.push(self.template(data, "local/endpoints.env"));
    }
}

/// Characters a rewritten value may keep: nothing that means something in an env file or a
/// template.
fn is_plain_value(value: &str) -> bool {
    value.chars().all(|c| c.is_ascii_alphanumeric() || "_.:/@?&=%+,-~".contains(c))
}

/// Finds `dependency` as a host in `value` (`redis`, `redis:6379`, `postgres://u@db:5432/x`).
/// Returns the start and end of the host (and port, when one follows).
fn host_mention(value: &str, dependency: &str) -> Option<(usize, usize, bool)> {
    if dependency.is_empty() {
        return None;
    }
    let mut from = 0;
    while let Some(found) = value[from..].find(dependency) {
        let start = from + found;
        let end = start + dependency.len();
        let before_ok = start == 0 || value[..start].ends_with(['/', '@']);
        let after = &value[end..];
        let after_ok = after.is_empty() || after.starts_with([':', '/', '?']);
        if before_ok && after_ok {
            if let Some(rest) = after.strip_prefix(':') {
                let digits = rest.chars().take_while(char::is_ascii_digit).count();
                if digits > 0 {
                    return Some((start, end + 1 + digits, true));
                }
            }
            return Some((start, end, false));
        }
        from = end;
    }
    None
}

/// The template line value pointing `value` at a discovered `target`, when it names it, and
/// whether the port was rewritten too.
pub(super) fn point_at(
    value: &str,
    dependency: &str,
    target: &analyze::Service,
    left: &str,
    right: &str,
) -> Option<(String, bool)> {
    if !is_plain_value(value) || target.ports.is_empty() {
        return None;
    }
    let (start, end, with_port) = host_mention(value, dependency)?;
    let replacement = if with_port {
        format!("{left} .Address {right}:{left} .Port {right}")
    } else {
        format!("{left} .Address {right}")
    };
    Some((format!("{}{replacement}{}", &value[..start], &value[end..]), with_port))
}

/// `value` with its mention of `dependency` replaced by a fixed `host:port`.
pub(super) fn endpoint_value(value: &str, dependency: &str, endpoint: &str) -> String {
    match host_mention(value, dependency) {
        Some((start, end, with_port)) => {
            let replacement = if with_port {
                endpoint.to_string()
            } else {
                endpoint.rsplit_once(':').map_or(endpoint, |(host, _)| host).to_string()
            };
            format!("{}{replacement}{}", &value[..start], &value[end..])
        }
        None => value.to_string(),
    }
}
