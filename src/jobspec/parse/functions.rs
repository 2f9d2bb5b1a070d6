//! The functions a job file may call, as Nomad's `jobspec2` offers them (Terraform's
//! standard library subset): strings, collections, encoding, numbers, files and UUIDs.
//!
//! Each function takes evaluated arguments and answers a value or a message saying what was
//! wrong with the arguments; `eval` adds the position and the function's name. A function
//! whose result can be much larger than its arguments (`replace`, `join`, `indent`, `format`,
//! `split`, `jsondecode`) checks the size against what is left of the file's budget before it
//! builds the result, and none does more than about linear work in its arguments' size, so a
//! job file cannot make one call take gigabytes or hours.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::budget;
use super::value::{describe, float_or_int};
use super::MAX_SOURCE_BYTES;

type Outcome = Result<Value, String>;

/// Names of the functions this parser knows, for the "unknown function" message.
const KNOWN: &[&str] = &[
    "abs",
    "abspath",
    "base64decode",
    "base64encode",
    "basename",
    "can",
    "ceil",
    "chomp",
    "coalesce",
    "coalescelist",
    "compact",
    "concat",
    "contains",
    "dirname",
    "distinct",
    "element",
    "file",
    "fileexists",
    "flatten",
    "floor",
    "format",
    "formatlist",
    "indent",
    "index",
    "join",
    "jsondecode",
    "jsonencode",
    "keys",
    "length",
    "lookup",
    "lower",
    "max",
    "merge",
    "min",
    "parseint",
    "pathexpand",
    "range",
    "regex_replace",
    "replace",
    "reverse",
    "setunion",
    "slice",
    "sort",
    "split",
    "strrev",
    "substr",
    "title",
    "tobool",
    "tolist",
    "tomap",
    "tonumber",
    "toset",
    "tostring",
    "trim",
    "trimprefix",
    "trimspace",
    "trimsuffix",
    "try",
    "upper",
    "urlencode",
    "uuidv4",
    "uuidv5",
    "values",
    "zipmap",
];

