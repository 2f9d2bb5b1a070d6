//! The HTTP client for an OpenAI-compatible chat completions endpoint (vLLM, llama.cpp's
//! server, OpenAI, Anthropic's compatible endpoint).
//!
//! One [`Client::ask`] is one task's question: it asks for structured output with the task's
//! JSON schema (`response_format: json_schema`, which vLLM and llama.cpp enforce), falls back
//! to JSON mode when the server refuses that (HTTP 400) or the answer does not fit, and then
//! allows one repair attempt quoting what was wrong. Transient failures (429, 5xx, a broken
//! connection) are retried under the retry policy every client shares (`crate::http::retry`),
//! waiting what `Retry-After` asks (capped). A per-run token budget
//! stops calls once spent. Every HTTP call is recorded with its tokens and latency. The API
//! key is sent as a bearer token and never printed (it is a `Secret`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use serde_json::{json, Value};

use super::prompt::Prompt;
use super::schema;
use crate::http::retry::{self, Repeat, Transience};
use crate::http::{shown_address, Redactor};
use crate::settings::{LlmSettings, Settings};

/// One HTTP call to the LLM, for the run's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallRecord {
    /// The task asked (`answers`).
    pub task: String,
    /// Tokens of the prompt, as the server counted them.
    pub prompt_tokens: u64,
    /// Tokens of the answer.
    pub completion_tokens: u64,
    /// Time from sending to the whole answer.
    pub latency_ms: u64,
    /// `ok`, or what went wrong (`HTTP 429`, `timed out`).
    pub outcome: String,
}

/// Why a question to the LLM got no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    /// The run's token budget is spent.
    #[error("the token budget of {budget} tokens is spent ({spent} used)")]
    BudgetSpent {
        /// Tokens used so far.
        spent: u64,
        /// The budget.
        budget: u64,
    },
    /// No answer within the timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The endpoint could not be reached.
    #[error("cannot reach {0}")]
    Unreachable(String),
    /// Still rate-limited or failing after the retries.
    #[error("HTTP {status} after {attempts} attempts: {message}")]
    GaveUp {
        /// The last status.
        status: u16,
        /// Calls made.
        attempts: u32,
        /// The last answer's text, shortened.
        message: String,
    },
    /// The endpoint does not speak the chat completions API.
    #[error("{0} is not an OpenAI-compatible chat completions endpoint")]
    NotOpenAi(String),
    /// The server refused the request.
    #[error("HTTP {status}: {message}")]
    Refused {
        /// The status.
        status: u16,
        /// The answer's text, shortened.
        message: String,
    },
    /// The answer did not fit the schema, even after one repair attempt.
    #[error("the answer does not fit the task's schema: {0}")]
    Invalid(String),
}

/// What a task asks: its prompt (already rendered) and the schema of its answer.
#[derive(Debug, Clone)]
pub struct Ask {
    /// The task name; it names the schema too.
    pub task: String,
    /// The prompt's version, for the record.
    pub version: String,
    /// The rendered prompt.
    pub prompt: String,
    /// The JSON schema the answer must fit.
    pub schema: Value,
    /// A narrower schema sent to the server instead, when the task has one: it enumerates
    /// what the guardrails accept (this job's groups, the allowed keys), so a server with
    /// constrained decoding can only write acceptable answers. Answers are still checked
    /// against `schema`, leaving the finer refusals, with their reasons, to the guardrails.
    pub constrained: Option<Value>,
}

impl Ask {
    /// The schema the server is asked to follow.
    fn sent_schema(&self) -> &Value {
        self.constrained.as_ref().unwrap_or(&self.schema)
    }
}

