//! The cluster's services as their own command lines read them: Nomad (`NOMAD_*`), Vault
//! (`VAULT_*`), Consul (`CONSUL_*`) and Fabio's admin address (`FABIO_ADMIN_ADDR`). The
//! clients (`nomad::client`, `infra`) are built from these values.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::{get, CallSettings, RetryPolicy, Secret, SettingError};

/// Nomad's address when `NOMAD_ADDR` is unset, as for the `nomad` command.
pub const DEFAULT_NOMAD_ADDRESS: &str = "http://127.0.0.1:4646";

/// Fabio's admin address when `FABIO_ADMIN_ADDR` is unset.
pub const DEFAULT_FABIO_ADDRESS: &str = "http://localhost:9998";

/// KV key of the team's conventions in Consul unless `NOMAD_SPEC_CONVENTIONS_KEY` names another.
pub const DEFAULT_CONVENTIONS_KEY: &str = "config/nomad-agent/conventions";

/// Nomad's connection settings, as the `nomad` command reads them from `NOMAD_*` variables,
/// and the client's own timeouts and retries.
#[derive(Clone)]
pub struct NomadConfig {
    /// `NOMAD_ADDR`.
    pub address: String,
    /// `NOMAD_TOKEN`, sent as `X-Nomad-Token`.
    pub token: Option<Secret>,
    /// `NOMAD_NAMESPACE`.
    pub namespace: Option<String>,
    /// `NOMAD_REGION`.
    pub region: Option<String>,
    /// `NOMAD_CACERT`: PEM bundle of the CAs to trust.
    pub ca_cert: Option<PathBuf>,
    /// `NOMAD_CLIENT_CERT`: PEM client certificate for mutual TLS.
    pub client_cert: Option<PathBuf>,
    /// `NOMAD_CLIENT_KEY`: PEM key of the client certificate.
    pub client_key: Option<PathBuf>,
    /// `NOMAD_TLS_SERVER_NAME`: the name to verify the server's certificate against.
    pub tls_server_name: Option<String>,
    /// `NOMAD_SKIP_VERIFY`: accept any server certificate.
    pub skip_verify: bool,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed for one non-blocking request (`NOMAD_SPEC_REQUEST_TIMEOUT`).
    pub request_timeout: Duration,
    /// When a call is tried again (`NOMAD_SPEC_RETRY_*`).
    pub retry: RetryPolicy,
}

impl fmt::Debug for NomadConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NomadConfig")
            .field("address", &self.address)
            .field("token", &self.token)
            .field("namespace", &self.namespace)
            .field("region", &self.region)
            .field("ca_cert", &self.ca_cert)
            .field("client_cert", &self.client_cert)
            .field("client_key", &self.client_key)
            .field("tls_server_name", &self.tls_server_name)
            .field("skip_verify", &self.skip_verify)
            .finish_non_exhaustive()
    }
}

impl Default for NomadConfig {
    fn default() -> Self {
        NomadConfig {
            address: DEFAULT_NOMAD_ADDRESS.to_string(),
            token: None,
            namespace: None,
            region: None,
            ca_cert: None,
            client_cert: None,
            client_key: None,
            tls_server_name: None,
            skip_verify: false,
            connect_timeout: Duration::from_secs(5),
            request_timeout: CallSettings::default().request_timeout,
            retry: RetryPolicy::default(),
        }
    }
}

impl NomadConfig {
    /// Reads the settings from a map of `NOMAD_*` variables (empty values count as unset).
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<Self, SettingError> {
        let get = |name: &str| get(vars, name).map(str::to_string);
        let skip_verify = match get("NOMAD_SKIP_VERIFY").as_deref() {
            None => false,
            Some(text) => go_bool(text).ok_or_else(|| {
                SettingError::new(format!("NOMAD_SKIP_VERIFY={text:?} is not a boolean"))
            })?,
        };
        let calls = CallSettings::from_vars(vars)?;
        Ok(NomadConfig {
            address: get("NOMAD_ADDR").unwrap_or_else(|| DEFAULT_NOMAD_ADDRESS.to_string()),
            token: get("NOMAD_TOKEN").map(Secret::from),
            namespace: get("NOMAD_NAMESPACE"),
            region: get("NOMAD_REGION"),
            ca_cert: get("NOMAD_CACERT").map(PathBuf::from),
            client_cert: get("NOMAD_CLIENT_CERT").map(PathBuf::from),
            client_key: get("NOMAD_CLIENT_KEY").map(PathBuf::from),
            tls_server_name: get("NOMAD_TLS_SERVER_NAME"),
            skip_verify,
            request_timeout: calls.request_timeout,
            retry: calls.retry,
            ..NomadConfig::default()
        })
    }

    /// The namespace requests go to (`default` when unset, as for Nomad).
    pub fn namespace_or_default(&self) -> &str {
        self.namespace.as_deref().unwrap_or("default")
    }
}

