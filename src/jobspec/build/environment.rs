//! Environment of a service's task: the values the app is given, secrets from Vault, and the
//! addresses of the services it depends on.
//!
//! The rules, each for a mistake an operator would otherwise find on the first deploy:
//! - values the image already sets (a Dockerfile `ENV`) are not copied into the job;
//! - a placeholder (`yourUser`, `192.168.178.X`, an unresolved `${VAR}`) is never written: it
//!   is asked for; so is a variable the code fails without;
//! - a value is rewritten to a dependency's address only where the variable is an address
//!   (`*_HOST`, `*_URL`, `host:port`, a URL), never `MYSQL_DATABASE=wordpress`; the address
//!   carries the port (a sibling `*_PORT` the code reads is set from the same lookup, else the
//!   dependency gets the static port the code expects);
//! - secrets come from Vault; a connection URL that carries a password keeps its shape, with
//!   the address from the lookup and only the password from Vault; both ends of one
//!   credential read one Vault key;
//! - a host written into the code gets the setting that overrides it when the framework has
//!   one, else a question that says exactly what is unreachable and why.

use std::collections::{BTreeMap, BTreeSet};

use super::provenance;
use super::reach::Reach;
use super::{Builder, Feature, GroupNames};
use crate::analyze::{self, Analysis, EnvOrigin};
use crate::jobspec::answers::{is_env_name, ServiceAnswers};
use crate::jobspec::{Secret, Task, Template};

/// Where the lines of a task's environment come from, once rendered.
#[derive(Debug, Default)]
pub(super) struct EnvLines {
    /// Plain values (`env` block).
    pub plain: BTreeMap<String, String>,
    /// Template lines (`NAME=value with expressions`) rendered into an env file: lookups and
    /// Vault reads.
    pub template: BTreeMap<String, String>,
}

