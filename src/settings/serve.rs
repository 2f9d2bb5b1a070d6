//! The settings of `nomad-spec serve`, the webhook server: which forges it answers, the
//! secret each forge's webhooks must carry, and how it authenticates to each (a GitHub App or
//! a token; a GitLab bot token). The server and its clients are built from these values.
//!
//! GitHub is served when `NOMAD_SPEC_GITHUB_WEBHOOK_SECRET` is set, GitLab when
//! `NOMAD_SPEC_GITLAB_WEBHOOK_TOKEN` is set; a forge without its secret gets no route at all,
//! so an unsigned delivery can never be accepted by accident.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::bot::{BOT_LOGIN, GITLAB_TOKEN};
use super::{get, Secret, SettingError};

/// The secret GitHub signs webhook deliveries with (`X-Hub-Signature-256`).
pub const GITHUB_WEBHOOK_SECRET: &str = "NOMAD_SPEC_GITHUB_WEBHOOK_SECRET";
/// The GitHub App's id (the JWT's issuer).
pub const GITHUB_APP_ID: &str = "NOMAD_SPEC_GITHUB_APP_ID";
/// The GitHub App's private key, PEM (PKCS#1 as GitHub hands it out, or PKCS#8).
pub const GITHUB_APP_PRIVATE_KEY: &str = "NOMAD_SPEC_GITHUB_APP_PRIVATE_KEY";
/// A file holding the GitHub App's private key (a Vault template writes one).
pub const GITHUB_APP_PRIVATE_KEY_FILE: &str = "NOMAD_SPEC_GITHUB_APP_PRIVATE_KEY_FILE";
/// The secret token a GitLab webhook carries in `X-Gitlab-Token`.
pub const GITLAB_WEBHOOK_TOKEN: &str = "NOMAD_SPEC_GITLAB_WEBHOOK_TOKEN";
/// The GitLab instance's address (`https://gitlab.example.com`).
pub const GITLAB_URL: &str = "NOMAD_SPEC_GITLAB_URL";

/// What `nomad-spec serve` answers, and as whom.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// GitHub webhooks, when their secret is set.
    pub github: Option<GitHubServe>,
    /// GitLab webhooks, when their token is set.
    pub gitlab: Option<GitLabServe>,
}

/// How the server reaches GitHub and checks its deliveries.
#[derive(Debug, Clone)]
pub struct GitHubServe {
    /// `GITHUB_API_URL` without a trailing slash (default `https://api.github.com`).
    pub api_url: String,
    /// `GITHUB_SERVER_URL` without a trailing slash (default `https://github.com`).
    pub server_url: String,
    /// `NOMAD_SPEC_GITHUB_WEBHOOK_SECRET`.
    pub webhook_secret: Secret,
    /// As an App (a token per repository) or with one token for every repository.
    pub auth: GitHubAuth,
    /// `NOMAD_SPEC_BOT_LOGIN`; `None`: the App's own (`<slug>[bot]`), asked from GitHub.
    pub bot_login: Option<String>,
}

/// How the server authenticates to GitHub.
#[derive(Debug, Clone)]
pub enum GitHubAuth {
    /// A GitHub App: a JWT from its private key buys an installation token per repository.
    App { id: u64, private_key: PrivateKey },
    /// One token (`GITHUB_TOKEN`) for every repository, for a bot account whose login
    /// `NOMAD_SPEC_BOT_LOGIN` names.
    Token(Secret),
}

/// Where the GitHub App's private key is.
#[derive(Debug, Clone)]
pub enum PrivateKey {
    /// The PEM text itself.
    Pem(Secret),
    /// A file holding the PEM.
    File(PathBuf),
}

/// How the server reaches GitLab and checks its deliveries.
#[derive(Debug, Clone)]
pub struct GitLabServe {
    /// The instance (`https://gitlab.example.com`), without a trailing slash.
    pub server_url: String,
    /// Its REST API (`<server>/api/v4`).
    pub api_url: String,
    /// `NOMAD_SPEC_GITLAB_WEBHOOK_TOKEN`.
    pub webhook_token: Secret,
    /// `NOMAD_SPEC_GITLAB_TOKEN`: the bot's token (a group access token, or a bot user's).
    pub token: Secret,
    /// `NOMAD_SPEC_BOT_LOGIN`; `None`: the token's own user.
    pub bot_login: Option<String>,
}

