//! Which env vars hold secrets, by name ([`looks_secret`]) and by value ([`secret_shape`],
//! [`holds_secret`]): the word lists, the well-known token shapes and the entropy rule.
//!
//! Withholding a value costs a question to the user; leaking one costs a rotated credential.
//! The rules lean to withholding, but a near miss (`TOKENIZER_MODEL`, `KEYCLOAK_URL`) must not
//! turn every config value into a question; the table-driven test in `source/tests.rs` lists
//! both sides.

use std::sync::OnceLock;

use crate::analyze::links::has_url_password;
use crate::analyze::pattern::{Caps, Pattern};

/// Words that end a name whose value describes a secret rather than holding it: a lifetime,
/// a length, where the secret lives (`PASSWORD_FILE` holds a path), what it is called.
const DESCRIBING_WORDS: &[&str] = &[
    "TTL",
    "EXPIRY",
    "EXPIRES",
    "EXPIRE",
    "EXPIRATION",
    "TIMEOUT",
    "LENGTH",
    "LEN",
    "SIZE",
    "LIFETIME",
    "ENABLED",
    "ENABLE",
    "DISABLED",
    "HEADER",
    "ALGORITHM",
    "ALG",
    "ROTATION",
    "FILE",
    "PATH",
    "DIR",
    "URL",
    "URI",
    "ENDPOINT",
    "TYPE",
    "MODE",
    "METHOD",
    "NAME",
    "ARN",
    "PROVIDER",
    "ISSUER",
    "AUDIENCE",
    "HOST",
    "PORT",
    "USER",
    "USERNAME",
];

/// Names of things reached through a connection URL that usually carries a password.
const URL_HOLDERS: &[&str] = &[
    "DATABASE",
    "DB",
    "POSTGRES",
    "POSTGRESQL",
    "PG",
    "MYSQL",
    "MARIADB",
    "MONGO",
    "MONGODB",
    "REDIS",
    "CACHE",
    "AMQP",
    "RABBITMQ",
    "RABBIT",
    "BROKER",
    "MSSQL",
    "SQL",
    "SQLALCHEMY",
    "CLICKHOUSE",
    "ELASTICSEARCH",
    "OPENSEARCH",
    "SMTP",
    "EMAIL",
    "MAIL",
    // A webhook URL is itself the credential (Slack, Discord, Teams embed a token in it).
    "WEBHOOK",
];

/// Spellings that mean a secret wherever they appear in a name, even glued to other words.
const SECRET_PARTS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "SECRET",
    "CREDENTIAL",
    "APIKEY",
    "PRIVATEKEY",
    "ACCESSKEY",
    "AUTHTOKEN",
    "ACCESSTOKEN",
];

/// Whole words that mean a secret.
const SECRET_WORDS: &[&str] =
    &["PASS", "PWD", "TOKEN", "TOKENS", "CREDS", "SALT", "KEYSTORE", "PFX", "P12"];

/// Words before `KEY` that make it a non-secret key (a public key, a partition key).
const PUBLIC_KEYS: &[&str] =
    &["PUBLIC", "PUBLISHABLE", "PARTITION", "ROUTING", "SORT", "PRIMARY", "CACHE", "FOREIGN"];

/// Words that make a name secret-ish: not secret by the name alone (`SESSION_SIGNING`,
/// `API_KEY_ID`), but a secret when the value looks random.
const SECRETISH_WORDS: &[&str] = &[
    "KEY",
    "KEYS",
    "TOKEN",
    "AUTH",
    "SECRET",
    "SIGNING",
    "SIGNATURE",
    "HMAC",
    "CIPHER",
    "CRYPT",
    "SESSION",
    "COOKIE",
    "SALT",
    "NONCE",
    "SEED",
    "CREDS",
    "PASS",
    "PRIVATE",
    "API",
    "LICENSE",
    "CLIENT",
    "ACCESS",
    "BEARER",
    "JWT",
    "WEBHOOK",
];

/// Shortest value the entropy rule looks at: shorter random strings are rare as secrets and
/// common as identifiers.
const ENTROPY_MIN_LENGTH: usize = 20;