/// Calls function `name`.
pub(crate) fn call(name: &str, args: Vec<Value>, base_dir: Option<&Path>) -> Outcome {
    let a = Args(args);
    match name {
        "abs" => Ok(float_or_int(a.number(0)?.abs())),
        "ceil" => Ok(float_or_int(a.number(0)?.ceil())),
        "floor" => Ok(float_or_int(a.number(0)?.floor())),
        "max" => fold_numbers(&a, f64::max),
        "min" => fold_numbers(&a, f64::min),
        "parseint" => {
            let base = a.number(1)? as u32;
            if !(2..=36).contains(&base) {
                return Err(format!("base {base} is not between 2 and 36"));
            }
            let text = a.string(0)?;
            i64::from_str_radix(text.trim(), base)
                .map(Value::from)
                .map_err(|_| format!("{text:?} is not a number in base {base}"))
        }
        "tonumber" => match a.get(0)? {
            Value::Null => Ok(Value::Null),
            _ => Ok(float_or_int(a.number(0)?)),
        },
        "tostring" => match a.get(0)? {
            Value::Null => Ok(Value::Null),
            _ => Ok(Value::String(a.string(0)?)),
        },
        "tobool" => match a.get(0)? {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            Value::String(s) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
            Value::Null => Ok(Value::Null),
            other => Err(format!("cannot convert {} to a bool", describe(other))),
        },
        "tolist" | "toset" => Ok(Value::Array(a.list(0)?)),
        "tomap" => Ok(Value::Object(a.object(0)?)),
        "lower" => Ok(Value::String(a.string(0)?.to_lowercase())),
        "upper" => Ok(Value::String(a.string(0)?.to_uppercase())),
        "title" => Ok(Value::String(title(&a.string(0)?))),
        "trimspace" => Ok(Value::String(a.string(0)?.trim().to_owned())),
        "chomp" => Ok(Value::String(a.string(0)?.trim_end_matches(['\n', '\r']).to_owned())),
        "strrev" => Ok(Value::String(a.string(0)?.chars().rev().collect())),
        "trim" => {
            let cut: std::collections::HashSet<char> = a.string(1)?.chars().collect();
            Ok(Value::String(a.string(0)?.trim_matches(|c| cut.contains(&c)).to_owned()))
        }
        "trimprefix" => {
            let s = a.string(0)?;
            let prefix = a.string(1)?;
            Ok(Value::String(s.strip_prefix(prefix.as_str()).unwrap_or(&s).to_owned()))
        }
        "trimsuffix" => {
            let s = a.string(0)?;
            let suffix = a.string(1)?;
            Ok(Value::String(s.strip_suffix(suffix.as_str()).unwrap_or(&s).to_owned()))
        }
        "substr" => {
            let chars: Vec<char> = a.string(0)?.chars().collect();
            let offset = a.number(1)? as i64;
            let length = a.number(2)? as i64;
            let start = if offset < 0 { chars.len() as i64 + offset } else { offset };
            let start = start.clamp(0, chars.len() as i64) as usize;
            let end =
                if length < 0 { chars.len() } else { (start + length as usize).min(chars.len()) };
            Ok(Value::String(chars[start..end].iter().collect()))
        }
        "indent" => {
            let pad = " ".repeat(padding(a.number(0)? as usize)?);
            let text = a.string(1)?;
            let lines = text.matches('\n').count();
            budget::fits(text.len().saturating_add(lines.saturating_mul(pad.len())))?;
            Ok(Value::String(text.replace('\n', &format!("\n{pad}"))))
        }
        "replace" => replace(&a.string(0)?, &a.string(1)?, &a.string(2)?),
        "regex_replace" => {
            let re = regex::Regex::new(&a.string(1)?).map_err(|e| e.to_string())?;
            regex_replace(&re, &a.string(0)?, &a.string(2)?)
        }
        "split" => {
            let sep = a.string(0)?;
            let s = a.string(1)?;
            if s.is_empty() {
                return Ok(Value::Array(Vec::new()));
            }
            let parts = s.matches(sep.as_str()).count().saturating_add(1);
            budget::fits(parts.saturating_mul(budget::size(&Value::Null)).saturating_add(s.len()))?;
            Ok(Value::Array(s.split(sep.as_str()).map(|p| Value::String(p.to_owned())).collect()))
        }
        "join" => {
            let sep = a.string(0)?;
            let mut parts = Vec::new();
            let mut bytes = 0usize;
            for i in 1..a.0.len() {
                for item in a.list(i)? {
                    let part = string_of(&item)?;
                    bytes = bytes.saturating_add(part.len()).saturating_add(sep.len());
                    parts.push(part);
                }
            }
            budget::fits(bytes)?;
            Ok(Value::String(parts.join(&sep)))
        }
        "format" => format(&a.string(0)?, &a.0[1.min(a.0.len())..]).map(Value::String),
        "formatlist" => formatlist(&a),
        "concat" => {
            let mut out = Vec::new();
            for i in 0..a.0.len() {
                out.extend(a.list(i)?);
            }
            Ok(Value::Array(out))
        }
        "merge" => {
            let mut out = Map::new();
            for i in 0..a.0.len() {
                if !a.get(i)?.is_null() {
                    out.extend(a.object(i)?);
                }
            }
            Ok(Value::Object(out))
        }
        "coalesce" => {
            a.0.iter()
                .find(|v| !v.is_null() && v.as_str() != Some(""))
                .cloned()
                .ok_or_else(|| "no non-null, non-empty argument".to_owned())
        }
        "coalescelist" => {
            a.0.iter()
                .find(|v| v.as_array().is_some_and(|l| !l.is_empty()))
                .cloned()
                .ok_or_else(|| "no non-empty list argument".to_owned())
        }
        "compact" => Ok(Value::Array(
            a.list(0)?.into_iter().filter(|v| !v.is_null() && v.as_str() != Some("")).collect(),
        )),
        "contains" => {
            let needle = a.get(1)?;
            Ok(Value::Bool(a.list(0)?.iter().any(|v| v == needle)))
        }
        "distinct" | "setunion" => {
            // Seen values by a canonical text, so that a long list is not compared pair by pair.
            let mut seen = std::collections::HashSet::new();
            let mut out: Vec<Value> = Vec::new();
            for i in 0..a.0.len() {
                for v in a.list(i)? {
                    let mut key = String::new();
                    canonical(&v, &mut key);
                    if seen.insert(key) {
                        out.push(v);
                    }
                }
            }
            Ok(Value::Array(out))
        }
        "element" => {
            let list = a.list(0)?;
            if list.is_empty() {
                return Err("cannot use element() on an empty list".to_owned());
            }
            let i = a.number(1)? as usize % list.len();
            Ok(list[i].clone())
        }
        "index" => {
            let needle = a.get(1)?;
            a.list(0)?
                .iter()
                .position(|v| v == needle)
                .map(|i| Value::from(i as u64))
                .ok_or_else(|| "the value is not in the list".to_owned())
        }
        "flatten" => Ok(Value::Array(flatten(a.list(0)?))),
        "reverse" => Ok(Value::Array(a.list(0)?.into_iter().rev().collect())),
        "sort" => {
            let mut items = a.list(0)?.iter().map(string_of).collect::<Result<Vec<_>, _>>()?;
            items.sort();
            Ok(Value::Array(items.into_iter().map(Value::String).collect()))
        }
        "slice" => {
            let list = a.list(0)?;
            let (start, end) = (a.number(1)? as usize, a.number(2)? as usize);
            if start > end || end > list.len() {
                return Err(format!("slice({start}, {end}) is out of range for {}", list.len()));
            }
            Ok(Value::Array(list[start..end].to_vec()))
        }
        "range" => range(&a),
        "length" => match a.get(0)? {
            Value::String(s) => Ok(Value::from(s.chars().count() as u64)),
            Value::Array(l) => Ok(Value::from(l.len() as u64)),
            Value::Object(m) => Ok(Value::from(m.len() as u64)),
            other => Err(format!("cannot take the length of {}", describe(other))),
        },
        "keys" => Ok(Value::Array(a.object(0)?.keys().cloned().map(Value::String).collect())),
        "values" => Ok(Value::Array(a.object(0)?.values().cloned().collect())),
        "lookup" => {
            let map = a.object(0)?;
            let key = a.string(1)?;
            match (map.get(&key), a.0.get(2)) {
                (Some(v), _) => Ok(v.clone()),
                (None, Some(default)) => Ok(default.clone()),
                (None, None) => Err(format!("the map has no key {key:?} and no default was given")),
            }
        }
        "zipmap" => {
            let keys = a.list(0)?;
            let values = a.list(1)?;
            if keys.len() != values.len() {
                return Err("the key and value lists differ in length".to_owned());
            }
            let mut out = Map::new();
            for (k, v) in keys.iter().zip(values) {
                out.insert(string_of(k)?, v);
            }
            Ok(Value::Object(out))
        }
        "jsonencode" => {
            serde_json::to_string(a.get(0)?).map(Value::String).map_err(|e| e.to_string())
        }
        "jsondecode" => {
            let text = a.string(0)?;
            // A value takes up to this many times the bytes of its JSON (`[0,0,...]`).
            budget::fits(text.len().saturating_mul(16))?;
            serde_json::from_str(&text).map_err(|e| format!("invalid JSON: {e}"))
        }
        "base64encode" => Ok(Value::String(base64_encode(a.string(0)?.as_bytes()))),
        "base64decode" => {
            let bytes = base64_decode(&a.string(0)?).ok_or("the string is not valid base64")?;
            String::from_utf8(bytes)
                .map(Value::String)
                .map_err(|_| "the decoded bytes are not UTF-8".to_owned())
        }
        "urlencode" => Ok(Value::String(
            url::form_urlencoded::byte_serialize(a.string(0)?.as_bytes())
                .collect::<String>()
                .replace('+', "%20"),
        )),
        "basename" => Ok(Value::String(
            Path::new(&a.string(0)?)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        )),
        "dirname" => Ok(Value::String(
            Path::new(&a.string(0)?)
                .parent()
                .map(|p| p.to_string_lossy().into_owned())
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| ".".to_owned()),
        )),
        "pathexpand" => Ok(Value::String(pathexpand(&a.string(0)?))),
        "abspath" => {
            let path = resolve(base_dir, &a.string(0)?);
            let path = std::path::absolute(&path).unwrap_or(path);
            Ok(Value::String(path.to_string_lossy().into_owned()))
        }
        "file" => {
            let name = a.string(0)?;
            let path = resolve(base_dir, &name);
            let cannot = |why: String| {
                format!("cannot read {:?} (resolved to {}): {why}", name, path.display())
            };
            let inside = confined(&path, base_dir).map_err(cannot)?;
            // A job file's own size bound, and no more than what is left of its budget.
            let limit = MAX_SOURCE_BYTES.min(budget::remaining()) as u64;
            let text = crate::file::read_text(&inside, limit).map_err(|e| cannot(e.reason()))?;
            Ok(Value::String(text))
        }
        "fileexists" => {
            let name = a.string(0)?;
            let path = resolve(base_dir, &name);
            // Outside the allowed folders, nothing is said about what exists there.
            let Ok(inside) = confined(&path, base_dir) else { return Ok(Value::Bool(false)) };
            crate::file::is_regular(&inside)
                .map(Value::Bool)
                .map_err(|e| format!("{:?} (resolved to {}): {}", name, path.display(), e.reason()))
        }
        "uuidv4" => Ok(Value::String(uuid_v4())),
        "uuidv5" => uuid_v5(&a.string(0)?, &a.string(1)?).map(Value::String),
        _ => Err(format!(
            "there is no function named {name:?}; job files can call: {}",
            KNOWN.join(", ")
        )),
    }
}

