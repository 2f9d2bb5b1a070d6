//! Edits applied to the text of an HCL job file, in place with `hcl-edit`: only the
//! attributes and blocks an edit names change; comments, alignment and blank lines are kept
//! byte for byte, and what is added is laid out like its neighbours. A value the file
//! computes with an expression (`var.memory`, `"app:${var.tag}"`) is never overwritten: the
//! change belongs where the value comes from, which only the user knows.

use std::sync::LazyLock;

use hcl_edit::expr::Expression;
use hcl_edit::structure::{Attribute, Block, Body, Structure};
use hcl_edit::{Decorate, Decorated, Ident};
use regex::Regex;

use super::{ConstraintText, Edit, WriteBackError};
use crate::jobspec::render::duration;

/// Applies edits to an HCL job file's text, changing only the attributes and blocks the
/// edits name; everything else (comments, alignment, blank lines) is kept byte for byte.
pub fn apply(source: &str, file: &str, edits: &[Edit]) -> Result<String, WriteBackError> {
    let fail = |message: String| WriteBackError { file: file.to_string(), message };
    let mut body: Body = source
        .parse()
        .map_err(|err| fail(format!("cannot be edited: it does not parse as HCL: {err}")))?;
    let job = body
        .blocks_mut()
        .find(|b| b.has_ident("job"))
        .ok_or_else(|| fail("has no job block".into()))?;
    for edit in edits {
        edit_job(&mut job.body, edit).map_err(fail)?;
    }
    Ok(body.to_string())
}

/// The block `ident "label"` of a body, or where it is missing in words.
fn block_mut<'a>(body: &'a mut Body, ident: &str, label: &str) -> Result<&'a mut Block, String> {
    body.blocks_mut()
        .find(|b| b.has_ident(ident) && b.labels.first().map(|l| l.as_str()) == Some(label))
        .ok_or_else(|| format!("has no {ident} \"{label}\" block"))
}

/// The text of a literal or simple template expression (`"${attr.cpu.arch}"` → `${attr.cpu.arch}`).
fn expression_text(expr: &Expression) -> String {
    if let Some(text) = expr.as_str() {
        return text.to_string();
    }
    let mut plain = expr.clone();
    plain.decor_mut().clear();
    let text = plain.to_string();
    text.trim().trim_matches('"').to_string()
}

/// Sets an attribute, keeping its decoration (indent, alignment, trailing comment); a new
/// attribute is indented like its siblings (or one step in from the closing brace).
fn set_attribute(body: &mut Body, key: &str, value: Expression) {
    if let Some(mut attr) = body.get_attribute_mut(key) {
        let decor = attr.value_mut().decor().clone();
        let mut value = value;
        *value.decor_mut() = decor;
        *attr.value_mut() = value;
        return;
    }
    let mut attribute = Attribute::new(Decorated::new(Ident::new(key)), value);
    // A one-line block (`port "http" { static = 80 }`) keeps its own spacing.
    if !body.prefer_oneline() {
        attribute.decor_mut().set_prefix(child_indent(body));
        // Lined up with the attributes above it when they share an `=` column.
        if let Some(column) = trailing_equals_column(body).filter(|&c| c > key.len()) {
            attribute.key.decor_mut().set_suffix(" ".repeat(column - key.len()));
        }
    }
    body.push(attribute);
}

/// The column of `=` (counted from the key's start) shared by the run of attributes that
/// ends the body, if they share one.
fn trailing_equals_column(body: &Body) -> Option<usize> {
    let mut column = None;
    for index in (0..body.len()).rev() {
        let Some(Structure::Attribute(attribute)) = body.get(index) else { break };
        let suffix: &str = attribute.key.decor().suffix().map_or(" ", |suffix| suffix);
        if !suffix.chars().all(|c| c == ' ') {
            return None;
        }
        let at = attribute.key.as_str().len() + suffix.len();
        match column {
            None => column = Some(at),
            Some(shared) if shared != at => return None,
            Some(_) => {}
        }
        // A blank line or a comment above ends the run.
        if attribute.decor().prefix().is_some_and(|p| p.contains('\n') || p.contains('#')) {
            break;
        }
    }
    column
}

