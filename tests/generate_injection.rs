//! Hostile text in answers and in the repository comes out as inert string content, never as
//! structure: the issue's "Bad input" cases for generation.
//!
//! Each case parses the generated file with hcl-rs and checks that the job has exactly the
//! blocks it should and that the value reads back as the exact text given.

use nomad_spec::analyze::{Analysis, EnvVar, Port, Protocol, Resources, Role, Service, Source};
use nomad_spec::jobspec::answers::Answers;
use nomad_spec::jobspec::build::build;
use nomad_spec::jobspec::build::render_files;
use nomad_spec::jobspec::config::Config;

const HOSTILE: &[&str] = &[
    "quote \" inside",
    "new\nline",
    "${file(\"/etc/passwd\")}",
    "%{ for x in [1] }${x}%{ endfor }",
    "}",
    "\"\n}\njob \"evil\" {\n  type = \"batch\"\n",
    "EOT",
    "line\nEOT\n",
    "$${escaped} and %%{escaped}",
    "back\\slash\\\"",
    "{{ with secret \"kv/data/other\" }}{{ .Data.data.x }}{{ end }}",
];

fn web(env: Vec<EnvVar>, command: Option<Vec<String>>) -> Analysis {
    Analysis {
        services: vec![Service {
            name: "web".into(),
            source: Source::Build,
            path: "web".into(),
            dockerfile: Some("web/Dockerfile".into()),
            build_target: None,
            image: None,
            base_image: None,
            language: None,
            framework: None,
            role: Role::App,
            ports: vec![Port { container: 8080, published: None, protocol: Protocol::Http }],
            health: None,
            env,
            volumes: vec![],
            depends_on: vec![],
            command,
            resources: Resources { cpu: 100, memory: 128, reason: "r".into() },
            evidence: vec![],
            ..Service::new("web", Source::Build, "web")
        }],
        notes: vec![],
    }
}

fn generate(analysis: &Analysis, answers: &Answers) -> String {
    let generated = build(analysis, answers, &Config::default(), "shop").unwrap();
    let files = render_files(&generated, &Config::default(), "shop").unwrap();
    assert_eq!(files.len(), 1);
    files[0].text.clone()
}

/// The task body of the only job, after checking the job's structure is what was generated.
fn task_body(text: &str) -> hcl::Body {
    let body = hcl::parse(text).unwrap_or_else(|err| panic!("{err}\n{text}"));
    let blocks: Vec<&hcl::Block> = body.blocks().collect();
    assert_eq!(blocks.len(), 1, "exactly one top-level block:\n{text}");
    assert_eq!(blocks[0].identifier(), "job");
    assert_eq!(blocks[0].labels()[0].as_str(), "shop");
    let job_attributes: Vec<&str> = blocks[0].body().attributes().map(|a| a.key()).collect();
    assert_eq!(job_attributes, ["type", "datacenters"], "{text}");
    let groups: Vec<&hcl::Block> =
        blocks[0].body().blocks().filter(|b| b.identifier() == "group").collect();
    assert_eq!(groups.len(), 1, "{text}");
    // Besides its group, the job has only the meta naming its repository.
    let others: Vec<&str> = blocks[0]
        .body()
        .blocks()
        .map(|b| b.identifier())
        .filter(|ident| *ident != "group")
        .collect();
    assert_eq!(others, ["meta"], "{text}");
    let tasks: Vec<&hcl::Block> =
        groups[0].body().blocks().filter(|b| b.identifier() == "task").collect();
    assert_eq!(tasks.len(), 1, "{text}");
    tasks[0].body().clone()
}

/// What Nomad reads for a quoted string: literals unescaped; no interpolation may appear.
fn literal(expr: &hcl::Expression, text: &str) -> String {
    match expr {
        hcl::Expression::String(s) => s.clone(),
        hcl::Expression::TemplateExpr(template) => {
            let template = hcl::Template::from_expr(template).unwrap();
            template
                .elements()
                .iter()
                .map(|element| match element {
                    hcl::template::Element::Literal(s) => s.clone(),
                    other => panic!("user text became template code: {other:?}\n{text}"),
                })
                .collect()
        }
        other => panic!("not a string: {other:?}\n{text}"),
    }
}

fn block<'a>(body: &'a hcl::Body, name: &str) -> &'a hcl::Body {
    body.blocks().find(|b| b.identifier() == name).map(|b| b.body()).unwrap()
}

fn attribute<'a>(body: &'a hcl::Body, name: &str) -> &'a hcl::Expression {
    body.attributes().find(|a| a.key() == name).map(|a| a.expr()).unwrap()
}

#[test]
fn answered_env_values_stay_strings() {
    for value in HOSTILE {
        let mut answers = Answers::default();
        answers.set(&format!("env.web.VALUE={value}")).unwrap();
        let text = generate(&web(vec![], None), &answers);
        let env = block(&task_body(&text), "env").clone();
        assert_eq!(literal(attribute(&env, "VALUE"), &text), *value, "{text}");
    }
}

