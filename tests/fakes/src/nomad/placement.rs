//! Placement: which node each allocation of a task group lands on, and why it cannot land
//! anywhere, in the terms of Nomad's `AllocMetric` (`NodesEvaluated`, `ConstraintFiltered`,
//! `DimensionExhausted`, ...).
//!
//! The scheduler here is deliberately simple (first node that fits, spread by starting at a
//! different node per allocation) but it checks what Nomad checks, in Nomad's order:
//! datacenter and node pool, drivers, constraints, then reserved ports, CPU and memory.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use super::job::{self, GroupAsk};
use super::scenario::Node;

/// A client node after expanding `count`, with its identity and attributes.
#[derive(Debug, Clone)]
pub(crate) struct ClientNode {
    pub id: String,
    pub name: String,
    pub datacenter: String,
    pub node_pool: String,
    pub node_class: String,
    pub memory_mb: u64,
    pub cpu_mhz: u64,
    pub used_ports: BTreeSet<u16>,
    pub drivers: BTreeSet<String>,
    pub attributes: BTreeMap<String, String>,
    pub meta: BTreeMap<String, String>,
}

impl ClientNode {
    /// Expands the scenario's node entries into individual nodes with stable IDs.
    pub fn expand(nodes: &[Node]) -> Vec<ClientNode> {
        let mut out = Vec::new();
        for node in nodes {
            for n in 1..=node.count {
                let serial = out.len() + 1;
                let mut attributes = node.attributes.clone();
                attributes.insert("cpu.arch".to_string(), node.cpu_arch.clone());
                attributes.insert("kernel.name".to_string(), node.kernel.clone());
                for driver in &node.drivers {
                    attributes.insert(format!("driver.{driver}"), "1".to_string());
                }
                out.push(ClientNode {
                    id: format!("{serial:08x}-0000-4000-8000-00000000000{}", serial % 10),
                    name: format!("{}-{n}", node.name),
                    datacenter: node.datacenter.clone(),
                    node_pool: node.node_pool.clone(),
                    node_class: node.node_class.clone(),
                    memory_mb: node.memory_mb,
                    cpu_mhz: node.cpu_mhz,
                    used_ports: node.used_ports.iter().copied().collect(),
                    drivers: node.drivers.iter().cloned().collect(),
                    attributes,
                    meta: node.meta.clone(),
                });
            }
        }
        out
    }

    /// The value of a constraint target such as `${attr.cpu.arch}` on this node.
    fn resolve(&self, target: &str) -> Option<String> {
        let Some(inner) = target.strip_prefix("${").and_then(|t| t.strip_suffix('}')) else {
            return Some(target.to_string());
        };
        match inner {
            "node.datacenter" => Some(self.datacenter.clone()),
            "node.unique.id" => Some(self.id.clone()),
            "node.unique.name" => Some(self.name.clone()),
            "node.class" => Some(self.node_class.clone()),
            "node.pool" => Some(self.node_pool.clone()),
            _ => {
                if let Some(attr) = inner.strip_prefix("attr.") {
                    self.attributes.get(attr).cloned()
                } else if let Some(key) = inner.strip_prefix("meta.") {
                    self.meta.get(key).cloned()
                } else {
                    None
                }
            }
        }
    }
}

/// Resources already used on a node by allocations that keep running.
#[derive(Debug, Clone, Default)]
pub(crate) struct NodeUsage {
    pub cpu: u64,
    pub memory: u64,
    pub ports: BTreeSet<u16>,
}

/// Where one allocation goes.
#[derive(Debug, Clone)]
pub(crate) struct Placement {
    pub node: usize,
    /// Port label and value, static ones first.
    pub ports: Vec<(String, u16, bool)>,
    /// The `AllocMetric` of the successful attempt.
    pub metrics: Value,
}

/// The outcome of placing every allocation of one group.
#[derive(Debug, Clone, Default)]
pub(crate) struct GroupPlacement {
    pub placed: Vec<Placement>,
    /// The `AllocMetric` of the first failed attempt, with `CoalescedFailures` counting the rest.
    pub failure: Option<Value>,
    pub unplaced: usize,
}

