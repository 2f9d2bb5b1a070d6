//! Where a run's traces go and which prompts it uses: LangFuse (`LANGFUSE_HOST`,
//! `LANGFUSE_PUBLIC_KEY`, `LANGFUSE_SECRET_KEY`), any OpenTelemetry collector named by the
//! standard `OTEL_EXPORTER_OTLP_*` variables, and the LangFuse prompt label
//! (`NOMAD_SPEC_PROMPT_LABEL`, `production` unless set).
//!
//! Traces are sent as OTLP/HTTP in its JSON encoding, which LangFuse and every collector
//! accept on the same path as protobuf; a gRPC endpoint cannot take them, so asking for
//! `grpc` is a setting error rather than a silent loss.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{get, Secret, SettingError};

/// LangFuse's server (cloud or self-hosted).
pub const LANGFUSE_HOST: &str = "LANGFUSE_HOST";
/// The project's public key: the user of Basic auth.
pub const LANGFUSE_PUBLIC_KEY: &str = "LANGFUSE_PUBLIC_KEY";
/// The project's secret key: the password of Basic auth.
pub const LANGFUSE_SECRET_KEY: &str = "LANGFUSE_SECRET_KEY";
/// The LangFuse label whose prompt versions a run uses (default `production`).
pub const PROMPT_LABEL: &str = "NOMAD_SPEC_PROMPT_LABEL";
/// Headers sent to the collector (`key=value,key=value`, values URL-encoded); they carry
/// tokens, so their values are secrets.
pub const OTLP_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";

/// How long the export at the end of a run may take when `OTEL_EXPORTER_OTLP_TIMEOUT` does
/// not say: short, because a run is never held up for its traces.
const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_secs(3);

/// A LangFuse project: traces, prompts and scores, all with the same Basic auth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LangfuseSettings {
    /// The server, without a trailing slash (`https://cloud.langfuse.com`).
    pub host: String,
    /// The public key (Basic auth user).
    pub public_key: String,
    /// The secret key (Basic auth password).
    pub secret_key: Secret,
    /// The label whose prompt versions are used.
    pub prompt_label: String,
}

impl LangfuseSettings {
    /// LangFuse's OTLP/HTTP traces endpoint.
    pub fn traces_url(&self) -> String {
        format!("{}/api/public/otel/v1/traces", self.host)
    }
}

