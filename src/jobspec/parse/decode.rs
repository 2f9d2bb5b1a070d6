//! Reading HCL bodies against a schema written as code: each `Reader` method takes one
//! argument or block of the body, converts it to the type Nomad's API field has, and puts it
//! under the API's JSON name. What the schema never asked for is reported as unsupported, as
//! Nomad does. Every value and block leaves its source span under its JSON pointer, so
//! validation can point at the line a finding is about.

use std::collections::HashMap;
use std::ops::Range;

use hcl_edit::expr::Expression;
use hcl_edit::structure::{Attribute, Block, Body, Structure};
use hcl_edit::Span;
use serde_json::{Map, Value};

use super::budget;
pub(crate) use super::eval::is_unknown;
use super::eval::{self, span_of, EvalError, Scope, UNKNOWN_MARK};
use super::value::describe;
use crate::jobspec::Severity;

/// One finding while decoding, at a byte span.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    pub span: Range<usize>,
    pub severity: Severity,
    pub message: String,
    /// Set when the problem is in another file (a var file): its name, line and column.
    pub elsewhere: Option<(String, u32, u32)>,
}

/// Decoding state shared by all readers of one file.
pub(crate) struct Decoder<'s> {
    pub scope: Scope<'s>,
    pub problems: Vec<Problem>,
    /// JSON pointer (`/TaskGroups/0/Tasks/1/Driver`) → span of the value or block in the source.
    pub spans: HashMap<String, Range<usize>>,
}

impl<'s> Decoder<'s> {
    pub(crate) fn new(scope: Scope<'s>) -> Self {
        Decoder { scope, problems: Vec::new(), spans: HashMap::new() }
    }

    pub(crate) fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        let message = message.into();
        self.problems.push(Problem { span, severity: Severity::Error, message, elsewhere: None });
    }

    pub(crate) fn eval(&mut self, expr: &Expression) -> Option<Value> {
        match eval::eval(expr, &mut self.scope) {
            Ok(value) => Some(value),
            Err(EvalError { span, message }) => {
                self.error(span, message);
                None
            }
        }
    }
}

/// How a block's labels map into the API object.
#[derive(Clone, Copy)]
pub(crate) enum Labels {
    /// No label allowed.
    None,
    /// One label, stored under this key (`group "web"` → `"Name": "web"`).
    One(&'static str),
}

/// What decoding one block instance costs besides its values (its object, its place in the
/// span table), charged to the file's budget for each `dynamic` expansion.
const INSTANCE_BYTES: usize = 256;

/// One block to decode: written as is, or one expansion of a `dynamic` block.
pub(crate) struct Instance<'b> {
    /// Span of the block's type name, for messages.
    span: Range<usize>,
    labels: Vec<(String, Range<usize>)>,
    body: &'b Body,
    /// The `dynamic` iterator (`name = { key, value }`) its body sees.
    binding: Option<(String, Value)>,
}

impl<'b> Instance<'b> {
    fn plain(block: &'b Block) -> Self {
        let span = block.ident.span().unwrap_or(0..0);
        let labels = block
            .labels
            .iter()
            .map(|l| (l.as_str().to_owned(), l.span().unwrap_or(span.clone())))
            .collect();
        Instance { span, labels, body: &block.body, binding: None }
    }
}

/// Reads one body: arguments and blocks asked for by a schema function.
pub(crate) struct Reader<'b, 'd, 's> {
    pub d: &'d mut Decoder<'s>,
    body: &'b Body,
    /// What the block is, for messages (`task`, `service`, ...).
    kind: &'static str,
    pub path: String,
    pub out: Map<String, Value>,
    used: Vec<bool>,
    known: Vec<&'static str>,
}

