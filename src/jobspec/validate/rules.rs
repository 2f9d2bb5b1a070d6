//! Nomad's semantic rules over a decoded job: required parts, allowed values, references
//! between parts (port labels, volumes), and sane bounds. Each finding points at the value
//! or block it is about. Values that depend on a variable with no value, or that Nomad fills
//! in at run time (`${...}`), are not judged.

use std::collections::HashSet;

use serde_json::Value;

use crate::jobspec::parse::{is_unknown, DecodedJob};
use crate::jobspec::{Diagnostic, Severity, SECOND};

/// Collects findings for one file.
struct Findings<'a> {
    file: &'a str,
    decoded: &'a DecodedJob,
    out: Vec<Diagnostic>,
}

impl Findings<'_> {
    fn push(&mut self, severity: Severity, pointer: &str, message: String) {
        let (line, column) = self.decoded.position(pointer);
        self.out.push(Diagnostic { file: self.file.to_owned(), line, column, severity, message });
    }

    fn error(&mut self, pointer: &str, message: impl Into<String>) {
        self.push(Severity::Error, pointer, message.into());
    }

    fn warning(&mut self, pointer: &str, message: impl Into<String>) {
        self.push(Severity::Warning, pointer, message.into());
    }

    /// Errors unless field `key` of `object` is one of `allowed` (or absent, or unknown).
    fn one_of(&mut self, object: &Value, path: &str, key: &str, what: &str, allowed: &[&str]) {
        if let Some(value) = text(object, key) {
            if !allowed.contains(&value) {
                self.error(
                    &format!("{path}/{key}"),
                    format!("{what} {value:?} is not one of {}", quoted_list(allowed)),
                );
            }
        }
    }
}

/// The decoding findings of a job file followed by the rules' findings about its job.
pub(crate) fn check_decoded(decoded: &DecodedJob, file: &str) -> Vec<Diagnostic> {
    let mut f = Findings { file, decoded, out: decoded.diagnostics.clone() };
    if let Some(job) = &decoded.job {
        check_job(&mut f, job);
    }
    f.out
}

/// A string field, unless it is unknown or a runtime interpolation.
fn text<'v>(object: &'v Value, key: &str) -> Option<&'v str> {
    match object.get(key) {
        Some(v @ Value::String(s)) if !is_unknown(v) && !s.contains("${") => Some(s),
        _ => None,
    }
}

fn int(object: &Value, key: &str) -> Option<i64> {
    object.get(key).and_then(Value::as_i64)
}

fn list<'v>(object: &'v Value, key: &str) -> &'v [Value] {
    object.get(key).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn name_of(object: &Value) -> &str {
    object.get("Name").and_then(Value::as_str).unwrap_or("")
}

fn quoted_list(items: &[&str]) -> String {
    items.iter().map(|i| format!("{i:?}")).collect::<Vec<_>>().join(", ")
}

fn seconds(nanos: i64) -> String {
    let s = nanos as f64 / SECOND as f64;
    if s.fract() == 0.0 {
        format!("{s}s")
    } else {
        format!("{s:.3}s")
    }
}

const ON_UPDATE: &[&str] = &["require_healthy", "ignore_warnings", "ignore"];
const JOB_TYPES: &[&str] = &["service", "batch", "system", "sysbatch"];
const CONSTRAINT_OPERATORS: &[&str] = &[
    "=",
    "==",
    "is",
    "!=",
    "not",
    ">",
    ">=",
    "<",
    "<=",
    "distinct_hosts",
    "distinct_property",
    "regexp",
    "set_contains",
    "set_contains_all",
    "set_contains_any",
    "version",
    "semver",
    "is_set",
    "is_not_set",
];
const AFFINITY_OPERATORS: &[&str] = &[
    "=",
    "==",
    "is",
    "!=",
    "not",
    ">",
    ">=",
    "<",
    "<=",
    "regexp",
    "set_contains",
    "set_contains_all",
    "set_contains_any",
    "version",
    "semver",
];

fn check_job(f: &mut Findings<'_>, job: &Value) {
    f.one_of(job, "", "Type", "job type", JOB_TYPES);
    let id = job.get("ID").and_then(Value::as_str).unwrap_or(&f.decoded.job_id);
    if id.contains(' ') {
        let pointer = if job.get("ID").is_some() { "/ID" } else { "" };
        f.error(pointer, format!("the job ID {id:?} contains a space; use dashes instead"));
    }
    if text(job, "Type") == Some("system") {
        for (key, block) in [("Affinities", "affinity"), ("Spreads", "spread")] {
            if !list(job, key).is_empty() {
                f.error(&format!("/{key}/0"), format!("a system job cannot have {block} blocks"));
            }
        }
    }
    if let Some(ui) = job.get("UI") {
        if let Some(description) = text(ui, "Description").filter(|d| d.chars().count() >= 1000) {
            f.error(
                "/UI/Description",
                format!(
                    "the ui description has {} characters; the limit is 999",
                    description.chars().count()
                ),
            );
        }
    }
    if let Some(priority) = int(job, "Priority") {
        if priority < 1 {
            f.error("/Priority", format!("priority {priority} is below 1; Nomad takes 1 to 100"));
        } else if priority > 100 {
            f.warning(
                "/Priority",
                format!("priority {priority} is above 100, the default maximum of a Nomad cluster"),
            );
        }
    }
    for (i, c) in list(job, "Constraints").iter().enumerate() {
        check_constraint(f, c, &format!("/Constraints/{i}"));
    }
    for (i, a) in list(job, "Affinities").iter().enumerate() {
        check_affinity(f, a, &format!("/Affinities/{i}"));
    }
    for (i, s) in list(job, "Spreads").iter().enumerate() {
        check_spread(f, s, &format!("/Spreads/{i}"));
    }
    if let Some(update) = job.get("Update") {
        check_update(f, update, "/Update");
    }
    if let Some(migrate) = job.get("Migrate") {
        check_migrate(f, migrate, "/Migrate");
    }
    if let Some(reschedule) = job.get("Reschedule") {
        check_reschedule(f, reschedule, "/Reschedule");
    }
    if let Some(periodic) = job.get("Periodic") {
        let has_cron = text(periodic, "Spec").is_some() || !list(periodic, "Specs").is_empty();
        let enabled = periodic.get("Enabled").and_then(Value::as_bool) != Some(false);
        if enabled && !has_cron && periodic.get("Spec").is_none() {
            f.error("/Periodic", "a periodic block needs `cron` (or `crons`): when to run the job");
        }
        let kind = match job.get("Type") {
            None => Some("service"),
            Some(_) => text(job, "Type"),
        };
        if let Some(kind) = kind {
            if kind == "service" || kind == "system" {
                f.error(
                    "/Periodic",
                    format!("a periodic job must be a batch or sysbatch job, not {kind:?}"),
                );
            }
        }
    }
    let groups = list(job, "TaskGroups");
    let tasks_alone = list(job, "Tasks");
    if groups.is_empty() && tasks_alone.is_empty() {
        f.error(
            "",
            "the job has no group: a job needs at least one \
             `group \"name\" { task \"name\" { ... } }`",
        );
    }
    let mut names = HashSet::new();
    for (i, group) in groups.iter().enumerate() {
        let path = format!("/TaskGroups/{i}");
        if !names.insert(name_of(group)) {
            f.error(
                &path,
                format!(
                    "there are two groups named {:?}; group names must be unique in a job",
                    name_of(group)
                ),
            );
        }
        check_group(f, group, &path, text(job, "Type").unwrap_or("service"), job.get("Update"));
    }
    for (i, task) in tasks_alone.iter().enumerate() {
        let path = format!("/Tasks/{i}");
        check_task(f, task, &path, &PortsInScope::default(), &Value::Null, None);
    }
}

