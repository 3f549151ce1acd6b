//! On the RHEL family: SELinux enforcing needs the k3s-selinux policy (k3s refuses to start
//! without it when told to use SELinux), and an active firewalld must let the cluster's and the
//! registry's ports through.

use super::probe::Probe;
use super::{Finding, Verdict, finding};
use crate::host::OsFamily;
use crate::host::facts::HostFacts;

pub fn check(facts: &HostFacts, probe: &Probe, out: &mut Vec<Finding>) {
    if facts.os_family != Some(OsFamily::RedHat) {
        return;
    }
    let enforcing = probe.selinux.eq_ignore_ascii_case("enforcing");
    out.push(finding(
        &facts.name,
        "selinux",
        if enforcing { Verdict::Warn } else { Verdict::Pass },
        probe.selinux.clone(),
        "permissive or disabled, or enforcing with the k3s-selinux policy installed",
        "install the k3s-selinux and container-selinux packages (carry them as OS packages), or set SELinux permissive",
    ));
    let active = probe.firewalld == "active";
    out.push(finding(
        &facts.name,
        "firewalld",
        if active { Verdict::Warn } else { Verdict::Pass },
        if probe.firewalld.is_empty() { "not installed".to_owned() } else { probe.firewalld.clone() },
        "inactive, or open for 6443/tcp, 10250/tcp, 8472/udp and the registry's port",
        "open the ports (`firewall-cmd --permanent --add-port=6443/tcp …`, then --reload) or stop firewalld",
    ));
}