/// Bits per character over which a value counts as random: base64 of random bytes gives 4.5 to
/// 5.5, hex at most 4, words and sentences 3 to 4.
const ENTROPY_BITS: f64 = 4.0;

/// Well-known token shapes, each with the name a report gives it. Searched anywhere in a value
/// (a command line, a URL, a PEM file's text), on word boundaries where the shape has one.
const SHAPES: &[Shape] = &[
    Shape {
        what: "a GitHub token",
        needs: &["ghp_", "gho_", "ghs_", "ghu_", "ghr_", "github_pat_"],
        pattern: r"\b(?:gh[opsur]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})",
    },
    Shape { what: "a GitLab token", needs: &["glpat-"], pattern: r"\bglpat-[A-Za-z0-9_-]{20,}" },
    Shape {
        what: "an AWS access key",
        needs: &["AKIA", "ASIA"],
        pattern: r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b",
    },
    Shape { what: "a Slack token", needs: &["xox"], pattern: r"\bxox[abpr]-[A-Za-z0-9-]{10,}" },
    Shape { what: "a Stripe key", needs: &["k_live_"], pattern: r"\b[sr]k_live_[A-Za-z0-9]{16,}" },
    Shape {
        what: "a private key",
        needs: &["-----BEGIN "],
        pattern: r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----",
    },
    Shape {
        what: "a JWT",
        needs: &["eyJ"],
        pattern: r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{10,}",
    },
];

/// One token shape: its name, the plain texts one of which every match contains, its pattern.
struct Shape {
    what: &'static str,
    needs: &'static [&'static str],
    pattern: &'static str,
}

/// The compiled [`SHAPES`] a value may hold: a shape is compiled (once per process) only when a
/// value contains what every match of it contains, so most runs compile none.
fn shapes_in(value: &str) -> impl Iterator<Item = (&'static str, &'static Pattern)> + '_ {
    static COMPILED: [OnceLock<Pattern>; SHAPES.len()] = [const { OnceLock::new() }; SHAPES.len()];
    SHAPES
        .iter()
        .zip(&COMPILED)
        .filter(move |(shape, _)| shape.needs.iter().any(|needle| value.contains(needle)))
        .map(|(shape, compiled)| (shape.what, compiled.get_or_init(|| Pattern::new(shape.pattern))))
}

/// A match of a shape whose body is a placeholder (`ghp_xxxx...`, `AKIAXXXXXXXXXXXXXXXX`,
/// `sk_live_0000...`) has few distinct characters; a real token has many.
fn is_placeholder(found: &str) -> bool {
    let body = found.rsplit(['_', '-']).next().unwrap_or(found);
    let distinct: std::collections::BTreeSet<char> = body.chars().collect();
    !found.starts_with("-----") && distinct.len() < 6
}

/// The well-known token shape the value holds somewhere (`"a GitHub token"`), or a password in
/// a URL (`"a URL password"`), if any: the value is a secret whatever its name.
pub fn secret_shape(value: &str) -> Option<&'static str> {
    let shape = shapes_in(value)
        .find(|(_, regex)| regex.find_iter(value).any(|found| !is_placeholder(found.as_str())));
    match shape {
        Some((what, _)) => Some(what),
        None => has_url_password(value).then_some("a URL password"),
    }
}

/// The value with every well-known token shape found in it replaced by `mask` (`***`), when it
/// has one (a command line, an evidence line, a log). URL passwords are `links`' to mask.
pub fn mask_secret_shapes(value: &str, mask: &str) -> Option<String> {
    let mut out = value.to_string();
    let mut changed = false;
    for (_, regex) in shapes_in(value) {
        let masked = regex.replace_all(&out, |c: &Caps<'_>| {
            if is_placeholder(&c[0]) {
                c[0].to_string()
            } else {
                changed = true;
                mask.to_string()
            }
        });
        out = masked.into_owned();
    }
    changed.then_some(out)
}

/// Shannon entropy of the value, in bits per character.
fn entropy(value: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    for c in value.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
    }
    let total = value.chars().count() as f64;
    counts.values().map(|&n| n as f64 / total).map(|p| -p * p.log2()).sum()
}

