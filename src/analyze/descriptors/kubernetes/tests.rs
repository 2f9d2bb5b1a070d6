//! Tests of the Kubernetes, Helm and kustomize readers.

use super::*;
use crate::analyze::EnvVar;

const DEPLOYMENT: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: api-config
data:
  LOG_LEVEL: info
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: api
          image: ghcr.io/acme/api:1.4.2
          command: ["/app/api"]
          args: ["--serve"]
          ports:
            - name: http
              containerPort: 8080
            - name: grpc
              containerPort: 9090
          env:
            - name: LOG_LEVEL
              value: debug
            - name: DB_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: db
                  key: password
            - name: API_TOKEN
              value: "inline-secret-value"
            - name: WORKERS
              value: "4"
          envFrom:
            - configMapRef:
                name: api-config
          livenessProbe:
            tcpSocket:
              port: 8080
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
          resources:
            requests:
              cpu: 250m
              memory: 256Mi
            limits:
              memory: 512Mi
        - name: log-shipper
          image: fluent/fluent-bit:3.0
---
apiVersion: v1
kind: Service
metadata:
  name: api
spec:
  ports:
    - port: 80
      targetPort: 8080
"#;

fn read(text: &str) -> (Vec<DescribedService>, Vec<Note>) {
    let mut notes = Vec::new();
    let services = read_manifests(text, "deploy/k8s/api.yaml", &mut notes);
    (services, notes)
}

#[test]
fn deployment_with_sidecar() {
    let (services, notes) = read(DEPLOYMENT);
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(services.len(), 2);
    let api = &services[0];
    assert_eq!(api.name, "api");
    assert_eq!(api.dir, "deploy/k8s");
    assert_eq!(api.kind, "kubernetes Deployment");
    assert_eq!(api.image.as_deref(), Some("ghcr.io/acme/api:1.4.2"));
    assert_eq!(
        api.ports,
        [
            Port { container: 8080, published: None, protocol: Protocol::Http },
            Port { container: 9090, published: None, protocol: Protocol::Grpc },
        ]
    );
    assert_eq!(
        api.health,
        Some(Health { kind: HealthKind::Http, path: Some("/readyz".into()), port: None })
    );
    assert_eq!(
        api.env,
        [
            EnvVar {
                name: "LOG_LEVEL".into(),
                secret: false,
                default: Some("debug".into()),
                ..EnvVar::default()
            },
            EnvVar { name: "DB_PASSWORD".into(), secret: true, default: None, ..EnvVar::default() },
            EnvVar { name: "API_TOKEN".into(), secret: true, default: None, ..EnvVar::default() },
            EnvVar {
                name: "WORKERS".into(),
                secret: false,
                default: Some("4".into()),
                ..EnvVar::default()
            },
        ]
    );
    let resources = api.resources.clone().expect("resources");
    assert_eq!((resources.cpu, resources.memory), (250, 512));
    assert_eq!(
        resources.reason,
        "from Kubernetes resources (cpu request 250m, memory limit 512Mi)"
    );
    assert_eq!(api.command, Some(vec!["/app/api".to_string(), "--serve".to_string()]));
    let lines: Vec<(Option<u32>, &str)> =
        api.evidence.iter().map(|e| (e.line, e.what.as_str())).collect();
    assert_eq!(
        lines,
        [
            (Some(9), "Kubernetes Deployment api, container api"),
            (Some(18), "runs image ghcr.io/acme/api:1.4.2"),
            (Some(23), "container port 8080"),
            (Some(25), "container port 9090"),
            (Some(27), "env LOG_LEVEL"),
            (Some(29), "env DB_PASSWORD from a Kubernetes secret"),
            (Some(34), "env API_TOKEN"),
            (Some(36), "env WORKERS"),
            (Some(39), "env from config map api-config"),
            (Some(44), "readinessProbe: HTTP /readyz on 8080"),
            (Some(48), "from Kubernetes resources (cpu request 250m, memory limit 512Mi)"),
        ]
    );
    assert!(!format!("{services:?}").contains("inline-secret-value"));
    let sidecar = &services[1];
    assert_eq!(sidecar.name, "api-log-shipper");
    assert_eq!(sidecar.image.as_deref(), Some("fluent/fluent-bit:3.0"));
}

#[test]
fn other_workload_kinds_and_probes() {
    let cases = [
        (
            "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: nightly\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers:\n            - name: job\n              image: acme/job:1\n",
            "nightly",
            None,
        ),
        (
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: grpc\nspec:\n  containers:\n    - name: s\n      image: acme/g\n      ports:\n        - containerPort: 50051\n      livenessProbe:\n        grpc:\n          port: 50051\n",
            "grpc",
            Some(Health { kind: HealthKind::Grpc, path: None, port: None }),
        ),
        (
            "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db\nspec:\n  template:\n    spec:\n      containers:\n        - name: pg\n          image: postgres:16\n          ports:\n            - containerPort: 5432\n          readinessProbe:\n            exec:\n              command: [pg_isready]\n          livenessProbe:\n            tcpSocket:\n              port: 5432\n",
            "db",
            Some(Health { kind: HealthKind::Tcp, path: None, port: None }),
        ),
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: w\n          image: acme/w\n          ports:\n            - containerPort: 3000\n          livenessProbe:\n            httpGet:\n              path: /health\n              port: 9000\n",
            "web",
            Some(Health { kind: HealthKind::Http, path: Some("/health".into()), port: Some(9000) }),
        ),
    ];
    for (text, name, health) in cases.clone() {
        let (services, notes) = read(text);
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(services.len(), 1, "{text}");
        assert_eq!(services[0].name, name);
        assert_eq!(services[0].health, health, "{name}");
    }
    let (grpc, _) = read(cases[1].0);
    assert_eq!(grpc[0].ports[0].protocol, Protocol::Grpc, "the probe says gRPC");
}