fn check_constraint(f: &mut Findings<'_>, c: &Value, path: &str) {
    let Some(op) = text(c, "Operand") else { return };
    if !CONSTRAINT_OPERATORS.contains(&op) {
        f.error(
            &format!("{path}/Operand"),
            format!(
                "constraint operator {op:?} is not one of {}",
                quoted_list(CONSTRAINT_OPERATORS)
            ),
        );
        return;
    }
    let value = c.get("RTarget").and_then(Value::as_str).filter(|v| !v.is_empty());
    match op {
        "set_contains" | "set_contains_all" | "set_contains_any" | "=" | "==" | "is" | "!="
        | "not" | "<" | "<=" | ">" | ">="
            if value.is_none() =>
        {
            f.error(
                path,
                format!("a constraint with operator {op:?} needs `value`: what to compare with"),
            )
        }
        "is_set" | "is_not_set" if value.is_some() => f.error(
            &format!("{path}/RTarget"),
            format!("operator {op:?} takes no `value`: it only asks whether the attribute exists"),
        ),
        "distinct_property" => {
            if let Some(count) = text(c, "RTarget") {
                if count.parse::<u64>().map_or(true, |n| n < 1) {
                    f.error(
                        &format!("{path}/RTarget"),
                        format!(
                            "distinct_property allows a count of 1 or more as `value`, not \
                             {count:?}"
                        ),
                    );
                }
            }
        }
        "regexp" => {
            if let Some(pattern) = text(c, "RTarget") {
                if let Err(err) = regex::Regex::new(pattern) {
                    f.error(
                        &format!("{path}/RTarget"),
                        format!("the regular expression does not compile: {err}"),
                    );
                }
            }
        }
        _ => {}
    }
    if op == "distinct_hosts" {
        return;
    }
    match c.get("LTarget").and_then(Value::as_str) {
        None | Some("") => f.error(
            path,
            format!("a constraint with operator {op:?} needs `attribute`: what to compare"),
        ),
        Some(target) if !is_unknown(&Value::String(target.to_owned())) => {
            if let Some(problem) = constraint_target_problem(target) {
                f.error(&format!("{path}/LTarget"), problem);
            }
        }
        Some(_) => {}
    }
}

/// What Nomad's scheduler cannot resolve in a constraint attribute, if anything.
fn constraint_target_problem(target: &str) -> Option<String> {
    if !target.starts_with('$') {
        return None;
    }
    if !target.starts_with("${") || !target.ends_with('}') {
        return Some(format!(
            "the attribute {target:?} must be written `${{...}}`, such as \"${{attr.cpu.arch}}\""
        ));
    }
    const EXACT: &[&str] = &[
        "${node.unique.id}",
        "${node.datacenter}",
        "${node.unique.name}",
        "${node.class}",
        "${node.pool}",
    ];
    const PREFIXES: &[&str] = &["${attr.", "${device.", "${meta."];
    if EXACT.contains(&target) || PREFIXES.iter().any(|p| target.starts_with(p)) {
        return None;
    }
    Some(format!(
        "the attribute {target:?} is not one Nomad can resolve: use ${{attr.*}}, ${{meta.*}}, \
         ${{device.*}}, ${{node.unique.id}}, ${{node.unique.name}}, ${{node.datacenter}}, \
         ${{node.class}} or ${{node.pool}}"
    ))
}

fn check_affinity(f: &mut Findings<'_>, a: &Value, path: &str) {
    if let Some(op) = text(a, "Operand") {
        if !AFFINITY_OPERATORS.contains(&op) {
            f.error(
                &format!("{path}/Operand"),
                format!(
                    "affinity operator {op:?} is not one of {}",
                    quoted_list(AFFINITY_OPERATORS)
                ),
            );
        }
    }
    if a.get("LTarget").is_none() {
        f.error(path, "an affinity needs `attribute`: what to compare");
    }
    match int(a, "Weight") {
        Some(0) => f.error(
            &format!("{path}/Weight"),
            "an affinity weight of 0 has no effect; use -100 to 100, not 0",
        ),
        Some(w) if !(-100..=100).contains(&w) => f.error(
            &format!("{path}/Weight"),
            format!("affinity weight {w} is outside -100 to 100"),
        ),
        _ => {}
    }
}

fn check_spread(f: &mut Findings<'_>, s: &Value, path: &str) {
    if s.get("Attribute").is_none() {
        f.error(path, "a spread needs `attribute`: what to spread over");
    }
    if let Some(w) = int(s, "Weight") {
        if !(0..=100).contains(&w) {
            f.error(&format!("{path}/Weight"), format!("spread weight {w} is outside 0 to 100"));
        }
    }
    let total: i64 = list(s, "SpreadTarget").iter().filter_map(|t| int(t, "Percent")).sum();
    if total > 100 {
        f.error(path, format!("the spread targets add up to {total}%, more than 100%"));
    }
}

fn check_update(f: &mut Findings<'_>, u: &Value, path: &str) {
    f.one_of(u, path, "HealthCheck", "update health_check", &["checks", "task_states", "manual"]);
    for key in ["MaxParallel", "Canary"] {
        if let Some(n) = int(u, key).filter(|n| *n < 0) {
            f.error(
                &format!("{path}/{key}"),
                format!("{} must not be negative, found {n}", snake(key)),
            );
        }
    }
    let min = int(u, "MinHealthyTime");
    let deadline = int(u, "HealthyDeadline");
    let progress = int(u, "ProgressDeadline");
    if let (Some(min), Some(deadline)) = (min, deadline) {
        if min >= deadline {
            f.error(
                &format!("{path}/MinHealthyTime"),
                format!(
                    "min_healthy_time ({}) must be shorter than healthy_deadline ({})",
                    seconds(min),
                    seconds(deadline)
                ),
            );
        }
    }
    if let (Some(deadline), Some(progress)) = (deadline, progress) {
        if progress != 0 && deadline >= progress {
            f.error(
                &format!("{path}/HealthyDeadline"),
                format!(
                    "healthy_deadline ({}) must be shorter than progress_deadline ({})",
                    seconds(deadline),
                    seconds(progress)
                ),
            );
        }
    }
}