/// Positional arguments with typed accessors that name the argument in errors.
struct Args(Vec<Value>);

impl Args {
    fn get(&self, i: usize) -> Result<&Value, String> {
        self.0.get(i).ok_or_else(|| format!("missing argument {}", i + 1))
    }

    fn string(&self, i: usize) -> Result<String, String> {
        string_of(self.get(i)?).map_err(|e| format!("argument {}: {e}", i + 1))
    }

    fn number(&self, i: usize) -> Result<f64, String> {
        match self.get(i)? {
            Value::Number(n) => n.as_f64().ok_or_else(|| "number out of range".to_owned()),
            Value::String(s) => {
                s.trim().parse().map_err(|_| format!("argument {}: {s:?} is not a number", i + 1))
            }
            other => {
                Err(format!("argument {}: a number is required, found {}", i + 1, describe(other)))
            }
        }
    }

    fn list(&self, i: usize) -> Result<Vec<Value>, String> {
        match self.get(i)? {
            Value::Array(items) => Ok(items.clone()),
            other => {
                Err(format!("argument {}: a list is required, found {}", i + 1, describe(other)))
            }
        }
    }

    fn object(&self, i: usize) -> Result<Map<String, Value>, String> {
        match self.get(i)? {
            Value::Object(map) => Ok(map.clone()),
            other => {
                Err(format!("argument {}: a map is required, found {}", i + 1, describe(other)))
            }
        }
    }
}

