//! `JobSpec` → HCL job file text, in canonical layout, meaning exactly the model.
//!
//! The document is built as hcl-rs structures (`Body`, `Block`, `Attribute`, `Expression`) and
//! serialized by hcl-rs, then aligned by `jobspec::format::format_hcl`. Text is never pasted
//! together, so a value can never become structure:
//!
//! - plain strings go through hcl-rs, which escapes quotes, newlines, `${` and `%{`;
//! - Nomad runtime references inside a string (`${NOMAD_PORT_http}`, `${attr.cpu.arch}`,
//!   `${node.datacenter}`, `${meta.x}`) become real template interpolations, the text around
//!   them escaped here with the same rules (Nomad keeps both forms as the same literal in its
//!   API JSON, so this only keeps them readable);
//! - template data becomes a heredoc when it can be one exactly (ends with a newline, no
//!   carriage returns), with a delimiter that does not occur in it, else a quoted string.
//!
//! The Terraform mode (`RenderOptions::terraform_variables`) turns the finished job file into
//! a `templatefile` template: every `${`/`%{` of the job becomes `$${`/`%%{` (so text escaped
//! for HCL, `$${`, becomes `$$${`, which Terraform gives back as `$${`), and only the named
//! template variables stay live.
//!
//! Files also carry a header saying they are generated, with a checksum of the job text, so
//! `generate` can tell its own untouched output from a file a person wrote or edited
//! (`Provenance`).

use std::cell::RefCell;
use std::collections::BTreeMap;

use hcl::expr::{Heredoc, HeredocStripMode, TemplateExpr};
use hcl::format::Format;
use hcl::{Block, Body, Expression, Identifier, Object, ObjectKey, Structure};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{
    Affinity, Check, Constraint, Diagnostic, JobSpec, Nanos, Network, Resources, Service, Task,
    TaskGroup, Template, UpdateStrategy,
};

/// How a job is written out.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// Terraform `templatefile` variables that stay live (`datacenter` keeps
    /// `"${datacenter}"`); empty for a plain job file.
    pub terraform_variables: Vec<String>,
    /// Where the job came from, for the header (`examples/shop`); no header when `None`.
    pub generated_from: Option<String>,
    /// Where its ports and templates came from: each a `# from ...` line above the block.
    pub origins: Vec<Origin>,
}

/// Where one block of a job came from, written as a comment line above it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The group the block is in.
    pub group: String,
    /// The task, for a block inside one (a template).
    pub task: Option<String>,
    /// Which block.
    pub place: Place,
    /// Where it came from (`compose.yaml:12`, `proxy/nginx.conf (compose.yaml:39)`).
    pub from: String,
}

/// A block of a group that an [`Origin`] comments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// The group network's `port "LABEL"`.
    Port(String),
    /// The task's `template` with this `destination`.
    Template(String),
}

/// Why a job cannot be written out.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RenderError {
    /// Neither `ID` nor `Name` is set.
    #[error("the job has neither an ID nor a name")]
    MissingJobId,
    /// A map key that HCL can only write as an attribute name is not one.
    #[error("{context}: `{key}` cannot be written as an HCL attribute name")]
    InvalidKey {
        /// Where the key is (`task "api" env`).
        context: String,
        /// The key.
        key: String,
    },
    /// hcl-rs failed to serialize the document.
    #[error("cannot serialize the job: {0}")]
    Serialize(String),
    /// The formatting pass rejected the text.
    #[error("formatting the job failed: {0}")]
    Format(Diagnostic),
}

/// The first line of every generated file (the analyzer recognises it and never reads such a
/// file back as evidence).
pub const HEADER_MARKER: &str = crate::analyze::descriptors::nomad::GENERATED_MARKER;
const CHECKSUM_PREFIX: &str = "# nomad-spec checksum: sha256:";

