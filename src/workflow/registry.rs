//! Whether an image is in its registry: a manifest `HEAD` of the OCI distribution API, with the
//! token flow GHCR and GitLab's registry use (a `401` whose `WWW-Authenticate: Bearer
//! realm=...,service=...,scope=...` names the token endpoint; the token is asked there with the
//! CI token as basic-auth password, then the `HEAD` is sent again with it).
//!
//! The bot never deploys an image it has not seen here. A missing image and a registry that
//! cannot be asked are told apart, so a person reads which one stopped the deploy. The
//! credentials go only to the token endpoint the registry named and never into an error.

use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::StatusCode;

use crate::http::Redactor;
use crate::settings::Secret;

/// The setting that points every registry call at another address (a mirror, a test's fake
/// registry): `http://127.0.0.1:5000` instead of `https://ghcr.io`.
pub const REGISTRY_URL: &str = "NOMAD_SPEC_REGISTRY_URL";

/// The manifest types a `HEAD` accepts: OCI and Docker, single and multi-platform.
const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.docker.distribution.manifest.v2+json";

/// How long one registry call may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// An image reference split the way the distribution API needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageName {
    /// The registry's host (`ghcr.io`, `registry.gitlab.com`, `localhost:5000`).
    pub host: String,
    /// The repository inside it (`acme/shop/web`).
    pub repository: String,
    /// The tag or digest.
    pub reference: String,
}

impl ImageName {
    /// `host/repository:tag` or `host/repository@digest`; `None` for a name without a
    /// registry host or without a tag (the bot only checks the images it pins).
    pub fn parse(image: &str) -> Option<ImageName> {
        let host = crate::analyze::published::registry_host(image)?;
        let rest = &image[host.len() + 1..];
        let (repository, reference) = match rest.split_once('@') {
            Some((repository, digest)) => (repository, digest),
            None => rest.rsplit_once(':').filter(|(_, tag)| !tag.contains('/'))?,
        };
        if repository.is_empty() || reference.is_empty() {
            return None;
        }
        Some(ImageName {
            host: host.to_string(),
            repository: repository.to_string(),
            reference: reference.to_string(),
        })
    }
}

/// Who asks the registry, and where it answers.
#[derive(Clone)]
pub struct RegistryAccess {
    /// Basic-auth user for the token endpoint.
    pub username: String,
    /// The CI or forge token, sent only to the token endpoint.
    pub password: Secret,
    /// Where every registry answers instead of `https://<host>` ([`REGISTRY_URL`]).
    pub url_override: Option<String>,
}

/// What the registry said of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    /// The manifest is there, with this digest when the registry gave one.
    Found { digest: Option<String> },
    /// The registry answered that there is no such manifest.
    Missing,
}

