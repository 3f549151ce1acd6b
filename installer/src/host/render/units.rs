//! The systemd units ferry installs: the registry's and k3s's.

use crate::host::paths::{
    K3S_AGENT_UNIT, K3S_BINARY, K3S_CONFIG, K3S_SERVER_UNIT, REGISTRY_BINARY, REGISTRY_CONFIG,
    REGISTRY_PULL_CONFIG, REGISTRY_PULL_UNIT, REGISTRY_SYSTEM_USER, REGISTRY_UNIT,
};
use crate::host::unit::UnitFile;

/// One of the registry's two services, as [`REGISTRY_SYSTEM_USER`] in a sandbox: the whole
/// file system read-only but for the push service's storage, no home directories, its own
/// /tmp and /dev, no privilege gains, and no capabilities (a network port below 1024 gets
/// only the one to bind it).
fn registry_service(
    name: &'static str,
    description: &str,
    config: &str,
    writable: Option<&str>,
    port: u16,
) -> UnitFile {
    let capabilities: &[&str] = if port < 1024 {
        &["CAP_NET_BIND_SERVICE"]
    } else {
        &[]
    };
    let unit = UnitFile::new(name)
        .section("Unit")
        .text("Description", description)
        .word("After", "network-online.target")
        .section("Service")
        .command("ExecStart", REGISTRY_BINARY, ["serve", config])
        .word("User", REGISTRY_SYSTEM_USER)
        .word("Group", REGISTRY_SYSTEM_USER)
        .word("UMask", "0077")
        .word("Restart", "always")
        .word("RestartSec", "2")
        .word("LimitNOFILE", "65536")
        .word("NoNewPrivileges", "yes")
        .word("ProtectSystem", "strict")
        .word("ProtectHome", "yes")
        .word("PrivateTmp", "yes")
        .word("PrivateDevices", "yes")
        .word("ProtectKernelTunables", "yes")
        .word("ProtectKernelModules", "yes")
        .word("ProtectControlGroups", "yes")
        .word("RestrictSUIDSGID", "yes")
        .word("RestrictRealtime", "yes")
        .word("LockPersonality", "yes")
        .words(
            "RestrictAddressFamilies",
            ["AF_INET", "AF_INET6", "AF_UNIX"],
        )
        .words("CapabilityBoundingSet", capabilities.iter().copied())
        .words("AmbientCapabilities", capabilities.iter().copied());
    let unit = match writable {
        Some(storage) => unit.word("ReadWritePaths", storage),
        None => unit,
    };
    unit.section("Install")
        .word("WantedBy", "multi-user.target")
}

/// The push service: loopback only, the only one that may write the storage.
pub fn registry_unit(storage: &str, push_port: u16) -> UnitFile {
    registry_service(
        REGISTRY_UNIT,
        "ferry private OCI registry (push, loopback)",
        REGISTRY_CONFIG,
        Some(storage),
        push_port,
    )
}

/// The read-only pull service on the network port, over the same storage.
pub fn registry_pull_unit(port: u16) -> UnitFile {
    registry_service(
        REGISTRY_PULL_UNIT,
        "ferry private OCI registry (pull, read-only)",
        REGISTRY_PULL_CONFIG,
        None,
        port,
    )
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
