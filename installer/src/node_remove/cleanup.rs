//! What removing a node takes off its host, as k3s's own uninstall script does (docs/k3s.md,
//! "Removing a node"): the k3s units stopped and disabled, the processes k3s started (its unit
//! keeps them on stop: KillMode=process), their mounts, the network interfaces and iptables
//! rules the cluster made, and k3s's files; then, unless kept, ferry's registry trust and
//! mirrors. Every path is a fixed constant; nothing here comes from input.

use crate::error::InstallError;
use crate::host::OsFamily;
use crate::host::files::{quote, read_file, rewrite_etc_hosts};
use crate::host::paths::{
    CONTAINERD_CERTS_D, CONTAINERD_CONFIG, CONTAINERD_UNIT, ETC_HOSTS, K3S_AGENT_UNIT, K3S_BINARY,
    K3S_SERVER_UNIT, NODE_CA, unit_file,
};
use crate::host::render::WRITTEN_BY_FERRY;
use crate::host::render::etc_hosts::{has_registry_entry, without_registry_entry};
use crate::ssh::SshSession;

/// k3s's directories, as its uninstall script removes them.
pub const K3S_PATHS: &[&str] = &[
    "/etc/rancher/k3s",
    "/var/lib/rancher/k3s",
    "/var/lib/kubelet",
    "/run/k3s",
    "/run/flannel",
    "/var/lib/cni",
    "/etc/cni/net.d/10-flannel.conflist",
];

/// Stop k3s and everything it started, and remove its files.
pub async fn remove_k3s(session: &SshSession) -> Result<(), InstallError> {
    let units = format!("{} {}", quote(K3S_SERVER_UNIT), quote(K3S_AGENT_UNIT));
    let unit_files = format!(
        "{} {}",
        quote(&unit_file(K3S_SERVER_UNIT)),
        quote(&unit_file(K3S_AGENT_UNIT))
    );
    let paths: Vec<String> = K3S_PATHS.iter().map(|p| quote(p)).collect();
    let script = format!(
        "systemctl disable --now {units} >/dev/null 2>&1 || true
         rm -f {unit_files}
         systemctl daemon-reload
         systemctl reset-failed {units} >/dev/null 2>&1 || true
         # what k3s started under its data directory (containerd, shims, pods)
         for pid in $(ps -eo pid= -o args= | awk '$2 ~ /^\\/var\\/lib\\/rancher\\/k3s\\/data\\// {{print $1}}'); do
           kill -9 \"$pid\" 2>/dev/null || true
         done
         awk '$2 ~ /^(\\/run\\/k3s|\\/var\\/lib\\/kubelet|\\/var\\/lib\\/rancher\\/k3s|\\/run\\/netns\\/cni-)/ {{print $2}}' /proc/self/mounts \\
           | sort -r | while read -r mount; do umount -l \"$mount\" 2>/dev/null || true; done
         for link in cni0 flannel.1 flannel-v6.1 flannel-wg flannel-wg-v6 kube-ipvs0; do
           ip link delete \"$link\" 2>/dev/null || true
         done
         if command -v iptables-save >/dev/null 2>&1; then
           iptables-save | grep -v -E 'KUBE-|CNI-|flannel|cali-' | iptables-restore 2>/dev/null || true
         fi
         rm -rf {paths}
         rm -f {binary}",
        paths = paths.join(" "),
        binary = quote(K3S_BINARY),
    );
    session
        .check(&format!("removing k3s from {}", session.host.name), &script)
        .await?;
    Ok(())
}

/// Remove the registry CA, the hosts entry and the containerd mirrors ferry wrote.
pub async fn remove_registry_trust(session: &SshSession) -> Result<(), InstallError> {
    let mut script = format!(
        "rm -f {node_ca}
         for toml in {certs_d}/*/hosts.toml; do
           [ -f \"$toml\" ] || continue
           head -c {len} \"$toml\" | grep -qF {header} && rm -rf \"$(dirname \"$toml\")\"
         done
         true",
        node_ca = quote(NODE_CA),
        certs_d = quote(CONTAINERD_CERTS_D),
        len = WRITTEN_BY_FERRY.len(),
        header = quote(WRITTEN_BY_FERRY),
    );
    for family in [OsFamily::Debian, OsFamily::RedHat] {
        script.push_str(&format!(
            "\nif [ -f {anchor} ]; then rm -f {anchor} && {refresh} >/dev/null 2>&1; fi",
            anchor = quote(family.ca_anchor()),
            refresh = family.ca_refresh_after_removal(),
        ));
    }
    let config = read_file(session, CONTAINERD_CONFIG, 1 << 20).await?;
    let ours = config
        .as_ref()
        .is_some_and(|text| text.starts_with(WRITTEN_BY_FERRY.as_bytes()));
    if ours {
        script.push_str(&format!(
            "\nrm -f {config}; systemctl try-restart {unit} >/dev/null 2>&1 || true",
            config = quote(CONTAINERD_CONFIG),
            unit = quote(CONTAINERD_UNIT),
        ));
    }
    session
        .check(
            &format!("removing the registry trust from {}", session.host.name),
            &script,
        )
        .await?;
    let hosts = read_file(session, ETC_HOSTS, 1 << 20)
        .await?
        .unwrap_or_default();
    let hosts = String::from_utf8_lossy(&hosts);
    if has_registry_entry(&hosts) {
        rewrite_etc_hosts(session, &without_registry_entry(&hosts)).await?;
    }
    Ok(())
}
