//! The cluster's Nomad version, so that a generated job uses only what that Nomad has: asked
//! from `/v1/agent/self` at `NOMAD_ADDR` unless `.nomad-spec.toml` names a `nomad_version`.
//! Optional like every cluster service: without Nomad, the newest features are used and the
//! note says so. Used by `generate` and by the PR bot.

use crate::jobspec::config::Config;
use crate::settings::Settings;

/// Asks the cluster at `NOMAD_ADDR` for its version, so that the job uses only what that
/// Nomad has (`nomad_version` in `.nomad-spec.toml` wins and is not asked); says what it did.
pub async fn learn(config: &mut Config, settings: &Settings) -> String {
    const NEWEST: &str = "the job uses the newest Nomad's features (set nomad_version in \
                          .nomad-spec.toml to target an older cluster)";
    let agent = match crate::nomad::NomadClient::configured(settings) {
        Ok(None) => return format!("NOMAD_ADDR is not set: {NEWEST}"),
        Ok(Some(client)) => client.agent_self().await,
        Err(err) => Err(err),
    };
    let features = agent.map_err(|err| err.to_string()).and_then(|agent| agent.features());
    match features {
        Ok(features) => {
            config.nomad_version = features.version.map(|version| version.to_string());
            format!("{} at NOMAD_ADDR: the job uses only what it has", features.describe())
        }
        Err(err) => format!("could not ask Nomad for its version ({err}): {NEWEST}"),
    }
}
