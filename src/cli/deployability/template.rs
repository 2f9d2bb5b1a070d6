//! Reading the data of a Nomad `template` the way consul-template runs it, just far enough to
//! judge a generated job: its actions (`{{ ... }}`), the blocks they open (`range`, `with`,
//! `if`, ...), which part of the data looks a registered service up (`nomadService`,
//! `service`), which Vault secret (path and key) a part reads, and the `NAME=value` lines of an
//! env template. It renders nothing and checks no syntax; Nomad does that.

use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

/// `secret "PATH"` in an action.
static SECRET_CALL: LazyLock<Regex> = LazyLock::new(|| {
    // Constant patterns: they compile, or every test of this module fails.
    Regex::new(r#"\bsecret\s+"([^"]+)""#).expect("the secret-call pattern compiles")
});

/// A key read from a secret: `.Data.data.KEY` (KV v2), `.Data.KEY` (KV v1),
/// `index .Data[.data] "KEY"`.
static KEY_USE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"\.Data\.data\.([A-Za-z_][A-Za-z0-9_]*)|\.Data\.([A-Za-z_][A-Za-z0-9_]*)|index\s+\.Data(?:\.data)?\s+"([^"]+)""#,
    )
    .expect("the key-use pattern compiles")
});

/// A service lookup function of Nomad's (`nomadService`) or Consul's (`service`) catalog.
static LOOKUP_CALL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(nomadService|service)\b").expect("the lookup pattern compiles")
});