fn string_of(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!("a string is required, found {}", describe(other))),
    }
}

fn fold_numbers(a: &Args, f: fn(f64, f64) -> f64) -> Outcome {
    let mut acc = a.number(0)?;
    for i in 1..a.0.len() {
        acc = f(acc, a.number(i)?);
    }
    Ok(float_or_int(acc))
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !c.is_alphanumeric();
    }
    out
}

/// `replace`: a substring, or a regular expression when written `/re/`.
fn replace(s: &str, search: &str, with: &str) -> Outcome {
    if search.len() > 1 && search.starts_with('/') && search.ends_with('/') {
        let re = regex::Regex::new(&search[1..search.len() - 1]).map_err(|e| e.to_string())?;
        return regex_replace(&re, s, with);
    }
    let count = s.matches(search).count();
    budget::fits(s.len().saturating_add(count.saturating_mul(with.len())))?;
    Ok(Value::String(s.replace(search, with)))
}

/// Replaces every match of `re`, stopping (with the budget's message) once the text would grow
/// past what is left of the budget: an empty pattern matches between every two characters.
fn regex_replace(re: &regex::Regex, s: &str, with: &str) -> Outcome {
    use regex::Replacer;
    struct Bounded<'w> {
        with: &'w str,
        limit: usize,
        over: bool,
    }
    impl regex::Replacer for Bounded<'_> {
        fn replace_append(&mut self, caps: &regex::Captures<'_>, dst: &mut String) {
            if self.over {
                return;
            }
            caps.expand(self.with, dst);
            self.over = dst.len() > self.limit;
        }
    }
    let limit = budget::remaining();
    let mut replacer = Bounded { with, limit, over: false };
    let replaced = re.replace_all(s, replacer.by_ref()).into_owned();
    if replacer.over || replaced.len() > limit {
        return Err(budget::refused(&format!("more than {limit} bytes")));
    }
    Ok(Value::String(replaced))
}