/// Whether the value looks like random key material: at least [`ENTROPY_MIN_LENGTH`]
/// characters of one token (no spaces), over [`ENTROPY_BITS`] bits a character, mixing at
/// least two of lower case, upper case and digits. Identifiers that are random by design but
/// public are not: hex (git SHAs, digests), UUIDs, `sha256:` digests, URLs, paths.
pub fn looks_random(value: &str) -> bool {
    let value = value.trim();
    if value.len() < ENTROPY_MIN_LENGTH
        || value.contains(char::is_whitespace)
        || value.contains("://")
        || value.starts_with('/')
        || value.contains("sha256:")
        || value.contains("sha512:")
        || value.starts_with("${")
    {
        return false;
    }
    let hex_or_uuid = value.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if hex_or_uuid {
        return false;
    }
    let classes = [
        value.chars().any(|c| c.is_ascii_lowercase()),
        value.chars().any(|c| c.is_ascii_uppercase()),
        value.chars().any(|c| c.is_ascii_digit()),
    ];
    classes.iter().filter(|&&has| has).count() >= 2 && entropy(value) > ENTROPY_BITS
}

/// Whether a name is secret-ish: one of its words is in [`SECRETISH_WORDS`], or it looks
/// secret outright.
fn secretish(name: &str) -> bool {
    looks_secret(name) || words(name).iter().any(|w| SECRETISH_WORDS.contains(&w.as_str()))
}

/// Whether an env var holds a secret, by its name or by its value: a secret-looking name
/// ([`looks_secret`]), a well-known token shape or URL password anywhere in the value
/// ([`secret_shape`]), or a random-looking value ([`looks_random`]) under a secret-ish name.
pub fn holds_secret(name: &str, value: &str) -> bool {
    looks_secret(name) || secret_shape(value).is_some() || (secretish(name) && looks_random(value))
}

/// [`holds_secret`] for the value a deployment gives (compose's `environment`, a
/// descriptor), not a default the code falls back to: a connection URL named as one
/// (`DATABASE_URL`) that carries no credential (`postgres://db:5432/app`: no password, token
/// or `password=` parameter) is an address the job wires to the registry, not a secret to
/// hide in Vault. A webhook URL is its own credential whatever it holds.
pub fn given_value_holds_secret(name: &str, value: &str) -> bool {
    let words = words(name);
    if value.contains("://") && is_url_holder(&words) && !words.iter().any(|w| w == "WEBHOOK") {
        let lower = value.to_ascii_lowercase();
        return secret_shape(value).is_some()
            || ["password=", "passwd=", "pwd="].iter().any(|key| lower.contains(key));
    }
    holds_secret(name, value)
}

/// A URL or URI of a database, cache, broker or mail server (`DATABASE_URL`, `REDIS_URI`).
fn is_url_holder(words: &[String]) -> bool {
    matches!(words.last().map(String::as_str), Some("URL" | "URI"))
        && URL_HOLDERS.iter().any(|holder| words.iter().any(|w| w == holder))
}

/// Splits an env name into upper-case words at `_`, `-`, `.`, and camelCase boundaries.
pub(super) fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    for part in name.split(|c: char| !c.is_ascii_alphanumeric()).filter(|p| !p.is_empty()) {
        let chars: Vec<char> = part.chars().collect();
        let mut start = 0;
        for i in 1..chars.len() {
            let lower_to_upper = chars[i - 1].is_ascii_lowercase() && chars[i].is_ascii_uppercase();
            let acronym_end = chars[i - 1].is_ascii_uppercase()
                && chars[i].is_ascii_uppercase()
                && chars.get(i + 1).is_some_and(|c| c.is_ascii_lowercase());
            if lower_to_upper || acronym_end {
                words.push(chars[start..i].iter().collect::<String>().to_ascii_uppercase());
                start = i;
            }
        }
        words.push(chars[start..].iter().collect::<String>().to_ascii_uppercase());
    }
    words
}

