//! picket-operator on the Kubernetes test bed: the CRD as the API server
//! enforces it. Every wait is bounded.

mod common;
use common::k8s::*;
use std::time::Duration;

const CRD_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/crds/replicatedcaches.picket.dev.yaml"
);

/// crds/ holds exactly what the code generates.
#[test]
fn the_crd_file_is_what_the_code_generates() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_picket-crdgen"))
        .arg("--check")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn install_crd() {
    require_cluster();
    k(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        CRD_FILE,
    ]);
    assert!(eventually(Duration::from_secs(60), || kubectl(&[
        "get",
        "crd",
        "replicatedcaches.picket.dev",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Established\")].status}"
    ])
    .as_deref()
        == Ok("True")));
}

fn cache_yaml(name: &str, spec: &str) -> String {
    format!("apiVersion: picket.dev/v1alpha1\nkind: ReplicatedCache\nmetadata: {{name: {name}}}\nspec:\n{spec}")
}

/// Invalid resources are refused at apply by the API server, with a
/// message that names the field; a valid one gets the defaults.
#[test]
fn the_api_server_validates_replicated_caches() {
    install_crd();
    let ns = Namespace::new("operator-crd");
    let cases = [
        ("  sentinels: 2\n", "spec.sentinels"),
        ("  sentinels: 3\n  quorum: 4\n", "spec.quorum"),
        ("  quorum: 0\n", "spec.quorum"),
        ("  replicas: 0\n", "spec.replicas"),
        ("  maxMemory: lots\n", "spec.maxMemory"),
        ("  maxMemoryPolicy: sometimes\n", "spec.maxMemoryPolicy"),
        ("  config: {port: \"7000\"}\n", "spec.config"),
        ("  config: {requirepass: x}\n", "spec.config"),
        (
            "  persistence: {enabled: true, size: big}\n",
            "spec.persistence.size",
        ),
        ("  auth: {secretName: \"\"}\n", "spec.auth.secretName"),
    ];
    for (spec, field) in cases {
        let err = kubectl_in(
            &["-n", &ns.name, "apply", "-f", "-"],
            Some(&cache_yaml("bad", spec)),
        )
        .expect_err(spec);
        assert!(
            err.contains("is invalid") && err.contains(field),
            "{spec} -> {err}"
        );
    }
    assert!(ns.kubectl(&["get", "rcache", "bad"]).is_err());
    // A valid one: the schema's defaults are filled in.
    ns.apply(&cache_yaml(
        "good",
        "  maxMemory: 64mb\n  config: {hz: \"20\"}\n",
    ));
    assert_eq!(
        ns.jsonpath(
            &["rcache", "good"],
            "{.spec.replicas} {.spec.sentinels} {.spec.minReplicasToWrite}"
        ),
        "3 3 0"
    );
    let table = ns.k(&["get", "rcache"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "MASTER", "READY", "SENTINELS", "AGE"]);
}
