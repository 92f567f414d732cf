//! The Kubernetes test bed's self-test (scripts/dev-cluster): real API
//! server, RBAC, scheduler, kubelet with containerd running picket's own
//! images, kube-proxy, CoreDNS, the local StorageClass and the fault
//! helper. Every wait is bounded.

mod common;
use common::k8s::*;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(180);

#[test]
fn the_node_is_ready_on_containerd_and_rbac_denies_a_bare_service_account() {
    let ns = Namespace::new("testbed-rbac");
    let runtime = k(&[
        "get",
        "node",
        "picket-node",
        "-o",
        "jsonpath={.status.nodeInfo.containerRuntimeVersion} {.status.nodeInfo.kubeletVersion}",
    ]);
    assert!(runtime.starts_with("containerd://"), "{runtime}");
    assert!(runtime.ends_with("v1.35.4"), "{runtime}");
    let ready = k(&[
        "get",
        "node",
        "picket-node",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
    ]);
    assert_eq!(ready, "True");
    // A ServiceAccount with no role bound: its token is authenticated and
    // every request is forbidden (403), not anonymous.
    ns.k(&["create", "serviceaccount", "nobody"]);
    let token = ns.k(&["create", "token", "nobody", "--duration=10m"]);
    let server = k(&[
        "config",
        "view",
        "--minify",
        "-o",
        "jsonpath={.clusters[0].cluster.server}",
    ]);
    let ca = state_dir().join("pki/ca.crt");
    let out = std::process::Command::new(bin_dir().join("kubectl"))
        .args([
            "--kubeconfig=/dev/null",
            &format!("--server={server}"),
            &format!("--certificate-authority={}", ca.display()),
            &format!("--token={token}"),
            "-n",
            &ns.name,
            "get",
            "pods",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("Forbidden")
            && err.contains(&format!(
                "system:serviceaccount:{}:nobody\" cannot list resource \"pods\"",
                ns.name
            )),
        "{err}"
    );
}

/// The StatefulSet of the self-test: three picket-server pods from
/// SERVER_IMAGE, a headless Service, a ClusterIP Service, a readiness
/// probe and a 16 Mi claim each.
fn statefulset(image: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: Service
metadata: {{name: cache-headless}}
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  selector: {{app: cache}}
  ports: [{{name: redis, port: 6379}}]
---
apiVersion: v1
kind: Service
metadata: {{name: cache}}
spec:
  selector: {{app: cache}}
  ports: [{{name: redis, port: 6379}}]
---
apiVersion: v1
kind: Service
metadata: {{name: chosen}}
spec:
  selector: {{app: cache, chosen: "yes"}}
  ports: [{{name: redis, port: 6379}}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: cache}}
spec:
  serviceName: cache-headless
  replicas: 3
  podManagementPolicy: Parallel
  selector: {{matchLabels: {{app: cache}}}}
  template:
    metadata: {{labels: {{app: cache}}}}
    spec:
      terminationGracePeriodSeconds: 5
      securityContext: {{runAsNonRoot: true, runAsUser: 65532, fsGroup: 65532}}
      containers:
      - name: server
        image: {image}
        imagePullPolicy: IfNotPresent
        args: ["--port", "6379", "--protected-mode", "no", "--dir", "/data", "--save", ""]
        ports: [{{containerPort: 6379, name: redis}}]
        readinessProbe:
          tcpSocket: {{port: 6379}}
          periodSeconds: 2
        volumeMounts: [{{name: data, mountPath: /data}}]
  volumeClaimTemplates:
  - metadata: {{name: data}}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {{requests: {{storage: 16Mi}}}}
"#
    )
}

fn toolbox(image: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: toolbox}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: toolbox
    image: {image}
    imagePullPolicy: IfNotPresent
    args: ["sleep", "3600"]
"#
    )
}