/// A client for one run: settings, prompt overrides, the calls made and the tokens spent.
pub struct Client {
    http: reqwest::Client,
    settings: LlmSettings,
    prompts: BTreeMap<String, Prompt>,
    calls: Mutex<Vec<CallRecord>>,
    /// LangFuse prompt management, when configured: the tasks' prompts come from there.
    langfuse: Option<super::langfuse::LangfusePrompts>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The settings' own `Debug` hides the API key.
        f.debug_struct("Client")
            .field("settings", &self.settings)
            .field("prompt_overrides", &self.prompts.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// How the answer's JSON is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    JsonSchema,
    JsonObject,
}

fn shorten(text: &str) -> String {
    let text: String = text.chars().take(160).collect();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The JSON inside a model's answer, tolerating a Markdown code fence around it.
fn answer_json(content: &str) -> Result<Value, String> {
    let trimmed = content.trim();
    let inner = trimmed
        .strip_prefix("```json")
        .or_else(|| trimmed.strip_prefix("```"))
        .and_then(|rest| rest.trim_end().strip_suffix("```"))
        .unwrap_or(trimmed);
    serde_json::from_str(inner.trim())
        .map_err(|err| format!("the answer is not JSON ({err}): `{}`", shorten(trimmed)))
}

impl Client {
    /// A client for these settings.
    pub fn new(settings: LlmSettings) -> anyhow::Result<Client> {
        crate::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .user_agent(concat!("nomad-spec/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build the LLM's HTTP client")?;
        Ok(Client {
            http,
            settings,
            prompts: BTreeMap::new(),
            calls: Mutex::new(Vec::new()),
            langfuse: None,
        })
    }

    /// A client when `settings` configure an LLM; `Ok(None)` when they do not. With LangFuse
    /// configured, the prompts come from its prompt management (a LangFuse setting that cannot
    /// be used leaves the built-in prompts, with a warning).
    pub fn configured(settings: &Settings) -> anyhow::Result<Option<Client>> {
        let Some(client) = settings.llm()?.map(Client::new).transpose()? else { return Ok(None) };
        let langfuse = settings
            .langfuse()
            .map_err(anyhow::Error::from)
            .and_then(|langfuse| langfuse.map(super::langfuse::LangfusePrompts::new).transpose());
        match langfuse {
            Ok(langfuse) => Ok(Some(Client { langfuse, ..client })),
            Err(err) => {
                tracing::warn!("LangFuse prompts not used: {err:#}");
                Ok(Some(client))
            }
        }
    }

    /// The prompt a task uses in this run: an override, else LangFuse's version under the
    /// label (fetched once per run), else the shipped one.
    pub async fn prompt_for_run(&self, task: &str) -> anyhow::Result<Prompt> {
        if let Some(prompt) = self.prompts.get(task) {
            return Ok(prompt.clone());
        }
        if let Some(langfuse) = &self.langfuse {
            if let Ok(prompt) = langfuse.prompt(task).await {
                return Ok(prompt);
            }
        }
        Prompt::builtin(task)
    }

    /// Uses `prompt` instead of the shipped prompt of its task (`eval --prompt-version`).
    pub fn with_prompt(mut self, prompt: Prompt) -> Client {
        self.prompts.insert(prompt.name.clone(), prompt);
        self
    }

    /// A client like this one (settings, LangFuse, overrides) that uses `prompt` for its
    /// task and keeps its own record of calls: `optimize` scores one prompt with each.
    pub fn clone_with_prompt(&self, prompt: Prompt) -> Client {
        let mut prompts = self.prompts.clone();
        prompts.insert(prompt.name.clone(), prompt);
        Client {
            http: self.http.clone(),
            settings: self.settings.clone(),
            prompts,
            calls: Mutex::new(Vec::new()),
            langfuse: self.langfuse.clone(),
        }
    }

    /// The prompt of a task: an override, else the shipped one.
    pub fn prompt(&self, task: &str) -> anyhow::Result<Prompt> {
        match self.prompts.get(task) {
            Some(prompt) => Ok(prompt.clone()),
            None => Prompt::builtin(task),
        }
    }

    /// The settings in use.
    pub fn settings(&self) -> &LlmSettings {
        &self.settings
    }

    /// Every HTTP call made so far.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.calls.lock().map(|calls| calls.clone()).unwrap_or_default()
    }

    /// Tokens spent so far.
    pub fn tokens_spent(&self) -> u64 {
        self.calls().iter().map(|c| c.prompt_tokens + c.completion_tokens).sum()
    }

    fn record(&self, record: CallRecord) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(record);
        }
    }

    /// Asks one task's question; the answer fits `ask.schema` or this is an error.
    pub async fn ask(&self, ask: &Ask) -> Result<Value, LlmError> {
        let system = format!(
            "nomad-spec-task: {} (prompt version {})\n\n{}",
            ask.task, ask.version, ask.prompt
        );
        let user = format!(
            "Reply with one JSON object and nothing else. It must fit this JSON schema:\n{}",
            ask.sent_schema()
        );
        let mut messages = vec![
            json!({"role": "system", "content": system}),
            json!({"role": "user", "content": user}),
        ];
        let mut mode = Mode::JsonSchema;
        let mut repaired = false;
        loop {
            let content = match self.send(ask, &messages, mode).await {
                Err(LlmError::Refused { status: 400, .. }) if mode == Mode::JsonSchema => {
                    // The server does not take `json_schema`; JSON mode and our own check.
                    mode = Mode::JsonObject;
                    continue;
                }
                other => other?,
            };
            let checked = answer_json(&content).and_then(|value| {
                schema::validate(&ask.schema, &value).map(|()| value).map_err(|e| e.join("; "))
            });
            match checked {
                Ok(value) => return Ok(value),
                Err(why) if !repaired => {
                    repaired = true;
                    mode = Mode::JsonObject;
                    messages.push(json!({"role": "assistant", "content": content}));
                    messages.push(json!({
                        "role": "user",
                        "content": format!(
                            "That answer was rejected: {why}. Reply again with only a JSON \
                             object that fits the schema."
                        ),
                    }));
                }
                Err(why) => return Err(LlmError::Invalid(why)),
            }
        }
    }