/// An OpenTelemetry collector named by the `OTEL_EXPORTER_OTLP_*` variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectorSettings {
    /// Where traces are posted: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as is, else
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`.
    pub traces_url: String,
    /// Extra headers (`OTEL_EXPORTER_OTLP_TRACES_HEADERS`, else `OTEL_EXPORTER_OTLP_HEADERS`).
    pub headers: Vec<(String, Secret)>,
}

/// Where traces go; with neither LangFuse nor a collector they are only printed by `--trace`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceSettings {
    /// LangFuse, when its three variables are set.
    pub langfuse: Option<LangfuseSettings>,
    /// A collector, when an OTLP endpoint is set.
    pub collector: Option<CollectorSettings>,
    /// `service.name` of the traces (`OTEL_SERVICE_NAME`, default `nomad-spec`).
    pub service_name: String,
    /// The longest the export at exit may take (`OTEL_EXPORTER_OTLP_TIMEOUT`, milliseconds).
    pub timeout: Duration,
}

impl TraceSettings {
    /// Whether traces leave the process at all.
    pub fn exported(&self) -> bool {
        self.langfuse.is_some() || self.collector.is_some()
    }

    /// Reads the trace settings; a malformed or half-given one names its variable.
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<TraceSettings, SettingError> {
        let get = |name: &str| get(vars, name);
        let timeout = match get("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")
            .map(|t| ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", t))
            .or_else(|| {
                get("OTEL_EXPORTER_OTLP_TIMEOUT").map(|t| ("OTEL_EXPORTER_OTLP_TIMEOUT", t))
            }) {
            None => DEFAULT_EXPORT_TIMEOUT,
            Some((name, text)) => Duration::from_millis(text.parse().map_err(|err| {
                SettingError::caused_by(format!("{name} `{text}` is not milliseconds"), err)
            })?),
        };
        let protocol = get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            .or_else(|| get("OTEL_EXPORTER_OTLP_PROTOCOL"));
        if let Some(protocol) = protocol.filter(|p| !p.starts_with("http/")) {
            return Err(SettingError::new(format!(
                "OTEL_EXPORTER_OTLP_PROTOCOL `{protocol}` is not supported: nomad-spec sends \
                 OTLP over HTTP (http/json), which collectors take on their HTTP port (4318)"
            )));
        }
        let collector = match get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            Some(url) => Some(endpoint("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url, "")?),
            None => match get("OTEL_EXPORTER_OTLP_ENDPOINT") {
                Some(url) => Some(endpoint("OTEL_EXPORTER_OTLP_ENDPOINT", url, "/v1/traces")?),
                None => None,
            },
        };
        let collector = match collector {
            None => None,
            Some(traces_url) => {
                let (name, text) = match get("OTEL_EXPORTER_OTLP_TRACES_HEADERS") {
                    Some(text) => ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", text),
                    None => (OTLP_HEADERS, get(OTLP_HEADERS).unwrap_or("")),
                };
                Some(CollectorSettings { traces_url, headers: headers(name, text)? })
            }
        };
        Ok(TraceSettings {
            langfuse: LangfuseSettings::from_vars(vars)?,
            collector,
            service_name: get("OTEL_SERVICE_NAME").unwrap_or("nomad-spec").to_string(),
            timeout,
        })
    }
}

impl LangfuseSettings {
    /// LangFuse when `LANGFUSE_HOST` (or `LANGFUSE_BASE_URL`, the SDKs' newer name) and both
    /// keys are set; `None` when none is; an error naming the one missing otherwise.
    pub fn from_vars(
        vars: &BTreeMap<String, String>,
    ) -> Result<Option<LangfuseSettings>, SettingError> {
        let get = |name: &str| get(vars, name);
        let host = get(LANGFUSE_HOST).or_else(|| get("LANGFUSE_BASE_URL"));
        let public_key = get(LANGFUSE_PUBLIC_KEY);
        let secret_key = get(LANGFUSE_SECRET_KEY);
        let (host, public_key, secret_key) = match (host, public_key, secret_key) {
            (None, None, None) => return Ok(None),
            (Some(h), Some(p), Some(s)) => (h, p, s),
            (h, p, _) => {
                let missing = if h.is_none() {
                    LANGFUSE_HOST
                } else if p.is_none() {
                    LANGFUSE_PUBLIC_KEY
                } else {
                    LANGFUSE_SECRET_KEY
                };
                return Err(SettingError::new(format!(
                    "LangFuse is half configured: {missing} is not set (LANGFUSE_HOST, \
                     LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY go together)"
                )));
            }
        };
        let host = endpoint(LANGFUSE_HOST, host, "")?;
        Ok(Some(LangfuseSettings {
            host,
            public_key: public_key.to_string(),
            secret_key: secret_key.into(),
            prompt_label: get(PROMPT_LABEL).unwrap_or("production").to_string(),
        }))
    }
}

/// An HTTP(S) URL without its trailing slash, with `suffix` appended.
fn endpoint(name: &str, text: &str, suffix: &str) -> Result<String, SettingError> {
    let url = url::Url::parse(text)
        .map_err(|err| SettingError::caused_by(format!("{name} `{text}` is not a URL"), err))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(SettingError::new(format!("{name} `{text}` is not an http(s) URL")));
    }
    Ok(format!("{}{suffix}", text.trim_end_matches('/')))
}

/// `key=value,key=value` as the OpenTelemetry specification writes headers (values may be
/// percent-encoded).
fn headers(name: &str, text: &str) -> Result<Vec<(String, Secret)>, SettingError> {
    let mut out = Vec::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, value)) = pair.split_once('=') else {
            // The value is not shown: it may be a token.
            return Err(SettingError::new(format!("{name} has an entry that is not key=value")));
        };
        let value = url::form_urlencoded::parse(format!("v={}", value.trim()).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        out.push((key.trim().to_string(), Secret::from(value)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn nothing_set_exports_nothing() {
        let settings = TraceSettings::from_vars(&vars(&[])).unwrap();
        assert!(!settings.exported());
        assert_eq!(settings.service_name, "nomad-spec");
        assert_eq!(settings.timeout, DEFAULT_EXPORT_TIMEOUT);
    }

    #[test]
    fn langfuse_and_a_collector_come_from_their_variables() {
        let settings = TraceSettings::from_vars(&vars(&[
            (LANGFUSE_HOST, "https://langfuse.example.com/"),
            (LANGFUSE_PUBLIC_KEY, "pk-lf-1"),
            (LANGFUSE_SECRET_KEY, "sk-lf-very-secret"),
            (PROMPT_LABEL, "staging"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318/"),
            (OTLP_HEADERS, "x-token=a%20b, tenant = acme"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "500"),
        ]))
        .unwrap();
        let langfuse = settings.langfuse.clone().unwrap();
        assert_eq!(langfuse.traces_url(), "https://langfuse.example.com/api/public/otel/v1/traces");
        assert_eq!(langfuse.prompt_label, "staging");
        let collector = settings.collector.clone().unwrap();
        assert_eq!(collector.traces_url, "http://127.0.0.1:4318/v1/traces");
        assert_eq!(collector.headers[0].1.as_str(), "a b");
        assert_eq!(collector.headers[1].0, "tenant");
        assert_eq!(settings.timeout, Duration::from_millis(500));
        let printed = format!("{settings:?}");
        assert!(!printed.contains("very-secret") && !printed.contains("a b"), "{printed}");
        let traces_only = TraceSettings::from_vars(&vars(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://c:4318/custom",
        )]))
        .unwrap();
        assert_eq!(traces_only.collector.unwrap().traces_url, "http://c:4318/custom");
    }

    #[test]
    fn bad_or_half_settings_name_their_variable() {
        let half = TraceSettings::from_vars(&vars(&[(LANGFUSE_HOST, "http://l")]));
        let half = half.map(|_| ()).map_err(|e| e.to_string()).unwrap_err();
        assert!(half.contains("LANGFUSE_PUBLIC_KEY is not set"), "{half}");
        let grpc = TraceSettings::from_vars(&vars(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]));
        assert!(grpc.is_err_and(|e| e.to_string().contains("`grpc` is not supported")));
        let bad = TraceSettings::from_vars(&vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "nope")]));
        assert!(
            bad.is_err_and(|e| e.to_string() == "OTEL_EXPORTER_OTLP_ENDPOINT `nope` is not a URL")
        );
        let headers = TraceSettings::from_vars(&vars(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            (OTLP_HEADERS, "just-a-token-value"),
        ]));
        let message = headers.map(|_| ()).map_err(|e| e.to_string()).unwrap_err();
        assert!(!message.contains("just-a-token-value"), "{message}");
    }
}
