//! Shipping: the Helm chart (lint, its objects validated against the
//! Kubernetes 1.35 schemas, wrong values refused with a message naming
//! them, install / upgrade / uninstall on the test bed), deploy/ and the
//! CRD copies as generated, the Dockerfile linted, the images run as a
//! non-root user on a read-only root filesystem, and `kubectl picket`
//! checked against the cache's real state around a failover.
//!
//! Helm is the test bed's (scripts/build-testbed builds v4.3.1);
//! kubernetes-validate and hadolint come from PyPI (.ci/run installs
//! them).

mod common;

use common::k8s::{bin_dir, eventually, k, kubectl, require_cluster, state_dir, Namespace};
use serde::Deserialize;
use std::process::Command;
use std::time::Duration;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const CHART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/picket");
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Runs `program` with the test bed's kubeconfig and tools on PATH;
/// stdout, or stderr (and stdout) as the error.
fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let path = format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(program)
        .args(args)
        .env("KUBECONFIG", state_dir().join("admin.kubeconfig"))
        .env("PATH", path)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!("{}{stdout}", String::from_utf8_lossy(&out.stderr)))
    }
}

fn helm(args: &[&str]) -> Result<String, String> {
    run(bin_dir().join("helm").to_str().unwrap(), args)
}

/// `kubectl picket` (the plugin binary), with kubectl's flags.
fn plugin(args: &[&str]) -> Result<String, String> {
    let kubeconfig = state_dir().join("admin.kubeconfig");
    let mut a = vec!["--kubeconfig", kubeconfig.to_str().unwrap()];
    a.extend_from_slice(args);
    run(env!("CARGO_BIN_EXE_kubectl-picket"), &a)
}

fn template(set: &[&str]) -> String {
    let mut a = vec!["template", "picket", CHART, "--namespace", "picket-system"];
    for s in set {
        a.extend(["--set", s]);
    }
    helm(&a).unwrap_or_else(|e| panic!("helm template {set:?}: {e}"))
}

/// The `kind/name` of every object in a rendered manifest.
fn objects(yaml: &str) -> Vec<String> {
    serde_yaml::Deserializer::from_str(yaml)
        .filter_map(|d| {
            let v = serde_yaml::Value::deserialize(d).ok()?;
            Some(format!(
                "{}/{}",
                v.get("kind")?.as_str()?,
                v.get("metadata")?.get("name")?.as_str()?
            ))
        })
        .collect()
}

/// Validates a rendered manifest against Kubernetes 1.35's schemas,
/// strictly (no unknown field).
fn validate(yaml: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rendered.yaml");
    std::fs::write(&file, yaml).unwrap();
    let out = run(
        "kubernetes-validate",
        &["-k", "1.35.0", "--strict", file.to_str().unwrap()],
    );
    let out = out.unwrap_or_else(|e| panic!("kubernetes-validate: {e}\n{yaml}"));
    assert!(!out.contains("ERROR"), "{out}");
}

#[test]
fn the_chart_lints_clean_and_renders_objects_kubernetes_accepts() {
    let lint = helm(&["lint", "--strict", CHART]);
    assert!(lint.is_ok(), "{lint:?}");
    assert!(lint.unwrap().contains("0 chart(s) failed"));

    // Defaults: a ClusterRole, the leader's Role, the operator Deployment
    // and its metrics Service.
    let default = template(&[]);
    validate(&default);
    let objs = objects(&default);
    for want in [
        "ServiceAccount/picket-operator",
        "ClusterRole/picket-operator",
        "ClusterRoleBinding/picket-operator",
        "Role/picket-operator-leader",
        "RoleBinding/picket-operator-leader",
        "Deployment/picket-operator",
        "Service/picket-operator-metrics",
    ] {
        assert!(objs.contains(&want.to_string()), "{want} not in {objs:?}");
    }
    assert_eq!(objs.len(), 7, "{objs:?}");
    // The images are the crate's version; the pod runs non-root on a
    // read-only root filesystem.
    assert!(default.contains(&format!("image: picket.local/picket-operator:{VERSION}")));
    assert!(default.contains(&format!("- picket.local/picket-server:{VERSION}")));
    for s in [
        "runAsNonRoot: true",
        "readOnlyRootFilesystem: true",
        "allowPrivilegeEscalation: false",
    ] {
        assert!(default.contains(s), "{s}");
    }

    // watchNamespaces: a Role in each, and nothing cluster-wide.
    let scoped = template(&["watchNamespaces={team-a,team-b}"]);
    validate(&scoped);
    let objs = objects(&scoped);
    assert!(!objs.iter().any(|o| o.starts_with("Cluster")), "{objs:?}");
    assert_eq!(
        objs.iter().filter(|o| *o == "Role/picket-operator").count(),
        2
    );
    assert!(scoped.contains("namespace: team-a") && scoped.contains("namespace: team-b"));
    assert!(scoped.contains("- --namespace\n            - team-a,team-b"));

    // The optional objects.
    let more = template(&[
        "metrics.serviceMonitor.enabled=true",
        "cache.enabled=true",
        "leaderElection.enabled=false",
        "replicaCount=1",
    ]);
    let objs = objects(&more);
    assert!(objs.contains(&"ServiceMonitor/picket-operator".to_string()));
    assert!(objs.contains(&"ReplicatedCache/cache".to_string()));
    assert!(!objs.contains(&"Role/picket-operator-leader".to_string()));
    assert!(more.contains("- --no-leader-elect"));
    let chart = std::fs::read_to_string(format!("{CHART}/Chart.yaml")).unwrap();
    assert!(
        chart.contains(&format!("\nversion: {VERSION}\n")),
        "{chart}"
    );
    assert!(
        chart.contains(&format!("\nappVersion: \"{VERSION}\"\n")),
        "{chart}"
    );
}

