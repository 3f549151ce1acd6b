//! Why the ledger refused a bundle: a leaf module, so the error type names it without the
//! ledger (which returns those errors) and the error module depending on each other.

/// Why a bundle was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RollbackRefused {
    #[error(
        "{name} {offered} (signer {signer}) is older than {highest}, which {place} already \
         holds: a rollback is refused. Deliver {highest} or newer, or pass --allow-downgrade \
         if you mean to roll back (the history records it)"
    )]
    Older {
        name: String,
        signer: String,
        offered: String,
        highest: String,
        place: String,
    },
    #[error(
        "{name} {offered} (signer {signer}) was delivered to {place} before, but {current} has \
         been delivered since: delivering {offered} again would roll {place} back, and is \
         refused. Deliver {current} or newer, or pass --allow-downgrade if you mean to roll \
         back (the history records it)"
    )]
    Replayed {
        name: String,
        signer: String,
        offered: String,
        current: String,
        place: String,
    },
    #[error(
        "{name} {offered} (signer {signer}) is bundle {offered_id}, but {place} already holds \
         another bundle under that version ({held_id}): the same version must be the same \
         bundle. Give the new bundle a new version, or pass --allow-downgrade to replace it"
    )]
    Replaced {
        name: String,
        signer: String,
        offered: String,
        offered_id: String,
        held_id: String,
        place: String,
    },
    #[error(
        "{name} {offered} (signer {signer}) cannot be ordered against {highest}, which {place} \
         already holds (not semver): it could be older. Use semver versions, or pass \
         --allow-downgrade if this delivery is meant"
    )]
    Unordered {
        name: String,
        signer: String,
        offered: String,
        highest: String,
        place: String,
    },
}