/// Whether an env var name looks like it holds a secret.
///
/// Case-insensitive, on the name's words (`_`, `-`, `.` and camelCase split it). In order:
/// - the mysql/mariadb switches `*_ALLOW_EMPTY_PASSWORD` and `*_RANDOM_ROOT_PASSWORD` are not
///   secrets (their value is `yes`);
/// - a DSN, a connection string, or a URL/URI of a database, cache, broker or mail server
///   (`DATABASE_URL`, `REDIS_URL`, `MONGODB_URI`, `EMAIL_URL`, `SENTRY_DSN`) is a secret: it can
///   carry a password; so is a webhook URL (`SLACK_WEBHOOK_URL`), which embeds a token;
/// - a name ending in a describing word (`_TTL`, `_LENGTH`, `_FILE`, `_PATH`, `_URL`, `_NAME`,
///   ...) is not: `PASSWORD_FILE` holds a path, `TOKEN_URL` an OAuth endpoint; nor is an
///   `*_KEY_ID` (AWS access key IDs appear in logs; the secret is `*_SECRET_ACCESS_KEY`);
/// - `password`, `passwd`, `passphrase`, `secret`, `credential`, `apikey`, `accesskey`,
///   `privatekey` anywhere, and the words `pass`, `pwd` (not the shell's own `PWD`), `token`,
///   `creds`, `salt`, `keystore`, `pfx`, `p12` are secrets. Words, not substrings:
///   `TOKENIZER_MODEL`, `BYPASS_CACHE` and `KEYCLOAK_URL` are not secrets;
/// - a name ending in `KEY` is (`SECRET_KEY`, `TLS_KEY`, `ENCRYPTION_KEY`), unless the key is
///   public or a data key (`PUBLIC_KEY`, `STRIPE_PUBLISHABLE_KEY`, `PARTITION_KEY`, `CACHE_KEY`);
/// - a name ending in `AUTH` or `AUTHORIZATION` is (`BASIC_AUTH`), `AUTH_*` is not
///   (`AUTH_ENABLED`, `AUTH_URL`);
/// - certificates are public by design: `TLS_CERT` is not a secret, its key is.
pub fn looks_secret(name: &str) -> bool {
    let words = words(name);
    let Some(last) = words.last().map(String::as_str) else { return false };
    let joined = words.join("_");
    if joined.contains("ALLOW_EMPTY_PASSWORD") || joined.contains("RANDOM_ROOT_PASSWORD") {
        return false;
    }
    let has = |word: &str| words.iter().any(|w| w == word);
    let connection_string = words
        .windows(2)
        .any(|pair| pair[0] == "CONNECTION" && (pair[1] == "STRING" || pair[1] == "STRINGS"))
        || has("CONNECTIONSTRING")
        || has("CONNECTIONSTRINGS");
    if last == "DSN" || connection_string {
        return true;
    }
    if is_url_holder(&words) {
        return true;
    }
    let before_last = words.len().checked_sub(2).map(|i| words[i].as_str());
    if DESCRIBING_WORDS.contains(&last) || (last == "ID" && before_last == Some("KEY")) {
        return false;
    }
    let glued = words.concat();
    if SECRET_PARTS.iter().any(|part| glued.contains(part)) {
        return true;
    }
    if words.len() > 1 && has("PWD") || SECRET_WORDS.iter().any(|w| *w != "PWD" && has(w)) {
        return true;
    }
    if last == "KEY" || last == "KEYS" {
        return !before_last.is_some_and(|word| PUBLIC_KEYS.contains(&word));
    }
    last == "AUTH" || last == "AUTHORIZATION"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_compiles_and_is_found_only_with_its_needle() {
        for shape in SHAPES {
            // A text holding every needle compiles every shape: a bad one fails here.
            let found = shapes_in(&shape.needs.join(" ")).find(|(what, _)| *what == shape.what);
            found.unwrap_or_else(|| panic!("{} not tried", shape.what)).1.compile_both();
        }
        assert_eq!(shapes_in("nothing secret here").count(), 0);
        let token = format!("ghp_{}", "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3hJ5");
        assert_eq!(secret_shape(&token), Some("a GitHub token"));
        assert_eq!(mask_secret_shapes(&format!("x {token} y"), "***").as_deref(), Some("x *** y"));
    }
}
