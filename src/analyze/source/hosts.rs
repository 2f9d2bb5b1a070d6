//! Host names written into code, and env reads that fail without their variable.
//!
//! Compose gives every service a DNS name, so sample apps and real ones alike write
//! `Redis(host="redis")`, `sql.Open("mysql", "root:pw@tcp(db:3306)/x")` or
//! `"postgres://u:p@db/app"` straight into their code. On Nomad those names do not resolve,
//! and no job setting can change a literal: the assembly turns each one that names a service of
//! the repository into a [`CodeHost`](crate::analyze::CodeHost) the builder must say something
//! about. This file only finds candidates (any host-like literal, with the text around it);
//! it does not know the services' names.
//!
//! It also finds env reads that fail when the variable is missing (`os.environ["X"]`,
//! `env::var("X")?`, `ENV.fetch("X")`): such a variable must be given a value or asked for.

use std::sync::LazyLock;

use super::{LazyPattern, SourceKind};
use crate::analyze::links::url_password;
use crate::analyze::pattern::Pattern;

/// Most host literals kept per scanned folder.
pub const MAX_HOST_LITERALS: usize = 200;

/// A host-like literal in code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostLiteral {
    /// The host as written (`db`).
    pub host: String,
    /// The port written with it, or the scheme's port.
    pub port: Option<u16>,
    /// The text that names it, without any password (`tcp(db:3306)`, `host="redis"`).
    pub text: String,
    /// 1-based line.
    pub line: u32,
    /// For a Spring property naming the host: the environment variable that overrides it
    /// (`SPRING_DATASOURCE_URL` for `spring.datasource.url`) and the property's value, with a
    /// URL password masked (`***`).
    pub setting: Option<(String, String)>,
    /// Its line also writes a password (`postgres://u:pw@db/x`, `Server=db;Password=pw;`):
    /// the code logs in with credentials no job can change.
    pub with_password: bool,
}

static URL: LazyLock<Pattern> = LazyLock::new(|| {
    Pattern::new(
        r#"["'`=](?:jdbc:)?([a-zA-Z][a-zA-Z0-9+.-]*)://(?:[^/@"'`\s]*@)?([A-Za-z][A-Za-z0-9_.-]*)(?::(\d{1,5}))?"#,
    )
});
static TCP: LazyLock<LazyPattern> =
    LazyLock::new(|| LazyPattern::new(r"\btcp\(([A-Za-z][A-Za-z0-9_.-]*):(\d{1,5})\)"));
