//! The life of an allocation's tasks, step by step: received, set up, image pulled, started,
//! then whatever the scenario scripted (OOM kill, crash, failed pull, blocked template,
//! failing check), restarts within the restart policy, and the allocation's health for its
//! deployment. Task events are written in Nomad's shape and words.
//!
//! `cluster` decides which allocations exist and calls `step_alloc` once per step for each
//! live one; nothing here looks beyond the allocation it is given.

use serde_json::{json, Value};

use super::cluster::Alloc;
use super::job::{self, str_field};
use super::scenario::Timing;

/// What the scenario makes a task do.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Fate {
    Runs,
    OomKilled,
    PullFails {
        message: String,
    },
    Crashes {
        exit_code: i64,
        stderr: Vec<String>,
    },
    ChecksFail {
        check: String,
    },
    /// A template waits for data that does not exist; the task never starts.
    TemplateBlocked {
        missing: String,
    },
}

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Phase {
    Received,
    Starting,
    /// Waiting on a template for this many steps.
    Blocked(u64),
    Running(u64),
    Dead,
}

/// A task of an allocation, with its `TaskState` fields.
#[derive(Debug, Clone)]
pub(crate) struct TaskRun {
    pub name: String,
    pub fate: Fate,
    pub image: Option<String>,
    pub stdout_lines: Vec<String>,
    pub attempts_left: u32,
    pub give_up_reason: String,
    pub phase: Phase,
    pub state: String,
    pub failed: bool,
    pub restarts: u64,
    pub started_at: Option<u128>,
    pub finished_at: Option<u128>,
    pub last_restart: Option<u128>,
    pub events: Vec<Value>,
    pub stdout: String,
    pub stderr: String,
}

/// Stops an allocation: desired `stop`, tasks killed, the given client status.
pub(crate) fn stop_alloc(alloc: &mut Alloc, description: &str, client_status: &str, now: u128) {
    alloc.desired_status = "stop".to_string();
    alloc.desired_description = description.to_string();
    alloc.client_status = client_status.to_string();
    for task in alloc.tasks.iter_mut() {
        if task.phase != Phase::Dead {
            task.events.push(event("Killing", "Sent interrupt", now));
            task.events.push(event("Killed", "Task successfully killed", now));
            task.state = "dead".to_string();
            task.phase = Phase::Dead;
            task.finished_at = Some(now);
        }
    }
}

/// Whether a step can still change this allocation (so the cluster is not settled).
pub(crate) fn alloc_can_change(alloc: &Alloc) -> bool {
    alloc.tasks.iter().any(|task| match task.phase {
        Phase::Received | Phase::Starting => true,
        Phase::Dead => false,
        Phase::Blocked(_) => !alloc.deployment_id.is_empty() && alloc.healthy.is_none(),
        Phase::Running(_) => match task.fate {
            Fate::OomKilled | Fate::Crashes { .. } | Fate::PullFails { .. } => true,
            Fate::Runs | Fate::ChecksFail { .. } | Fate::TemplateBlocked { .. } => {
                (!alloc.deployment_id.is_empty() && alloc.healthy.is_none())
                    || matches!(job::job_type(&alloc.job), "batch" | "sysbatch")
            }
        },
    })
}

/// A task event in Nomad's shape.
pub(crate) fn event(kind: &str, display: &str, time: u128) -> Value {
    json!({
        "Type": kind,
        "Time": time as u64,
        "Message": "",
        "DisplayMessage": display,
        "Details": {},
        "FailsTask": false,
        "RestartReason": "",
        "SetupError": "",
        "DriverError": "",
        "DriverMessage": "",
        "ExitCode": 0,
        "Signal": 0,
        "KillTimeout": 0,
        "KillError": "",
        "KillReason": "",
        "StartDelay": 0,
        "DownloadError": "",
        "ValidationError": "",
        "DiskLimit": 0,
        "FailedSibling": "",
        "VaultError": "",
        "TaskSignalReason": "",
        "TaskSignal": "",
        "GenericSource": "",
    })
}