/// A text that is the same for two values exactly when they are equal (`distinct`): objects
/// in key order, each text and key with its length so that no two values share one.
fn canonical(value: &Value, out: &mut String) {
    use std::fmt::Write;
    match value {
        Value::Null => out.push('n'),
        Value::Bool(b) => out.push(if *b { 't' } else { 'f' }),
        Value::Number(n) => match n.as_f64().filter(|_| n.is_f64()) {
            // `0.0 == -0.0` for a float, as `Value`'s equality has it.
            Some(0.0) => out.push_str("#0.0;"),
            _ => {
                let _ = write!(out, "#{n};");
            }
        },
        Value::String(s) => {
            let _ = write!(out, "s{}:{s}", s.len());
        }
        Value::Array(items) => {
            out.push('[');
            for item in items {
                canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|x, y| x.0.cmp(y.0));
            out.push('{');
            for (key, item) in entries {
                let _ = write!(out, "k{}:{key}", key.len());
                canonical(item, out);
            }
            out.push('}');
        }
    }
}

fn flatten(items: Vec<Value>) -> Vec<Value> {
    let mut out = Vec::new();
    for item in items {
        match item {
            Value::Array(inner) => out.extend(flatten(inner)),
            other => out.push(other),
        }
    }
    out
}

fn range(a: &Args) -> Outcome {
    let (start, end, step) = match a.0.len() {
        1 => (0.0, a.number(0)?, 1.0),
        2 => (a.number(0)?, a.number(1)?, 1.0),
        _ => (a.number(0)?, a.number(1)?, a.number(2)?),
    };
    if step == 0.0 {
        return Err("the step must not be zero".to_owned());
    }
    let mut out = Vec::new();
    let mut x = start;
    while (step > 0.0 && x < end) || (step < 0.0 && x > end) {
        if out.len() >= 1024 {
            return Err("more than 1024 elements".to_owned());
        }
        out.push(float_or_int(x));
        x += step;
    }
    Ok(Value::Array(out))
}

/// A width or indent, bounded so that a job file cannot ask for gigabytes of spaces.
fn padding(width: usize) -> Result<usize, String> {
    const MOST: usize = 4096;
    if width > MOST {
        return Err(format!("a width of {width} is more than the {MOST} allowed"));
    }
    Ok(width)
}

