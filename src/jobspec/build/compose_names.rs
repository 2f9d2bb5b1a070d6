//! Compose names written into the code: `Redis(host="redis")`, `postgres://db/app`,
//! `Server=db;...`, with no setting to change them. Compose's network resolves them; Nomad's
//! does not, and no value in a job can change the code.
//!
//! The group gets a small sidecar that answers them. Each name goes into the group's
//! `/etc/hosts` (docker `extra_hosts`) at a loopback address of its own, where an nginx
//! `stream` proxy listens on the port the code dials and forwards to where the dependency runs
//! now: the registry lookup of every instance, rendered by Nomad and reloaded (SIGHUP) as
//! instances move. The dependency keeps its dynamic port, and the code runs as it is.
//!
//! Where that cannot work, the name is left unreachable and asked about instead: a group in
//! host networking shares the node's loopback and hosts file; Nomad before 1.1.3 refuses
//! `extra_hosts` in a bridge-mode group; the port the code dials is one the service itself
//! listens on; the port is not known; or `[compose_names] proxy = false`.

use super::provenance::{self, wire_words};
use super::reach::{Reach, NOWHERE};
use super::Builder;
use crate::analyze;
use crate::jobspec::config::COMPOSE_NAMES_IMAGE;
use crate::jobspec::{Lifecycle, Network, Resources, Task};

/// A dependency the code dials by a name it writes in.
#[derive(Debug, Clone)]
pub(super) struct Dialed {
    /// The service of the analysis it names.
    pub dependency: String,
    /// The host names the code writes for it (its compose name, an alias).
    pub names: Vec<String>,
    /// The port the code dials, when known.
    pub port: Option<u16>,
    /// The first place as written (`host="redis`).
    pub text: String,
    /// Every place, for reasons: `` `host="redis` (app.py:5) ``.
    pub places: Vec<String>,
    /// The first place's `file:line`.
    pub first: Option<String>,
    /// Where it runs.
    pub reach: Reach,
}

/// The port the code dials when it writes none: the scheme's (`http://backend` dials 80),
/// else the dependency's main port (a client library's default is the server's).
pub(super) fn dialed_port(hosts: &[&analyze::CodeHost], target: &analyze::Service) -> Option<u16> {
    let scheme = |prefix: &str| hosts.iter().any(|h| h.text.contains(prefix));
    if scheme("https://") {
        Some(443)
    } else if scheme("http://") {
        Some(80)
    } else {
        target.ports.first().map(|p| p.container)
    }
}

