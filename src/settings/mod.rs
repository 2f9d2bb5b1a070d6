//! Settings: the process environment, read once, turned into typed settings for the bot and
//! for every client (Nomad, Vault, Consul, Fabio, the LLM, GitHub, GitLab).
//!
//! This module is the only place that reads the process environment: `main` calls
//! [`Settings::read`] once and passes the result down, and each client is built from its own
//! typed value ([`NomadConfig`], [`VaultSettings`], ...). Every variable keeps the name the
//! README documents (the `nomad`, `vault` and `consul` command lines' own names for theirs),
//! and an empty value counts as unset everywhere: a GitHub Action input left blank arrives as
//! `""`. A malformed value is a [`SettingError`] naming the variable, raised when that part is
//! asked for, so an optional service with a bad setting is skipped with the reason while the
//! rest of the run goes on. Secrets are held as [`Secret`], whose `Debug` shows `***`.
//!
//! It reads and checks values only: it builds no client and calls nothing, so it imports
//! nothing but the standard library and `url`, and any module may depend on it.

mod bot;
mod calls;
mod cluster;
mod forges;
mod llm;
mod memory;
mod serve;
mod telemetry;

use std::collections::BTreeMap;
use std::fmt;

pub use bot::{
    BotSettings, AUTO_DEPLOY, BOT_LOGIN, COMMIT_EMAIL, COMMIT_NAME, DEFAULT_SPEC_PATH, ENVIRONMENT,
    GITLAB_TOKEN, MAX_FIX_ITERATIONS, SPEC_PATH,
};
pub use calls::{
    parse_duration, CallSettings, RetryPolicy, PROBE_DEADLINE, REQUEST_TIMEOUT, RETRY_ATTEMPTS,
    RETRY_TIME,
};
pub use cluster::{
    ConsulSettings, FabioSettings, NomadConfig, VaultSettings, DEFAULT_CONVENTIONS_KEY,
    DEFAULT_FABIO_ADDRESS, DEFAULT_NOMAD_ADDRESS,
};
pub use forges::{GitHubSettings, GitLabSettings};
pub use llm::{LlmSettings, LLM_REFINE};
pub use memory::{
    EmbeddingSettings, MemorySettings, QdrantSettings, DEFAULT_MEMORY_REF, EMBEDDING_BASE_URL,
    EMBEDDING_MODEL, MEMORY, MEMORY_CLUSTER, MEMORY_PATH, MEMORY_REF, QDRANT_API_KEY, QDRANT_URL,
};
pub use serve::{
    GitHubAuth, GitHubServe, GitLabServe, PrivateKey, ServeSettings, GITHUB_APP_ID,
    GITHUB_APP_PRIVATE_KEY, GITHUB_APP_PRIVATE_KEY_FILE, GITHUB_WEBHOOK_SECRET, GITLAB_URL,
    GITLAB_WEBHOOK_TOKEN,
};
pub use telemetry::{
    CollectorSettings, LangfuseSettings, TraceSettings, LANGFUSE_HOST, LANGFUSE_PUBLIC_KEY,
    LANGFUSE_SECRET_KEY, OTLP_HEADERS, PROMPT_LABEL,
};

/// The variables whose values are secrets: masked in the CI log, cut out of anything posted.
const SECRET_VARIABLES: [&str; 16] = [
    "GITHUB_TOKEN",
    GITLAB_TOKEN,
    "CI_JOB_TOKEN",
    // GitLab's registry password, which the image workflow logs in with.
    "CI_REGISTRY_PASSWORD",
    QDRANT_API_KEY,
    "NOMAD_TOKEN",
    "VAULT_TOKEN",
    "CONSUL_HTTP_TOKEN",
    "NOMAD_SPEC_LLM_API_KEY",
    "OPENAI_API_KEY",
    GITHUB_WEBHOOK_SECRET,
    GITHUB_APP_PRIVATE_KEY,
    GITLAB_WEBHOOK_TOKEN,
    LANGFUSE_SECRET_KEY,
    OTLP_HEADERS,
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
];

/// The environment nomad-spec runs in, read once; each part is typed when it is asked for.
#[derive(Clone, Default)]
pub struct Settings {
    /// Every variable with a value that is not blank.
    vars: BTreeMap<String, String>,
}