fn with_fields(mut event: Value, fields: &[(&str, Value)]) -> Value {
    if let Some(object) = event.as_object_mut() {
        for (key, value) in fields {
            object.insert((*key).to_string(), value.clone());
        }
    }
    event
}

fn details(pairs: &[(&str, String)]) -> Value {
    Value::Object(pairs.iter().map(|(k, v)| ((*k).to_string(), json!(v))).collect())
}

/// Moves one allocation forward by one step; returns whether it changed.
pub(crate) fn step_alloc(alloc: &mut Alloc, timing: &Timing, now: u128) -> bool {
    let batch = matches!(job::job_type(&alloc.job), "batch" | "sysbatch");
    let mut changed = false;
    for task in alloc.tasks.iter_mut() {
        changed |= step_task(task, batch, now);
    }
    let any_failed = alloc.tasks.iter().any(|t| t.failed);
    let all_dead = alloc.tasks.iter().all(|t| t.phase == Phase::Dead);
    let all_running = alloc.tasks.iter().all(|t| matches!(t.phase, Phase::Running(_)));
    let status = if any_failed && (all_dead || !batch) {
        "failed"
    } else if all_dead {
        "complete"
    } else if all_running || alloc.tasks.iter().any(|t| matches!(t.phase, Phase::Running(_))) {
        "running"
    } else {
        "pending"
    };
    if alloc.client_status != status {
        alloc.client_status = status.to_string();
        if status == "failed" {
            alloc.client_description = "Failed tasks".to_string();
        } else if status == "complete" {
            alloc.client_description = "All tasks have completed".to_string();
        } else if status == "running" {
            alloc.client_description = "Tasks are running".to_string();
        }
        changed = true;
    }
    if !alloc.deployment_id.is_empty() && alloc.healthy.is_none() {
        let blocked = alloc.tasks.iter().position(|t| match t.phase {
            Phase::Blocked(n) => n >= timing.healthy_deadline_steps,
            _ => false,
        });
        let health = if any_failed {
            Some(false)
        } else if let Some(position) = blocked {
            let deadline = job::groups(&alloc.job)
                .iter()
                .find(|g| str_field(g, "Name") == alloc.group)
                .map(|g| job::healthy_deadline(&alloc.job, g))
                .unwrap_or_else(|| "5m0s".to_string());
            let message = format!("Task not running by healthy_deadline of {deadline}");
            alloc.tasks[position].events.push(with_fields(
                event("Alloc Unhealthy", &message, now),
                &[("Message", json!(message))],
            ));
            Some(false)
        } else {
            let steps: Vec<u64> = alloc
                .tasks
                .iter()
                .filter_map(|t| match t.phase {
                    Phase::Running(n) => Some(n),
                    _ => None,
                })
                .collect();
            let min_steps = steps.iter().copied().min().unwrap_or(0);
            let failing = alloc.tasks.iter().find_map(|t| match &t.fate {
                Fate::ChecksFail { check } => Some((t.name.clone(), check.clone())),
                _ => None,
            });
            match failing {
                Some((task_name, check))
                    if all_running && min_steps >= timing.healthy_deadline_steps =>
                {
                    if let Some(task) = alloc.tasks.iter_mut().find(|t| t.name == task_name) {
                        task.events.push(with_fields(
                            event("Alloc Unhealthy", "Services not healthy by deadline", now),
                            &[
                                ("Message", json!("Services not healthy by deadline")),
                                ("Details", details(&[("check", check)])),
                            ],
                        ));
                    }
                    Some(false)
                }
                None if all_running && min_steps >= timing.min_healthy_steps => Some(true),
                _ => None,
            }
        };
        if health.is_some() {
            alloc.healthy = health;
            alloc.health_time = Some(now);
            changed = true;
        }
    }
    changed
}

