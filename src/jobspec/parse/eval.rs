//! Evaluation of HCL2 expressions in a job file into JSON values, as Nomad's `jobspec2` does.
//!
//! `var.*` and `local.*` resolve to the job's variables and locals. Any other reference
//! (`NOMAD_PORT_http`, `attr.cpu.arch`, `node.datacenter`, `meta.x`, `env["X"]`) is a runtime
//! interpolation Nomad resolves on the client: like Nomad's `UnknownVariable` hook, it
//! evaluates to its own source text wrapped in `${...}`. This module owns expressions and
//! templates; the functions they call live in `functions`, and what evaluation may cost in
//! `budget` (every expression, and every value made or copied, is charged there).

use std::ops::Range;
use std::path::Path;

use hcl_edit::expr::{
    BinaryOperator, Expression, ForExpr, FuncCall, ObjectKey, Traversal, TraversalOperator,
    UnaryOperator,
};
use hcl_edit::template::{Directive, Element, Template};
use hcl_edit::Span;
use serde_json::{Map, Number, Value};

use super::budget::{self, Exceeded};
use super::functions;
use super::value::{describe, float_or_int};

/// Marks a value that stands for a variable with no value yet (validation without `-var`):
/// it is text nobody writes, so conversions and rules can recognise and skip it.
pub(crate) const UNKNOWN_MARK: char = '\u{E000}';

/// True for a value that stands for something without a value: a variable with no value
/// during validation, or one whose evaluation already failed and was reported.
pub(crate) fn is_unknown(value: &Value) -> bool {
    matches!(value, Value::String(s) if s.contains(UNKNOWN_MARK))
}

/// An unknown value; whatever is computed from it is unknown too.
fn unknown() -> Value {
    Value::String(UNKNOWN_MARK.to_string())
}

/// An evaluation failure, at the span of the expression that caused it.
#[derive(Debug, Clone)]
pub(crate) struct EvalError {
    pub span: Range<usize>,
    pub message: String,
}

impl EvalError {
    pub(crate) fn new(span: Range<usize>, message: impl Into<String>) -> Self {
        EvalError { span, message: message.into() }
    }
}

/// What expressions can see: variables, locals, `for` bindings and the job file's folder.
pub(crate) struct Scope<'a> {
    pub source: &'a str,
    pub vars: &'a Map<String, Value>,
    pub locals: &'a Map<String, Value>,
    /// Directory `file()` and `abspath()` resolve relative paths against.
    pub base_dir: Option<&'a Path>,
    bindings: Vec<(String, Value)>,
}

impl<'a> Scope<'a> {
    pub(crate) fn new(
        source: &'a str,
        vars: &'a Map<String, Value>,
        locals: &'a Map<String, Value>,
        base_dir: Option<&'a Path>,
    ) -> Self {
        Scope { source, vars, locals, base_dir, bindings: Vec::new() }
    }

    /// Makes `name` refer to `value` (a `dynamic` block's iterator) until `pop_binding`.
    pub(crate) fn push_binding(&mut self, name: &str, value: Value) {
        self.bindings.push((name.to_owned(), value));
    }

    /// Ends the innermost `push_binding`.
    pub(crate) fn pop_binding(&mut self) {
        self.bindings.pop();
    }

    fn binding(&self, name: &str) -> Option<&Value> {
        self.bindings.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The source text of a span, for runtime references and messages.
    fn text(&self, span: &Range<usize>) -> &'a str {
        self.source.get(span.clone()).unwrap_or("")
    }
}

/// The span of an expression, or an empty one at 0 when the parser recorded none.
pub(crate) fn span_of(expr: &Expression) -> Range<usize> {
    expr.span().unwrap_or(0..0)
}

/// The evaluation failure of a budget that ran out at `span`.
fn exceeded(span: &Range<usize>) -> impl FnOnce(Exceeded) -> EvalError + '_ {
    move |over| EvalError::new(span.clone(), over.to_string())
}

/// Charges `bytes` of text made at `span`.
fn spend(bytes: usize, span: &Range<usize>) -> Result<(), EvalError> {
    budget::spend(bytes).map_err(exceeded(span))
}

/// Charges a value made or copied at `span`, and gives it back.
fn charged(value: Value, span: &Range<usize>) -> Result<Value, EvalError> {
    budget::spend_value(&value).map_err(exceeded(span))?;
    Ok(value)
}