/// A schema function: reads a block body into its API object.
pub(crate) type Schema = fn(&mut Reader<'_, '_, '_>);

impl<'b, 'd, 's> Reader<'b, 'd, 's> {
    pub(crate) fn new(
        d: &'d mut Decoder<'s>,
        body: &'b Body,
        kind: &'static str,
        path: String,
    ) -> Self {
        let used = vec![false; body.len()];
        let mut seen: HashMap<&str, Range<usize>> = HashMap::new();
        for attr in body.attributes() {
            let span = attr.key.span().unwrap_or(0..0);
            if seen.insert(attr.key.as_str(), span.clone()).is_some() {
                d.error(
                    span,
                    format!(
                        "the argument {:?} is set twice in this {kind} block",
                        attr.key.as_str()
                    ),
                );
            }
        }
        Reader { d, body, kind, path, out: Map::new(), used, known: Vec::new() }
    }

    fn attribute(&mut self, name: &'static str) -> Option<&'b Attribute> {
        self.known.push(name);
        let (i, attr) = self.body.iter().enumerate().find_map(|(i, s)| match s {
            Structure::Attribute(a) if a.key.as_str() == name => Some((i, a)),
            _ => None,
        })?;
        self.used[i] = true;
        Some(attr)
    }

    fn take_blocks(&mut self, name: &'static str) -> Vec<Instance<'b>> {
        self.known.push(name);
        let mut found = Vec::new();
        for (i, s) in self.body.iter().enumerate() {
            let Structure::Block(b) = s else { continue };
            if b.ident.as_str() == name {
                self.used[i] = true;
                found.push(Instance::plain(b));
            } else if b.ident.as_str() == "dynamic"
                && b.labels.first().is_some_and(|l| l.as_str() == name)
            {
                self.used[i] = true;
                found.extend(self.expand_dynamic(b, name));
            }
        }
        found
    }

    /// `dynamic "port" { for_each = ..., iterator = p, labels = [...], content { ... } }`:
    /// one block per element, its body seeing the iterator as `{ key, value }`.
    fn expand_dynamic(&mut self, block: &'b Block, name: &str) -> Vec<Instance<'b>> {
        let span = block.ident.span().unwrap_or(0..0);
        for s in block.body.iter() {
            let (known, item, item_span) = match s {
                Structure::Attribute(a) => (
                    matches!(a.key.as_str(), "for_each" | "iterator" | "labels"),
                    a.key.as_str(),
                    a.key.span(),
                ),
                Structure::Block(b) => {
                    (b.ident.as_str() == "content", b.ident.as_str(), b.ident.span())
                }
            };
            if !known {
                self.d.error(
                    item_span.unwrap_or(span.clone()),
                    format!(
                        "unsupported {item:?} in a dynamic block; it takes for_each, iterator, \
                         labels and content"
                    ),
                );
            }
        }
        let contents: Vec<&Block> =
            block.body.blocks().filter(|b| b.ident.as_str() == "content").collect();
        let Some(content) = contents.first() else {
            self.d.error(span, "a dynamic block needs a `content { ... }` block");
            return Vec::new();
        };
        let Some(for_each) = block.body.get_attribute("for_each") else {
            self.d.error(span, "a dynamic block needs `for_each`: the list or map to repeat over");
            return Vec::new();
        };
        let iterator = match block.body.get_attribute("iterator").map(|a| &a.value) {
            None => name.to_owned(),
            Some(Expression::Variable(ident)) => ident.as_str().to_owned(),
            Some(other) => {
                self.d.error(
                    span_of(other),
                    "`iterator` takes a bare name, such as `iterator = item`",
                );
                return Vec::new();
            }
        };
        let Some(collection) = self.d.eval(&for_each.value) else { return Vec::new() };
        let items: Vec<(Value, Value)> = match collection {
            Value::Array(items) => {
                items.into_iter().enumerate().map(|(i, v)| (Value::from(i as u64), v)).collect()
            }
            Value::Object(map) => map.into_iter().map(|(k, v)| (Value::String(k), v)).collect(),
            Value::Null => Vec::new(),
            other => {
                self.d.error(
                    span_of(&for_each.value),
                    format!("for_each needs a list or a map, found {}", describe(&other)),
                );
                return Vec::new();
            }
        };
        let labels_attr = block.body.get_attribute("labels");
        let mut out = Vec::with_capacity(items.len());
        for (key, value) in items {
            let mut object = Map::new();
            object.insert("key".into(), key);
            object.insert("value".into(), value);
            let binding = Value::Object(object);
            // Each instance is a block to decode: nested `dynamic` blocks multiply them.
            let cost = budget::steps(1).and_then(|()| budget::spend(INSTANCE_BYTES));
            if let Err(over) = cost.and_then(|()| budget::spend_value(&binding)) {
                self.d.error(span.clone(), over.to_string());
                break;
            }
            let mut labels = Vec::new();
            if let Some(attr) = labels_attr {
                let label_span = span_of(&attr.value);
                self.d.scope.push_binding(&iterator, binding.clone());
                let evaluated = self.d.eval(&attr.value);
                self.d.scope.pop_binding();
                match evaluated {
                    Some(Value::Array(items)) => {
                        for item in items {
                            match scalar_string(&item) {
                                Some(label) => labels.push((label, label_span.clone())),
                                None => self.unsuitable(
                                    "labels",
                                    label_span.clone(),
                                    "a list of strings",
                                    &item,
                                ),
                            }
                        }
                    }
                    Some(other) => {
                        self.unsuitable("labels", label_span, "a list of strings", &other)
                    }
                    None => continue,
                }
            }
            out.push(Instance {
                span: span.clone(),
                labels,
                body: &content.body,
                binding: Some((iterator.clone(), binding)),
            });
        }
        out
    }

    /// Runs `f` with an instance's `dynamic` iterator in scope.
    fn within<T>(&mut self, instance: &Instance<'b>, f: impl FnOnce(&mut Self) -> T) -> T {
        if let Some((name, value)) = &instance.binding {
            self.d.scope.push_binding(name, value.clone());
        }
        let out = f(self);
        if instance.binding.is_some() {
            self.d.scope.pop_binding();
        }
        out
    }

    fn child_path(&self, key: &str) -> String {
        format!("{}/{}", self.path, key)
    }

    /// Records where `key` came from.
    pub(crate) fn mark(&mut self, key: &str, span: Range<usize>) {
        let path = self.child_path(key);
        self.d.spans.insert(path, span);
    }

    /// Evaluates argument `name`; `None` when absent or failed. A failure is reported, and
    /// `key` is set to an unknown value so that no rule reports the argument as missing.
    pub(crate) fn value(&mut self, name: &'static str, key: &str) -> Option<(Value, Range<usize>)> {
        let attr = self.attribute(name)?;
        let span = span_of(&attr.value);
        match self.d.eval(&attr.value) {
            Some(value) if !is_unknown(&value) => Some((value, span)),
            // Unknown stays unknown: present for the rules, but neither converted nor judged.
            Some(value) => {
                self.mark(key, span);
                self.out.insert(key.to_owned(), value);
                None
            }
            None => {
                self.out.insert(key.to_owned(), Value::String(UNKNOWN_MARK.to_string()));
                None
            }
        }
    }

    fn put(&mut self, key: &str, value: Value, span: Range<usize>) {
        self.mark(key, span);
        self.out.insert(key.to_owned(), value);
    }

    fn unsuitable(&mut self, name: &str, span: Range<usize>, need: &str, value: &Value) {
        let found = match value {
            Value::String(s) => format!("the string {s:?}"),
            other => describe(other).to_owned(),
        };
        self.d
            .error(span, format!("invalid value for {name:?}: {need} is required, found {found}"));
    }

    /// A string argument (numbers and bools convert, as in Nomad).
    pub(crate) fn string(&mut self, name: &'static str, key: &str) {
        let Some((value, span)) = self.value(name, key) else { return };
        match value {
            Value::String(_) => self.put(key, value, span),
            Value::Number(n) => self.put(key, Value::String(n.to_string()), span),
            Value::Bool(b) => self.put(key, Value::String(b.to_string()), span),
            Value::Null => {}
            other => self.unsuitable(name, span, "a string", &other),
        }
    }

    /// A whole-number argument.
    pub(crate) fn int(&mut self, name: &'static str, key: &str) {
        let Some((value, span)) = self.value(name, key) else { return };
        if is_unknown(&value) || value.is_null() {
            return;
        }
        match eval::to_number(&value, span.clone()) {
            Ok(f) if f.fract() == 0.0 => self.put(key, Value::from(f as i64), span),
            _ => self.unsuitable(name, span, "a whole number", &value),
        }
    }

    /// A bool argument.
    pub(crate) fn bool(&mut self, name: &'static str, key: &str) {
        let Some((value, span)) = self.value(name, key) else { return };
        if is_unknown(&value) || value.is_null() {
            return;
        }
        match eval::to_bool(&value, span.clone()) {
            Ok(b) => self.put(key, Value::Bool(b), span),
            Err(_) => self.unsuitable(name, span, "a bool", &value),
        }
    }

    /// A duration argument: a Go duration string (`"1h30m"`) or nanoseconds.
    pub(crate) fn duration(&mut self, name: &'static str, key: &str) {
        let Some((value, span)) = self.value(name, key) else { return };
        if is_unknown(&value) || value.is_null() {
            return;
        }
        match &value {
            Value::String(s) => match parse_duration(s) {
                Ok(nanos) => self.put(key, Value::from(nanos), span),
                Err(why) => self.d.error(
                    span,
                    format!(
                        "invalid duration {s:?} for {name:?}: {why}; write a number with a unit, \
                         such as \"30s\", \"5m\" or \"1h30m\""
                    ),
                ),
            },
            Value::Number(n) if n.is_i64() => self.put(key, value.clone(), span),
            other => self.unsuitable(name, span, "a duration string", &other.clone()),
        }
    }

    /// A list of strings.
    pub(crate) fn strings(&mut self, name: &'static str, key: &str) {
        let Some((value, span)) = self.value(name, key) else { return };
        let items = match value {
            Value::Array(items) => items,
            Value::Null => return,
            other => return self.unsuitable(name, span, "a list of strings", &other),
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Value::String(s) => out.push(Value::String(s)),
                Value::Number(n) => out.push(Value::String(n.to_string())),
                Value::Bool(b) => out.push(Value::String(b.to_string())),
                other => return self.unsuitable(name, span, "a list of strings", &other),
            }
        }
        self.record_elements(key, name);
        self.put(key, Value::Array(out), span);
    }

    /// A list of whole numbers.
    pub(crate) fn ints(&mut self, name: &'static str, key: &str) {
        let Some((value, span)) = self.value(name, key) else { return };
        let Value::Array(items) = value else {
            return self.unsuitable(name, span, "a list of numbers", &value);
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match eval::to_number(&item, span.clone()) {
                Ok(f) if f.fract() == 0.0 => out.push(Value::from(f as i64)),
                _ => return self.unsuitable(name, span, "a list of whole numbers", &item),
            }
        }
        self.put(key, Value::Array(out), span);
    }

    /// Records the spans of a literal list's elements under `key/i`.
    fn record_elements(&mut self, key: &str, name: &str) {
        let Some(attr) = self.body.attributes().find(|a| a.key.as_str() == name) else { return };
        if let Expression::Array(array) = &attr.value {
            for (i, item) in array.iter().enumerate() {
                let path = format!("{}/{key}/{i}", self.path);
                self.d.spans.insert(path, span_of(item));
            }
        }
    }

    /// A map of strings written as a block (`meta { k = "v" }`) or, when `attr_ok`, as an
    /// argument (`meta = { "k.x" = "v" }`), as Nomad accepts for `meta` and `env`.
    pub(crate) fn string_map(&mut self, name: &'static str, key: &str, attr_ok: bool) {
        let blocks = self.take_blocks(name);
        let attr = self.attribute(name);
        if let Some(attr) = attr {
            let span = span_of(&attr.value);
            if !attr_ok {
                self.d.error(
                    attr.key.span().unwrap_or(span),
                    format!("{name:?} is a block here: write `{name} {{ ... }}` without `=`"),
                );
                return;
            }
            if let Some(first) = blocks.first() {
                self.d.error(
                    first.span.clone(),
                    format!("{name} is defined twice, as an argument and as a block"),
                );
                return;
            }
            let Some(value) = self.d.eval(&attr.value) else { return };
            if is_unknown(&value) {
                return;
            }
            match value {
                Value::Object(map) => {
                    let mut out = Map::new();
                    for (k, v) in map {
                        match scalar_string(&v) {
                            Some(s) => {
                                out.insert(k, Value::String(s));
                            }
                            None => return self.unsuitable(name, span, "a map of strings", &v),
                        }
                    }
                    self.put(key, Value::Object(sorted(out)), span);
                }
                Value::Null => {}
                other => self.unsuitable(name, span, "a map of strings", &other),
            }
            return;
        }
        let Some(block) = self.single(name, blocks) else { return };
        let path = self.child_path(key);
        let out = self.within(&block, |r| {
            let mut out = Map::new();
            for s in block.body.iter() {
                match s {
                    Structure::Attribute(a) => {
                        let span = span_of(&a.value);
                        let Some(v) = r.d.eval(&a.value) else { continue };
                        match scalar_string(&v) {
                            Some(text) => {
                                r.d.spans.insert(format!("{path}/{}", a.key.as_str()), span);
                                out.insert(a.key.as_str().to_owned(), Value::String(text));
                            }
                            None => r.unsuitable(a.key.as_str(), span, "a string", &v),
                        }
                    }
                    Structure::Block(b) => r.d.error(
                        b.ident.span().unwrap_or(0..0),
                        format!("a {name} block holds only `key = value` pairs, not blocks"),
                    ),
                }
            }
            out
        });
        self.put(key, Value::Object(sorted(out)), block.span.clone());
    }

    /// A map of string lists written as a block (`header { Authorization = ["x"] }`).
    pub(crate) fn string_lists_map(&mut self, name: &'static str, key: &str) {
        let blocks = self.take_blocks(name);
        let Some(block) = self.single(name, blocks) else { return };
        let out = self.within(&block, |r| {
            let mut out = Map::new();
            for a in block.body.attributes() {
                let span = span_of(&a.value);
                let Some(v) = r.d.eval(&a.value) else { continue };
                let list = match v {
                    Value::Array(items) => {
                        items.iter().filter_map(scalar_string).map(Value::String).collect()
                    }
                    other => match scalar_string(&other) {
                        Some(s) => vec![Value::String(s)],
                        None => {
                            r.unsuitable(a.key.as_str(), span, "a list of strings", &other);
                            continue;
                        }
                    },
                };
                out.insert(a.key.as_str().to_owned(), Value::Array(list));
            }
            out
        });
        self.put(key, Value::Object(sorted(out)), block.span.clone());
    }

    /// A free-form block (`config { ... }`): arguments as they evaluate, nested blocks as lists
    /// of objects, and object literals wrapped in a list, as Nomad's `BlocksAsAttrs` does.
    pub(crate) fn free_block(&mut self, name: &'static str, key: &str) {
        let blocks = self.take_blocks(name);
        if let Some(attr) = self.attribute(name) {
            self.d.error(
                attr.key.span().unwrap_or(0..0),
                format!("{name:?} is a block here: write `{name} {{ ... }}` without `=`"),
            );
        }
        let Some(block) = self.single(name, blocks) else { return };
        let path = self.child_path(key);
        let value = self.within(&block, |r| free_body(r.d, block.body, &path, 0));
        self.put(key, Value::Object(value), block.span.clone());
    }

    /// A single nested block (`update { ... }`); a second one is an error.
    pub(crate) fn block(&mut self, name: &'static str, key: &str, schema: Schema) {
        let blocks = self.take_blocks(name);
        self.attribute_as_block(name);
        let Some(block) = self.single(name, blocks) else { return };
        if let Some(value) = self.read_block(&block, name, key, Labels::None, schema) {
            self.out.insert(key.to_owned(), value);
        }
    }

    /// Repeated nested blocks (`constraint { ... }`, `group "web" { ... }`) into a list.
    pub(crate) fn blocks(&mut self, name: &'static str, key: &str, labels: Labels, schema: Schema) {
        let blocks = self.take_blocks(name);
        self.attribute_as_block(name);
        if blocks.is_empty() {
            return;
        }
        let mut list = match self.out.remove(key) {
            Some(Value::Array(list)) => list,
            _ => Vec::new(),
        };
        for block in blocks {
            let index_key = format!("{key}/{}", list.len());
            if let Some(value) = self.read_block(&block, name, &index_key, labels, schema) {
                list.push(value);
            }
        }
        self.out.insert(key.to_owned(), Value::Array(list));
    }

    /// Labeled blocks into a map keyed by label (`volume "data" { ... }` → `Volumes.data`).
    pub(crate) fn labeled_map(
        &mut self,
        name: &'static str,
        key: &str,
        label_key: &'static str,
        schema: Schema,
    ) {
        let blocks = self.take_blocks(name);
        self.attribute_as_block(name);
        if blocks.is_empty() {
            return;
        }
        let mut map = Map::new();
        for block in blocks {
            let Some(label) = block.labels.first().map(|(l, _)| l.clone()) else {
                self.read_block(&block, name, key, Labels::One(label_key), schema);
                continue;
            };
            let entry_key = format!("{key}/{label}");
            if map.contains_key(&label) {
                self.d.error(
                    block.span.clone(),
                    format!("there are two {name} blocks named {label:?}; names must be unique"),
                );
                continue;
            }
            if let Some(value) =
                self.read_block(&block, name, &entry_key, Labels::One(label_key), schema)
            {
                map.insert(label, value);
            }
        }
        self.out.insert(key.to_owned(), Value::Object(map));
    }

    /// Reads one block with its labels; `key` is relative to this reader's path.
    fn read_block(
        &mut self,
        block: &Instance<'b>,
        name: &'static str,
        key: &str,
        labels: Labels,
        schema: Schema,
    ) -> Option<Value> {
        let span = block.span.clone();
        let path = self.child_path(key);
        self.d.spans.insert(path.clone(), span.clone());
        let wanted = match labels {
            Labels::None => 0,
            Labels::One(_) => 1,
        };
        if block.labels.len() != wanted {
            let message = match labels {
                Labels::None => format!("a {name} block takes no label: write `{name} {{ ... }}`"),
                Labels::One(_) if block.labels.is_empty() => {
                    format!("a {name} block needs a name: write `{name} \"name\" {{ ... }}`")
                }
                Labels::One(_) => format!("a {name} block takes one label, its name"),
            };
            self.d.error(span, message);
            return None;
        }
        let body = block.body;
        let value = self.within(block, |r| {
            let mut reader = Reader::new(&mut *r.d, body, name, path.clone());
            if let (Labels::One(label_key), Some((label, label_span))) =
                (labels, block.labels.first())
            {
                reader.out.insert(label_key.to_owned(), Value::String(label.clone()));
                reader.d.spans.insert(format!("{path}/{label_key}"), label_span.clone());
            }
            schema(&mut reader);
            reader.finish()
        });
        Some(Value::Object(value))
    }

    fn single(&mut self, name: &str, blocks: Vec<Instance<'b>>) -> Option<Instance<'b>> {
        for extra in blocks.iter().skip(1) {
            self.d.error(
                extra.span.clone(),
                format!("only one {name} block is allowed in a {} block", self.kind),
            );
        }
        blocks.into_iter().next()
    }

    /// `network = { ... }` where a block is expected is HCL1 style: say so.
    fn attribute_as_block(&mut self, name: &'static str) {
        if let Some(attr) = self.attribute(name) {
            self.d.error(
                attr.key.span().unwrap_or(0..0),
                format!(
                    "{name:?} is a block, not an argument: write `{name} {{ ... }}` without `=` \
                     (`{name} = {{ ... }}` is HCL1 syntax; Nomad removed HCL1 support in 1.9)"
                ),
            );
        }
    }

    /// Ends the body: everything not asked for is unsupported, as Nomad reports it.
    pub(crate) fn finish(self) -> Map<String, Value> {
        for (i, s) in self.body.iter().enumerate() {
            if self.used[i] {
                continue;
            }
            let (what, name, span) = match s {
                Structure::Attribute(a) => ("argument", a.key.as_str(), a.key.span()),
                Structure::Block(b) if b.ident.as_str() == "dynamic" => (
                    "dynamic block type",
                    b.labels.first().map_or("", |l| l.as_str()),
                    b.ident.span(),
                ),
                Structure::Block(b) => ("block type", b.ident.as_str(), b.ident.span()),
            };
            let mut message = format!("unsupported {what} {name:?} in a {} block", self.kind);
            if let Some(close) = closest(name, &self.known) {
                message.push_str(&format!("; did you mean {close:?}?"));
            }
            self.d.error(span.unwrap_or(0..0), message);
        }
        self.out
    }
}

fn scalar_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn sorted(map: Map<String, Value>) -> Map<String, Value> {
    let mut entries: Vec<(String, Value)> = map.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.into_iter().collect()
}

/// Deepest nesting of blocks inside a free-form block; beyond it input is rejected.
const MAX_FREE_DEPTH: usize = 32;

fn free_body(d: &mut Decoder<'_>, body: &Body, path: &str, depth: usize) -> Map<String, Value> {
    let mut out = Map::new();
    for attr in body.attributes() {
        let name = attr.key.as_str();
        let Some(value) = d.eval(&attr.value) else { continue };
        let value = match (&attr.value, value) {
            (Expression::Object(_), object) => Value::Array(vec![object]),
            (_, value) => value,
        };
        d.spans.insert(format!("{path}/{name}"), span_of(&attr.value));
        if let Expression::Array(array) = &attr.value {
            for (i, item) in array.iter().enumerate() {
                d.spans.insert(format!("{path}/{name}/{i}"), span_of(item));
            }
        }
        out.insert(name.to_owned(), value);
    }
    let mut order: Vec<&str> = Vec::new();
    for block in body.blocks() {
        if !order.contains(&block.ident.as_str()) {
            order.push(block.ident.as_str());
        }
    }
    for name in order {
        let mut list = Vec::new();
        for block in body.blocks().filter(|b| b.ident.as_str() == name) {
            let item_path = format!("{path}/{name}/{}", list.len());
            let block_span = block.ident.span().unwrap_or(0..0);
            d.spans.entry(format!("{path}/{name}")).or_insert(block_span.clone());
            d.spans.insert(item_path.clone(), block_span);
            if depth >= MAX_FREE_DEPTH {
                d.error(block.ident.span().unwrap_or(0..0), "blocks are nested too deeply");
                continue;
            }
            let mut value = Value::Object(free_body(d, &block.body, &item_path, depth + 1));
            for label in block.labels.iter().rev() {
                let mut wrapper = Map::new();
                wrapper.insert(label.as_str().to_owned(), Value::Array(vec![value]));
                value = Value::Object(wrapper);
            }
            list.push(value);
        }
        if out.contains_key(name) {
            if let Some(first) = body.blocks().find(|b| b.ident.as_str() == name) {
                d.error(
                    first.ident.span().unwrap_or(0..0),
                    format!("{name:?} is defined both as an argument and as a block"),
                );
            }
            continue;
        }
        out.insert(name.to_owned(), Value::Array(list));
    }
    sorted(out)
}

/// The known name closest to a misspelt one, when it is close enough to be a typo.
pub(crate) fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4) && *d > 0)
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Parses a Go duration (`"1h30m"`, `"250ms"`, `"1.5s"`, `"0"`) into nanoseconds.
pub(crate) fn parse_duration(text: &str) -> Result<i64, String> {
    let s = text.trim();
    let (negative, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err("the duration is empty".to_owned());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("expected a number at {rest:?}"));
        }
        let number: f64 =
            rest[..digits].parse().map_err(|_| format!("bad number {:?}", &rest[..digits]))?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err("a unit is missing (ns, us, ms, s, m or h)".to_owned()),
            other => return Err(format!("unknown unit {other:?} (use ns, us, ms, s, m or h)")),
        };
        total += number * scale;
    }
    if total > i64::MAX as f64 {
        return Err("the duration is too long".to_owned());
    }
    let nanos = total.round() as i64;
    Ok(if negative { -nanos } else { nanos })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_as_go_does() {
        let cases = [
            ("30s", Ok(30_000_000_000)),
            ("1h30m", Ok(5_400_000_000_000)),
            ("250ms", Ok(250_000_000)),
            ("1.5s", Ok(1_500_000_000)),
            ("0", Ok(0)),
            ("10", Err("a unit is missing (ns, us, ms, s, m or h)".to_owned())),
            ("5x", Err("unknown unit \"x\" (use ns, us, ms, s, m or h)".to_owned())),
            ("", Err("the duration is empty".to_owned())),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text), want, "{text}");
        }
    }

    #[test]
    fn typos_get_a_suggestion() {
        assert_eq!(closest("drivr", &["driver", "config"]), Some("driver"));
        assert_eq!(closest("zzz", &["driver", "config"]), None);
    }
}