/// Moves one task forward by one step.
fn step_task(task: &mut TaskRun, batch: bool, now: u128) -> bool {
    match task.phase {
        Phase::Dead => false,
        Phase::Received => {
            task.events.push(event("Received", "Task received by client", now));
            task.events.push(with_fields(
                event("Task Setup", "Building Task Directory", now),
                &[("Message", json!("Building Task Directory"))],
            ));
            task.phase = Phase::Starting;
            true
        }
        Phase::Blocked(n) => {
            task.phase = Phase::Blocked(n + 1);
            false
        }
        Phase::Starting => {
            if let Fate::TemplateBlocked { missing } = &task.fate {
                let message = format!("Missing: {missing}");
                task.events.push(with_fields(
                    event("Template", &message, now),
                    &[("Message", json!(message))],
                ));
                task.phase = Phase::Blocked(0);
                return true;
            }
            // The image is pulled once; a restart starts from the local copy.
            if let Some(image) = task.image.as_ref().filter(|_| task.restarts == 0) {
                let message = format!("Downloading image {image}");
                task.events.push(with_fields(
                    event("Driver", &message, now),
                    &[
                        ("DriverMessage", json!(message)),
                        ("Details", details(&[("image", image.clone())])),
                    ],
                ));
            }
            if let Fate::PullFails { message } = task.fate.clone() {
                task.events.push(with_fields(
                    event("Driver Failure", &message, now),
                    &[
                        ("DriverError", json!(message)),
                        ("Details", details(&[("driver_error", message.clone())])),
                    ],
                ));
                // Docker pull errors are not recoverable: Nomad does not restart the task.
                give_up(task, "Error was unrecoverable", now);
                return true;
            }
            task.events.push(event("Started", "Task started by client", now));
            task.state = "running".to_string();
            task.started_at = Some(now);
            task.phase = Phase::Running(0);
            for line in &task.stdout_lines {
                task.stdout.push_str(line);
                task.stdout.push('\n');
            }
            true
        }
        Phase::Running(n) => {
            task.phase = Phase::Running(n + 1);
            match task.fate.clone() {
                Fate::OomKilled => {
                    let display = "Exit Code: 137, Exit Message: \"OOM Killed\"";
                    task.events.push(with_fields(
                        event("Terminated", display, now),
                        &[
                            ("ExitCode", json!(137)),
                            ("Message", json!("OOM Killed")),
                            (
                                "Details",
                                details(&[
                                    ("exit_code", "137".to_string()),
                                    ("signal", "0".to_string()),
                                    ("oom_killed", "true".to_string()),
                                    ("exit_message", "OOM Killed".to_string()),
                                ]),
                            ),
                        ],
                    ));
                    restart_or_give_up(task, now);
                    true
                }
                Fate::Crashes { exit_code, stderr } => {
                    for line in &stderr {
                        task.stderr.push_str(line);
                        task.stderr.push('\n');
                    }
                    let display = format!("Exit Code: {exit_code}");
                    task.events.push(with_fields(
                        event("Terminated", &display, now),
                        &[
                            ("ExitCode", json!(exit_code)),
                            (
                                "Details",
                                details(&[
                                    ("exit_code", exit_code.to_string()),
                                    ("signal", "0".to_string()),
                                    ("oom_killed", "false".to_string()),
                                ]),
                            ),
                        ],
                    ));
                    restart_or_give_up(task, now);
                    true
                }
                Fate::Runs | Fate::ChecksFail { .. } if batch => {
                    task.events.push(with_fields(
                        event("Terminated", "Exit Code: 0", now),
                        &[("Details", details(&[("exit_code", "0".to_string())]))],
                    ));
                    task.state = "dead".to_string();
                    task.phase = Phase::Dead;
                    task.finished_at = Some(now);
                    true
                }
                // Running steps only count time; the allocation decides health from them.
                _ => false,
            }
        }
    }
}