#[test]
fn picket_servers_run_as_a_statefulset_with_services_dns_restarts_and_volumes() {
    let ns = Namespace::new("testbed-sts");
    ns.apply(&statefulset(&cluster_env("SERVER_IMAGE")));
    ns.apply(&toolbox(&cluster_env("TOOLBOX_IMAGE")));
    assert!(
        eventually(LONG, || ns
            .jsonpath(&["statefulset", "cache"], "{.status.readyReplicas}")
            == "3"),
        "the StatefulSet did not become ready:\n{}",
        ns.describe()
    );
    // Every pod answers PING on its own IP, from the host.
    let mut ips = Vec::new();
    for i in 0..3 {
        let ip = ns.jsonpath(&["pod", &format!("cache-{i}")], "{.status.podIP}");
        assert!(ip.starts_with("10.244.0."), "{ip}");
        assert_eq!(tcp_command(&format!("{ip}:6379"), "PING").unwrap(), "+PONG");
        ips.push(ip);
    }
    // The EndpointSlices of the headless Service list the three (the
    // EndpointSlice controller follows pod readiness a moment after the
    // StatefulSet counts it).
    let listed = || {
        let mut listed: Vec<String> = ns
            .k(&[
                "get",
                "endpointslices",
                "-l",
                "kubernetes.io/service-name=cache-headless",
                "-o",
                "jsonpath={.items[*].endpoints[*].addresses[*]}",
            ])
            .split_whitespace()
            .map(str::to_string)
            .collect();
        listed.sort();
        listed
    };
    let mut want = ips.clone();
    want.sort();
    assert!(
        eventually(Duration::from_secs(30), || listed() == want),
        "{:?} != {want:?}",
        listed()
    );
    // The ClusterIP through kube-proxy: from the host, and from a pod by
    // the Service's short name (CoreDNS and the pod's search path).
    let vip = ns.jsonpath(&["service", "cache"], "{.spec.clusterIP}");
    assert!(vip.starts_with("10.96."), "{vip}");
    // (kube-proxy programs the rules within its sync period)
    assert!(
        eventually(Duration::from_secs(30), || tcp_command(
            &format!("{vip}:6379"),
            "PING"
        )
        .as_deref()
            == Ok("+PONG")),
        "{vip}: {:?}",
        tcp_command(&format!("{vip}:6379"), "PING")
    );
    assert!(
        eventually(LONG, || ns.jsonpath(&["pod", "toolbox"], "{.status.phase}")
            == "Running"),
        "{}",
        ns.describe()
    );
    let from_pod = ns.k(&[
        "exec",
        "toolbox",
        "--",
        "sh",
        "-c",
        "printf 'PING\\r\\n' | nc -w 2 cache 6379",
    ]);
    assert_eq!(from_pod.trim(), "+PONG");
    // CoreDNS: a pod's stable name under the headless Service.
    let fqdn = format!("cache-1.cache-headless.{}.svc.cluster.local", ns.name);
    let lookup = ns.k(&["exec", "toolbox", "--", "nslookup", &fqdn]);
    assert!(lookup.contains(&ips[1]), "{lookup}");
    // Relabelling moves a Service's endpoints.
    let chosen = || {
        ns.k(&[
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=chosen",
            "-o",
            "jsonpath={.items[*].endpoints[*].addresses[*]}",
        ])
    };
    ns.k(&["label", "pod", "cache-0", "chosen=yes"]);
    assert!(eventually(LONG, || chosen() == ips[0]), "{}", chosen());
    ns.k(&["label", "pod", "cache-0", "chosen-"]);
    ns.k(&["label", "pod", "cache-2", "chosen=yes"]);
    assert!(eventually(LONG, || chosen() == ips[2]), "{}", chosen());
    // kill -9 of the server process: the kubelet restarts the container.
    let restarts = || {
        ns.jsonpath(
            &["pod", "cache-2"],
            "{.status.containerStatuses[0].restartCount}",
        )
        .parse::<u32>()
        .unwrap_or(0)
    };
    let before = restarts();
    ns.fault("kill", "cache-2");
    assert!(
        eventually(LONG, || restarts() > before
            && tcp_command(&format!("{}:6379", ips[2]), "PING").as_deref()
                == Ok("+PONG")),
        "{}",
        ns.describe()
    );
    // The claim is bound, and its data outlives the pod.
    let phase = ns.jsonpath(&["pvc", "data-cache-0"], "{.status.phase}");
    assert_eq!(phase, "Bound");
    let addr0 = format!("{}:6379", ips[0]);
    assert_eq!(tcp_command(&addr0, "SET kept across-pods").unwrap(), "+OK");
    assert_eq!(tcp_command(&addr0, "SAVE").unwrap(), "+OK");
    let uid = ns.jsonpath(&["pod", "cache-0"], "{.metadata.uid}");
    ns.k(&["delete", "pod", "cache-0", "--wait=false"]);
    let mut ip0 = String::new();
    assert!(
        eventually(LONG, || {
            let fresh = ns.jsonpath(&["pod", "cache-0"], "{.metadata.uid}") != uid
                && ns.jsonpath(&["pod", "cache-0"], "{.status.containerStatuses[0].ready}")
                    == "true";
            ip0 = ns.jsonpath(&["pod", "cache-0"], "{.status.podIP}");
            fresh && !ip0.is_empty()
        }),
        "{}",
        ns.describe()
    );
    assert_eq!(
        tcp_command(&format!("{ip0}:6379"), "GET kept").unwrap(),
        "across-pods"
    );
    // Freeze and thaw, cut and restore the network: the fault helper.
    ns.fault("freeze", "cache-1");
    assert!(tcp_command(&format!("{}:6379", ips[1]), "PING").is_err());
    ns.fault("thaw", "cache-1");
    assert_eq!(
        tcp_command(&format!("{}:6379", ips[1]), "PING").unwrap(),
        "+PONG"
    );
    ns.fault("net-down", "cache-1");
    assert!(tcp_command(&format!("{}:6379", ips[1]), "PING").is_err());
    ns.fault("net-up", "cache-1");
    assert!(eventually(Duration::from_secs(20), || tcp_command(
        &format!("{}:6379", ips[1]),
        "PING"
    )
    .as_deref()
        == Ok("+PONG")));
    ns.fault("force-delete", "cache-1");
    assert!(
        eventually(LONG, || ns
            .jsonpath(&["statefulset", "cache"], "{.status.readyReplicas}")
            == "3"),
        "{}",
        ns.describe()
    );
}