/// Charges one element (`None`) or entry (its key) added to a collection at `span`.
fn spend_slot(key: Option<&str>, span: &Range<usize>) -> Result<(), EvalError> {
    budget::spend_slot(key).map_err(exceeded(span))
}

/// Evaluates an expression.
pub(crate) fn eval(expr: &Expression, scope: &mut Scope<'_>) -> Result<Value, EvalError> {
    let span = span_of(expr);
    budget::steps(1).map_err(exceeded(&span))?;
    match expr {
        Expression::Null(_) => Ok(Value::Null),
        Expression::Bool(b) => Ok(Value::Bool(*b.value())),
        Expression::Number(n) => Ok(number_value(n.value())),
        Expression::String(s) => charged(Value::String(s.value().clone()), &span),
        Expression::Array(array) => {
            let mut items = Vec::with_capacity(array.len());
            for item in array.iter() {
                items.push(eval(item, scope)?);
                spend_slot(None, &span)?;
            }
            Ok(Value::Array(items))
        }
        Expression::Object(object) => {
            let mut map = Map::new();
            for (key, value) in object.iter() {
                let key = match key {
                    ObjectKey::Ident(ident) => ident.as_str().to_owned(),
                    ObjectKey::Expression(key_expr) => match key_expr {
                        // `{ foo = 1 }` and `{ (foo) = 1 }` differ: a bare name is a key.
                        Expression::Variable(ident) => ident.as_str().to_owned(),
                        other => to_template_string(eval(other, scope)?, span_of(other))?,
                    },
                };
                spend_slot(Some(&key), &span)?;
                map.insert(key, eval(value.expr(), scope)?);
            }
            Ok(Value::Object(map))
        }
        Expression::StringTemplate(template) => {
            eval_template(template, &span, scope).map(Value::String)
        }
        Expression::HeredocTemplate(heredoc) => {
            eval_template(&heredoc.template, &span, scope).map(Value::String)
        }
        Expression::Parenthesis(inner) => eval(inner.inner(), scope),
        Expression::Variable(ident) => {
            let name = ident.as_str();
            if let Some(value) = scope.binding(name) {
                return charged(value.clone(), &span);
            }
            let value = match name {
                "var" => Value::Object(scope.vars.clone()),
                "local" => Value::Object(scope.locals.clone()),
                _ => Value::String(format!("${{{}}}", scope.text(&span))),
            };
            charged(value, &span)
        }
        Expression::Conditional(cond) => {
            let test = eval(&cond.cond_expr, scope)?;
            if is_unknown(&test) {
                return Ok(unknown());
            }
            if to_bool(&test, span_of(&cond.cond_expr))? {
                eval(&cond.true_expr, scope)
            } else {
                eval(&cond.false_expr, scope)
            }
        }
        Expression::FuncCall(call) => eval_call(call, span, scope),
        Expression::Traversal(traversal) => eval_traversal(traversal, span, scope),
        Expression::UnaryOp(op) => {
            let value = eval(&op.expr, scope)?;
            if is_unknown(&value) {
                return Ok(unknown());
            }
            match op.operator.value() {
                UnaryOperator::Not => Ok(Value::Bool(!to_bool(&value, span)?)),
                UnaryOperator::Neg => Ok(float_or_int(-to_number(&value, span)?)),
            }
        }
        Expression::BinaryOp(op) => {
            let lhs = eval(&op.lhs_expr, scope)?;
            let rhs = eval(&op.rhs_expr, scope)?;
            if is_unknown(&lhs) || is_unknown(&rhs) {
                return Ok(unknown());
            }
            binary(*op.operator.value(), lhs, rhs, span)
        }
        Expression::ForExpr(for_expr) => eval_for(for_expr, span, scope),
    }
}

fn number_value(n: &hcl_edit::Number) -> Value {
    if let Some(i) = n.as_i64() {
        Value::Number(i.into())
    } else if let Some(u) = n.as_u64() {
        Value::Number(u.into())
    } else {
        n.as_f64().and_then(Number::from_f64).map(Value::Number).unwrap_or(Value::Null)
    }
}

