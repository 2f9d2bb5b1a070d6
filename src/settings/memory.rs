//! Memory's settings: whether it is on, where the embedded store is (a file under the user's
//! data folder, or a git ref of the repository in CI), the name of the cluster its entries are
//! filed under, the embeddings endpoint when one is configured, and Qdrant when `QDRANT_URL`
//! names one (then memory lives there instead of the embedded store).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{get, Secret, SettingError};

/// Turns memory off (`off`, `false`, `no` or `0`).
pub const MEMORY: &str = "NOMAD_SPEC_MEMORY";
/// The embedded store's file (default: `memory.json` under the user's data folder).
pub const MEMORY_PATH: &str = "NOMAD_SPEC_MEMORY_PATH";
/// The git ref the bot keeps the store on in CI (default [`DEFAULT_MEMORY_REF`]).
pub const MEMORY_REF: &str = "NOMAD_SPEC_MEMORY_REF";
/// The cluster's name in memory (default: the Nomad address).
pub const MEMORY_CLUSTER: &str = "NOMAD_SPEC_MEMORY_CLUSTER";
/// The model of an OpenAI-compatible `/v1/embeddings` endpoint; unset: the local embedding.
pub const EMBEDDING_MODEL: &str = "NOMAD_SPEC_EMBEDDING_MODEL";
/// The embeddings endpoint's base URL (default: the LLM's).
pub const EMBEDDING_BASE_URL: &str = "NOMAD_SPEC_EMBEDDING_BASE_URL";
/// Qdrant's gRPC address (`http://qdrant:6334`); set, memory lives in Qdrant.
pub const QDRANT_URL: &str = "QDRANT_URL";
/// Qdrant's API key, when the server wants one.
pub const QDRANT_API_KEY: &str = "QDRANT_API_KEY";
/// The git ref the bot keeps memory on unless told otherwise.
pub const DEFAULT_MEMORY_REF: &str = "refs/nomad-spec/memory";

/// How memory is kept and searched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemorySettings {
    /// The embedded store's file.
    pub path: PathBuf,
    /// The ref the bot keeps the store on in CI.
    pub git_ref: String,
    /// The cluster entries are filed under.
    pub cluster: String,
    /// The embeddings endpoint, when a model is configured.
    pub embeddings: Option<EmbeddingSettings>,
    /// Qdrant, when `QDRANT_URL` is set: memory lives there instead of the embedded store.
    pub qdrant: Option<QdrantSettings>,
}

/// A Qdrant server, spoken to over gRPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QdrantSettings {
    /// Its gRPC URL (`http://127.0.0.1:6334`).
    pub url: String,
    /// The API key it wants, when one is set.
    pub api_key: Option<Secret>,
}

/// An OpenAI-compatible embeddings endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddingSettings {
    /// Base URL ending before `/embeddings` (`http://localhost:8000/v1`).
    pub base_url: String,
    /// The model.
    pub model: String,
    /// Bearer token (the LLM's), when one is set.
    pub api_key: Option<Secret>,
}