#[test]
fn wrong_values_fail_the_install_with_a_message_naming_them() {
    let cases: [(&[&str], &str); 5] = [
        (&["replicaCount=-1"], "/replicaCount"),
        (&["replicas=3"], "'replicas' not allowed"),
        (&["image.pullPolicy=Sometimes"], "/image/pullPolicy"),
        (&["watchNamespaces={Not_A_Namespace}"], "/watchNamespaces/0"),
        (
            &["leaderElection.enabled=false", "replicaCount=2"],
            "replicaCount > 1 needs leaderElection.enabled",
        ),
    ];
    for (set, want) in cases {
        let mut a = vec!["install", "picket", CHART, "--dry-run=client"];
        for s in set {
            a.extend(["--set", s]);
        }
        match helm(&a) {
            Ok(out) => panic!("{set:?} installed:\n{out}"),
            Err(e) => assert!(e.contains(want), "{set:?}: {e}"),
        }
    }
}

#[test]
fn deploy_and_the_crd_copies_are_what_the_chart_and_the_code_generate() {
    let gen = run(&format!("{ROOT}/scripts/gen-deploy"), &["--check"]);
    assert!(gen.is_ok(), "{gen:?}");
    let crd = std::fs::read_to_string(format!("{ROOT}/crds/replicatedcaches.picket.dev.yaml"));
    for copy in [
        "deploy/01-crd.yaml",
        "charts/picket/crds/replicatedcaches.picket.dev.yaml",
    ] {
        let c = std::fs::read_to_string(format!("{ROOT}/{copy}"));
        assert_eq!(c.as_ref().ok(), crd.as_ref().ok(), "{copy}");
    }
    let check = run(env!("CARGO_BIN_EXE_picket-crdgen"), &["--check"]);
    assert!(check.is_ok(), "{check:?}");
}

#[test]
fn the_dockerfile_lints_clean() {
    let out = run("hadolint", &[&format!("{ROOT}/deploy/Dockerfile")]);
    assert!(out.is_ok(), "{out:?}");
}

/// The images the test bed builds (the Dockerfile's layout) start as a
/// non-root user: with `runAsNonRoot` and no `runAsUser`, the kubelet
/// refuses an image whose user is root; and on a read-only root
/// filesystem, picket-server serves and the operator starts.
#[test]
fn the_images_run_as_non_root_on_a_read_only_root_filesystem() {
    require_cluster();
    let ns = Namespace::new("chart-images");
    let server = common::k8s::cluster_env("SERVER_IMAGE");
    let operator = common::k8s::cluster_env("OPERATOR_IMAGE");
    let pod = |name: &str, image: &str, args: &str, restart: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  restartPolicy: {restart}\n  \
             securityContext: {{runAsNonRoot: true}}\n  containers:\n  - name: c\n    image: {image}\n    \
             imagePullPolicy: Never\n    args: {args}\n    securityContext: {{readOnlyRootFilesystem: true, \
             allowPrivilegeEscalation: false, capabilities: {{drop: [ALL]}}}}\n"
        )
    };
    ns.apply(&pod(
        "server",
        &server,
        "[\"--port\", \"6379\", \"--protected-mode\", \"no\"]",
        "Always",
    ));
    ns.apply(&pod("operator", &operator, "[\"--version\"]", "Never"));
    let running = ns.kubectl(&[
        "wait",
        "--for=condition=Ready",
        "pod/server",
        "--timeout=90s",
    ]);
    assert!(running.is_ok(), "{running:?}\n{}", ns.describe());
    let ip = ns.jsonpath(&["pod", "server"], "{.status.podIP}");
    let pong = common::k8s::tcp_command(&format!("{ip}:6379"), "PING");
    assert_eq!(pong.as_deref(), Ok("+PONG"), "{}", ns.describe());
    // It runs as 65532 (the image's user; /proc of a pod's process).
    let done = ns.kubectl(&[
        "wait",
        "--for=jsonpath={.status.phase}=Succeeded",
        "pod/operator",
        "--timeout=90s",
    ]);
    assert!(done.is_ok(), "{done:?}\n{}", ns.describe());
    let version = ns.k(&["logs", "operator"]);
    assert_eq!(version.trim(), format!("picket-operator {VERSION}"));
}

