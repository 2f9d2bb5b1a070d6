//! How services point at each other and at themselves through configuration values: an env
//! value naming another service (`DB_HOST=db`, `API_ADDR=api:9000`,
//! `postgres://user:pw@db:5432/app`), a reverse-proxy configuration forwarding to one
//! (`proxy_pass http://backend:8000`, an `upstream` `server web1:5000`), and an env value
//! telling the service where to listen (`PORT=8080`, `ASPNETCORE_URLS=http://+:8000`).
//!
//! Pure functions over text; the assembly decides what the findings mean for each service.

use std::sync::LazyLock;

use super::pattern::Pattern;

/// A host (and port) a configuration value points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host name as written.
    pub host: String,
    /// Port, when written or implied by the URL scheme.
    pub port: Option<u16>,
}

/// Hosts an env value points at: a bare host, `host:port` items (comma separated), or URLs.
pub fn targets_in_value(value: &str) -> Vec<Target> {
    let mut found = Vec::new();
    for part in value.split([',', ' ', ';']).map(str::trim).filter(|p| !p.is_empty()) {
        if part.contains("://") {
            if let Some(target) = url_target(part) {
                found.push(target);
            }
            continue;
        }
        let (host, port) = match part.rsplit_once(':') {
            Some((host, port)) => match port.parse::<u16>() {
                Ok(port) => (host, Some(port)),
                Err(_) => continue,
            },
            None => (part, None),
        };
        if is_host_name(host) {
            found.push(Target { host: host.to_string(), port });
        }
    }
    found
}

/// `scheme://[user[:password]@]host[:port][/path]`, read without a URL library so that
/// multi-host and unusual schemes still give their first host.
fn url_target(text: &str) -> Option<Target> {
    let (scheme, rest) = text.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let host_port = host_port.split(',').next()?;
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) => (host, Some(port.parse::<u16>().ok()?)),
        None => (host_port, default_port(scheme)),
    };
    is_host_name(host).then(|| Target { host: host.to_string(), port })
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        "postgres" | "postgresql" => Some(5432),
        "mysql" | "mariadb" => Some(3306),
        "redis" => Some(6379),
        "mongodb" => Some(27017),
        "amqp" => Some(5672),
        _ => None,
    }
}

fn is_host_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && text.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
}

/// Whether a URL in the value carries a password (`scheme://user:password@host`).
pub fn has_url_password(value: &str) -> bool {
    static PASSWORD: LazyLock<Pattern> =
        LazyLock::new(|| Pattern::new(r"[A-Za-z][A-Za-z0-9+.-]*://[^/@:\s]*:[^@\s/]+@"));
    // Compiled only for a value that holds a URL at all.
    value.contains("://") && PASSWORD.is_match(value)
}

/// The byte range of the password of the first URL in the value that carries one.
fn url_password_range(value: &str) -> Option<std::ops::Range<usize>> {
    let start = value.find("://")? + 3;
    let rest = &value[start..];
    let authority_end = rest.find(['/', '?', '#', ' ']).unwrap_or(rest.len());
    let at = rest[..authority_end].rfind('@')?;
    let colon = rest[..at].find(':')?;
    (colon + 1 < at).then(|| start + colon + 1..start + at)
}

/// The password of the first URL in the value that carries one
/// (`mysql://root:whalehello@db:3306/x` → `whalehello`).
pub fn url_password(value: &str) -> Option<&str> {
    url_password_range(value).map(|range| &value[range])
}

/// The value with its URL password replaced by `***` (`mysql://root:***@db:3306/x`), when it
/// has one.
pub fn mask_url_password(value: &str) -> Option<String> {
    let range = url_password_range(value)?;
    Some(format!("{}***{}", &value[..range.start], &value[range.end..]))
}

/// Env names that set the service's own listen port.
const LISTEN_PORT_NAMES: [&str; 9] = [
    "PORT",
    "SERVER_PORT",
    "_RUN_PORT",
    "HTTP_PORT",
    "APP_PORT",
    "LISTEN_PORT",
    "WEB_PORT",
    "API_PORT",
    "GRPC_PORT",
];