/// Renders a job as the text of a job file (with the header when `generated_from` is set).
pub fn render_job(job: &JobSpec, options: &RenderOptions) -> Result<String, RenderError> {
    let file = job.id_or_name().map(|id| format!("{id}.nomad.hcl")).unwrap_or_default();
    // A sentinel stands for each Terraform variable while hcl-rs and the formatter run, so
    // that the final escaping pass can tell it from the job's own `${`.
    let mut salt = 0;
    let text = loop {
        let renderer = Renderer::new(&options.terraform_variables, salt);
        let body = renderer.job(job)?;
        let mut formatter = hcl::format::Formatter::builder().compact_arrays(true).build_vec();
        let text = body
            .format_string(&mut formatter)
            .map_err(|err| RenderError::Serialize(err.to_string()))?;
        let text = close_empty_blocks(&text);
        let text = super::format::format_hcl(&text, &file).map_err(RenderError::Format)?;
        let text = annotate(&text, &options.origins);
        let used = renderer.sentinels_used.borrow().clone();
        if renderer.sentinel_collides(&text, &used) {
            salt += 1;
            continue;
        }
        break if options.terraform_variables.is_empty() {
            text
        } else {
            let mut escaped = text.replace("${", "$${").replace("%{", "%%{");
            for (sentinel, variable) in used {
                escaped = escaped.replace(&sentinel, &format!("${{{variable}}}"));
            }
            escaped
        };
    };
    Ok(match &options.generated_from {
        Some(from) => with_header(&text, from),
        None => text,
    })
}

/// Puts each origin's `# from ...` line above its block. The text is the formatter's, so it
/// parses; were it ever not to, the job is still right without its comments.
fn annotate(text: &str, origins: &[Origin]) -> String {
    use hcl_edit::structure::{Block as EditBlock, Body as EditBody};
    use hcl_edit::Decorate as _;

    if origins.is_empty() {
        return text.to_string();
    }
    let Ok(mut body) = text.parse::<EditBody>() else {
        return text.to_string();
    };
    let labelled = |block: &EditBlock, ident: &str, label: &str| {
        block.has_ident(ident) && block.labels.first().map(|l| l.as_str()) == Some(label)
    };
    // The comment takes the block's own indent, after the blank line the formatter put there.
    let remark = |block: &mut EditBlock, from: &str| {
        let prefix = block.decor().prefix().map(|p| p.to_string()).unwrap_or_default();
        let indent = prefix.rsplit('\n').next().unwrap_or_default().to_string();
        block.decor_mut().set_prefix(format!("{prefix}# from {}\n{indent}", comment_safe(from)));
    };
    for job in body.blocks_mut().filter(|b| b.has_ident("job")) {
        for group in job.body.blocks_mut().filter(|b| b.has_ident("group")) {
            let name = group.labels.first().map(|l| l.as_str().to_string()).unwrap_or_default();
            let mine: Vec<&Origin> = origins.iter().filter(|o| o.group == name).collect();
            for network in group.body.blocks_mut().filter(|b| b.has_ident("network")) {
                for port in network.body.blocks_mut() {
                    let origin = mine.iter().find(|o| match &o.place {
                        Place::Port(label) => labelled(port, "port", label),
                        Place::Template(_) => false,
                    });
                    if let Some(origin) = origin {
                        remark(port, &origin.from);
                    }
                }
            }
            for task in group.body.blocks_mut().filter(|b| b.has_ident("task")) {
                let task_name = task.labels.first().map(|l| l.as_str().to_string());
                for template in task.body.blocks_mut().filter(|b| b.has_ident("template")) {
                    let destination = template
                        .body
                        .get_attribute("destination")
                        .and_then(|a| a.value.as_str().map(str::to_string));
                    let origin = mine.iter().find(|o| {
                        o.task == task_name
                            && matches!(&o.place, Place::Template(d) if Some(d) == destination.as_ref())
                    });
                    if let Some(origin) = origin {
                        remark(template, &origin.from);
                    }
                }
            }
        }
    }
    body.to_string()
}

/// Text a comment line can carry: one line, and nothing a Terraform template reads.
fn comment_safe(text: &str) -> String {
    text.chars().map(|c| if c.is_control() || c == '$' || c == '%' { '_' } else { c }).collect()
}