impl MemorySettings {
    /// Reads memory's settings; `Ok(None)` when memory is turned off. Without
    /// `NOMAD_SPEC_MEMORY_PATH` the file is `$XDG_DATA_HOME/nomad-spec/memory.json`, else
    /// `$HOME/.local/share/nomad-spec/memory.json`; with neither set, memory has nowhere to
    /// live and that is an error (the caller goes on without it).
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<Option<Self>, SettingError> {
        let get = |name: &str| get(vars, name);
        if let Some(value) = get(MEMORY) {
            match value.to_ascii_lowercase().as_str() {
                "off" | "false" | "no" | "0" => return Ok(None),
                "on" | "true" | "yes" | "1" => {}
                _ => {
                    return Err(SettingError::new(format!(
                        "{MEMORY} `{value}` is neither on nor off"
                    )))
                }
            }
        }
        let path = match (get(MEMORY_PATH), get("XDG_DATA_HOME"), get("HOME")) {
            (Some(path), _, _) => PathBuf::from(path),
            (None, Some(data), _) => PathBuf::from(data).join("nomad-spec").join("memory.json"),
            (None, None, Some(home)) => {
                PathBuf::from(home).join(".local/share/nomad-spec/memory.json")
            }
            (None, None, None) => {
                return Err(SettingError::new(format!(
                    "memory has no place to live: set {MEMORY_PATH} (or HOME)"
                )))
            }
        };
        let git_ref = get(MEMORY_REF).unwrap_or(DEFAULT_MEMORY_REF).to_string();
        if !git_ref.starts_with("refs/") || git_ref.contains("..") || git_ref.contains(' ') {
            return Err(SettingError::new(format!(
                "{MEMORY_REF} `{git_ref}` is not a full git ref (refs/...)"
            )));
        }
        let cluster = get(MEMORY_CLUSTER)
            .or_else(|| get("NOMAD_ADDR"))
            .unwrap_or(super::DEFAULT_NOMAD_ADDRESS)
            .to_string();
        let embeddings = match get(EMBEDDING_MODEL) {
            None => None,
            Some(model) => {
                let Some(base_url) = get(EMBEDDING_BASE_URL)
                    .or_else(|| get("NOMAD_SPEC_LLM_BASE_URL"))
                    .or_else(|| get("OPENAI_BASE_URL"))
                else {
                    return Err(SettingError::new(format!(
                        "{EMBEDDING_MODEL} is set but no endpoint is: set {EMBEDDING_BASE_URL} \
                         (or the LLM's base URL)"
                    )));
                };
                url::Url::parse(base_url).map_err(|err| {
                    SettingError::caused_by(
                        format!("{EMBEDDING_BASE_URL} `{base_url}` is not a URL"),
                        err,
                    )
                })?;
                Some(EmbeddingSettings {
                    base_url: base_url.trim_end_matches('/').to_string(),
                    model: model.to_string(),
                    api_key: get("NOMAD_SPEC_LLM_API_KEY")
                        .or_else(|| get("OPENAI_API_KEY"))
                        .map(Into::into),
                })
            }
        };
        let qdrant = match get(QDRANT_URL) {
            None => None,
            Some(url) => {
                let parsed = url::Url::parse(url).map_err(|err| {
                    SettingError::caused_by(format!("{QDRANT_URL} `{url}` is not a URL"), err)
                })?;
                if !matches!(parsed.scheme(), "http" | "https") || !parsed.has_host() {
                    return Err(SettingError::new(format!(
                        "{QDRANT_URL} is `{url}`; it must be an http(s) URL (Qdrant's gRPC port, \
                         6334 by default)"
                    )));
                }
                let api_key = get(QDRANT_API_KEY);
                // The key goes into a gRPC header, and the client repeats a key it cannot send
                // in its error: refused here, without saying it.
                if api_key.is_some_and(|key| !key.bytes().all(|b| b.is_ascii_graphic())) {
                    return Err(SettingError::new(format!(
                        "{QDRANT_API_KEY} holds spaces or characters a key cannot have"
                    )));
                }
                Some(QdrantSettings {
                    url: url.trim_end_matches('/').to_string(),
                    api_key: api_key.map(Into::into),
                })
            }
        };
        Ok(Some(MemorySettings { path, git_ref, cluster, embeddings, qdrant }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<Option<MemorySettings>, SettingError> {
        let vars = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        MemorySettings::from_vars(&vars)
    }

    #[test]
    fn memory_lives_under_the_user_s_data_folder_unless_told_otherwise() {
        let settings = read(&[("HOME", "/home/ada")]).unwrap().unwrap();
        assert_eq!(settings.path, PathBuf::from("/home/ada/.local/share/nomad-spec/memory.json"));
        assert_eq!(settings.git_ref, DEFAULT_MEMORY_REF);
        assert_eq!(settings.cluster, "http://127.0.0.1:4646");
        assert_eq!(settings.embeddings, None);
        let xdg = read(&[("HOME", "/home/ada"), ("XDG_DATA_HOME", "/data")]).unwrap().unwrap();
        assert_eq!(xdg.path, PathBuf::from("/data/nomad-spec/memory.json"));
        let named = read(&[(MEMORY_PATH, "/m.json"), (MEMORY_CLUSTER, "prod")]).unwrap().unwrap();
        assert_eq!((named.path, named.cluster.as_str()), (PathBuf::from("/m.json"), "prod"));
    }

    #[test]
    fn memory_can_be_turned_off_and_bad_values_name_their_variable() {
        assert_eq!(read(&[(MEMORY, "off"), ("HOME", "/h")]).unwrap(), None);
        assert_eq!(read(&[(MEMORY, "0")]).unwrap(), None);
        let err = read(&[(MEMORY, "maybe")]).unwrap_err().to_string();
        assert_eq!(err, "NOMAD_SPEC_MEMORY `maybe` is neither on nor off");
        let err = read(&[("HOME", "/h"), (MEMORY_REF, "memory")]).unwrap_err().to_string();
        assert!(err.starts_with("NOMAD_SPEC_MEMORY_REF `memory`"), "{err}");
        assert!(read(&[]).unwrap_err().to_string().contains(MEMORY_PATH));
    }

    #[test]
    fn qdrant_is_used_when_its_url_is_set_and_its_key_is_never_shown() {
        assert_eq!(read(&[("HOME", "/h")]).unwrap().unwrap().qdrant, None);
        let settings = read(&[
            ("HOME", "/h"),
            (QDRANT_URL, "http://qdrant:6334/"),
            (QDRANT_API_KEY, "k3y-s3cr3t"),
        ])
        .unwrap()
        .unwrap();
        let qdrant = settings.qdrant.unwrap();
        assert_eq!(qdrant.url, "http://qdrant:6334");
        assert_eq!(qdrant.api_key.as_ref().map(Secret::as_str), Some("k3y-s3cr3t"));
        assert!(!format!("{qdrant:?}").contains("k3y"));
        let err = read(&[("HOME", "/h"), (QDRANT_URL, "qdrant:6334")]).unwrap_err().to_string();
        assert!(err.starts_with("QDRANT_URL is `qdrant:6334`; it must be an http(s) URL"), "{err}");
        let err =
            read(&[("HOME", "/h"), (QDRANT_URL, "http://q:6334"), (QDRANT_API_KEY, "a b\u{7f}")])
                .unwrap_err()
                .to_string();
        assert_eq!(err, "QDRANT_API_KEY holds spaces or characters a key cannot have");
    }

    #[test]
    fn embeddings_use_the_llm_s_endpoint_when_a_model_is_named() {
        let settings = read(&[
            ("HOME", "/h"),
            (EMBEDDING_MODEL, "nomic-embed"),
            ("NOMAD_SPEC_LLM_BASE_URL", "http://127.0.0.1:8000/v1/"),
            ("NOMAD_SPEC_LLM_API_KEY", "s3cr3t"),
        ])
        .unwrap()
        .unwrap();
        let embeddings = settings.embeddings.unwrap();
        assert_eq!(embeddings.base_url, "http://127.0.0.1:8000/v1");
        assert_eq!(embeddings.model, "nomic-embed");
        assert!(!format!("{embeddings:?}").contains("s3cr3t"));
        let err = read(&[("HOME", "/h"), (EMBEDDING_MODEL, "m")]).unwrap_err().to_string();
        assert!(err.contains(EMBEDDING_BASE_URL), "{err}");
    }
}
