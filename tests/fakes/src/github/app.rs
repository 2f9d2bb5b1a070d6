//! The fake GitHub as a GitHub App's host: the App's JSON Web Token checked as GitHub checks it
//! (RS256 under the App's public key, `iss` the App's id, `exp` in the future and at most ten
//! minutes after `iat`), `GET /app`, `GET /repos/{owner}/{repo}/installation` and
//! `POST /app/installations/{id}/access_tokens`, whose tokens the fake then accepts like its
//! own until they expire (an hour).
//!
//! <https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app>

use axum::http::{Method, StatusCode};
use axum::response::Response;
use base64::Engine;
use ring::signature::{RsaKeyPair, UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use serde_json::{json, Value};

use super::api::{created, message, ok, unix_now};
use super::Shared;

/// An App installed on the fake's repository.
#[derive(Debug, Clone)]
pub(super) struct App {
    pub id: u64,
    pub slug: String,
    /// The App's public key (PKCS#1 `RSAPublicKey`, DER); the private half is the client's.
    pub public_key: Vec<u8>,
    pub installation: u64,
    /// Installation tokens issued, with their expiry (Unix seconds).
    pub tokens: Vec<(String, u64)>,
}

impl App {
    /// `token` is an installation token this App issued that has not expired.
    pub fn accepts(&self, token: &str) -> bool {
        let now = unix_now();
        self.tokens.iter().any(|(issued, expires)| issued == token && *expires > now)
    }

    /// Checks a JWT as GitHub does; the reason it is refused otherwise.
    fn verify(&self, jwt: &str) -> Result<(), &'static str> {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let parts: Vec<&str> = jwt.split('.').collect();
        let [header, claims, signature] = parts.as_slice() else {
            return Err("A JSON web token could not be decoded");
        };
        let decode =
            |part: &str| engine.decode(part).map_err(|_| "A JSON web token could not be decoded");
        let header: Value = serde_json::from_slice(&decode(header)?)
            .map_err(|_| "A JSON web token could not be decoded")?;
        if header["alg"] != "RS256" {
            return Err("A JSON web token could not be decoded");
        }
        let key = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &self.public_key);
        let message = format!("{}.{}", parts[0], parts[1]);
        key.verify(message.as_bytes(), &decode(signature)?)
            .map_err(|_| "A JSON web token could not be decoded")?;
        let claims: Value = serde_json::from_slice(&decode(claims)?)
            .map_err(|_| "A JSON web token could not be decoded")?;
        if claims["iss"].as_str() != Some(self.id.to_string().as_str())
            && claims["iss"].as_u64() != Some(self.id)
        {
            return Err("Integration not found");
        }
        let (Some(iat), Some(exp)) = (claims["iat"].as_u64(), claims["exp"].as_u64()) else {
            return Err("Missing 'issued at' or 'expiration' time claim");
        };
        let now = unix_now();
        if exp <= now {
            return Err("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires");
        }
        if exp.saturating_sub(iat) > 600 || iat > now + 60 {
            return Err("'Expiration time' claim ('exp') is too far in the future");
        }
        Ok(())
    }
}

/// The public key of a PEM RSA private key (PKCS#1 or PKCS#8).
pub(super) fn public_key_of(pem: &str) -> anyhow::Result<Vec<u8>> {
    let body = |label: &str| {
        let begin = format!("-----BEGIN {label}-----");
        let start = pem.find(&begin)? + begin.len();
        let stop = start + pem[start..].find("-----END")?;
        Some(pem[start..stop].split_whitespace().collect::<String>())
    };
    let engine = base64::engine::general_purpose::STANDARD;
    let pair = if let Some(text) = body("RSA PRIVATE KEY") {
        RsaKeyPair::from_der(&engine.decode(text)?).map_err(|e| anyhow::anyhow!("{e}"))?
    } else if let Some(text) = body("PRIVATE KEY") {
        RsaKeyPair::from_pkcs8(&engine.decode(text)?).map_err(|e| anyhow::anyhow!("{e}"))?
    } else {
        anyhow::bail!("not a PEM RSA private key");
    };
    Ok(ring::signature::KeyPair::public_key(&pair).as_ref().to_vec())
}

/// The App's endpoints, when `path` is one of them; `None` for every other request.
pub(super) fn route(
    shared: &Shared,
    method: &Method,
    path: &str,
    bearer: Option<&str>,
) -> Option<Response> {
    let repository = shared.lock().settings.repository.clone();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let installation_of_repo = format!("repos/{repository}/installation");
    let is_app_path =
        matches!(segments.as_slice(), ["app"] | ["app", "installations", _, "access_tokens"])
            || path.trim_matches('/').eq_ignore_ascii_case(&installation_of_repo);
    if !is_app_path {
        return None;
    }
    let mut state = shared.lock();
    let Some(app) = state.app.as_mut() else {
        return Some(message(StatusCode::NOT_FOUND, "Not Found"));
    };
    let Some(jwt) = bearer else {
        return Some(message(StatusCode::UNAUTHORIZED, "A JSON web token could not be decoded"));
    };
    if let Err(reason) = app.verify(jwt) {
        return Some(message(StatusCode::UNAUTHORIZED, reason));
    }
    let answer = match (method.as_str(), segments.as_slice()) {
        ("GET", ["app"]) => ok(json!({ "id": app.id, "slug": app.slug, "name": app.slug })),
        ("POST", ["app", "installations", id, "access_tokens"]) => {
            if id.parse::<u64>().ok() != Some(app.installation) {
                return Some(message(StatusCode::NOT_FOUND, "Not Found"));
            }
            let expires = unix_now() + 3600;
            let token = format!("ghs_fake{:04}", app.tokens.len() + 1);
            app.tokens.push((token.clone(), expires));
            created(json!({
                "token": token,
                "expires_at": crate::nomad::render::rfc3339(Some(u128::from(expires) * 1_000_000_000)),
                "permissions": { "contents": "write", "pull_requests": "write" },
                "repository_selection": "all",
            }))
        }
        ("GET", _) => ok(json!({ "id": app.installation, "app_id": app.id, "app_slug": app.slug })),
        _ => message(StatusCode::NOT_FOUND, "Not Found"),
    };
    Some(answer)
}
