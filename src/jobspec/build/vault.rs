//! Where a secret lives in Vault, and how a task is allowed to read it.
//!
//! Every secret a job needs (an env variable, a compose secret file, the password inside a
//! connection URL) is a Vault KV reference: answered (`secret.NAME=PATH#KEY`), else the
//! repository's `[vault]` convention (`<mount>/data/<job>`, the key named after the secret),
//! asked as a question with that default. Secrets shared by several services (one compose
//! secret mounted in two, or one credential both ends must agree on) get one reference, so
//! both ends read one Vault key. A task that reads anything from Vault gets one `vault` block:
//! workload identity on Nomad 1.7+, token policies before.

use super::{Builder, Feature, GroupNames};
use crate::jobspec::answers::SecretRef;
use crate::jobspec::{Task, Vault};

impl Builder<'_> {
    /// The Vault reference of the secret `name` (a variable or compose secret name; the
    /// answer key is `secret.<name>`), for `subject`'s decision; `owner` is the service whose
    /// path the convention uses (`{service}` in `[vault] path`). `None` when the convention
    /// gives a path that cannot be used (said in a decision).
    pub(super) fn secret_ref(
        &mut self,
        name: &str,
        subject: &str,
        owner: &str,
        names: &GroupNames,
    ) -> Option<SecretRef> {
        if let Some(reference) =
            self.answers.secrets.get(name).and_then(|a| SecretRef::parse("secret", a).ok())
        {
            self.decide(
                subject,
                format!("from Vault {}#{}", reference.path, reference.key),
                "answered",
            );
            return Some(reference);
        }
        let vault = self.config.vault.clone().unwrap_or_default();
        let kv_v1 = vault.kv_version == Some(1);
        let mount = vault.mount.as_deref().unwrap_or("kv").trim_matches('/').to_string();
        let pattern = vault.path.as_deref().unwrap_or("{job}");
        let path = pattern.replace("{job}", &names.job).replace("{service}", &names.group(owner));
        let data = if kv_v1 { "" } else { "data/" };
        let default = format!("{mount}/{data}{}#{name}", path.trim_matches('/'));
        let reason = if kv_v1 {
            "the [vault] convention (KV v1 under <mount>/<job>), the key named after the secret"
        } else {
            "the [vault] convention (KV v2 under <mount>/data/<job>), the key named after the \
             secret"
        };
        let kv = if kv_v1 { 1 } else { 2 };
        self.ask(
            format!("secret.{name}"),
            format!("Vault KV v{kv} path#key holding {name} (for {owner})?"),
            default.clone(),
            reason.into(),
            false,
        );
        match SecretRef::parse("secret", &default) {
            Ok(reference) => {
                self.decide(subject, format!("from Vault {default}"), reason);
                Some(reference)
            }
            Err(err) => {
                self.decide(subject, "left out", err.to_string());
                None
            }
        }
    }

    /// The expression that reads `reference` inside a template, with the task's delimiters.
    pub(super) fn secret_expression(&self, reference: &SecretRef) -> String {
        let (left, right) = self.config.delimiters();
        let kv_v1 = self.config.vault.as_ref().and_then(|v| v.kv_version) == Some(1);
        let data = if kv_v1 { ".Data" } else { ".Data.data" };
        let key = &reference.key;
        let access = if super::super::answers::is_env_name(key) {
            format!("{data}.{key}")
        } else {
            format!("index {data} \"{key}\"")
        };
        format!(
            "{left} with secret \"{}\" {right}{left} {access} {right}{left} end {right}",
            reference.path
        )
    }

    /// The task's `vault` block, once per task that reads Vault; `what` says what it reads.
    pub(super) fn vault_access(
        &mut self,
        service: &str,
        names: &GroupNames,
        task: &mut Task,
        what: &str,
    ) {
        if task.vault.is_some() {
            return;
        }
        let features = self.config.nomad_features();
        let vault = self.config.vault.clone().unwrap_or_default();
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
        self.decide(service, what, reason);
        task.vault = Some(Vault { role, policies, ..Default::default() });
    }
}