fn binary(
    op: BinaryOperator,
    lhs: Value,
    rhs: Value,
    span: Range<usize>,
) -> Result<Value, EvalError> {
    use BinaryOperator as B;
    let value = match op {
        B::Eq => Value::Bool(loosely_equal(&lhs, &rhs)),
        B::NotEq => Value::Bool(!loosely_equal(&lhs, &rhs)),
        B::And => Value::Bool(to_bool(&lhs, span.clone())? && to_bool(&rhs, span)?),
        B::Or => Value::Bool(to_bool(&lhs, span.clone())? || to_bool(&rhs, span)?),
        _ => {
            let (a, b) = (to_number(&lhs, span.clone())?, to_number(&rhs, span.clone())?);
            match op {
                B::Less => Value::Bool(a < b),
                B::LessEq => Value::Bool(a <= b),
                B::Greater => Value::Bool(a > b),
                B::GreaterEq => Value::Bool(a >= b),
                B::Plus => float_or_int(a + b),
                B::Minus => float_or_int(a - b),
                B::Mul => float_or_int(a * b),
                B::Div | B::Mod if b == 0.0 => {
                    return Err(EvalError::new(span, "division by zero"));
                }
                B::Div => float_or_int(a / b),
                B::Mod => float_or_int(a % b),
                _ => return Err(EvalError::new(span, "unsupported operator")),
            }
        }
    };
    Ok(value)
}

fn loosely_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// Converts to a boolean as cty does (`"true"` and `"false"` strings convert).
pub(crate) fn to_bool(value: &Value, span: Range<usize>) -> Result<bool, EvalError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        other => {
            Err(EvalError::new(span, format!("a bool is required, found {}", describe(other))))
        }
    }
}

/// Converts to a number as cty does (numeric strings convert).
pub(crate) fn to_number(value: &Value, span: Range<usize>) -> Result<f64, EvalError> {
    match value {
        Value::Number(n) => n.as_f64().ok_or_else(|| EvalError::new(span, "number out of range")),
        Value::String(s) => s.trim().parse::<f64>().map_err(|_| {
            EvalError::new(span, format!("a number is required, found the string {s:?}"))
        }),
        other => {
            Err(EvalError::new(span, format!("a number is required, found {}", describe(other))))
        }
    }
}

/// Converts a primitive to the string an interpolation inserts.
pub(crate) fn to_template_string(value: Value, span: Range<usize>) -> Result<String, EvalError> {
    match value {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Err(EvalError::new(
            span,
            "the value is null; a template interpolation needs a string, number or bool",
        )),
        other => Err(EvalError::new(
            span,
            format!("cannot insert {} into a string; a string is required", describe(&other)),
        )),
    }
}

/// Evaluates a template (at `span`) into its text; every piece added to the text is charged.
fn eval_template(
    template: &Template,
    span: &Range<usize>,
    scope: &mut Scope<'_>,
) -> Result<String, EvalError> {
    let elements: Vec<&Element> = template.iter().collect();
    let mut out = String::new();
    for (i, element) in elements.iter().enumerate() {
        match element {
            Element::Literal(literal) => {
                let mut text: &str = literal.value();
                if i > 0 && strip_after(elements[i - 1]) {
                    text = text.trim_start();
                }
                if elements.get(i + 1).is_some_and(|next| strip_before(next)) {
                    text = text.trim_end();
                }
                spend(text.len(), span)?;
                out.push_str(text);
            }
            Element::Interpolation(interpolation) => {
                // A runtime reference keeps its text as written, spaces included, as Nomad's
                // parser hands the text between `${` and `}` to its UnknownVariable hook.
                if let (true, Some(span)) =
                    (is_runtime_reference(&interpolation.expr, scope), interpolation.span())
                {
                    spend(span.len(), &span)?;
                    out.push_str(scope.text(&span));
                    continue;
                }
                let value = eval(&interpolation.expr, scope)?;
                let expr_span = span_of(&interpolation.expr);
                let text = to_template_string(value, expr_span.clone())?;
                spend(text.len(), &expr_span)?;
                out.push_str(&text);
            }
            Element::Directive(directive) => match directive.as_ref() {
                Directive::If(dir) => {
                    let test = eval(&dir.if_expr.cond_expr, scope)?;
                    let piece = if to_bool(&test, span_of(&dir.if_expr.cond_expr))? {
                        eval_template(&dir.if_expr.template, span, scope)?
                    } else if let Some(else_expr) = &dir.else_expr {
                        eval_template(&else_expr.template, span, scope)?
                    } else {
                        String::new()
                    };
                    spend(piece.len(), span)?;
                    out.push_str(&piece);
                }
                Directive::For(dir) => {
                    let collection_span = span_of(&dir.for_expr.collection_expr);
                    let collection = eval(&dir.for_expr.collection_expr, scope)?;
                    let key_var = dir.for_expr.key_var.as_ref().map(|k| k.as_str().to_owned());
                    let value_var = dir.for_expr.value_var.as_str().to_owned();
                    for (key, value) in iterate(collection, collection_span)? {
                        let pushed = bind(scope, key_var.as_deref(), &value_var, key, value);
                        let piece = eval_template(&dir.for_expr.template, span, scope);
                        scope.bindings.truncate(scope.bindings.len() - pushed);
                        let piece = piece?;
                        spend(piece.len(), span)?;
                        out.push_str(&piece);
                    }
                }
            },
        }
    }
    Ok(out)
}