impl Builder<'_> {
    /// Secret variables → Vault. Returns the names handled. A connection URL with a password
    /// that names a dependency becomes a template line in `lines` (address from the lookup,
    /// password from Vault).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn secrets(
        &mut self,
        service: &analyze::Service,
        answers: &ServiceAnswers,
        analysis: &Analysis,
        names: &GroupNames,
        deployed: &[&analyze::Service],
        templates: &mut Vec<Template>,
        task: &mut Task,
        lines: &mut EnvLines,
    ) -> BTreeSet<String> {
        let mut by_path: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        let mut handled = BTreeSet::new();
        let kv_v1 = self.config.vault.as_ref().and_then(|v| v.kv_version) == Some(1);
        let mut reads_vault = false;
        for var in &service.env {
            let answered = self.answers.secrets.contains_key(&var.name);
            if !(var.secret || answered) || answers.env.contains_key(&var.name) {
                continue;
            }
            let subject = format!("{} secret {}", service.name, var.name);
            if !is_env_name(&var.name) {
                self.decide(
                    &service.name,
                    format!("{} left out", var.name),
                    "not a valid variable name",
                );
                continue;
            }
            let (key, owner) = self.credential_key(var, service, analysis);
            if let Some(masked) = var.masked.as_deref().filter(|_| !answered) {
                if let Some((line, dependency)) =
                    self.url_with_secret(masked, service, analysis, names, deployed)
                {
                    let Some(reference) = self.secret_ref(&key, &subject, &owner, names) else {
                        continue;
                    };
                    let secret = self.secret_expression(&reference);
                    lines.template.insert(var.name.clone(), line.replace("***", &secret));
                    let origin = provenance::env_origin(service, &var.name);
                    self.decide(
                        &format!("{} env {}", service.name, var.name),
                        format!("the URL's address from the lookup of {dependency}, its password from Vault"),
                        format!(
                            "the connection URL names a service of the repository: only the \
                             password is a secret; the address and port come from the registry at \
                             placement{}",
                            provenance::from_words(origin.as_deref())
                        ),
                    );
                    if let Some(target) = analysis.services.iter().find(|s| s.name == dependency) {
                        let reach = self.reach(target, None, names, deployed);
                        self.wire(&service.name, &dependency, &reach, origin);
                    }
                    handled.insert(var.name.clone());
                    reads_vault = true;
                    continue;
                }
            }
            let Some(reference) = self.secret_ref(&key, &subject, &owner, names) else { continue };
            if var.name.to_ascii_uppercase().contains("PASS") {
                self.password_in_code(service, &subject, analysis);
            }
            handled.insert(var.name.clone());
            by_path.entry(reference.path).or_default().push((var.name.clone(), reference.key));
        }
        if by_path.is_empty() {
            if reads_vault {
                self.vault_access(
                    &service.name,
                    names,
                    task,
                    "the connection URL's password from Vault",
                );
            }
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
        self.vault_access(&service.name, names, task, what);
        handled
    }

    /// Other services whose code logs in to `service` with a password written in it (the
    /// voting app's `postgres://postgres:postgres@db/postgres`): the secret from Vault must be
    /// that password, or they are locked out. Said once per password variable.
    fn password_in_code(&mut self, service: &analyze::Service, subject: &str, analysis: &Analysis) {
        let places: Vec<String> = analysis
            .services
            .iter()
            .flat_map(|s| &s.code_hosts)
            .filter(|h| h.service == service.name && h.with_password)
            .map(|h| {
                let line = h.evidence.line.map(|l| format!(":{l}")).unwrap_or_default();
                format!("{}{line}", h.evidence.file)
            })
            .collect();
        if places.is_empty() {
            return;
        }
        self.decide(
            subject,
            "must be the password written in the code",
            format!(
                "{} log in to {} with a password written in the code: the Vault secret must \
                 hold that same password, or they are locked out (better, make the code read it \
                 from a variable)",
                places.join(", "),
                service.name
            ),
        );
    }

    /// The Vault key and the service whose path holds it, for a secret variable: the shared
    /// credential's key when several variables hold the same secret (preferring the variable
    /// a database reads for its own password), else the variable's own name.
    fn credential_key(
        &self,
        var: &analyze::EnvVar,
        service: &analyze::Service,
        analysis: &Analysis,
    ) -> (String, String) {
        let Some(credential) = &var.credential else {
            return (var.name.clone(), service.name.clone());
        };
        let holders: Vec<(&analyze::Service, &analyze::EnvVar)> = analysis
            .services
            .iter()
            .flat_map(|s| s.env.iter().map(move |e| (s, e)))
            .filter(|(_, e)| e.credential.as_ref() == Some(credential))
            .collect();
        let own_password = holders.iter().find(|(s, e)| {
            let image = s.image.as_deref().or(s.base_image.as_deref());
            image
                .and_then(analyze::images::facts)
                .and_then(|f| f.credentials)
                .is_some_and(|c| c.password.contains(&e.name) || c.root_password.contains(&e.name))
        });
        let (owner, holder) = own_password.or(holders.first()).copied().unwrap_or((service, var));
        (holder.name.clone(), owner.name.clone())
    }

    /// A masked URL (`mysql://root:***@db:3306/x`) that names a service of the analysis, with
    /// its host rewritten to the dependency's lookup: the line and the dependency's name.
    fn url_with_secret(
        &self,
        masked: &str,
        service: &analyze::Service,
        analysis: &Analysis,
        names: &GroupNames,
        deployed: &[&analyze::Service],
    ) -> Option<(String, String)> {
        let (left, right) = self.config.delimiters();
        for target in analysis.services.iter().filter(|s| s.name != service.name) {
            for host in std::iter::once(&target.name).chain(&target.aliases) {
                let Some((start, end, port)) = host_mention(masked, host) else { continue };
                let reach = self.reach(target, port, names, deployed);
                // A URL without a port relied on the scheme's: the lookup gives the real one.
                let rewritten = reach.inline(left, right, true);
                return Some((
                    format!("{}{rewritten}{}", &masked[..start], &masked[end..]),
                    target.name.clone(),
                ));
            }
        }
        None
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

    pub(super) fn template(&self, data: String, destination: &str) -> Template {
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

    /// Plain variables → `env`; variables naming another service → template lines with the
    /// lookup; hosts the code writes in → settings or questions.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn environment(
        &mut self,
        service: &analyze::Service,
        answers: &ServiceAnswers,
        secrets: &BTreeSet<String>,
        analysis: &Analysis,
        names: &GroupNames,
        deployed: &[&analyze::Service],
        lines: &mut EnvLines,
    ) {
        let (left, right) = self.config.delimiters();
        let mut pointed = BTreeSet::new();
        let mut from_image = Vec::new();
        // Port variables set from a lookup beside their host variable.
        let mut port_vars: BTreeSet<String> = BTreeSet::new();
        for var in &service.env {
            if secrets.contains(&var.name)
                || answers.env.contains_key(&var.name)
                || var.secret
                || port_vars.contains(&var.name)
                || lines.template.contains_key(&var.name)
            {
                continue;
            }
            let subject = format!("{} env {}", service.name, var.name);
            if var.origin == EnvOrigin::Image {
                from_image.push(var.name.clone());
                continue;
            }
            let Some(default) = &var.default else {
                if var.required {
                    self.ask(
                        format!("env.{}.{}", service.name, var.name),
                        format!("Value of {} for {}?", var.name, service.name),
                        String::new(),
                        "the code fails without it and the repository gives it no value".into(),
                        true,
                    );
                    self.decide(
                        &subject,
                        "asked",
                        "the code reads it with no default and fails without it",
                    );
                } else {
                    self.decide(
                        &subject,
                        "not set",
                        "read by the service but no value was found; it keeps its own default",
                    );
                }
                continue;
            };
            // Docker passes dotted names (`discovery.type`, read by Elasticsearch as a
            // setting) and Nomad's `env = { "a.b" = ... }` carries them.
            if !var.name.split('.').all(is_env_name) {
                self.decide(
                    &service.name,
                    format!("{} left out", var.name),
                    "not a valid variable name",
                );
                continue;
            }
            if let Some(why) = placeholder(default) {
                self.ask(
                    format!("env.{}.{}", service.name, var.name),
                    format!("Value of {} for {}?", var.name, service.name),
                    String::new(),
                    format!("the repository's value `{default}` {why}"),
                    true,
                );
                self.decide(&subject, "not written, asked", format!("`{default}` {why}"));
                continue;
            }
            let is_address = is_address_name(&var.name) || looks_like_address(default);
            let mut rewritten = None;
            for target in analysis.services.iter().filter(|s| s.name != service.name) {
                let Some((host, (start, end, port))) = target_mention(default, is_address, target)
                else {
                    continue;
                };
                if !is_plain_value(default) {
                    self.decide(
                        &subject,
                        "kept as written",
                        format!(
                            "it names {} but holds characters a template line cannot carry",
                            target.name
                        ),
                    );
                    break;
                }
                let reach = self.reach(target, port, names, deployed);
                // The image reads `host:port` there (Nextcloud's POSTGRES_HOST): give it both.
                let with_port = port.is_some() || takes_host_port(service, &var.name);
                let value = format!(
                    "{}{}{}",
                    &default[..start],
                    reach.inline(left, right, with_port),
                    &default[end..]
                );
                let origin = provenance::env_origin(service, &var.name);
                self.decide(
                    &subject,
                    format!("points at {}", reach.describe()),
                    format!(
                        "its value names {host}; {}{}",
                        reach_reason(&reach),
                        provenance::from_words(origin.as_deref())
                    ),
                );
                self.wire(&service.name, &target.name, &reach, origin);
                if !with_port {
                    self.host_only(service, var, target, &reach, &mut port_vars, lines);
                }
                pointed.insert(target.name.clone());
                rewritten = Some(value);
                break;
            }
            match rewritten {
                Some(value) => {
                    lines.template.insert(var.name.clone(), value);
                }
                None => {
                    lines.plain.insert(var.name.clone(), default.clone());
                }
            }
        }
        if !from_image.is_empty() {
            self.decide(
                &service.name,
                format!("not copied: {}", from_image.join(", ")),
                "the image's Dockerfile sets them (ENV): the container has them already",
            );
        }
        self.image_addresses(service, analysis, names, deployed, lines, &mut pointed);
        self.code_hosts(service, answers, analysis, names, deployed, lines, &mut pointed);
        let unwired = self.unwired_clients(service, analysis, &pointed);
        for dependency in &service.depends_on {
            // A delivered file naming it is rewritten by the files step.
            let in_file =
                service.files.iter().any(|f| f.hosts.iter().any(|h| &h.service == dependency));
            let in_env = analysis
                .services
                .iter()
                .find(|s| &s.name == dependency)
                .is_some_and(|target| env_names(service, target));
            if pointed.contains(dependency) || in_file || in_env || unwired.contains(dependency) {
                continue;
            }
            let known = analysis.services.iter().any(|s| &s.name == dependency);
            let reason = if known {
                "no variable, file or code of it names the dependency's address: if it reaches \
                 the compose host name some other way, that name does not resolve on Nomad"
            } else {
                "it is not a service of this repository"
            };
            self.decide(
                &service.name,
                format!("depends on {dependency}: nothing rewritten"),
                reason,
            );
        }
        for (var, value) in &answers.env {
            lines.template.remove(var);
            lines.plain.insert(var.clone(), value.clone());
            self.decide(&format!("{} env {var}", service.name), "set", "answered");
        }
    }

    /// A host variable without a port (`DB_HOST=db`): the sibling port variable the code
    /// reads gets the lookup's port; else the dependency's port must be the one the code
    /// assumes, which the builder made static when it deploys it.
    fn host_only(
        &mut self,
        service: &analyze::Service,
        var: &analyze::EnvVar,
        target: &analyze::Service,
        reach: &Reach,
        port_vars: &mut BTreeSet<String>,
        lines: &mut EnvLines,
    ) {
        let (left, right) = self.config.delimiters();
        let subject = format!("{} env {}", service.name, var.name);
        if let Some(port_var) = sibling_port(&var.name, service) {
            let port = match reach {
                Reach::Lookup { function, name, .. } => format!(
                    "{left} range $i, $s := {function} \"{name}\" {right}{left} if eq $i 0 {right}\
                     {left} .Port {right}{left} end {right}{left} end {right}"
                ),
                Reach::Endpoint(endpoint) => {
                    endpoint.rsplit_once(':').map_or("", |(_, port)| port).to_string()
                }
            };
            lines.template.insert(port_var.clone(), port);
            port_vars.insert(port_var.clone());
            self.decide(
                &format!("{} env {port_var}", service.name),
                format!("the port of {}", reach.describe()),
                format!(
                    "{} carries no port; the code reads the port from {port_var}{}",
                    var.name,
                    provenance::from_words(provenance::env_origin(service, &port_var).as_deref())
                ),
            );
            return;
        }
        match self.static_needs.get(&target.name).and_then(|ports| ports.keys().next()) {
            Some(port) => self.decide(
                &subject,
                format!("host only: {} listens on its static port {port}", target.name),
                "the code reads no port variable, so it dials the port it assumes",
            ),
            None => self.decide(
                &subject,
                "host only",
                format!(
                    "the port of {} is assigned at placement and the code reads no port \
                     variable: answer static_port.{} or endpoint.{}",
                    target.name, target.name, target.name
                ),
            ),
        }
    }

    /// Variables a well-known image reads to reach other services (Kibana's
    /// `ELASTICSEARCH_HOSTS`, whose default names `elasticsearch`): set from the lookup when
    /// the default names a service of the repository and nothing sets them.
    fn image_addresses(
        &mut self,
        service: &analyze::Service,
        analysis: &Analysis,
        names: &GroupNames,
        deployed: &[&analyze::Service],
        lines: &mut EnvLines,
        pointed: &mut BTreeSet<String>,
    ) {
        let (left, right) = self.config.delimiters();
        let image = service.image.as_deref().or(service.base_image.as_deref());
        let Some(facts) = image.and_then(analyze::images::facts) else { return };
        let source =
            facts.source(analyze::images::Fact::Addresses).unwrap_or("the image facts").to_string();
        for address in &facts.addresses {
            if service.env.iter().any(|e| e.name == address.env)
                || lines.template.contains_key(&address.env)
            {
                continue;
            }
            let Some(default) = &address.default else { continue };
            for target in analysis.services.iter().filter(|s| s.name != service.name) {
                let Some((_, (start, end, port))) = target_mention(default, true, target) else {
                    continue;
                };
                let reach = self.reach(target, port, names, deployed);
                let value = format!(
                    "{}{}{}",
                    &default[..start],
                    reach.inline(left, right, port.is_some()),
                    &default[end..]
                );
                lines.template.insert(address.env.clone(), value);
                self.wire(&service.name, &target.name, &reach, Some(source.clone()));
                self.decide(
                    &format!("{} env {}", service.name, address.env),
                    format!("points at {}", reach.describe()),
                    format!(
                        "{} reaches {} through {} (default `{default}`, {source})",
                        facts.family, target.name, address.env
                    ),
                );
                pointed.insert(target.name.clone());
                break;
            }
        }
    }

    /// Hosts written into the code: the framework's setting when it has one, the answered
    /// variable when the code now reads one, else a question that says what is unreachable.
    #[allow(clippy::too_many_arguments)]
    fn code_hosts(
        &mut self,
        service: &analyze::Service,
        answers: &ServiceAnswers,
        analysis: &Analysis,
        names: &GroupNames,
        deployed: &[&analyze::Service],
        lines: &mut EnvLines,
        pointed: &mut BTreeSet<String>,
    ) {
        let (left, right) = self.config.delimiters();
        let mut by_dependency: BTreeMap<&str, Vec<&analyze::CodeHost>> = BTreeMap::new();
        for host in &service.code_hosts {
            by_dependency.entry(host.service.as_str()).or_default().push(host);
        }
        for (dependency, hosts) in by_dependency {
            let Some(target) = analysis.services.iter().find(|s| s.name == dependency) else {
                continue;
            };
            let port = hosts.iter().find_map(|h| h.port);
            let reach = self.reach(target, port, names, deployed);
            let places: Vec<String> = hosts
                .iter()
                .map(|h| {
                    let line = h.evidence.line.map(|l| format!(":{l}")).unwrap_or_default();
                    format!("`{}` ({}{line})", h.text, h.evidence.file)
                })
                .collect();
            let subject = format!("{} reaches {dependency}", service.name);
            let first = hosts.first().map(|h| provenance::at(&h.evidence));
            if let Some(variable) = answers.addresses.get(dependency) {
                self.wire(&service.name, dependency, &reach, first.clone());
                lines.template.insert(variable.clone(), reach.inline(left, right, true));
                self.decide(&subject, format!("{variable} from {}", reach.describe()), "answered");
                pointed.insert(dependency.to_string());
                continue;
            }
            let setting = hosts
                .iter()
                .find_map(|h| h.setting.clone())
                .filter(|(_, value)| !value.contains("***"));
            if let Some((variable, value)) = setting {
                let mention = target_mention(&value, true, target).map(|(_, m)| m);
                if let Some((start, end, port)) = mention.filter(|_| is_plain_value(&value)) {
                    let line = format!(
                        "{}{}{}",
                        &value[..start],
                        reach.inline(left, right, port.is_some()),
                        &value[end..]
                    );
                    lines.template.insert(variable.clone(), line);
                    self.wire(&service.name, dependency, &reach, first.clone());
                    self.decide(
                        &subject,
                        format!("{variable} from {}", reach.describe()),
                        format!(
                            "the code names {dependency} in {}; the framework reads {variable} \
                             instead of that setting",
                            places.join(", ")
                        ),
                    );
                    pointed.insert(dependency.to_string());
                    continue;
                }
            }
            let host = hosts.first().map(|h| h.text.clone()).unwrap_or_default();
            self.record_wire(provenance::Wire {
                from: service.name.clone(),
                to: dependency.to_string(),
                how: format!("unreachable: the code dials {host}"),
                at: first,
            });
            self.ask(
                format!("address.{}.{dependency}", service.name),
                format!(
                    "Which variable does {}'s code read {dependency}'s host:port from, once it \
                     reads one?",
                    service.name
                ),
                String::new(),
                format!("the code dials {dependency} at {}", places.join(", ")),
                true,
            );
            self.decide(
                &subject,
                format!("unreachable: the code dials {host}"),
                format!(
                    "{} write the compose host name of {dependency} into the code, with no \
                     setting to change it; on Nomad that name does not resolve. Make the code \
                     read the address from a variable and answer \
                     address.{}.{dependency}=VARIABLE (the job then sets it from {}), or give \
                     the containers a DNS name for {dependency}",
                    places.join(", "),
                    service.name,
                    reach.describe()
                ),
            );
            pointed.insert(dependency.to_string());
        }
    }
}

impl Builder<'_> {
    /// Backing services of the repository the code has a client for (a PostgreSQL driver in
    /// `pom.xml`, and a postgres service) that no variable, delivered file or code names: the
    /// address is set where the analysis cannot see (a profile's properties left out of the
    /// repository, a library default), and on Nomad the compose name does not resolve. Said
    /// with the setting that would carry it; returns the services said so.
    fn unwired_clients(
        &mut self,
        service: &analyze::Service,
        analysis: &Analysis,
        pointed: &BTreeSet<String>,
    ) -> BTreeSet<String> {
        let mut said = BTreeSet::new();
        for client in &service.clients {
            for target in analysis.services.iter().filter(|t| {
                t.name != service.name && t.role.is_backing() && is_kind(t, &client.backing)
            }) {
                let named = pointed.contains(&target.name)
                    || env_names(service, target)
                    || service.code_hosts.iter().any(|h| h.service == target.name)
                    || service
                        .files
                        .iter()
                        .any(|f| f.hosts.iter().any(|h| h.service == target.name));
                if named || !said.insert(target.name.clone()) {
                    continue;
                }
                let setting = framework_setting(service.framework.as_deref(), &client.backing)
                    .map(|(variable, example)| {
                        format!(
                            "; the framework reads it from {variable}: answer \
                             env.{}.{variable}={example} with {}'s address",
                            service.name, target.name
                        )
                    })
                    .unwrap_or_default();
                let line = client.evidence.line.map(|l| format!(":{l}")).unwrap_or_default();
                self.record_wire(provenance::Wire {
                    from: service.name.clone(),
                    to: target.name.clone(),
                    how: "unreachable: no address of it in the repository".into(),
                    at: Some(format!("{}{line}", client.evidence.file)),
                });
                self.decide(
                    &format!("{} reaches {}", service.name, target.name),
                    "not wired: no address of it in the repository",
                    format!(
                        "{} uses a {} client ({}{line}) and {} is the repository's {}, but no \
                         variable, file or code here names its address (a configuration the \
                         repository leaves out, or a default); on Nomad the compose name {} \
                         does not resolve{setting}",
                        service.name,
                        client.backing,
                        client.evidence.file,
                        target.name,
                        client.backing,
                        target.name
                    ),
                );
            }
        }
        said
    }
}