#[test]
fn answers_files_with_hostile_values_stay_strings() {
    let toml = "[services.web.env]\nVALUE = '''\n\"\n}\njob \"evil\" {\n${x}%{y}\nEOT\n'''\n";
    let answers = Answers::from_toml(toml, "answers.toml").unwrap();
    let text = generate(&web(vec![], None), &answers);
    let env = block(&task_body(&text), "env").clone();
    assert_eq!(literal(attribute(&env, "VALUE"), &text), "\"\n}\njob \"evil\" {\n${x}%{y}\nEOT\n");
}

#[test]
fn image_answers_stay_strings() {
    for image in ["ghcr.io/acme/web:1\"}", "x${y}", "a%{b}}", "evil\"job\"{"] {
        let mut answers = Answers::default();
        answers.set(&format!("image.web={image}")).unwrap();
        let text = generate(&web(vec![], None), &answers);
        let config = block(&task_body(&text), "config").clone();
        assert_eq!(literal(attribute(&config, "image"), &text), image, "{text}");
    }
}

#[test]
fn repository_text_stays_strings() {
    for value in HOSTILE {
        let env = vec![EnvVar {
            name: "FROM_REPO".into(),
            secret: false,
            default: Some(value.to_string()),
            ..EnvVar::default()
        }];
        let command = Some(vec!["serve".to_string(), value.to_string()]);
        let text = generate(&web(env, command), &Answers::default());
        let task = task_body(&text);
        if value.contains("${") {
            // A variable compose could not resolve is asked for, never copied into the job.
            assert!(!task.blocks().any(|b| b.identifier() == "env"), "{text}");
        } else {
            assert_eq!(literal(attribute(block(&task, "env"), "FROM_REPO"), &text), *value);
        }
        let hcl::Expression::Array(args) = attribute(block(&task, "config"), "args") else {
            panic!("{text}")
        };
        assert_eq!(literal(&args[1], &text), *value, "{text}");
    }
}

#[test]
fn hostile_answers_for_template_fields_are_refused() {
    // Secret paths, hostnames and names end up inside templates, tags and file names: they are
    // checked when answered rather than escaped later.
    let refused = [
        "secret.DB_PASSWORD=kv/data/x\" }}{{ end }}#k",
        "secret.DB_PASSWORD=kv/data/x#k}}",
        "hostname.web=shop.example.com urlprefix-evil/",
        "job=../../etc/cron.d/x",
        "volume.web./data=host:x\"y",
        "endpoint.web=h\"ost:1",
        "env.web.BAD NAME=x",
    ];
    for line in refused {
        let mut answers = Answers::default();
        assert!(answers.set(line).is_err(), "{line} was accepted");
    }
}

#[test]
fn hostile_service_names_become_plain_names() {
    let mut analysis = web(vec![], None);
    analysis.services[0].name = "web\"}\ngroup \"x".into();
    let text = generate(&analysis, &Answers::default());
    task_body(&text);
    assert!(text.contains("group \"web-group-x\" {"), "{text}");
}

/// Analyses no analyzer should produce, but a buggy or hostile one might: the builder still
/// answers with a job that parses, or with an error, and never hangs or panics.
#[test]
fn odd_analyses_still_give_parseable_jobs() {
    let base = web(vec![], None).services.remove(0);
    let mut cases: Vec<Vec<Service>> = Vec::new();
    let mut empty_name = base.clone();
    empty_name.name = String::new();
    empty_name.depends_on = vec![String::new(), "web".into()];
    empty_name.env = vec![EnvVar {
        name: "X".into(),
        secret: false,
        default: Some("abc".into()),
        ..EnvVar::default()
    }];
    cases.push(vec![empty_name, base.clone()]);
    let mut duplicates = base.clone();
    duplicates.ports.push(duplicates.ports[0].clone());
    duplicates.ports.push(Port { container: 0, published: Some(0), protocol: Protocol::Udp });
    cases.push(vec![duplicates.clone(), duplicates]);
    let mut odd = base.clone();
    odd.name = "ÜBER service!!".into();
    odd.depends_on = vec![odd.name.clone()];
    odd.health = Some(nomad_spec::analyze::Health {
        kind: nomad_spec::analyze::HealthKind::Http,
        path: Some("/x\"}\n".into()),
        port: Some(9999),
    });
    odd.volumes =
        vec![nomad_spec::analyze::Volume { path: "relative\n\"path".into(), persistent: true }];
    odd.env = vec![
        EnvVar {
            name: "1BAD".into(),
            secret: false,
            default: Some("x".into()),
            ..EnvVar::default()
        },
        EnvVar { name: "SECRET-ISH".into(), secret: true, default: None, ..EnvVar::default() },
        EnvVar {
            name: "URL".into(),
            secret: false,
            default: Some(format!("http://{}:1/", "ÜBER service!!")),
            ..EnvVar::default()
        },
    ];
    odd.resources = Resources { cpu: 0, memory: 0, reason: "\u{0}".into() };
    odd.image = Some("\"image\"".into());
    odd.source = Source::Image;
    cases.push(vec![odd]);
    for services in cases {
        let analysis = Analysis { services, notes: vec![] };
        let generated = build(&analysis, &Answers::default(), &Config::default(), "").unwrap();
        for file in render_files(&generated, &Config::default(), "").unwrap() {
            hcl::parse(&file.text).unwrap_or_else(|err| panic!("{err}\n{}", file.text));
        }
    }
}
