//! `kubectl picket status`: what each data pod and sentinel of a cache
//! says, read into lines and rendered as a report (pure: the plugin
//! binary gathers, this parses and formats).

use std::fmt::Write;

use super::client::{field, info_field};
use super::crd::{ReplicatedCache, ReplicatedCacheStatus};
use super::decide::pod_of_host;

/// A data pod as it answered (or why it did not).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DataLine {
    /// Pod name.
    pub name: String,
    /// Its readiness condition.
    pub ready: bool,
    /// `master` or `slave` (INFO replication's `role`).
    pub role: Option<String>,
    /// The pod it replicates from (a replica).
    pub master: Option<String>,
    /// `master_link_status` (a replica).
    pub link: Option<String>,
    /// Its replication offset.
    pub offset: Option<i64>,
    /// Why it could not be asked.
    pub error: Option<String>,
}

impl DataLine {
    /// From `INFO replication`'s text.
    pub fn from_info(name: &str, ready: bool, info: &str) -> DataLine {
        let role = info_field(info, "role");
        let replica = role.as_deref() == Some("slave");
        let offset = if replica {
            info_field(info, "slave_repl_offset")
        } else {
            info_field(info, "master_repl_offset")
        };
        DataLine {
            name: name.to_string(),
            ready,
            role,
            master: replica
                .then(|| info_field(info, "master_host"))
                .flatten()
                .map(|h| pod_of_host(&h).to_string()),
            link: replica
                .then(|| info_field(info, "master_link_status"))
                .flatten(),
            offset: offset.and_then(|o| o.parse().ok()),
            error: None,
        }
    }
}

/// A sentinel as it answered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SentinelLine {
    /// Pod name.
    pub name: String,
    /// Its readiness condition.
    pub ready: bool,
    /// The master it names (pod).
    pub master: Option<String>,
    /// `SENTINEL MASTER`'s flags, config-epoch, quorum, other sentinels
    /// and replicas.
    pub flags: Option<String>,
    pub epoch: Option<i64>,
    pub quorum: Option<i64>,
    pub other_sentinels: Option<i64>,
    pub replicas: Option<i64>,
    /// `SENTINEL CKQUORUM`'s answer.
    pub ckquorum: Option<String>,
    /// Why it could not be asked, or does not monitor the cache.
    pub error: Option<String>,
}

impl SentinelLine {
    /// From `SENTINEL MASTER <set>`'s field list, the host of
    /// `GET-MASTER-ADDR-BY-NAME` and CKQUORUM's answer.
    pub fn from_replies(
        name: &str,
        ready: bool,
        master_kv: &[String],
        master_host: Option<&str>,
        ckquorum: Option<String>,
    ) -> SentinelLine {
        let num = |k: &str| field(master_kv, k).and_then(|v| v.parse().ok());
        SentinelLine {
            name: name.to_string(),
            ready,
            master: master_host.map(|h| pod_of_host(h).to_string()),
            flags: field(master_kv, "flags"),
            epoch: num("config-epoch"),
            quorum: num("quorum"),
            other_sentinels: num("num-other-sentinels"),
            replicas: num("num-slaves"),
            ckquorum,
            error: None,
        }
    }
}

fn or_dash<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or("-".into(), T::to_string)
}

/// Left-aligned columns, two spaces apart.
fn table(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out
}

/// The report: the resource's status, each data pod (role, its master,
/// link, offset and lag behind the master in bytes), each sentinel's view
/// of the master, and whether they agree.
pub fn render(rc: &ReplicatedCache, data: &[DataLine], sentinels: &[SentinelLine]) -> String {
    let st = rc.status.clone().unwrap_or_default();
    let mut out = render_status(rc, &st);
    let _ = writeln!(out);
    out.push_str(&data_table(&st, data));
    let _ = writeln!(out);
    out.push_str(&sentinel_table(&st, sentinels));
    out
}

