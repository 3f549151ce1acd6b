use bundle_format::Digest;
use oci_remote::RemoteError;

/// Install failures. Each names the object, the cause and what to do next.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(transparent)]
    Bundle(#[from] bundle_format::Error),
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error(transparent)]
    Ssh(#[from] crate::ssh::SshError),
    #[error(transparent)]
    Inventory(#[from] crate::inventory::InventoryError),
    #[error(
        "preflight failed; nothing was changed:\n{}\nfix each, or let one through with \
         --ignore-preflight NAME (the history records it)",
        .0.failures().iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
    )]
    Preflight(Box<crate::preflight_report::PreflightReport>),
    #[error(
        "{} of {} hosts could not be reached and were left out; the others are done. Bring them \
         back and run install again:\n{}",
        unreachable.len(),
        total,
        unreachable.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
    )]
    Incomplete {
        unreachable: Vec<crate::unreachable::Unreachable>,
        total: usize,
    },
    #[error(
        "registry {registry} lacks {} blob(s) this delta assumes present (base: {base}); nothing \
         was pushed. Missing: {}. Install the base bundle first, or export a full bundle \
         (without --base)",
        missing.len(),
        list(missing)
    )]
    MissingBase {
        registry: String,
        base: String,
        missing: Vec<Digest>,
    },
    #[error(
        "the state directory {state_dir} does not match the installation on the hosts; nothing \
         was changed.\n{}\nThe installation there came from {origin}. Take over its state: on \
         the machine that installed it run `ferry state export -i INVENTORY -o state.age`, \
         bring the file here and run `ferry state import state.age -i INVENTORY`, then install \
         again. If this is the wrong state directory, pass --state-dir (inventory `{inventory}`).",
        differences.join("\n")
    )]
    StateDiverged {
        state_dir: String,
        inventory: String,
        differences: Vec<String>,
        origin: String,
    },
    #[error(transparent)]
    Rollback(Box<crate::rollback_refused::RollbackRefused>),
    #[error(
        "{place} is in use by {holder}, and stayed so for the {waited} s this run waited: one \
         operator at a time. Wait for that run to end (or ask its operator), then run again, or \
         wait longer with --lock-wait"
    )]
    Locked {
        place: String,
        holder: String,
        waited: u64,
    },
    #[error(transparent)]
    Other(bundle_format::Problem),
}

fn list(digests: &[Digest]) -> String {
    digests
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl InstallError {
    pub fn other(
        object: impl Into<String>,
        cause: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Self::Other(bundle_format::Problem::new(object, cause, hint))
    }

    /// A failed read of blob `digest` out of the bundle: the bundle's own verdict (corrupt,
    /// truncated) when the reader gave one, else the I/O failure.
    pub fn reading(digest: &Digest, error: std::io::Error) -> Self {
        match bundle_format::reader::unwrap_bundle_error(error) {
            Ok(bundle) => Self::Bundle(bundle),
            Err(io) => Self::other(
                format!("blob {digest}"),
                format!("cannot read it from the bundle: {io}"),
                "check the bundle file and the disk",
            ),
        }
    }

    /// The bundle error inside, if that is what failed (for exit codes).
    pub fn bundle_error(&self) -> Option<&bundle_format::Error> {
        match self {
            Self::Bundle(e) => Some(e),
            _ => None,
        }
    }
}