/// A reference whose root is not `var`, `local` or a `for` variable: resolved by Nomad on
/// the client (`NOMAD_PORT_http`, `attr.cpu.arch`, `env["HOME"]`).
fn is_runtime_reference(expr: &Expression, scope: &Scope<'_>) -> bool {
    let root = match expr {
        Expression::Variable(ident) => ident,
        Expression::Traversal(traversal) => match &traversal.expr {
            Expression::Variable(ident) => ident,
            _ => return false,
        },
        _ => return false,
    };
    let name = root.as_str();
    name != "var" && name != "local" && scope.binding(name).is_none()
}

fn strip_before(element: &Element) -> bool {
    match element {
        Element::Interpolation(i) => i.strip.strip_start(),
        Element::Directive(d) => match d.as_ref() {
            Directive::If(dir) => dir.if_expr.strip.strip_start(),
            Directive::For(dir) => dir.for_expr.strip.strip_start(),
        },
        Element::Literal(_) => false,
    }
}

fn strip_after(element: &Element) -> bool {
    match element {
        Element::Interpolation(i) => i.strip.strip_end(),
        Element::Directive(d) => match d.as_ref() {
            Directive::If(dir) => dir.endif_expr.strip.strip_end(),
            Directive::For(dir) => dir.endfor_expr.strip.strip_end(),
        },
        Element::Literal(_) => false,
    }
}

fn bind(
    scope: &mut Scope<'_>,
    key_var: Option<&str>,
    value_var: &str,
    key: Value,
    value: Value,
) -> usize {
    let mut pushed = 1;
    if let Some(key_var) = key_var {
        scope.bindings.push((key_var.to_owned(), key));
        pushed += 1;
    }
    scope.bindings.push((value_var.to_owned(), value));
    pushed
}

/// The (key, value) pairs a `for` walks: indices of a list, keys of an object. The pairs are
/// new values (a key each), charged at `span`.
fn iterate(collection: Value, span: Range<usize>) -> Result<Vec<(Value, Value)>, EvalError> {
    match collection {
        Value::Array(items) => {
            spend(items.len().saturating_mul(2 * budget::size(&Value::Null)), &span)?;
            Ok(items.into_iter().enumerate().map(|(i, v)| (Value::from(i as u64), v)).collect())
        }
        Value::Object(map) => {
            for key in map.keys() {
                spend_slot(Some(key), &span)?;
            }
            Ok(map.into_iter().map(|(k, v)| (Value::String(k), v)).collect())
        }
        other => Err(EvalError::new(
            span,
            format!("a for expression needs a list or an object, found {}", describe(&other)),
        )),
    }
}

