//! What a Nomad version can run: the features whose job-file form changed between versions,
//! so that a generated job uses what the cluster has and `validate --nomad-version` can say
//! what a file uses that a cluster lacks.
//!
//! The version comes from `.nomad-spec.toml` (`nomad_version`), a flag, or the cluster itself
//! (the Nomad client reads it from `/v1/agent/self`); here it is only a value. Without one,
//! the newest Nomad is assumed. Versions per Nomad's changelog and job specification pages:
//! docker `extra_hosts` in a bridge-mode group 1.1.3 (Nomad writes the group's `/etc/hosts`;
//! before, Docker refused the option with the shared network), native service discovery 1.3,
//! its checks 1.4, node pools 1.6, Vault workload identity (`vault { role }`) 1.7, task
//! `secret` blocks 1.11.

use std::fmt;
use std::str::FromStr;

/// A Nomad version, major.minor.patch (a pre-release suffix is ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct NomadVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl NomadVersion {
    /// A version from its parts.
    pub const fn new(major: u32, minor: u32, patch: u32) -> NomadVersion {
        NomadVersion { major, minor, patch }
    }
}

impl fmt::Display for NomadVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl FromStr for NomadVersion {
    type Err = String;

    /// `1.6`, `1.9.3`, `v1.11.0`, `1.7.0-beta.1` (the suffix is ignored).
    fn from_str(text: &str) -> Result<NomadVersion, String> {
        let bad = || format!("`{text}` is not a Nomad version like 1.9 or 1.9.3");
        let core = text.trim().trim_start_matches('v');
        let core = core.split(['-', '+']).next().unwrap_or_default();
        let parts: Vec<&str> = core.split('.').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(bad());
        }
        let number = |part: &str| part.parse::<u32>().map_err(|_| bad());
        Ok(NomadVersion {
            major: number(parts[0])?,
            minor: number(parts[1])?,
            patch: parts.get(2).map_or(Ok(0), |p| number(p))?,
        })
    }
}

/// One job-file feature that needs a minimum Nomad version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// Docker `extra_hosts` in a group with `network { mode = "bridge" }`.
    BridgeExtraHosts,
    /// `provider = "nomad"` services.
    NativeServiceDiscovery,
    /// `check` blocks in `provider = "nomad"` services.
    NativeServiceChecks,
    /// `node_pool`.
    NodePools,
    /// `vault { role }`: Vault workload identity.
    VaultWorkloadIdentity,
    /// Task `secret` blocks.
    SecretBlocks,
}

impl Feature {
    /// The first Nomad version with the feature.
    pub fn since(self) -> NomadVersion {
        match self {
            Feature::BridgeExtraHosts => NomadVersion::new(1, 1, 3),
            Feature::NativeServiceDiscovery => NomadVersion::new(1, 3, 0),
            Feature::NativeServiceChecks => NomadVersion::new(1, 4, 0),
            Feature::NodePools => NomadVersion::new(1, 6, 0),
            Feature::VaultWorkloadIdentity => NomadVersion::new(1, 7, 0),
            Feature::SecretBlocks => NomadVersion::new(1, 11, 0),
        }
    }

    /// The feature in the words of a job file.
    pub fn describe(self) -> &'static str {
        match self {
            Feature::BridgeExtraHosts => "docker `extra_hosts` in a bridge-mode group",
            Feature::NativeServiceDiscovery => "Nomad service discovery (`provider = \"nomad\"`)",
            Feature::NativeServiceChecks => "checks on `provider = \"nomad\"` services",
            Feature::NodePools => "`node_pool`",
            Feature::VaultWorkloadIdentity => "Vault workload identity (`vault { role }`)",
            Feature::SecretBlocks => "task `secret` blocks",
        }
    }
}

/// What the cluster's Nomad can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NomadFeatures {
    /// The version the features come from; `None` means the newest Nomad.
    pub version: Option<NomadVersion>,
}

impl NomadFeatures {
    /// Every feature (no version known: the newest Nomad).
    pub const LATEST: NomadFeatures = NomadFeatures { version: None };

    /// The features of a version.
    pub fn of(version: NomadVersion) -> NomadFeatures {
        NomadFeatures { version: Some(version) }
    }

    /// The features of a version written as text (`1.9`).
    pub fn parse(version: &str) -> Result<NomadFeatures, String> {
        version.parse().map(NomadFeatures::of)
    }

    /// Whether the cluster has `feature`.
    pub fn has(&self, feature: Feature) -> bool {
        self.version.is_none_or(|version| version >= feature.since())
    }

    /// The version in words, for reasons: `Nomad 1.6.0` or `the newest Nomad`.
    pub fn describe(&self) -> String {
        match self.version {
            Some(version) => format!("Nomad {version}"),
            None => "the newest Nomad".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_strictly() {
        let cases = [
            ("1.6", Ok("1.6.0")),
            ("1.9.3", Ok("1.9.3")),
            ("v1.11.0", Ok("1.11.0")),
            ("1.7.0-beta.1", Ok("1.7.0")),
            ("1", Err(())),
            ("1.x", Err(())),
            ("", Err(())),
        ];
        for (text, want) in cases {
            let got = text.parse::<NomadVersion>().map(|v| v.to_string()).map_err(|_| ());
            assert_eq!(got, want.map(str::to_string), "{text}");
        }
    }

    #[test]
    fn features_by_version() {
        use Feature::*;
        let all = [
            NativeServiceDiscovery,
            NativeServiceChecks,
            NodePools,
            VaultWorkloadIdentity,
            SecretBlocks,
        ];
        let table = |version: &str| -> Vec<bool> {
            let features = NomadFeatures::parse(version).unwrap();
            all.iter().map(|f| features.has(*f)).collect()
        };
        assert_eq!(table("1.2"), [false, false, false, false, false]);
        assert_eq!(table("1.4.0"), [true, true, false, false, false]);
        assert_eq!(table("1.6"), [true, true, true, false, false]);
        assert_eq!(table("1.9.3"), [true, true, true, true, false]);
        assert_eq!(table("1.11.0"), [true, true, true, true, true]);
        assert!(all.iter().all(|f| NomadFeatures::LATEST.has(*f)));
    }
}