/// Booleans as Go's `strconv.ParseBool` reads them (what the `nomad` command accepts).
fn go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Vault's connection settings, as the `vault` command reads them.
#[derive(Debug, Clone)]
pub struct VaultSettings {
    /// `VAULT_ADDR`.
    pub address: Url,
    /// `VAULT_TOKEN`, sent as `X-Vault-Token`.
    pub token: Option<Secret>,
    /// `VAULT_NAMESPACE`, sent as `X-Vault-Namespace`.
    pub namespace: Option<String>,
    /// `VAULT_CACERT`: PEM bundle of the CAs to trust.
    pub ca_cert: Option<PathBuf>,
    /// How calls are made (`NOMAD_SPEC_RETRY_*`, `NOMAD_SPEC_REQUEST_TIMEOUT`).
    pub calls: CallSettings,
}

impl VaultSettings {
    /// Reads `VAULT_*` from `vars`; `None` when `VAULT_ADDR` is unset or empty (not
    /// configured).
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<Option<Self>, SettingError> {
        let get = |name: &str| get(vars, name);
        let Some(address) = get("VAULT_ADDR") else { return Ok(None) };
        let address = Url::parse(address)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
            .ok_or_else(|| {
                SettingError::new(format!(
                    "VAULT_ADDR `{address}` is not an http:// or https:// address"
                ))
            })?;
        Ok(Some(VaultSettings {
            address,
            token: get("VAULT_TOKEN").map(Secret::from),
            namespace: get("VAULT_NAMESPACE").map(str::to_string),
            ca_cert: get("VAULT_CACERT").map(PathBuf::from),
            calls: CallSettings::from_vars(vars)?,
        }))
    }
}

/// Consul's settings, as the `consul` command reads them, and where the team's conventions
/// are kept in its KV store.
#[derive(Debug, Clone)]
pub struct ConsulSettings {
    /// `CONSUL_HTTP_ADDR` (`host:port` or a URL; `https://` or `CONSUL_HTTP_SSL=true` for TLS).
    pub address: Url,
    /// `CONSUL_HTTP_TOKEN`, sent as `X-Consul-Token`.
    pub token: Option<Secret>,
    /// `CONSUL_CACERT`: PEM bundle of the CAs to trust.
    pub ca_cert: Option<PathBuf>,
    /// `NOMAD_SPEC_CONVENTIONS_KEY`, else [`DEFAULT_CONVENTIONS_KEY`].
    pub conventions_key: String,
    /// How calls are made (`NOMAD_SPEC_RETRY_*`, `NOMAD_SPEC_REQUEST_TIMEOUT`).
    pub calls: CallSettings,
}

impl ConsulSettings {
    /// Reads `CONSUL_*` from `vars`; `None` when `CONSUL_HTTP_ADDR` is unset.
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<Option<Self>, SettingError> {
        let get = |name: &str| get(vars, name);
        let Some(address) = get("CONSUL_HTTP_ADDR") else { return Ok(None) };
        let ssl =
            get("CONSUL_HTTP_SSL").is_some_and(|v| matches!(v, "1" | "true" | "TRUE" | "True"));
        let url = http_address(address, if ssl { "https" } else { "http" }).ok_or_else(|| {
            SettingError::new(format!(
                "CONSUL_HTTP_ADDR={address:?} is not an address like 127.0.0.1:8500"
            ))
        })?;
        Ok(Some(ConsulSettings {
            address: url,
            token: get("CONSUL_HTTP_TOKEN").map(Secret::from),
            ca_cert: get("CONSUL_CACERT").map(PathBuf::from),
            conventions_key: get("NOMAD_SPEC_CONVENTIONS_KEY")
                .unwrap_or(DEFAULT_CONVENTIONS_KEY)
                .to_string(),
            calls: CallSettings::from_vars(vars)?,
        }))
    }
}

/// An HTTP(S) address written as a URL or as `host:port` (then with `scheme`), as the
/// `consul` command and Fabio's own settings take it.
fn http_address(address: &str, scheme: &str) -> Option<Url> {
    let with_scheme =
        if address.contains("://") { address.to_string() } else { format!("{scheme}://{address}") };
    Url::parse(&with_scheme)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && !url.cannot_be_a_base())
}

/// Fabio's admin API (`ui.addr`), where its routing table is read.
#[derive(Debug, Clone)]
pub struct FabioSettings {
    /// `FABIO_ADMIN_ADDR` (default [`DEFAULT_FABIO_ADDRESS`]; `host:port` means `http://`).
    pub address: Url,
    /// How calls are made (`NOMAD_SPEC_RETRY_*`, `NOMAD_SPEC_REQUEST_TIMEOUT`).
    pub calls: CallSettings,
}

