//! The ports each role needs, free or held by the service that should hold them: on servers
//! 6443 (API), 10250 (kubelet), 2379-2380 (embedded etcd, once a second server joins),
//! 8472/udp (flannel); on agents 10250 and 8472/udp; on ferry's registry host its pull and push
//! ports.

use super::kernel::is_k3s_node;
use super::probe::Probe;
use super::{Context, Finding, Verdict, finding};
use crate::host::facts::HostFacts;
use crate::inventory::Role;

/// Processes that may hold k3s's ports: k3s itself, under the names it runs as.
const K3S_PROCESSES: [&str; 4] = ["k3s", "k3s-server", "k3s-agent", "containerd"];
const REGISTRY_PROCESSES: [&str; 1] = ["registry"];

struct Wanted {
    protocol: &'static str,
    port: u16,
    purpose: &'static str,
    holders: &'static [&'static str],
}

pub fn check(context: &Context<'_>, facts: &HostFacts, probe: &Probe, out: &mut Vec<Finding>) {
    let mut wanted = Vec::new();
    if is_k3s_node(context, facts) {
        let servers = context
            .inventory
            .hosts
            .iter()
            .filter(|h| h.roles.contains(&Role::Server))
            .count();
        if facts.roles.contains(&Role::Server) {
            wanted.push(Wanted {
                protocol: "tcp",
                port: 6443,
                purpose: "the Kubernetes API",
                holders: &K3S_PROCESSES,
            });
            if servers > 1 {
                wanted.push(Wanted {
                    protocol: "tcp",
                    port: 2379,
                    purpose: "etcd clients",
                    holders: &K3S_PROCESSES,
                });
                wanted.push(Wanted {
                    protocol: "tcp",
                    port: 2380,
                    purpose: "etcd peers",
                    holders: &K3S_PROCESSES,
                });
            }
        }
        wanted.push(Wanted {
            protocol: "tcp",
            port: 10250,
            purpose: "the kubelet",
            holders: &K3S_PROCESSES,
        });
        wanted.push(Wanted {
            protocol: "udp",
            port: 8472,
            purpose: "flannel's VXLAN",
            holders: &K3S_PROCESSES,
        });
    }
    if facts.roles.contains(&Role::Registry) && context.own_registry {
        let registry = &context.inventory.registry;
        wanted.push(Wanted {
            protocol: "tcp",
            port: registry.port,
            purpose: "the registry's pulls",
            holders: &REGISTRY_PROCESSES,
        });
        wanted.push(Wanted {
            protocol: "tcp",
            port: registry.push_port,
            purpose: "the registry's pushes",
            holders: &REGISTRY_PROCESSES,
        });
    }
    for want in wanted {
        let holders: Vec<&str> = probe
            .listening
            .iter()
            .filter(|l| l.protocol == want.protocol && l.port == want.port)
            .map(|l| {
                if l.process.is_empty() {
                    "an unnamed process"
                } else {
                    l.process.as_str()
                }
            })
            .collect();
        let stranger = holders.iter().find(|h| !want.holders.contains(h));
        let (verdict, measured) = match (holders.first(), stranger) {
            (None, _) => (Verdict::Pass, "free".to_owned()),
            (Some(_), None) => (Verdict::Pass, format!("held by {}", holders.join(", "))),
            (Some(_), Some(other)) => (Verdict::Fail, format!("held by {other}")),
        };
        out.push(finding(
            &facts.name,
            "ports",
            verdict,
            format!("{}/{} {measured}", want.port, want.protocol),
            format!("{}/{} free for {}", want.port, want.protocol, want.purpose),
            format!(
                "stop what listens on {}/{} (`ss -lnp` names it), or move it",
                want.port, want.protocol
            ),
        ));
    }
}
