//! The bot's own settings (the action's inputs, GitLab CI/CD variables): where the job file
//! goes, whether merges deploy, how many fixes, the deployment environment's name, the bot's
//! login and commit identity. Every one has a documented variable and a default.

use std::collections::BTreeMap;

use super::{get, SettingError};

/// Where the job file goes (relative to the repository root); `{job}` is the job's name.
pub const SPEC_PATH: &str = "NOMAD_SPEC_PATH";
/// `true` (default) deploys on merge; `false` only comments and checks.
pub const AUTO_DEPLOY: &str = "NOMAD_SPEC_AUTO_DEPLOY";
/// Fix commits after failed deploys before giving up and rolling back (default 3).
pub const MAX_FIX_ITERATIONS: &str = "NOMAD_SPEC_MAX_FIX_ITERATIONS";
/// The deployment environment's name on the forge (default `nomad`).
pub const ENVIRONMENT: &str = "NOMAD_SPEC_ENVIRONMENT";
/// The login the bot's comments are written by (GitHub default `github-actions[bot]`).
pub const BOT_LOGIN: &str = "NOMAD_SPEC_BOT_LOGIN";
/// The commit author's name and e-mail for the bot's commits.
pub const COMMIT_NAME: &str = "NOMAD_SPEC_COMMIT_NAME";
pub const COMMIT_EMAIL: &str = "NOMAD_SPEC_COMMIT_EMAIL";
/// GitLab: a project access token (scope `api`, role Developer or above) for notes, statuses
/// and pushes; the job token cannot write notes.
pub const GITLAB_TOKEN: &str = "NOMAD_SPEC_GITLAB_TOKEN";

/// The default job file path.
pub const DEFAULT_SPEC_PATH: &str = "deploy/{job}.nomad.hcl";

/// What the bot itself decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotSettings {
    /// Job file path pattern (`deploy/{job}.nomad.hcl`) when set; otherwise the repository's
    /// `.nomad-spec.toml` `output`, else [`DEFAULT_SPEC_PATH`].
    pub spec_path: Option<String>,
    pub auto_deploy: bool,
    pub max_fix_iterations: u32,
    pub environment: String,
    /// `None`: the forge's default.
    pub bot_login: Option<String>,
    pub commit_name: String,
    pub commit_email: String,
}

impl BotSettings {
    /// Reads the settings from `vars` (blank values count as unset); a malformed value is an
    /// error naming the variable.
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<BotSettings, SettingError> {
        let get = |name: &str| get(vars, name);
        let auto_deploy = match get(AUTO_DEPLOY) {
            None => true,
            Some(v) => parse_bool(v).map_err(|why| {
                SettingError::caused_by(format!("{AUTO_DEPLOY}={v:?}"), SettingError::new(why))
            })?,
        };
        let max_fix_iterations = match get(MAX_FIX_ITERATIONS) {
            None => 3,
            Some(v) => v.parse::<u32>().ok().filter(|n| *n <= 10).ok_or_else(|| {
                SettingError::new(format!(
                    "{MAX_FIX_ITERATIONS}={v:?} is not a number from 0 to 10"
                ))
            })?,
        };
        Ok(BotSettings {
            spec_path: get(SPEC_PATH).map(str::to_string),
            auto_deploy,
            max_fix_iterations,
            environment: get(ENVIRONMENT).unwrap_or("nomad").to_string(),
            bot_login: get(BOT_LOGIN).map(str::to_string),
            commit_name: get(COMMIT_NAME).unwrap_or("nomad-spec[bot]").to_string(),
            commit_email: get(COMMIT_EMAIL)
                .unwrap_or("nomad-spec[bot]@users.noreply.github.com")
                .to_string(),
        })
    }
}

/// `true`/`yes`/`1`/`on` or `false`/`no`/`0`/`off`, in any case.
pub(super) fn parse_bool(text: &str) -> Result<bool, &'static str> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Ok(true),
        "false" | "no" | "0" | "off" => Ok(false),
        _ => Err("expected true or false"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_and_blank_inputs() {
        let s = BotSettings::from_vars(&vars(&[(SPEC_PATH, ""), (AUTO_DEPLOY, " ")])).unwrap();
        assert_eq!(s.spec_path, None);
        assert!(s.auto_deploy);
        assert_eq!(s.max_fix_iterations, 3);
        assert_eq!(s.environment, "nomad");
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = BotSettings::from_vars(&vars(&[(MAX_FIX_ITERATIONS, "lots")])).unwrap_err();
        assert!(format!("{err:#}").contains(MAX_FIX_ITERATIONS), "{err:#}");
        let err = BotSettings::from_vars(&vars(&[(AUTO_DEPLOY, "maybe")])).unwrap_err();
        assert!(format!("{err:#}").contains(AUTO_DEPLOY), "{err:#}");
        let s = BotSettings::from_vars(&vars(&[(AUTO_DEPLOY, "false")])).unwrap();
        assert!(!s.auto_deploy);
    }
}
