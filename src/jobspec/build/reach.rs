//! How one service reaches another on Nomad: the lookup of the registry the other is in
//! (`nomadService` for Nomad's, `service` for Consul's), or a fixed endpoint a person gave.
//!
//! Compose gives every service a DNS name; Nomad does not. Every place a service names
//! another (an env value, a delivered configuration file) is rewritten into a template
//! expression that asks the registry for the address AND the port, because ports are assigned
//! at placement. This file owns that choice and the text of the expressions; the callers
//! decide where the text goes.

use super::{Builder, GroupNames};
use crate::analyze::{self, Protocol};
use crate::jobspec::config::ServiceProvider;

/// How a dependency is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Reach {
    /// Looked up in a registry: the template function and the registered name.
    Lookup {
        /// `nomadService` or `service`.
        function: &'static str,
        /// The registered service name.
        name: String,
        /// Why this registry and name, for decisions.
        how: String,
    },
    /// A fixed `host:port` a person gave (`endpoint.SERVICE`).
    Endpoint(String),
}

impl Reach {
    /// The words a decision uses for it.
    pub(super) fn describe(&self) -> String {
        match self {
            Reach::Lookup { function, name, .. } => format!("{function} \"{name}\""),
            Reach::Endpoint(endpoint) => format!("the endpoint {endpoint}"),
        }
    }

    /// An expression for the first instance's `address:port` (or address only), inline in a
    /// file. With no instance registered yet it renders empty and Nomad renders again (and
    /// restarts the task) when one registers.
    pub(super) fn inline(&self, left: &str, right: &str, with_port: bool) -> String {
        self.expression(left, right, with_port, None)
    }

    /// [`Reach::inline`] for a line of a delivered configuration file: with no instance
    /// registered yet it renders [`NOWHERE`] instead of nothing, so the file still parses
    /// (`proxy_pass http://;` stops nginx from starting at all, and every start spends one of
    /// the task's restarts) and the program answers with its own connection error until Nomad
    /// renders the file again when an instance registers.
    pub(super) fn in_file(&self, left: &str, right: &str, with_port: bool) -> String {
        let nowhere = if with_port { NOWHERE } else { NOWHERE_HOST };
        self.expression(left, right, with_port, Some(nowhere))
    }

    /// The first instance's `address:port` (or address), `otherwise` while there is none.
    fn expression(
        &self,
        left: &str,
        right: &str,
        with_port: bool,
        otherwise: Option<&str>,
    ) -> String {
        match self {
            Reach::Lookup { function, name, .. } => {
                let value = if with_port {
                    format!("{left} .Address {right}:{left} .Port {right}")
                } else {
                    format!("{left} .Address {right}")
                };
                let otherwise =
                    otherwise.map(|text| format!("{left} else {right}{text}")).unwrap_or_default();
                format!(
                    "{left} range $i, $s := {function} \"{name}\" {right}{left} if eq $i 0 {right}\
                     {value}{left} end {right}{otherwise}{left} end {right}"
                )
            }
            Reach::Endpoint(endpoint) if with_port => endpoint.clone(),
            Reach::Endpoint(endpoint) => {
                endpoint.rsplit_once(':').map_or(endpoint.as_str(), |(host, _)| host).to_string()
            }
        }
    }
}

/// Where a delivered file points while the service it names has no instance: the discard
/// port on the loopback, which refuses every connection (as the compose-names sidecar's
/// placeholder upstream does).
pub(super) const NOWHERE: &str = "127.0.0.1:9";
const NOWHERE_HOST: &str = "127.0.0.1";

/// The port labels a service's group gets, in the order of its ports: the protocol's name, or
/// `<protocol>_<port>` when two ports speak the same one.
pub(super) fn port_labels(ports: &[analyze::Port]) -> Vec<String> {
    let mut labels: Vec<String> = Vec::new();
    for port in ports {
        let base = match port.protocol {
            Protocol::Http => "http",
            Protocol::Grpc => "grpc",
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        };
        let label = if labels.iter().any(|l| l == base) {
            format!("{base}_{}", port.container)
        } else {
            base.to_string()
        };
        labels.push(label);
    }
    labels
}

impl Builder<'_> {
    /// How `from` reaches `dependency` (a service of the analysis) on `port` (its container
    /// port, when the reference names one; the main port otherwise).
    pub(super) fn reach(
        &self,
        dependency: &analyze::Service,
        port: Option<u16>,
        names: &GroupNames,
        deployed: &[&analyze::Service],
    ) -> Reach {
        if let Some(endpoint) = &self.service_answers(&dependency.name).endpoint {
            return Reach::Endpoint(endpoint.clone());
        }
        let is_deployed = deployed.iter().any(|s| s.name == dependency.name);
        if let Some(found) =
            self.config.cluster.services.get(&dependency.name).filter(|_| !is_deployed)
        {
            return Reach::Lookup {
                function: "service",
                name: found.name.clone(),
                how: format!("found in Consul's catalog as `{}`", found.name),
            };
        }
        // The registered name of the port the reference names (each port is its own service).
        let labels = port_labels(&dependency.ports);
        let index =
            port.and_then(|p| dependency.ports.iter().position(|q| q.container == p)).unwrap_or(0);
        let label = (index > 0).then(|| labels.get(index).map(String::as_str)).flatten();
        let name = names.service(&dependency.name, label);
        let function = match self.config.provider() {
            ServiceProvider::Nomad => "nomadService",
            ServiceProvider::Consul => "service",
        };
        let how = if is_deployed {
            format!("registered by these jobs as `{name}`")
        } else {
            format!(
                "not deployed here: it must be registered as `{name}`, or answer \
                 endpoint.{}=host:port",
                dependency.name
            )
        };
        Reach::Lookup { function, name, how }
    }
}