impl FabioSettings {
    /// Reads `FABIO_ADMIN_ADDR` from `vars`.
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<Self, SettingError> {
        let address = get(vars, "FABIO_ADMIN_ADDR").unwrap_or(DEFAULT_FABIO_ADDRESS);
        let url = http_address(address, "http").ok_or_else(|| {
            SettingError::new(format!(
                "FABIO_ADMIN_ADDR={address:?} is not a URL like http://fabio:9998"
            ))
        })?;
        Ok(FabioSettings { address: url, calls: CallSettings::from_vars(vars)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn nomad_reads_its_variables() {
        let config = NomadConfig::from_vars(&vars(&[
            ("NOMAD_ADDR", "https://nomad.example:4646"),
            ("NOMAD_TOKEN", "s3cr3t"),
            ("NOMAD_NAMESPACE", "apps"),
            ("NOMAD_REGION", "eu"),
            ("NOMAD_SKIP_VERIFY", "true"),
            ("NOMAD_CACERT", ""),
        ]))
        .unwrap();
        assert_eq!(config.address, "https://nomad.example:4646");
        assert_eq!(config.namespace_or_default(), "apps");
        assert_eq!(config.region.as_deref(), Some("eu"));
        assert!(config.skip_verify);
        assert_eq!(config.ca_cert, None);
        let printed = format!("{config:?}");
        assert!(!printed.contains("s3cr3t"), "{printed}");
    }

    #[test]
    fn nomad_defaults_like_the_nomad_command() {
        let config = NomadConfig::from_vars(&BTreeMap::new()).unwrap();
        assert_eq!(config.address, DEFAULT_NOMAD_ADDRESS);
        assert_eq!(config.namespace_or_default(), "default");
        assert!(!config.skip_verify);
        let err = NomadConfig::from_vars(&vars(&[("NOMAD_SKIP_VERIFY", "maybe")])).unwrap_err();
        assert!(err.to_string().contains("NOMAD_SKIP_VERIFY"), "{err}");
    }

    #[test]
    fn consul_address_forms() {
        let cases = [
            (vec![("CONSUL_HTTP_ADDR", "127.0.0.1:8500")], Some("http://127.0.0.1:8500/")),
            (
                vec![("CONSUL_HTTP_ADDR", "consul:8501"), ("CONSUL_HTTP_SSL", "true")],
                Some("https://consul:8501/"),
            ),
            (vec![("CONSUL_HTTP_ADDR", "https://consul")], Some("https://consul/")),
            (vec![], None),
        ];
        for (pairs, expected) in cases {
            let got = ConsulSettings::from_vars(&vars(&pairs)).ok().flatten();
            assert_eq!(got.map(|s| s.address.to_string()).as_deref(), expected);
        }
        let err = ConsulSettings::from_vars(&vars(&[("CONSUL_HTTP_ADDR", "ftp://x")])).unwrap_err();
        assert!(err.to_string().contains("CONSUL_HTTP_ADDR=\"ftp://x\""), "{err}");
        let key = ConsulSettings::from_vars(&vars(&[
            ("CONSUL_HTTP_ADDR", "127.0.0.1:8500"),
            ("NOMAD_SPEC_CONVENTIONS_KEY", " "),
        ]));
        assert_eq!(key.unwrap().unwrap().conventions_key, DEFAULT_CONVENTIONS_KEY);
    }

    #[test]
    fn vault_settings_come_from_the_given_map_only() {
        assert!(VaultSettings::from_vars(&vars(&[])).unwrap().is_none());
        assert!(VaultSettings::from_vars(&vars(&[("VAULT_ADDR", " ")])).unwrap().is_none());
        let err = VaultSettings::from_vars(&vars(&[("VAULT_ADDR", "vault:8200")])).unwrap_err();
        assert!(err.to_string().contains("VAULT_ADDR `vault:8200`"), "{err}");
        let settings = VaultSettings::from_vars(&vars(&[
            ("VAULT_ADDR", "https://vault.example:8200"),
            ("VAULT_TOKEN", "s.secret"),
            ("VAULT_NAMESPACE", "team"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(settings.namespace.as_deref(), Some("team"));
        let debug = format!("{settings:?}");
        assert!(!debug.contains("s.secret") && debug.contains("***"), "{debug}");
    }

    #[test]
    fn fabio_addresses_are_checked() {
        let fabio = FabioSettings::from_vars(&vars(&[("FABIO_ADMIN_ADDR", "fabio:9998")]));
        assert_eq!(fabio.unwrap().address.as_str(), "http://fabio:9998/");
        let err = FabioSettings::from_vars(&vars(&[("FABIO_ADMIN_ADDR", "ftp://x")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "FABIO_ADMIN_ADDR=\"ftp://x\" is not a URL like http://fabio:9998"
        );
        let default = FabioSettings::from_vars(&BTreeMap::new()).unwrap();
        assert_eq!(default.address.as_str(), "http://localhost:9998/");
    }
}