fn snake(key: &str) -> String {
    let mut out = String::new();
    for (i, c) in key.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.extend(c.to_lowercase());
    }
    out
}

fn check_migrate(f: &mut Findings<'_>, m: &Value, path: &str) {
    f.one_of(m, path, "HealthCheck", "migrate health_check", &["checks", "task_states"]);
}

fn check_reschedule(f: &mut Findings<'_>, r: &Value, path: &str) {
    f.one_of(
        r,
        path,
        "DelayFunction",
        "reschedule delay_function",
        &["constant", "exponential", "fibonacci"],
    );
    if let (Some(delay), Some(max)) = (int(r, "Delay"), int(r, "MaxDelay")) {
        if max < delay {
            f.error(
                &format!("{path}/MaxDelay"),
                format!("max_delay ({}) is shorter than delay ({})", seconds(max), seconds(delay)),
            );
        }
    }
}

fn check_restart(f: &mut Findings<'_>, r: &Value, path: &str) {
    f.one_of(r, path, "Mode", "restart mode", &["delay", "fail"]);
    if let Some(n) = int(r, "Attempts").filter(|n| *n < 0) {
        f.error(&format!("{path}/Attempts"), format!("attempts must not be negative, found {n}"));
    }
}

/// The port labels a task may reference: its group's network, plus its own legacy
/// `resources { network { ... } }` ports.
#[derive(Default, Clone)]
struct PortsInScope {
    labels: Vec<String>,
    /// Whether any network was declared at all (for the message).
    has_network: bool,
}

impl PortsInScope {
    fn knows(&self, label: &str) -> bool {
        self.labels.iter().any(|l| l == label)
    }

    fn describe(&self) -> String {
        if self.labels.is_empty() {
            "the group's network declares no ports".to_owned()
        } else {
            format!(
                "the group's network has {}",
                self.labels.iter().map(|l| format!("{l:?}")).collect::<Vec<_>>().join(", ")
            )
        }
    }
}

fn network_ports(f: &mut Findings<'_>, networks: &[Value], path: &str, scope: &mut PortsInScope) {
    for (n, network) in networks.iter().enumerate() {
        let npath = format!("{path}/{n}");
        scope.has_network = true;
        if let Some(mode) = text(network, "Mode") {
            if !matches!(mode, "host" | "bridge" | "none") && !mode.starts_with("cni/") {
                f.error(
                    &format!("{npath}/Mode"),
                    format!(
                        "network mode {mode:?} is not \"host\", \"bridge\", \"none\" or \
                         \"cni/<name>\""
                    ),
                );
            }
        }
        for key in ["ReservedPorts", "DynamicPorts"] {
            for (p, port) in list(network, key).iter().enumerate() {
                let ppath = format!("{npath}/{key}/{p}");
                let label = name_label(port);
                if scope.knows(&label) {
                    f.error(&ppath, format!("the port label {label:?} is declared twice"));
                }
                scope.labels.push(label.clone());
                if let Some(v) = int(port, "Value") {
                    if !(0..=65535).contains(&v) {
                        f.error(
                            &format!("{ppath}/Value"),
                            format!("static port {v} is outside 0 to 65535"),
                        );
                    }
                }
                if let Some(to) = int(port, "To") {
                    if !(-1..=65535).contains(&to) {
                        f.error(
                            &format!("{ppath}/To"),
                            format!("port `to` {to} is outside 0 to 65535"),
                        );
                    }
                }
            }
        }
    }
}

fn name_label(port: &Value) -> String {
    port.get("Label").and_then(Value::as_str).unwrap_or("").to_owned()
}

