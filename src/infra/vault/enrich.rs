//! Secret suggestions for a generation (the CLI's and the bot's): where each secret variable
//! of the analysis probably lives in Vault, from the team's conventions and the paths that
//! exist, turned into answers when confident and into notes always.
//!
//! Owns only the wiring: the listing of existing paths, asked once ([`secret_paths`]), and
//! turning suggestions into answers ([`suggest_answers`], pure, for each set of answers); the
//! suggestions themselves are `suggest`'s, the listing the client's (metadata only). Vault is
//! optional: without it the conventions alone are used.

use super::{suggest_secrets, KvMount, Mount, SecretListing, VaultClient, VaultConventions};
use crate::analyze::Analysis;
use crate::jobspec::answers::Answers;
use crate::jobspec::config::Config;
use crate::settings::Settings;

/// Suggestions at or above this confidence become answers; the rest are only shown.
pub const ANSWER_CONFIDENCE: f64 = 0.8;

/// Most secret paths listed to compare names with.
const LISTING_LIMIT: usize = 500;

/// The secret paths of the KV mount a generation reads (`[vault] mount` of
/// `.nomad-spec.toml`, else `kv`), metadata only; `None` with a note when Vault is not
/// configured or cannot list them.
pub async fn secret_paths(
    config: &Config,
    settings: &Settings,
) -> (Option<SecretListing>, Vec<String>) {
    match VaultClient::configured(settings) {
        Ok(Some(client)) => {
            let mount = config.vault.as_ref().and_then(|v| v.mount.clone());
            let mount = mount.unwrap_or_else(|| "kv".to_string());
            match listing(&client, &mount).await {
                Ok(listing) => (Some(listing), Vec::new()),
                Err(why) => (None, vec![format!("Vault listing of {mount}/ skipped: {why}")]),
            }
        }
        Ok(None) => (
            None,
            vec!["Vault is not configured (VAULT_ADDR): secret paths come from the conventions \
                  only"
                .to_string()],
        ),
        Err(err) => (None, vec![format!("Vault skipped: {err}")]),
    }
}

/// Suggests a Vault `path#key` for each secret variable nobody answered (from the team's
/// conventions in `config` and the paths `listing` holds), applies the confident ones to
/// `answers` (`secret.VAR`), and says what it did.
pub fn suggest_answers(
    analysis: &Analysis,
    app_name: &str,
    config: &Config,
    listing: Option<&SecretListing>,
    answers: &mut Answers,
) -> Vec<String> {
    let mut notes = Vec::new();
    let conventions = VaultConventions {
        patterns: config.cluster.vault_paths.clone(),
        mappings: config.cluster.secret_locations.clone(),
    };
    for suggestion in suggest_secrets(analysis, app_name, &conventions, listing) {
        if answers.secrets.contains_key(&suggestion.variable) {
            continue;
        }
        let reference = suggestion.reference();
        let shown = format!(
            "secret.{} = {reference} ({:.2}, {})",
            suggestion.variable, suggestion.confidence, suggestion.reason
        );
        if suggestion.confidence < ANSWER_CONFIDENCE {
            notes.push(format!("suggested, not applied: {shown}"));
            continue;
        }
        match answers.set(&format!("secret.{}={reference}", suggestion.variable)) {
            Ok(()) => notes.push(format!("from Vault conventions and paths: {shown}")),
            Err(err) => notes.push(format!("suggestion {shown} not usable: {err}")),
        }
    }
    notes
}

/// The secret paths of one KV mount, metadata only.
async fn listing(client: &VaultClient, mount: &str) -> Result<SecretListing, String> {
    let kv = match client.mount_of(mount).await.map_err(|err| err.to_string())? {
        Some(Mount::Kv(kv)) => kv,
        Some(Mount::Other { path, kind }) => {
            return Err(format!("{path} is a {kind} engine, not KV"));
        }
        None => return Err("no engine is mounted there".to_string()),
    };
    let KvMount { path, version } = kv.clone();
    let paths = client.list_all(&kv, "", LISTING_LIMIT).await.map_err(|err| err.to_string())?;
    Ok(SecretListing { mount: path, kv_version: version, paths })
}