/// The port a service is told to listen on by one of its own env vars: `PORT=8080`,
/// `FLASK_SERVER_PORT=9091`, or a listen address with a wildcard host
/// (`ASPNETCORE_URLS=http://+:8000`, `ADDRESS=0.0.0.0:8000`).
pub fn listen_port(name: &str, value: &str) -> Option<u16> {
    static WILDCARD: LazyLock<Pattern> = LazyLock::new(|| {
        Pattern::new(r"^(?:[a-z]+://)?(?:\+|\*|0\.0\.0\.0|\[::\]|)?:(\d{1,5})/?$")
    });
    let upper = name.to_ascii_uppercase();
    let named = upper == LISTEN_PORT_NAMES[0]
        || LISTEN_PORT_NAMES[1..]
            .iter()
            .any(|n| upper == n.trim_start_matches('_') || upper.ends_with(n));
    if named {
        return value.trim().parse().ok().filter(|p| *p > 0);
    }
    let first = value.split([';', ',']).next()?.trim();
    if !first.contains(':') {
        return None;
    }
    let captures = WILDCARD.captures(first)?;
    captures[1].parse().ok().filter(|p| *p > 0)
}

/// Ports an nginx configuration listens on (`listen 80;`, `listen [::]:8080;`,
/// `listen 443 ssl;`), with the 1-based line.
pub fn listen_ports(text: &str) -> Vec<(u16, u32)> {
    static LISTEN: LazyLock<Pattern> =
        LazyLock::new(|| Pattern::new(r"^\s*listen\s+(?:\S*:)?(\d{1,5})\b"));
    let mut found: Vec<(u16, u32)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some(port) = LISTEN.captures(line).and_then(|c| c[1].parse::<u16>().ok()) else {
            continue;
        };
        if port > 0 && !found.iter().any(|(p, _)| *p == port) {
            found.push((port, i as u32 + 1));
        }
    }
    found
}

/// Hosts a web server configuration forwards to, with the 1-based line: nginx `proxy_pass`,
/// `grpc_pass`, `fastcgi_pass`, `uwsgi_pass`, upstream `server host:port`, Caddy
/// `reverse_proxy`, Apache `ProxyPass`, in any case.
pub fn proxy_targets(text: &str) -> Vec<(Target, u32)> {
    // Written in lowercase and run over the lines in lowercase, which have the same offsets:
    // with `(?i)` the pattern cost 0.6 ms to compile (a search for every case variant of its
    // keywords), against 0.2 ms.
    static PASS: LazyLock<Pattern> = LazyLock::new(|| {
        Pattern::new(
            r"(?:\b(?:proxy_pass|grpc_pass|fastcgi_pass|uwsgi_pass|reverse_proxy)\s+|^\s*server\s+|\bproxypass(?:reverse)?\s+\S+\s+)([a-z][a-z0-9+.-]*://)?([a-z][a-z0-9_.-]*)(?::(\d{1,5}))?",
        )
    });
    let mut found = Vec::new();
    let lowercase = text.to_ascii_lowercase();
    // Every match holds one of these: a file with none is not read line by line.
    if !["_pass", "reverse_proxy", "server", "proxypass"].iter().any(|w| lowercase.contains(w)) {
        return found;
    }
    for (i, (line, lowercase)) in text.lines().zip(lowercase.lines()).enumerate() {
        let code = line.split('#').next().unwrap_or_default();
        for captures in PASS.captures_iter(&lowercase[..code.len()]) {
            // `proxy_pass http://$VAR` stops before the variable; what matched is no host.
            let end = captures.get(0).map_or(0, |m| m.end());
            if code[end..].starts_with(':') || code[end..].starts_with('$') {
                continue;
            }
            let Some(host) = captures.get(2) else { continue };
            let host = code[host.range()].to_string();
            let explicit = captures.get(3).and_then(|p| p.as_str().parse().ok());
            let scheme = captures.get(1).map(|s| code[s.range()].trim_end_matches("://"));
            // An upstream `server` line without a port is a `server {` block or a name.
            if scheme.is_none() && explicit.is_none() && code.trim_start().starts_with("server") {
                continue;
            }
            let port = explicit.or_else(|| scheme.and_then(default_port));
            found.push((Target { host, port }, i as u32 + 1));
        }
    }
    found
}