fn check_group(
    f: &mut Findings<'_>,
    group: &Value,
    path: &str,
    job_type: &str,
    job_update: Option<&Value>,
) {
    // Nomad copies the job's update block into groups that do not set their own fields.
    let update_field = |key: &str| {
        group
            .get("Update")
            .and_then(|u| int(u, key))
            .or_else(|| job_update.and_then(|u| int(u, key)))
    };
    let name = name_of(group);
    if let Some(count) = int(group, "Count") {
        if count < 0 {
            f.error(&format!("{path}/Count"), format!("count must not be negative, found {count}"));
        }
        if count > 1 && job_type == "system" {
            f.error(
                &format!("{path}/Count"),
                format!("a system job runs one instance per node; count {count} must be 0 or 1"),
            );
        } else if count > 1 && job_type == "sysbatch" {
            f.warning(
                &format!("{path}/Count"),
                format!("a sysbatch job runs one instance per node; count {count} is ignored"),
            );
        }
    }
    if job_type == "system" {
        for (key, block) in [("Affinities", "affinity"), ("Spreads", "spread")] {
            if !list(group, key).is_empty() {
                f.error(
                    &format!("{path}/{key}/0"),
                    format!("a system job cannot have {block} blocks"),
                );
            }
        }
    }
    if group.get("Update").is_some() && !matches!(job_type, "service" | "system") {
        f.error(
            &format!("{path}/Update"),
            format!(
                "a {job_type} job cannot have an update block; it is for service and system jobs"
            ),
        );
    }
    if group.get("Migrate").is_some() && job_type != "service" {
        f.error(
            &format!("{path}/Migrate"),
            format!("a {job_type} job cannot have a migrate block; it is for service jobs"),
        );
    }
    if let Some(duration) = int(group, "MaxRunDuration") {
        if !matches!(job_type, "batch" | "sysbatch") {
            f.error(
                &format!("{path}/MaxRunDuration"),
                format!("max_run_duration is for batch and sysbatch jobs, not {job_type} jobs"),
            );
        } else if duration <= 0 {
            f.error(&format!("{path}/MaxRunDuration"), "max_run_duration must be longer than 0");
        }
    }
    if let Some(delay) = int(group, "ShutdownDelay").filter(|d| *d < 0) {
        f.error(
            &format!("{path}/ShutdownDelay"),
            format!("shutdown_delay must not be negative, found {}", seconds(delay)),
        );
    }
    for (i, c) in list(group, "Constraints").iter().enumerate() {
        check_constraint(f, c, &format!("{path}/Constraints/{i}"));
    }
    for (i, a) in list(group, "Affinities").iter().enumerate() {
        check_affinity(f, a, &format!("{path}/Affinities/{i}"));
    }
    for (i, s) in list(group, "Spreads").iter().enumerate() {
        check_spread(f, s, &format!("{path}/Spreads/{i}"));
    }
    for (key, check) in [
        ("RestartPolicy", check_restart as fn(&mut Findings<'_>, &Value, &str)),
        ("Update", check_update),
        ("Migrate", check_migrate),
        ("ReschedulePolicy", check_reschedule),
    ] {
        if let Some(block) = group.get(key) {
            check(f, block, &format!("{path}/{key}"));
        }
    }
    let networks = list(group, "Networks");
    if networks.len() > 1 {
        f.error(&format!("{path}/Networks/1"), "a group takes only one network block");
    }
    let mut ports = PortsInScope::default();
    network_ports(f, networks, &format!("{path}/Networks"), &mut ports);
    let task_names: Vec<&str> = list(group, "Tasks").iter().map(name_of).collect();
    let scope = ServiceScope { ports: &ports, task: None, group_tasks: &task_names };
    for (i, service) in list(group, "Services").iter().enumerate() {
        check_service(f, service, &format!("{path}/Services/{i}"), &scope);
    }
    check_services_are_distinct(f, group, path);
    let volumes = group.get("Volumes").and_then(Value::as_object);
    if let Some(volumes) = volumes {
        let use_of = VolumeUse {
            job_type,
            count: int(group, "Count").unwrap_or(1),
            canaries: update_field("Canary").unwrap_or(0),
        };
        for (label, volume) in volumes {
            check_volume(f, volume, &format!("{path}/Volumes/{label}"), &use_of);
        }
    }
    if let Some(scaling) = group.get("Scaling") {
        let spath = format!("{path}/Scaling");
        let (min, max) = (int(scaling, "Min"), int(scaling, "Max"));
        if max.is_none() && scaling.get("Max").is_none() {
            f.error(&spath, "a group scaling block needs `max`");
        }
        if let (Some(min), Some(max)) = (min, max) {
            if min > max {
                f.error(
                    &format!("{spath}/Min"),
                    format!("scaling min ({min}) is above max ({max})"),
                );
            }
        }
        if let Some(count) = int(group, "Count") {
            if min.is_some_and(|m| count < m) || max.is_some_and(|m| count > m) {
                f.error(
                    &format!("{path}/Count"),
                    format!(
                        "count {count} is outside the scaling range {} to {}",
                        min.unwrap_or(0),
                        max.unwrap_or(0)
                    ),
                );
            }
        }
    }
    if let Some(disk) = group.get("EphemeralDisk") {
        if let Some(size) = int(disk, "SizeMB").filter(|s| *s < 0) {
            f.error(
                &format!("{path}/EphemeralDisk/SizeMB"),
                format!("ephemeral_disk size must not be negative, found {size}"),
            );
        }
    }
    let tasks = list(group, "Tasks");
    // Nomad adds the task of a Consul gateway itself.
    let gateway = list(group, "Services")
        .iter()
        .any(|s| s.get("Connect").is_some_and(|c| c.get("Gateway").is_some()));
    if tasks.is_empty() && !gateway {
        f.error(
            path,
            format!(
                "group {name:?} has no task: a group needs at least one `task \"name\" {{ ... }}`"
            ),
        );
    }
    let main_task = |t: &Value| t.get("Lifecycle").is_none_or(|l| l.get("Hook").is_none());
    if !tasks.is_empty() && !tasks.iter().any(main_task) {
        f.error(
            path,
            format!(
                "group {name:?} has only lifecycle tasks; it needs a main task, one without a \
                 lifecycle hook"
            ),
        );
    }
    let mut names = HashSet::new();
    let mut leaders = 0;
    for (i, task) in tasks.iter().enumerate() {
        let tpath = format!("{path}/Tasks/{i}");
        if !names.insert(name_of(task)) {
            let message = format!(
                "there are two tasks named {:?} in group {name:?}; task names must be unique in \
                 a group",
                name_of(task)
            );
            f.error(&tpath, message);
        }
        if task.get("Leader").and_then(Value::as_bool) == Some(true) {
            leaders += 1;
            if leaders == 2 {
                f.error(
                    &format!("{tpath}/Leader"),
                    format!("group {name:?} has more than one leader task"),
                );
            }
        }
        check_task(f, task, &tpath, &ports, group, update_field("ProgressDeadline"));
    }
}

/// How a group uses its volumes, which decides what their access modes allow.
struct VolumeUse<'a> {
    job_type: &'a str,
    count: i64,
    canaries: i64,
}

fn check_volume(f: &mut Findings<'_>, v: &Value, path: &str, use_of: &VolumeUse<'_>) {
    let kind = text(v, "Type");
    f.one_of(v, path, "Type", "volume type", &["host", "csi"]);
    if v.get("Source").is_none() {
        f.error(
            path,
            format!("volume {:?} needs `source`: the host volume or CSI volume to use", name_of(v)),
        );
    }
    let flag = |key: &str| v.get(key).and_then(Value::as_bool) == Some(true);
    let (per_alloc, read_only) = (flag("PerAlloc"), flag("ReadOnly"));
    if per_alloc {
        if matches!(use_of.job_type, "system" | "sysbatch") {
            f.error(
                &format!("{path}/PerAlloc"),
                "a volume cannot be per_alloc in a system or sysbatch job",
            );
        }
        if use_of.canaries > 0 {
            f.error(
                &format!("{path}/PerAlloc"),
                "a volume cannot be per_alloc when the update uses canaries",
            );
        }
        if flag("Sticky") {
            f.error(&format!("{path}/PerAlloc"), "a volume cannot be per_alloc and sticky at once");
        }
    }
    let access = text(v, "AccessMode");
    match kind {
        Some("host") => {
            if v.get("MountOptions").is_some() {
                f.error(&format!("{path}/MountOptions"), "host volumes take no mount_options");
            }
            match access {
                Some("single-node-reader-only") if !read_only => f.error(
                    &format!("{path}/AccessMode"),
                    "a single-node-reader-only volume must set read_only = true",
                ),
                None
                | Some(
                    "single-node-reader-only"
                    | "single-node-writer"
                    | "single-node-single-writer"
                    | "single-node-multi-writer",
                ) => {}
                Some(other) => f.error(
                    &format!("{path}/AccessMode"),
                    format!("host volumes cannot be mounted with access mode {other:?}"),
                ),
            }
        }
        Some("csi") => {
            const ACCESS: &[&str] = &[
                "single-node-reader-only",
                "single-node-writer",
                "multi-node-reader-only",
                "multi-node-single-writer",
                "multi-node-multi-writer",
            ];
            const ATTACHMENT: &[&str] = &["file-system", "block-device"];
            for (key, arg, allowed) in [
                ("AccessMode", "access_mode", ACCESS),
                ("AttachmentMode", "attachment_mode", ATTACHMENT),
            ] {
                match text(v, key) {
                    None if v.get(key).is_none() => f.error(
                        path,
                        format!("a CSI volume needs `{arg}`: one of {}", quoted_list(allowed)),
                    ),
                    Some(mode) if !allowed.contains(&mode) => f.error(
                        &format!("{path}/{key}"),
                        format!("{arg} {mode:?} is not one of {}", quoted_list(allowed)),
                    ),
                    _ => {}
                }
            }
            if text(v, "AttachmentMode") == Some("block-device") && v.get("MountOptions").is_some()
            {
                f.error(&format!("{path}/MountOptions"), "block devices take no mount_options");
            }
            let shared = use_of.count > 1 && !per_alloc;
            let problem = match access {
                Some(mode @ ("single-node-reader-only" | "multi-node-reader-only")) if !read_only => {
                    Some(format!("a {mode} volume must set read_only = true"))
                }
                Some(mode @ ("single-node-reader-only" | "single-node-writer")) if shared => Some(format!(
                    "a {mode} volume serves one allocation, but count is {}: set per_alloc = true or \
                     use a multi-node access mode",
                    use_of.count
                )),
                Some("multi-node-single-writer") if shared && !read_only => Some(format!(
                    "a multi-node-single-writer volume allows one writer, but count is {}: set \
                     read_only = true, per_alloc = true, or use multi-node-multi-writer",
                    use_of.count
                )),
                _ => None,
            };
            if let Some(problem) = problem {
                f.error(&format!("{path}/AccessMode"), problem);
            }
        }
        _ => {}
    }
}

/// Where a service is defined: what it may reference.
struct ServiceScope<'a> {
    ports: &'a PortsInScope,
    /// The task of a task-level service; `None` for a group service.
    task: Option<&'a str>,
    /// The names of the group's tasks, for `task = "..."` references.
    group_tasks: &'a [&'a str],
}

