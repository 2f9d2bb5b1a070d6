//! The LLM's settings: an OpenAI-compatible endpoint (`NOMAD_SPEC_LLM_*`, else the
//! `OPENAI_*` variables the OpenAI tools read), the model, and the limits of one run.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{get, CallSettings, RetryPolicy, Secret, SettingError};

/// Whether `generate` and the bot have the LLM review the rules' jobs (the `refine` task):
/// on unless set off (`eval --llm on` shows what it changes; README, "The LLM advisor").
pub const LLM_REFINE: &str = "NOMAD_SPEC_LLM_REFINE";

/// [`LLM_REFINE`] read from `vars`: true unless it says off.
pub fn refine_after_rules(vars: &BTreeMap<String, String>) -> Result<bool, SettingError> {
    match get(vars, LLM_REFINE) {
        None => Ok(true),
        Some(text) => super::bot::parse_bool(text)
            .map_err(|why| SettingError::new(format!("{LLM_REFINE} `{text}`: {why}"))),
    }
}

/// Where the LLM is and how to use it.
#[derive(Debug, Clone)]
pub struct LlmSettings {
    /// Base URL ending before `/chat/completions` (`http://localhost:8000/v1`).
    pub base_url: String,
    /// Bearer token; some local servers need none.
    pub api_key: Option<Secret>,
    /// Model name sent with every request.
    pub model: String,
    /// Limit on one HTTP call.
    pub timeout: Duration,
    /// When a call is tried again: the policy of every client, with
    /// `NOMAD_SPEC_LLM_MAX_RETRIES` retries and room for each of them to take `timeout`.
    pub retry: RetryPolicy,
    /// Tokens (prompt plus completion) one run may spend.
    pub token_budget: u64,
}

impl LlmSettings {
    /// Reads the settings from environment variables given as a map:
    /// `NOMAD_SPEC_LLM_BASE_URL` (else `OPENAI_BASE_URL`), `NOMAD_SPEC_LLM_API_KEY` (else
    /// `OPENAI_API_KEY`), `NOMAD_SPEC_LLM_MODEL` (default `default`, which llama.cpp's server
    /// accepts), `NOMAD_SPEC_LLM_TIMEOUT` (seconds, default 30),
    /// `NOMAD_SPEC_LLM_MAX_RETRIES` (default 2), `NOMAD_SPEC_LLM_TOKEN_BUDGET` (default
    /// 200000), and the retry policy of every client (`NOMAD_SPEC_RETRY_TIME`, ...).
    /// `Ok(None)` when no base URL is set: the LLM is not configured.
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<Option<Self>, SettingError> {
        let get = |name: &str| get(vars, name);
        let Some(base_url) = get("NOMAD_SPEC_LLM_BASE_URL").or_else(|| get("OPENAI_BASE_URL"))
        else {
            return Ok(None);
        };
        url::Url::parse(base_url).map_err(|err| {
            SettingError::caused_by(
                format!("NOMAD_SPEC_LLM_BASE_URL `{base_url}` is not a URL"),
                err,
            )
        })?;
        let number = |name: &str, default: u64| -> Result<u64, SettingError> {
            match get(name) {
                None => Ok(default),
                Some(text) => text.parse().map_err(|err| {
                    SettingError::caused_by(format!("{name} `{text}` is not a whole number"), err)
                }),
            }
        };
        let timeout = Duration::from_secs(number("NOMAD_SPEC_LLM_TIMEOUT", 30)?.max(1));
        let retries = u32::try_from(number("NOMAD_SPEC_LLM_MAX_RETRIES", 2)?.min(10)).unwrap_or(2);
        let calls = CallSettings::from_vars(vars)?;
        // An answer legitimately takes long to write: every try gets its whole timeout.
        let attempts = retries + 1;
        let retry = RetryPolicy {
            attempts,
            total: calls.retry.total.max(timeout.saturating_mul(attempts)),
            ..calls.retry
        };
        Ok(Some(LlmSettings {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: get("NOMAD_SPEC_LLM_API_KEY")
                .or_else(|| get("OPENAI_API_KEY"))
                .map(Into::into),
            model: get("NOMAD_SPEC_LLM_MODEL").unwrap_or("default").to_string(),
            timeout,
            retry,
            token_budget: number("NOMAD_SPEC_LLM_TOKEN_BUDGET", 200_000)?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn settings_come_from_the_environment() {
        let none = LlmSettings::from_vars(&vars(&[("NOMAD_SPEC_LLM_MODEL", "qwen")]));
        assert!(matches!(none, Ok(None)));
        let settings = LlmSettings::from_vars(&vars(&[
            ("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1/"),
            ("OPENAI_API_KEY", "sk-very-secret"),
            ("NOMAD_SPEC_LLM_MODEL", "qwen"),
            ("NOMAD_SPEC_LLM_TIMEOUT", "5"),
        ]));
        let Ok(Some(settings)) = settings else { panic!("{settings:?}") };
        assert_eq!(settings.base_url, "http://127.0.0.1:8000/v1");
        assert_eq!(settings.model, "qwen");
        assert_eq!(settings.timeout.as_secs(), 5);
        let debug = format!("{settings:?}");
        assert!(!debug.contains("sk-very-secret"), "{debug}");
        let own_first = LlmSettings::from_vars(&vars(&[
            ("OPENAI_BASE_URL", "http://a/v1"),
            ("NOMAD_SPEC_LLM_BASE_URL", "http://b/v1"),
        ]));
        assert!(matches!(own_first, Ok(Some(s)) if s.base_url == "http://b/v1"));
        let bad = LlmSettings::from_vars(&vars(&[
            ("NOMAD_SPEC_LLM_BASE_URL", "http://b/v1"),
            ("NOMAD_SPEC_LLM_TIMEOUT", "soon"),
        ]));
        let message = bad.map(|_| ()).map_err(|e| e.to_string());
        assert_eq!(message, Err("NOMAD_SPEC_LLM_TIMEOUT `soon` is not a whole number".into()));
    }

    #[test]
    fn refine_runs_unless_set_off() {
        assert!(matches!(refine_after_rules(&vars(&[])), Ok(true)));
        assert!(matches!(refine_after_rules(&vars(&[(LLM_REFINE, "off")])), Ok(false)));
        assert!(matches!(refine_after_rules(&vars(&[(LLM_REFINE, "on")])), Ok(true)));
        let bad = refine_after_rules(&vars(&[(LLM_REFINE, "maybe")])).map_err(|e| e.to_string());
        assert_eq!(bad, Err("NOMAD_SPEC_LLM_REFINE `maybe`: expected true or false".into()));
    }
}