fn restart_or_give_up(task: &mut TaskRun, now: u128) {
    if task.attempts_left > 0 {
        task.attempts_left -= 1;
        task.restarts += 1;
        task.last_restart = Some(now);
        task.state = "pending".to_string();
        task.phase = Phase::Starting;
        task.events.push(with_fields(
            event("Restarting", "Task restarting in 0s", now),
            &[("RestartReason", json!("Restart within policy")), ("StartDelay", json!(0))],
        ));
    } else {
        let reason = task.give_up_reason.clone();
        give_up(task, &reason, now);
    }
}

fn give_up(task: &mut TaskRun, reason: &str, now: u128) {
    task.events.push(with_fields(
        event("Not Restarting", reason, now),
        &[("RestartReason", json!(reason)), ("FailsTask", json!(true))],
    ));
    task.state = "dead".to_string();
    task.failed = true;
    task.phase = Phase::Dead;
    task.finished_at = Some(now);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(fate: Fate) -> TaskRun {
        TaskRun {
            name: "app".to_string(),
            fate,
            image: Some("nginx:1".to_string()),
            stdout_lines: vec!["ready".to_string()],
            attempts_left: 1,
            give_up_reason: "Exceeded allowed attempts 1 in interval 30m0s and mode is \"fail\""
                .to_string(),
            phase: Phase::Received,
            state: "pending".to_string(),
            failed: false,
            restarts: 0,
            started_at: None,
            finished_at: None,
            last_restart: None,
            events: Vec::new(),
            stdout: String::new(),
            stderr: String::new(),
        }
    }

    /// The event types a task goes through in `steps` steps.
    fn story(fate: Fate, batch: bool, steps: usize) -> (Vec<String>, TaskRun) {
        let mut run = task(fate);
        for _ in 0..steps {
            step_task(&mut run, batch, 1);
        }
        let kinds = run.events.iter().map(|e| str_field(e, "Type").to_string()).collect();
        (kinds, run)
    }

    #[test]
    fn each_fate_tells_its_story_in_nomads_events() {
        let pull = Fate::PullFails { message: "Failed to pull `x`".to_string() };
        let crash = Fate::Crashes { exit_code: 2, stderr: vec!["boom".to_string()] };
        let blocked = Fate::TemplateBlocked { missing: "vault.read(secret/data/app)".to_string() };
        let cases: Vec<(Fate, bool, &[&str], &str, bool)> = vec![
            (Fate::Runs, false, &["Received", "Task Setup", "Driver", "Started"], "running", false),
            (
                Fate::Runs,
                true,
                &["Received", "Task Setup", "Driver", "Started", "Terminated"],
                "dead",
                false,
            ),
            (
                Fate::OomKilled,
                false,
                &[
                    "Received",
                    "Task Setup",
                    "Driver",
                    "Started",
                    "Terminated",
                    "Restarting",
                    "Started",
                    "Terminated",
                    "Not Restarting",
                ],
                "dead",
                true,
            ),
            (
                pull,
                false,
                &["Received", "Task Setup", "Driver", "Driver Failure", "Not Restarting"],
                "dead",
                true,
            ),
            (
                crash,
                false,
                &[
                    "Received",
                    "Task Setup",
                    "Driver",
                    "Started",
                    "Terminated",
                    "Restarting",
                    "Started",
                    "Terminated",
                    "Not Restarting",
                ],
                "dead",
                true,
            ),
            (blocked, false, &["Received", "Task Setup", "Template"], "pending", false),
        ];
        for (fate, batch, want, state, failed) in cases {
            let label = format!("{fate:?}");
            let (kinds, run) = story(fate, batch, 12);
            assert_eq!(kinds, want, "{label}");
            assert_eq!((run.state.as_str(), run.failed), (state, failed), "{label}");
        }
        let (_, crashed) =
            story(Fate::Crashes { exit_code: 2, stderr: vec!["boom".into()] }, false, 12);
        assert_eq!(crashed.stderr, "boom\nboom\n", "each start writes its stderr");
        assert_eq!(crashed.restarts, 1);
        let (_, healthy) = story(Fate::Runs, false, 12);
        assert_eq!(healthy.stdout, "ready\n");
    }
}