/// The indentation of a body's children: that of an existing child, else one step in from
/// the closing brace.
fn child_indent(body: &Body) -> String {
    let existing = body.iter().find_map(|s| {
        let prefix = match s {
            Structure::Attribute(a) => a.decor().prefix(),
            Structure::Block(b) => b.decor().prefix(),
        }?;
        let text: &str = prefix;
        Some(text.rsplit('\n').next().unwrap_or(text).to_string())
    });
    existing.unwrap_or_else(|| {
        let closing: &str = body.decor().suffix().map_or("", |suffix| suffix);
        format!("{}  ", closing.rsplit('\n').next().unwrap_or(closing))
    })
}

/// Adds an empty block (with an optional label) at `at`, or at the end, indented like its
/// siblings and with its closing brace lined up with its first line.
fn new_block<'a>(
    body: &'a mut Body,
    ident: &str,
    label: Option<&str>,
    at: Option<usize>,
) -> &'a mut Block {
    let indent = child_indent(body);
    // Blocks set apart by a blank line in this body get one too.
    let spaced = body.iter().skip(1).any(|s| {
        matches!(s, Structure::Block(b) if b.decor().prefix().is_some_and(|p| p.starts_with('\n')))
    });
    let mut block = match label {
        Some(label) => Block::builder(Decorated::new(Ident::new(ident))).label(label).build(),
        None => Block::new(Decorated::new(Ident::new(ident))),
    };
    let prefix = if spaced { format!("\n{indent}") } else { indent.clone() };
    block.decor_mut().set_prefix(prefix);
    block.body.decor_mut().set_suffix(indent);
    let at = at.unwrap_or(body.len()).min(body.len());
    body.insert(at, block);
    match body.get_mut(at).and_then(Structure::as_block_mut) {
        Some(block) => block,
        None => unreachable!("the block was inserted above"),
    }
}

/// The body's first unlabelled block `ident`, added (empty, laid out like its siblings)
/// when there is none.
fn child_block<'a>(body: &'a mut Body, ident: &str) -> &'a mut Block {
    if !body.blocks().any(|b| b.has_ident(ident)) {
        new_block(body, ident, None, None);
    }
    // Present: either found or just pushed.
    let position = body.iter().position(|s| matches!(s, Structure::Block(b) if b.has_ident(ident)));
    match position.and_then(|at| body.get_mut(at)).and_then(Structure::as_block_mut) {
        Some(block) => block,
        None => unreachable!("the block was pushed above"),
    }
}

