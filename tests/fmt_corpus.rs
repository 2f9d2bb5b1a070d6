//! `format_hcl` over every job file in the shared corpus: it must be idempotent, keep every
//! comment, keep the meaning (the parsed HCL body is the same before and after), and agree
//! with HashiCorp's own formatter.
//!
//! How the agreement lists were made: every corpus file was run through `terraform fmt -`
//! (Terraform 1.11.4), whose layout is `hclwrite`'s, the same code `nomad fmt` runs.
//! Terraform also rewrites a few things `nomad fmt` does not (it unwraps `"${x}"` to `x`,
//! quotes block labels, rewrites `variable` types). [`ALREADY_FORMATTED`] lists the files
//! whose `terraform fmt` output differs from them only by that unwrapping (a differing line
//! counts only if re-wrapping Terraform's value gives back the original line exactly), so
//! `hclwrite` leaves them unchanged. [`TERRAFORM_FMT_OUTPUT`] holds the SHA-256 of
//! `terraform fmt`'s output for every file where it applied no Terraform-only rewrite, so
//! that output is exactly `hclwrite`'s. The corpus files themselves are not copied here,
//! only their names and hashes.

mod common;

use hcl::template::{Directive, Element, Template};
use hcl::{Body, Expression, ObjectKey, Structure, TemplateExpr, TraversalOperator};
use nomad_spec::jobspec::format::format_hcl;
use sha2::{Digest, Sha256};

/// Every file under `corpus/nomad-jobs`, as (path relative to it, text); `None` without the
/// corpus (the test skips, said on stderr).
fn corpus_jobs() -> Option<Vec<(String, String)>> {
    let root = common::corpus_dir()?.join("nomad-jobs");
    let mut pending = vec![root.clone()];
    let mut files = Vec::new();
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("corpus directory is readable") {
            let path = entry.expect("corpus entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let name = path.strip_prefix(&root).expect("under root").display().to_string();
                let text = std::fs::read_to_string(&path).expect("corpus files are UTF-8");
                files.push((name, text));
            }
        }
    }
    files.sort();
    assert!(files.len() >= 300, "expected the 325 corpus job files, found {}", files.len());
    Some(files)
}

/// Corpus files `format_hcl` refuses, with the reason. Every corpus file is HCL2 (both
/// `hcl-edit` and `terraform fmt` accept all of them; the HCL1-era and templated ones keep
/// their `${...}` and `[[ ]]` inside strings), so none is expected to fail.
const EXPECTED_FAILURES: &[(&str, &str)] = &[];

#[test]
fn every_corpus_file_formats_or_fails_as_expected() {
    let mut failures = Vec::new();
    let Some(jobs) = corpus_jobs() else { return };
    for (name, text) in jobs {
        if let Err(diagnostic) = format_hcl(&text, &name) {
            failures.push((name, diagnostic.to_string()));
        }
    }
    let expected: Vec<(String, String)> =
        EXPECTED_FAILURES.iter().map(|(n, m)| (n.to_string(), m.to_string())).collect();
    assert_eq!(failures, expected);
}

#[test]
fn formatting_is_idempotent_on_the_corpus() {
    let Some(jobs) = corpus_jobs() else { return };
    for (name, text) in jobs {
        let Ok(once) = format_hcl(&text, &name) else { continue };
        let twice = format_hcl(&once, &name).expect("formatted output parses");
        assert!(once == twice, "formatting {name} twice changed it");
    }
}

/// The text with spaces and tabs removed and trailing line breaks trimmed: formatting may
/// change nothing else.
fn without_spacing(text: &str) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let kept: String = text.chars().filter(|c| *c != ' ' && *c != '\t').collect();
    kept.trim_end_matches(['\n', '\r']).to_string()
}

/// Comments found by a deliberately simple reading, independent of the formatter's lexer: on
/// each line, the text from the first `#`, `//` or `/*` outside double quotes. Heredoc lines
/// are read the same way on both sides, and they must not change either.
fn comments(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines() {
        let bytes = line.as_bytes();
        let mut in_quotes = false;
        let mut at = 0;
        while at < bytes.len() {
            match bytes[at] {
                b'\\' if in_quotes => at += 1,
                b'"' => in_quotes = !in_quotes,
                b'#' if !in_quotes => break,
                b'/' if !in_quotes && matches!(bytes.get(at + 1), Some(b'/' | b'*')) => break,
                _ => {}
            }
            at += 1;
        }
        if at < bytes.len() {
            found.push(line[at..].trim_end().to_string());
        }
    }
    found
}

#[test]
fn formatting_changes_only_spacing_and_keeps_every_comment() {
    let mut comment_count = 0;
    let Some(jobs) = corpus_jobs() else { return };
    for (name, text) in jobs {
        let Ok(formatted) = format_hcl(&text, &name) else { continue };
        assert!(
            without_spacing(&text) == without_spacing(&formatted),
            "formatting {name} changed more than spaces"
        );
        assert_eq!(text.lines().count(), formatted.lines().count(), "line count of {name}");
        let before = comments(&text);
        comment_count += before.len();
        assert_eq!(before, comments(&formatted), "comments of {name}");
    }
    assert!(comment_count > 500, "the corpus has many comments; found only {comment_count}");
}

#[test]
fn formatting_keeps_the_meaning_of_every_corpus_file() {
    let mut compared = 0;
    let Some(jobs) = corpus_jobs() else { return };
    for (name, text) in jobs {
        let Ok(formatted) = format_hcl(&text, &name) else { continue };
        let before = hcl::parse(&text).map(normalize_body);
        let after = hcl::parse(&formatted).map(normalize_body);
        match (before, after) {
            (Ok(before), Ok(after)) => {
                assert!(before == after, "formatting {name} changed its parsed body");
                compared += 1;
            }
            (Err(_), Err(_)) => {}
            (before, after) => panic!(
                "{name}: parses before formatting: {}, after: {}",
                before.is_ok(),
                after.is_ok()
            ),
        }
    }
    assert!(compared >= 300, "only {compared} corpus files were compared");
}

#[test]
fn already_formatted_corpus_files_are_left_unchanged() {
    let Some(corpus) = common::corpus_dir() else { return };
    let root = corpus.join("nomad-jobs");
    for name in ALREADY_FORMATTED {
        let text = std::fs::read_to_string(root.join(name)).expect("listed corpus file");
        let formatted = format_hcl(&text, name).expect("listed files are valid");
        assert!(formatted == text, "{name} is `nomad fmt`-formatted but formatting changed it");
    }
}