/// Where a configuration file names one of `names` as a host: a proxy target, a URL
/// (`http://es:9200`), or `name:port` (`'app:8000'`, `server web1:5000;`), with the port and the
/// 1-based line. Comment lines (`#`, `//`) are skipped, and a bare word is never a host: the
/// name must come after `://` or before `:port`, or be a proxy target.
pub fn hosts_in_text(text: &str, names: &[&str]) -> Vec<(String, Option<u16>, u32)> {
    let mut found: Vec<(String, Option<u16>, u32)> = Vec::new();
    for (target, line) in proxy_targets(text) {
        if names.contains(&target.host.as_str()) {
            found.push((target.host, target.port, line));
        }
    }
    for (i, line) in text.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with('#') || code.starts_with("//") {
            continue;
        }
        let number = i as u32 + 1;
        for name in names {
            let mut from = 0;
            while let Some(at) = line[from..].find(name) {
                let start = from + at;
                let end = start + name.len();
                from = end;
                let before = &line[..start];
                let after = &line[end..];
                let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.';
                if before.chars().next_back().is_some_and(word) {
                    continue;
                }
                let port_text: String = after
                    .strip_prefix(':')
                    .map(|rest| rest.chars().take_while(char::is_ascii_digit).collect())
                    .unwrap_or_default();
                let after_port =
                    &after[if port_text.is_empty() { 0 } else { 1 + port_text.len() }..];
                if after_port.chars().next().is_some_and(word) {
                    continue;
                }
                let port = port_text.parse::<u16>().ok().filter(|p| *p > 0);
                let url = before.ends_with("://")
                    || before.rsplit_once("://").is_some_and(|(_, userinfo)| {
                        userinfo.ends_with('@') && !userinfo.contains([' ', '/'])
                    });
                if port.is_none() && !url {
                    continue;
                }
                let port = port.or_else(|| {
                    let scheme = before.rsplit_once("://")?.0;
                    let scheme = scheme.rsplit(|c: char| !c.is_ascii_alphanumeric()).next()?;
                    default_port(scheme)
                });
                if !found.iter().any(|(host, _, l)| host == name && *l == number) {
                    found.push((name.to_string(), port, number));
                }
            }
        }
    }
    found.sort_by_key(|(_, _, line)| *line);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(host: &str, port: Option<u16>) -> Target {
        Target { host: host.into(), port }
    }

    #[test]
    fn values_naming_hosts() {
        let cases: [(&str, Vec<Target>); 8] = [
            ("db", vec![target("db", None)]),
            ("backend:9091", vec![target("backend", Some(9091))]),
            ("mysql://root:pw@db:3306/mysql", vec![target("db", Some(3306))]),
            ("postgres://u:p@pg/app", vec![target("pg", Some(5432))]),
            (
                "redis-1:6379,redis-2:6379",
                vec![target("redis-1", Some(6379)), target("redis-2", Some(6379))],
            ),
            ("/run/secrets/db-password", vec![]),
            ("0.0.0.0:8000", vec![]),
            ("-Xms512m -Xmx512m", vec![]),
        ];
        for (value, expected) in cases {
            assert_eq!(targets_in_value(value), expected, "{value}");
        }
    }

    #[test]
    fn listen_ports() {
        let cases = [
            ("PORT", "8080", Some(8080)),
            ("FLASK_SERVER_PORT", "9091", Some(9091)),
            ("FLASK_RUN_PORT", "8000", Some(8000)),
            ("DB_PORT", "5432", None),
            ("ASPNETCORE_URLS", "http://+:8000", Some(8000)),
            ("ADDRESS", "0.0.0.0:8000", Some(8000)),
            ("BIND", ":9000", Some(9000)),
            ("API_URL", "http://api:8000", None),
            ("PORT", "not-a-port", None),
        ];
        for (name, value, expected) in cases {
            assert_eq!(listen_port(name, value), expected, "{name}={value}");
        }
    }

    #[test]
    fn proxy_configs() {
        let nginx = "upstream lb {\n  server web1:5000;\n  server web2:5000;\n}\nserver {\n  listen 80;\n  location / {\n    proxy_pass http://backend:8000;\n    # proxy_pass http://old:1;\n  }\n  location /api { proxy_pass http://api; }\n  location /rpc { grpc_pass grpc://rpc:50051; }\n}\n";
        let found = proxy_targets(nginx);
        assert_eq!(
            found,
            [
                (target("web1", Some(5000)), 2),
                (target("web2", Some(5000)), 3),
                (target("backend", Some(8000)), 8),
                (target("api", Some(80)), 11),
                (target("rpc", Some(50051)), 12),
            ]
        );
        assert_eq!(
            proxy_targets("example.com {\n  reverse_proxy app:3000\n}\n"),
            [(target("app", Some(3000)), 2)]
        );
        assert_eq!(proxy_targets("proxy_pass http://$FLASK_SERVER_ADDR;"), []);
        // Apache's directives in its own case; a host keeps the case it is written in.
        let apache = "<VirtualHost *:80>\n  ProxyPass /api HTTP://Backend:8000/\n  ProxyPassReverse /api http://Backend:8000/\n</VirtualHost>\n";
        assert_eq!(
            proxy_targets(apache),
            [(target("Backend", Some(8000)), 2), (target("Backend", Some(8000)), 3)]
        );
        assert_eq!(proxy_targets("listen 80;\nroot /srv;\n"), []);
    }

    #[test]
    fn passwords_in_urls() {
        assert!(has_url_password("mysql://root:whalehello@db:3306/mysql"));
        assert!(!has_url_password("http://db:3306/mysql"));
        assert!(!has_url_password("plain"));
    }

    #[test]
    fn hosts_in_configuration_files() {
        let names = ["backend", "es", "web1", "web2", "app"];
        let nginx = "upstream lb {\n  server web1:5000;\n  server web2:5000;\n}\nserver {\n  listen 80;\n  # proxy_pass http://app:1;\n  location / { proxy_pass http://backend:8000; }\n}\n";
        assert_eq!(
            hosts_in_text(nginx, &names),
            [
                ("web1".to_string(), Some(5000), 2),
                ("web2".to_string(), Some(5000), 3),
                ("backend".to_string(), Some(8000), 8),
            ]
        );
        let logstash = "output {\n  elasticsearch {\n    hosts => [\"http://es:9200\"]\n  }\n}\n";
        assert_eq!(hosts_in_text(logstash, &names), [("es".to_string(), Some(9200), 3)]);
        let prometheus = "scrape_configs:\n  - targets: ['app:8000']\n";
        assert_eq!(hosts_in_text(prometheus, &names), [("app".to_string(), Some(8000), 2)]);
        // Words that are not hosts: a path, a word in prose, a longer name, a bare name.
        let prose = "root /var/www/app;\nserver_name app.example.com;\nlocation /backend { return 200 'backend'; }\napplication: backend\n";
        assert_eq!(hosts_in_text(prose, &names), []);
    }

    #[test]
    fn url_passwords_found_and_masked() {
        assert_eq!(url_password("mysql://root:whalehello@db:3306/mysql"), Some("whalehello"));
        assert_eq!(url_password("postgres://u@db/app"), None);
        assert_eq!(url_password("http://db:80/x?a=b@c"), None);
        assert_eq!(
            mask_url_password("mysql://root:whalehello@db:3306/mysql").as_deref(),
            Some("mysql://root:***@db:3306/mysql")
        );
        assert_eq!(mask_url_password("plain"), None);
        assert_eq!(
            mask_url_password("postgres://postgres:postgres@db/postgres").as_deref(),
            Some("postgres://postgres:***@db/postgres"),
            "a user named like the password keeps its name; only the password goes"
        );
    }

    #[test]
    fn nginx_listen_ports() {
        let text = "server {\n  listen 80;\n  listen [::]:80;\n}\nserver {\n    listen 443 ssl;\n    listen 127.0.0.1:8081;\n}\n# listen 9;\n";
        assert_eq!(super::listen_ports(text), [(80, 2), (443, 6), (8081, 7)]);
    }
}
