//! Persistent volumes of a service: group volume requests, mounts, and the prestart task that
//! hands a new volume to the service's user.

use std::collections::BTreeMap;

use super::{Builder, GroupNames};
use crate::analyze;
use crate::jobspec::answers::{ServiceAnswers, VolumeKind};
use crate::jobspec::config::VolumeType;
use crate::jobspec::{Lifecycle, Resources, Task, VolumeMount, VolumeRequest};

impl Builder<'_> {
    pub(super) fn volumes(
        &mut self,
        service: &analyze::Service,
        answers: &ServiceAnswers,
        names: &GroupNames,
        task: &mut Task,
        tasks: &mut Vec<Task>,
    ) -> Option<BTreeMap<String, VolumeRequest>> {
        let conventions = self.config.volumes.clone().unwrap_or_default();
        let mut volumes = BTreeMap::new();
        let mut mounts = Vec::new();
        for volume in &service.volumes {
            let answer = answers.volumes.get(&volume.path);
            if answer.is_none() && !volume.persistent {
                self.decide(
                    &format!("{} {}", service.name, volume.path),
                    "kept in the container",
                    "the data does not need to outlive an allocation",
                );
                continue;
            }
            let label = if volumes.is_empty() {
                "data".to_string()
            } else {
                format!("data{}", volumes.len() + 1)
            };
            let default_type = conventions.r#type.unwrap_or_default();
            let default_source = format!("{}-{}", names.job, names.group(&service.name))
                + &if volumes.is_empty() {
                    String::new()
                } else {
                    format!("-{}", volumes.len() + 1)
                };
            let (kind, source) = match answer {
                Some(answer) => {
                    let kind = match answer.r#type {
                        VolumeKind::Ephemeral => {
                            self.decide(
                                &format!("{} {}", service.name, volume.path),
                                "kept in the container",
                                "answered",
                            );
                            continue;
                        }
                        VolumeKind::Host => VolumeType::Host,
                        VolumeKind::Csi => VolumeType::Csi,
                    };
                    (kind, answer.source.clone().unwrap_or(default_source))
                }
                None => {
                    self.ask(
                        format!("volume.{}.{}", service.name, volume.path),
                        format!(
                            "How should {} keep {}? (host[:NAME], csi[:NAME], ephemeral)",
                            service.name, volume.path
                        ),
                        format!("{}:{default_source}", default_type.as_str()),
                        "data there must survive restarts; the volume type is the repository's \
                         [volumes] convention"
                            .into(),
                        false,
                    );
                    (default_type, default_source)
                }
            };
            let provisioning = match kind {
                VolumeType::Host => "a host volume of that name must be declared on the clients",
                VolumeType::Csi => "a CSI volume of that name must be registered with Nomad",
            };
            self.decide(
                &format!("{} {}", service.name, volume.path),
                format!("{} volume `{source}`", kind.as_str()),
                format!("persistent data; {provisioning}"),
            );
            let request = VolumeRequest {
                name: Some(label.clone()),
                r#type: Some(kind.as_str().into()),
                source: Some(source),
                read_only: Some(false),
                access_mode: (kind == VolumeType::Csi).then(|| {
                    conventions.access_mode.clone().unwrap_or_else(|| "single-node-writer".into())
                }),
                attachment_mode: (kind == VolumeType::Csi).then(|| {
                    conventions.attachment_mode.clone().unwrap_or_else(|| "file-system".into())
                }),
                per_alloc: None,
            };
            volumes.insert(label.clone(), request);
            mounts.push(VolumeMount {
                volume: Some(label),
                destination: Some(volume.path.clone()),
                read_only: Some(false),
            });
        }
        if mounts.is_empty() {
            return None;
        }
        if conventions.fix_permissions.unwrap_or(true) {
            let owner = match (&answers.owner, known_owner(service)) {
                (Some(owner), _) => owner.clone(),
                (None, Some((owner, why))) => {
                    self.decide(&service.name, format!("volume owner {owner}"), why);
                    owner
                }
                (None, None) => {
                    let owner =
                        conventions.default_owner.clone().unwrap_or_else(|| "1000:1000".into());
                    self.ask(
                        format!("owner.{}", service.name),
                        format!(
                            "Numeric uid:gid that {} runs as (owns its volumes)?",
                            service.name
                        ),
                        owner.clone(),
                        "the image's user is not known; 1000:1000 is the common first user".into(),
                        false,
                    );
                    owner
                }
            };
            let args = ["-R".to_string(), owner.clone()]
                .into_iter()
                .chain(mounts.iter().filter_map(|m| m.destination.clone()))
                .map(serde_json::Value::from);
            let image = conventions.init_image.clone().unwrap_or_else(|| "busybox:1.36".into());
            self.decide(
                &service.name,
                format!("prestart task chowns its volumes to {owner}"),
                "new volumes belong to root; the service's user must be able to write them \
                 ([volumes] fix_permissions = false turns this off)",
            );
            tasks.push(Task {
                name: format!("{}-volume-owner", task.name),
                driver: "docker".into(),
                user: Some("root".into()),
                config: Some(BTreeMap::from([
                    ("image".to_string(), serde_json::Value::from(image)),
                    ("command".to_string(), serde_json::Value::from("chown")),
                    ("args".to_string(), serde_json::Value::Array(args.collect())),
                ])),
                lifecycle: Some(Lifecycle { hook: "prestart".into(), sidecar: Some(false) }),
                volume_mounts: Some(mounts.clone()),
                resources: Some(Resources {
                    cpu: Some(50),
                    memory_mb: Some(32),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        task.volume_mounts = Some(mounts);
        Some(volumes)
    }
}

/// Who owns the service's volumes, and why: the numeric user compose or the image's `USER`
/// runs it as, else the user the image facts know for the image it runs (or is built FROM).
pub(super) fn known_owner(service: &analyze::Service) -> Option<(String, String)> {
    if let Some(user) = &service.user {
        let (uid, gid) = user.split_once(':').unwrap_or((user, user));
        let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if numeric(uid) && numeric(gid) {
            return Some((format!("{uid}:{gid}"), "the user the service runs as".into()));
        }
    }
    let image = match service.source {
        analyze::Source::Build => service.base_image.as_deref().or(service.image.as_deref()),
        _ => service.image.as_deref(),
    }?;
    let facts = analyze::images::facts(image)?;
    let owner = facts.user?;
    let source = facts.source(analyze::images::Fact::User).unwrap_or("the image facts");
    Some((owner.to_string(), format!("the user {} runs as ({source})", facts.family)))
}