/// Whether a variable of `service` that holds an address names `target`, a secret connection URL
/// (`mysql://root:***@db:3306/x`, wired with its password from Vault) included.
fn env_names(service: &analyze::Service, target: &analyze::Service) -> bool {
    service.env.iter().any(|v| {
        [&v.masked, &v.default].into_iter().flatten().any(|value| {
            let is_address = is_address_name(&v.name) || looks_like_address(value);
            target_mention(value, is_address, target).is_some()
        })
    })
}

/// Whether a backing service is of a client's kind: its image, or the image it is built
/// from, names it (`postgres`, `bitnami/postgresql`, an image built `FROM postgres`); MySQL
/// clients speak to MariaDB too.
fn is_kind(service: &analyze::Service, backing: &str) -> bool {
    let kinds = match backing {
        "mysql" | "mariadb" => vec!["mysql", "mariadb"],
        other => vec![other],
    };
    [&service.image, &service.base_image].into_iter().flatten().any(|image| {
        let name = analyze::image_name(image);
        kinds.iter().any(|kind| name.contains(kind))
    })
}

/// The variable a framework reads a backing service's address from, with an example value.
fn framework_setting(framework: Option<&str>, backing: &str) -> Option<(&'static str, String)> {
    let spring = framework.is_some_and(|f| f.starts_with("spring"));
    match backing {
        "postgres" | "mysql" | "mariadb" if spring => {
            let scheme = if backing == "postgres" { "postgresql" } else { "mysql" };
            Some(("SPRING_DATASOURCE_URL", format!("jdbc:{scheme}://HOST:PORT/DATABASE")))
        }
        "mongo" if spring => {
            Some(("SPRING_DATA_MONGODB_URI", "mongodb://HOST:PORT/DATABASE".into()))
        }
        _ => None,
    }
}

