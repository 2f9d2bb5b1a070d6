//! The status comment as people read it: snapshots of the typical comments, injection through
//! repository text, the size limit, and ticking its boxes.

use nomad_spec::checks::{CheckResult, CheckStatus};
use nomad_spec::conversation::checkpoint::DeployRecord;
use nomad_spec::conversation::{
    apply, decode, render, Actor, Checkpoint, Event, FoundService, Owner, Permission, Stage,
    StatusInput, TrackedQuestion,
};
use nomad_spec::jobspec::answers::Question;
use nomad_spec::jobspec::build::Decision;
use nomad_spec::nomad::plan::{render_markdown, GroupPlan, PlacementFailure, PlanReport};

const LIMIT: usize = 65_536;

fn services() -> Vec<FoundService> {
    vec![
        FoundService { name: "api".into(), path: "services/api".into(), ports: vec![8080] },
        FoundService { name: "db".into(), path: "docker-compose.yml".into(), ports: vec![5432] },
    ]
}

fn questions() -> Vec<TrackedQuestion> {
    let q = |key: &str, prompt: &str, default: &str, needs_answer: bool| {
        TrackedQuestion::new(&Question {
            key: key.into(),
            prompt: prompt.into(),
            default: default.into(),
            reason: "guessed".into(),
            needs_answer,
        })
    };
    vec![
        q("image.api", "Which image runs api?", "ghcr.io/acme/api:latest", true),
        q("memory.api", "How much memory (MB) does api need?", "256", false),
        q("deploy.db", "Deploy db with the job (or use an existing one)?", "true", false),
    ]
}

fn checkpoint(stage: Stage) -> Checkpoint {
    let mut c = Checkpoint::new();
    c.stage = stage;
    c.spec_path = Some("deploy/shop.nomad.hcl".into());
    c.questions = questions();
    c
}

fn answered(mut c: Checkpoint) -> Checkpoint {
    c.questions[0].answer = Some("ghcr.io/acme/api:1.4".into());
    c.questions[0].answered_by = Some("alice".into());
    c.questions[0].comment_id = Some(11);
    c
}

fn checks() -> Vec<CheckResult> {
    vec![
        CheckResult {
            name: "nomad-spec/validate".into(),
            status: CheckStatus::Success,
            summary: "valid".into(),
            annotations: vec![],
        },
        CheckResult {
            name: "nomad-spec/plan".into(),
            status: CheckStatus::Success,
            summary: "1 create".into(),
            annotations: vec![],
        },
        CheckResult::skipped("nomad-spec/routes", "FABIO_ADDR is not set"),
        CheckResult {
            name: "nomad-spec/secrets".into(),
            status: CheckStatus::Failure,
            summary: "kv/data/shop/db is not readable".into(),
            annotations: vec![],
        },
    ]
}

fn plan(groups: usize) -> PlanReport {
    PlanReport {
        job: "shop".into(),
        job_modify_index: 0,
        change: "Added".into(),
        groups: (0..groups)
            .map(|i| GroupPlan { name: format!("group-{i}"), create: 1, ..GroupPlan::default() })
            .collect(),
        diff: None,
        warnings: vec![],
        placement_failures: vec![],
    }
}

fn decisions() -> Vec<Decision> {
    vec![Decision {
        subject: "api".into(),
        choice: "memory 256 MB".into(),
        reason: "the default for a Go service".into(),
    }]
}