impl ServeSettings {
    /// Reads the server's settings from `vars`; a forge half set up (a secret without a way
    /// to authenticate, say) is an error naming what is missing.
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<ServeSettings, SettingError> {
        let github = match get(vars, GITHUB_WEBHOOK_SECRET) {
            Some(secret) => Some(github(vars, secret)?),
            None => None,
        };
        let gitlab = match get(vars, GITLAB_WEBHOOK_TOKEN) {
            Some(token) => Some(gitlab(vars, token)?),
            None => None,
        };
        if github.is_none() && gitlab.is_none() {
            return Err(SettingError::new(format!(
                "nothing to serve: set {GITHUB_WEBHOOK_SECRET} (the GitHub App's webhook \
                 secret) or {GITLAB_WEBHOOK_TOKEN} (the GitLab webhook's secret token)"
            )));
        }
        Ok(ServeSettings { github, gitlab })
    }
}

fn github(vars: &BTreeMap<String, String>, secret: &str) -> Result<GitHubServe, SettingError> {
    let get = |name: &str| get(vars, name);
    let api_url = http_url("GITHUB_API_URL", get("GITHUB_API_URL"), "https://api.github.com")?;
    let server_url = http_url("GITHUB_SERVER_URL", get("GITHUB_SERVER_URL"), "https://github.com")?;
    let auth = match (get(GITHUB_APP_ID), get("GITHUB_TOKEN")) {
        (Some(id), _) => {
            let id = id.parse::<u64>().map_err(|err| {
                SettingError::caused_by(format!("{GITHUB_APP_ID}={id:?} is not an App id"), err)
            })?;
            let private_key = match (get(GITHUB_APP_PRIVATE_KEY), get(GITHUB_APP_PRIVATE_KEY_FILE))
            {
                (Some(pem), None) => PrivateKey::Pem(Secret::from(pem)),
                (None, Some(path)) => PrivateKey::File(PathBuf::from(path)),
                (Some(_), Some(_)) => {
                    return Err(SettingError::new(format!(
                        "both {GITHUB_APP_PRIVATE_KEY} and {GITHUB_APP_PRIVATE_KEY_FILE} are \
                         set; set one"
                    )))
                }
                (None, None) => {
                    return Err(SettingError::new(format!(
                        "{GITHUB_APP_ID} is set but the App's private key is not: set \
                         {GITHUB_APP_PRIVATE_KEY_FILE} to the .pem file GitHub gave you (or \
                         {GITHUB_APP_PRIVATE_KEY} to its text)"
                    )))
                }
            };
            GitHubAuth::App { id, private_key }
        }
        (None, Some(token)) => {
            if !token.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(SettingError::new(
                    "GITHUB_TOKEN holds spaces or characters a token cannot have",
                ));
            }
            // A bot account's token: unlike an Actions token, nothing else names its login.
            if get(BOT_LOGIN).is_none() {
                return Err(SettingError::new(format!(
                    "GITHUB_TOKEN is set for the server but {BOT_LOGIN} is not: set it to the \
                     login of the account the token belongs to"
                )));
            }
            GitHubAuth::Token(Secret::from(token))
        }
        (None, None) => {
            return Err(SettingError::new(format!(
                "{GITHUB_WEBHOOK_SECRET} is set but nothing says how to act on GitHub: set \
                 {GITHUB_APP_ID} and {GITHUB_APP_PRIVATE_KEY_FILE} (a GitHub App), or \
                 GITHUB_TOKEN (a bot account's token)"
            )))
        }
    };
    Ok(GitHubServe {
        api_url,
        server_url,
        webhook_secret: Secret::from(secret),
        auth,
        bot_login: get(BOT_LOGIN).map(str::to_string),
    })
}

fn gitlab(vars: &BTreeMap<String, String>, webhook: &str) -> Result<GitLabServe, SettingError> {
    let get = |name: &str| get(vars, name);
    let Some(server) = get(GITLAB_URL) else {
        return Err(SettingError::new(format!(
            "{GITLAB_WEBHOOK_TOKEN} is set but {GITLAB_URL} is not: set it to the GitLab \
             instance's address (https://gitlab.example.com)"
        )));
    };
    let server_url = http_url(GITLAB_URL, Some(server), "")?;
    let token = get(GITLAB_TOKEN).ok_or_else(|| {
        SettingError::new(format!(
            "{GITLAB_WEBHOOK_TOKEN} is set but {GITLAB_TOKEN} is not: create a group access \
             token (role Developer or above, scope `api`) and set it"
        ))
    })?;
    Ok(GitLabServe {
        api_url: format!("{server_url}/api/v4"),
        server_url,
        webhook_token: Secret::from(webhook),
        token: Secret::from(token),
        bot_login: get(BOT_LOGIN).map(str::to_string),
    })
}