/// Why a dependency is reached the way it is, for a decision.
fn reach_reason(reach: &Reach) -> String {
    match reach {
        Reach::Lookup { how, .. } => {
            format!("{how}; addresses and ports in Nomad are assigned at placement")
        }
        Reach::Endpoint(_) => "the endpoint answered".to_string(),
    }
}

/// Variable names that hold an address (`DB_HOST`, `API_URL`, `discovery.seed_hosts`).
pub(super) fn is_address_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase().replace('.', "_");
    const ENDINGS: [&str; 16] = [
        "HOST",
        "HOSTNAME",
        "HOSTS",
        "ADDR",
        "ADDRESS",
        "URL",
        "URI",
        "URLS",
        "SERVER",
        "SERVERS",
        "ENDPOINT",
        "ENDPOINTS",
        "DSN",
        "BROKER",
        "BROKERS",
        "UPSTREAM",
    ];
    ENDINGS.iter().any(|ending| upper == *ending || upper.ends_with(&format!("_{ending}")))
}

/// Values shaped like an address: a URL or `host:port`.
pub(super) fn looks_like_address(value: &str) -> bool {
    if value.contains("://") {
        return true;
    }
    let first = value.split([',', ';', ' ']).next().unwrap_or(value);
    match first.rsplit_once(':') {
        Some((host, port)) => {
            !host.is_empty()
                && host.starts_with(|c: char| c.is_ascii_alphanumeric())
                && host.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                && !port.is_empty()
                && port.chars().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

/// Why a value is a placeholder rather than a value, when it is one.
pub(super) fn placeholder(value: &str) -> Option<String> {
    let trimmed = value.trim();
    let lower = trimmed.to_ascii_lowercase();
    if trimmed.contains("${") || unresolved_dollar(trimmed) {
        return Some(
            "names a variable of the shell that runs compose, which Nomad does not have".into(),
        );
    }
    let your = lower.strip_prefix("your").is_some_and(|rest| {
        rest.is_empty()
            || rest.starts_with(['-', '_', '@', '.'])
            || trimmed[4..].starts_with(char::is_uppercase)
    });
    let angle = trimmed.starts_with('<') && trimmed.ends_with('>');
    let change =
        ["changeme", "change_me", "change-me", "replaceme", "replace_me", "todo", "fixme", "xxx"]
            .contains(&lower.as_str());
    let ends_x = trimmed.split(['.', ':']).count() >= 3
        && trimmed.rsplit('.').next().is_some_and(|octet| octet.eq_ignore_ascii_case("x"));
    let val_suffix =
        trimmed.ends_with("_VAL") && trimmed.chars().all(|c| c.is_ascii_uppercase() || c == '_');
    let example = lower.ends_with("example.com") || lower.ends_with("example.org");
    (your || angle || change || ends_x || val_suffix || example)
        .then(|| "is a placeholder the repository asks to replace".to_string())
}

/// `$NAME` left unexpanded (compose keeps a variable it could not resolve as written).
fn unresolved_dollar(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.windows(2).enumerate().any(|(i, pair)| {
        pair[0] == b'$'
            && (pair[1].is_ascii_alphabetic() || pair[1] == b'_')
            && (i == 0 || bytes[i - 1] != b'$')
    })
}

/// Whether the service has a port variable beside the host variable `host_var`.
pub(super) fn has_sibling_port(host_var: &str, service: &analyze::Service) -> bool {
    sibling_port(host_var, service).is_some()
}

/// The port variable the code reads beside a host variable (`DB_HOST` → `DB_PORT`).
fn sibling_port(host_var: &str, service: &analyze::Service) -> Option<String> {
    let upper = host_var.to_ascii_uppercase();
    let stem = ["HOSTNAME", "HOST", "SERVER", "ADDR", "ADDRESS"]
        .iter()
        .find_map(|ending| upper.strip_suffix(ending))?;
    let candidates = [format!("{stem}PORT"), format!("{}_PORT", stem.trim_end_matches('_'))];
    service
        .env
        .iter()
        .find(|e| candidates.iter().any(|c| e.name.eq_ignore_ascii_case(c)) && !e.secret)
        .map(|e| e.name.clone())
}

/// Characters a rewritten value may keep: nothing that means something in an env file or a
/// template.
fn is_plain_value(value: &str) -> bool {
    value.chars().all(|c| c.is_ascii_alphanumeric() || "_.:/@?&=%+,-~#;*".contains(c))
}

/// Where a host is in a value: its start, its end (past the port, when one follows) and the
/// port.
pub(super) type Mention = (usize, usize, Option<u16>);

/// Where a variable's value names `target` as a host: by its name or a network alias only in
/// a variable that holds an address (`is_address`), by its fixed compose-network address
/// (`ipv4_address: 172.20.0.2`) in any variable (`PIHOLE_DNS_=172.20.0.2#5054`). The host as
/// written, with [`host_mention`]'s range and port.
pub(super) fn target_mention(
    value: &str,
    is_address: bool,
    target: &analyze::Service,
) -> Option<(String, Mention)> {
    std::iter::once(&target.name)
        .chain(&target.aliases)
        .filter(|host| is_address || host.parse::<std::net::IpAddr>().is_ok())
        .find_map(|host| host_mention(value, host).map(|m| (host.clone(), m)))
}

/// Finds `host` as a host in `value` (`redis`, `redis:6379`, `postgres://u@db:5432/x`,
/// `172.20.0.2#5054`): the start and end of the host (and port, when one follows) and the
/// port.
pub(super) fn host_mention(value: &str, host: &str) -> Option<Mention> {
    if host.is_empty() {
        return None;
    }
    let mut from = 0;
    while let Some(found) = value[from..].find(host) {
        let start = from + found;
        let end = start + host.len();
        let before_ok = start == 0 || value[..start].ends_with(['/', '@', ',', ';', ' ', '=']);
        let after = &value[end..];
        let after_ok = after.is_empty() || after.starts_with([':', '/', '?', '#', ',', ';', ' ']);
        if before_ok && after_ok {
            if let Some(rest) = after.strip_prefix(':') {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                if let Ok(port) = digits.parse::<u16>() {
                    return Some((start, end + 1 + digits.len(), Some(port)));
                }
            }
            return Some((start, end, None));
        }
        from = end;
    }
    None
}

/// Whether the service's image facts say `name` takes `host:port` or a URL.
fn takes_host_port(service: &analyze::Service, name: &str) -> bool {
    use analyze::images::AddressForm;
    let image = service.image.as_deref().or(service.base_image.as_deref());
    image.and_then(analyze::images::facts).is_some_and(|facts| {
        facts
            .addresses
            .iter()
            .any(|a| a.env == name && matches!(a.form, AddressForm::HostPort | AddressForm::Url))
    })
}