/// `format` with the verbs job files use: `%s`, `%d`, `%f`, `%v`, `%q`, `%%`, and widths.
fn format(spec: &str, args: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = spec.chars().peekable();
    let mut next = 0;
    let limit = budget::remaining();
    while let Some(c) = chars.next() {
        if out.len() > limit {
            return Err(budget::refused(&format!("more than {limit} bytes")));
        }
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut flags = String::new();
        while let Some(&f) = chars.peek() {
            if f.is_ascii_digit() || f == '-' || f == '.' || f == '+' || f == '#' || f == ' ' {
                flags.push(f);
                chars.next();
            } else {
                break;
            }
        }
        let verb = chars.next().ok_or("the format ends after %")?;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let arg = args.get(next).ok_or_else(|| format!("not enough arguments for {spec:?}"))?;
        next += 1;
        let text = match verb {
            's' | 'v' => match arg {
                Value::String(s) => s.clone(),
                other => serde_json::to_string(other).unwrap_or_default(),
            },
            'q' => serde_json::to_string(&Value::String(string_of(arg)?)).unwrap_or_default(),
            'd' => match arg {
                Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
                Value::Number(n) => (n.as_f64().unwrap_or(0.0) as i64).to_string(),
                Value::String(s) => s
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| format!("%d needs a number, found {s:?}"))?
                    .to_string(),
                other => return Err(format!("%d needs a number, found {}", describe(other))),
            },
            'f' | 'g' | 'e' => {
                let f = match arg {
                    Value::Number(n) => n.as_f64().unwrap_or(0.0),
                    Value::String(s) => {
                        s.trim().parse().map_err(|_| format!("%{verb} needs a number"))?
                    }
                    other => {
                        return Err(format!("%{verb} needs a number, found {}", describe(other)))
                    }
                };
                match flags.split_once('.') {
                    Some((_, p)) => format!("{f:.*}", p.parse().unwrap_or(6)),
                    None if verb == 'f' => format!("{f:.6}"),
                    None => f.to_string(),
                }
            }
            't' => string_of(arg)?,
            other => return Err(format!("unsupported format verb %{other}")),
        };
        let width: usize = flags
            .trim_start_matches('-')
            .split('.')
            .next()
            .and_then(|w| w.parse().ok())
            .unwrap_or(0);
        let pad = padding(width)?.saturating_sub(text.chars().count());
        if flags.starts_with('-') {
            out.push_str(&text);
            out.push_str(&" ".repeat(pad));
        } else if flags.starts_with('0') && matches!(verb, 'd' | 'f' | 'g' | 'e') {
            // Zeros go after the sign: `%03d` of -7 is `-07`.
            let (sign, digits) = text.split_at(usize::from(text.starts_with('-')));
            out.push_str(sign);
            out.push_str(&"0".repeat(pad));
            out.push_str(digits);
        } else {
            out.push_str(&" ".repeat(pad));
            out.push_str(&text);
        }
    }
    Ok(out)
}

fn formatlist(a: &Args) -> Outcome {
    let spec = a.string(0)?;
    let rest = &a.0[1..];
    let len = rest.iter().filter_map(|v| v.as_array().map(Vec::len)).max().unwrap_or(1);
    let mut out = Vec::with_capacity(len);
    let mut bytes = 0usize;
    for i in 0..len {
        let row: Vec<Value> = rest
            .iter()
            .map(|v| match v {
                Value::Array(items) => items.get(i).cloned().unwrap_or(Value::Null),
                other => other.clone(),
            })
            .collect();
        let text = format(&spec, &row)?;
        bytes = bytes.saturating_add(text.len() + budget::size(&Value::Null));
        budget::fits(bytes)?;
        out.push(Value::String(text));
    }
    Ok(Value::Array(out))
}

fn resolve(base_dir: Option<&Path>, name: &str) -> PathBuf {
    let path = PathBuf::from(pathexpand(name));
    match base_dir {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path,
    }
}

/// Job files come from pull requests, so `file()` reads only below the job file's folder or
/// the working directory (the repository): `file("/proc/self/environ")` must not put the
/// runner's secrets into a job. Symlinks are resolved before the check.
fn confined(path: &Path, base_dir: Option<&Path>) -> Result<PathBuf, String> {
    let real = path.canonicalize().map_err(|e| e.to_string())?;
    let roots = [base_dir.map(Path::to_path_buf), std::env::current_dir().ok()];
    let inside = roots
        .iter()
        .flatten()
        .filter_map(|root| root.canonicalize().ok())
        .any(|root| real.starts_with(root));
    if inside {
        Ok(real)
    } else {
        Err("job files may read only files below their own folder or the working directory"
            .to_owned())
    }
}