/// `value` (else `default`) as an http(s) URL without a trailing slash.
fn http_url(variable: &str, value: Option<&str>, default: &str) -> Result<String, SettingError> {
    let text = value.unwrap_or(default);
    let parsed = url::Url::parse(text)
        .map_err(|err| SettingError::caused_by(format!("{variable}={text:?} is not a URL"), err))?;
    if !matches!(parsed.scheme(), "http" | "https") || !parsed.has_host() {
        return Err(SettingError::new(format!("{variable}={text:?} must be an http(s) URL")));
    }
    Ok(text.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn an_app_needs_its_key_and_a_token_is_the_alternative() {
        let app = ServeSettings::from_vars(&vars(&[
            (GITHUB_WEBHOOK_SECRET, "s3cr3t-hook"),
            (GITHUB_APP_ID, "12345"),
            (GITHUB_APP_PRIVATE_KEY_FILE, "/secrets/app.pem"),
        ]))
        .unwrap();
        let github = app.github.unwrap();
        assert!(matches!(
            github.auth,
            GitHubAuth::App { id: 12345, private_key: PrivateKey::File(ref path) }
                if path == std::path::Path::new("/secrets/app.pem")
        ));
        assert_eq!(github.api_url, "https://api.github.com");
        assert!(app.gitlab.is_none());

        let err = ServeSettings::from_vars(&vars(&[
            (GITHUB_WEBHOOK_SECRET, "s3cr3t-hook"),
            (GITHUB_APP_ID, "12345"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains(GITHUB_APP_PRIVATE_KEY_FILE), "{err}");

        let token = ServeSettings::from_vars(&vars(&[
            (GITHUB_WEBHOOK_SECRET, "s3cr3t-hook"),
            ("GITHUB_TOKEN", "ghp_token"),
            ("GITHUB_API_URL", "http://127.0.0.1:9/"),
            (BOT_LOGIN, "acme-bot"),
        ]))
        .unwrap();
        let github = token.github.unwrap();
        assert!(matches!(github.auth, GitHubAuth::Token(ref t) if *t == "ghp_token"));
        assert_eq!(github.api_url, "http://127.0.0.1:9");
        assert_eq!(github.bot_login.as_deref(), Some("acme-bot"));
        let err = ServeSettings::from_vars(&vars(&[
            (GITHUB_WEBHOOK_SECRET, "s3cr3t-hook"),
            ("GITHUB_TOKEN", "ghp_token"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains(BOT_LOGIN), "{err}");
        let printed = format!("{github:?}");
        assert!(!printed.contains("s3cr3t") && !printed.contains("ghp_token"), "{printed}");
    }

    #[test]
    fn a_forge_half_set_up_or_none_at_all_is_an_error_naming_the_variable() {
        let err = ServeSettings::from_vars(&vars(&[])).unwrap_err();
        assert!(err.to_string().starts_with("nothing to serve"), "{err}");
        let err = ServeSettings::from_vars(&vars(&[(GITHUB_WEBHOOK_SECRET, "x")])).unwrap_err();
        assert!(err.to_string().contains(GITHUB_APP_ID), "{err}");
        let err = ServeSettings::from_vars(&vars(&[(GITLAB_WEBHOOK_TOKEN, "x")])).unwrap_err();
        assert!(err.to_string().contains(GITLAB_URL), "{err}");
        let err = ServeSettings::from_vars(&vars(&[
            (GITLAB_WEBHOOK_TOKEN, "x"),
            (GITLAB_URL, "https://gitlab.example.com/"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains(GITLAB_TOKEN), "{err}");
        let gitlab = ServeSettings::from_vars(&vars(&[
            (GITLAB_WEBHOOK_TOKEN, "x"),
            (GITLAB_URL, "https://gitlab.example.com/"),
            (GITLAB_TOKEN, "glpat-x"),
        ]))
        .unwrap()
        .gitlab
        .unwrap();
        assert_eq!(gitlab.api_url, "https://gitlab.example.com/api/v4");
        let err = ServeSettings::from_vars(&vars(&[
            (GITHUB_WEBHOOK_SECRET, "x"),
            (GITHUB_APP_ID, "twelve"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("twelve"), "{err}");
    }
}