/// hcl-rs writes an empty block as `vault {    }` (the indent of a body that never came);
/// `nomad fmt` writes `vault {}`. Heredoc bodies are skipped: their lines are data.
fn close_empty_blocks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut heredoc_end: Option<String> = None;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches('\n');
        if let Some(end) = &heredoc_end {
            if content.trim() == end {
                heredoc_end = None;
            }
            out.push_str(line);
            continue;
        }
        if let Some((_, delimiter)) = content.rsplit_once("<<") {
            if delimiter.starts_with("EOT") && !delimiter.contains(['"', ' ']) {
                heredoc_end = Some(delimiter.to_string());
            }
        }
        match content.strip_suffix('}').map(str::trim_end) {
            Some(open) if open.ends_with('{') && open.len() + 1 < content.len() => {
                out.push_str(open);
                out.push('}');
                out.push_str(&line[content.len()..]);
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// Whether a job file on disk may be replaced by a new generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provenance {
    /// Written by nomad-spec and unchanged since.
    Generated,
    /// Written by nomad-spec, then edited (the checksum no longer matches).
    Edited,
    /// Not written by nomad-spec (no header).
    Foreign,
}

/// Tells generated, edited and foreign job files apart.
pub fn provenance(text: &str) -> Provenance {
    if !text.starts_with(HEADER_MARKER) {
        return Provenance::Foreign;
    }
    let Some(start) = text.find(CHECKSUM_PREFIX) else {
        return Provenance::Edited;
    };
    let rest = &text[start + CHECKSUM_PREFIX.len()..];
    let Some((recorded, body)) = rest.split_once('\n') else {
        return Provenance::Edited;
    };
    let body = body.strip_prefix('\n').unwrap_or(body);
    if checksum(body) == recorded.trim() {
        Provenance::Generated
    } else {
        Provenance::Edited
    }
}

fn with_header(text: &str, from: &str) -> String {
    // A comment line cannot be broken out of, but a Terraform template still reads `${` in it.
    let from: String = from
        .chars()
        .map(|c| if c.is_alphanumeric() || " -_./`".contains(c) { c } else { '_' })
        .collect();
    format!(
        "{HEADER_MARKER} from {from}; regenerate with `nomad-spec generate`.\n\
         # Edit freely: nomad-spec will not overwrite this file once it changes.\n\
         {CHECKSUM_PREFIX}{}\n\n{text}",
        checksum(text)
    )
}

fn checksum(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Formats nanoseconds the way job files write durations (`30s`, `1m30s`, `250ms`).
pub fn duration(nanos: Nanos) -> String {
    const MS: i64 = 1_000_000;
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    let second = super::SECOND as u64;
    if n == 0 {
        return "0s".to_string();
    }
    if n % second != 0 {
        return if n % MS as u64 == 0 {
            format!("{sign}{}ms", n / MS as u64)
        } else if n % 1000 == 0 {
            format!("{sign}{}us", n / 1000)
        } else {
            format!("{sign}{n}ns")
        };
    }
    let seconds = n / second;
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let mut text = sign.to_string();
    for (value, unit) in [(h, "h"), (m, "m"), (s, "s")] {
        if value > 0 {
            text.push_str(&format!("{value}{unit}"));
        }
    }
    text
}

/// Docker `config` keys that job files write as blocks rather than map attributes.
const CONFIG_BLOCKS: &[&str] = &["auth", "logging", "mount", "labels", "ulimit"];

struct Renderer<'a> {
    terraform_variables: &'a [String],
    salt: u32,
    /// (sentinel, variable) pairs placed in the document.
    sentinels_used: RefCell<Vec<(String, String)>>,
}

/// A block body under construction.
#[derive(Default)]
struct Items(Vec<Structure>);

impl Items {
    fn attr(&mut self, key: &str, expr: impl Into<Expression>) {
        self.0.push(Structure::Attribute(hcl::Attribute::new(Identifier::unchecked(key), expr)));
    }

    fn block(&mut self, block: Block) {
        self.0.push(Structure::Block(block));
    }

    fn opt_bool(&mut self, key: &str, value: Option<bool>) {
        if let Some(value) = value {
            self.attr(key, value);
        }
    }

    fn opt_int(&mut self, key: &str, value: Option<i64>) {
        if let Some(value) = value {
            self.attr(key, value);
        }
    }

    fn opt_duration(&mut self, key: &str, value: Option<Nanos>) {
        if let Some(value) = value {
            self.attr(key, duration(value));
        }
    }

    fn into_block(self, name: &str, labels: &[&str]) -> Block {
        let mut builder = Block::builder(Identifier::unchecked(name));
        for label in labels {
            // Written pre-quoted for the same reason as `Renderer::string` (labels are literals
            // with the same `$${`/`%%{` escapes).
            let quoted = format!("\"{}\"", escape_quoted_literal(label));
            builder = builder.add_label(hcl::BlockLabel::Identifier(Identifier::unchecked(quoted)));
        }
        builder.add_structures(self.0).build()
    }
}

impl<'a> Renderer<'a> {
    fn new(terraform_variables: &'a [String], salt: u32) -> Self {
        Renderer { terraform_variables, salt, sentinels_used: RefCell::new(Vec::new()) }
    }

    fn sentinel_collides(&self, text: &str, used: &[(String, String)]) -> bool {
        used.iter().any(|(sentinel, _)| {
            text.matches(sentinel.as_str()).count()
                != used.iter().filter(|(other, _)| other == sentinel).count()
        })
    }

    /// A string value, its runtime references kept as interpolations.
    ///
    /// The quoted text is escaped here rather than by hcl-rs: hcl-rs 0.20 leaves `%%{` and
    /// `$${` unescaped when they follow another marker in the same string, which would change
    /// the value (`%%{` reads back as `%{`).
    fn string(&self, value: &str) -> Expression {
        self.string_in(value, false)
    }

    /// Like `string`, and the Terraform variables stay live too (only the job's datacenters:
    /// anywhere else `${datacenter}` is text like any other).
    fn string_in(&self, value: &str, terraform: bool) -> Expression {
        let mut raw = String::new();
        for piece in self.split_references(value, terraform) {
            match piece {
                Piece::Literal(text) => raw.push_str(&escape_quoted_literal(&text)),
                Piece::Reference(reference) => {
                    raw.push_str("${");
                    raw.push_str(&reference);
                    raw.push('}');
                }
            }
        }
        Expression::TemplateExpr(Box::new(TemplateExpr::QuotedString(raw)))
    }

    /// Splits a value into literal text and runtime references. A reference right after a
    /// `$` stays literal: `$${` would read as an escape.
    fn split_references(&self, value: &str, terraform: bool) -> Vec<Piece> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = value;
        while let Some(start) = rest.find("${") {
            let (before, from) = rest.split_at(start);
            literal.push_str(before);
            let after_dollar = literal.ends_with('$');
            let reference = from[2..].find('}').map(|end| &from[2..2 + end]);
            match reference {
                Some(reference) if !after_dollar && is_runtime_reference(reference) => {
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Reference(reference.to_string()));
                    rest = &from[reference.len() + 3..];
                }
                Some(reference)
                    if terraform
                        && !after_dollar
                        && self.terraform_variables.iter().any(|v| v == reference) =>
                {
                    literal.push_str(&self.sentinel(reference));
                    rest = &from[reference.len() + 3..];
                }
                _ => {
                    literal.push_str("${");
                    rest = &from[2..];
                }
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() || pieces.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        pieces
    }

    fn sentinel(&self, variable: &str) -> String {
        let mut used = self.sentinels_used.borrow_mut();
        let sentinel = format!("__nomad_spec_tf{}_{}__", self.salt, used.len());
        used.push((sentinel.clone(), variable.to_string()));
        sentinel
    }

    fn strings(&self, values: &[String]) -> Expression {
        Expression::Array(values.iter().map(|v| self.string(v)).collect())
    }

    fn opt_string(&self, items: &mut Items, key: &str, value: Option<&String>) {
        if let Some(value) = value {
            items.attr(key, self.string(value));
        }
    }

    fn job(&self, job: &JobSpec) -> Result<Body, RenderError> {
        let id = job.id_or_name().ok_or(RenderError::MissingJobId)?;
        let mut items = Items::default();
        if job.name.as_deref().is_some_and(|name| name != id) {
            self.opt_string(&mut items, "name", job.name.as_ref());
        }
        self.opt_string(&mut items, "type", job.r#type.as_ref());
        self.opt_string(&mut items, "region", job.region.as_ref());
        self.opt_string(&mut items, "namespace", job.namespace.as_ref());
        if let Some(datacenters) = &job.datacenters {
            let list = datacenters.iter().map(|d| self.string_in(d, true)).collect();
            items.attr("datacenters", Expression::Array(list));
        }
        self.opt_string(&mut items, "node_pool", job.node_pool.as_ref());
        items.opt_int("priority", job.priority);
        items.opt_bool("all_at_once", job.all_at_once);
        self.constraints(&mut items, job.constraints.as_deref());
        self.affinities(&mut items, job.affinities.as_deref());
        if let Some(update) = &job.update {
            items.block(self.update(update));
        }
        if let Some(meta) = &job.meta {
            items.block(self.string_map("meta", meta, &format!("job \"{id}\" meta"))?);
        }
        for group in job.groups() {
            items.block(self.group(group)?);
        }
        // ID-less fields Nomad sets (versions, status) have no job file form.
        Ok(Body::builder().add_block(items.into_block("job", &[id])).build())
    }

    fn constraints(&self, items: &mut Items, constraints: Option<&[Constraint]>) {
        for constraint in constraints.unwrap_or_default() {
            let mut block = Items::default();
            self.opt_string(&mut block, "attribute", constraint.l_target.as_ref());
            self.opt_string(&mut block, "operator", constraint.operand.as_ref());
            self.opt_string(&mut block, "value", constraint.r_target.as_ref());
            items.block(block.into_block("constraint", &[]));
        }
    }

    fn affinities(&self, items: &mut Items, affinities: Option<&[Affinity]>) {
        for affinity in affinities.unwrap_or_default() {
            let mut block = Items::default();
            self.opt_string(&mut block, "attribute", affinity.l_target.as_ref());
            self.opt_string(&mut block, "operator", affinity.operand.as_ref());
            self.opt_string(&mut block, "value", affinity.r_target.as_ref());
            block.opt_int("weight", affinity.weight);
            items.block(block.into_block("affinity", &[]));
        }
    }

    fn update(&self, update: &UpdateStrategy) -> Block {
        let mut items = Items::default();
        items.opt_int("max_parallel", update.max_parallel);
        self.opt_string(&mut items, "health_check", update.health_check.as_ref());
        items.opt_duration("min_healthy_time", update.min_healthy_time);
        items.opt_duration("healthy_deadline", update.healthy_deadline);
        items.opt_duration("progress_deadline", update.progress_deadline);
        items.opt_bool("auto_revert", update.auto_revert);
        items.opt_bool("auto_promote", update.auto_promote);
        items.opt_int("canary", update.canary);
        items.opt_duration("stagger", update.stagger);
        items.into_block("update", &[])
    }

    fn string_map(
        &self,
        name: &str,
        map: &BTreeMap<String, String>,
        context: &str,
    ) -> Result<Block, RenderError> {
        let mut items = Items::default();
        for (key, value) in map {
            check_key(context, key)?;
            items.attr(key, self.string(value));
        }
        Ok(items.into_block(name, &[]))
    }

    fn group(&self, group: &TaskGroup) -> Result<Block, RenderError> {
        let mut items = Items::default();
        items.opt_int("count", group.count);
        self.constraints(&mut items, group.constraints.as_deref());
        self.affinities(&mut items, group.affinities.as_deref());
        for network in group.networks.as_deref().unwrap_or_default() {
            items.block(self.network(network));
        }
        for service in group.services.as_deref().unwrap_or_default() {
            items.block(self.service(service));
        }
        for (name, volume) in group.volumes.iter().flatten() {
            let mut block = Items::default();
            self.opt_string(&mut block, "type", volume.r#type.as_ref());
            self.opt_string(&mut block, "source", volume.source.as_ref());
            block.opt_bool("read_only", volume.read_only);
            self.opt_string(&mut block, "access_mode", volume.access_mode.as_ref());
            self.opt_string(&mut block, "attachment_mode", volume.attachment_mode.as_ref());
            block.opt_bool("per_alloc", volume.per_alloc);
            items.block(block.into_block("volume", &[name]));
        }
        if let Some(restart) = &group.restart_policy {
            let mut block = Items::default();
            block.opt_int("attempts", restart.attempts);
            block.opt_duration("interval", restart.interval);
            block.opt_duration("delay", restart.delay);
            self.opt_string(&mut block, "mode", restart.mode.as_ref());
            items.block(block.into_block("restart", &[]));
        }
        if let Some(reschedule) = &group.reschedule_policy {
            let mut block = Items::default();
            block.opt_int("attempts", reschedule.attempts);
            block.opt_duration("interval", reschedule.interval);
            block.opt_duration("delay", reschedule.delay);
            self.opt_string(&mut block, "delay_function", reschedule.delay_function.as_ref());
            block.opt_duration("max_delay", reschedule.max_delay);
            block.opt_bool("unlimited", reschedule.unlimited);
            items.block(block.into_block("reschedule", &[]));
        }
        if let Some(update) = &group.update {
            items.block(self.update(update));
        }
        if let Some(disk) = &group.ephemeral_disk {
            let mut block = Items::default();
            block.opt_bool("sticky", disk.sticky);
            block.opt_int("size", disk.size_mb);
            block.opt_bool("migrate", disk.migrate);
            items.block(block.into_block("ephemeral_disk", &[]));
        }
        if let Some(meta) = &group.meta {
            items.block(self.string_map(
                "meta",
                meta,
                &format!("group \"{}\" meta", group.name),
            )?);
        }
        for task in &group.tasks {
            items.block(self.task(task)?);
        }
        Ok(items.into_block("group", &[&group.name]))
    }

    fn network(&self, network: &Network) -> Block {
        let mut items = Items::default();
        self.opt_string(&mut items, "mode", network.mode.as_ref());
        let reserved = network.reserved_ports.iter().flatten().map(|port| (port, true));
        let dynamic = network.dynamic_ports.iter().flatten().map(|port| (port, false));
        for (port, is_static) in reserved.chain(dynamic) {
            let mut block = Items::default();
            if is_static {
                block.opt_int("static", port.value);
            }
            block.opt_int("to", port.to);
            self.opt_string(&mut block, "host_network", port.host_network.as_ref());
            items.block(block.into_block("port", &[&port.label]));
        }
        items.into_block("network", &[])
    }

    fn service(&self, service: &Service) -> Block {
        let mut items = Items::default();
        items.attr("name", self.string(&service.name));
        self.opt_string(&mut items, "port", service.port_label.as_ref());
        self.opt_string(&mut items, "provider", service.provider.as_ref());
        if let Some(tags) = &service.tags {
            items.attr("tags", self.strings(tags));
        }
        self.opt_string(&mut items, "address_mode", service.address_mode.as_ref());
        self.opt_string(&mut items, "task", service.task_name.as_ref());
        for check in service.checks.as_deref().unwrap_or_default() {
            items.block(self.check(check));
        }
        items.into_block("service", &[])
    }

    fn check(&self, check: &Check) -> Block {
        let mut items = Items::default();
        self.opt_string(&mut items, "name", check.name.as_ref());
        items.attr("type", self.string(&check.r#type));
        self.opt_string(&mut items, "port", check.port_label.as_ref());
        self.opt_string(&mut items, "path", check.path.as_ref());
        self.opt_string(&mut items, "method", check.method.as_ref());
        self.opt_string(&mut items, "protocol", check.protocol.as_ref());
        items.opt_duration("interval", check.interval);
        items.opt_duration("timeout", check.timeout);
        self.opt_string(&mut items, "grpc_service", check.grpc_service.as_ref());
        items.opt_bool("grpc_use_tls", check.grpc_use_tls);
        self.opt_string(&mut items, "command", check.command.as_ref());
        if let Some(args) = &check.args {
            items.attr("args", self.strings(args));
        }
        self.opt_string(&mut items, "task", check.task.as_ref());
        items.into_block("check", &[])
    }

    fn task(&self, task: &Task) -> Result<Block, RenderError> {
        let context = format!("task \"{}\"", task.name);
        let mut items = Items::default();
        items.attr("driver", self.string(&task.driver));
        self.opt_string(&mut items, "user", task.user.as_ref());
        items.opt_bool("leader", task.leader);
        items.opt_duration("kill_timeout", task.kill_timeout);
        self.opt_string(&mut items, "kill_signal", task.kill_signal.as_ref());
        if let Some(lifecycle) = &task.lifecycle {
            let mut block = Items::default();
            block.attr("hook", self.string(&lifecycle.hook));
            block.opt_bool("sidecar", lifecycle.sidecar);
            items.block(block.into_block("lifecycle", &[]));
        }
        self.constraints(&mut items, task.constraints.as_deref());
        if let Some(config) = &task.config {
            items.block(self.config(config, &format!("{context} config"))?);
        }
        for mount in task.volume_mounts.as_deref().unwrap_or_default() {
            let mut block = Items::default();
            self.opt_string(&mut block, "volume", mount.volume.as_ref());
            self.opt_string(&mut block, "destination", mount.destination.as_ref());
            block.opt_bool("read_only", mount.read_only);
            items.block(block.into_block("volume_mount", &[]));
        }
        if let Some(env) = &task.env {
            if env.keys().all(|key| hcl::Identifier::new(key.as_str()).is_ok()) {
                items.block(self.string_map("env", env, &format!("{context} env"))?);
            } else {
                // Names that are no HCL identifier (`discovery.type`) need Nomad's map form.
                let mut object = Object::new();
                for (key, value) in env {
                    if !key.split('.').all(|part| hcl::Identifier::new(part).is_ok()) {
                        return Err(RenderError::InvalidKey {
                            context: format!("{context} env"),
                            key: key.clone(),
                        });
                    }
                    let key = match Identifier::new(key.as_str()) {
                        Ok(ident) => ObjectKey::Identifier(ident),
                        Err(_) => ObjectKey::Expression(Expression::String(key.clone())),
                    };
                    object.insert(key, self.string(value));
                }
                items.attr("env", Expression::Object(object));
            }
        }
        if let Some(vault) = &task.vault {
            let mut block = Items::default();
            self.opt_string(&mut block, "role", vault.role.as_ref());
            if let Some(policies) = &vault.policies {
                block.attr("policies", self.strings(policies));
            }
            self.opt_string(&mut block, "namespace", vault.namespace.as_ref());
            self.opt_string(&mut block, "cluster", vault.cluster.as_ref());
            self.opt_string(&mut block, "change_mode", vault.change_mode.as_ref());
            self.opt_string(&mut block, "change_signal", vault.change_signal.as_ref());
            block.opt_bool("env", vault.env);
            items.block(block.into_block("vault", &[]));
        }
        for secret in task.secrets.as_deref().unwrap_or_default() {
            let mut block = Items::default();
            block.attr("provider", self.string(&secret.provider));
            block.attr("path", self.string(&secret.path));
            if let Some(config) = &secret.config {
                block.block(self.config(config, &format!("{context} secret config"))?);
            }
            if let Some(env) = &secret.env {
                block.block(self.string_map("env", env, &format!("{context} secret env"))?);
            }
            items.block(block.into_block("secret", &[&secret.name]));
        }
        for template in task.templates.as_deref().unwrap_or_default() {
            items.block(self.template(template));
        }
        for service in task.services.as_deref().unwrap_or_default() {
            items.block(self.service(service));
        }
        if let Some(resources) = &task.resources {
            items.block(resources_block(resources));
        }
        if let Some(meta) = &task.meta {
            items.block(self.string_map("meta", meta, &format!("{context} meta"))?);
        }
        Ok(items.into_block("task", &[&task.name]))
    }

    /// A driver `config` block; `image` leads because it is what a reader looks for first.
    fn config(
        &self,
        config: &BTreeMap<String, Value>,
        context: &str,
    ) -> Result<Block, RenderError> {
        let mut items = Items::default();
        let mut blocks = Vec::new();
        let mut keys: Vec<&String> = config.keys().collect();
        keys.sort_by_key(|key| (key.as_str() != "image", key.as_str()));
        for key in keys {
            check_key(context, key)?;
            let value = &config[key.as_str()];
            let as_blocks = CONFIG_BLOCKS.contains(&key.as_str());
            match value {
                Value::Object(object) if as_blocks => {
                    blocks.push(self.object_block(key, object, context)?);
                }
                Value::Array(list) if as_blocks && list.iter().all(Value::is_object) => {
                    for object in list.iter().filter_map(Value::as_object) {
                        blocks.push(self.object_block(key, object, context)?);
                    }
                }
                _ => items.attr(key, self.value(value)),
            }
        }
        // Attributes first, then blocks, as people write driver configs.
        for block in blocks {
            items.block(block);
        }
        Ok(items.into_block("config", &[]))
    }

    fn object_block(
        &self,
        name: &str,
        object: &serde_json::Map<String, Value>,
        context: &str,
    ) -> Result<Block, RenderError> {
        let mut items = Items::default();
        for (key, value) in object {
            check_key(&format!("{context} {name}"), key)?;
            match value {
                // `logging { config { ... } }` nests one more block level.
                Value::Object(inner) if name == "logging" && key == "config" => {
                    items.block(self.object_block(key, inner, context)?);
                }
                _ => items.attr(key, self.value(value)),
            }
        }
        Ok(items.into_block(name, &[]))
    }

    fn value(&self, value: &Value) -> Expression {
        match value {
            Value::Null => Expression::Null,
            Value::Bool(b) => Expression::Bool(*b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Expression::from(i)
                } else if let Some(u) = n.as_u64() {
                    Expression::from(u)
                } else {
                    n.as_f64().map_or(Expression::Null, Expression::from)
                }
            }
            Value::String(s) => self.string(s),
            Value::Array(list) => Expression::Array(list.iter().map(|v| self.value(v)).collect()),
            Value::Object(object) => {
                let mut out = Object::new();
                for (key, value) in object {
                    let key = match Identifier::new(key.as_str()) {
                        Ok(ident) => ObjectKey::Identifier(ident),
                        Err(_) => ObjectKey::Expression(Expression::String(key.clone())),
                    };
                    out.insert(key, self.value(value));
                }
                Expression::Object(out)
            }
        }
    }

    fn template(&self, template: &Template) -> Block {
        let mut items = Items::default();
        if let Some(data) = &template.embedded_tmpl {
            items.attr("data", template_data(data).unwrap_or_else(|| self.string(data)));
        }
        self.opt_string(&mut items, "source", template.source_path.as_ref());
        self.opt_string(&mut items, "destination", template.dest_path.as_ref());
        items.opt_bool("env", template.envvars);
        self.opt_string(&mut items, "change_mode", template.change_mode.as_ref());
        self.opt_string(&mut items, "change_signal", template.change_signal.as_ref());
        self.opt_string(&mut items, "left_delimiter", template.left_delim.as_ref());
        self.opt_string(&mut items, "right_delimiter", template.right_delim.as_ref());
        self.opt_string(&mut items, "perms", template.perms.as_ref());
        items.opt_duration("splay", template.splay);
        items.into_block("template", &[])
    }
}

enum Piece {
    Literal(String),
    Reference(String),
}

fn resources_block(resources: &Resources) -> Block {
    let mut items = Items::default();
    items.opt_int("cpu", resources.cpu);
    items.opt_int("cores", resources.cores);
    items.opt_int("memory", resources.memory_mb);
    items.opt_int("memory_max", resources.memory_max_mb);
    items.into_block("resources", &[])
}

fn check_key(context: &str, key: &str) -> Result<(), RenderError> {
    if hcl::Identifier::new(key).is_ok() {
        Ok(())
    } else {
        Err(RenderError::InvalidKey { context: context.to_string(), key: key.to_string() })
    }
}

/// Nomad's runtime variables: `NOMAD_*`, `attr.*`, `node.*`, `meta.*`, `secret.*.*`.
fn is_runtime_reference(reference: &str) -> bool {
    let mut parts = reference.split('.');
    let root = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    let is_ident = |part: &&str| {
        part.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    match root {
        _ if root.starts_with("NOMAD_") => rest.is_empty() && is_ident(&root),
        "attr" | "node" | "meta" => !rest.is_empty() && rest.iter().all(is_ident),
        // Nomad 1.11 `secret` blocks: `${secret.<name>.<key>}`.
        "secret" => rest.len() == 2 && rest.iter().all(is_ident),
        _ => false,
    }
}

/// Escapes literal text for the inside of a quoted HCL template.
fn escape_quoted_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Template data as a heredoc, when a heredoc can say exactly the same thing.
fn template_data(data: &str) -> Option<Expression> {
    if !data.ends_with('\n') || data.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return None;
    }
    let lines: Vec<&str> = data.lines().map(str::trim).collect();
    let delimiter = std::iter::once("EOT".to_string())
        .chain((1..).map(|n| format!("EOT{n}")))
        .find(|candidate| !lines.contains(&candidate.as_str()))?;
    let mut escaped = String::with_capacity(data.len());
    let mut chars = data.chars().peekable();
    while let Some(c) = chars.next() {
        escaped.push(c);
        if (c == '$' || c == '%') && chars.peek() == Some(&'{') {
            escaped.push(c);
        }
    }
    let heredoc = Heredoc {
        delimiter: Identifier::unchecked(delimiter),
        template: escaped,
        strip: HeredocStripMode::None,
    };
    Some(Expression::TemplateExpr(Box::new(TemplateExpr::Heredoc(heredoc))))
}

#[cfg(test)]
mod tests;
