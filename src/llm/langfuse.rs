//! Prompts from LangFuse prompt management: a task's prompt fetched by name and label
//! (`GET /api/public/v2/prompts/{task}?label=production`), cached for the run, and a new
//! version created (`POST /api/public/v2/prompts`) by `optimize`.
//!
//! LangFuse is optional and never stops a run: when it is down, refuses the keys, or has no
//! prompt of that name, the task uses its built-in prompt, and the reason is said once. The
//! cache lives as long as the process, so every LLM client of one run (the bot makes a few)
//! uses the same version of a prompt, and a run asks LangFuse at most once per task.

use std::collections::BTreeMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};

use super::prompt::{Prompt, Source};
use crate::http::{shown_address, Redactor};
use crate::settings::LangfuseSettings;

/// How long LangFuse is waited for: a prompt fetch sits before an LLM call, so it is short.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// What one fetch gave: the prompt, or why the built-in one is used.
type Fetched = Result<Prompt, String>;

/// Prompts fetched in this process, by host, label and task; and hosts found down.
#[derive(Default)]
struct Cache {
    prompts: BTreeMap<(String, String, String), Fetched>,
    down: BTreeMap<String, String>,
}

static CACHE: LazyLock<Mutex<Cache>> = LazyLock::new(Mutex::default);

/// A LangFuse project's prompts.
#[derive(Debug, Clone)]
pub struct LangfusePrompts {
    http: reqwest::Client,
    settings: LangfuseSettings,
}

impl LangfusePrompts {
    /// A client for the project `settings` name.
    pub fn new(settings: LangfuseSettings) -> anyhow::Result<LangfusePrompts> {
        crate::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .user_agent(concat!("nomad-spec/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(LangfusePrompts { http, settings })
    }

    fn authorization(&self) -> String {
        let pair = format!("{}:{}", self.settings.public_key, self.settings.secret_key.as_str());
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
    }

    fn redactor(&self) -> Redactor {
        Redactor::default().with(Some(&self.settings.secret_key))
    }

    /// The prompt of `task` under the configured label, once per process; an error says why
    /// the built-in prompt is used instead.
    pub async fn prompt(&self, task: &str) -> Fetched {
        let host = self.settings.host.clone();
        let key = (host.clone(), self.settings.prompt_label.clone(), task.to_string());
        if let Ok(cache) = CACHE.lock() {
            if let Some(fetched) = cache.prompts.get(&key) {
                return fetched.clone();
            }
            if let Some(why) = cache.down.get(&host) {
                return Err(why.clone());
            }
        }
        let (fetched, down) = self.fetch(task).await;
        if let Ok(mut cache) = CACHE.lock() {
            if down {
                if let Err(why) = &fetched {
                    cache.down.insert(host, why.clone());
                }
            } else {
                cache.prompts.insert(key, fetched.clone());
            }
        }
        if let Err(why) = &fetched {
            tracing::warn!("{why}");
        }
        fetched
    }

    /// One fetch; the flag says LangFuse itself failed (not just this prompt).
    async fn fetch(&self, task: &str) -> (Fetched, bool) {
        let label = &self.settings.prompt_label;
        let url = format!("{}/api/public/v2/prompts/{task}", self.settings.host);
        let shown = shown_address(&url);
        let fallback = |why: String| {
            format!("LangFuse prompt `{task}` not used ({why}): the built-in prompt stands")
        };
        let sent = self
            .http
            .get(&url)
            .query(&[("label", label.as_str())])
            .header("authorization", self.authorization())
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(err) => {
                let why = crate::http::error_chain(&err.without_url());
                return (Err(fallback(format!("cannot reach {shown}: {why}"))), true);
            }
        };
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let text = self.redactor().redact(&text);
        match status {
            200 => {}
            404 => return (Err(fallback(format!("no version labelled `{label}`"))), false),
            401 | 403 => {
                return (Err(fallback(format!("HTTP {status}: the keys are refused"))), true)
            }
            _ => return (Err(fallback(format!("HTTP {status} from {shown}"))), true),
        }
        (read_prompt(&text, task, label).map_err(fallback), false)
    }

    /// Creates a version of prompt `name` with `body` and `labels`; its version number.
    pub async fn create(
        &self,
        name: &str,
        body: &str,
        labels: &[&str],
        message: &str,
    ) -> anyhow::Result<u64> {
        let url = format!("{}/api/public/v2/prompts", self.settings.host);
        let request = json!({
            "name": name,
            "type": "text",
            "prompt": body,
            "labels": labels,
            "config": {},
            "commitMessage": message,
        });
        let response = self
            .http
            .post(&url)
            .header("authorization", self.authorization())
            .json(&request)
            .send()
            .await
            .map_err(|err| {
                anyhow::anyhow!(
                    "cannot reach {}: {}",
                    shown_address(&url),
                    crate::http::error_chain(&err.without_url())
                )
            })?;
        let status = response.status().as_u16();
        let text = self.redactor().redact(&response.text().await.unwrap_or_default());
        if !(200..300).contains(&status) {
            anyhow::bail!(
                "LangFuse refused the new version of `{name}` (HTTP {status}): {}",
                text.chars().take(200).collect::<String>()
            );
        }
        let created: Value = serde_json::from_str(&text)
            .map_err(|err| anyhow::anyhow!("LangFuse's answer is not JSON: {err}"))?;
        created["version"]
            .as_u64()
            .ok_or_else(|| anyhow::anyhow!("LangFuse's answer has no `version`"))
    }
}

/// A text prompt from LangFuse's answer; a chat prompt or a prompt of another name is refused.
fn read_prompt(text: &str, task: &str, label: &str) -> Result<Prompt, String> {
    let answer: Value =
        serde_json::from_str(text).map_err(|err| format!("the answer is not JSON: {err}"))?;
    if answer["name"].as_str() != Some(task) {
        return Err(format!(
            "the answer is the prompt `{}`",
            answer["name"].as_str().unwrap_or("?")
        ));
    }
    let version = answer["version"].as_u64().ok_or("the answer has no version")?;
    let body = answer["prompt"].as_str().ok_or("it is not a text prompt")?;
    Ok(Prompt {
        name: task.to_string(),
        version: version.to_string(),
        body: body.to_string(),
        source: Source::Langfuse { label: label.to_string() },
    })
}

#[cfg(test)]
mod tests {
    use super::read_prompt;
    use crate::llm::prompt::Source;

    #[test]
    fn a_text_prompt_of_the_task_is_read_others_refused() {
        let text = r#"{"name":"answers","version":3,"type":"text","prompt":"Read {{reply}}","labels":["production"]}"#;
        let prompt = read_prompt(text, "answers", "production").unwrap();
        assert_eq!((prompt.version.as_str(), prompt.body.as_str()), ("3", "Read {{reply}}"));
        assert_eq!(prompt.source, Source::Langfuse { label: "production".into() });
        let chat = r#"{"name":"answers","version":3,"type":"chat","prompt":[{"role":"system","content":"x"}]}"#;
        assert_eq!(
            read_prompt(chat, "answers", "production"),
            Err("it is not a text prompt".into())
        );
        let other = r#"{"name":"refine","version":1,"prompt":"x"}"#;
        assert!(read_prompt(other, "answers", "production").is_err());
    }
}
