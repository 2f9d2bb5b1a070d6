//! Before/after cases for the canonical layout, and the errors it reports.
//!
//! Every expected output here was also checked against `terraform fmt` (HashiCorp's
//! `hclwrite` formatter, the one `nomad fmt` runs), including its quirks: `}, {` lines,
//! trailing comments aligned across a block's closing brace, `${ x }` tightened to `${x}`.

use super::format_hcl;

fn fmt(source: &str) -> String {
    match format_hcl(source, "job.nomad") {
        Ok(text) => text,
        Err(diagnostic) => format!("{diagnostic}"),
    }
}

#[test]
fn aligns_equals_in_runs_and_indents_blocks() {
    let before = r#"job "web" {
datacenters = ["dc1"]
type = "service"
  priority    =    50

  group "app" {
  count = 2
    network {
      port "http" { to = 8080 }
      mode = "bridge"
    }
    restart {
      attempts = 2
      interval = "30m"
      delay = "15s"
      mode = "fail"
    }
  }
}
"#;
    insta::assert_snapshot!(fmt(before), @r#"
    job "web" {
      datacenters = ["dc1"]
      type        = "service"
      priority    = 50

      group "app" {
        count = 2
        network {
          port "http" { to = 8080 }
          mode = "bridge"
        }
        restart {
          attempts = 2
          interval = "30m"
          delay    = "15s"
          mode     = "fail"
        }
      }
    }
    "#);
}

