//! The systemd units ferry installs: the registry's and k3s's.

use crate::host::paths::{
    K3S_AGENT_UNIT, K3S_BINARY, K3S_CONFIG, K3S_SERVER_UNIT, REGISTRY_BINARY, REGISTRY_CONFIG,
    REGISTRY_UNIT,
};
use crate::host::unit::UnitFile;

/// The registry, confined to writing its storage directory.
pub fn registry_unit(storage: &str) -> UnitFile {
    UnitFile::new(REGISTRY_UNIT)
        .section("Unit")
        .text("Description", "ferry private OCI registry")
        .word("After", "network-online.target")
        .section("Service")
        .command("ExecStart", REGISTRY_BINARY, ["serve", REGISTRY_CONFIG])
        .word("Restart", "always")
        .word("RestartSec", "2")
        .word("LimitNOFILE", "65536")
        .word("ReadWritePaths", storage)
        .section("Install")
        .word("WantedBy", "multi-user.target")
}

/// k3s as a server or an agent, with the inventory's extra arguments passed literally.
pub fn k3s_unit(server: bool, extra_args: &[String]) -> UnitFile {
    let (name, mode) = if server {
        (K3S_SERVER_UNIT, "server")
    } else {
        (K3S_AGENT_UNIT, "agent")
    };
    let mut args = vec![
        mode.to_owned(),
        "--config".to_owned(),
        K3S_CONFIG.to_owned(),
    ];
    args.extend(extra_args.iter().cloned());
    UnitFile::new(name)
        .section("Unit")
        .text("Description", format!("k3s {mode} (ferry)"))
        .word("Wants", "network-online.target")
        .word("After", "network-online.target")
        .section("Service")
        .word("Type", "notify")
        .word("NotifyAccess", "all")
        .word("EnvironmentFile", "-/etc/default/k3s")
        .word("KillMode", "process")
        .word("Delegate", "yes")
        .word("LimitNOFILE", "1048576")
        .word("LimitNPROC", "infinity")
        .word("LimitCORE", "infinity")
        .word("TasksMax", "infinity")
        .word("TimeoutStartSec", "0")
        .word("Restart", "always")
        .word("RestartSec", "5s")
        .optional_command("ExecStartPre", "/sbin/modprobe", ["br_netfilter"])
        .optional_command("ExecStartPre", "/sbin/modprobe", ["overlay"])
        .command("ExecStart", K3S_BINARY, args)
        .section("Install")
        .word("WantedBy", "multi-user.target")
}
