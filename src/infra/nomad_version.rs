//! The cluster's Nomad version, so that a generated job uses only what that Nomad has: asked
//! from `/v1/agent/self` at `NOMAD_ADDR` unless `.nomad-spec.toml` names a `nomad_version`.
//! Optional like every cluster service: without Nomad, the newest features are used and the
//! note says so. Used by `generate` and by the PR bot.

use crate::settings::Settings;

/// What a generation does when it does not learn the cluster's version.
pub const NEWEST: &str = "the job uses the newest Nomad's features (set nomad_version in \
                          .nomad-spec.toml to target an older cluster)";

/// Asks the cluster at `NOMAD_ADDR` for its version, so that the job uses only what that
/// Nomad has (the caller does not ask when `nomad_version` in `.nomad-spec.toml` names one):
/// the version for the configuration's `nomad_version` when Nomad told it, and what was done.
pub async fn learn(settings: &Settings) -> (Option<String>, String) {
    let agent = match crate::nomad::NomadClient::configured(settings) {
        Ok(None) => return (None, format!("NOMAD_ADDR is not set: {NEWEST}")),
        Ok(Some(client)) => client.agent_self().await,
        Err(err) => Err(err),
    };
    let features = agent.map_err(|err| err.to_string()).and_then(|agent| agent.features());
    match features {
        Ok(features) => (
            features.version.map(|version| version.to_string()),
            format!("{} at NOMAD_ADDR: the job uses only what it has", features.describe()),
        ),
        Err(err) => (None, format!("could not ask Nomad for its version ({err}): {NEWEST}")),
    }
}
