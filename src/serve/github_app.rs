//! Acting as a GitHub App: the app's JSON Web Token (RS256, signed with its private key by
//! `ring`), and the installation tokens it buys for each repository, cached until five minutes
//! before they expire (they live an hour).
//!
//! A token is never logged; errors name the request and GitHub's status, not the headers.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use serde::Deserialize;

/// How long before its expiry a cached installation token is replaced.
const REFRESH_MARGIN: i64 = 5 * 60;
/// A JWT lives nine minutes (GitHub accepts at most ten) and is dated a minute back, as
/// GitHub advises against clock drift.
const JWT_LIFETIME: i64 = 9 * 60;
const JWT_BACKDATE: i64 = 60;

/// The App: its id, its key, where GitHub's API is, and the installation tokens it holds.
pub struct GitHubApp {
    id: u64,
    key: RsaKeyPair,
    api_url: String,
    http: reqwest::Client,
    tokens: Mutex<HashMap<u64, CachedToken>>,
}

#[derive(Clone)]
struct CachedToken {
    token: String,
    /// Unix seconds.
    expires_at: i64,
}

impl std::fmt::Debug for GitHubApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubApp").field("id", &self.id).field("api_url", &self.api_url).finish()
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    token: String,
    expires_at: String,
}

#[derive(Deserialize)]
struct IdAnswer {
    id: u64,
}

#[derive(Deserialize)]
struct AppAnswer {
    slug: String,
}

impl GitHubApp {
    /// The App `id` with the private key `pem` (PKCS#1 `RSA PRIVATE KEY`, as GitHub hands it
    /// out, or PKCS#8 `PRIVATE KEY`).
    pub fn new(id: u64, pem: &str, api_url: &str) -> anyhow::Result<GitHubApp> {
        let key = private_key(pem)?;
        crate::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .user_agent(concat!("nomad-spec/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(GitHubApp {
            id,
            key,
            api_url: api_url.trim_end_matches('/').to_string(),
            http,
            tokens: Mutex::new(HashMap::new()),
        })
    }

    /// The App's JWT at `now` (Unix seconds).
    pub fn jwt(&self, now: i64) -> anyhow::Result<String> {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = engine.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = serde_json::json!({
            "iat": now - JWT_BACKDATE,
            "exp": now + JWT_LIFETIME,
            "iss": self.id.to_string(),
        });
        let claims = engine.encode(claims.to_string());
        let message = format!("{header}.{claims}");
        let mut signature = vec![0; self.key.public().modulus_len()];
        let rng = ring::rand::SystemRandom::new();
        self.key
            .sign(&RSA_PKCS1_SHA256, &rng, message.as_bytes(), &mut signature)
            .map_err(|_| anyhow::anyhow!("cannot sign the GitHub App's JWT"))?;
        Ok(format!("{message}.{}", engine.encode(signature)))
    }

    /// The App's bot login, `<slug>[bot]` (`GET /app`).
    pub async fn bot_login(&self) -> anyhow::Result<String> {
        let answer: AppAnswer = self.app_call(reqwest::Method::GET, "/app").await?;
        Ok(format!("{}[bot]", answer.slug))
    }

    /// An installation token for `repository` (`owner/name`), from the cache while it has more
    /// than five minutes left. `installation` is the payload's; without it the App asks
    /// `GET /repos/{owner}/{name}/installation`.
    pub async fn token(
        &self,
        repository: &str,
        installation: Option<u64>,
        now: i64,
    ) -> anyhow::Result<String> {
        let installation = match installation {
            Some(id) => id,
            None => {
                let path = format!("/repos/{repository}/installation");
                let answer: IdAnswer = self.app_call(reqwest::Method::GET, &path).await?;
                answer.id
            }
        };
        if let Some(cached) = self.cached(installation, now) {
            return Ok(cached);
        }
        let path = format!("/app/installations/{installation}/access_tokens");
        let answer: TokenAnswer = self.app_call(reqwest::Method::POST, &path).await?;
        let expires_at = chrono::DateTime::parse_from_rfc3339(&answer.expires_at)
            .map_err(|err| {
                anyhow::anyhow!(
                    "GitHub POST {path}: `expires_at` {:?} is not a time: {err}",
                    answer.expires_at
                )
            })?
            .timestamp();
        let token = answer.token;
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(installation, CachedToken { token: token.clone(), expires_at });
        }
        Ok(token)
    }

    fn cached(&self, installation: u64, now: i64) -> Option<String> {
        let tokens = self.tokens.lock().ok()?;
        let cached = tokens.get(&installation)?;
        (cached.expires_at - now > REFRESH_MARGIN).then(|| cached.token.clone())
    }

    async fn app_call<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> anyhow::Result<T> {
        let jwt = self.jwt(chrono::Utc::now().timestamp())?;
        let url = format!("{}{path}", self.api_url);
        let what = format!("GitHub {method} {path}");
        let response = self
            .http
            .request(method, &url)
            .bearer_auth(jwt)
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .send()
            .await
            .map_err(|err| anyhow::anyhow!("{what}: {}", crate::http::error_chain(&err)))?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if !status.is_success() {
            let message = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_string))
                .unwrap_or_else(|| body.chars().take(200).collect());
            anyhow::bail!("{what}: {status}: {message}");
        }
        serde_json::from_str(&body)
            .map_err(|err| anyhow::anyhow!("{what}: an answer nomad-spec cannot read: {err}"))
    }
}