/// The loopback address of the `index`-th dependency: 127.0.0.2 onwards, so that two
/// dependencies on one port (two databases on 5432) never share a listener, and none shares
/// the service's own 127.0.0.1.
fn loopback(index: usize) -> String {
    let n = index + 2;
    format!("127.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255)
}

impl Builder<'_> {
    /// Answers the names `service`'s code dials with the compose-names sidecar, or asks about
    /// each one it cannot answer. `network` is the group's (made a bridge network when the
    /// group had none), `task` the service's task; the sidecar goes into `tasks`.
    pub(super) fn compose_names(
        &mut self,
        service: &analyze::Service,
        dialed: Vec<Dialed>,
        network: &mut Option<Network>,
        task: &mut Task,
        tasks: &mut Vec<Task>,
    ) {
        if dialed.is_empty() {
            return;
        }
        let settings = self.config.compose_names.clone().unwrap_or_default();
        let features = self.config.nomad_features();
        let blocked = if settings.proxy == Some(false) {
            Some("`[compose_names] proxy = false` in .nomad-spec.toml".to_string())
        } else if network.as_ref().and_then(|n| n.mode.as_deref()) == Some("host") {
            Some("the group runs in host networking, which shares the node's loopback".into())
        } else if !features.has(super::Feature::BridgeExtraHosts) {
            Some(format!(
                "{} refuses extra_hosts in a bridge-mode group (Nomad 1.1.3 writes the \
                 group's /etc/hosts)",
                features.describe()
            ))
        } else {
            None
        };
        let mut answered = Vec::new();
        for one in dialed {
            let why_not = blocked.clone().or_else(|| match one.port {
                None => Some(format!("the port the code dials {} on is not known", one.dependency)),
                Some(port) if service.ports.iter().any(|p| p.container == port) => Some(format!(
                    "{} itself listens on {port}, the port the code dials {} on",
                    service.name, one.dependency
                )),
                Some(_) => None,
            });
            match why_not {
                Some(why) => self.unreachable(service, &one, &why),
                None => answered.push(one),
            }
        }
        if answered.is_empty() {
            return;
        }
        let (left, right) = self.config.delimiters();
        let mut hosts = Vec::new();
        let mut streams = String::new();
        for (index, one) in answered.iter().enumerate() {
            let address = loopback(index);
            let port = one.port.unwrap_or_default();
            hosts.extend(one.names.iter().map(|name| format!("{name}:{address}")));
            let upstream: String = one
                .dependency
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            let servers = match &one.reach {
                Reach::Lookup { function, name, .. } => format!(
                    "{left} range {function} \"{name}\" {right}server {left} .Address {right}:\
                     {left} .Port {right};\n    {left} else {right}server {NOWHERE} down;\n    \
                     {left} end {right}"
                ),
                Reach::Endpoint(endpoint) => format!("server {endpoint};"),
            };
            streams.push_str(&format!(
                "  upstream {upstream} {{\n    {servers}\n  }}\n  server {{\n    listen \
                 {address}:{port};\n    proxy_pass {upstream};\n  }}\n"
            ));
            let names = one.names.join(", ");
            let subject = format!("{} reaches {}", service.name, one.dependency);
            self.decide(
                &subject,
                format!(
                    "{names}:{port} answered by the compose-names sidecar, forwarded to {}",
                    one.reach.describe()
                ),
                format!(
                    "the code dials {} at {} with no setting to change it, and Nomad does not \
                     resolve compose names: the group's /etc/hosts points {names} at {address}, \
                     where the sidecar listens on {port} and forwards to every registered \
                     instance, following them as they move (once the code reads the address \
                     from a variable, answer address.{}.{}=VARIABLE instead)",
                    one.dependency,
                    one.places.join(", "),
                    service.name,
                    one.dependency
                ),
            );
            self.record_wire(provenance::Wire {
                from: service.name.clone(),
                to: one.dependency.clone(),
                how: format!(
                    "{} via the compose-names sidecar",
                    wire_words(&one.reach, &one.dependency)
                ),
                at: one.first.clone(),
            });
        }
        let data = format!(
            "# The compose names {}'s code dials, answered on the loopback (written by nomad-spec).\n\
             daemon off;\nworker_processes 1;\nerror_log /dev/stderr warn;\n\nevents {{\n  \
             worker_connections 1024;\n}}\n\nstream {{\n{streams}}}\n",
            service.name
        );
        let mut template = self.template(data, "local/compose-names.conf");
        template.envvars = None;
        template.change_mode = Some("signal".into());
        template.change_signal = Some("SIGHUP".into());
        // Nomad writes the group's /etc/hosts once, from the first task that starts (a
        // volume-owner prestart task may start before the sidecar): every task names them.
        let extra_hosts = serde_json::Value::from(hosts.clone());
        for docker in tasks.iter_mut().chain(std::iter::once(&mut *task)) {
            docker
                .config
                .get_or_insert_with(Default::default)
                .insert("extra_hosts".into(), extra_hosts.clone());
        }
        let image = settings.image.unwrap_or_else(|| COMPOSE_NAMES_IMAGE.to_string());
        let name = format!("{}-compose-names", task.name);
        self.decide(
            &service.name,
            format!("sidecar {name} ({image}) answers {}", hosts.join(", ")),
            "an nginx stream proxy started before the service and kept beside it, in the \
             group's network; 50 MHz and 32 MB ([compose_names] image sets its image, proxy = \
             false turns it off)",
        );
        if network.is_none() {
            self.decide(
                &service.name,
                "network mode bridge, no ports",
                "the compose-names sidecar must share the service's network namespace",
            );
            *network = Some(Network { mode: Some("bridge".into()), ..Default::default() });
        }
        tasks.push(Task {
            name,
            driver: "docker".into(),
            config: Some(
                [
                    ("image".to_string(), serde_json::Value::from(image)),
                    ("command".to_string(), serde_json::Value::from("nginx")),
                    (
                        "args".to_string(),
                        serde_json::Value::from(vec!["-c", "/local/compose-names.conf"]),
                    ),
                    ("extra_hosts".to_string(), extra_hosts),
                ]
                .into_iter()
                .collect(),
            ),
            env: Some([("NGINX_ENTRYPOINT_QUIET_LOGS".to_string(), "1".to_string())].into()),
            templates: Some(vec![template]),
            lifecycle: Some(Lifecycle { hook: "prestart".into(), sidecar: Some(true) }),
            resources: Some(Resources { cpu: Some(50), memory_mb: Some(32), ..Default::default() }),
            ..Default::default()
        });
    }

    /// Leaves `one` unreachable: a question, a decision saying why, an unreachable wire.
    fn unreachable(&mut self, service: &analyze::Service, one: &Dialed, why: &str) {
        self.record_wire(provenance::Wire {
            from: service.name.clone(),
            to: one.dependency.clone(),
            how: format!("unreachable: the code dials {}", one.text),
            at: one.first.clone(),
        });
        self.ask(
            format!("address.{}.{}", service.name, one.dependency),
            format!(
                "Which variable does {}'s code read {}'s host:port from, once it reads one?",
                service.name, one.dependency
            ),
            String::new(),
            format!("the code dials {} at {}", one.dependency, one.places.join(", ")),
            true,
        );
        self.decide(
            &format!("{} reaches {}", service.name, one.dependency),
            format!("unreachable: the code dials {}", one.text),
            format!(
                "{} write the compose host name of {} into the code, with no setting to change \
                 it; on Nomad that name does not resolve, and no compose-names sidecar can \
                 answer it here: {why}. Make the code read the address from a variable and \
                 answer address.{}.{}=VARIABLE (the job then sets it from {})",
                one.places.join(", "),
                one.dependency,
                service.name,
                one.dependency,
                one.reach.describe()
            ),
        );
    }
}