/// A quoted string argument (double quotes or backticks).
static QUOTED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""([^"]*)"|`([^`]*)`"#).expect("the quoted pattern compiles"));

static ADDRESS_USE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\.Address\b").expect("the address pattern compiles"));

static PORT_USE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\.Port\b").expect("the port pattern compiles"));

/// One `{{ ... }}` of the data.
#[derive(Debug, Clone)]
struct Action<'a> {
    /// From the first `{` to the last `}`.
    span: Range<usize>,
    /// The words inside, without delimiters and trim markers.
    body: &'a str,
}

/// A block from its opening action to the end of its `{{ end }}`.
#[derive(Debug, Clone)]
struct Block {
    /// Index of the opening action.
    opener: usize,
    span: Range<usize>,
}

/// A Vault secret read: the path given to `secret` and the key read from its data.
pub type SecretKey = (String, String);

/// One `NAME=value` line of an env template.
#[derive(Debug, Clone)]
pub struct EnvLine {
    /// The whole line in the data.
    pub span: Range<usize>,
    /// The value when the line holds no action (quotes removed), else `None`.
    pub literal: Option<String>,
}

/// A template's data, read.
#[derive(Debug, Clone)]
pub struct TemplateText<'a> {
    data: &'a str,
    actions: Vec<Action<'a>>,
    blocks: Vec<Block>,
}

impl<'a> TemplateText<'a> {
    /// Reads `data`; an action without its closing `}}` runs to the end.
    pub fn read(data: &'a str) -> Self {
        let mut actions = Vec::new();
        let mut from = 0;
        while let Some(open) = data[from..].find("{{").map(|i| from + i) {
            let inner_start = open + 2;
            let close = data[inner_start..].find("}}").map_or(data.len(), |i| inner_start + i);
            let end = (close + 2).min(data.len());
            let body = data[inner_start..close].trim_start_matches('-').trim_end_matches('-');
            actions.push(Action { span: open..end, body: body.trim() });
            from = end;
        }
        let mut blocks = Vec::new();
        let mut open: Vec<usize> = Vec::new();
        for (index, action) in actions.iter().enumerate() {
            match first_word(action.body) {
                "range" | "with" | "if" | "define" | "block" => open.push(index),
                "end" => {
                    if let Some(opener) = open.pop() {
                        blocks.push(Block {
                            opener,
                            span: actions[opener].span.start..action.span.end,
                        });
                    }
                }
                _ => {}
            }
        }
        for opener in open {
            blocks.push(Block { opener, span: actions[opener].span.start..data.len() });
        }
        TemplateText { data, actions, blocks }
    }

    /// The parts of the data where one of `names` (registered service names) is looked up: the
    /// block a lookup opens (`range nomadService "db"` ... `end`), or the action itself when it
    /// looks up and uses the result at once.
    pub fn lookup_scopes(&self, names: &[String]) -> Vec<Range<usize>> {
        let mut scopes = Vec::new();
        for (index, action) in self.actions.iter().enumerate() {
            if !looks_up(action.body, names) {
                continue;
            }
            match self.blocks.iter().find(|block| block.opener == index) {
                Some(block) => scopes.push(block.span.clone()),
                None => scopes.push(action.span.clone()),
            }
        }
        scopes
    }

    /// Whether actions inside one of `scopes` and inside `within` use `.Address` and `.Port`.
    pub fn address_and_port(&self, scopes: &[Range<usize>], within: &Range<usize>) -> (bool, bool) {
        let (mut address, mut port) = (false, false);
        for action in &self.actions {
            let inside_scope = scopes.iter().any(|scope| contains(scope, &action.span));
            if !inside_scope || !overlaps(within, &action.span) {
                continue;
            }
            address |= ADDRESS_USE.is_match(action.body);
            port |= PORT_USE.is_match(action.body);
        }
        (address, port)
    }

    /// The whole data, as a span.
    pub fn everything(&self) -> Range<usize> {
        0..self.data.len()
    }

    /// The Vault secrets (path, key) read by actions that overlap `within`.
    pub fn secret_keys(&self, within: &Range<usize>) -> BTreeSet<SecretKey> {
        let mut keys = BTreeSet::new();
        for action in self.actions.iter().filter(|a| overlaps(within, &a.span)) {
            let uses: Vec<String> = KEY_USE
                .captures_iter(action.body)
                .filter_map(|found| {
                    let key = found.get(1).or(found.get(2)).or(found.get(3))?;
                    // `.Data.data` alone is the KV v2 map, not a key.
                    (found.get(2).is_none() || key.as_str() != "data")
                        .then(|| key.as_str().to_string())
                })
                .collect();
            if uses.is_empty() {
                continue;
            }
            let path = SECRET_CALL
                .captures(action.body)
                .map(|found| found[1].to_string())
                .or_else(|| self.enclosing_secret(&action.span));
            if let Some(path) = path {
                keys.extend(uses.into_iter().map(|key| (path.clone(), key)));
            }
        }
        keys
    }

    /// The path of the innermost `with secret "PATH"` (or `range`) block around `span`.
    fn enclosing_secret(&self, span: &Range<usize>) -> Option<String> {
        self.blocks
            .iter()
            .filter(|block| contains(&block.span, span) && block.span != *span)
            .filter_map(|block| {
                let found = SECRET_CALL.captures(self.actions[block.opener].body)?;
                Some((block.span.len(), found[1].to_string()))
            })
            .min_by_key(|(length, _)| *length)
            .map(|(_, path)| path)
    }

    /// The data without its actions: what is written as it is.
    pub fn literal_text(&self) -> String {
        let mut out = String::new();
        let mut from = 0;
        for action in &self.actions {
            out.push_str(&self.data[from..action.span.start]);
            from = action.span.end;
        }
        out.push_str(&self.data[from.min(self.data.len())..]);
        out
    }

    /// The line that sets `name` (`NAME=value` or `export NAME=value`), as an env template
    /// does; a line that begins with actions (a lookup around it) counts.
    pub fn env_line(&self, name: &str) -> Option<EnvLine> {
        let mut start = 0;
        for line in self.data.split_inclusive('\n') {
            let span = start..start + line.len();
            start = span.end;
            let actions: Vec<&Action> =
                self.actions.iter().filter(|a| overlaps(&span, &a.span)).collect();
            let mut skeleton = String::new();
            let mut from = span.start;
            for action in &actions {
                if action.span.start > from {
                    skeleton.push_str(&self.data[from..action.span.start]);
                }
                from = from.max(action.span.end);
            }
            if from < span.end {
                skeleton.push_str(&self.data[from..span.end]);
            }
            let skeleton = skeleton.trim();
            let skeleton = skeleton.strip_prefix("export ").unwrap_or(skeleton).trim_start();
            let Some(value) = skeleton.strip_prefix(name).and_then(|rest| rest.strip_prefix('='))
            else {
                continue;
            };
            let literal = actions.is_empty().then(|| unquote(value.trim()).to_string());
            return Some(EnvLine { span, literal });
        }
        None
    }
}

/// Whether an action looks up one of `names` in a service catalog. Consul's forms
/// `"tag.name"`, `"name@dc"` and `"name|passing"` name the same service.
fn looks_up(body: &str, names: &[String]) -> bool {
    if !LOOKUP_CALL.is_match(body) {
        return false;
    }
    QUOTED.captures_iter(body).any(|found| {
        let Some(quoted) = found.get(1).or(found.get(2)) else { return false };
        let name = quoted.as_str();
        let name = name.split('|').next().unwrap_or(name);
        let name = name.split('@').next().unwrap_or(name);
        let name = name.rsplit('.').next().unwrap_or(name);
        names.iter().any(|wanted| wanted == name)
    })
}

fn first_word(body: &str) -> &str {
    body.split(|c: char| c.is_whitespace() || c == '(').next().unwrap_or("")
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

fn overlaps(a: &Range<usize>, b: &Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value.strip_prefix(quote).and_then(|v| v.strip_suffix(quote)) {
            return inner;
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_range_block_looks_up_for_every_line_inside_it() {
        let data = "{{ range nomadService \"shop-db\" }}\nDB_HOST={{ .Address }}\n\
                    DB_PORT={{ .Port }}\n{{ end }}\nOTHER={{ .Address }}\n";
        let text = TemplateText::read(data);
        let scopes = text.lookup_scopes(&names(&["shop-db"]));
        assert_eq!(scopes.len(), 1);
        let host = text.env_line("DB_HOST").unwrap();
        assert_eq!(text.address_and_port(&scopes, &host.span), (true, false));
        let port = text.env_line("DB_PORT").unwrap();
        assert_eq!(text.address_and_port(&scopes, &port.span), (false, true));
        let other = text.env_line("OTHER").unwrap();
        assert_eq!(text.address_and_port(&scopes, &other.span), (false, false));
        assert!(text.lookup_scopes(&names(&["shop-web"])).is_empty());
    }

    #[test]
    fn consul_forms_and_inline_lookups_count() {
        let data = "A={{ with service \"v1.shop-db@dc1|passing\" }}{{ with index . 0 }}\
                    {{ .Address }}:{{ .Port }}{{ end }}{{ end }}\n\
                    B={{ (index (nomadService \"shop-db\") 0).Address }}\n";
        let text = TemplateText::read(data);
        let scopes = text.lookup_scopes(&names(&["shop-db"]));
        let a = text.env_line("A").unwrap();
        assert_eq!(text.address_and_port(&scopes, &a.span), (true, true));
        assert_eq!(a.literal, None);
        let b = text.env_line("B").unwrap();
        assert_eq!(text.address_and_port(&scopes, &b.span), (true, false));
    }

    #[test]
    fn secret_keys_take_the_innermost_secret_block() {
        let data = "{{ with secret \"kv/data/shop\" }}\nPASSWORD={{ .Data.data.db_password }}\n\
                    {{ end }}\nTOKEN={{ with secret \"kv/data/pay\" }}{{ .Data.token }}{{ end }}\n\
                    V1={{ index .Data.data \"x\" }}\nINLINE={{ (secret \"kv/data/a\").Data.data.b }}\n";
        let text = TemplateText::read(data);
        let line = |name: &str| text.env_line(name).unwrap().span;
        let key = |p: &str, k: &str| (p.to_string(), k.to_string());
        assert_eq!(
            text.secret_keys(&line("PASSWORD")),
            BTreeSet::from([key("kv/data/shop", "db_password")])
        );
        assert_eq!(text.secret_keys(&line("TOKEN")), BTreeSet::from([key("kv/data/pay", "token")]));
        // Outside any secret block, a key use has no path: not a Vault read.
        assert!(text.secret_keys(&line("V1")).is_empty());
        assert_eq!(text.secret_keys(&line("INLINE")), BTreeSet::from([key("kv/data/a", "b")]));
        assert_eq!(text.secret_keys(&text.everything()).len(), 3);
    }

    #[test]
    fn env_lines_give_literal_values_and_skip_trim_markers() {
        let data = "export MODE=\"production\"\n{{- /* a comment */ -}}\nEMPTY=\nURL=http://{{ .Address }}\n";
        let text = TemplateText::read(data);
        assert_eq!(text.env_line("MODE").unwrap().literal.as_deref(), Some("production"));
        assert_eq!(text.env_line("EMPTY").unwrap().literal.as_deref(), Some(""));
        assert_eq!(text.env_line("URL").unwrap().literal, None);
        assert!(text.env_line("MOD").is_none(), "a prefix of a name is not the name");
        assert_eq!(text.literal_text(), "export MODE=\"production\"\n\nEMPTY=\nURL=http://\n");
    }

    #[test]
    fn an_unclosed_action_or_block_runs_to_the_end() {
        let text = TemplateText::read("{{ range nomadService \"db\" }}X={{ .Address");
        let scopes = text.lookup_scopes(&names(&["db"]));
        assert_eq!(scopes, vec![0..text.data.len()]);
        assert_eq!(text.address_and_port(&scopes, &text.everything()), (true, false));
    }
}