/// Asks whether `image` is in its registry.
pub async fn manifest_exists(image: &str, access: &RegistryAccess) -> anyhow::Result<Presence> {
    let name = ImageName::parse(image)
        .ok_or_else(|| anyhow::anyhow!("`{image}` does not name a registry and a tag"))?;
    let base = access
        .url_override
        .clone()
        .unwrap_or_else(|| format!("https://{}", name.host))
        .trim_end_matches('/')
        .to_string();
    let url = format!("{base}/v2/{}/manifests/{}", name.repository, name.reference);
    let redactor = Redactor::default().with(Some(&access.password));
    let failed = |what: &str, err: &dyn std::error::Error| {
        anyhow::anyhow!(
            "cannot ask {} for {image}: {what}: {}",
            name.host,
            redactor.redact(&crate::http::error_chain(err))
        )
    };
    crate::tls::install_crypto_provider();
    let http = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|err| failed("building the client", &err))?;
    let head = |token: Option<String>| {
        let mut request = http.head(&url).header(ACCEPT, MANIFEST_TYPES);
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        request.send()
    };
    let mut answer = head(None).await.map_err(|err| failed("HEAD", &err))?;
    if answer.status() == StatusCode::UNAUTHORIZED {
        let challenge = answer
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(BearerChallenge::parse)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "{} refused the manifest of {image} (401) without a Bearer challenge",
                    name.host
                )
            })?;
        let mut request =
            http.get(&challenge.realm).basic_auth(&access.username, Some(access.password.as_str()));
        let mut query = Vec::new();
        if let Some(service) = &challenge.service {
            query.push(("service", service.clone()));
        }
        query.push((
            "scope",
            challenge.scope.clone().unwrap_or(format!("repository:{}:pull", name.repository)),
        ));
        request = request.query(&query);
        let token = request.send().await.map_err(|err| failed("the token", &err))?;
        let status = token.status();
        if !status.is_success() {
            anyhow::bail!(
                "{} gave no token to read {image} ({status}): the CI token needs read access to \
                 the package",
                name.host
            );
        }
        let body: serde_json::Value =
            token.json().await.map_err(|err| failed("reading the token", &err))?;
        let token = body
            .get("token")
            .or_else(|| body.get("access_token"))
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| anyhow::anyhow!("{}'s token endpoint answered no token", name.host))?
            .to_string();
        answer = head(Some(token)).await.map_err(|err| failed("HEAD", &err))?;
    }
    match answer.status() {
        status if status.is_success() => Ok(Presence::Found {
            digest: answer
                .headers()
                .get("Docker-Content-Digest")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        }),
        StatusCode::NOT_FOUND => Ok(Presence::Missing),
        status => anyhow::bail!("{} answered {status} for the manifest of {image}", name.host),
    }
}

/// A `WWW-Authenticate: Bearer realm="...",service="...",scope="..."` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BearerChallenge {
    realm: String,
    service: Option<String>,
    scope: Option<String>,
}

impl BearerChallenge {
    /// Grammar: `Bearer` then `key="value"` pairs separated by commas (a value may hold
    /// commas: `scope="repository:a:pull,push"`).
    fn parse(header: &str) -> Option<BearerChallenge> {
        let rest = header.trim().strip_prefix("Bearer ")?;
        let mut pairs = Vec::new();
        let mut rest = rest.trim_start();
        while !rest.is_empty() {
            let (key, after) = rest.split_once('=')?;
            let after = after.strip_prefix('"')?;
            let (value, after) = after.split_once('"')?;
            pairs.push((key.trim().to_ascii_lowercase(), value.to_string()));
            rest = after.trim_start().trim_start_matches(',').trim_start();
        }
        let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        Some(BearerChallenge { realm: get("realm")?, service: get("service"), scope: get("scope") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names() {
        assert_eq!(
            ImageName::parse("ghcr.io/acme/shop/web:0123abc"),
            Some(ImageName {
                host: "ghcr.io".into(),
                repository: "acme/shop/web".into(),
                reference: "0123abc".into()
            })
        );
        let local = ImageName::parse("localhost:5000/app@sha256:ab").unwrap();
        assert_eq!(
            (local.host.as_str(), local.reference.as_str()),
            ("localhost:5000", "sha256:ab")
        );
        for no in ["nginx:1.27", "acme/web:1", "ghcr.io/acme/web", "ghcr.io/:x", "ghcr.io/a:"] {
            assert_eq!(ImageName::parse(no), None, "{no}");
        }
    }

    #[test]
    fn challenges() {
        let parsed = BearerChallenge::parse(
            r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:acme/shop/web:pull,push""#,
        )
        .unwrap();
        assert_eq!(parsed.realm, "https://ghcr.io/token");
        assert_eq!(parsed.service.as_deref(), Some("ghcr.io"));
        assert_eq!(parsed.scope.as_deref(), Some("repository:acme/shop/web:pull,push"));
        assert_eq!(BearerChallenge::parse(r#"Basic realm="x""#), None);
        assert_eq!(BearerChallenge::parse(r#"Bearer service="x""#), None, "no realm");
        assert_eq!(BearerChallenge::parse(r#"Bearer realm="x"#), None, "unclosed quote");
    }
}