#[test]
fn output_matches_terraform_fmt_on_the_corpus() {
    let Some(corpus) = common::corpus_dir() else { return };
    let root = corpus.join("nomad-jobs");
    for (name, expected) in TERRAFORM_FMT_OUTPUT {
        let text = std::fs::read_to_string(root.join(name)).expect("listed corpus file");
        let formatted = format_hcl(&text, name).expect("listed files are valid");
        let digest: String =
            Sha256::digest(formatted.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(&digest, expected, "{name} is formatted differently from `terraform fmt`");
    }
}

#[test]
fn damaged_corpus_files_give_a_result_or_a_diagnostic_never_a_panic() {
    let Some(jobs) = corpus_jobs() else { return };
    for (name, text) in jobs {
        let cuts: Vec<usize> =
            (1..8).map(|i| i * text.len() / 8).filter(|at| text.is_char_boundary(*at)).collect();
        for at in cuts {
            let truncated = &text[..at];
            let one_char_removed: String =
                text[..at].chars().chain(text[at..].chars().skip(1)).collect();
            for damaged in [truncated, one_char_removed.as_str()] {
                match format_hcl(damaged, &name) {
                    Ok(formatted) => {
                        let again = format_hcl(&formatted, &name).expect("output parses");
                        assert!(again == formatted, "{name} cut at {at}: not idempotent");
                    }
                    Err(diagnostic) => {
                        assert!(diagnostic.line >= 1 && diagnostic.column >= 1, "{diagnostic}");
                        assert!(!diagnostic.message.is_empty());
                    }
                }
            }
        }
    }
}

/// `text` with every line's indentation and the spacing around an attribute's `=` scrambled,
/// except inside heredocs and multi-line block comments, where the text is content.
fn scramble_spacing(text: &str) -> String {
    let attribute = regex::Regex::new(r"^([A-Za-z_][A-Za-z0-9_-]*)\s+=\s+(.*)$").expect("regex");
    let heredoc = regex::Regex::new(r"<<-?([A-Za-z_][A-Za-z0-9_-]*)$").expect("regex");
    let mut out = String::new();
    let mut heredoc_marker: Option<String> = None;
    let mut in_block_comment = false;
    for (number, line) in text.split_inclusive('\n').enumerate() {
        let body = line.trim_end_matches(['\n', '\r']);
        if let Some(marker) = &heredoc_marker {
            if body.trim() == marker {
                heredoc_marker = None;
            }
            out.push_str(line);
            continue;
        }
        if in_block_comment {
            in_block_comment = !body.contains("*/");
            out.push_str(line);
            continue;
        }
        let trimmed = body.trim_start();
        let indent = ["", "\t", "   ", " \t ", "         "][number % 5];
        let scrambled = match attribute.captures(trimmed) {
            Some(parts) => {
                let spaces = ["", " ", "    "][number % 3];
                format!("{indent}{}{spaces}=\t{}", &parts[1], &parts[2])
            }
            None => format!("{indent}{trimmed}"),
        };
        out.push_str(&scrambled);
        out.push_str(&line[body.len()..]);
        if let Some(found) = heredoc.captures(body) {
            heredoc_marker = Some(found[1].to_string());
        }
        in_block_comment = body.contains("/*") && !body.contains("*/");
    }
    out
}

#[test]
fn indentation_and_spacing_around_equals_do_not_matter() {
    let mut scrambled_files = 0;
    let Some(jobs) = corpus_jobs() else { return };
    for (name, text) in jobs {
        let Ok(formatted) = format_hcl(&text, &name) else { continue };
        let scrambled = scramble_spacing(&formatted);
        assert_ne!(scrambled, formatted, "{name} was not scrambled");
        let again = format_hcl(&scrambled, &name).expect("scrambled spacing still parses");
        let first_difference = again.lines().zip(formatted.lines()).position(|(a, b)| a != b);
        assert!(
            again == formatted,
            "{name}: formatting depends on the input's spacing (first differing line: {:?})",
            first_difference.map(|at| at + 1)
        );
        scrambled_files += 1;
    }
    assert!(scrambled_files >= 300);
}

#[test]
fn meaning_comparison_ignores_interpolation_spacing_but_not_text() {
    let parse = |text: &str| normalize_body(hcl::parse(text).expect("test input parses"));
    let spaced = parse("a = \"id-${ upper(x) } %{ if y }yes%{ endif }\"\n");
    assert_eq!(spaced, parse("a = \"id-${upper(x)} %{if y}yes%{endif}\"\n"));
    assert_ne!(spaced, parse("a = \"id- ${upper(x)} %{if y}yes%{endif}\"\n"));
    assert_ne!(spaced, parse("a = \"id-${upper(z)} %{if y}yes%{endif}\"\n"));
    let heredoc = parse("a = <<EOT\n  x ${ y }\nEOT\n");
    assert_eq!(heredoc, parse("a = <<EOT\n  x ${y}\nEOT\n"));
    assert_ne!(heredoc, parse("a = <<EOT\n x ${y}\nEOT\n"));
}

/// Rewrites every template (quoted string with `${`/`%{`, heredoc) into its parsed form, so
/// that `"${ x }"` and `"${x}"`, which differ only in spacing inside the interpolation, compare
/// equal, while any change to literal text or to the expressions inside does not.
fn normalize_body(body: Body) -> Body {
    body.into_iter()
        .map(|structure| match structure {
            Structure::Attribute(mut attribute) => {
                attribute.expr = normalize(attribute.expr);
                Structure::Attribute(attribute)
            }
            Structure::Block(mut block) => {
                block.body = normalize_body(block.body);
                Structure::Block(block)
            }
        })
        .collect()
}

fn normalize(expr: Expression) -> Expression {
    match expr {
        Expression::TemplateExpr(template) => {
            let parsed = Template::from_expr(&template).map(normalize_template);
            let parsed = match parsed {
                Ok(parsed) => format!("{parsed:?}"),
                Err(err) => format!("unparsable template: {err}"),
            };
            Expression::TemplateExpr(Box::new(match *template {
                TemplateExpr::QuotedString(_) => TemplateExpr::QuotedString(parsed),
                TemplateExpr::Heredoc(mut heredoc) => {
                    heredoc.template = parsed;
                    TemplateExpr::Heredoc(heredoc)
                }
            }))
        }
        Expression::Array(items) => Expression::Array(items.into_iter().map(normalize).collect()),
        Expression::Object(object) => Expression::Object(
            object
                .into_iter()
                .map(|(key, value)| {
                    let key = match key {
                        ObjectKey::Expression(expr) => ObjectKey::Expression(normalize(expr)),
                        key => key,
                    };
                    (key, normalize(value))
                })
                .collect(),
        ),
        Expression::Traversal(mut traversal) => {
            traversal.expr = normalize(traversal.expr);
            for operator in &mut traversal.operators {
                if let TraversalOperator::Index(index) = operator {
                    *index = normalize(std::mem::replace(index, Expression::Null));
                }
            }
            Expression::Traversal(traversal)
        }
        Expression::FuncCall(mut call) => {
            call.args = std::mem::take(&mut call.args).into_iter().map(normalize).collect();
            Expression::FuncCall(call)
        }
        Expression::Parenthesis(inner) => Expression::Parenthesis(Box::new(normalize(*inner))),
        Expression::Conditional(mut cond) => {
            cond.cond_expr = normalize(cond.cond_expr);
            cond.true_expr = normalize(cond.true_expr);
            cond.false_expr = normalize(cond.false_expr);
            Expression::Conditional(cond)
        }
        Expression::Operation(mut operation) => {
            match &mut *operation {
                hcl::Operation::Unary(unary) => {
                    unary.expr = normalize(std::mem::replace(&mut unary.expr, Expression::Null));
                }
                hcl::Operation::Binary(binary) => {
                    binary.lhs_expr =
                        normalize(std::mem::replace(&mut binary.lhs_expr, Expression::Null));
                    binary.rhs_expr =
                        normalize(std::mem::replace(&mut binary.rhs_expr, Expression::Null));
                }
            }
            Expression::Operation(operation)
        }
        Expression::ForExpr(mut for_expr) => {
            for_expr.collection_expr = normalize(for_expr.collection_expr);
            for_expr.key_expr = for_expr.key_expr.map(normalize);
            for_expr.value_expr = normalize(for_expr.value_expr);
            for_expr.cond_expr = for_expr.cond_expr.map(normalize);
            Expression::ForExpr(for_expr)
        }
        other => other,
    }
}

fn normalize_template(mut template: Template) -> Template {
    for element in template.elements_mut() {
        match element {
            Element::Literal(_) => {}
            Element::Interpolation(interpolation) => {
                interpolation.expr =
                    normalize(std::mem::replace(&mut interpolation.expr, Expression::Null));
            }
            Element::Directive(directive) => match &mut **directive {
                Directive::If(if_directive) => {
                    if_directive.cond_expr =
                        normalize(std::mem::replace(&mut if_directive.cond_expr, Expression::Null));
                    if_directive.true_template =
                        normalize_template(std::mem::take(&mut if_directive.true_template));
                    if_directive.false_template =
                        if_directive.false_template.take().map(normalize_template);
                }
                Directive::For(for_directive) => {
                    for_directive.collection_expr = normalize(std::mem::replace(
                        &mut for_directive.collection_expr,
                        Expression::Null,
                    ));
                    for_directive.template =
                        normalize_template(std::mem::take(&mut for_directive.template));
                }
            },
        }
    }
    template
}

/// Corpus files that `nomad fmt` (`hclwrite`) leaves unchanged: `terraform fmt -` returned
/// them byte for byte, or changed nothing but Terraform's own unwrapping of `"${x}"` values
/// (every other line identical, same spacing).
const ALREADY_FORMATTED: &[&str] = &[
    "brucellino+nomad-jobs/alertmanager.nomad",
    "brucellino+nomad-jobs/ansible.nomad",
    "brucellino+nomad-jobs/apache.nomad",
    "brucellino+nomad-jobs/cloudflared.nomad",
    "brucellino+nomad-jobs/consul-esm.nomad",
    "brucellino+nomad-jobs/consul-snapshot.nomad",
    "brucellino+nomad-jobs/github-runner-cdevents.nomad.hcl",
    "brucellino+nomad-jobs/github-runner/github-runner.nomad",
    "brucellino+nomad-jobs/grafana-agent/grafana-agent.nomad",
    "brucellino+nomad-jobs/grafana-agent/grafana-integrations.nomad",
    "brucellino+nomad-jobs/hubot.nomad",
    "brucellino+nomad-jobs/jenkins/jenkins.nomad",
    "brucellino+nomad-jobs/juicefs/jfs-controller.nomad.hcl",
    "brucellino+nomad-jobs/juicefs/jfs-metadata.nomad.hcl",
    "brucellino+nomad-jobs/juicefs/jfs-node.nomad.hcl",
    "brucellino+nomad-jobs/kroki/kroki.nomad.hcl",
    "brucellino+nomad-jobs/loki.nomad",
    "brucellino+nomad-jobs/mailman/mailman.nomad.hcl",
    "brucellino+nomad-jobs/memcached.nomad",
    "brucellino+nomad-jobs/nginx.nomad",
    "brucellino+nomad-jobs/node-exporter.nomad",
    "brucellino+nomad-jobs/observability-plane/github-exporter.nomad",
    "brucellino+nomad-jobs/observability-plane/grafana-alloy-exporter.nomad.hcl",
    "brucellino+nomad-jobs/observability-plane/grafana.nomad",
    "brucellino+nomad-jobs/observability-plane/loki.nomad.hcl",
    "brucellino+nomad-jobs/observability-plane/mimir.nomad.hcl",
    "brucellino+nomad-jobs/observability-plane/monitoring.nomad",
    "brucellino+nomad-jobs/observability-plane/promtail.nomad",
    "brucellino+nomad-jobs/operations/hah-snapshot.nomad.hcl",
    "brucellino+nomad-jobs/operations/journalctl-gc.nomad.hcl",
    "brucellino+nomad-jobs/qa-api.nomad",
    "brucellino+nomad-jobs/report-portal/report-portal.nomad.hcl",
    "brucellino+nomad-jobs/report-portal/rp-services.nomad.hcl",
    "brucellino+nomad-jobs/services-plane/rabbit-consul.nomad.hcl",
    "brucellino+nomad-jobs/vault-dev.nomad",
    "brucellino+nomad-jobs/webserver.nomad",
    "hashicorp+nomad-autoscaler-demos/cloud/demos/on-demand-batch/shared/terraform/modules/nomad-jobs/jobs/batch.nomad",
    "hashicorp+nomad-autoscaler-demos/cloud/demos/on-demand-batch/shared/terraform/modules/nomad-jobs/jobs/prometheus.nomad",
    "hashicorp+nomad-autoscaler-demos/cloud/demos/on-demand-batch/shared/terraform/modules/nomad-jobs/jobs/traefik.nomad",
    "hashicorp+nomad-autoscaler-demos/cloud/shared/terraform/modules/shared-nomad-jobs/files/prometheus.nomad",
    "hashicorp+nomad-autoscaler-demos/cloud/shared/terraform/modules/shared-nomad-jobs/files/traefik.nomad",
    "hashicorp+nomad-autoscaler-demos/cloud/shared/terraform/modules/shared-nomad-jobs/files/webapp.nomad",
    "hashicorp+nomad-autoscaler-demos/vagrant/dynamic-app-sizing/jobs/das-autoscaler.nomad",
    "hashicorp+nomad-autoscaler-demos/vagrant/dynamic-app-sizing/jobs/das-load-test.nomad",
    "hashicorp+nomad-autoscaler-demos/vagrant/dynamic-app-sizing/jobs/example.nomad",
    "hashicorp+nomad-autoscaler-demos/vagrant/dynamic-app-sizing/jobs/prometheus.nomad",
    "hashicorp+nomad-autoscaler-demos/vagrant/horizontal-app-scaling/jobs/autoscaler.nomad",
    "hashicorp+nomad-autoscaler-demos/vagrant/horizontal-app-scaling/jobs/grafana.nomad",
    "hashicorp+nomad-autoscaler-demos/vagrant/horizontal-app-scaling/jobs/loki.nomad",
    "hashicorp+nomad-autoscaler-demos/vagrant/horizontal-app-scaling/jobs/prometheus.nomad",
    "hashicorp+nomad-autoscaler-demos/vagrant/horizontal-app-scaling/jobs/traefik.nomad",
    "hashicorp+nomad-autoscaler-demos/vagrant/horizontal-app-scaling/jobs/webapp.nomad",
    "hashicorp+nomad/command/asset/connect-short.nomad.hcl",
    "hashicorp+nomad/command/asset/connect.nomad.hcl",
    "hashicorp+nomad/command/asset/example-short.nomad.hcl",
    "hashicorp+nomad/command/asset/example.nomad.hcl",
    "hashicorp+nomad/demo/csi/ceph-csi-plugin/ceph.nomad",
    "hashicorp+nomad/demo/csi/ceph-csi-plugin/plugin-cephrbd-controller-vagrant.nomad",
    "hashicorp+nomad/demo/csi/ceph-csi-plugin/plugin-cephrbd-controller.nomad",
    "hashicorp+nomad/demo/csi/ceph-csi-plugin/plugin-cephrbd-node.nomad",
    "hashicorp+nomad/demo/csi/cinder-csi-plugin/cinder-csi-plugin.hcl",
    "hashicorp+nomad/demo/csi/digitalocean/plugin.nomad",
    "hashicorp+nomad/demo/csi/digitalocean/volume-job.nomad",
    "hashicorp+nomad/demo/csi/hostpath/plugin.nomad",
    "hashicorp+nomad/demo/csi/hostpath/redis.nomad",
    "hashicorp+nomad/demo/csi/kadalu-csi/app.nomad",
    "hashicorp+nomad/demo/csi/kadalu-csi/controller.nomad",
    "hashicorp+nomad/demo/csi/kadalu-csi/nodeplugin.nomad",
    "hashicorp+nomad/demo/csi/nfs/jobs/controller-plugin.nomad.hcl",
    "hashicorp+nomad/demo/csi/nfs/jobs/nfs.nomad.hcl",
    "hashicorp+nomad/demo/csi/nfs/jobs/node-plugin.nomad.hcl",
    "hashicorp+nomad/demo/csi/nfs/jobs/web.nomad.hcl",
    "hashicorp+nomad/demo/csi/portworx-csi-plugin/portworx-csi-plugin.hcl",
    "hashicorp+nomad/demo/hostvolume/job.nomad.hcl",
    "hashicorp+nomad/demo/snapshotagent/snapshot-agent.nomad.hcl",
    "hashicorp+nomad/e2e/affinities/input/anti_affinities.nomad",
    "hashicorp+nomad/e2e/affinities/input/multiple_affinities.nomad",
    "hashicorp+nomad/e2e/affinities/input/single_affinity.nomad",
    "hashicorp+nomad/e2e/alloc_logs/input/mixed-output.nomad",
    "hashicorp+nomad/e2e/allocexec/input/sleepytar.hcl",
    "hashicorp+nomad/e2e/artifact/input/artifact_darwin.nomad",
    "hashicorp+nomad/e2e/artifact/input/artifact_limits.nomad",
    "hashicorp+nomad/e2e/artifact/input/artifact_linux.nomad",
    "hashicorp+nomad/e2e/artifact/input/artifact_windows.nomad",
    "hashicorp+nomad/e2e/batch_timeout/input/batch_timeout_basic.hcl",
    "hashicorp+nomad/e2e/batch_timeout/input/batch_timeout_completes.hcl",
    "hashicorp+nomad/e2e/batch_timeout/input/batch_timeout_poststop.hcl",
    "hashicorp+nomad/e2e/batch_timeout/input/sysbatch_timeout_basic.hcl",
    "hashicorp+nomad/e2e/clientstate/input/alloc_zombie.nomad",
    "hashicorp+nomad/e2e/clientstate/restarter.nomad",
    "hashicorp+nomad/e2e/clientstate/sleeper.nomad",
    "hashicorp+nomad/e2e/cni/input/cni_args.nomad.hcl",
    "hashicorp+nomad/e2e/cni/input/config_format.nomad.hcl",
    "hashicorp+nomad/e2e/connect/input/demo.nomad",
    "hashicorp+nomad/e2e/connect/input/expose-custom.nomad",
    "hashicorp+nomad/e2e/connect/input/ingress-gateway.nomad",
    "hashicorp+nomad/e2e/connect/input/multi-ingress.nomad",
    "hashicorp+nomad/e2e/connect/input/multi-service.nomad",
    "hashicorp+nomad/e2e/connect/input/native-demo.nomad",
    "hashicorp+nomad/e2e/connect/input/terminating-gateway.nomad",
    "hashicorp+nomad/e2e/connect/input/tproxy.nomad.hcl",
    "hashicorp+nomad/e2e/consul/input/alloc_restart.hcl",
    "hashicorp+nomad/e2e/consul/input/canary_tags.nomad",
    "hashicorp+nomad/e2e/consul/input/checks_group.nomad",
    "hashicorp+nomad/e2e/consul/input/checks_group_restart.nomad",
    "hashicorp+nomad/e2e/consul/input/checks_group_update.nomad",
    "hashicorp+nomad/e2e/consul/input/checks_task.nomad",
    "hashicorp+nomad/e2e/consul/input/checks_task_restart.nomad",
    "hashicorp+nomad/e2e/consul/input/checks_task_update.nomad",
    "hashicorp+nomad/e2e/consul/input/consul_example.nomad",
    "hashicorp+nomad/e2e/consul/input/namespaces/connect_ingress.nomad",
    "hashicorp+nomad/e2e/consul/input/namespaces/connect_sidecars.nomad",
    "hashicorp+nomad/e2e/consul/input/namespaces/connect_terminating.nomad",
    "hashicorp+nomad/e2e/consul/input/namespaces/script_checks_group.nomad",
    "hashicorp+nomad/e2e/consul/input/namespaces/script_checks_task.nomad",
    "hashicorp+nomad/e2e/consul/input/namespaces/services_group.nomad",
    "hashicorp+nomad/e2e/consul/input/namespaces/services_task.nomad",
    "hashicorp+nomad/e2e/consul/input/on_update.nomad",
    "hashicorp+nomad/e2e/consul/input/on_update_2.nomad",
    "hashicorp+nomad/e2e/consul/input/on_update_check_restart.nomad",
    "hashicorp+nomad/e2e/consulcompat/input/connect.nomad.hcl",
    "hashicorp+nomad/e2e/consultemplate/input/bad_template_paths.nomad",
    "hashicorp+nomad/e2e/consultemplate/input/nomad_provider_service.nomad",
    "hashicorp+nomad/e2e/consultemplate/input/nomad_provider_service_lookup.nomad",
    "hashicorp+nomad/e2e/consultemplate/input/nomad_provider_service_ns.nomad",
    "hashicorp+nomad/e2e/consultemplate/input/template_paths.nomad",
    "hashicorp+nomad/e2e/consultemplate/input/template_shared_alloc.nomad",
    "hashicorp+nomad/e2e/consultemplate/input/update_triggers.nomad.hcl",
    "hashicorp+nomad/e2e/csi/input/plugin-aws-ebs-controller.nomad",
    "hashicorp+nomad/e2e/csi/input/plugin-aws-ebs-nodes.nomad",
    "hashicorp+nomad/e2e/csi/input/plugin-aws-efs-nodes.nomad",
    "hashicorp+nomad/e2e/csi/input/use-ebs-volume.nomad",
    "hashicorp+nomad/e2e/csi/input/use-efs-volume-read.nomad",
    "hashicorp+nomad/e2e/csi/input/use-efs-volume-write.nomad",
    "hashicorp+nomad/e2e/deployment/input/deployment_auto0.nomad",
    "hashicorp+nomad/e2e/deployment/input/deployment_auto1.nomad",
    "hashicorp+nomad/e2e/disconnectedclients/input/lost_max_disconnect.nomad",
    "hashicorp+nomad/e2e/disconnectedclients/input/lost_simple.nomad",
    "hashicorp+nomad/e2e/docker/input/auth_basic.hcl",
    "hashicorp+nomad/e2e/docker/input/auth_helper.hcl",
    "hashicorp+nomad/e2e/docker/input/auth_static.hcl",
    "hashicorp+nomad/e2e/docker/input/docker_config.hcl",
    "hashicorp+nomad/e2e/docker/input/redis.hcl",
    "hashicorp+nomad/e2e/docker_registry/registry-auths.hcl",
    "hashicorp+nomad/e2e/docker_registry/registry.hcl",
    "hashicorp+nomad/e2e/dynamic_host_volumes/input/mount-created.nomad.hcl",
    "hashicorp+nomad/e2e/dynamic_host_volumes/input/mount-registered.nomad.hcl",
    "hashicorp+nomad/e2e/dynamic_host_volumes/input/register-volumes.nomad.hcl",
    "hashicorp+nomad/e2e/dynamic_host_volumes/input/sticky.nomad.hcl",
    "hashicorp+nomad/e2e/e2eutil/input/disconnect-node.nomad",
    "hashicorp+nomad/e2e/e2eutil/input/restart-node.nomad",
    "hashicorp+nomad/e2e/eval_priority/inputs/thirteen_job_priority.nomad",
    "hashicorp+nomad/e2e/events/input/deploy.nomad",
    "hashicorp+nomad/e2e/events/input/initial.nomad",
    "hashicorp+nomad/e2e/events/input/large-job.nomad",
    "hashicorp+nomad/e2e/example/input/env.hcl",
    "hashicorp+nomad/e2e/example/input/sleep.hcl",
    "hashicorp+nomad/e2e/exec2/input/countdash.hcl",
    "hashicorp+nomad/e2e/exec2/input/env.hcl",
    "hashicorp+nomad/e2e/exec2/input/http.hcl",
    "hashicorp+nomad/e2e/exec2/input/http_curl.hcl",
    "hashicorp+nomad/e2e/exec2/input/secrets.hcl",
    "hashicorp+nomad/e2e/isolation/input/alloc_exec.hcl",
    "hashicorp+nomad/e2e/isolation/input/alloc_exec_java.hcl",
    "hashicorp+nomad/e2e/isolation/input/cgroup_devices.hcl",
    "hashicorp+nomad/e2e/isolation/input/chroot_dl_exec.nomad",
    "hashicorp+nomad/e2e/isolation/input/chroot_docker.nomad",
    "hashicorp+nomad/e2e/isolation/input/chroot_exec.nomad",
    "hashicorp+nomad/e2e/isolation/input/exec.hcl",
    "hashicorp+nomad/e2e/isolation/input/exec_host.hcl",
    "hashicorp+nomad/e2e/isolation/input/java.hcl",
    "hashicorp+nomad/e2e/isolation/input/java_host.hcl",
    "hashicorp+nomad/e2e/isolation/input/raw_exec.hcl",
    "hashicorp+nomad/e2e/jobsubmissions/input/huge.hcl",
    "hashicorp+nomad/e2e/jobsubmissions/input/xyz.hcl",
    "hashicorp+nomad/e2e/lifecycle/inputs/batch.nomad",
    "hashicorp+nomad/e2e/lifecycle/inputs/service.nomad",
    "hashicorp+nomad/e2e/metrics/input/caddy.hcl",
    "hashicorp+nomad/e2e/metrics/input/cpustress.hcl",
    "hashicorp+nomad/e2e/metrics/input/nomadagent.hcl",
    "hashicorp+nomad/e2e/metrics/input/prometheus.hcl",
    "hashicorp+nomad/e2e/metrics/input/pythonhttp.hcl",
    "hashicorp+nomad/e2e/metrics/input/setup.hcl",
    "hashicorp+nomad/e2e/metrics/input/winagent.hcl",
    "hashicorp+nomad/e2e/namespaces/input/namespace_a.nomad",
    "hashicorp+nomad/e2e/namespaces/input/namespace_b.nomad",
    "hashicorp+nomad/e2e/namespaces/input/namespace_default.nomad",
    "hashicorp+nomad/e2e/networking/inputs/basic.nomad",
    "hashicorp+nomad/e2e/networking/inputs/docker_bridged_basic.nomad",
    "hashicorp+nomad/e2e/networking/inputs/docker_bridged_hostname.nomad",
    "hashicorp+nomad/e2e/networking/inputs/docker_bridged_hostname_interpolation.nomad",
    "hashicorp+nomad/e2e/nodedrain/input/drain_deadline.nomad",
    "hashicorp+nomad/e2e/nodedrain/input/drain_ignore_system.nomad",
    "hashicorp+nomad/e2e/nodedrain/input/drain_killtimeout.nomad",
    "hashicorp+nomad/e2e/nodedrain/input/drain_migrate.nomad",
    "hashicorp+nomad/e2e/nodedrain/input/drain_simple.nomad",
    "hashicorp+nomad/e2e/nomadexec/input/busybox.hcl",
    "hashicorp+nomad/e2e/operator_scheduler/input/basic.nomad",
    "hashicorp+nomad/e2e/overlap/testdata/overlap.nomad",
    "hashicorp+nomad/e2e/oversubscription/input/docker.hcl",
    "hashicorp+nomad/e2e/oversubscription/input/exec.hcl",
    "hashicorp+nomad/e2e/oversubscription/input/rawexec.hcl",
    "hashicorp+nomad/e2e/oversubscription/input/rawexecmax.hcl",
    "hashicorp+nomad/e2e/parameterized/input/simple.nomad",
    "hashicorp+nomad/e2e/periodic/input/simple.nomad",
    "hashicorp+nomad/e2e/pledge/input/bridge.hcl",
    "hashicorp+nomad/e2e/pledge/input/curl.hcl",
    "hashicorp+nomad/e2e/pledge/input/sleep.hcl",
    "hashicorp+nomad/e2e/pledge/input/unveil.hcl",
    "hashicorp+nomad/e2e/podman/input/auth_basic.hcl",
    "hashicorp+nomad/e2e/podman/input/auth_helper.hcl",
    "hashicorp+nomad/e2e/podman/input/auth_static.hcl",
    "hashicorp+nomad/e2e/podman/input/redis.hcl",
    "hashicorp+nomad/e2e/rawexec/input/oomadj.hcl",
    "hashicorp+nomad/e2e/rescheduling/input/norescheduling_service.nomad",
    "hashicorp+nomad/e2e/rescheduling/input/norescheduling_system.nomad",
    "hashicorp+nomad/e2e/rescheduling/input/rescheduling_canary.nomad",
    "hashicorp+nomad/e2e/rescheduling/input/rescheduling_canary_autorevert.nomad",
    "hashicorp+nomad/e2e/rescheduling/input/rescheduling_default.nomad",
    "hashicorp+nomad/e2e/rescheduling/input/rescheduling_fail.nomad",
    "hashicorp+nomad/e2e/rescheduling/input/rescheduling_maxp.nomad",
    "hashicorp+nomad/e2e/rescheduling/input/rescheduling_maxp_autorevert.nomad",
    "hashicorp+nomad/e2e/rescheduling/input/rescheduling_progressdeadline.nomad",
    "hashicorp+nomad/e2e/rescheduling/input/rescheduling_progressdeadline_fail.nomad",
    "hashicorp+nomad/e2e/rescheduling/input/rescheduling_success.nomad",
    "hashicorp+nomad/e2e/rescheduling/input/rescheduling_update.nomad",
    "hashicorp+nomad/e2e/scaling/input/namespace_a_1.nomad.hcl",
    "hashicorp+nomad/e2e/scaling/input/namespace_default_1.nomad.hcl",
    "hashicorp+nomad/e2e/scaling/input/namespace_default_2.nomad.hcl",
    "hashicorp+nomad/e2e/scaling/input/namespace_default_3.nomad.hcl",
    "hashicorp+nomad/e2e/scaling/input/namespace_default_system.nomad.hcl",
    "hashicorp+nomad/e2e/scalingpolicies/input/namespace_a_1.nomad",
    "hashicorp+nomad/e2e/scalingpolicies/input/namespace_default_1.nomad",
    "hashicorp+nomad/e2e/scalingpolicies/input/namespace_default_2.nomad",
    "hashicorp+nomad/e2e/scheduler_sysbatch/input/sysbatch_dispatch.nomad",
    "hashicorp+nomad/e2e/scheduler_sysbatch/input/sysbatch_job_fast.nomad",
    "hashicorp+nomad/e2e/scheduler_sysbatch/input/sysbatch_job_slow.nomad",
    "hashicorp+nomad/e2e/scheduler_sysbatch/input/sysbatch_periodic.nomad",
    "hashicorp+nomad/e2e/scheduler_system/input/system_canary_v0.nomad.hcl",
    "hashicorp+nomad/e2e/scheduler_system/input/system_canary_v0_100.nomad.hcl",
    "hashicorp+nomad/e2e/scheduler_system/input/system_canary_v1.nomad.hcl",
    "hashicorp+nomad/e2e/scheduler_system/input/system_canary_v1_100.nomad.hcl",
    "hashicorp+nomad/e2e/scheduler_system/input/system_job0.nomad",
    "hashicorp+nomad/e2e/scheduler_system/input/system_job1.nomad",
    "hashicorp+nomad/e2e/scheduler_system/input/system_job_all_pools.nomad",
    "hashicorp+nomad/e2e/secret/input/custom_secret.hcl",
    "hashicorp+nomad/e2e/secret/input/nomad_secret.hcl",
    "hashicorp+nomad/e2e/secret/input/vault_secret.hcl",
    "hashicorp+nomad/e2e/servicediscovery/input/checks_happy.nomad",
    "hashicorp+nomad/e2e/servicediscovery/input/checks_sad.nomad",
    "hashicorp+nomad/e2e/servicediscovery/input/checks_task_restart_helper.nomad",
    "hashicorp+nomad/e2e/servicediscovery/input/checks_task_restart_main.nomad",
    "hashicorp+nomad/e2e/servicediscovery/input/consul_provider.nomad",
    "hashicorp+nomad/e2e/servicediscovery/input/multi_provider.nomad",
    "hashicorp+nomad/e2e/servicediscovery/input/nomad_provider.nomad",
    "hashicorp+nomad/e2e/servicediscovery/input/simple_lb_clients.nomad",
    "hashicorp+nomad/e2e/servicediscovery/input/simple_lb_replicas.nomad",
    "hashicorp+nomad/e2e/spread/input/even_spread.nomad",
    "hashicorp+nomad/e2e/spread/input/multiple_spread.nomad",
    "hashicorp+nomad/e2e/task_schedule/input/schedule.nomad.hcl",
    "hashicorp+nomad/e2e/taskevents/input/completed_leader.nomad",
    "hashicorp+nomad/e2e/taskevents/input/failed_batch.nomad",
    "hashicorp+nomad/e2e/taskevents/input/failed_sibling.nomad",
    "hashicorp+nomad/e2e/taskevents/input/simple_batch.nomad",
    "hashicorp+nomad/e2e/ui/input/proxy.nomad",
    "hashicorp+nomad/e2e/vaultcompat/input/cat_jwt.hcl",
    "hashicorp+nomad/e2e/vaultcompat/input/restricted_jwt.hcl",
    "hashicorp+nomad/e2e/vaultsecrets/input/default_wi.nomad.hcl",
    "hashicorp+nomad/e2e/vaultsecrets/input/non-default_wi.nomad.hcl",
    "hashicorp+nomad/e2e/volume_mounts/input/volumes.nomad",
    "hashicorp+nomad/e2e/workload_id/input/api-auth.nomad.hcl",
    "hashicorp+nomad/e2e/workload_id/input/api-nomad-cli.nomad.hcl",
    "hashicorp+nomad/e2e/workload_id/input/api-win.nomad.hcl",
    "hashicorp+nomad/e2e/workload_id/input/identity.nomad",
    "hashicorp+nomad/e2e/workload_id/input/nobody.nomad",
    "hashicorp+nomad/e2e/workload_id/input/node-meta.nomad.hcl",
];

/// SHA-256 of `terraform fmt -`'s output for corpus files where it applied no
/// Terraform-only rewrite, so its output is exactly `hclwrite`'s layout.
const TERRAFORM_FMT_OUTPUT: &[(&str, &str)] = &[
    ("SJWyatt+nomad-jobs/countdash/countdash.nomad", "97b848f13de419099ee0c72eab61df6f8a72dbbca2ec1059c7c2d1d17d9f862d"),
    ("SJWyatt+nomad-jobs/covid19/af-sir/af-sir.nomad", "838565ff5d4b80934b000813488a85b86fcf86c813b1335f7bd943cbe31d6c51"),
    ("SJWyatt+nomad-jobs/covid19/geojson/geojson.nomad", "68d69b38dcfa95ac5248577f21f28b8b52b132c98e8dbcfa84d63ec36dcf254c"),
    ("SJWyatt+nomad-jobs/covid19/influxdb/influxdb.nomad", "f1cd88df264815f42d9996fae7fb39ba6291ac752c9d7f1fc6877e3d79cd2e0f"),
    ("SJWyatt+nomad-jobs/covid19/militaryview/militaryview.nomad", "73ee6fbb04556d2fce6cf8263113f6a386696517496356f8f9ff952a231e1630"),
    ("SJWyatt+nomad-jobs/covid19/milview/milview.nomad", "11fc2a91fb4b455e38c1467f2f1c444ffe7a9dc905493241d8b46ee7cb620b04"),
    ("SJWyatt+nomad-jobs/covid19/mysql/mysql.nomad", "7ac2782d0aefa1050835355ca56c9a90ea05cbda8569c049881f2015f10f958d"),
    ("SJWyatt+nomad-jobs/covid19/scraper/scraper-af-bases.nomad", "642949f1c09e9464324a2d2a1ed1cda5d5c07dea2166c009c377c7f6dde17421"),
    ("SJWyatt+nomad-jobs/covid19/scraper/scraper-global.nomad", "268e15ef5ce53f0443c6e902c8b2a9d978b26a2f40fcb1c3425a94d58709530a"),
    ("SJWyatt+nomad-jobs/covid19/scraper/scraper-us.nomad", "ec21101ef3e27d83ce28537e17f606135ce86a5810310b2228c4a4d2cd2de054"),
    ("SJWyatt+nomad-jobs/covid19/sir/sir.nomad", "fd5fc4d47b733516739275d3d1cbdbb366cff0b385d6935e4708d12c1ff84f2a"),
    ("SJWyatt+nomad-jobs/demo-covid19-us/influxdb/influxdb.nomad", "19a2d98ef973159b4e15f11870156933267eddb503e0ccb1968c40d2a4c22ab7"),
    ("SJWyatt+nomad-jobs/demo-covid19-us/scraper/covid-scraper.nomad", "c9d8e6f0e8b34223873605af2ef2474ab018a7238afaf2da88e27d6818f0e2cf"),
    ("SJWyatt+nomad-jobs/demo-covid19/influxdb/influxdb.nomad", "88f695d0b2d388824e642429ee8b131c2c3ed95408d23075f10147c9fe565a2d"),
    ("SJWyatt+nomad-jobs/demo-covid19/scraper/covid-scraper.nomad", "4d24171e79c8dae14bba318430fb66c3b85667173da9b742e5e9eaf78a345949"),
    ("SJWyatt+nomad-jobs/fabio/fabio.nomad", "77ad3fa56e9253fa3016d89b61b91bde6fbf4a7b05af5b6ca42e438801a81862"),
    ("SJWyatt+nomad-jobs/mongo/mongo.nomad", "948f6b41fec05b0ab0aaa4049b28b77f87cbbf6a06edd546dc0e91cbd07ff9af"),
    ("SJWyatt+nomad-jobs/mysql/mysql.nomad", "7a9eb366a586ae7c9c74659ff6a5dde31025e97f8b86d8c2e8d0a905ff147ec3"),
    ("SJWyatt+nomad-jobs/prometheus/prometheus.nomad", "57663855a01d05e622627c4b80ed8b9fc4ffc8b50eba715867410842f13e747f"),
    ("brucellino+nomad-jobs/alertmanager.nomad", "1b24b8a6c36d1ee954a46e50f1be1753be2b6b7639af99a49f6dd1a0de3a4261"),
    ("brucellino+nomad-jobs/ansible.nomad", "fa261f2cf54a13625bab1f9af30544746010fcebea965215d60b060ae0b5d100"),
    ("brucellino+nomad-jobs/cloudflared.nomad", "2312e10b5d855c79db1500166134ba08b15e622392daf24f284f09864037dff8"),
    ("brucellino+nomad-jobs/consul-esm.nomad", "46672a1d611e7d3ab0e3fb8072a45248f9d90a1ebfea11ad5f9c0fcfe4c8e559"),
    ("brucellino+nomad-jobs/consul-snapshot.nomad", "816f3e2f9eb2ce8fa9966de82ad87ba2803e273ab02ae00f1659c9386c1a4f96"),
    ("brucellino+nomad-jobs/csi-hostpath.nomad", "a8dea7b09ab076eeabd48769a5a2b140df67e1f81b60b6dcdcbc17fe18eceff9"),
    ("brucellino+nomad-jobs/fabio.nomad", "26391802c1a6bf578ea6bd792c9287bf2501609e7525522ecd6d1bf856d073df"),
    ("brucellino+nomad-jobs/github-runner/github-runner.nomad", "55fdda85956cfa1bd0dbd1fc8593b11d9b72105ff0adc12ed2f0b0d4ec8f0d34"),
    ("brucellino+nomad-jobs/grafana-agent/grafana-agent.nomad", "dfb861d415c0c26b2764858dafe6d372bae3003a0cb58da4ede93091a84376a1"),
    ("brucellino+nomad-jobs/grafana-agent/grafana-integrations.nomad", "ba9a615667f78eace67d3375d4aaab2719130e7e55f280595ee9fe87225d8c02"),
    ("brucellino+nomad-jobs/jenkins/jenkins.nomad", "99a9b5c7ce05bbe938100d81c8505c9f0103441121cf83342586a41360f8051c"),
    ("brucellino+nomad-jobs/kroki/kroki.nomad.hcl", "97c8f0d3a1428109d17b92549ac29085df1e8188078faa4e32f3268656f10dc6"),
    ("brucellino+nomad-jobs/loki.nomad", "ffbb82826e44e9131aa4ed54808fea590207f4c54f41a4bf602ff2d9eef53c13"),
    ("brucellino+nomad-jobs/loki/loki-local.nomad", "1d43e5cc89f4660f417e7a6e896e6e040f2a8682fe2fce6fe717797e8f64004f"),
    ("brucellino+nomad-jobs/loki/loki.nomad", "60346551156f4a0e69cf1d3c090114c433a092ad0e2782b13dcd5b079ce91fa8"),
    ("brucellino+nomad-jobs/memcached.nomad", "034b183b2d88c2c2d64afa64e1b1c049155b2416baac355d03a0ac129f5b73c5"),
    ("brucellino+nomad-jobs/nginx.nomad", "87954b16eb44aa271d2bf13ff77801256e3fc01d9a2aa85638c0bcb7a5f49fd4"),
    ("brucellino+nomad-jobs/node-exporter.nomad", "78fd8de419f17cb7be13fa94e82f3019bfa071434a426217a99c31038c1e615c"),
    ("brucellino+nomad-jobs/observability-plane/grafana-alloy-exporter.nomad.hcl", "37a3870b2ca76c486049ec2833c6d97236900e42acaf5b7bafebf2f2f357d8b2"),
    ("brucellino+nomad-jobs/observability-plane/loki.nomad.hcl", "a8a0fd40c271c2764870d19b1dddf82f8d296aeff5920d0b5ab9fa4030300185"),
    ("brucellino+nomad-jobs/observability-plane/mimir.nomad.hcl", "c95b25ddd00ee2f9fc3dd31d436792c514bac732ff1b484e3bbc9e5bbb13069c"),
    ("brucellino+nomad-jobs/observability-plane/promtail.nomad", "1ece9e7b3427d5fead49beac5fbee8c29b91018c16026fe5327146c995138490"),
    ("brucellino+nomad-jobs/operations/hah-snapshot.nomad.hcl", "d5524d61a27c30c4774a578eab7fd2379963c3c4857255b4178b0adacf1e3927"),
    ("brucellino+nomad-jobs/operations/journalctl-gc.nomad.hcl", "9a74cdc59e6abf705e67904bcf602d54e3c8e74431226618999dc8a335aa75fc"),
    ("brucellino+nomad-jobs/rabbit.nomad", "006186d029f1d48e24758589b5eb7188b856ffc776896b210126e261bbda5aa9"),
    ("brucellino+nomad-jobs/redis-podman.hcl", "7d57822256f6959508fc88805632726abe9e2e344e230a5bbd86e8d1f77f6af4"),
    ("brucellino+nomad-jobs/report-portal/report-portal.nomad.hcl", "d65757e7ad386fe0d94479db6159499b88248e88464475e0afc0eb4a1bc397a6"),
    ("brucellino+nomad-jobs/secret.nomad", "4509b7439b811f239e419b3a72c7d3b9192ec26680bcfe3548dc1fedd34b58e2"),
    ("brucellino+nomad-jobs/traefik.nomad", "3263fa6240fe42dbd549d849ababe4b06d78cac42dd6b30461f67dfb7007d888"),
    ("brucellino+nomad-jobs/updates.nomad", "0154fcf48fc5c92855d36211ddb0fcd35b157eece16a762a461701a5a59ed1f8"),
    ("brucellino+nomad-jobs/webserver.nomad", "be3420af4d68badb151b9896512a6d516776269a36cac80e2a1adf082a380269"),
    ("hashicorp+nomad-autoscaler-demos/cloud/demos/on-demand-batch/shared/terraform/modules/nomad-jobs/jobs/batch.nomad", "48e9c51cc19cedff5a9b0f8645e006947d32ebb9068a2664681b445515f5101e"),
    ("hashicorp+nomad-autoscaler-demos/cloud/demos/on-demand-batch/shared/terraform/modules/nomad-jobs/jobs/prometheus.nomad", "41fd87b8b2d0384add9c88c9ae141798a542ef302081dcfe764f23b94dfd55ab"),
    ("hashicorp+nomad-autoscaler-demos/cloud/demos/on-demand-batch/shared/terraform/modules/nomad-jobs/jobs/traefik.nomad", "ab60a9db3917d7871053c9c655f946a2843282fc4d9338dd71811bc80207200f"),
    ("hashicorp+nomad-autoscaler-demos/cloud/shared/terraform/modules/shared-nomad-jobs/files/prometheus.nomad", "e06ad5b0c5492bfac6d97aea8935480d551b4fc8bb1554fe1f16d83c7d87c220"),
    ("hashicorp+nomad-autoscaler-demos/cloud/shared/terraform/modules/shared-nomad-jobs/files/traefik.nomad", "5096d00cd709a618b46d0619b9ed351a63534ccc706d945c6aa53cebb7a3c65f"),
    ("hashicorp+nomad-autoscaler-demos/vagrant/dynamic-app-sizing/jobs/das-autoscaler.nomad", "b8c2689ea45715cd11ac9838db36d3f1d9ae11bf6a97126d77bf79c4e46eaf5b"),
    ("hashicorp+nomad-autoscaler-demos/vagrant/dynamic-app-sizing/jobs/das-load-test.nomad", "71cb67e4e709e1da4e9b75cb205687787ee6ffddf57a7a0a25779e348e8eba30"),
    ("hashicorp+nomad-autoscaler-demos/vagrant/dynamic-app-sizing/jobs/example.nomad", "4b92905157763878e1a3582544c47f3a63461c570b782968dfa7a3c0161f597e"),
    ("hashicorp+nomad-autoscaler-demos/vagrant/dynamic-app-sizing/jobs/prometheus.nomad", "8fb54e4844a090961b14719314cf0ea2ae130618886ee0a152da71d9b8e0d03a"),
    ("hashicorp+nomad-autoscaler-demos/vagrant/horizontal-app-scaling/jobs/autoscaler.nomad", "2fd5eec6cf6caa54bb0209b63870d1ce26a43ea461d930ad3c5a6204e7558d64"),
    ("hashicorp+nomad-autoscaler-demos/vagrant/horizontal-app-scaling/jobs/loki.nomad", "7298d83c4e34d0defa5b725dc71ad298a144e8b1a61e77bffea1697089b08964"),
    ("hashicorp+nomad-autoscaler-demos/vagrant/horizontal-app-scaling/jobs/prometheus.nomad", "aa46e3f7d8a31185b339286acaf6c8c9b64ef131d2ac82247112c87e4e6363e2"),
    ("hashicorp+nomad-autoscaler-demos/vagrant/horizontal-app-scaling/jobs/traefik.nomad", "337e9c0d32cbbc2c3aedc3a1e72fbab2a768442e904b63c248807d6a09ed2736"),
    ("hashicorp+nomad/command/asset/connect-short.nomad.hcl", "331842632dfc7e890b837521f74d54973e33a5357de3a600f5d934debb69c46c"),
    ("hashicorp+nomad/command/asset/connect.nomad.hcl", "11e72fea7c37effb54ddce9eebd290f7e7ac9c90c63bdd2fef62b16e8eaf6d2b"),
    ("hashicorp+nomad/command/asset/example-short.nomad.hcl", "e984adbc38436bcf100e292cd5a8c23ccbf896929d2fc9a2d6736dc06d6389bf"),
    ("hashicorp+nomad/command/asset/example.nomad.hcl", "4feaa0218cc4ec04a97e2a6cffc604a747ffe6a497ea5355dff1e10419136265"),
    ("hashicorp+nomad/demo/csi/ceph-csi-plugin/ceph.nomad", "17d20f77c645e416ee698582eb91831f353a9d300154f61c20f8ed9f4f1618e3"),
    ("hashicorp+nomad/demo/csi/cinder-csi-plugin/cinder-csi-plugin.hcl", "c45ffc3c16db03c7fc658c66b4b1a53bbb1c235e6a6a52b60a06bb261d4a2d24"),
    ("hashicorp+nomad/demo/csi/digitalocean/plugin.nomad", "6d3d3f141cc66908286ecd3fa646bf83c387fa6176fc194fa7f3c3a89e03b61a"),
    ("hashicorp+nomad/demo/csi/hostpath/plugin.nomad", "bab2d2a75a4ec0bee7df078d66b3bb08ed172268dea23eef0db8dcf13e32fd82"),
    ("hashicorp+nomad/demo/csi/hostpath/redis.nomad", "1e6da9b3ff97a908fb49ec7baed752642396ab2b149c057a2736ff03e968cc41"),
    ("hashicorp+nomad/demo/csi/nfs/jobs/controller-plugin.nomad.hcl", "18091e0da7f95f9ed33eda9351bf4ab3b003084050cc1d358814f77129eacaac"),
    ("hashicorp+nomad/demo/csi/nfs/jobs/nfs.nomad.hcl", "ab724f01e0414987c9d7048e83fd186b5d9f847d76053c3e1e643911815625c8"),
    ("hashicorp+nomad/demo/csi/nfs/jobs/node-plugin.nomad.hcl", "e46e38c47f337e16a57dffafb33e3359c19cecd662a4d79c1134a57f86ca66c5"),
    ("hashicorp+nomad/demo/csi/nfs/jobs/web.nomad.hcl", "2bdefb907d8b72d973603af1737bf8926548f87302b49229880525a5f5529451"),
    ("hashicorp+nomad/demo/csi/portworx-csi-plugin/portworx-csi-plugin.hcl", "42412012dd1c74d321050e738709da28aa3c458cfd4298f9849e99bcb43d3d21"),
    ("hashicorp+nomad/demo/hostvolume/job.nomad.hcl", "c71209fdde5abb0298cd1cce01ddab26a8f71d0edd589edc462d90b22999d3ca"),
    ("hashicorp+nomad/e2e/alloc_logs/input/mixed-output.nomad", "c75399325078d1c0812ca8e68e861e34f82c608f09f978717ade932af5216e4f"),
    ("hashicorp+nomad/e2e/clientstate/input/alloc_zombie.nomad", "27f84e3ea6a401c5d8f07a4abaa14eedd96426154d810df57221b91beb4d32fe"),
    ("hashicorp+nomad/e2e/cni/input/cni_args.nomad.hcl", "2f087e20edeee21f3a881f5067d37b928a1c612a0eb69162888e6b092f44c8be"),
    ("hashicorp+nomad/e2e/cni/input/config_format.nomad.hcl", "c847124df6aacf28ebd04d534c36dc7602ab13fc860b4c87c1296ab8e9a7ee00"),
    ("hashicorp+nomad/e2e/consulcompat/input/connect.nomad.hcl", "894b5ee73b3e79844d7bdc44c7ebb2bf6437876dbe7df65e7686bfebacfcec5c"),
    ("hashicorp+nomad/e2e/dynamic_host_volumes/input/register-volumes.nomad.hcl", "e3b362a343f42b48259aaaec03fd10e3dd43b98b2ba223bf551ff7bd9258cf31"),
    ("hashicorp+nomad/e2e/dynamic_host_volumes/input/sticky.nomad.hcl", "f7f357c25992a213ca5fe20fefd6cbd15805ed4579e048eb1db21d2622db1aba"),
    ("hashicorp+nomad/e2e/exec2/input/countdash.hcl", "e8b5c8d37eac6963e547bb7614b320bf6cfa7f64f2eda90cc085bcd2fe50f9ed"),
    ("hashicorp+nomad/e2e/task_schedule/input/schedule.nomad.hcl", "f9a8f67e851c0affec43698bb00be419dfc7cb1b24cc2a31f1a703f1e7453ddc"),
    ("hashicorp+nomad/e2e/vaultcompat/input/cat_jwt.hcl", "e6d7049467312bc8bed3f6254ec11cb873f365819b7772db2a1266c7adb417f5"),
    ("hashicorp+nomad/e2e/vaultcompat/input/restricted_jwt.hcl", "c096ad95a5fdd82dcdcbc4f6dd73e3b047224321b4cb8315416dad549740ece1"),
    ("hashicorp-education+learn-nomad-getting-started/jobs/pytechco-employee.nomad.hcl", "ddf435294d6f1ec80c982bd00eb1769cb997083f93fea775f027aa6a740b171a"),
    ("hashicorp-education+learn-nomad-getting-started/jobs/pytechco-redis.nomad.hcl", "f1a3586887ccbd8c4d0a3f78bff1cca651410410205363b79641afa34d1e8af8"),
    ("hashicorp-education+learn-nomad-getting-started/jobs/pytechco-setup.nomad.hcl", "13ae1c35ae5d1dc91d43849b1107f4caec2fd766062f852f7cb90b1b82f8ad01"),
    ("hashicorp-education+learn-nomad-getting-started/jobs/pytechco-web.nomad.hcl", "4cc37ad572030386329f2a98446c55d8ff0268b6bc7f9031262d0a250c3d12cb"),
];