    /// One chat completion, retried on 429 and 5xx; the answer's text.
    async fn send(&self, ask: &Ask, messages: &[Value], mode: Mode) -> Result<String, LlmError> {
        let response_format = match mode {
            Mode::JsonSchema => json!({
                "type": "json_schema",
                "json_schema": {"name": ask.task, "schema": ask.sent_schema(), "strict": true},
            }),
            Mode::JsonObject => json!({"type": "json_object"}),
        };
        let body = json!({
            "model": self.settings.model,
            "messages": messages,
            "temperature": 0,
            "response_format": response_format,
        });
        let url = format!("{}/chat/completions", self.settings.base_url);
        let shown = shown_address(&url);
        let redactor = Redactor::default().with(self.settings.api_key.as_ref()).with_address(&url);
        let attempt = || self.send_once(ask, &body, &url, &shown, &redactor);
        let out_of_time = || LlmError::Timeout(self.settings.retry.total);
        let (result, tries) =
            retry::call(&self.settings.retry, Repeat::Safe, attempt, out_of_time).await;
        result.map_err(|err| match err {
            LlmError::GaveUp { status, message, .. } => {
                LlmError::GaveUp { status, attempts: tries.attempts, message }
            }
            other => other,
        })
    }

    /// One HTTP call, recorded; a failure says what it means for trying again.
    async fn send_once(
        &self,
        ask: &Ask,
        body: &Value,
        url: &str,
        shown: &str,
        redactor: &Redactor,
    ) -> Result<String, (LlmError, Transience)> {
        let spent = self.tokens_spent();
        if spent >= self.settings.token_budget {
            let spent = LlmError::BudgetSpent { spent, budget: self.settings.token_budget };
            return Err((spent, Transience::Final));
        }
        let started = Instant::now();
        let mut request = self.http.post(url).json(body);
        if let Some(key) = self.settings.api_key.as_ref().map(|key| key.as_str()) {
            request = request.bearer_auth(key);
        }
        let record = |outcome: String, prompt_tokens, completion_tokens| CallRecord {
            task: ask.task.clone(),
            prompt_tokens,
            completion_tokens,
            latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            outcome,
        };
        let transport = |err: reqwest::Error| {
            let transience = retry::transport_transience(&err);
            let error = self.transport_error(shown, err);
            self.record(record(error.to_string(), 0, 0));
            (error, transience)
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let asked = retry::asked_wait_in(response.headers(), None);
        let text = response.text().await.map_err(transport)?;
        let text = redactor.redact(&text);
        if status == 429 || status >= 500 {
            self.record(record(format!("HTTP {status}"), 0, 0));
            let error = LlmError::GaveUp { status, attempts: 1, message: shorten(&text) };
            return Err((error, retry::status_transience(status, asked)));
        }
        let parsed: Option<Value> = serde_json::from_str(&text).ok();
        let Some(parsed) = parsed.filter(Value::is_object) else {
            self.record(record(format!("HTTP {status}, not JSON"), 0, 0));
            let error =
                LlmError::NotOpenAi(format!("{shown} (HTTP {status}: `{}`)", shorten(&text)));
            return Err((error, Transience::Final));
        };
        if !(200..300).contains(&status) {
            self.record(record(format!("HTTP {status}"), 0, 0));
            let message = parsed
                .pointer("/error/message")
                .and_then(Value::as_str)
                .map(shorten)
                .unwrap_or_else(|| shorten(&text));
            return Err((LlmError::Refused { status, message }, Transience::Final));
        }
        let tokens = |key: &str| parsed.pointer(&format!("/usage/{key}")).and_then(Value::as_u64);
        let (prompt_tokens, completion_tokens) =
            (tokens("prompt_tokens").unwrap_or(0), tokens("completion_tokens").unwrap_or(0));
        let content = parsed.pointer("/choices/0/message/content").and_then(Value::as_str);
        let Some(content) = content else {
            self.record(record("no message content".into(), prompt_tokens, completion_tokens));
            let error = LlmError::NotOpenAi(format!(
                "{shown} (the answer has no `choices[0].message.content`)"
            ));
            return Err((error, Transience::Final));
        };
        self.record(record("ok".into(), prompt_tokens, completion_tokens));
        Ok(content.to_string())
    }

    /// A failed send or body read: a timeout, or the endpoint unreachable.
    fn transport_error(&self, url: &str, err: reqwest::Error) -> LlmError {
        if err.is_timeout() {
            LlmError::Timeout(self.settings.timeout)
        } else {
            let reason = crate::http::error_chain(&err.without_url());
            LlmError::Unreachable(format!("{url} ({})", shorten(&reason)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::answer_json;

    #[test]
    fn answers_may_come_in_a_code_fence() {
        assert_eq!(answer_json("```json\n{\"a\":1}\n```"), Ok(serde_json::json!({"a": 1})));
        assert_eq!(answer_json(" {\"a\":1} "), Ok(serde_json::json!({"a": 1})));
        let truncated = answer_json("{\"a\": [1, 2");
        assert!(truncated.is_err_and(|e| e.starts_with("the answer is not JSON")));
    }
}