/// Counts behind one placement attempt, rendered as Nomad's `AllocMetric`.
#[derive(Debug, Default)]
struct Attempt {
    evaluated: u64,
    filtered: u64,
    constraint_filtered: BTreeMap<String, u64>,
    exhausted: u64,
    dimension_exhausted: BTreeMap<String, u64>,
}

/// Places `count` allocations of `group` of `job`, updating `usage` with what it places.
pub(crate) fn place_group(
    nodes: &[ClientNode],
    usage: &mut [NodeUsage],
    job_value: &Value,
    group: &Value,
    count: usize,
) -> GroupPlacement {
    let datacenters = job::datacenters(job_value);
    let pool = job::node_pool(job_value);
    let ask = job::group_ask(group);
    let constraints = job::constraints(job_value, group);

    let in_pool: Vec<usize> =
        (0..nodes.len()).filter(|&i| pool == "all" || nodes[i].node_pool == pool).collect();
    let mut available: BTreeMap<String, u64> = BTreeMap::new();
    for dc in &datacenters {
        if !dc.contains('*') {
            available.insert(dc.clone(), 0);
        }
    }
    let candidates: Vec<usize> = in_pool
        .iter()
        .copied()
        .filter(|&i| datacenters.iter().any(|dc| glob_match(dc, &nodes[i].datacenter)))
        .collect();
    for &i in &candidates {
        *available.entry(nodes[i].datacenter.clone()).or_default() += 1;
    }

    let mut out = GroupPlacement::default();
    let mut used_by_group: BTreeSet<usize> = BTreeSet::new();
    // A system job runs one allocation on each node.
    let one_per_node = matches!(job::job_type(job_value), "system" | "sysbatch");
    let mut failures = 0u64;
    for alloc_index in 0..count {
        let mut attempt = Attempt::default();
        let mut chosen = None;
        for offset in 0..candidates.len() {
            let i = candidates[(alloc_index + offset) % candidates.len()];
            let node = &nodes[i];
            if one_per_node && used_by_group.contains(&i) {
                continue;
            }
            attempt.evaluated += 1;
            if let Some(reason) =
                filter_reason(node, &ask, &constraints, used_by_group.contains(&i))
            {
                attempt.filtered += 1;
                *attempt.constraint_filtered.entry(reason).or_default() += 1;
                continue;
            }
            if let Some(dimension) = exhausted_dimension(node, &usage[i], &ask) {
                attempt.exhausted += 1;
                *attempt.dimension_exhausted.entry(dimension).or_default() += 1;
                continue;
            }
            chosen = Some(i);
            break;
        }
        match chosen {
            Some(i) => {
                let ports = assign_ports(&ask, &mut usage[i]);
                usage[i].cpu += ask.cpu;
                usage[i].memory += ask.memory_mb;
                used_by_group.insert(i);
                out.placed.push(Placement {
                    node: i,
                    ports,
                    metrics: attempt.render(in_pool.len(), &available, 0),
                });
            }
            None => {
                failures += 1;
                out.unplaced += 1;
                if out.failure.is_none() {
                    out.failure = Some(attempt.render(in_pool.len(), &available, 0));
                }
            }
        }
    }
    if let Some(Value::Object(metrics)) = out.failure.as_mut() {
        metrics.insert("CoalescedFailures".to_string(), json!(failures.saturating_sub(1)));
    }
    out
}

/// How many nodes a group of a system job belongs on: those in its datacenters and node pool
/// that pass its drivers and constraints (Nomad does not count the others as failures).
pub(crate) fn eligible_nodes(nodes: &[ClientNode], job_value: &Value, group: &Value) -> usize {
    let datacenters = job::datacenters(job_value);
    let pool = job::node_pool(job_value);
    let ask = job::group_ask(group);
    let constraints = job::constraints(job_value, group);
    nodes
        .iter()
        .filter(|n| pool == "all" || n.node_pool == pool)
        .filter(|n| datacenters.iter().any(|dc| glob_match(dc, &n.datacenter)))
        .filter(|n| filter_reason(n, &ask, &constraints, false).is_none())
        .count()
}