/// Services must differ in (task, name, port), and a group uses one service provider.
fn check_services_are_distinct(f: &mut Findings<'_>, group: &Value, path: &str) {
    let mut seen = HashSet::new();
    let mut providers = HashSet::new();
    let mut services: Vec<(String, &Value, String)> = list(group, "Services")
        .iter()
        .enumerate()
        .map(|(i, s)| ("group".to_owned(), s, format!("{path}/Services/{i}")))
        .collect();
    for (t, task) in list(group, "Tasks").iter().enumerate() {
        for (i, s) in list(task, "Services").iter().enumerate() {
            services.push((name_of(task).to_owned(), s, format!("{path}/Tasks/{t}/Services/{i}")));
        }
    }
    for (owner, service, spath) in services {
        let name = service.get("Name").and_then(Value::as_str).unwrap_or("");
        let port = service.get("PortLabel").and_then(Value::as_str).unwrap_or("");
        if !name.is_empty() && !seen.insert((owner.clone(), name, port)) {
            let on_port =
                if port.is_empty() { String::new() } else { format!(" on port {port:?}") };
            let place =
                if owner == "group" { "the group".to_owned() } else { format!("task {owner:?}") };
            f.error(&spath, format!("the service {name:?}{on_port} is defined twice in {place}"));
        }
        let provider = text(service, "Provider").unwrap_or("consul");
        if providers.insert(provider) && providers.len() == 2 {
            f.error(
                &spath,
                format!(
                    "the services of a group must use one provider; this one uses {provider:?} \
                     and an earlier one does not"
                ),
            );
        }
    }
}