fn pathexpand(name: &str) -> String {
    match (name.strip_prefix('~'), std::env::var("HOME")) {
        (Some(rest), Ok(home)) if rest.is_empty() || rest.starts_with('/') => {
            format!("{home}{rest}")
        }
        _ => name.to_owned(),
    }
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(BASE64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
        let v = BASE64.iter().position(|&b| b == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn uuid_text(bytes: &[u8; 16]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// A random UUID. Nomad offers `uuidv4()`; its value changes on every parse, as in Nomad.
fn uuid_v4() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut bytes = [0u8; 16];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_usize(i);
        if let Ok(now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            hasher.write_u128(now.as_nanos());
        }
        chunk.copy_from_slice(&hasher.finish().to_le_bytes());
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    uuid_text(&bytes)
}

/// A name-based UUID (RFC 4122 version 5) in one of the well-known namespaces or a UUID.
fn uuid_v5(namespace: &str, name: &str) -> Result<String, String> {
    let ns = match namespace {
        "dns" => "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
        "url" => "6ba7b811-9dad-11d1-80b4-00c04fd430c8",
        "oid" => "6ba7b812-9dad-11d1-80b4-00c04fd430c8",
        "x500" => "6ba7b814-9dad-11d1-80b4-00c04fd430c8",
        other => other,
    };
    let hex: String = ns.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 {
        return Err(format!("{namespace:?} is not a UUID nor dns, url, oid or x500"));
    }
    let mut input = Vec::with_capacity(16 + name.len());
    for i in 0..16 {
        let byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
            .map_err(|_| format!("{namespace:?} is not a UUID"))?;
        input.push(byte);
    }
    input.extend_from_slice(name.as_bytes());
    let digest = sha1(&input);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x50;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Ok(uuid_text(&bytes))
}

/// SHA-1, needed only by `uuidv5` (RFC 4122 defines version 5 with it).
fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in message.chunks(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t =
                a.rotate_left(5).wrapping_add(f).wrapping_add(e).wrapping_add(k).wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (hv, v) in h.iter_mut().zip([a, b, c, d, e]) {
            *hv = hv.wrapping_add(v);
        }
    }
    let mut out = [0u8; 20];
    for (i, v) in h.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&v.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn functions_answer_as_terraform_does() {
        let cases: Vec<(&str, Vec<Value>, Value)> = vec![
            ("upper", vec![json!("web")], json!("WEB")),
            ("join", vec![json!(","), json!(["a", "b"])], json!("a,b")),
            ("split", vec![json!(","), json!("a,b")], json!(["a", "b"])),
            ("format", vec![json!("%s-%03d"), json!("web"), json!(7)], json!("web-007")),
            ("format", vec![json!("%5s|%-3d|"), json!("ab"), json!(-7)], json!("   ab|-7 |")),
            ("replace", vec![json!("a-b-c"), json!("-"), json!("_")], json!("a_b_c")),
            ("replace", vec![json!("a1b22"), json!("/[0-9]+/"), json!("#")], json!("a#b#")),
            ("merge", vec![json!({"a": 1}), json!({"b": 2})], json!({"a": 1, "b": 2})),
            ("lookup", vec![json!({"a": 1}), json!("b"), json!(3)], json!(3)),
            ("coalesce", vec![json!(""), json!("x")], json!("x")),
            ("base64encode", vec![json!("user:pass")], json!("dXNlcjpwYXNz")),
            ("base64decode", vec![json!("dXNlcjpwYXNz")], json!("user:pass")),
            ("jsonencode", vec![json!({"a": [1, "b"]})], json!(r#"{"a":[1,"b"]}"#)),
            (
                "uuidv5",
                vec![json!("dns"), json!("kadalu.io")],
                json!("808d0902-f454-5ea3-b749-cfd111cc35ed"),
            ),
            ("length", vec![json!("héllo")], json!(5)),
            ("element", vec![json!(["a", "b"]), json!(3)], json!("b")),
            ("tonumber", vec![json!("42")], json!(42)),
            ("indent", vec![json!(2), json!("a\nb")], json!("a\n  b")),
        ];
        for (name, args, want) in cases {
            assert_eq!(call(name, args, None), Ok(want), "{name}");
        }
    }

    #[test]
    fn files_outside_the_job_folder_and_working_directory_are_refused() {
        let dir = std::env::temp_dir().join(format!("nomad-spec-file-{}", std::process::id()));
        let jobs = dir.join("jobs");
        std::fs::create_dir_all(&jobs).expect("a temporary folder");
        std::fs::write(jobs.join("inside.txt"), "inside").expect("a file");
        std::fs::write(dir.join("outside.txt"), "outside").expect("a file");
        let read = |name: &str| call("file", vec![json!(name)], Some(&jobs));
        assert_eq!(read("inside.txt"), Ok(json!("inside")));
        let refused = read("../outside.txt").unwrap_err();
        assert!(refused.contains("may read only files below their own folder"), "{refused}");
        let refused = read("/etc/hostname").unwrap_err();
        assert!(
            refused.contains("may read only files below") || refused.contains("No such file"),
            "{refused}"
        );
        assert_eq!(
            call("fileexists", vec![json!("../outside.txt")], Some(&jobs)),
            Ok(json!(false))
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn huge_widths_are_refused_not_allocated() {
        let err = call("indent", vec![json!(1e15), json!("a\nb")], None).unwrap_err();
        assert_eq!(err, "a width of 1000000000000000 is more than the 4096 allowed");
        let err = call("format", vec![json!("%99999999d"), json!(1)], None).unwrap_err();
        assert_eq!(err, "a width of 99999999 is more than the 4096 allowed");
    }

    #[test]
    fn unknown_function_lists_the_known_ones() {
        let err = call("bcrypt", vec![], None).unwrap_err();
        assert!(err.starts_with("there is no function named \"bcrypt\""), "{err}");
    }

    #[test]
    fn results_past_the_budget_are_refused_before_they_are_built() {
        // With 1 MiB left of the budget, each call below would build more.
        budget::reset();
        assert_eq!(budget::spend(budget::MAX_BYTES - (1 << 20)), Ok(()));
        let text = "x".repeat(64 << 10);
        let cases = [
            // An empty pattern matches between every two characters: 64 KiB times 64 KiB.
            ("regex_replace", vec![json!(text), json!(""), json!(text)]),
            ("replace", vec![json!(text), json!("/x/"), json!(text)]),
            ("replace", vec![json!(text), json!("x"), json!(text)]),
            ("join", vec![json!(text), json!(vec!["a"; 100])]),
            ("indent", vec![json!(4096), json!("\n".repeat(1000))]),
            ("split", vec![json!(""), json!(text)]),
            ("jsondecode", vec![json!(format!("[{}0]", "0,".repeat(50_000)))]),
            ("formatlist", vec![json!("%4096d"), json!(vec![1; 300])]),
            (
                "format",
                [json!("%4096d".repeat(300))].into_iter().chain(vec![json!(1); 300]).collect(),
            ),
        ];
        for (name, args) in cases {
            let err = call(name, args, None).map(|v| v.to_string().len()).unwrap_err();
            assert!(err.starts_with("the result would be"), "{name}: {err}");
        }
        budget::reset();
    }

    #[test]
    fn distinct_keeps_the_first_of_equal_values_in_order() {
        let list = json!([1, 1.0, "1", 1, {"a": 1, "b": [2]}, {"b": [2], "a": 1}, 0.0, -0.0, null]);
        let want = json!([1, 1.0, "1", {"a": 1, "b": [2]}, 0.0, null]);
        assert_eq!(call("distinct", vec![list], None), Ok(want));
        let many: Vec<Value> = (0..20_000).map(|i| json!(i % 1000)).collect();
        let got = call("setunion", vec![json!(many), json!([5, 1001])], None);
        assert_eq!(got.map(|v| v.as_array().map(Vec::len)), Ok(Some(1001)));
        let trimmed = call("trim", vec![json!("xyhixy"), json!("yx".repeat(100_000))], None);
        assert_eq!(trimmed, Ok(json!("hi")));
    }
}
