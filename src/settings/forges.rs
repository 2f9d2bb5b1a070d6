//! The forges' settings, from the variables their CI sets: GitHub Actions' `GITHUB_*`
//! (GitHub Enterprise Server works the same) and a GitLab CI job's `CI_*` with the write token
//! `NOMAD_SPEC_GITLAB_TOKEN`. The adapters (`forge::github`, `forge::gitlab`) are built from
//! these values.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::bot::{BOT_LOGIN, GITLAB_TOKEN};
use super::{get, CallSettings, Secret, SettingError};

/// GitHub's API and git server, the repository and the token, as GitHub Actions sets them.
#[derive(Debug, Clone)]
pub struct GitHubSettings {
    /// `GITHUB_API_URL` without a trailing slash (default `https://api.github.com`; GitHub
    /// Enterprise Server: `https://HOST/api/v3`).
    pub api_url: String,
    /// `GITHUB_SERVER_URL` without a trailing slash (default `https://github.com`).
    pub server_url: String,
    /// The repository's owner, from `GITHUB_REPOSITORY` (`owner/name`).
    pub owner: String,
    /// The repository's name.
    pub name: String,
    /// `GITHUB_TOKEN`.
    pub token: Secret,
    /// `NOMAD_SPEC_BOT_LOGIN` (default `github-actions[bot]`: an Actions token cannot ask
    /// `GET /user` who it is).
    pub bot_login: String,
    /// How calls are made (`NOMAD_SPEC_RETRY_*`, `NOMAD_SPEC_REQUEST_TIMEOUT`).
    pub calls: CallSettings,
}

impl GitHubSettings {
    /// Reads GitHub Actions' variables: `GITHUB_API_URL`, `GITHUB_SERVER_URL`,
    /// `GITHUB_REPOSITORY` (required), `GITHUB_TOKEN` (required) and `NOMAD_SPEC_BOT_LOGIN`.
    /// Empty values count as unset.
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<Self, SettingError> {
        let get = |name: &str| get(vars, name);
        let api_url = get("GITHUB_API_URL").unwrap_or("https://api.github.com");
        let server_url = get("GITHUB_SERVER_URL").unwrap_or("https://github.com");
        let repository = get("GITHUB_REPOSITORY").ok_or_else(|| {
            SettingError::new("GITHUB_REPOSITORY is not set; set it to `owner/name`")
        })?;
        let (owner, name) = match repository.split_once('/') {
            Some((owner, name))
                if valid_name(owner) && valid_name(name) && !name.ends_with(".git") =>
            {
                (owner, name)
            }
            _ => {
                return Err(SettingError::new(format!(
                    "GITHUB_REPOSITORY is `{repository}`, not `owner/name`"
                )))
            }
        };
        let token = get("GITHUB_TOKEN").ok_or_else(|| {
            SettingError::new(
                "GITHUB_TOKEN is not set; pass the workflow's token \
                 (`GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}`)",
            )
        })?;
        // The token goes into a header, which cannot hold every character.
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(SettingError::new(
                "GITHUB_TOKEN holds spaces or characters a token cannot have",
            ));
        }
        let bot_login = get(BOT_LOGIN).unwrap_or("github-actions[bot]");
        for (variable, url) in [("GITHUB_API_URL", api_url), ("GITHUB_SERVER_URL", server_url)] {
            let parsed = url::Url::parse(url).map_err(|err| {
                SettingError::new(format!("{variable} is `{url}`, not a URL: {err}"))
            })?;
            if !matches!(parsed.scheme(), "http" | "https") || !parsed.has_host() {
                return Err(SettingError::new(format!(
                    "{variable} is `{url}`; it must be an http(s) URL"
                )));
            }
        }
        Ok(GitHubSettings {
            api_url: api_url.trim_end_matches('/').to_string(),
            server_url: server_url.trim_end_matches('/').to_string(),
            owner: owner.to_string(),
            name: name.to_string(),
            token: Secret::from(token),
            bot_login: bot_login.to_string(),
            calls: CallSettings::from_vars(vars)?,
        })
    }
}