fn check_service(f: &mut Findings<'_>, s: &Value, path: &str, scope: &ServiceScope<'_>) {
    let ports = scope.ports;
    let group_level = scope.task.is_none();
    f.one_of(s, path, "Provider", "service provider", &["consul", "nomad"]);
    let provider = text(s, "Provider").unwrap_or("consul");
    if let Some(name) = s
        .get("Name")
        .and_then(Value::as_str)
        .filter(|n| !is_unknown(&Value::String((*n).to_owned())))
    {
        if !valid_service_name(name) {
            f.error(
                &format!("{path}/Name"),
                format!(
                    "service name {name:?} is not valid: use letters, digits and dashes (RFC 1123), \
                     at most 63 characters, not starting or ending with a dash"
                ),
            );
        }
    }
    f.one_of(
        s,
        path,
        "AddressMode",
        "service address_mode",
        &["auto", "host", "driver", "alloc", "alloc_ipv6"],
    );
    if s.get("Address").is_some() && text(s, "AddressMode").is_some_and(|m| m != "auto") {
        f.error(&format!("{path}/Address"), "a service with `address` needs address_mode \"auto\"");
    }
    f.one_of(s, path, "OnUpdate", "service on_update", ON_UPDATE);
    if provider == "nomad" && s.get("Connect").is_some() {
        f.error(
            &format!("{path}/Connect"),
            "a service with provider \"nomad\" cannot have a connect block; Connect needs Consul",
        );
    }
    let mode = text(s, "AddressMode");
    match (group_level, mode) {
        (true, Some("driver")) => f.error(
            &format!("{path}/AddressMode"),
            "a group service cannot use address_mode \"driver\"; only task services can",
        ),
        (false, Some(m @ ("alloc" | "alloc_ipv6"))) => f.error(
            &format!("{path}/AddressMode"),
            format!("a task service cannot use address_mode {m:?}; only group services can"),
        ),
        _ => {}
    }
    if !group_level && s.get("Connect").is_some() {
        f.error(
            &format!("{path}/Connect"),
            "a connect block belongs in a group service, not in a task service",
        );
    }
    if let (Some(task), Some(named)) = (scope.task, text(s, "TaskName")) {
        if named != task {
            f.error(
                &format!("{path}/TaskName"),
                format!("a task service may only name its own task {task:?}, not {named:?}"),
            );
        }
    }
    let port = text(s, "PortLabel");
    let connect_sidecar = s.get("Connect").is_some();
    let sidecar_service = s.get("Connect").is_some_and(|c| c.get("SidecarService").is_some());
    // Connect services name the port their task listens on inside the namespace.
    let numbers_allowed = mode == Some("driver") || connect_sidecar || group_level;
    if let Some(label) = port {
        check_port_reference(
            f,
            label,
            &format!("{path}/PortLabel"),
            ports,
            "service",
            numbers_allowed,
        );
    }
    for (i, check) in list(s, "Checks").iter().enumerate() {
        let cpath = format!("{path}/Checks/{i}");
        let lowered = text(check, "Type").map(str::to_lowercase);
        let kind = lowered.as_deref();
        let allowed: &[&str] =
            if provider == "nomad" { &["http", "tcp"] } else { &["http", "tcp", "grpc", "script"] };
        match kind {
            None if check.get("Type").is_none() => {
                f.error(&cpath, format!("a check needs `type`: one of {}", quoted_list(allowed)))
            }
            Some(kind) if !allowed.contains(&kind) => {
                let message = if provider == "nomad" && matches!(kind, "grpc" | "script") {
                    format!(
                        "{kind} checks need the consul service provider; the nomad provider \
                         supports \"http\" and \"tcp\""
                    )
                } else {
                    format!("check type {kind:?} is not one of {}", quoted_list(allowed))
                };
                f.error(&format!("{cpath}/Type"), message);
            }
            _ => {}
        }
        match int(check, "Interval") {
            None if check.get("Interval").is_none() => {
                f.error(&cpath, "a check needs `interval`, at least 1s")
            }
            Some(i) if i < SECOND => f.error(
                &format!("{cpath}/Interval"),
                format!("check interval {} is shorter than Nomad's minimum of 1s", seconds(i)),
            ),
            _ => {}
        }
        match int(check, "Timeout") {
            None if check.get("Timeout").is_none() => {
                f.error(&cpath, "a check needs `timeout`, at least 1s")
            }
            Some(t) if t < SECOND => f.error(
                &format!("{cpath}/Timeout"),
                format!("check timeout {} is shorter than Nomad's minimum of 1s", seconds(t)),
            ),
            Some(t) => {
                if let Some(i) = int(check, "Interval").filter(|i| t > *i) {
                    let message = format!(
                        "check timeout ({}) is longer than its interval ({}): checks will overlap",
                        seconds(t),
                        seconds(i)
                    );
                    f.warning(&format!("{cpath}/Timeout"), message);
                }
            }
            _ => {}
        }
        match (kind, text(check, "Path")) {
            (Some("http"), None) if check.get("Path").is_none() => {
                f.error(&cpath, "an http check needs `path`, such as \"/health\"")
            }
            (Some("http"), Some(p)) if p.contains("://") => f.error(
                &format!("{cpath}/Path"),
                format!(
                    "the http check path {p:?} must be relative, such as \"/health\"; the \
                     address comes from the port"
                ),
            ),
            _ => {}
        }
        if kind == Some("tcp") && sidecar_service {
            f.error(
                &format!("{cpath}/Type"),
                "tcp checks do not work for Connect sidecar services: the service listens on the \
                 loopback interface",
            );
        }
        f.one_of(
            check,
            &cpath,
            "AddressMode",
            "check address_mode",
            &["host", "driver", "alloc", "alloc_ipv6"],
        );
        f.one_of(check, &cpath, "OnUpdate", "check on_update", ON_UPDATE);
        f.one_of(
            check,
            &cpath,
            "InitialStatus",
            "check initial_status",
            &["passing", "warning", "critical"],
        );
        if kind == Some("script") {
            if check.get("Command").is_none() {
                f.error(&cpath, "a script check needs `command`");
            }
            if group_level && check.get("TaskName").is_none() && s.get("TaskName").is_none() {
                f.error(
                    &cpath,
                    "a script check in a group service needs `task`: the task to run it in",
                );
            }
        }
        if let Some(label) = text(check, "PortLabel") {
            let numbers_allowed = group_level || text(check, "AddressMode") == Some("driver");
            check_port_reference(
                f,
                label,
                &format!("{cpath}/PortLabel"),
                ports,
                "check",
                numbers_allowed,
            );
        } else if port.is_none()
            && !connect_sidecar
            && matches!(kind, Some("http" | "tcp" | "grpc"))
            && check.get("PortLabel").is_none()
        {
            f.error(
                &cpath,
                format!(
                    "this {} check has no port: set `port` on the check or on its service",
                    kind.unwrap_or("")
                ),
            );
        }
        match (scope.task, text(check, "TaskName")) {
            (None, Some(named)) if !scope.group_tasks.contains(&named) => f.error(
                &format!("{cpath}/TaskName"),
                format!("the check runs in task {named:?}, which the group does not have"),
            ),
            (Some(task), Some(named)) if named != task => f.error(
                &format!("{cpath}/TaskName"),
                format!(
                    "a check of a task service may only name its own task {task:?}, not {named:?}"
                ),
            ),
            _ => {}
        }
        if let Some(restart) = check.get("CheckRestart") {
            if let Some(limit) = int(restart, "Limit").filter(|l| *l < 0) {
                f.error(
                    &format!("{cpath}/CheckRestart/Limit"),
                    format!("check_restart limit must not be negative, found {limit}"),
                );
            }
        }
        if let Some(method) = text(check, "Method") {
            const METHODS: &[&str] =
                &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"];
            if !METHODS.contains(&method.to_uppercase().as_str()) {
                f.error(
                    &format!("{cpath}/Method"),
                    format!("http method {method:?} is not one of {}", quoted_list(METHODS)),
                );
            }
        }
    }
}