/// The RSA key of a PEM text, PKCS#1 or PKCS#8.
fn private_key(pem: &str) -> anyhow::Result<RsaKeyPair> {
    let block = |label: &str| {
        let begin = format!("-----BEGIN {label}-----");
        let end = format!("-----END {label}-----");
        let start = pem.find(&begin)? + begin.len();
        let stop = start + pem[start..].find(&end)?;
        Some(pem[start..stop].split_whitespace().collect::<String>())
    };
    let decode = |text: String| {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|err| anyhow::anyhow!("the GitHub App's private key is not valid PEM: {err}"))
    };
    if let Some(body) = block("RSA PRIVATE KEY") {
        return RsaKeyPair::from_der(&decode(body)?).map_err(|err| {
            anyhow::anyhow!("the GitHub App's private key (PKCS#1) is not usable: {err}")
        });
    }
    if let Some(body) = block("PRIVATE KEY") {
        return RsaKeyPair::from_pkcs8(&decode(body)?).map_err(|err| {
            anyhow::anyhow!("the GitHub App's private key (PKCS#8) is not usable: {err}")
        });
    }
    anyhow::bail!(
        "the GitHub App's private key is not a PEM RSA key (no `-----BEGIN RSA PRIVATE KEY-----` \
         or `-----BEGIN PRIVATE KEY-----`)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};

    fn key_pem(name: &str) -> String {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/serve").join(name);
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn the_jwt_is_signed_with_the_apps_key_in_either_pem_form() {
        for name in ["app-key-pkcs1.pem", "app-key-pkcs8.pem"] {
            let app = GitHubApp::new(12345, &key_pem(name), "http://127.0.0.1:9").unwrap();
            let jwt = app.jwt(1_796_000_000).unwrap();
            let parts: Vec<&str> = jwt.split('.').collect();
            assert_eq!(parts.len(), 3);
            let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            let claims: serde_json::Value =
                serde_json::from_slice(&engine.decode(parts[1]).unwrap()).unwrap();
            assert_eq!(claims["iss"], "12345");
            assert_eq!(claims["iat"], 1_796_000_000 - 60);
            assert_eq!(claims["exp"], 1_796_000_000 + 540);
            let public = UnparsedPublicKey::new(
                &RSA_PKCS1_2048_8192_SHA256,
                app.key.public().as_ref().to_vec(),
            );
            let message = format!("{}.{}", parts[0], parts[1]);
            public.verify(message.as_bytes(), &engine.decode(parts[2]).unwrap()).unwrap();
            let mut forged = message.into_bytes();
            forged[0] ^= 1;
            assert!(public.verify(&forged, &engine.decode(parts[2]).unwrap()).is_err());
        }
    }

    #[test]
    fn a_key_that_is_not_one_is_an_error_saying_so() {
        let err = GitHubApp::new(1, "hello", "http://x").unwrap_err();
        assert!(err.to_string().contains("not a PEM RSA key"), "{err}");
        let err = GitHubApp::new(
            1,
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----",
            "http://x",
        )
        .unwrap_err();
        assert!(err.to_string().contains("PKCS#1"), "{err}");
    }

    #[test]
    fn a_cached_token_is_replaced_five_minutes_before_it_expires() {
        let app = GitHubApp::new(1, &key_pem("app-key-pkcs1.pem"), "http://x").unwrap();
        app.tokens
            .lock()
            .unwrap()
            .insert(7, CachedToken { token: "ghs_one".into(), expires_at: 10_000 });
        assert_eq!(app.cached(7, 10_000 - 301).as_deref(), Some("ghs_one"));
        assert_eq!(app.cached(7, 10_000 - 300), None);
        assert_eq!(app.cached(8, 0), None);
    }
}