impl fmt::Debug for Settings {
    /// Names only: the values hold tokens.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings").field("variables", &self.vars.keys()).finish()
    }
}

impl Settings {
    /// The process environment. Called once, by `main`; everything else gets the value. A
    /// variable whose name or value is not UTF-8 is left out (no setting of ours is one).
    pub fn read() -> Settings {
        Settings::from_vars(std::env::vars_os().filter_map(|(name, value)| {
            Some((name.into_string().ok()?, value.into_string().ok()?))
        }))
    }

    /// Settings from variables given as pairs (tests, and the CI job's variables), blank
    /// values dropped.
    pub fn from_vars<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Settings {
        let vars = vars
            .into_iter()
            .map(|(name, value)| (name.into(), value.into()))
            .filter(|(_, value): &(String, String)| !value.trim().is_empty())
            .collect();
        Settings { vars }
    }

    /// Every variable with a value, as given: the CI event is read from these (the forge's
    /// own `GITHUB_*` and `CI_*` variables).
    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }

    /// One variable, trimmed; `None` when unset or blank.
    pub fn var(&self, name: &str) -> Option<&str> {
        get(&self.vars, name)
    }

    /// The bot's own settings (`NOMAD_SPEC_*`).
    pub fn bot(&self) -> Result<BotSettings, SettingError> {
        BotSettings::from_vars(&self.vars)
    }

    /// How services are called: the retry policy, the request timeout and the probing
    /// deadline of the optional services (`NOMAD_SPEC_RETRY_*`, `NOMAD_SPEC_REQUEST_TIMEOUT`,
    /// `NOMAD_SPEC_PROBE_DEADLINE`).
    pub fn calls(&self) -> Result<CallSettings, SettingError> {
        CallSettings::from_vars(&self.vars)
    }

    /// Nomad's connection settings, with the `nomad` command's defaults for what is unset.
    pub fn nomad(&self) -> Result<NomadConfig, SettingError> {
        NomadConfig::from_vars(&self.vars)
    }

    /// Nomad's connection settings when `NOMAD_ADDR` is set; `None` for the callers to whom
    /// Nomad is optional (checks, the cluster's version, the bot's deploys).
    pub fn configured_nomad(&self) -> Result<Option<NomadConfig>, SettingError> {
        match self.var("NOMAD_ADDR") {
            None => Ok(None),
            Some(_) => self.nomad().map(Some),
        }
    }

    /// Vault's settings; `None` when `VAULT_ADDR` is unset.
    pub fn vault(&self) -> Result<Option<VaultSettings>, SettingError> {
        VaultSettings::from_vars(&self.vars)
    }

    /// Consul's settings; `None` when `CONSUL_HTTP_ADDR` is unset.
    pub fn consul(&self) -> Result<Option<ConsulSettings>, SettingError> {
        ConsulSettings::from_vars(&self.vars)
    }

    /// Fabio's admin address (a default when unset).
    pub fn fabio(&self) -> Result<FabioSettings, SettingError> {
        FabioSettings::from_vars(&self.vars)
    }

    /// The LLM's settings; `None` when no base URL is set.
    pub fn llm(&self) -> Result<Option<LlmSettings>, SettingError> {
        LlmSettings::from_vars(&self.vars)
    }

    /// Whether the LLM reviews the rules' jobs (`NOMAD_SPEC_LLM_REFINE`, on unless off).
    pub fn llm_refine(&self) -> Result<bool, SettingError> {
        llm::refine_after_rules(&self.vars)
    }

    /// Memory's settings; `None` when `NOMAD_SPEC_MEMORY` turns it off.
    pub fn memory(&self) -> Result<Option<MemorySettings>, SettingError> {
        MemorySettings::from_vars(&self.vars)
    }

    /// Where traces go (LangFuse, an OTLP collector) and the prompt label.
    pub fn traces(&self) -> Result<TraceSettings, SettingError> {
        TraceSettings::from_vars(&self.vars)
    }

    /// LangFuse, for traces, prompts and scores; `None` when it is not configured.
    pub fn langfuse(&self) -> Result<Option<LangfuseSettings>, SettingError> {
        LangfuseSettings::from_vars(&self.vars)
    }

    /// GitHub's settings, as GitHub Actions sets them.
    pub fn github(&self) -> Result<GitHubSettings, SettingError> {
        GitHubSettings::from_vars(&self.vars)
    }

    /// GitLab's settings, from the CI job's variables.
    pub fn gitlab(&self) -> Result<GitLabSettings, SettingError> {
        GitLabSettings::from_vars(&self.vars)
    }

    /// The webhook server's settings (`nomad-spec serve`): the forges it answers and as whom.
    pub fn serve(&self) -> Result<ServeSettings, SettingError> {
        ServeSettings::from_vars(&self.vars)
    }

    /// The values of every secret variable that is set, to mask in logs and cut out of text
    /// that leaves the process.
    pub fn secret_values(&self) -> Vec<&str> {
        SECRET_VARIABLES
            .iter()
            .filter_map(|name| self.vars.get(*name))
            .map(String::as_str)
            .collect()
    }

    /// The page of this CI run, where its whole log is: GitHub Actions'
    /// `GITHUB_SERVER_URL/GITHUB_REPOSITORY/actions/runs/GITHUB_RUN_ID`, GitLab's `CI_JOB_URL`.
    pub fn run_url(&self) -> Option<String> {
        if let Some(url) = self.var("CI_JOB_URL") {
            return Some(url.to_string());
        }
        let server = self.var("GITHUB_SERVER_URL").unwrap_or("https://github.com");
        let repository = self.var("GITHUB_REPOSITORY")?;
        let run = self.var("GITHUB_RUN_ID")?;
        Some(format!("{}/{repository}/actions/runs/{run}", server.trim_end_matches('/')))
    }
}