/// RFC 1123 labels, after Nomad replaces each `${...}` with a placeholder.
fn valid_service_name(name: &str) -> bool {
    let mut stripped = String::new();
    let mut rest = name;
    while let Some(start) = rest.find("${") {
        stripped.push_str(&rest[..start]);
        match rest[start..].find('}') {
            Some(end) => {
                stripped.push_str("ENV-VAR");
                rest = &rest[start + end + 1..];
            }
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    stripped.push_str(rest);
    let bytes = stripped.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// A port reference must name a declared port (numbers are literal ports, allowed with
/// `address_mode = "driver"`).
fn check_port_reference(
    f: &mut Findings<'_>,
    label: &str,
    pointer: &str,
    ports: &PortsInScope,
    what: &str,
    numbers_allowed: bool,
) {
    if let Ok(number) = label.parse::<i64>() {
        if !numbers_allowed {
            f.error(
                pointer,
                format!(
                    "the {what} uses the port number {number}; a number needs address_mode = \"driver\", \
                     otherwise name a port of the group's network"
                ),
            );
        } else if !(1..=65535).contains(&number) {
            f.error(pointer, format!("port number {number} is outside 1 to 65535"));
        }
        return;
    }
    if ports.knows(label) {
        return;
    }
    let hint = if ports.has_network {
        ports.describe()
    } else {
        "the group has no network block; declare it there: `network { port \"".to_owned()
            + label
            + "\" {} }`"
    };
    f.error(pointer, format!("the {what} uses port {label:?}, which is not declared; {hint}"));
}

fn check_task(
    f: &mut Findings<'_>,
    task: &Value,
    path: &str,
    group_ports: &PortsInScope,
    group: &Value,
    progress_deadline: Option<i64>,
) {
    let name = name_of(task);
    let driver = text(task, "Driver");
    if name == "alloc" || name.contains('/') {
        f.error(
            path,
            format!("a task cannot be named {name:?}: \"alloc\" and slashes are reserved"),
        );
    }
    if task.get("Driver").is_none() {
        f.error(
            path,
            format!("task {name:?} has no driver: set `driver`, such as \"docker\" or \"exec\""),
        );
    }
    let mut ports = group_ports.clone();
    if let Some(resources) = task.get("Resources") {
        network_ports(
            f,
            list(resources, "Networks"),
            &format!("{path}/Resources/Networks"),
            &mut ports,
        );
        check_resources(f, resources, &format!("{path}/Resources"));
        if !list(resources, "Networks").is_empty() {
            f.warning(
                &format!("{path}/Resources/Networks/0"),
                "a network block in task resources is deprecated (Nomad 0.12): declare the ports \
                 in the group's network block",
            );
        }
    }
    let config = task.get("Config");
    if matches!(driver, Some("docker")) && config.is_some_and(|c| c.get("port_map").is_some()) {
        f.warning(
            &format!("{path}/Config/port_map"),
            "docker port_map is deprecated: set `to` on the group network's port and list the \
             port in `ports`",
        );
    }
    if matches!(driver, Some("docker" | "podman")) {
        match config {
            None => f.error(
                path,
                format!("{} task {name:?} needs a config block with `image`", driver.unwrap_or("")),
            ),
            Some(config) if config.get("image").is_none() => f.error(
                &format!("{path}/Config"),
                format!("{} task {name:?} needs `image` in its config", driver.unwrap_or("")),
            ),
            _ => {}
        }
        if let Some(config) = config {
            for (i, label) in list(config, "ports").iter().enumerate() {
                if let Some(label) = label
                    .as_str()
                    .filter(|l| !l.contains("${") && !is_unknown(&Value::String((*l).to_owned())))
                {
                    check_port_reference(
                        f,
                        label,
                        &format!("{path}/Config/ports/{i}"),
                        &ports,
                        "task config",
                        false,
                    );
                }
            }
        }
    }
    for (i, c) in list(task, "Constraints").iter().enumerate() {
        let cpath = format!("{path}/Constraints/{i}");
        check_constraint(f, c, &cpath);
        if let Some(op @ ("distinct_hosts" | "distinct_property")) = text(c, "Operand") {
            f.error(
                &format!("{cpath}/Operand"),
                format!("a {op} constraint places allocations, so it belongs in a group or the job, not a task"),
            );
        }
    }
    for (i, a) in list(task, "Affinities").iter().enumerate() {
        check_affinity(f, a, &format!("{path}/Affinities/{i}"));
    }
    if let Some(restart) = task.get("RestartPolicy") {
        check_restart(f, restart, &format!("{path}/RestartPolicy"));
    }
    for (i, service) in list(task, "Services").iter().enumerate() {
        let task_scope = ServiceScope { ports: &ports, task: Some(name), group_tasks: &[] };
        check_service(f, service, &format!("{path}/Services/{i}"), &task_scope);
    }
    if let Some(lifecycle) = task.get("Lifecycle") {
        let lpath = format!("{path}/Lifecycle");
        if lifecycle.get("Hook").is_none() {
            f.error(
                &lpath,
                "a lifecycle block needs `hook`: \"prestart\", \"poststart\" or \"poststop\"",
            );
        }
        f.one_of(
            lifecycle,
            &lpath,
            "Hook",
            "lifecycle hook",
            &["prestart", "poststart", "poststop"],
        );
    }
    if let Some(kill) = int(task, "KillTimeout").filter(|k| *k < 0) {
        f.error(
            &format!("{path}/KillTimeout"),
            format!("kill_timeout must not be negative, found {}", seconds(kill)),
        );
    }
    let mut destinations: Vec<&str> = Vec::new();
    for (i, template) in list(task, "Templates").iter().enumerate() {
        let tpath = format!("{path}/Templates/{i}");
        check_template(f, template, &tpath);
        if let Some(dest) = text(template, "DestPath") {
            let normal = dest.trim_start_matches("./");
            if destinations.contains(&normal) {
                f.error(
                    &format!("{tpath}/DestPath"),
                    format!("two templates render to {dest:?}; each needs its own destination"),
                );
            }
            destinations.push(normal);
        }
    }
    if let (Some(kill), Some(progress)) =
        (int(task, "KillTimeout"), progress_deadline.filter(|p| *p > 0))
    {
        if kill > progress {
            f.error(
                &format!("{path}/KillTimeout"),
                format!(
                    "kill_timeout ({}) is longer than the group's progress_deadline ({})",
                    seconds(kill),
                    seconds(progress)
                ),
            );
        }
    }
    let volumes = group.get("Volumes").and_then(Value::as_object);
    for (i, mount) in list(task, "VolumeMounts").iter().enumerate() {
        let mpath = format!("{path}/VolumeMounts/{i}");
        match text(mount, "Volume") {
            Some(volume) if !volumes.is_some_and(|v| v.contains_key(volume)) => {
                let declared = volumes
                    .map(|v| v.keys().map(|k| format!("{k:?}")).collect::<Vec<_>>().join(", "))
                    .filter(|s| !s.is_empty());
                let hint = match declared {
                    Some(list) => format!("the group declares {list}"),
                    None => "the group declares no volumes".to_owned(),
                };
                let message = format!(
                    "the volume_mount uses volume {volume:?}, which the group does not declare; \
                     {hint}"
                );
                f.error(&format!("{mpath}/Volume"), message);
            }
            None if mount.get("Volume").is_none() => {
                f.error(&mpath, "a volume_mount needs `volume`: the name of a group volume")
            }
            _ => {}
        }
        if mount.get("Destination").is_none() {
            f.error(&mpath, "a volume_mount needs `destination`: where to mount it in the task");
        }
    }
    for (i, artifact) in list(task, "Artifacts").iter().enumerate() {
        if artifact.get("GetterSource").is_none() {
            f.error(
                &format!("{path}/Artifacts/{i}"),
                "an artifact needs `source`: the URL to download",
            );
        }
        f.one_of(
            artifact,
            &format!("{path}/Artifacts/{i}"),
            "GetterMode",
            "artifact mode",
            &["any", "file", "dir"],
        );
    }
    if let Some(logs) = task.get("LogConfig") {
        for (key, arg) in [("MaxFiles", "max_files"), ("MaxFileSizeMB", "max_file_size")] {
            if let Some(n) = int(logs, key).filter(|n| *n < 1) {
                f.error(
                    &format!("{path}/LogConfig/{key}"),
                    format!("logs {arg} must be at least 1, found {n}"),
                );
            }
        }
    }
    if let Some(vault) = task.get("Vault") {
        let vpath = format!("{path}/Vault");
        f.one_of(vault, &vpath, "ChangeMode", "vault change_mode", &["noop", "restart", "signal"]);
        if text(vault, "ChangeMode") == Some("signal") && vault.get("ChangeSignal").is_none() {
            f.error(
                &vpath,
                "vault change_mode \"signal\" needs `change_signal`, such as \"SIGHUP\"",
            );
        }
    }
    for (i, secret) in list(task, "Secrets").iter().enumerate() {
        let spath = format!("{path}/Secrets/{i}");
        if secret.get("Provider").is_none() {
            f.error(
                &spath,
                format!(
                    "secret {:?} needs `provider`, such as \"vault\" or \"nomad\"",
                    name_of(secret)
                ),
            );
        }
        if secret.get("Path").is_none() {
            f.error(&spath, format!("secret {:?} needs `path`", name_of(secret)));
        }
    }
    if let Some(plugin) = task.get("CSIPluginConfig") {
        let ppath = format!("{path}/CSIPluginConfig");
        f.one_of(plugin, &ppath, "Type", "csi_plugin type", &["monolith", "controller", "node"]);
        for (key, arg) in [("ID", "id"), ("Type", "type")] {
            if plugin.get(key).is_none() {
                f.error(&ppath, format!("a csi_plugin block needs `{arg}`"));
            }
        }
    }
}

fn check_resources(f: &mut Findings<'_>, r: &Value, path: &str) {
    let cpu = int(r, "CPU");
    let cores = int(r, "Cores");
    if cpu.is_some() && cores.is_some() {
        f.error(&format!("{path}/Cores"), "set either `cpu` or `cores`, not both");
    }
    if let Some(cpu) = cpu {
        if cpu < 1 {
            f.error(&format!("{path}/CPU"), format!("cpu {cpu} MHz is below Nomad's minimum of 1"));
        } else if cpu > 256_000 {
            f.warning(
                &format!("{path}/CPU"),
                format!("cpu {cpu} MHz is more than any single node offers; cpu is in MHz"),
            );
        }
    }
    if let Some(cores) = cores.filter(|c| *c < 1) {
        f.error(&format!("{path}/Cores"), format!("cores {cores} is below 1"));
    }
    let memory = int(r, "MemoryMB");
    if let Some(memory) = memory {
        if memory < 10 {
            f.error(
                &format!("{path}/MemoryMB"),
                format!("memory {memory} MB is below Nomad's minimum of 10 MB"),
            );
        } else if memory > 1_048_576 {
            f.warning(
                &format!("{path}/MemoryMB"),
                format!("memory {memory} MB is over 1 TiB; memory is in MB"),
            );
        }
    }
    if let Some(max) = int(r, "MemoryMaxMB") {
        // -1 is Nomad's "no limit".
        if max != 0 && max != -1 && max < memory.unwrap_or(300) {
            f.error(
                &format!("{path}/MemoryMaxMB"),
                format!(
                    "memory_max ({max} MB) must be at least memory ({} MB)",
                    memory.unwrap_or(300)
                ),
            );
        }
    }
}

fn check_template(f: &mut Findings<'_>, t: &Value, path: &str) {
    f.one_of(
        t,
        path,
        "ChangeMode",
        "template change_mode",
        &["restart", "signal", "noop", "script"],
    );
    match text(t, "ChangeMode") {
        Some("signal") if t.get("ChangeSignal").is_none() => f.error(
            path,
            "template change_mode \"signal\" needs `change_signal`, such as \"SIGHUP\"",
        ),
        Some("script") if t.get("ChangeScript").is_none() => {
            f.error(path, "template change_mode \"script\" needs a `change_script` block")
        }
        Some("signal") if t.get("Envvars").and_then(Value::as_bool) == Some(true) => f.error(
            &format!("{path}/ChangeMode"),
            "a template with env = true cannot use change_mode \"signal\": the environment is \
             read only when the task starts; use \"restart\"",
        ),
        _ => {}
    }
    if let Some(perms) = text(t, "Perms") {
        if u32::from_str_radix(perms, 8).is_err() {
            f.error(
                &format!("{path}/Perms"),
                format!("perms {perms:?} is not an octal file mode, such as \"0644\""),
            );
        }
    }
    if let Some(splay) = int(t, "Splay").filter(|s| *s < 0) {
        f.error(
            &format!("{path}/Splay"),
            format!("splay must not be negative, found {}", seconds(splay)),
        );
    }
    if t.get("VaultGrace").is_some() {
        f.error(
            &format!("{path}/VaultGrace"),
            "vault_grace was removed from Nomad (ignored since Vault 0.5); delete it",
        );
    }
    if t.get("EmbeddedTmpl").is_none() && t.get("SourcePath").is_none() {
        f.error(path, "a template needs `data` (the template text) or `source` (a file to render)");
    }
    match text(t, "DestPath") {
        None if t.get("DestPath").is_none() => {
            f.error(path, "a template needs `destination`, such as \"local/config.yml\"")
        }
        Some(dest) => check_destination(f, dest, &format!("{path}/DestPath")),
        None => {}
    }
}

/// Template destinations are relative to the task directory and must stay inside it.
fn check_destination(f: &mut Findings<'_>, dest: &str, pointer: &str) {
    let mut depth: i32 = 0;
    for part in dest.split('/') {
        match part {
            "" | "." => {}
            ".." => depth -= 1,
            _ => depth += 1,
        }
        // One level up from the task directory is still the allocation directory.
        if depth < -1 {
            f.error(pointer, format!("the destination {dest:?} leaves the allocation directory"));
            return;
        }
    }
    let relative = dest.trim_start_matches("./");
    let under_task_dir = ["local/", "secrets/", "alloc/"]
        .iter()
        .any(|d| relative.starts_with(d) || relative.starts_with(&format!("/{d}")));
    if dest.starts_with('/') && !under_task_dir {
        let message = format!(
            "the destination {dest:?} is absolute; Nomad renders it inside the task directory, \
             usually under local/, secrets/ or alloc/"
        );
        f.warning(pointer, message);
    }
}
