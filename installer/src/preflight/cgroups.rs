//! cgroups on k3s nodes: v2 with the cpu, memory and pids controllers, or v1 with cpu, cpuacct,
//! memory, pids and devices enabled (RHEL 7 and 8 boot v1).

use super::kernel::is_k3s_node;
use super::probe::Probe;
use super::{Context, Finding, Verdict, finding};
use crate::host::facts::HostFacts;

const V2_NEEDS: [&str; 3] = ["cpu", "memory", "pids"];
const V1_NEEDS: [&str; 5] = ["cpu", "cpuacct", "memory", "pids", "devices"];

pub fn verdict(
    cgroup_fs: &str,
    controllers: &[String],
) -> (Verdict, Vec<&'static str>, &'static str) {
    let (needs, version): (&[&'static str], _) = if cgroup_fs == "cgroup2fs" {
        (&V2_NEEDS, "v2")
    } else {
        (&V1_NEEDS, "v1")
    };
    let missing: Vec<&'static str> = needs
        .iter()
        .copied()
        .filter(|c| !controllers.iter().any(|have| have == c))
        .collect();
    if controllers.is_empty() {
        (Verdict::Warn, missing, version)
    } else if missing.is_empty() {
        (Verdict::Pass, missing, version)
    } else {
        (Verdict::Fail, missing, version)
    }
}

pub fn check(context: &Context<'_>, facts: &HostFacts, probe: &Probe, out: &mut Vec<Finding>) {
    if !is_k3s_node(context, facts) {
        return;
    }
    let (verdict, missing, version) = verdict(&probe.cgroup_fs, &probe.cgroup_controllers);
    out.push(finding(
        &facts.name,
        "cgroups",
        verdict,
        format!(
            "cgroup {version}, controllers: {}",
            if probe.cgroup_controllers.is_empty() {
                "none readable".to_owned()
            } else {
                probe.cgroup_controllers.join(" ")
            }
        ),
        if version == "v2" { "cpu, memory, pids" } else { "cpu, cpuacct, memory, pids, devices" },
        format!(
            "enable {} (kernel command line: cgroup_enable=memory, or systemd.unified_cgroup_hierarchy=1 for v2)",
            if missing.is_empty() { "the controllers".to_owned() } else { missing.join(", ") }
        ),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn v2_and_v1_each_need_their_controllers() {
        assert_eq!(
            verdict("cgroup2fs", &list("cpuset cpu io memory pids")).0,
            Verdict::Pass
        );
        assert_eq!(
            verdict("cgroup2fs", &list("cpuset cpu io pids")).1,
            vec!["memory"]
        );
        assert_eq!(
            verdict(
                "tmpfs",
                &list("cpuset cpu cpuacct blkio memory devices pids")
            )
            .0,
            Verdict::Pass
        );
        assert_eq!(
            verdict("tmpfs", &list("cpu cpuacct devices pids")).0,
            Verdict::Fail
        );
        assert_eq!(verdict("tmpfs", &[]).0, Verdict::Warn);
    }
}