/// A variable of `vars`, trimmed; `None` when unset or blank (one rule for every setting).
fn get<'a>(vars: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    vars.get(name).map(|value| value.trim()).filter(|value| !value.is_empty())
}

/// A setting that cannot be used, in words that name the variable.
#[derive(Debug)]
pub struct SettingError {
    message: String,
    cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl SettingError {
    /// The setting is wrong, for the reason `message` gives.
    pub fn new(message: impl Into<String>) -> SettingError {
        SettingError { message: message.into(), cause: None }
    }

    /// The setting is wrong, for the reason `message` gives, because of `cause` (shown in an
    /// error chain: `{:#}`).
    pub fn caused_by(
        message: impl Into<String>,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> SettingError {
        SettingError { message: message.into(), cause: Some(Box::new(cause)) }
    }
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SettingError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause.as_deref().map(|cause| cause as &(dyn std::error::Error + 'static))
    }
}

/// A token or key. Its `Debug` output is `***` whatever it holds, so a settings value, a
/// client or an error that carries one can be printed; the value itself is read only where it
/// is sent ([`Secret::as_str`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the header or the credentials that carry it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `text` with the secret masked, for text that came from elsewhere (a server may echo a
    /// header, a remote its URL).
    pub fn redact(&self, text: &str) -> String {
        if self.0.is_empty() {
            text.to_string()
        } else {
            text.replace(&self.0, "***")
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret(value.to_string())
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl PartialEq<&str> for Secret {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_print_one_way_wherever_they_are_held() {
        let secret = Secret::from("s3cr3t-value");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some(***)");
        assert_eq!(secret.as_str(), "s3cr3t-value");
        assert_eq!(secret.redact("denied for s3cr3t-value"), "denied for ***");
        assert_eq!(Secret::from("").redact("as is"), "as is");
        let settings = Settings::from_vars([
            ("NOMAD_ADDR", "http://127.0.0.1:4646"),
            ("NOMAD_TOKEN", "s3cr3t-nomad"),
            ("VAULT_ADDR", "http://127.0.0.1:8200"),
            ("VAULT_TOKEN", "s3cr3t-vault"),
            ("CONSUL_HTTP_ADDR", "127.0.0.1:8500"),
            ("CONSUL_HTTP_TOKEN", "s3cr3t-consul"),
            ("NOMAD_SPEC_LLM_BASE_URL", "http://127.0.0.1:8000/v1"),
            ("NOMAD_SPEC_LLM_API_KEY", "s3cr3t-llm"),
            ("GITHUB_REPOSITORY", "acme/shop"),
            ("GITHUB_TOKEN", "s3cr3t-github"),
            ("CI_API_V4_URL", "https://gitlab.example.com/api/v4"),
            ("CI_PROJECT_PATH", "acme/shop"),
            (GITLAB_TOKEN, "s3cr3t-gitlab"),
        ]);
        let printed = format!(
            "{settings:?} {:?} {:?} {:?} {:?} {:?} {:?}",
            settings.nomad().unwrap(),
            settings.vault().unwrap(),
            settings.consul().unwrap(),
            settings.llm().unwrap(),
            settings.github().unwrap(),
            settings.gitlab().unwrap(),
        );
        assert!(!printed.contains("s3cr3t"), "{printed}");
        assert_eq!(printed.matches("***").count(), 6, "{printed}");
        let mut secrets = settings.secret_values();
        secrets.sort_unstable();
        assert_eq!(
            secrets,
            [
                "s3cr3t-consul",
                "s3cr3t-github",
                "s3cr3t-gitlab",
                "s3cr3t-llm",
                "s3cr3t-nomad",
                "s3cr3t-vault"
            ]
        );
    }

    #[test]
    fn every_variable_that_holds_a_credential_is_masked() {
        let settings = Settings::from_vars([
            ("CI_REGISTRY_USER", "gitlab-ci-token"),
            ("CI_REGISTRY_PASSWORD", "s3cr3t-registry"),
            (QDRANT_URL, "http://127.0.0.1:6334"),
            (QDRANT_API_KEY, "s3cr3t-qdrant"),
            (OTLP_HEADERS, "authorization=s3cr3t-otlp"),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "authorization=s3cr3t-traces"),
            (LANGFUSE_PUBLIC_KEY, "pk-lf-public"),
            (LANGFUSE_SECRET_KEY, "s3cr3t-langfuse"),
        ]);
        let mut secrets = settings.secret_values();
        secrets.sort_unstable();
        assert_eq!(
            secrets,
            [
                "authorization=s3cr3t-otlp",
                "authorization=s3cr3t-traces",
                "s3cr3t-langfuse",
                "s3cr3t-qdrant",
                "s3cr3t-registry"
            ]
        );
    }

    #[test]
    fn blank_values_count_as_unset() {
        let settings = Settings::from_vars([("NOMAD_ADDR", " "), ("VAULT_ADDR", "")]);
        assert!(settings.vars().is_empty());
        assert!(settings.configured_nomad().unwrap().is_none());
        assert!(settings.vault().unwrap().is_none());
        assert_eq!(settings.var("NOMAD_ADDR"), None);
    }

    #[test]
    fn the_run_is_found_on_either_forge() {
        let github = Settings::from_vars([
            ("GITHUB_SERVER_URL", "https://ghe.example.com/"),
            ("GITHUB_REPOSITORY", "acme/shop"),
            ("GITHUB_RUN_ID", "42"),
        ]);
        assert_eq!(
            github.run_url().as_deref(),
            Some("https://ghe.example.com/acme/shop/actions/runs/42")
        );
        let gitlab = Settings::from_vars([("CI_JOB_URL", "https://gitlab.example.com/j/7")]);
        assert_eq!(gitlab.run_url().as_deref(), Some("https://gitlab.example.com/j/7"));
        assert_eq!(Settings::from_vars([("GITHUB_REPOSITORY", "acme/shop")]).run_url(), None);
    }

    #[test]
    fn a_bad_value_names_its_variable_and_keeps_its_cause() {
        let settings = Settings::from_vars([
            ("NOMAD_SPEC_LLM_BASE_URL", "not a url"),
            ("NOMAD_SKIP_VERIFY", "maybe"),
        ]);
        let err = settings.llm().unwrap_err();
        assert_eq!(err.to_string(), "NOMAD_SPEC_LLM_BASE_URL `not a url` is not a URL");
        let chain = format!("{:#}", anyhow::Error::new(err));
        assert!(chain.starts_with("NOMAD_SPEC_LLM_BASE_URL `not a url` is not a URL: "), "{chain}");
        assert!(settings.nomad().unwrap_err().to_string().contains("NOMAD_SKIP_VERIFY"));
    }
}
