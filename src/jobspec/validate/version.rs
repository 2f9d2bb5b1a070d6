//! Features a job file uses that a given Nomad version lacks (`validate --nomad-version`):
//! docker `extra_hosts` in a bridge-mode group before 1.1.3, `node_pool` before 1.6, `vault { role }` before 1.7, task `secret` blocks before 1.11,
//! `provider = "nomad"` services before 1.3 and their checks before 1.4. Each finding points
//! at the block or value that uses the feature. Versions: [`crate::jobspec::build::Feature`].

use serde_json::Value;

use crate::jobspec::features::{Feature, NomadFeatures};
use crate::jobspec::parse::DecodedJob;
use crate::jobspec::Diagnostic;

/// The findings for one decoded job.
pub(crate) fn check_version(
    decoded: &DecodedJob,
    file: &str,
    features: &NomadFeatures,
) -> Vec<Diagnostic> {
    let Some(job) = &decoded.job else { return Vec::new() };
    let mut uses: Vec<(Feature, String)> = Vec::new();
    if has(job, "NodePool") {
        uses.push((Feature::NodePools, "/NodePool".into()));
    }
    for (g, group) in list(job, "TaskGroups").iter().enumerate() {
        let gpath = format!("/TaskGroups/{g}");
        let bridge = list(group, "Networks")
            .iter()
            .any(|network| network.get("Mode").and_then(Value::as_str) == Some("bridge"));
        for (s, service) in list(group, "Services").iter().enumerate() {
            services(&mut uses, service, &format!("{gpath}/Services/{s}"));
        }
        for (t, task) in list(group, "Tasks").iter().enumerate() {
            let tpath = format!("{gpath}/Tasks/{t}");
            let extra_hosts = task.get("Config").is_some_and(|config| has(config, "extra_hosts"));
            if bridge && extra_hosts {
                uses.push((Feature::BridgeExtraHosts, format!("{tpath}/Config/extra_hosts")));
            }
            if task.get("Vault").is_some_and(|vault| has(vault, "Role")) {
                uses.push((Feature::VaultWorkloadIdentity, format!("{tpath}/Vault/Role")));
            }
            for s in 0..list(task, "Secrets").len() {
                uses.push((Feature::SecretBlocks, format!("{tpath}/Secrets/{s}")));
            }
            for (s, service) in list(task, "Services").iter().enumerate() {
                services(&mut uses, service, &format!("{tpath}/Services/{s}"));
            }
        }
    }
    let version = features.describe();
    uses.into_iter()
        .filter(|(feature, _)| !features.has(*feature))
        .map(|(feature, pointer)| {
            let (line, column) = decoded.position(&pointer);
            Diagnostic::error(
                file,
                line,
                column,
                format!(
                    "{} needs Nomad {} or newer; the target is {version}",
                    feature.describe(),
                    short(feature)
                ),
            )
        })
        .collect()
}

fn services(uses: &mut Vec<(Feature, String)>, service: &Value, path: &str) {
    if service.get("Provider").and_then(Value::as_str) != Some("nomad") {
        return;
    }
    uses.push((Feature::NativeServiceDiscovery, format!("{path}/Provider")));
    for c in 0..list(service, "Checks").len() {
        uses.push((Feature::NativeServiceChecks, format!("{path}/Checks/{c}")));
    }
}

fn short(feature: Feature) -> String {
    let since = feature.since();
    match since.patch {
        0 => format!("{}.{}", since.major, since.minor),
        patch => format!("{}.{}.{patch}", since.major, since.minor),
    }
}

fn has(object: &Value, key: &str) -> bool {
    match object.get(key) {
        None | Some(Value::Null) => false,
        Some(Value::String(text)) => !text.is_empty(),
        Some(_) => true,
    }
}

fn list<'v>(object: &'v Value, key: &str) -> &'v [Value] {
    object.get(key).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}