static HOST_PORT: LazyLock<Pattern> =
    LazyLock::new(|| Pattern::new(r#"["']([A-Za-z][A-Za-z0-9_.-]*):(\d{2,5})["']"#));
// The next five match whatever the case of their keywords (`Server=`, `HOST:`,
// `createClient(`, `Port=`, `PWD=`): they are written in lowercase and run over the text in
// lowercase, which has the same offsets ([`host_literals`], [`written_password`]). Written
// with `(?i)` instead, the first three cost 0.1 to 0.5 ms each to compile (a search for every
// case variant of their keywords), together most of the analysis of a small repository.
static CONNECTION_KEY: LazyLock<Pattern> = LazyLock::new(|| {
    Pattern::new(
        r#"["';]\s*(?:server|host|data source|hostname|address)\s*=\s*([a-z][a-z0-9_.-]*)(?:[,:](\d{1,5}))?\s*[;"']"#,
    )
});
static KEYWORD: LazyLock<Pattern> = LazyLock::new(|| {
    Pattern::new(
        r#"\b(?:host|hostname|server|addr|address)\s*[:=]\s*["']([a-z][a-z0-9_.-]*)(?::(\d{1,5}))?["']"#,
    )
});
static CONNECT_CALL: LazyLock<Pattern> = LazyLock::new(|| {
    Pattern::new(
        r#"\b\w*(?:connect|connection|client|dial|redis|mongo)\w*\s*\(\s*["']([a-z][a-z0-9_.-]*)["']\s*[,)]"#,
    )
});
static PORT_KEY: LazyLock<Pattern> =
    LazyLock::new(|| Pattern::new(r"(?:^|;)\s*port\s*=\s*(\d{1,5})\s*(?:;|$)"));
static PASSWORD_KEY: LazyLock<Pattern> =
    LazyLock::new(|| Pattern::new(r#"(?:^|[;"'\s])(?:password|pwd)\s*=\s*[^;"'\s{$]"#));
static SPRING_PROPERTY: LazyLock<Pattern> =
    LazyLock::new(|| Pattern::new(r"(?m)^[ \t]*([a-zA-Z][a-zA-Z0-9_.\-\[\]]*)[ \t]*[=:]"));
/// Reads that fail without the variable, by language; each compiled only for a text holding
/// its call (`environ[`, `env::var(`, `ENV.fetch(`).
static REQUIRED: LazyLock<[(SourceKind, LazyPattern); 3]> = LazyLock::new(|| {
    [
        (
            SourceKind::Python,
            LazyPattern::new(
                r#"\benviron\[\s*["']([A-Za-z_][A-Za-z0-9_]*)["']\s*\](?:\s*[^\s=]|\s*==|\s*$)"#,
            ),
        ),
        (
            SourceKind::Rust,
            LazyPattern::new(
                r#"\benv::var\(\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*\)\s*(?:\?|\.unwrap\(\)|\.expect\()"#,
            ),
        ),
        (
            SourceKind::Ruby,
            LazyPattern::new(
                r#"\bENV\.fetch\(\s*["']([A-Za-z_][A-Za-z0-9_]*)["']\s*\)(?:\s*[^{\s]|\s*$)"#,
            ),
        ),
    ]
});

/// Default ports of the schemes a connection URL names.
fn scheme_port(scheme: &str) -> Option<u16> {
    match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        "postgres" | "postgresql" => Some(5432),
        "mysql" | "mariadb" => Some(3306),
        "redis" => Some(6379),
        "mongodb" => Some(27017),
        "amqp" => Some(5672),
        "nats" => Some(4222),
        _ => None,
    }
}

/// Whether a line of code writes a password itself (`postgres://u:pw@db`, `Password=pw;`),
/// not one the code fills in (`${process.env.PW}`, `{password}`, `%s`, `" + pw + "`).
/// `lowercase_row` is `row` in lowercase.
fn written_password(row: &str, lowercase_row: &str) -> bool {
    let filled = |password: &str| password.contains(['$', '{', '%', '+', '"', '\'', '`']);
    url_password(row).is_some_and(|password| !filled(password))
        || (may_hold_password_key(lowercase_row) && PASSWORD_KEY.is_match(lowercase_row))
}

/// Whether one of `keywords` occurs in `text` where `fits(before, after)` holds (the text
/// before the keyword, the text after it): a test every match of a pattern built around the
/// keywords passes, made before the pattern is compiled, so that a file that cannot match
/// never compiles it. It may say yes where the pattern finds nothing, never the reverse.
fn occurs_where(text: &str, keywords: &[&str], fits: impl Fn(&str, &str) -> bool) -> bool {
    keywords.iter().any(|keyword| {
        text.match_indices(keyword).any(|(at, _)| fits(&text[..at], &text[at + keyword.len()..]))
    })
}

/// Whether `before` ends where `\b` may stand before a word: not after an ASCII letter, digit
/// or `_` (a letter outside ASCII is a word character too, so it may not: it counts as yes).
fn word_may_start(before: &str) -> bool {
    !before.bytes().next_back().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Gates of [`CONNECTION_KEY`], [`KEYWORD`] and [`CONNECT_CALL`], over the text in lowercase:
/// where their keywords stand.
fn may_hold_connection_key(lowercase: &str) -> bool {
    let keys = ["server", "host", "data source", "hostname", "address"];
    occurs_where(lowercase, &keys, |before, after| {
        before.trim_end().ends_with(['"', '\'', ';']) && after.trim_start().starts_with('=')
    })
}

fn may_hold_host_keyword(lowercase: &str) -> bool {
    let keys = ["host", "hostname", "server", "addr", "address"];
    occurs_where(lowercase, &keys, |before, after| {
        word_may_start(before) && after.trim_start().starts_with([':', '='])
    })
}

fn may_hold_connect_call(lowercase: &str) -> bool {
    let keys = ["connect", "connection", "client", "dial", "redis", "mongo"];
    occurs_where(lowercase, &keys, |_, after| {
        let after = after.trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '_');
        after
            .trim_start()
            .strip_prefix('(')
            .is_some_and(|argument| argument.trim_start().starts_with(['"', '\'']))
    })
}

/// Gate of [`PASSWORD_KEY`], over the text in lowercase: its keywords.
fn may_hold_password_key(lowercase: &str) -> bool {
    lowercase.contains("password") || lowercase.contains("pwd")
}

/// Whether `text` holds a `:` followed by a digit, as every [`HOST_PORT`] match does.
fn may_hold_host_port(text: &str) -> bool {
    text.as_bytes().windows(2).any(|pair| pair[0] == b':' && pair[1].is_ascii_digit())
}

/// Host-like literals in one file's text, in the order of the text.
pub fn host_literals(
    kind: SourceKind,
    text: &str,
    line_at: &dyn Fn(usize) -> u32,
) -> Vec<HostLiteral> {
    let mut found: Vec<(usize, HostLiteral)> = Vec::new();
    let source = text;
    // Same length and offsets as `text`: what matches in it is read back from `text`.
    let lowercase = text.to_ascii_lowercase();
    let mut push = |offset: usize, host: &str, port: Option<u16>, text: String| {
        let start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
        let end = source[offset..].find('\n').map_or(source.len(), |i| offset + i);
        let row = &source[start..end];
        found.push((
            offset,
            HostLiteral {
                host: host.to_string(),
                port,
                text,
                line: line_at(offset),
                setting: None,
                with_password: written_password(row, &lowercase[start..end]),
            },
        ));
    };
    // Every URL has `://`: most files have none, and the pattern is not compiled for them.
    let urls = text.contains("://").then(|| URL.captures_iter(text)).into_iter().flatten();
    for captures in urls {
        let (Some(all), Some(scheme), Some(host)) =
            (captures.get(0), captures.get(1), captures.get(2))
        else {
            continue;
        };
        let written = captures.get(3).and_then(|p| p.as_str().parse().ok());
        let port = written.or_else(|| scheme_port(scheme.as_str()));
        let shown = match captures.get(3) {
            Some(p) => format!("{}://{}:{}", scheme.as_str(), host.as_str(), p.as_str()),
            None => format!("{}://{}", scheme.as_str(), host.as_str()),
        };
        push(all.start(), host.as_str(), port, shown);
    }
    // Each pattern is compiled only for a text that may hold a match of it.
    let patterns = [
        (TCP.for_text(text), text),
        (may_hold_connection_key(&lowercase).then(|| &*CONNECTION_KEY), lowercase.as_str()),
        (may_hold_host_keyword(&lowercase).then(|| &*KEYWORD), lowercase.as_str()),
        (may_hold_host_port(text).then(|| &*HOST_PORT), text),
        (may_hold_connect_call(&lowercase).then(|| &*CONNECT_CALL), lowercase.as_str()),
    ];
    for (regex, haystack) in patterns.into_iter().filter_map(|(r, h)| Some((r?, h))) {
        for captures in regex.captures_iter(haystack) {
            let (Some(whole), Some(host)) = (captures.get(0), captures.get(1)) else { continue };
            let (all, host) = (&text[whole.range()], &text[host.range()]);
            let mut port = captures.get(2).and_then(|p| p.as_str().parse().ok());
            let shown = all.trim_matches(|c| c == ';' || c == '"' || c == '\'').trim();
            // A connection string's text stops at its host: the rest may hold a password.
            let mut shown = shown.split(';').next().unwrap_or(shown).to_string();
            // Its port is often a key of its own further on (`server=db;...;port=3306`).
            // (`haystack` is the text in lowercase for this pattern, as `PORT_KEY` needs.)
            if port.is_none() && std::ptr::eq(regex, &*CONNECTION_KEY) {
                let rest = &haystack[whole.end()..];
                let rest = &rest[..rest.find(['"', '\'', '\n']).unwrap_or(rest.len())];
                if let Some(found) = PORT_KEY.captures(rest).and_then(|c| c.get(1)) {
                    port = found.as_str().parse().ok();
                    shown = format!("{shown};port={}", found.as_str());
                }
            }
            push(whole.start(), host, port, shown);
        }
    }
    found.sort_by_key(|(offset, _)| *offset);
    found.dedup_by(|a, b| a.1.host == b.1.host && a.1.line == b.1.line);
    let mut literals: Vec<HostLiteral> = found.into_iter().map(|(_, literal)| literal).collect();
    if kind == SourceKind::SpringProperties {
        for literal in &mut literals {
            literal.setting = spring_setting(text, literal.line);
        }
    }
    literals
}

/// The environment variable that overrides the Spring property on `line` (relaxed binding:
/// `spring.datasource.url` → `SPRING_DATASOURCE_URL`), with the property's value.
fn spring_setting(text: &str, line: u32) -> Option<(String, String)> {
    let row = text.lines().nth(line.checked_sub(1)? as usize)?;
    let captures = SPRING_PROPERTY.captures(row)?;
    let key = captures.get(1)?.as_str();
    let value = row[captures.get(0)?.end()..].trim();
    let value =
        crate::analyze::links::mask_url_password(value).unwrap_or_else(|| value.to_string());
    let name: String = key
        .chars()
        .filter(|c| *c != '-')
        .map(|c| if c == '.' || c == '[' || c == ']' { '_' } else { c.to_ascii_uppercase() })
        .collect();
    Some((name.trim_matches('_').replace("__", "_"), value))
}

/// Names of env vars read in a way that fails without them.
pub fn required_reads(kind: SourceKind, text: &str) -> Vec<String> {
    REQUIRED
        .iter()
        .filter(|(k, _)| *k == kind)
        .filter_map(|(_, pattern)| pattern.for_text(text))
        .flat_map(|regex| regex.captures_iter(text))
        .filter_map(|c| c.get(1).map(|m| m.as_str().to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lazy_patterns_compile() {
        // Compiled only when a text needs them: a bad one must fail here, not in a run.
        for (_, pattern) in REQUIRED.iter() {
            pattern.get();
        }
        TCP.get();
    }

    #[test]
    fn a_pattern_is_skipped_only_where_it_cannot_match() {
        // Lines that match, lines that nearly do, and every text file of the fixtures: where a
        // gate says no, its pattern finds nothing.
        let mut texts: Vec<String> = [
            "conn = \"Server=db;Port=1433;Database=shop\"",
            "dsn = 'host = db port=5432'",
            "s = \"Data Source=sql;Initial Catalog=x\"",
            "cfg := Config{Addr: \"redis:6379\"}",
            "HOST: 'db'",
            "localhost:8080",
            "url = \"redis://localhost:6379/0\"",
            "client = redis.Redis(host=\"cache\", port=6379)",
            "db = mongoose.connect( 'mongodb://mongo:27017/app')",
            "c := dialer.Dial (\"tcp\", \"nats:4222\")",
            "x = createClient\t(\"redis\")",
            "é host: \"db\"",
            "ähost=\"db\"",
            "password = 'hunter2'",
            "PWD=secret;",
            "import redis\nqueue = redis.Redis.from_url(os.environ[\"REDIS_URL\"])",
        ]
        .iter()
        .map(|t| t.to_string())
        .collect();
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/repos");
        let mut folders = vec![fixtures];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    folders.push(path);
                } else if let Ok(text) = std::fs::read_to_string(&path) {
                    texts.push(text);
                }
            }
        }
        let mut skipped = 0;
        for text in &texts {
            let lowercase = text.to_ascii_lowercase();
            let gates: [(bool, &Pattern, &str); 5] = [
                (may_hold_connection_key(&lowercase), &CONNECTION_KEY, &lowercase),
                (may_hold_host_keyword(&lowercase), &KEYWORD, &lowercase),
                (may_hold_connect_call(&lowercase), &CONNECT_CALL, &lowercase),
                (may_hold_host_port(text), &HOST_PORT, text),
                (may_hold_password_key(&lowercase), &PASSWORD_KEY, &lowercase),
            ];
            for (index, (may, regex, haystack)) in gates.into_iter().enumerate() {
                if !may {
                    skipped += 1;
                    assert!(!regex.is_match(haystack), "gate {index} skipped a match in {text:?}");
                }
            }
        }
        assert!(
            skipped > texts.len(),
            "the gates skip most texts: {skipped} of {}",
            texts.len() * 5
        );
        // And they let through what the patterns find.
        assert!(may_hold_connection_key("conn = \"server=db;port=1433\""));
        assert!(may_hold_host_keyword("cfg := config{addr: \"redis:6379\"}"));
        assert!(may_hold_host_keyword("é host: \"db\""));
        assert!(may_hold_connect_call("x = createclient\t(\"redis\")"));
        assert!(!may_hold_connect_call("queue = redis.redis.from_url(os.environ[\"redis_url\"])"));
        assert!(!may_hold_host_keyword("url = \"redis://localhost:6379/0\""));
    }

    /// What `host_literals` finds in `text`, its lines counted from 1.
    fn found(kind: SourceKind, text: &str) -> Vec<HostLiteral> {
        let line_at = |offset: usize| text[..offset].matches('\n').count() as u32 + 1;
        host_literals(kind, text, &line_at)
    }

    fn literals(kind: SourceKind, text: &str) -> Vec<(String, Option<u16>, String, u32)> {
        found(kind, text).into_iter().map(|h| (h.host, h.port, h.text, h.line)).collect()
    }

    fn hosts(kind: SourceKind, text: &str) -> Vec<(String, Option<u16>)> {
        literals(kind, text).into_iter().map(|(h, p, _, _)| (h, p)).collect()
    }

    #[test]
    fn hosts_as_apps_write_them() {
        let go = "return sql.Open(\"mysql\", fmt.Sprintf(\"root:%s@tcp(db:3306)/example\", pw))";
        assert_eq!(
            literals(SourceKind::Go, go),
            [("db".into(), Some(3306), "tcp(db:3306)".into(), 1)]
        );
        let python = "class DBManager:\n    def __init__(self, database='example', host=\"db\", user=\"root\"):\n";
        assert_eq!(hosts(SourceKind::Python, python), [("db".to_string(), None)]);
        let redis = "g.redis = Redis(host=\"redis\", db=0, socket_timeout=5)";
        assert_eq!(hosts(SourceKind::Python, redis), [("redis".to_string(), None)]);
        let mongo = "client = MongoClient(\"mongo:27017\")";
        assert_eq!(hosts(SourceKind::Python, mongo), [("mongo".to_string(), Some(27017))]);
        let node = "const redisClient = redis.createClient({\n  host: 'redis',\n  port: 6379\n});";
        assert_eq!(hosts(SourceKind::Script, node), [("redis".to_string(), None)]);
        let url = "  connectionString: 'postgres://postgres:postgres@db/postgres'";
        let found = literals(SourceKind::Script, url);
        assert_eq!(found, [("db".into(), Some(5432), "postgres://db".into(), 1)]);
        assert!(!found[0].2.contains("postgres@"), "the password part is never shown");
        let csharp =
            "var pgsql = OpenDbConnection(\"Server=db;Username=postgres;Password=postgres;\");\n\
                      var redisConn = OpenRedisConnection(\"redis\");";
        let found = literals(SourceKind::CSharp, csharp);
        assert_eq!(
            found.iter().map(|f| (f.0.as_str(), f.2.as_str())).collect::<Vec<_>>(),
            [("db", "Server=db"), ("redis", "OpenRedisConnection(\"redis\")")]
        );
        assert!(found.iter().all(|f| !f.2.contains("Password")));
        let java =
            "DriverManager.getConnection(\"jdbc:mysql://db/example?useSSL=false\", \"root\", pw)";
        assert_eq!(hosts(SourceKind::Jvm, java), [("db".to_string(), Some(3306))]);
        let connection_string =
            "string c = $\"server=db;user=root;database=example;port=3306;password={password}\";";
        // The port is a key of its own further on in the same string.
        assert_eq!(
            literals(SourceKind::CSharp, connection_string),
            [("db".into(), Some(3306), "server=db;port=3306".into(), 1)]
        );
        // ...and only in the same string.
        let apart = "c = \"server=db;user=root\"; other = \"port=3306;\";";
        assert_eq!(hosts(SourceKind::CSharp, apart), [("db".to_string(), None)]);
    }

    #[test]
    fn keywords_match_in_any_case_and_hosts_keep_theirs() {
        // Matched over the text in lowercase; what is found is read back from the text.
        let dotnet = "var c = \"Data Source=SqlServer;Initial Catalog=Shop;PORT=1433;PWD=x1\";";
        assert_eq!(
            literals(SourceKind::CSharp, dotnet),
            [("SqlServer".into(), Some(1433), "Data Source=SqlServer;port=1433".into(), 1)]
        );
        assert!(found(SourceKind::CSharp, dotnet)[0].with_password);
        let node = "const db = { HOST: 'Postgres' };\nconst r = Redis.CreateClient('Cache', 6379);";
        assert_eq!(
            hosts(SourceKind::Script, node),
            [("Postgres".to_string(), None), ("Cache".to_string(), None)]
        );
    }

    #[test]
    fn a_password_written_beside_the_host_is_told() {
        let with = |text: &str| {
            found(SourceKind::CSharp, text)
                .into_iter()
                .map(|h| (h.host, h.with_password))
                .collect::<Vec<_>>()
        };
        let url = "  connectionString: 'postgres://postgres:postgres@db/postgres'";
        assert_eq!(with(url), [("db".to_string(), true)]);
        let keys = "OpenDbConnection(\"Server=db;Username=postgres;Password=postgres;\");";
        assert_eq!(with(keys), [("db".to_string(), true)]);
        // A password read from a file or a variable is not written in the code.
        let read = "$\"server=db;user=root;port=3306;password={password}\";";
        assert_eq!(with(read), [("db".to_string(), false)]);
        let no_password = "client = MongoClient(\"mongo:27017\")";
        assert_eq!(with(no_password), [("mongo".to_string(), false)]);
    }

    #[test]
    fn spring_properties_name_the_variable_that_overrides_them() {
        let text = "server.port=8080\nspring.datasource.url=jdbc:postgresql://db:5432/shop\n";
        let found = found(SourceKind::SpringProperties, text);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].setting,
            Some(("SPRING_DATASOURCE_URL".into(), "jdbc:postgresql://db:5432/shop".into()))
        );
        assert_eq!((found[0].host.as_str(), found[0].port, found[0].line), ("db", Some(5432), 2));
    }

    #[test]
    fn what_is_not_a_host_in_code() {
        // An env read's default is a setting, not a literal the code is stuck with: the
        // assembly drops literals that are env defaults; here only the shapes are checked.
        let cases =
            ["x = {'db': 1}", "print(\"db\")", "log.info(\"connecting\")", "name = 'redis'"];
        for text in cases {
            assert_eq!(hosts(SourceKind::Python, text), [], "{text}");
        }
    }

    #[test]
    fn required_env_reads() {
        let python = "a = os.environ[\"SECRET_KEY\"]\nos.environ[\"SET_HERE\"] = \"1\"\nb = os.environ.get(\"OPT\")\n";
        assert_eq!(required_reads(SourceKind::Python, python), ["SECRET_KEY"]);
        let rust = "let a = env::var(\"DATABASE_URL\")?;\nlet b = env::var(\"X\").expect(\"x\");\n\
                    if let Ok(h) = std::env::var(\"PG_HOST\") {}\nlet c = env::var(\"Y\").unwrap_or_default();";
        assert_eq!(required_reads(SourceKind::Rust, rust), ["DATABASE_URL", "X"]);
        let ruby = "a = ENV.fetch(\"TOKEN\")\nb = ENV.fetch(\"LEVEL\") { \"info\" }\nc = ENV.fetch(\"N\", 2)";
        assert_eq!(required_reads(SourceKind::Ruby, ruby), ["TOKEN"]);
        assert_eq!(required_reads(SourceKind::Script, "process.env.X"), Vec::<String>::new());
    }
}