/// GitHub's rule for owner and repository names.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// GitLab's API and git server, the project and the write token, from a CI job's variables.
#[derive(Debug, Clone)]
pub struct GitLabSettings {
    /// `CI_API_V4_URL` without a trailing slash.
    pub api: String,
    /// `CI_SERVER_URL` without a trailing slash (else the API's address without `/api/v4`).
    pub server: String,
    /// The project's id (or URL-encoded path) as it goes into API paths.
    pub project: String,
    /// The project's path (`acme/shop`), which names the repository to clone.
    pub path: String,
    /// `NOMAD_SPEC_GITLAB_TOKEN`: a project access token (the job token cannot write notes).
    pub token: Secret,
    /// `NOMAD_SPEC_BOT_LOGIN`; `None`: the token's own user.
    pub bot_login: Option<String>,
    /// `CI_SERVER_TLS_CA_FILE`: the runner writes a self-managed instance's CA bundle here.
    pub ca_file: Option<PathBuf>,
    /// How calls are made (`NOMAD_SPEC_RETRY_*`, `NOMAD_SPEC_REQUEST_TIMEOUT`).
    pub calls: CallSettings,
}

impl GitLabSettings {
    /// Reads a GitLab CI job's variables: `CI_API_V4_URL` (required), the project
    /// (`CI_MERGE_REQUEST_PROJECT_ID` / `CI_PROJECT_ID`, `CI_MERGE_REQUEST_PROJECT_PATH` /
    /// `CI_PROJECT_PATH`), `CI_SERVER_URL` for git, `CI_SERVER_TLS_CA_FILE` for a private CA,
    /// the write token `NOMAD_SPEC_GITLAB_TOKEN` (required) and `NOMAD_SPEC_BOT_LOGIN`.
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<Self, SettingError> {
        let get = |name: &str| get(vars, name);
        let api = get("CI_API_V4_URL").ok_or_else(|| {
            SettingError::new(
                "CI_API_V4_URL is not set; GitLab sets it in every CI job \
                 (https://gitlab.example.com/api/v4)",
            )
        })?;
        let api_url = url::Url::parse(api)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| {
                SettingError::new(format!("CI_API_V4_URL={api:?} is not an http(s) URL"))
            })?;
        let api = api_url.as_str().trim_end_matches('/').to_string();
        let server = match get("CI_SERVER_URL") {
            Some(server) => server.trim_end_matches('/').to_string(),
            None => api.strip_suffix("/api/v4").unwrap_or(&api).to_string(),
        };
        let path = get("CI_MERGE_REQUEST_PROJECT_PATH").or_else(|| get("CI_PROJECT_PATH"));
        let project = match get("CI_MERGE_REQUEST_PROJECT_ID").or_else(|| get("CI_PROJECT_ID")) {
            Some(id) => id.to_string(),
            None => match path {
                Some(path) => path.replace('/', "%2F"),
                None => {
                    return Err(SettingError::new(
                        "neither CI_PROJECT_ID nor CI_PROJECT_PATH is set",
                    ))
                }
            },
        };
        let path = path.ok_or_else(|| {
            SettingError::new("CI_PROJECT_PATH is not set; it names the repository to clone")
        })?;
        let token = get(GITLAB_TOKEN).ok_or_else(|| {
            SettingError::new(format!(
                "{GITLAB_TOKEN} is not set: create a project access token with the Developer \
                 role (or above) and the `api` scope, and add it as a masked CI/CD variable \
                 named {GITLAB_TOKEN}; the job token cannot write notes or commit statuses"
            ))
        })?;
        Ok(GitLabSettings {
            api,
            server,
            project,
            path: path.to_string(),
            token: Secret::from(token),
            bot_login: get(BOT_LOGIN).map(str::to_string),
            ca_file: get("CI_SERVER_TLS_CA_FILE").map(PathBuf::from),
            calls: CallSettings::from_vars(vars)?,
        })
    }
}