/// The resource's status: master, replication, readiness, the last
/// failover, and the conditions that are not as they should be.
fn render_status(rc: &ReplicatedCache, st: &ReplicatedCacheStatus) -> String {
    let mut out = String::new();
    let name = rc.metadata.name.clone().unwrap_or_default();
    let ns = rc.metadata.namespace.clone().unwrap_or_default();
    let _ = writeln!(out, "ReplicatedCache {ns}/{name}");
    let _ = writeln!(
        out,
        "Master:         {} ({})",
        or_dash(&st.master),
        or_dash(&st.master_address)
    );
    let _ = writeln!(
        out,
        "Replication:    replid {}, offset {}, config epoch {}",
        or_dash(&st.replid),
        or_dash(&st.master_repl_offset),
        or_dash(&st.config_epoch)
    );
    let _ = writeln!(
        out,
        "Ready:          {} data pods, {} sentinels (quorum {})",
        or_dash(&st.ready),
        or_dash(&st.sentinels_ready),
        rc.spec.quorum()
    );
    let _ = writeln!(
        out,
        "Last failover:  {}{}",
        or_dash(&st.last_failover_time),
        st.last_switch_latency_ms
            .map(|ms| format!(", Service switched in {ms} ms"))
            .unwrap_or_default()
    );
    if let Some(r) = &st.password_rotation {
        let _ = writeln!(out, "Password:       rotating, {}", r.phase);
    }
    let conds: Vec<String> = st
        .conditions
        .iter()
        .map(|c| format!("{}={}", c.type_, c.status))
        .collect();
    let _ = writeln!(out, "Conditions:     {}", conds.join(" "));
    for c in st.conditions.iter().filter(|c| {
        let bad_when_true = c.type_ == "Degraded" || c.type_ == "Progressing";
        (bad_when_true && c.status == "True") || (c.type_ == "Available" && c.status != "True")
    }) {
        let _ = writeln!(out, "  {}: {} ({})", c.type_, c.message, c.reason);
    }
    out
}

/// One row per data pod: role, its master, link, offset and lag.
fn data_table(st: &ReplicatedCacheStatus, data: &[DataLine]) -> String {
    let master_offset = data
        .iter()
        .find(|d| d.role.as_deref() == Some("master") && Some(&d.name) == st.master.as_ref())
        .and_then(|d| d.offset);
    let mut rows = vec![vec![
        "DATA POD".to_string(),
        "READY".into(),
        "ROLE".into(),
        "MASTER".into(),
        "LINK".into(),
        "OFFSET".into(),
        "LAG".into(),
    ]];
    for d in data {
        let role = match (&d.error, d.role.as_deref()) {
            (Some(e), _) => format!("unreachable: {e}"),
            (None, Some("slave")) => "replica".into(),
            (None, r) => r.unwrap_or("-").to_string(),
        };
        let lag = match (d.role.as_deref(), master_offset, d.offset) {
            (Some("slave"), Some(m), Some(o)) => format!("{} B", (m - o).max(0)),
            _ => "-".into(),
        };
        rows.push(vec![
            d.name.clone(),
            d.ready.to_string(),
            role,
            or_dash(&d.master),
            or_dash(&d.link),
            or_dash(&d.offset),
            lag,
        ]);
    }
    table(&rows)
}