/// Applies one edit to the body of the file's job block.
fn edit_job(job: &mut Body, edit: &Edit) -> Result<(), String> {
    match edit {
        Edit::SetMemory { group, task, memory_mb, memory_max_mb } => {
            let task = task_block(job, group, task)?;
            let resources = child_block(&mut task.body, "resources");
            check_literal(&resources.body, "memory")?;
            set_attribute(&mut resources.body, "memory", Expression::from(*memory_mb));
            if let Some(max) = memory_max_mb {
                check_literal(&resources.body, "memory_max")?;
                set_attribute(&mut resources.body, "memory_max", Expression::from(*max));
            }
        }
        Edit::PortToDynamic { group, label, to } => {
            let group = block_mut(job, "group", group)?;
            let mut done = false;
            for network in group.body.blocks_mut().filter(|b| b.has_ident("network")) {
                if let Ok(port) = block_mut(&mut network.body, "port", label) {
                    port.body.remove_attribute("static");
                    if !port.body.has_attribute("to") {
                        set_attribute(&mut port.body, "to", Expression::from(*to));
                    }
                    done = true;
                }
            }
            if !done {
                return Err(format!("has no port \"{label}\" in a network block"));
            }
        }
        Edit::RemoveConstraint { group, task, constraint } => {
            let body = if group.is_empty() {
                job
            } else if task.is_empty() {
                &mut block_mut(job, "group", group)?.body
            } else {
                &mut task_block(job, group, task)?.body
            };
            remove_constraint(body, constraint)?;
        }
        Edit::SetHealthyDeadline { group, healthy_deadline, progress_deadline } => {
            let holder =
                if group.is_empty() { job } else { &mut block_mut(job, "group", group)?.body };
            let update = child_block(holder, "update");
            set_attribute(
                &mut update.body,
                "healthy_deadline",
                Expression::from(duration(*healthy_deadline)),
            );
            if let Some(progress) = progress_deadline {
                set_attribute(
                    &mut update.body,
                    "progress_deadline",
                    Expression::from(duration(*progress)),
                );
            }
        }
        Edit::SetCheckPath { group, old_path, new_path } => {
            set_check_path(block_mut(job, "group", group)?, old_path, new_path)?;
        }
        Edit::SetCpu { group, task, cpu_mhz } => {
            let task = task_block(job, group, task)?;
            let resources = child_block(&mut task.body, "resources");
            check_literal(&resources.body, "cpu")?;
            set_attribute(&mut resources.body, "cpu", Expression::from(*cpu_mhz));
        }
        Edit::SetImage { group, task, image } => {
            let task = task_block(job, group, task)?;
            let config = child_block(&mut task.body, "config");
            check_string(&config.body, "image")?;
            set_attribute(&mut config.body, "image", string_expression(image));
        }
        Edit::SetEnv { group, task, name, value } => {
            let task = task_block(job, group, task)?;
            if let Some(attr) = task.body.get_attribute("env") {
                return Err(format!(
                    "sets env of task \"{}\" as an expression ({}); add {name} by hand",
                    task.labels.first().map(|l| l.as_str()).unwrap_or_default(),
                    expression_text(&attr.value)
                ));
            }
            Ident::try_new(name.as_str())
                .map_err(|_| format!("cannot hold `{name}` as an env block attribute"))?;
            let env = child_block(&mut task.body, "env");
            check_string(&env.body, name)?;
            set_attribute(&mut env.body, name, string_expression(value));
        }
        Edit::SetPortTo { group, label, to } => {
            set_port_to(block_mut(job, "group", group)?, label, *to)?;
        }
        Edit::SetCount { group, count } => {
            let group = block_mut(job, "group", group)?;
            if group.body.has_attribute("count") {
                check_literal(&group.body, "count")?;
                set_attribute(&mut group.body, "count", Expression::from(*count));
            } else {
                // The count reads first in a group, as `nomad fmt`'d files have it.
                let mut attribute =
                    Attribute::new(Decorated::new(Ident::new("count")), Expression::from(*count));
                attribute.decor_mut().set_prefix(child_indent(&group.body));
                group.body.insert(0, attribute);
            }
        }
        Edit::AddConstraint { group, constraint } => {
            add_constraint(block_mut(job, "group", group)?, constraint);
        }
    }
    Ok(())
}

/// The block of task `task` in group `group`.
fn task_block<'a>(job: &'a mut Body, group: &str, task: &str) -> Result<&'a mut Block, String> {
    block_mut(&mut block_mut(job, "group", group)?.body, "task", task)
}

/// Removes the `constraint` block of a job, group or task body that says `constraint`.
fn remove_constraint(body: &mut Body, constraint: &ConstraintText) -> Result<(), String> {
    let matches = |block: &Block| {
        let text = |key: &str| {
            block.body.get_attribute(key).map(|a| expression_text(&a.value)).unwrap_or_default()
        };
        let operator =
            Some(text("operator")).filter(|o| !o.is_empty()).unwrap_or_else(|| "=".into());
        block.has_ident("constraint")
            && text("attribute") == constraint.attribute
            && text("value") == constraint.value
            && operator == constraint.operator
    };
    let at = body
        .iter()
        .position(|s| matches!(s, Structure::Block(b) if matches(b)))
        .ok_or_else(|| format!("has no constraint block for `{}`", constraint.nomad_key()))?;
    body.remove(at);
    Ok(())
}

/// Sets the path of the group's and its tasks' service checks on `old_path`.
fn set_check_path(group: &mut Block, old_path: &str, new_path: &str) -> Result<(), String> {
    let mut done = false;
    let mut visit = |services: &mut Body| {
        for service in services.blocks_mut().filter(|b| b.has_ident("service")) {
            for check in service.body.blocks_mut().filter(|b| b.has_ident("check")) {
                let path = check.body.get_attribute("path").map(|a| expression_text(&a.value));
                if path.as_deref() == Some(old_path) {
                    set_attribute(&mut check.body, "path", Expression::from(new_path));
                    done = true;
                }
            }
        }
    };
    visit(&mut group.body);
    for task in group.body.blocks_mut().filter(|b| b.has_ident("task")) {
        visit(&mut task.body);
    }
    if !done {
        return Err(format!("has no check with path {old_path}"));
    }
    Ok(())
}