#[test]
fn keeps_comments_and_aligns_trailing_ones() {
    let before = r#"# leading comment
job "x" {
  a = 1 # trailing
  bbbb = 2 // other
  // own line
  ccc = 3
  /* block */ d = 4
  e = 5 /* after */
  /*
     multi-line block
        comment kept as is
  */
  group "g" { # after brace
  }   # end group
}
"#;
    insta::assert_snapshot!(fmt(before), @r#"
    # leading comment
    job "x" {
      a    = 1 # trailing
      bbbb = 2 // other
      // own line
      ccc           = 3
      /* block */ d = 4
      e             = 5 /* after */
      /*
         multi-line block
            comment kept as is
      */
      group "g" { # after brace
      }           # end group
    }
    "#);
}

#[test]
fn leaves_heredoc_bodies_alone() {
    let before = r#"task "t" {
template {
data = <<EOF
  keep   this    ${ NOMAD_PORT_http }
{{ with secret "kv/data/x" }}{{ .Data.data.pw }}{{ end }}
EOF
destination = "secrets/env"
env = true
}
template {
    data = <<-EOT
      indented = true
    EOT
change_mode = "restart"
}
}
"#;
    insta::assert_snapshot!(fmt(before), @r#"
    task "t" {
      template {
        data        = <<EOF
      keep   this    ${NOMAD_PORT_http}
    {{ with secret "kv/data/x" }}{{ .Data.data.pw }}{{ end }}
    EOF
        destination = "secrets/env"
        env         = true
      }
      template {
        data        = <<-EOT
          indented = true
        EOT
        change_mode = "restart"
      }
    }
    "#);
}

#[test]
fn indents_lists_across_lines() {
    let before = r#"config {
image = "redis:7"
args = [
"-c",
  "x",
]
ports = [ "http","grpc" ]
volumes = [ "a:/a" , "b:/b" ]
nested = [
  {
  a = 1
  bb = 2
  }, {
  c = 3
  },
]
}
"#;
    insta::assert_snapshot!(fmt(before), @r#"
    config {
      image = "redis:7"
      args = [
        "-c",
        "x",
      ]
      ports   = ["http", "grpc"]
      volumes = ["a:/a", "b:/b"]
      nested = [
        {
          a  = 1
          bb = 2
          }, {
          c = 3
        },
      ]
    }
    "#);
}

#[test]
fn aligns_object_constructor_items() {
    let before = r#"meta = {
a = "1"
long_key = "2"
"quoted.key" = 3
}
env = { A = 1, BB = 2 }
empty = {}
labels = {
  nested = {
    x = 1
  }
  y = 2
}
"#;
    insta::assert_snapshot!(fmt(before), @r#"
    meta = {
      a            = "1"
      long_key     = "2"
      "quoted.key" = 3
    }
    env   = { A = 1, BB = 2 }
    empty = {}
    labels = {
      nested = {
        x = 1
      }
      y = 2
    }
    "#);
}

#[test]
fn spaces_one_line_blocks() {
    let before = r#"task "t" {
resources {}
resources { cpu = 100 }
logs {   }
service {
check {type="tcp"}
}
}
"#;
    insta::assert_snapshot!(fmt(before), @r#"
    task "t" {
      resources {}
      resources { cpu = 100 }
      logs {}
      service {
        check { type = "tcp" }
      }
    }
    "#);
}

#[test]
fn spaces_expressions() {
    let before = r#"locals {
cmd = "prefix-${ var.x }-${var.y}${ var.z }"
neg = -1
diff = var.a - 1
not = !var.enabled
merged = merge( { a = 1 }, var.m )
doubled = [for x in [1,2] : x*2]
pick = var.a ? "yes" : "no"
first = var.list[0]
names = var.items[*].name
dotted = var.items.*.name
call = upper( "x" )
math = (1+2)*3/4%5
cmp = a>=b&&c<d||e!=f
spread = concat(var.a...)
obj = {for k, v in var.m : k => v if v != null}
}
"#;
    insta::assert_snapshot!(fmt(before), @r#"
    locals {
      cmd     = "prefix-${var.x}-${var.y}${var.z}"
      neg     = -1
      diff    = var.a - 1
      not     = !var.enabled
      merged  = merge({ a = 1 }, var.m)
      doubled = [for x in [1, 2] : x * 2]
      pick    = var.a ? "yes" : "no"
      first   = var.list[0]
      names   = var.items[*].name
      dotted  = var.items.*.name
      call    = upper("x")
      math    = (1 + 2) * 3 / 4 % 5
      cmp     = a >= b && c < d || e != f
      spread  = concat(var.a...)
      obj     = { for k, v in var.m : k => v if v != null }
    }
    "#);
}

#[test]
fn tightens_template_sequences() {
    let before = r#"env {
GREETING = "%{ if var.loud }HELLO%{ else }hello%{ endif }"
LIST = "%{ for s in var.names }${ s },%{ endfor }"
TRIM = "x${~ var.x ~}"
ESCAPED = "$${NOT_INTERPOLATED} %%{ not_a_directive }"
}
"#;
    insta::assert_snapshot!(fmt(before), @r#"
    env {
      GREETING = "%{if var.loud}HELLO%{else}hello%{endif}"
      LIST     = "%{for s in var.names}${s},%{endfor}"
      TRIM     = "x${~var.x~}"
      ESCAPED  = "$${NOT_INTERPOLATED} %%{ not_a_directive }"
    }
    "#);
}

#[test]
fn keeps_crlf_line_endings() {
    let before = "job \"crlf\" {\r\n  a = 1\r\n  bbb = 2\r\n}\r\n";
    assert_eq!(fmt(before), "job \"crlf\" {\r\n  a   = 1\r\n  bbb = 2\r\n}\r\n");
}

#[test]
fn replaces_tabs_drops_trailing_spaces_and_ends_with_a_line_break() {
    let before = "job \"tabs\" {\n\tdatacenters\t=\t[\"dc1\"]   \n\t\ttype = \"batch\"\t\n\n\n\n}";
    let expected =
        "job \"tabs\" {\n  datacenters = [\"dc1\"]\n  type        = \"batch\"\n\n\n\n}\n";
    assert_eq!(fmt(before), expected);
}

#[test]
fn drops_a_byte_order_mark_and_keeps_empty_input_empty() {
    assert_eq!(fmt("\u{feff}a=1\n"), "a = 1\n");
    assert_eq!(fmt(""), "");
    assert_eq!(fmt("\n\n"), "\n\n");
}

#[test]
fn closes_a_heredoc_at_the_end_of_the_file() {
    // The closing marker needs its line break; a file that stops right after it is fine.
    assert_eq!(fmt("x = <<EOT\nhello\nEOT"), "x = <<EOT\nhello\nEOT\n");
}

#[test]
fn trailing_comment_at_end_of_file_without_line_break() {
    assert_eq!(fmt("a=1 # done"), "a = 1 # done\n");
}

#[test]
fn is_idempotent_on_its_own_cases() {
    let cases = [
        "job \"a\" {\ngroup \"b\" {\ncount=1\n}\n}\n",
        "x = [\n{\na = 1\n}, {\nb = 2\n},\n]\n",
        "a = 1 # one\nbbbb = 2 # two\n\nc = { d = 1 } # three\n",
        "t = <<-EOT\n    body ${ x }\n  EOT\n",
    ];
    for case in cases {
        let once = fmt(case);
        assert_eq!(fmt(&once), once, "formatting twice changed {case:?}");
    }
}

#[test]
fn reports_syntax_errors_with_position() {
    let cases = [
        ("a = \"open\n", "job.nomad:1:5: error: unterminated string: this `\"` is not closed on its line (use a heredoc for text over several lines)"),
        ("job \"x\" {\n  data = <<EOF\nhello\n", "job.nomad:2:10: error: unterminated heredoc: no line with only `EOF` closes this `<<EOF`"),
        ("a = 1 /* never closed\n", "job.nomad:1:7: error: unterminated comment: this `/*` has no closing `*/`"),
        ("job \"x\" {\n  group \"g\" {\n}\n", "job.nomad:1:9: error: the `{` is never closed"),
        ("job \"x\" {\n}\n}\n", "job.nomad:3:1: error: unexpected `}`: nothing is open here to close"),
        ("a = [1, (2]\n", "job.nomad:1:11: error: unexpected `]`: the `(` opened at line 1, column 9 is still open"),
        // The `"` after `x` opens a string inside the interpolation.
        ("a = \"${x\"\n", "job.nomad:1:9: error: unterminated string: this `\"` is not closed on its line (use a heredoc for text over several lines)"),
        ("a = 1 @\n", "job.nomad:1:7: error: unexpected character '@': HCL does not allow it here"),
    ];
    for (source, expected) in cases {
        assert_eq!(fmt(source), expected, "for {source:?}");
    }
}

#[test]
fn refuses_text_that_is_not_hcl2() {
    // Two attributes in a one-line block: Nomad rejects this too.
    insta::assert_snapshot!(
        fmt("resources { cpu = 100 memory = 128 }\n"),
        @"job.nomad:1:23: error: not valid HCL2: invalid block body; expected `}`, newline or identifier"
    );
    insta::assert_snapshot!(
        fmt("job \"x\" {\n  [[ range .groups ]]\n  group \"g\" {}\n  [[ end ]]\n}\n"),
        @"job.nomad:2:3: error: not valid HCL2: invalid block body; expected `}`, newline or identifier (this looks like a Levant template: render it before formatting)"
    );
    insta::assert_snapshot!(
        fmt("job \"x\" {\n%{ if enabled }\n  group \"g\" {}\n%{ endif }\n}\n"),
        @"job.nomad:2:1: error: not valid HCL2: invalid block body; expected `}`, newline or identifier (`%{` outside a string looks like a Terraform template: render it first)"
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let depth = 100_000;
    let open = format!("a = {}\n", "[".repeat(depth));
    assert!(fmt(&open).starts_with("job.nomad:1:"), "{}", &fmt(&open)[..80]);
    let balanced = format!("a = {}1{}\n", "[".repeat(depth), "]".repeat(depth));
    let result = fmt(&balanced);
    assert!(result.contains("error:"), "{}", &result[..80.min(result.len())]);
    let blocks = format!("{}{}", "b {\n".repeat(depth), "}\n".repeat(depth));
    let result = fmt(&blocks);
    assert!(result.contains("error:"), "{}", &result[..80.min(result.len())]);
}

#[test]
fn formats_a_five_mebibyte_file() {
    let group = "group \"g\" {\ncount = 1\ntask \"t\" {\ndriver = \"docker\"\nconfig {\nimage = \"nginx\"\n}\n}\n}\n";
    let mut source = String::from("job \"big\" {\n");
    while source.len() < 5 * 1024 * 1024 {
        source.push_str(group);
    }
    source.push_str("}\n");
    let formatted = format_hcl(&source, "big.nomad").expect("a large valid file formats");
    assert!(formatted.contains("\n    count = 1\n"));
    assert_eq!(formatted.lines().count(), source.lines().count());
}

#[test]
fn formats_what_hcl_rs_writes() {
    // The renderer writes the job with hcl-rs and passes the text through `format_hcl`.
    use hcl::{Block, Body, Expression, Object, ObjectKey};
    let meta: Object<ObjectKey, Expression> = [
        (ObjectKey::from("team"), Expression::from("web")),
        (ObjectKey::from("cost_center"), Expression::from("42")),
    ]
    .into_iter()
    .collect();
    let port = Block::builder("port").add_label("http").add_attribute(("to", 8080)).build();
    let group = Block::builder("group")
        .add_label("app")
        .add_attribute(("count", 2))
        .add_attribute(("meta", meta))
        .add_block(Block::builder("network").add_block(port).build())
        .build();
    let job = Block::builder("job")
        .add_label("web")
        .add_attribute(("datacenters", vec!["dc1"]))
        .add_attribute(("type", "service"))
        .add_block(group)
        .build();
    let body = Body::builder().add_block(job).build();
    let written = hcl::to_string(&body).expect("hcl-rs writes the body");
    // hcl-rs puts array items on their own lines and quotes object keys; the layout keeps
    // both and aligns what `nomad fmt` aligns.
    insta::assert_snapshot!(fmt(&written), @r#"
    job "web" {
      datacenters = [
        "dc1"
      ]
      type = "service"

      group "app" {
        count = 2
        meta = {
          "team"        = "web"
          "cost_center" = "42"
        }

        network {
          port "http" {
            to = 8080
          }
        }
      }
    }
    "#);
}