/// The body with the state marker shortened, after checking it decodes to `checkpoint`.
fn shown(input: &StatusInput<'_>) -> String {
    let body = render(input);
    assert!(body.chars().count() < LIMIT);
    assert_eq!(decode(&body).as_ref(), Ok(input.checkpoint));
    body.lines()
        .map(|l| {
            if l.starts_with("<!-- nomad-spec:state") {
                "<!-- nomad-spec:state … -->"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn input<'a>(checkpoint: &'a Checkpoint) -> StatusInput<'a> {
    StatusInput {
        checkpoint,
        services: &[],
        checks: &[],
        plan: None,
        decisions: &[],
        proposed_file: None,
        diagram: None,
        notes: &[],
        prompts: &[],
    }
}

#[test]
fn awaiting_answers() {
    let c = checkpoint(Stage::AwaitingAnswers);
    let services = services();
    insta::assert_snapshot!(
        "status_awaiting_answers",
        shown(&StatusInput { services: &services, ..input(&c) })
    );
}

#[test]
fn generated_and_checked() {
    let c = answered(checkpoint(Stage::ChecksFailed));
    let (checks, plan, decisions) = (checks(), render_markdown(&plan(1)), decisions());
    let body = shown(&StatusInput {
        checks: &checks,
        plan: Some(plan.as_str()),
        decisions: &decisions,
        ..input(&c)
    });
    insta::assert_snapshot!("status_generated_with_checks", body);
}

#[test]
fn deploy_failed_with_diagnosis() {
    let mut c = answered(checkpoint(Stage::Failed));
    c.owner = Owner::Human;
    c.deploy = Some(DeployRecord {
        commit: "4f1c2a9e7d3b5a60".into(),
        attempts: 1,
        verdict: Some("failed".into()),
        diagnosis: Some("task `api` was OOM killed: 256 MB is too small, try 512".into()),
    });
    insta::assert_snapshot!("status_deploy_failed", shown(&input(&c)));
}

#[test]
fn gave_up_after_a_rebuild() {
    let mut c = answered(checkpoint(Stage::GaveUp));
    c.fix_iterations = 2;
    c.rebuilt_because = Some("the state marker was edited by hand".into());
    c.deploy = Some(DeployRecord {
        commit: "m1".into(),
        attempts: 3,
        verdict: Some("failed".into()),
        diagnosis: Some("health check `/healthz` keeps failing".into()),
    });
    insta::assert_snapshot!("status_gave_up", shown(&input(&c)));
}

#[test]
fn a_fork_sees_the_proposed_file() {
    let mut c = answered(checkpoint(Stage::Generated));
    c.fork = true;
    let file = "job \"shop\" {\n  # ``` a fence in a comment\n}\n";
    let body = render(&StatusInput { proposed_file: Some(file), ..input(&c) });
    assert!(body.contains("comes from a fork"));
    assert!(body.contains("````hcl\njob \"shop\" {"), "{body}");
}

#[test]
fn repository_text_cannot_inject_markup() {
    let mut c = checkpoint(Stage::AwaitingAnswers);
    c.questions[0].key = "image.</details><!--".into();
    c.questions[0].answer = Some("@everyone --> <script>x</script> | ${NOMAD_SECRET}".into());
    c.questions[0].answered_by = Some("<b>eve</b>".into());
    let services = vec![FoundService {
        name: "</details><!--".into(),
        path: "[click](javascript:alert(1))\n# heading".into(),
        ports: vec![],
    }];
    let checks = vec![CheckResult::skipped("nomad-spec/x | y", "</td></table>\n```")];
    let decisions = vec![Decision {
        subject: "-->".into(),
        choice: "<details><summary>".into(),
        reason: "`".into(),
    }];
    let body = render(&StatusInput {
        services: &services,
        checks: &checks,
        decisions: &decisions,
        ..input(&c)
    });
    assert_eq!(decode(&body).as_ref(), Ok(&c));
    assert!(!body.contains("@everyone"), "not even in the marker");
    // Only the two markers open HTML comments; every <details> is the renderer's own.
    assert_eq!(body.matches("<!--").count(), 2, "{body}");
    assert_eq!(body.matches("-->").count(), 2, "{body}");
    assert_eq!(body.matches("<details>").count(), body.matches("</details>").count());
    assert_eq!(body.matches("<details>").count(), 1, "only the decisions part is collapsed");
    let visible = body
        .lines()
        .filter(|l| !l.starts_with("<!-- nomad-spec:state"))
        .collect::<Vec<_>>()
        .join("\n");
    for raw in ["<script>", "@everyone", "<b>", "](javascript", "\n# heading", "</table>"] {
        assert!(!visible.contains(raw), "{raw} reached the comment:\n{body}");
    }
    assert!(!body.lines().any(|l| l.starts_with("```")), "{body}");
}

#[test]
fn long_parts_are_cut_below_the_limit_and_the_marker_survives() {
    let mut c = answered(checkpoint(Stage::Generated));
    c.fork = true;
    for i in 0..60 {
        c.questions.push(TrackedQuestion::new(&Question {
            key: format!("env.api.VAR_{i}"),
            prompt: "x".repeat(150),
            default: "y".repeat(150),
            reason: String::new(),
            needs_answer: false,
        }));
    }
    let plan = render_markdown(&plan(3_000));
    let file: String = (0..4_000).map(|i| format!("  # line {i} of a long job file\n")).collect();
    let decisions: Vec<Decision> = (0..2_000)
        .map(|i| Decision { subject: format!("s{i}"), choice: "c".into(), reason: "r".repeat(40) })
        .collect();
    let body = render(&StatusInput {
        plan: Some(plan.as_str()),
        proposed_file: Some(&file),
        decisions: &decisions,
        ..input(&c)
    });
    let length = body.chars().count();
    assert!(length < LIMIT, "{length} characters");
    assert!(length > LIMIT / 2, "cut far more than needed: {length}");
    assert_eq!(decode(&body).as_ref(), Ok(&c));
    assert!(body.trim_end().ends_with("-->"));
    assert!(body.contains("full text is in the workflow's job summary"));
    assert_eq!(body.matches("<details").count(), body.matches("</details>").count());
    let fences = body.lines().filter(|l| l.trim_start().starts_with("```")).count();
    assert_eq!(fences % 2, 0, "a code fence is left open");
}

#[test]
fn placement_failures_and_plan_are_collapsed() {
    let c = answered(checkpoint(Stage::Checked));
    let mut plan = plan(1);
    plan.placement_failures.push(PlacementFailure {
        group: "group-0".into(),
        explanation: "memory exhausted on 3 nodes".into(),
    });
    let plan = render_markdown(&plan);
    let body = render(&StatusInput { plan: Some(plan.as_str()), ..input(&c) });
    assert!(body.contains("<details><summary>Nomad plan</summary>"), "{body}");
    assert!(body.contains("memory exhausted on 3 nodes"));
}

#[test]
fn ticking_a_box_answers_its_question() {
    let (c, _) = apply(
        &Checkpoint::new(),
        &Event::PullRequestChanged {
            head_sha: "h1".into(),
            draft: false,
            from_fork: false,
            questions: questions()
                .iter()
                .map(|q| Question {
                    key: q.key.clone(),
                    prompt: q.prompt.clone(),
                    default: q.default.clone(),
                    reason: String::new(),
                    needs_answer: q.needs_answer,
                })
                .collect(),
            spec_path: "deploy/shop.nomad.hcl".into(),
            spec_file_hash: None,
        },
    );
    let body = render(&input(&c));
    assert!(body.contains("3. [x] deploy\\.db"), "{body}");
    let edited = body.replace("3. [x] deploy", "3. [ ] deploy");
    let actor = Actor { login: "alice".into(), permission: Permission::Admin };
    let (next, _) = apply(&c, &Event::StatusCommentEdited { actor, body: edited });
    assert_eq!(next.questions[2].answer.as_deref(), Some("false"));
    assert_eq!(next.answers.for_service("db").and_then(|s| s.deploy), Some(false));
}
