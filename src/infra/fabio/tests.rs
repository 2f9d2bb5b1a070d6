//! Route tag grammar and conflict rules, table-driven.

use super::*;

fn tag(service: &str, value: &str) -> RouteTag {
    let (host, path, options) = split_route(value).unwrap_or_default();
    RouteTag {
        service: service.into(),
        host,
        path,
        options,
        tag: format!("urlprefix-{value}"),
        line: 1,
        column: 1,
    }
}

fn route(service: &str, src: &str) -> FabioRoute {
    let (host, path, _) = split_route(src).unwrap_or_default();
    FabioRoute {
        service: service.into(),
        host,
        path,
        src: src.into(),
        dst: "http://10.0.0.1:23456/".into(),
        weight: 1.0,
        ..Default::default()
    }
}

/// Host, path and options of a route.
type Split<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

#[test]
fn route_grammar() {
    let cases: &[(&str, Option<Split>)] = &[
        ("shop.example.com/", Some(("shop.example.com", "/", &[]))),
        ("Shop.Example.com/api", Some(("shop.example.com", "/api", &[]))),
        ("/admin strip=/admin", Some(("", "/admin", &[("strip", "/admin")]))),
        (":5432 proto=tcp", Some((":5432", "", &[("proto", "tcp")]))),
        (
            "old.example.com/ redirect=301,https://new.example.com$path",
            Some(("old.example.com", "/", &[("redirect", "301,https://new.example.com$path")])),
        ),
        ("", None),
    ];
    for (input, expected) in cases {
        let got = split_route(input);
        let expected = expected.map(|(h, p, o)| {
            (
                h.to_string(),
                p.to_string(),
                o.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            )
        });
        assert_eq!(got, expected, "{input:?}");
    }
}

#[test]
fn conflict_rules() {
    use ConflictKind::*;
    let routes = vec![
        route("shop", "shop.example.com/"),
        route("shop", "shop.example.com/"), // a second instance of the same route
        route("api", "api.example.com/v1"),
        route("admin", "/admin"),
        route("pg", ":5432"),
    ];
    let cases: &[(&str, &str, &[ConflictKind], bool)] = &[
        // (service, tag, conflicts, update)
        ("web", "shop.example.com/", &[Duplicate], false),
        ("web", "api.example.com/v1/orders", &[PathOverlap], false),
        ("web", "api.example.com/", &[PathOverlap], false),
        ("web", "api.example.com/v2", &[HostnameCollision], false),
        ("web", "/admin/users", &[PathOverlap], false),
        ("web", "/public", &[], false),
        ("db", ":5432", &[Duplicate], false),
        ("db", ":5433", &[], false),
        ("shop", "shop.example.com/", &[], true),
        ("shop", "shop.example.com/static", &[], true),
        ("web", "web.example.com/", &[], false),
    ];
    for (service, value, kinds, update) in cases {
        let findings = find_conflicts(&[tag(service, value)], &routes);
        let got: Vec<ConflictKind> = findings
            .iter()
            .filter_map(|f| match f {
                RouteFinding::Conflict { kind, .. } => Some(*kind),
                RouteFinding::Update { .. } => None,
            })
            .collect();
        let got_update = findings.iter().any(|f| matches!(f, RouteFinding::Update { .. }));
        assert_eq!((&got[..], got_update), (*kinds, *update), "{service} {value}");
    }
}

#[test]
fn suggested_hostnames_are_free() {
    let routes = vec![route("a", "web.apps.example.com/"), route("b", "web-2.apps.example.com/")];
    assert_eq!(suggest_hostname("web", ".apps.example.com", &routes), "web-3.apps.example.com");
    assert_eq!(suggest_hostname("api", "apps.example.com", &routes), "api.apps.example.com");
}

#[test]
fn routes_body() {
    let json = r#"[{"service":"shop","host":"shop.example.com","path":"/","src":"shop.example.com/",
        "dst":"http://10.0.0.1:2000/","opts":"","weight":1,"cmd":"route add","rate1":0,"pct99":0}]"#;
    let routes = parse_routes(json).unwrap_or_default();
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0].service, "shop");
    let table = "+---+---------+\n| # | Service |\n+---+---------+\n";
    assert_eq!(parse_routes(table), Err(None));
    assert!(matches!(parse_routes(r#"{"routes": 1}"#), Err(Some(_))));
    assert_eq!(parse_routes("null"), Ok(Vec::new()));
}

#[test]
fn tags_come_with_their_lines_and_names() {
    let source = r#"job "shop" {
  group "web" {
    service {
      port = "http"
      tags = ["urlprefix-shop.example.com/", "v1"]
    }
    task "app" {
      service {
        name = "${NOMAD_JOB_NAME}-admin"
        tags = ["urlprefix-/admin strip=/admin", "urlprefix-${meta.host}/"]
      }
    }
  }
}
"#;
    let job = serde_json::json!({
        "Name": "shop",
        "TaskGroups": [{
            "Name": "web",
            "Services": [{"Tags": ["urlprefix-shop.example.com/", "v1"]}],
            "Tasks": [{"Name": "app", "Services": [{
                "Name": "${NOMAD_JOB_NAME}-admin",
                "Tags": ["urlprefix-/admin strip=/admin", "urlprefix-${meta.host}/"]
            }]}]
        }]
    });
    let (tags, unresolved) = route_tags(&job, source, DEFAULT_TAG_PREFIX);
    let got: Vec<(String, String, String, u32, u32)> = tags
        .iter()
        .map(|t| (t.service.clone(), t.host.clone(), t.path.clone(), t.line, t.column))
        .collect();
    assert_eq!(
        got,
        vec![
            ("shop-web".into(), "shop.example.com".into(), "/".into(), 5, 15),
            ("shop-admin".into(), "".into(), "/admin".into(), 10, 17),
        ]
    );
    assert_eq!(unresolved, vec!["urlprefix-${meta.host}/".to_string()]);
}