fn eval_for(
    for_expr: &ForExpr,
    span: Range<usize>,
    scope: &mut Scope<'_>,
) -> Result<Value, EvalError> {
    let intro = &for_expr.intro;
    let collection = eval(&intro.collection_expr, scope)?;
    if is_unknown(&collection) {
        return Ok(unknown());
    }
    let key_var = intro.key_var.as_ref().map(|k| k.as_str().to_owned());
    let value_var = intro.value_var.as_str().to_owned();
    let mut list = Vec::new();
    let mut map = Map::new();
    for (key, value) in iterate(collection, span_of(&intro.collection_expr))? {
        let pushed = bind(scope, key_var.as_deref(), &value_var, key, value);
        let item = (|| -> Result<Option<(Option<String>, Value)>, EvalError> {
            if let Some(cond) = &for_expr.cond {
                if !to_bool(&eval(&cond.expr, scope)?, span_of(&cond.expr))? {
                    return Ok(None);
                }
            }
            let key = match &for_expr.key_expr {
                Some(key_expr) => {
                    Some(to_template_string(eval(key_expr, scope)?, span_of(key_expr))?)
                }
                None => None,
            };
            Ok(Some((key, eval(&for_expr.value_expr, scope)?)))
        })();
        scope.bindings.truncate(scope.bindings.len() - pushed);
        let item = item?;
        if let Some((key, _)) = &item {
            spend_slot(key.as_deref(), &span)?;
        }
        match item {
            None => {}
            Some((None, value)) => list.push(value),
            Some((Some(key), value)) if for_expr.grouping => {
                if let Value::Array(group) =
                    map.entry(key).or_insert_with(|| Value::Array(Vec::new()))
                {
                    group.push(value);
                }
            }
            Some((Some(key), _)) if map.contains_key(&key) => {
                return Err(EvalError::new(
                    span,
                    format!("duplicate key {key:?} in a for expression; use `...` to group"),
                ));
            }
            Some((Some(key), value)) => {
                map.insert(key, value);
            }
        }
    }
    Ok(if for_expr.key_expr.is_some() { Value::Object(map) } else { Value::Array(list) })
}

fn eval_traversal(
    traversal: &Traversal,
    span: Range<usize>,
    scope: &mut Scope<'_>,
) -> Result<Value, EvalError> {
    let mut operators = traversal.operators.iter().map(|op| op.value()).peekable();
    let mut value = match &traversal.expr {
        Expression::Variable(root) if scope.binding(root.as_str()).is_none() => {
            let name = root.as_str();
            let (what, table) = match name {
                "var" => ("variable", scope.vars),
                "local" => ("local value", scope.locals),
                // A runtime reference: Nomad keeps its text for the client to interpolate.
                _ => return charged(Value::String(format!("${{{}}}", scope.text(&span))), &span),
            };
            match operators.next() {
                Some(TraversalOperator::GetAttr(attr)) => {
                    let mut current = table.get(attr.as_str()).ok_or_else(|| {
                        let hint = if name == "var" {
                            "declare it with a `variable` block"
                        } else {
                            "define it in a `locals` block"
                        };
                        EvalError::new(
                            span.clone(),
                            format!("there is no {what} named {:?}; {hint}", attr.as_str()),
                        )
                    })?;
                    // Down to the part asked for by reference, so that `local.list[0]` copies
                    // one element, not the list.
                    while let Some(op) = operators.peek() {
                        let key = match op {
                            TraversalOperator::GetAttr(ident) => {
                                Value::String(ident.as_str().to_owned())
                            }
                            TraversalOperator::Index(expr) => eval(expr, scope)?,
                            TraversalOperator::LegacyIndex(i) => Value::from(*i.value()),
                            TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => {
                                break
                            }
                        };
                        operators.next();
                        if is_unknown(current) || is_unknown(&key) {
                            return Ok(unknown());
                        }
                        current = index_ref(current, &key, span.clone())?;
                    }
                    charged(current.clone(), &span)?
                }
                _ => charged(Value::Object(table.clone()), &span)?,
            }
        }
        other => eval(other, scope)?,
    };
    while let Some(op) = operators.next() {
        match op {
            TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => {
                let items = match value {
                    Value::Array(items) => items,
                    Value::Null => Vec::new(),
                    single => vec![single],
                };
                let rest: Vec<&TraversalOperator> = operators.by_ref().collect();
                let mut out = Vec::with_capacity(items.len());
                for mut item in items {
                    for op in &rest {
                        item = step(item, op, &span, scope)?;
                    }
                    spend_slot(None, &span)?;
                    out.push(item);
                }
                return Ok(Value::Array(out));
            }
            op => value = step(value, op, &span, scope)?,
        }
    }
    Ok(value)
}

fn step(
    value: Value,
    op: &TraversalOperator,
    span: &Range<usize>,
    scope: &mut Scope<'_>,
) -> Result<Value, EvalError> {
    let key = match op {
        TraversalOperator::GetAttr(ident) => Value::String(ident.as_str().to_owned()),
        TraversalOperator::Index(expr) => eval(expr, scope)?,
        TraversalOperator::LegacyIndex(i) => Value::from(*i.value()),
        TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => return Ok(value),
    };
    if is_unknown(&value) || is_unknown(&key) {
        return Ok(unknown());
    }
    index(value, &key, span.clone())
}

