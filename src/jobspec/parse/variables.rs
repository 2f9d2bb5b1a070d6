//! Input variables and locals: `variable "x" { type, default, validation }` and `variables {}`
//! declarations, values from `-var NAME=VALUE` and `-var-file` (HCL or JSON), type
//! conversion, required variables, and `locals {}` evaluated in dependency order.

use std::ops::Range;
use std::path::Path;

use hcl_edit::expr::Expression;
use hcl_edit::structure::{Block, Body};
use hcl_edit::Span;
use serde_json::{Map, Value};

use super::decode::{Decoder, Problem};
use super::eval::{self, span_of, Scope, UNKNOWN_MARK};
use super::value::{describe, float_or_int};
use crate::jobspec::Severity;

/// A variable's declared type (`string`, `list(number)`, `object({...})`, ...).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Type {
    Any,
    String,
    Number,
    Bool,
    List(Box<Type>),
    Map(Box<Type>),
    Object(Vec<(String, Type)>),
    Tuple(Vec<Type>),
}

/// One declared variable.
pub(crate) struct Declaration<'b> {
    pub name: String,
    pub span: Range<usize>,
    pub ty: Type,
    pub default: Option<&'b Expression>,
    pub validations: Vec<&'b Block>,
}

/// Where variable values come from, in increasing priority.
pub(crate) struct Inputs<'a> {
    /// (file name, its text) of each `-var-file`.
    pub files: &'a [(String, String)],
    /// `-var NAME=VALUE`.
    pub vars: &'a [(String, String)],
    /// Validation without values: a variable with no value becomes unknown, not an error.
    pub lenient: bool,
}

