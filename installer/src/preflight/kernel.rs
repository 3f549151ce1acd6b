//! The kernel modules and sysctls k3s needs on its nodes: overlay and br_netfilter loaded,
//! built in or loadable (k3s loads them at start); IP forwarding and bridged traffic through
//! iptables, which k3s switches on itself but a hardening policy may switch off again.

use super::probe::Probe;
use super::{Context, Finding, Verdict, finding};
use crate::host::facts::HostFacts;
use crate::inventory::Role;

pub fn is_k3s_node(context: &Context<'_>, facts: &HostFacts) -> bool {
    context.inventory.cluster.is_some()
        && (facts.roles.contains(&Role::Server) || facts.roles.contains(&Role::Agent))
}

pub fn check(context: &Context<'_>, facts: &HostFacts, probe: &Probe, out: &mut Vec<Finding>) {
    if !is_k3s_node(context, facts) {
        return;
    }
    for (module, state) in &probe.modules {
        let verdict = match state.as_str() {
            "loaded" | "builtin" | "loadable" => Verdict::Pass,
            "unknown" => Verdict::Warn,
            _ => Verdict::Fail,
        };
        out.push(finding(
            &facts.name,
            "kernel-modules",
            verdict,
            format!("{module}: {state}"),
            format!("{module} loaded, built in or loadable"),
            if verdict == Verdict::Warn {
                format!("ferry could not tell (no /proc/modules and no modprobe): check that `modprobe {module}` works")
            } else {
                format!("install the kernel's modules package (for {module}), or boot a kernel that has it")
            },
        ));
    }
    let sysctls = [
        ("net.ipv4.ip_forward", &probe.ip_forward),
        (
            "net.bridge.bridge-nf-call-iptables",
            &probe.bridge_nf_call_iptables,
        ),
    ];
    for (name, value) in sysctls {
        let (verdict, measured) = match value.as_str() {
            "1" => (Verdict::Pass, "1".to_owned()),
            "" => (
                Verdict::Warn,
                "unreadable (br_netfilter not loaded yet?)".to_owned(),
            ),
            other => (Verdict::Warn, other.to_owned()),
        };
        out.push(finding(
            &facts.name,
            "sysctl",
            verdict,
            format!("{name} = {measured}"),
            format!("{name} = 1 (k3s sets it at start)"),
            format!("make sure no sysctl.d file sets {name} = 0 after k3s starts (`sysctl --system` would undo k3s)"),
        ));
    }
}