/// Sets `to` of the group's port `label`, adding the port (and a network block) when the
/// group has none.
fn set_port_to(group: &mut Block, label: &str, to: i64) -> Result<(), String> {
    let mut done = false;
    for network in group.body.blocks_mut().filter(|b| b.has_ident("network")) {
        if let Ok(port) = block_mut(&mut network.body, "port", label) {
            check_literal(&port.body, "to")?;
            set_attribute(&mut port.body, "to", Expression::from(to));
            done = true;
            break;
        }
    }
    if !done {
        if !group.body.blocks().any(|b| b.has_ident("network")) {
            // A new network block reads before the tasks that use its ports.
            let first_task = group
                .body
                .iter()
                .position(|s| matches!(s, Structure::Block(b) if b.has_ident("task")));
            new_block(&mut group.body, "network", None, first_task);
        }
        let network = child_block(&mut group.body, "network");
        let port = new_block(&mut network.body, "port", Some(label), None);
        set_attribute(&mut port.body, "to", Expression::from(to));
    }
    Ok(())
}

/// Adds a constraint block to a group, next to its constraints, else before its first block.
fn add_constraint(group: &mut Block, constraint: &ConstraintText) {
    let at = group
        .body
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s, Structure::Block(b) if b.has_ident("constraint")))
        .last()
        .map(|(last, _)| last + 1)
        .or_else(|| group.body.iter().position(|s| matches!(s, Structure::Block(_))));
    let block = new_block(&mut group.body, "constraint", None, at);
    let mut attributes = vec![("attribute", string_expression(&constraint.attribute))];
    if constraint.operator != "=" {
        attributes.push(("operator", string_expression(&constraint.operator)));
    }
    attributes.push(("value", string_expression(&constraint.value)));
    // Aligned on `=`, as `nomad fmt` lays out a block's attributes.
    let width = attributes.iter().map(|(key, _)| key.len()).max().unwrap_or_default();
    for (key, value) in attributes {
        set_attribute(&mut block.body, key, value);
        if let Some(mut attribute) = block.body.get_attribute_mut(key) {
            let padding = " ".repeat(width - key.len() + 1);
            attribute.key_decor_mut().set_suffix(padding);
        }
    }
}

/// A string value for the file: one of Nomad's runtime references on its own
/// (`${attr.kernel.name}`, `${NOMAD_PORT_http}`) is written as the interpolation Nomad's
/// documentation shows, anything else as a quoted literal whose `${` is escaped. Both read
/// back as the same text.
fn string_expression(value: &str) -> Expression {
    static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^\$\{(?:(?:attr|node|meta)(?:\.[A-Za-z0-9_-]+)+|NOMAD_[A-Za-z0-9_]+)\}$")
            .unwrap_or_else(|_| unreachable!("fixed pattern"))
    });
    if REFERENCE.is_match(value) {
        if let Ok(template) = format!("\"{value}\"").parse::<Expression>() {
            return template;
        }
    }
    Expression::from(value)
}

/// Refuses to overwrite a string computed by an expression or template (`var.image`,
/// `"app:${var.tag}"`): the fix belongs where the value comes from.
fn check_string(body: &Body, key: &str) -> Result<(), String> {
    match body.get_attribute(key) {
        Some(attr) if attr.value.as_str().is_none() => Err(format!(
            "{key} is set by an expression ({}); change its source by hand",
            expression_text(&attr.value)
        )),
        _ => Ok(()),
    }
}

/// Refuses to overwrite an attribute computed by an expression (`var.memory`): the fix
/// belongs where the value comes from, which only the user knows.
fn check_literal(body: &Body, key: &str) -> Result<(), String> {
    match body.get_attribute(key) {
        Some(attr) if !attr.value.is_number() => Err(format!(
            "{key} is set by an expression ({}); change its source by hand",
            expression_text(&attr.value)
        )),
        _ => Ok(()),
    }
}