fn rcache(ns: &Namespace, path: &str) -> String {
    ns.jsonpath(&["rcache", "cache"], path)
}

/// Each data pod's line of `kubectl picket status`: its role and master.
fn status_row(out: &str, pod: &str) -> Vec<String> {
    out.lines()
        .find(|l| l.starts_with(&format!("{pod} ")))
        .unwrap_or_else(|| panic!("no line for {pod} in\n{out}"))
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// What `pod` itself says it is (ROLE): master or replica.
fn role_of(ns: &Namespace, pod: &str, pw: &str) -> String {
    let ip = ns.jsonpath(&["pod", pod], "{.status.podIP}");
    let role = redis::Client::open(format!("redis://:{pw}@{ip}:6379/"))
        .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
        .and_then(|mut c| redis::cmd("ROLE").query::<Vec<redis::Value>>(&mut c));
    match role.ok().and_then(|r| r.into_iter().next()) {
        Some(redis::Value::BulkString(b)) if b == b"master" => "master".into(),
        Some(redis::Value::BulkString(b)) if b == b"slave" => "replica".into(),
        other => format!("{other:?}"),
    }
}

fn secret_password(ns: &Namespace) -> String {
    let b64 = ns.jsonpath(&["secret", "cache-auth"], "{.data.password}");
    let mut child = Command::new("base64")
        .arg("-d")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b64.as_bytes())
        .unwrap();
    String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
}

/// The release's objects (by its instance label) in picket-system, and
/// its cluster-wide ones.
fn release_objects() -> String {
    let ns = kubectl(&[
        "-n",
        "picket-system",
        "get",
        "deployment,serviceaccount,role,rolebinding,service,pods",
        "-l",
        "app.kubernetes.io/instance=picket",
        "-o",
        "name",
    ])
    .unwrap_or_default();
    let cluster = kubectl(&[
        "get",
        "clusterrole,clusterrolebinding",
        "-l",
        "app.kubernetes.io/instance=picket",
        "-o",
        "name",
    ])
    .unwrap_or_default();
    format!("{ns}\n{cluster}").trim().to_string()
}

/// The release's operator Deployment rolled out (every pod Ready).
fn operator_rolled_out() {
    let rolled = kubectl(&[
        "-n",
        "picket-system",
        "rollout",
        "status",
        "deployment/picket-operator",
        "--timeout=120s",
    ]);
    assert!(rolled.is_ok(), "{rolled:?}");
}

/// Uninstalls the release when dropped (a failed test leaves nothing).
struct Release;

impl Drop for Release {
    fn drop(&mut self) {
        let _ = helm(&["uninstall", "picket", "-n", "picket-system", "--wait"]);
    }
}