/// Reads `variable` and `variables` blocks of the file's top level.
pub(crate) fn declarations<'b>(
    body: &'b Body,
    problems: &mut Vec<Problem>,
    source: &str,
) -> Vec<Declaration<'b>> {
    let mut out: Vec<Declaration<'b>> = Vec::new();
    for block in body.blocks() {
        match block.ident.as_str() {
            "variable" => {
                let span = block.ident.span().unwrap_or(0..0);
                let Some(name) = block.labels.first().map(|l| l.as_str().to_owned()) else {
                    problems.push(error(
                        span,
                        "a variable block needs a name: `variable \"name\" { ... }`",
                    ));
                    continue;
                };
                let mut decl = Declaration {
                    name,
                    span: span.clone(),
                    ty: Type::Any,
                    default: None,
                    validations: Vec::new(),
                };
                for s in block.body.iter() {
                    match s {
                        hcl_edit::structure::Structure::Attribute(a) => match a.key.as_str() {
                            "type" => match parse_type(&a.value, source) {
                                Ok(ty) => decl.ty = ty,
                                Err(message) => problems.push(error(span_of(&a.value), message)),
                            },
                            "default" => decl.default = Some(&a.value),
                            "description" | "sensitive" | "nullable" => {}
                            other => problems.push(error(
                                a.key.span().unwrap_or(0..0),
                                format!("unsupported argument {other:?} in a variable block"),
                            )),
                        },
                        hcl_edit::structure::Structure::Block(b)
                            if b.ident.as_str() == "validation" =>
                        {
                            decl.validations.push(b)
                        }
                        hcl_edit::structure::Structure::Block(b) => problems.push(error(
                            b.ident.span().unwrap_or(0..0),
                            format!(
                                "unsupported block type {:?} in a variable block",
                                b.ident.as_str()
                            ),
                        )),
                    }
                }
                if out.iter().any(|d| d.name == decl.name) {
                    problems.push(error(
                        span,
                        format!("the variable {:?} is declared twice", decl.name),
                    ));
                    continue;
                }
                out.push(decl);
            }
            "variables" => {
                for a in block.body.attributes() {
                    out.push(Declaration {
                        name: a.key.as_str().to_owned(),
                        span: a.key.span().unwrap_or(0..0),
                        ty: Type::Any,
                        default: Some(&a.value),
                        validations: Vec::new(),
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// The stand-in for a value that is missing or failed, so its uses are not reported again.
fn unknown(name: &str) -> Value {
    Value::String(format!("{UNKNOWN_MARK}{name}{UNKNOWN_MARK}"))
}

fn error(span: Range<usize>, message: impl Into<String>) -> Problem {
    Problem { span, severity: Severity::Error, message: message.into(), elsewhere: None }
}

fn warning(span: Range<usize>, message: impl Into<String>) -> Problem {
    Problem { span, severity: Severity::Warning, message: message.into(), elsewhere: None }
}

/// An error in a var file, at a line and column of that file.
fn error_in(file: &str, (line, column): (u32, u32), message: impl Into<String>) -> Problem {
    Problem {
        span: 0..0,
        severity: Severity::Error,
        message: message.into(),
        elsewhere: Some((file.to_owned(), line, column)),
    }
}

/// Resolves every declared variable to a value, reporting what is missing or mistyped.
pub(crate) fn values(
    decls: &[Declaration<'_>],
    inputs: &Inputs<'_>,
    source: &str,
    base_dir: Option<&Path>,
    problems: &mut Vec<Problem>,
) -> Map<String, Value> {
    let empty = Map::new();
    let mut assigned: Map<String, Value> = Map::new();
    for decl in decls {
        if let Some(default) = decl.default {
            let mut scope = Scope::new(source, &empty, &empty, base_dir);
            match eval::eval(default, &mut scope) {
                Ok(value) => {
                    assigned.insert(decl.name.clone(), value);
                }
                Err(e) => {
                    problems.push(error(
                        e.span,
                        format!("in the default of variable {:?}: {}", decl.name, e.message),
                    ));
                    assigned.insert(decl.name.clone(), unknown(&decl.name));
                }
            }
        }
    }
    for (file, text) in inputs.files {
        for (name, value, at) in var_file(file, text, problems) {
            if decls.iter().any(|d| d.name == name) {
                assigned.insert(name, value);
            } else {
                let message = format!("sets {name:?}, which the job file does not declare");
                problems.push(error_in(file, at, message));
            }
        }
    }
    for (name, text) in inputs.vars {
        match decls.iter().find(|d| &d.name == name) {
            Some(decl) => {
                assigned.insert(name.clone(), cli_value(text, &decl.ty));
            }
            None => problems.push(error(
                0..0,
                format!("-var {name}=...: the job file declares no variable {name:?}"),
            )),
        }
    }
    let mut out = Map::new();
    for decl in decls {
        match assigned.remove(&decl.name) {
            Some(value) if eval::is_unknown(&value) => {
                out.insert(decl.name.clone(), value);
            }
            Some(value) => match convert(value, &decl.ty) {
                Ok(value) => {
                    out.insert(decl.name.clone(), value);
                }
                Err(why) => {
                    problems.push(error(
                        decl.span.clone(),
                        format!("invalid value for variable {:?}: {why}", decl.name),
                    ));
                    out.insert(decl.name.clone(), unknown(&decl.name));
                }
            },
            None if inputs.lenient => {
                problems.push(warning(
                    decl.span.clone(),
                    format!(
                        "variable {:?} has no default; checks of values that use it are skipped",
                        decl.name
                    ),
                ));
                out.insert(decl.name.clone(), unknown(&decl.name));
            }
            None => {
                problems.push(error(
                    decl.span.clone(),
                    format!(
                        "variable {:?} is required but has no value: give it a default, or \
                         set it with -var {}=VALUE or a -var-file",
                        decl.name, decl.name
                    ),
                ));
                // Its uses are not reported again.
                out.insert(decl.name.clone(), unknown(&decl.name));
            }
        }
    }
    for decl in decls {
        let Some(value) = out.get(&decl.name) else { continue };
        if eval::is_unknown(value) {
            continue;
        }
        for rule in &decl.validations {
            check_validation(rule, &out, source, base_dir, problems);
        }
    }
    out
}

fn check_validation(
    rule: &Block,
    vars: &Map<String, Value>,
    source: &str,
    base_dir: Option<&Path>,
    problems: &mut Vec<Problem>,
) {
    let empty = Map::new();
    let Some(condition) = rule.body.get_attribute("condition") else { return };
    let mut scope = Scope::new(source, vars, &empty, base_dir);
    let passed = eval::eval(&condition.value, &mut scope)
        .and_then(|v| eval::to_bool(&v, span_of(&condition.value)));
    match passed {
        Ok(true) => {}
        Ok(false) => {
            let message = rule
                .body
                .get_attribute("error_message")
                .and_then(|a| eval::eval(&a.value, &mut scope).ok())
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| "the variable's validation condition is false".to_owned());
            problems.push(error(span_of(&condition.value), message));
        }
        Err(e) => problems.push(error(e.span, e.message)),
    }
}

/// A `-var` value: text for strings and primitives, an HCL expression for collections.
fn cli_value(text: &str, ty: &Type) -> Value {
    match ty {
        Type::List(_) | Type::Map(_) | Type::Object(_) | Type::Tuple(_) => {
            let empty = Map::new();
            hcl_edit::parser::parse_expr(text)
                .ok()
                .and_then(|expr| {
                    eval::eval(&expr, &mut Scope::new(text, &empty, &empty, None)).ok()
                })
                .unwrap_or_else(|| Value::String(text.to_owned()))
        }
        _ => Value::String(text.to_owned()),
    }
}

/// Reads a var file: JSON when it says so by name, else HCL `name = value` lines.
/// Reads a var file: JSON when it says so by name, else HCL `name = value` lines. Each
/// value comes with the position of its name, for messages.
fn var_file(
    file: &str,
    text: &str,
    problems: &mut Vec<Problem>,
) -> Vec<(String, Value, (u32, u32))> {
    if file.ends_with(".json") {
        return match serde_json::from_str::<Map<String, Value>>(text) {
            Ok(map) => map.into_iter().map(|(k, v)| (k, v, (0, 0))).collect(),
            Err(e) => {
                let at = (e.line() as u32, e.column() as u32);
                problems.push(error_in(
                    file,
                    at,
                    format!("the var file is not a JSON object: {e}"),
                ));
                Vec::new()
            }
        };
    }
    let lines = super::LineIndex::new(text);
    let body = match hcl_edit::parser::parse_body(text) {
        Ok(body) => body,
        Err(e) => {
            let at = lines.position(e.location().offset());
            let message = format!("the var file is not valid HCL: {}", e.message());
            problems.push(error_in(file, at, message));
            return Vec::new();
        }
    };
    let empty = Map::new();
    let mut out = Vec::new();
    for attr in body.attributes() {
        let at = lines.position(attr.key.span().unwrap_or(0..0).start);
        match eval::eval(&attr.value, &mut Scope::new(text, &empty, &empty, None)) {
            Ok(value) => out.push((attr.key.as_str().to_owned(), value, at)),
            Err(e) => problems.push(error_in(file, lines.position(e.span.start), e.message)),
        }
    }
    out
}

/// Reads a type expression.
fn parse_type(expr: &Expression, source: &str) -> Result<Type, String> {
    let text = || source.get(span_of(expr)).unwrap_or("").to_owned();
    match expr {
        Expression::Variable(ident) => match ident.as_str() {
            "string" => Ok(Type::String),
            "number" => Ok(Type::Number),
            "bool" => Ok(Type::Bool),
            "any" => Ok(Type::Any),
            "list" | "set" => Ok(Type::List(Box::new(Type::Any))),
            "map" => Ok(Type::Map(Box::new(Type::Any))),
            other => Err(format!(
                "unknown type {other:?}; use string, number, bool, list(...), map(...), \
                 object({{...}}) or any"
            )),
        },
        Expression::FuncCall(call) => {
            let arg = call
                .args
                .iter()
                .next()
                .ok_or_else(|| format!("the type {} needs an argument", text()))?;
            match call.name.name.as_str() {
                "list" | "set" => Ok(Type::List(Box::new(parse_type(arg, source)?))),
                "map" => Ok(Type::Map(Box::new(parse_type(arg, source)?))),
                "object" => match arg {
                    Expression::Object(object) => {
                        let mut fields = Vec::new();
                        for (key, value) in object.iter() {
                            let name = match key {
                                hcl_edit::expr::ObjectKey::Ident(i) => i.as_str().to_owned(),
                                hcl_edit::expr::ObjectKey::Expression(Expression::String(s)) => {
                                    s.value().clone()
                                }
                                hcl_edit::expr::ObjectKey::Expression(e) => {
                                    source.get(span_of(e)).unwrap_or("").to_owned()
                                }
                            };
                            let ty = match value.expr() {
                                // `optional(T)` attributes may be absent.
                                Expression::FuncCall(c) if c.name.name.as_str() == "optional" => {
                                    match c.args.iter().next() {
                                        Some(inner) => parse_type(inner, source)?,
                                        None => Type::Any,
                                    }
                                }
                                other => parse_type(other, source)?,
                            };
                            fields.push((name, ty));
                        }
                        Ok(Type::Object(fields))
                    }
                    _ => Err("object(...) needs an object of attribute types".to_owned()),
                },
                "tuple" => match arg {
                    Expression::Array(items) => Ok(Type::Tuple(
                        items.iter().map(|i| parse_type(i, source)).collect::<Result<_, _>>()?,
                    )),
                    _ => Err("tuple(...) needs a list of types".to_owned()),
                },
                other => Err(format!("unknown type constructor {other:?}")),
            }
        }
        _ => Err(format!("{} is not a type", text())),
    }
}

/// Converts a value to a declared type, as cty's conversions do for job files.
pub(crate) fn convert(value: Value, ty: &Type) -> Result<Value, String> {
    if value.is_null() {
        return Ok(value);
    }
    match ty {
        Type::Any => Ok(value),
        Type::String => match value {
            Value::String(_) => Ok(value),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            other => Err(format!("a string is required, found {}", describe(&other))),
        },
        Type::Number => match &value {
            Value::Number(_) => Ok(value),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .map(float_or_int)
                .map_err(|_| format!("a number is required, found the string {s:?}")),
            other => Err(format!("a number is required, found {}", describe(other))),
        },
        Type::Bool => match &value {
            Value::Bool(_) => Ok(value),
            Value::String(s) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
            other => Err(format!("a bool is required, found {}", describe(other))),
        },
        Type::List(inner) => match value {
            Value::Array(items) => items
                .into_iter()
                .map(|v| convert(v, inner))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            other => Err(format!("a list is required, found {}", describe(&other))),
        },
        Type::Tuple(types) => match value {
            Value::Array(items) if items.len() == types.len() => items
                .into_iter()
                .zip(types)
                .map(|(v, t)| convert(v, t))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            other => Err(format!(
                "a tuple of {} elements is required, found {}",
                types.len(),
                describe(&other)
            )),
        },
        Type::Map(inner) => match value {
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    out.insert(k, convert(v, inner)?);
                }
                Ok(Value::Object(out))
            }
            other => Err(format!("a map is required, found {}", describe(&other))),
        },
        Type::Object(fields) => match value {
            Value::Object(mut map) => {
                let mut out = Map::new();
                for (name, field_ty) in fields {
                    let v = map.remove(name).unwrap_or(Value::Null);
                    out.insert(
                        name.clone(),
                        convert(v, field_ty).map_err(|e| format!("attribute {name:?}: {e}"))?,
                    );
                }
                Ok(Value::Object(out))
            }
            other => Err(format!("an object is required, found {}", describe(&other))),
        },
    }
}

/// Evaluates `locals` blocks; a local may use another one defined later in the file.
pub(crate) fn locals(
    body: &Body,
    vars: &Map<String, Value>,
    source: &str,
    base_dir: Option<&Path>,
    problems: &mut Vec<Problem>,
) -> Map<String, Value> {
    let mut pending: Vec<(&str, &Expression, Range<usize>)> = Vec::new();
    for block in body.blocks().filter(|b| b.ident.as_str() == "locals") {
        for attr in block.body.attributes() {
            let span = attr.key.span().unwrap_or(0..0);
            if pending.iter().any(|(n, _, _)| *n == attr.key.as_str()) {
                problems.push(error(
                    span,
                    format!("the local {:?} is defined twice", attr.key.as_str()),
                ));
                continue;
            }
            pending.push((attr.key.as_str(), &attr.value, span));
        }
    }
    let mut done = Map::new();
    loop {
        let mut progress = false;
        let mut failures = Vec::new();
        pending.retain(|(name, expr, _)| {
            let mut scope = Scope::new(source, vars, &done, base_dir);
            match eval::eval(expr, &mut scope) {
                Ok(value) => {
                    done.insert((*name).to_owned(), value);
                    progress = true;
                    false
                }
                Err(e) => {
                    failures.push(e);
                    true
                }
            }
        });
        if pending.is_empty() {
            break;
        }
        if !progress {
            for e in failures {
                problems.push(error(e.span, e.message));
            }
            for (name, _, _) in pending {
                done.insert(name.to_owned(), unknown(name));
            }
            break;
        }
    }
    done
}

/// A decoder over the file's values.
pub(crate) fn decoder<'s>(
    source: &'s str,
    vars: &'s Map<String, Value>,
    locals: &'s Map<String, Value>,
    base_dir: Option<&'s Path>,
) -> Decoder<'s> {
    Decoder::new(Scope::new(source, vars, locals, base_dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Resolves the variables and locals of `source` with `-var` values.
    fn resolve(source: &str, vars: &[(&str, &str)]) -> (Value, Vec<String>) {
        let body = hcl_edit::parser::parse_body(source).expect("a test body that parses");
        let mut problems = Vec::new();
        let decls = declarations(&body, &mut problems, source);
        let vars: Vec<(String, String)> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let inputs = Inputs { files: &[], vars: &vars, lenient: false };
        let values = values(&decls, &inputs, source, None, &mut problems);
        let locals = locals(&body, &values, source, None, &mut problems);
        let messages = problems.into_iter().map(|p| p.message).collect();
        (json!({"var": values, "local": locals}), messages)
    }

    #[test]
    fn cli_values_convert_to_the_declared_type() {
        let source = r#"
variable "count" {
  type = number
}
variable "enabled" {
  type = bool
}
variable "dcs" {
  type = list(string)
}
variable "labels" {
  type = map(string)
}
variable "free" {}
"#;
        let (resolved, problems) = resolve(
            source,
            &[
                ("count", "3"),
                ("enabled", "true"),
                ("dcs", r#"["eu-1", "eu-2"]"#),
                ("labels", r#"{ team = "web" }"#),
                ("free", "[not parsed]"),
            ],
        );
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(
            resolved["var"],
            json!({"count": 3, "enabled": true, "dcs": ["eu-1", "eu-2"], "labels": {"team": "web"}, "free": "[not parsed]"})
        );
    }

    #[test]
    fn wrong_values_and_missing_ones_are_reported_once() {
        let source = r#"
variable "count" {
  type    = number
  default = 1

  validation {
    condition     = var.count < 10
    error_message = "count must stay below 10"
  }
}
variable "image" {
  type = string
}
locals {
  tag = "${var.image}:1"
}
"#;
        let (_, problems) = resolve(source, &[("count", "12")]);
        assert_eq!(
            problems,
            [
                "variable \"image\" is required but has no value: give it a default, or set it with -var image=VALUE or a -var-file",
                "count must stay below 10",
            ]
        );
        let (_, problems) = resolve(source, &[("count", "many"), ("image", "x")]);
        assert_eq!(
            problems,
            ["invalid value for variable \"count\": a number is required, found the string \"many\""]
        );
    }

    #[test]
    fn locals_may_use_locals_defined_later() {
        let source = r#"
variable "name" {
  default = "web"
}
locals {
  full = "${local.prefix}-${var.name}"
}
locals {
  prefix = upper("prod")
}
"#;
        let (resolved, problems) = resolve(source, &[]);
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(resolved["local"], json!({"prefix": "PROD", "full": "PROD-web"}));
    }

    #[test]
    fn object_types_with_optional_attributes_convert() {
        let ty = Type::Object(vec![
            ("name".to_owned(), Type::String),
            ("port".to_owned(), Type::Number),
        ]);
        assert_eq!(
            convert(json!({"name": "web", "port": "80"}), &ty),
            Ok(json!({"name": "web", "port": 80}))
        );
        assert_eq!(convert(json!({"name": "web"}), &ty), Ok(json!({"name": "web", "port": null})));
        assert_eq!(
            convert(json!({"name": ["x"]}), &ty),
            Err("attribute \"name\": a string is required, found a list".to_owned())
        );
    }
}