#[test]
fn lists_and_non_workloads() {
    let list = "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Pod\n    metadata:\n      name: a\n    spec:\n      containers:\n        - name: a\n          image: a:1\n";
    assert_eq!(read(list).0.len(), 1);
    let service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n";
    assert!(read(service).0.is_empty());
    let empty_docs = "---\n---\n# only a comment\n";
    let (services, notes) = read(empty_docs);
    assert!(services.is_empty() && notes.is_empty(), "{notes:?}");
}

#[test]
fn malformed_documents_are_notes_and_the_rest_is_read() {
    let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: ok\nspec:\n  containers:\n    - name: a\n      image: a:1\n---\napiVersion: v1\nkind: Pod\nmetadata: [\n";
    let (services, notes) = read(text);
    assert_eq!(services.len(), 1);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].message.starts_with("not valid YAML"), "{notes:?}");
    let line = notes[0].line.expect("a line");
    assert!((10..=13).contains(&line), "line {line} should be in the second document");
    let templated = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}\n";
    let (services, notes) = read(templated);
    assert!(services.is_empty());
    assert!(notes[0].message.contains("templated"), "{notes:?}");
    let odd_resources = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: r\nspec:\n  containers:\n    - name: a\n      image: a\n      resources:\n        limits:\n          memory: lots\n";
    let (services, _) = read(odd_resources);
    assert_eq!(services[0].resources, None);
    assert!(services[0].evidence.iter().any(|e| e.what.starts_with("resources not understood")));
}

#[test]
fn document_splitting() {
    let text = "a: 1\n---\nb: 2\n--- # comment\nc: 3\n---not-a-separator: 4\n";
    let docs: Vec<(usize, &str)> = documents(text);
    assert_eq!(docs, [(0, "a: 1\n"), (9, "b: 2\n"), (28, "c: 3\n---not-a-separator: 4\n")]);
}

#[test]
fn helm_values() {
    let values = "replicaCount: 1\nimage:\n  repository: ghcr.io/acme/shop\n  pullPolicy: IfNotPresent\n  tag: \"\"\nservice:\n  type: ClusterIP\n  port: 8000\nenv:\n  DJANGO_DEBUG: \"false\"\n  SECRET_KEY: changeme\nlivenessProbe:\n  httpGet:\n    path: /healthz\n    port: http\nresources:\n  limits:\n    cpu: 500m\n    memory: 1Gi\n";
    let chart = "apiVersion: v2\nname: shop\nversion: 0.1.0\nappVersion: \"2.3.1\"\n";
    let mut notes = Vec::new();
    let services = read_helm_values(values, Some(chart), "charts/shop/values.yaml", &mut notes);
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(services.len(), 1);
    let shop = &services[0];
    assert_eq!(shop.name, "shop");
    assert_eq!(shop.kind, "helm values");
    assert_eq!(shop.image.as_deref(), Some("ghcr.io/acme/shop:2.3.1"));
    assert_eq!(shop.ports, [Port { container: 8000, published: None, protocol: Protocol::Http }]);
    assert_eq!(shop.health.as_ref().and_then(|h| h.path.as_deref()), Some("/healthz"));
    assert_eq!(shop.resources.as_ref().map(|r| (r.cpu, r.memory)), Some((500, 1024)));
    assert_eq!(
        shop.env,
        [
            EnvVar {
                name: "DJANGO_DEBUG".into(),
                secret: false,
                default: Some("false".into()),
                ..EnvVar::default()
            },
            EnvVar { name: "SECRET_KEY".into(), secret: true, default: None, ..EnvVar::default() },
        ]
    );
    assert_eq!(shop.evidence[0].line, Some(2));

    let no_image = read_helm_values("replicaCount: 1\n", None, "chart/values.yaml", &mut notes);
    assert!(no_image.is_empty());
    let broken = read_helm_values("image: [\n", None, "chart/values.yaml", &mut notes);
    assert!(broken.is_empty());
    assert_eq!(notes.len(), 1, "{notes:?}");
}

#[test]
fn kustomize_overrides_images() {
    let kustomization = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\nimages:\n  - name: ghcr.io/acme/api\n    newTag: 2.0.0\n  - name: postgres\n    newName: registry.local/postgres\n    digest: sha256:abc\n";
    let mut notes = Vec::new();
    let overrides = read_kustomization(kustomization, "deploy/kustomization.yaml", &mut notes);
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(
        overrides.iter().map(|o| (o.name.as_str(), o.image.as_str())).collect::<Vec<_>>(),
        [
            ("ghcr.io/acme/api", "ghcr.io/acme/api:2.0.0"),
            ("postgres", "registry.local/postgres@sha256:abc")
        ]
    );
    let (mut services, _) = read(DEPLOYMENT);
    apply_image_overrides(&mut services, &overrides);
    assert_eq!(services[0].image.as_deref(), Some("ghcr.io/acme/api:2.0.0"));
    assert_eq!(services[0].evidence.last().and_then(|e| e.line), Some(6));
    assert_eq!(services[1].image.as_deref(), Some("fluent/fluent-bit:3.0"));
}
