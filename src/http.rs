//! Shared plumbing of the HTTP clients (the forges, Nomad, Consul, Fabio, Vault, the LLM).
//!
//! Owns how a transport failure is put into words, how a client trusts a CA bundle named by a
//! setting, how an address is shown without the password it may carry and how what a service
//! sends back is cleaned of the secrets the client sent it ([`Redactor`]), the deadline under
//! which the optional services are probed together ([`ProbeDeadline`]), and the one retry
//! policy of every client ([`retry`]). Each client keeps its own errors.

pub mod retry;

use std::future::Future;
use std::time::Duration;

use crate::settings::Secret;

/// An error and its causes on one line, each cause once (`error sending request: connection
/// refused`), since reqwest's own message hides the cause.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// `builder` trusting every certificate of the PEM bundle at `path`, which the setting
/// `variable` names (`NOMAD_CACERT`, `CONSUL_CACERT`, ...); the error says which and why.
pub fn trust_ca_bundle(
    mut builder: reqwest::ClientBuilder,
    path: &std::path::Path,
    variable: &str,
) -> Result<reqwest::ClientBuilder, String> {
    let wrong = |err: &dyn std::fmt::Display| format!("{variable} {}: {err}", path.display());
    let pem = std::fs::read(path).map_err(|err| wrong(&err))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|err| wrong(&err))?;
    for cert in certs {
        builder = builder.add_root_certificate(cert);
    }
    Ok(builder)
}

/// `address` as it may be shown: the password of a URL's user part (`http://user:***@host`),
/// or the whole user part when it has no password (it may be a token), replaced by `***`.
/// Works on text that is not a valid URL too, since a bad setting is shown in its error.
pub fn shown_address(address: &str) -> String {
    let Some(scheme_end) = address.find("://") else { return address.to_string() };
    let rest = &address[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else { return address.to_string() };
    let masked = match rest[..at].split_once(':') {
        Some((user, _)) => format!("{user}:***"),
        None => "***".to_string(),
    };
    format!("{}{masked}{}", &address[..scheme_end + 3], &rest[at..])
}

/// The secrets a client sends (its token, the password of its address), cut out of text a
/// service sent back: an error body may echo a request's headers. Its `Debug` shows how many
/// it holds, never them.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl Redactor {
    /// Also cuts out `secret`, when there is one.
    pub fn with(mut self, secret: Option<&Secret>) -> Redactor {
        if let Some(secret) = secret.map(Secret::as_str).filter(|s| !s.is_empty()) {
            self.secrets.push(secret.to_string());
        }
        self
    }

    /// Also cuts out the credentials of `address` (`http://user:password@host`): the
    /// password, and the `user:password` pair as a Basic `Authorization` header carries it.
    pub fn with_address(mut self, address: &str) -> Redactor {
        let Ok(url) = url::Url::parse(address) else { return self };
        if let Some(password) = url.password().filter(|p| !p.is_empty()) {
            use base64::Engine as _;
            let decoded = |text: &str| {
                url::form_urlencoded::parse(format!("x={text}").as_bytes())
                    .next()
                    .map(|(_, value)| value.into_owned())
                    .unwrap_or_else(|| text.to_string())
            };
            let (user, password) = (decoded(url.username()), decoded(password));
            let basic =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            self.secrets.extend([password, basic]);
        } else if !url.username().is_empty() {
            self.secrets.push(url.username().to_string());
        }
        self
    }

    /// `text` with every secret replaced by `***`, longest first so that no part of one is
    /// left.
    pub fn redact(&self, text: &str) -> String {
        let mut secrets: Vec<&String> = self.secrets.iter().collect();
        secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
        secrets
            .into_iter()
            .fold(text.to_string(), |text, secret| text.replace(secret.as_str(), "***"))
    }
}

/// One deadline for probing the optional services (Consul, Vault, Fabio, the cluster's Nomad
/// version) together: each probe started under it runs alongside the others and is given up
/// when the deadline passes, so a silent service costs the deadline once, however many there
/// are (`NOMAD_SPEC_PROBE_DEADLINE`).
#[derive(Debug, Clone, Copy)]
pub struct ProbeDeadline {
    at: tokio::time::Instant,
    length: Duration,
}

impl ProbeDeadline {
    /// A deadline `length` from now.
    pub fn after(length: Duration) -> ProbeDeadline {
        ProbeDeadline { at: tokio::time::Instant::now() + length, length }
    }

    /// What `probe` of `service` found, or, when the deadline passed first, why it was given
    /// up (`Consul did not answer within 10 s (NOMAD_SPEC_PROBE_DEADLINE); skipped`).
    pub async fn run<T>(&self, service: &str, probe: impl Future<Output = T>) -> Result<T, String> {
        tokio::time::timeout_at(self.at, probe).await.map_err(|_| {
            format!(
                "{service} did not answer within {} ({}); skipped",
                retry::seconds(self.length),
                crate::settings::PROBE_DEADLINE
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_shown_without_their_password() {
        let cases = [
            ("http://user:SECRET@nomad:4646/v1", "http://user:***@nomad:4646/v1"),
            ("https://TOKEN@vault.example", "https://***@vault.example"),
            ("http://nomad:4646", "http://nomad:4646"),
            ("http://nomad:4646/a@b", "http://nomad:4646/a@b"),
            ("http://u:p@x:bad port", "http://u:***@x:bad port"),
            ("nomad:4646", "nomad:4646"),
        ];
        for (address, shown) in cases {
            assert_eq!(shown_address(address), shown, "{address}");
        }
    }

    #[test]
    fn echoed_secrets_are_cut_out() {
        use base64::Engine as _;
        let redactor = Redactor::default()
            .with(Some(&Secret::from("tok-123")))
            .with(None)
            .with_address("http://user:pa%40ss@nomad:4646");
        let basic = base64::engine::general_purpose::STANDARD.encode("user:pa@ss");
        let echoed = format!("x-nomad-token: tok-123\nauthorization: Basic {basic}\npw pa@ss");
        assert_eq!(
            redactor.redact(&echoed),
            "x-nomad-token: ***\nauthorization: Basic ***\npw ***"
        );
        assert_eq!(format!("{redactor:?}"), "Redactor(3 secrets)");
    }

    #[tokio::test]
    async fn silent_services_cost_the_deadline_once() {
        let deadline = ProbeDeadline::after(Duration::from_millis(50));
        let silent = std::future::pending::<()>;
        // Four probes under one short deadline: were each given its own after the one before,
        // the silent three would never let the fourth start; together, all end with it.
        let (consul, vault, nomad, answered) = tokio::join!(
            deadline.run("Consul", silent()),
            deadline.run("Vault", silent()),
            deadline.run("Nomad", silent()),
            deadline.run("Fabio", async { 7 }),
        );
        assert_eq!(
            consul,
            Err("Consul did not answer within 50 ms (NOMAD_SPEC_PROBE_DEADLINE); skipped".into())
        );
        assert!(vault.is_err() && nomad.is_err());
        assert_eq!(answered, Ok(7));
        // A probe started after the deadline passed is given up at once.
        assert!(deadline.run("late", silent()).await.is_err());
    }
}