/// Why a node is filtered out before resources are considered, in Nomad's words.
fn filter_reason(
    node: &ClientNode,
    ask: &GroupAsk,
    constraints: &[job::Constraint],
    already_used: bool,
) -> Option<String> {
    if ask.drivers.iter().any(|driver| !node.drivers.contains(driver)) {
        return Some("missing drivers".to_string());
    }
    for constraint in constraints {
        if constraint.operand == "distinct_hosts" {
            if already_used {
                return Some("distinct_hosts".to_string());
            }
            continue;
        }
        if !constraint_holds(node, constraint) {
            return Some(constraint.to_string());
        }
    }
    None
}

fn constraint_holds(node: &ClientNode, constraint: &job::Constraint) -> bool {
    let left = node.resolve(&constraint.l_target);
    let right = constraint.r_target.as_str();
    match constraint.operand.as_str() {
        "" | "=" | "==" | "is" => left.as_deref() == Some(right),
        "!=" | "not" => left.as_deref() != Some(right),
        "is_set" => left.is_some(),
        "is_not_set" => left.is_none(),
        "set_contains" | "set_contains_all" => left.is_some_and(|l| {
            let have: BTreeSet<&str> = l.split(',').map(str::trim).collect();
            right.split(',').map(str::trim).all(|want| have.contains(want))
        }),
        "set_contains_any" => left.is_some_and(|l| {
            let have: BTreeSet<&str> = l.split(',').map(str::trim).collect();
            right.split(',').map(str::trim).any(|want| have.contains(want))
        }),
        // Version and regexp comparisons are not simulated; the fake treats them as met so a
        // job using them is placed rather than failing for a reason Nomad would not give.
        _ => true,
    }
}

/// The first resource dimension the node lacks, named as Nomad names it.
fn exhausted_dimension(node: &ClientNode, usage: &NodeUsage, ask: &GroupAsk) -> Option<String> {
    for (label, port) in &ask.static_ports {
        if node.used_ports.contains(port) || usage.ports.contains(port) {
            return Some(format!("network: reserved port collision {label}={port}"));
        }
    }
    if usage.cpu + ask.cpu > node.cpu_mhz {
        return Some("cpu".to_string());
    }
    if usage.memory + ask.memory_mb > node.memory_mb {
        return Some("memory".to_string());
    }
    None
}

fn assign_ports(ask: &GroupAsk, usage: &mut NodeUsage) -> Vec<(String, u16, bool)> {
    let mut ports = Vec::new();
    for (label, port) in &ask.static_ports {
        usage.ports.insert(*port);
        ports.push((label.clone(), *port, true));
    }
    let mut next = 20000u16;
    for label in &ask.dynamic_ports {
        while usage.ports.contains(&next) {
            next += 1;
        }
        usage.ports.insert(next);
        ports.push((label.clone(), next, false));
    }
    ports
}

impl Attempt {
    fn render(&self, in_pool: usize, available: &BTreeMap<String, u64>, coalesced: u64) -> Value {
        let map_or_null = |map: &BTreeMap<String, u64>| -> Value {
            if map.is_empty() {
                Value::Null
            } else {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<Map<_, _>>())
            }
        };
        json!({
            "NodesEvaluated": self.evaluated,
            "NodesFiltered": self.filtered,
            "NodesInPool": in_pool,
            "NodesAvailable": available,
            "ClassFiltered": null,
            "ConstraintFiltered": map_or_null(&self.constraint_filtered),
            "NodesExhausted": self.exhausted,
            "ClassExhausted": null,
            "DimensionExhausted": map_or_null(&self.dimension_exhausted),
            "QuotaExhausted": null,
            "ResourcesExhausted": null,
            "ScoreMetaData": null,
            "Scores": null,
            "AllocationTime": 41000,
            "CoalescedFailures": coalesced,
        })
    }
}

/// Nomad's datacenter globbing: `*` matches any run of characters.
fn glob_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else if let Some(pos) = rest.find(part) {
            rest = &rest[pos + part.len()..];
        } else {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datacenter_globs_match_like_nomad() {
        let cases = [
            ("*", "dc1", true),
            ("dc1", "dc1", true),
            ("dc*", "dc2", true),
            ("eu-*", "dc1", false),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(glob_match(pattern, name), want, "{pattern} vs {name}");
        }
    }
}
