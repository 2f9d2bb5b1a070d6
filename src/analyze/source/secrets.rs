//! Which env names hold secrets: the word lists and the rules of [`looks_secret`].
//!
//! Withholding a value costs a question to the user; leaking one costs a rotated credential.
//! The rules lean to withholding, but a near miss (`TOKENIZER_MODEL`, `KEYCLOAK_URL`) must not
//! turn every config value into a question; the table-driven test in `source/tests.rs` lists
//! both sides.

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
    if (last == "URL" || last == "URI") && URL_HOLDERS.iter().any(|holder| has(holder)) {
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