/// `collection[key]` with HCL's rules and a message naming what was missing.
pub(crate) fn index(value: Value, key: &Value, span: Range<usize>) -> Result<Value, EvalError> {
    index_ref(&value, key, span).cloned()
}

/// [`index`] without taking the collection.
fn index_ref<'v>(
    value: &'v Value,
    key: &Value,
    span: Range<usize>,
) -> Result<&'v Value, EvalError> {
    match value {
        Value::Object(map) => {
            let name = to_template_string(key.clone(), span.clone())?;
            map.get(&name).ok_or_else(|| {
                EvalError::new(span, format!("the object has no attribute or key {name:?}"))
            })
        }
        Value::Array(items) => {
            let i = to_number(key, span.clone())?;
            if i < 0.0 || i.fract() != 0.0 || i as usize >= items.len() {
                return Err(EvalError::new(
                    span,
                    format!("index {i} is out of range for a list of {} elements", items.len()),
                ));
            }
            Ok(&items[i as usize])
        }
        other => Err(EvalError::new(span, format!("cannot index into {}", describe(other)))),
    }
}

fn eval_call(
    call: &FuncCall,
    span: Range<usize>,
    scope: &mut Scope<'_>,
) -> Result<Value, EvalError> {
    let name = call.name.name.as_str();
    if !call.name.namespace.is_empty() {
        return Err(EvalError::new(span, format!("namespaced function {name:?} is not supported")));
    }
    // `try` and `can` look at failures, so their arguments are evaluated one by one.
    if name == "try" {
        let mut last = None;
        for arg in call.args.iter() {
            match eval(arg, scope) {
                Ok(value) => return Ok(value),
                Err(err) => last = Some(err),
            }
        }
        return Err(last.unwrap_or_else(|| EvalError::new(span, "try() needs arguments")));
    }
    if name == "can" {
        let arg = call.args.iter().next();
        return Ok(Value::Bool(arg.is_some_and(|arg| eval(arg, scope).is_ok())));
    }
    let mut args = Vec::with_capacity(call.args.len());
    let count = call.args.len();
    for (i, arg) in call.args.iter().enumerate() {
        let value = eval(arg, scope)?;
        if i + 1 == count && call.args.expand_final() {
            match value {
                Value::Array(items) => args.extend(items),
                other => {
                    return Err(EvalError::new(
                        span_of(arg),
                        format!("`...` needs a list, found {}", describe(&other)),
                    ))
                }
            }
        } else {
            args.push(value);
        }
    }
    if args.iter().any(is_unknown) {
        return Ok(unknown());
    }
    let value = functions::call(name, args, scope.base_dir).map_err(|message| {
        EvalError::new(span.clone(), format!("in call to {name}(): {message}"))
    })?;
    charged(value, &span)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval_text(text: &str) -> Result<Value, String> {
        let vars = json!({"name": "web", "ports": [80, 443], "tags": {"team": "ops"}, "on": true});
        let Value::Object(vars) = vars else { unreachable!("an object literal") };
        let locals = Map::new();
        let expr = hcl_edit::parser::parse_expr(text).map_err(|e| e.to_string())?;
        budget::reset();
        let mut scope = Scope::new(text, &vars, &locals, None);
        eval(&expr, &mut scope)
            .map_err(|e| format!("{}..{}: {}", e.span.start, e.span.end, e.message))
    }

    #[test]
    fn expressions_evaluate_as_in_nomad() {
        let cases = [
            (r#""${var.name}-${NOMAD_ALLOC_INDEX}""#, json!("web-${NOMAD_ALLOC_INDEX}")),
            (r#""${attr.cpu.arch}""#, json!("${attr.cpu.arch}")),
            // Nomad's own cases (jobspec2 TestParse_UndefinedVariables).
            (
                r#""foo-${attr.network.dev-us-east1-relay-vpc.external-ip.0}""#,
                json!("foo-${attr.network.dev-us-east1-relay-vpc.external-ip.0}"),
            ),
            (r#""${mixed-indexing.0[3]["FOO"].5}""#, json!("${mixed-indexing.0[3][\"FOO\"].5}")),
            (
                r#""with spaces ${   root.  field[  "FOO"].5  }""#,
                json!("with spaces ${   root.  field[  \"FOO\"].5  }"),
            ),
            ("meta.mytest", json!("${meta.mytest}")),
            (r#""${meta["rack"]}""#, json!("${meta[\"rack\"]}")),
            (r#""$${literal} %%{x}""#, json!("${literal} %{x}")),
            ("var.ports[1] + 1", json!(444)),
            ("var.ports[*]", json!([80, 443])),
            ("10 / 4", json!(2.5)),
            ("-var.ports[0]", json!(-80)),
            (r#"var.on && !false ? "yes" : "no""#, json!("yes")),
            ("[for p in var.ports : p * 2 if p > 100]", json!([886])),
            ("{for k, v in var.tags : upper(k) => v}", json!({"TEAM": "ops"})),
            (r#""%{ if var.on }on%{ else }off%{ endif }""#, json!("on")),
            (r#""%{ for p in var.ports }${p},%{ endfor }""#, json!("80,443,")),
            (r#""a  ${~ var.name ~}  b""#, json!("awebb")),
            (r#"try(var.missing, "fallback")"#, json!("fallback")),
            ("can(var.missing)", json!(false)),
            (r#"format("%s:%d", var.ports...)"#, json!("80:443")),
            ("local", json!({})),
        ];
        for (text, want) in cases {
            assert_eq!(eval_text(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn failures_name_what_was_missing_and_where() {
        let cases = [
            (
                "var.missing",
                "0..11: there is no variable named \"missing\"; declare it with a `variable` block",
            ),
            ("local.x", "0..7: there is no local value named \"x\"; define it in a `locals` block"),
            ("var.ports[5]", "0..12: index 5 is out of range for a list of 2 elements"),
            (r#"var.tags["x"]"#, "0..13: the object has no attribute or key \"x\""),
            (
                r#""${var.ports}""#,
                "3..12: cannot insert a list into a string; a string is required",
            ),
            ("1 / 0", "0..5: division by zero"),
            (r#"1 + "a""#, "0..7: a number is required, found the string \"a\""),
        ];
        for (text, want) in cases {
            assert_eq!(eval_text(text), Err(want.to_owned()), "{text}");
        }
    }

    /// The failure of `text`; a value is too long to print whole when a bound did not hold.
    fn eval_failure(text: &str) -> String {
        match eval_text(text) {
            Ok(value) => panic!("{text}: evaluated to {} bytes", value.to_string().len()),
            Err(err) => err,
        }
    }

    #[test]
    fn values_past_the_byte_budget_stop_where_they_are_made() {
        // Issue 13: this reached 7 GB before the step limit stopped it.
        let text = r#"[for i in range(1000) : [for j in range(1000) : format("%04096d", j)]]"#;
        assert_eq!(
            eval_failure(text),
            "48..68: the expressions of this file produce more than 64 MiB of values; a job \
             file may not build more"
        );
        for text in [
            // Templates, literals and copies of a variable count as they are made.
            r#"[for i in range(1000) : [for j in range(1000) : "${format("%04000d", j)}x"]]"#,
            &format!(
                r#"[for i in range(1000) : [for j in range(1000) : "${{var.tags.team}}{}"]]"#,
                "-".repeat(100)
            ),
        ] {
            let err = eval_failure(text);
            assert!(err.contains("more than 64 MiB"), "{text}: {err}");
        }
        // 4096 zeros, each replaced by 80 KB: 320 MB, refused before it is built.
        let wide = r#"join("", [for i in range(20) : format("%04096d", i)])"#;
        let text = format!(r#"replace(format("%04096d", 1), "0", {wide})"#);
        let err = eval_failure(&text);
        assert!(err.contains("in call to replace(): the result would be"), "{err}");
    }

    #[test]
    fn a_reference_into_a_variable_copies_only_the_part_asked_for() {
        budget::reset();
        let big: Vec<Value> = (0..10_000).map(|i| Value::String(format!("{i:01000}"))).collect();
        let vars = Map::from_iter([("big".to_owned(), Value::Array(big))]);
        let locals = Map::new();
        // 1,000 lookups of one element of a 10 MB list: a copy of the list each would be 10 GB.
        let text = "[for i in range(1000) : var.big[i]]";
        let expr = hcl_edit::parser::parse_expr(text).map_err(|e| e.to_string());
        let mut scope = Scope::new(text, &vars, &locals, None);
        let list = expr.and_then(|e| eval(&e, &mut scope).map_err(|e| e.message));
        assert_eq!(list.map(|l| l.as_array().map(Vec::len)), Ok(Some(1_000)));
    }
}