/// One row per sentinel (its view of the master), then whether they
/// agree with the status and reach their quorum.
fn sentinel_table(st: &ReplicatedCacheStatus, sentinels: &[SentinelLine]) -> String {
    let mut rows = vec![vec![
        "SENTINEL".to_string(),
        "READY".into(),
        "MASTER".into(),
        "EPOCH".into(),
        "QUORUM".into(),
        "PEERS".into(),
        "REPLICAS".into(),
        "FLAGS".into(),
    ]];
    for s in sentinels {
        let master = match &s.error {
            Some(e) => format!("unreachable: {e}"),
            None => or_dash(&s.master),
        };
        rows.push(vec![
            s.name.clone(),
            s.ready.to_string(),
            master,
            or_dash(&s.epoch),
            or_dash(&s.quorum),
            or_dash(&s.other_sentinels),
            or_dash(&s.replicas),
            or_dash(&s.flags),
        ]);
    }
    let mut out = table(&rows);
    let named: Vec<&String> = sentinels.iter().filter_map(|s| s.master.as_ref()).collect();
    let agree = named
        .iter()
        .filter(|m| Some(**m) == st.master.as_ref())
        .count();
    let ok = sentinels
        .iter()
        .filter(|s| s.ckquorum.as_deref().is_some_and(|c| c.starts_with("OK")))
        .count();
    let _ = writeln!(
        out,
        "\nSentinels naming {}: {agree} of {}; CKQUORUM OK on {ok} of {}",
        or_dash(&st.master),
        sentinels.len(),
        sentinels.len()
    );
    if let Some(c) = sentinels.iter().find_map(|s| s.ckquorum.clone()) {
        let _ = writeln!(out, "  {c}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::crd::ReplicatedCacheSpec;

    #[test]
    fn a_replica_line_names_its_master_pod_and_link() {
        let info = "# Replication\r\nrole:slave\r\nmaster_host:cache-0.cache-headless.ns.svc.cluster.local\r\n\
            master_port:6379\r\nmaster_link_status:up\r\nslave_repl_offset:900\r\nmaster_repl_offset:900\r\n";
        let d = DataLine::from_info("cache-1", true, info);
        assert_eq!(d.role.as_deref(), Some("slave"));
        assert_eq!(d.master.as_deref(), Some("cache-0"));
        assert_eq!(d.link.as_deref(), Some("up"));
        assert_eq!(d.offset, Some(900));
        let m = DataLine::from_info(
            "cache-0",
            true,
            "role:master\r\nmaster_repl_offset:1000\r\n",
        );
        assert_eq!((m.master, m.link, m.offset), (None, None, Some(1000)));
    }

    #[test]
    fn the_report_shows_lag_and_who_the_sentinels_name() {
        let spec: ReplicatedCacheSpec = serde_json::from_value(serde_json::json!({})).unwrap();
        let mut rc = ReplicatedCache::new("cache", spec);
        rc.metadata.namespace = Some("ns".into());
        rc.status = Some(ReplicatedCacheStatus {
            master: Some("cache-0".into()),
            last_switch_latency_ms: Some(12),
            ..Default::default()
        });
        let data = vec![
            DataLine::from_info("cache-0", true, "role:master\r\nmaster_repl_offset:1000\r\n"),
            DataLine::from_info(
                "cache-1",
                true,
                "role:slave\r\nmaster_host:cache-0.h\r\nmaster_link_status:up\r\nslave_repl_offset:900\r\n",
            ),
            DataLine {
                name: "cache-2".into(),
                error: Some("connection refused".into()),
                ..Default::default()
            },
        ];
        let kv: Vec<String> = ["flags", "master", "config-epoch", "3", "quorum", "2"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let s = vec![
            SentinelLine::from_replies(
                "cache-sentinel-0",
                true,
                &kv,
                Some("cache-0.h"),
                Some(
                    "OK 3 usable Sentinels. Quorum and failover authorization can be reached"
                        .into(),
                ),
            ),
            SentinelLine::from_replies("cache-sentinel-1", true, &kv, Some("cache-1.h"), None),
        ];
        let out = render(&rc, &data, &s);
        assert!(out.contains("Master:         cache-0"), "{out}");
        assert!(out.contains("Service switched in 12 ms"), "{out}");
        let replica = out.lines().find(|l| l.starts_with("cache-1 ")).unwrap();
        assert!(
            replica.contains("replica") && replica.contains("100 B"),
            "{replica}"
        );
        assert!(out.contains("unreachable: connection refused"), "{out}");
        assert!(
            out.contains("Sentinels naming cache-0: 1 of 2; CKQUORUM OK on 1 of 2"),
            "{out}"
        );
    }
}
