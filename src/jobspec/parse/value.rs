//! Values as the evaluator and the functions both see them: JSON standing for HCL's values,
//! described in words for messages, and numbers written as cty (the library behind Nomad's
//! HCL) writes them. `eval` computes values and `functions` takes and returns them; both
//! lean on this file and neither on the other for it.

use serde_json::{Number, Value};

/// A number as JSON: an integer when it has no fraction, as cty prints it.
pub(crate) fn float_or_int(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Value::Number((f as i64).into())
    } else {
        Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)
    }
}

/// A short description of a value's type for messages.
pub(crate) fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