/// `helm install` on the test bed: the operator Ready in the cluster, a
/// cache from examples/ Available, `kubectl picket status` agreeing with
/// what the pods say before and after `kubectl picket failover`; `helm
/// upgrade` to a namespaced install (a Role, no ClusterRole) that still
/// manages the cache; `helm uninstall` leaves no operator object but the
/// CRD.
#[test]
fn the_chart_installs_upgrades_and_uninstalls_on_the_test_bed() {
    require_cluster();
    // An earlier run's leftovers.
    let _ = helm(&["uninstall", "picket", "-n", "picket-system", "--wait"]);
    let ns = Namespace::new("chart-e2e");
    let install = helm(&[
        "install",
        "picket",
        CHART,
        "-n",
        "picket-system",
        "--create-namespace",
        "--wait",
        "--timeout",
        "180s",
    ]);
    let _release = Release;
    assert!(install.is_ok(), "{install:?}");
    assert!(install.unwrap().contains("kubectl picket status cache"));
    operator_rolled_out();
    let operator_logs = || {
        kubectl(&[
            "-n",
            "picket-system",
            "logs",
            "-l",
            "app.kubernetes.io/instance=picket",
            "--prefix",
            "--tail=60",
        ])
        .unwrap_or_else(|e| e)
    };

    ns.k(&["apply", "-f", &format!("{ROOT}/examples/cache.yaml")]);
    let available = ns.kubectl(&[
        "wait",
        "--for=condition=Available",
        "rcache/cache",
        "--timeout=180s",
    ]);
    assert!(
        available.is_ok(),
        "{available:?}\n{}\n{}",
        ns.describe(),
        operator_logs()
    );
    let pw = secret_password(&ns);

    // status: the master and each pod's role as the pods say them.
    let check_status = |master: &str| {
        let mut out = String::new();
        let agreed = eventually(Duration::from_secs(60), || {
            out = plugin(&["-n", &ns.name, "status", "cache"]).unwrap_or_else(|e| e);
            let pods = ["cache-0", "cache-1", "cache-2"];
            out.contains(&format!("Master:         {master} "))
                && out.contains(&format!(
                    "Sentinels naming {master}: 3 of 3; CKQUORUM OK on 3 of 3"
                ))
                && pods.iter().all(|p| {
                    let row = status_row(&out, p);
                    let said = role_of(&ns, p, &pw);
                    row[2] == said && (said == "master" || (row[3] == master && row[4] == "up"))
                })
        });
        assert!(agreed, "{out}\n{}\n{}", ns.describe(), operator_logs());
        out
    };
    let first = rcache(&ns, "{.status.master}");
    let before = check_status(&first);
    assert!(before.contains("Available=True"), "{before}");

    // failover: a confirmed handover to another pod; status follows.
    let moved = plugin(&["-n", &ns.name, "failover", "cache", "--timeout", "90"]);
    assert!(moved.is_ok(), "{moved:?}\n{}", operator_logs());
    let second = rcache(&ns, "{.status.master}");
    assert_ne!(second, first);
    assert!(moved
        .unwrap()
        .contains(&format!("master {first} -> {second}")));
    let after = check_status(&second);
    assert!(after.contains("Last failover:  20"), "{after}");
    let handover = ns.kubectl(&[
        "get",
        "events.events.k8s.io",
        "--field-selector=reason=Handover",
        "-o",
        "name",
    ]);
    assert!(handover.is_ok_and(|h| !h.is_empty()));

    // cli: redis-cli on the master with the Secret's password.
    let set = plugin(&["-n", &ns.name, "cli", "cache", "--", "SET", "chart", "ok"]);
    assert_eq!(set.as_deref().map(str::trim), Ok("OK"));
    let role = plugin(&["-n", &ns.name, "cli", "cache", "--", "ROLE"]);
    assert!(
        role.as_deref().is_ok_and(|r| r.starts_with("master")),
        "{role:?}"
    );

    // upgrade: namespaced to chart-e2e only.
    let upgrade = helm(&[
        "upgrade",
        "picket",
        CHART,
        "-n",
        "picket-system",
        "--set",
        &format!("watchNamespaces={{{}}}", ns.name),
        "--set",
        "logLevel=debug\\,kube=warn",
        "--wait",
        "--timeout",
        "180s",
    ]);
    assert!(upgrade.is_ok(), "{upgrade:?}");
    assert!(kubectl(&["get", "clusterrole", "picket-operator"]).is_err());
    ns.k(&["get", "role", "picket-operator"]);
    let args = k(&[
        "-n",
        "picket-system",
        "get",
        "deployment",
        "picket-operator",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].args}",
    ]);
    assert!(args.contains(&ns.name), "{args}");
    operator_rolled_out();
    // The namespaced operator (its Role only) still acts: another
    // handover.
    let moved = plugin(&["-n", &ns.name, "failover", "cache", "--timeout", "90"]);
    assert!(moved.is_ok(), "{moved:?}\n{}", operator_logs());
    let third = rcache(&ns, "{.status.master}");
    assert_ne!(third, second);
    check_status(&third);

    // uninstall: no operator object left; the CRD stays.
    ns.k(&["delete", "rcache", "cache", "--wait=true", "--timeout=60s"]);
    let gone = helm(&["uninstall", "picket", "-n", "picket-system", "--wait"]);
    assert!(gone.is_ok(), "{gone:?}");
    let mut left = String::new();
    assert!(
        eventually(Duration::from_secs(60), || {
            left = release_objects();
            left.is_empty()
        }),
        "left: {left}"
    );
    k(&["get", "crd", "replicatedcaches.picket.dev"]);
}
