//! A validator for the subset of JSON Schema the tasks' answer schemas use.
//!
//! Supported keywords: `type` (object, array, string, integer, number, boolean), `required`,
//! `properties`, `additionalProperties: false`, `items`, `enum` (of strings), `minimum`,
//! `maximum`, `maxLength`, `maxItems`, `pattern` (a regular expression the whole string
//! must match: anchor it) and `anyOf` (the value fits one of the schemas; the answer schemas
//! enumerate what the guard accepts this way, one variant per field). Anything else in a schema is ignored, so schemas must
//! stay within this list; the unit tests pin each keyword. Servers that enforce structured
//! output (vLLM, llama.cpp) see the same schema; this check is for those that do not.

use serde_json::Value;

/// Checks `value` against `schema`; the error lists every violation with its JSON path.
pub fn validate(schema: &Value, value: &Value) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    check(schema, value, "$", &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn check(schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    if let Some(variants) = schema.get("anyOf").and_then(Value::as_array) {
        let mut closest: Option<Vec<String>> = None;
        for variant in variants {
            let mut found = Vec::new();
            check(variant, value, path, &mut found);
            if found.is_empty() {
                closest = None;
                break;
            }
            if closest.as_ref().is_none_or(|c| found.len() < c.len()) {
                closest = Some(found);
            }
        }
        if let Some(closest) = closest {
            errors.push(format!("{path}: fits none of the {} forms", variants.len()));
            errors.extend(closest);
            return;
        }
    }
    if let Some(expected) = schema.get("type").and_then(Value::as_str) {
        let actual = type_name(value);
        let fits = actual == expected || (expected == "number" && actual == "integer");
        if !fits {
            errors.push(format!("{path}: expected {expected}, found {actual}"));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
            errors.push(format!("{path}: {value} is not one of {}", list.join(", ")));
        }
    }
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            for name in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                if let Some(name) = name.as_str() {
                    if !map.contains_key(name) {
                        errors.push(format!("{path}: missing required `{name}`"));
                    }
                }
            }
            let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
            for (name, item) in map {
                match properties.and_then(|p| p.get(name)) {
                    Some(sub) => check(sub, item, &format!("{path}.{name}"), errors),
                    None if closed => errors.push(format!("{path}: unexpected field `{name}`")),
                    None => {}
                }
            }
        }
        Value::Array(items) => {
            if let Some(max) = schema.get("maxItems").and_then(Value::as_u64) {
                if items.len() as u64 > max {
                    errors.push(format!("{path}: {} items, at most {max} allowed", items.len()));
                }
            }
            if let Some(sub) = schema.get("items") {
                for (index, item) in items.iter().enumerate() {
                    check(sub, item, &format!("{path}[{index}]"), errors);
                }
            }
        }
        Value::String(text) => {
            if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
                // A pattern that does not compile is the schema's fault: it is said as such.
                match regex::Regex::new(pattern) {
                    Ok(re) if re.is_match(text) => {}
                    Ok(_) => errors.push(format!("{path}: `{text}` does not match {pattern}")),
                    Err(_) => errors.push(format!("{path}: the schema's pattern {pattern} is bad")),
                }
            }
            if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
                let length = text.chars().count() as u64;
                if length > max {
                    errors.push(format!("{path}: {length} characters, at most {max} allowed"));
                }
            }
        }
        Value::Number(number) => {
            let Some(n) = number.as_f64() else { return };
            if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
                if n < min {
                    errors.push(format!("{path}: {number} is below the minimum {min}"));
                }
            }
            if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
                if n > max {
                    errors.push(format!("{path}: {number} is above the maximum {max}"));
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::validate;

    #[test]
    fn any_of_takes_the_first_fitting_form_and_patterns_match_whole() {
        let schema = json!({"anyOf": [
            {"type": "object", "required": ["field"], "properties": {
                "field": {"enum": ["memory"]}, "value": {"type": "string", "pattern": "^[0-9]{1,5}$"}}},
            {"type": "object", "required": ["field"], "properties": {
                "field": {"enum": ["image"]}, "value": {"type": "string", "maxLength": 20}}}
        ]});
        assert_eq!(validate(&schema, &json!({"field": "memory", "value": "512"})), Ok(()));
        assert_eq!(validate(&schema, &json!({"field": "image", "value": "nginx:1"})), Ok(()));
        let wrong = validate(&schema, &json!({"field": "memory", "value": "lots"}));
        assert_eq!(
            wrong,
            Err(vec![
                "$: fits none of the 2 forms".to_string(),
                "$.value: `lots` does not match ^[0-9]{1,5}$".to_string()
            ])
        );
    }

    #[test]
    fn each_keyword_accepts_and_rejects() {
        let schema = json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["name", "size"],
            "properties": {
                "name": {"type": "string", "maxLength": 5},
                "size": {"type": "integer", "minimum": 1, "maximum": 10},
                "kind": {"type": "string", "enum": ["a", "b"]},
                "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
                "ratio": {"type": "number"},
                "on": {"type": "boolean"}
            }
        });
        let cases = [
            (json!({"name": "x", "size": 3}), ""),
            (json!({"name": "x", "size": 3, "ratio": 2, "on": true}), ""),
            (json!({"name": "x", "size": 3, "kind": "a", "tags": ["t"]}), ""),
            (json!([]), "$: expected object, found array"),
            (json!({"size": 3}), "$: missing required `name`"),
            (json!({"name": "x", "size": 3, "extra": 1}), "$: unexpected field `extra`"),
            (json!({"name": "toolong", "size": 3}), "$.name: 7 characters, at most 5 allowed"),
            (json!({"name": "x", "size": 0}), "$.size: 0 is below the minimum 1"),
            (json!({"name": "x", "size": 11}), "$.size: 11 is above the maximum 10"),
            (json!({"name": "x", "size": 1.5}), "$.size: expected integer, found number"),
            (json!({"name": "x", "size": 1, "kind": "c"}), "$.kind: \"c\" is not one of"),
            (json!({"name": "x", "size": 1, "tags": ["a", "b", "c"]}), "$.tags: 3 items"),
            (json!({"name": "x", "size": 1, "tags": [1]}), "$.tags[0]: expected string"),
            (json!({"name": 5, "size": 1}), "$.name: expected string, found integer"),
        ];
        for (value, expected) in cases {
            let result = validate(&schema, &value);
            if expected.is_empty() {
                assert_eq!(result, Ok(()), "{value}");
            } else {
                let errors = result.expect_err(&value.to_string()).join("; ");
                assert!(errors.contains(expected), "{value}: {errors}");
            }
        }
    }
}
