//! Exit codes (documented in `ferry --help` and docs/cli.md).

use std::process::ExitCode;

use bundle_format::Category;

pub const CORRUPT: u8 = 3;
pub const BAD_SIGNATURE: u8 = 4;
pub const UNSIGNED: u8 = 5;
pub const UNTRUSTED: u8 = 6;
/// An older bundle than the far side holds, or another bundle under a version it holds.
pub const ROLLBACK: u8 = 7;
pub const EXPIRED: u8 = 8;
/// The local state directory does not match the installation on the hosts.
pub const STATE_DIVERGED: u8 = 9;
/// Valid signatures by trusted keys, but fewer than the trust root's threshold.
pub const BELOW_THRESHOLD: u8 = 10;
/// Another operator's install, push, prune or node removal holds the lock.
pub const LOCKED: u8 = 11;
/// A preflight check failed (`ferry preflight`, or install before it changed anything).
pub const PREFLIGHT: u8 = 12;

pub fn category_code(category: Category) -> u8 {
    match category {
        Category::Corrupt => CORRUPT,
        Category::BadSignature => BAD_SIGNATURE,
        Category::Unsigned => UNSIGNED,
        Category::UntrustedKey => UNTRUSTED,
        Category::BelowThreshold => BELOW_THRESHOLD,
        Category::Expired => EXPIRED,
        Category::Io | Category::Usage => 1,
    }
}

pub fn category_name(category: Category) -> &'static str {
    match category {
        Category::Corrupt => "corrupt",
        Category::BadSignature => "bad-signature",
        Category::Unsigned => "unsigned",
        Category::UntrustedKey => "untrusted-key",
        Category::BelowThreshold => "below-threshold",
        Category::Expired => "expired",
        Category::Io => "io",
        Category::Usage => "usage",
    }
}

/// The bundle error inside an anyhow chain, if any.
pub fn bundle_category(error: &anyhow::Error) -> Option<Category> {
    error.chain().find_map(|cause| {
        cause
            .downcast_ref::<bundle_format::Error>()
            .map(bundle_format::Error::category)
            .or_else(|| match cause.downcast_ref::<exporter::ExportError>() {
                Some(exporter::ExportError::Bundle(e)) => Some(e.category()),
                _ => None,
            })
            .or_else(|| {
                cause
                    .downcast_ref::<installer::InstallError>()
                    .and_then(installer::InstallError::bundle_error)
                    .map(bundle_format::Error::category)
            })
    })
}

/// Install and push refusals that have their own exit codes.
fn refusal_code(error: &anyhow::Error) -> Option<u8> {
    error.chain().find_map(
        |cause| match cause.downcast_ref::<installer::InstallError>()? {
            installer::InstallError::StateDiverged { .. } => Some(STATE_DIVERGED),
            installer::InstallError::Rollback(_) => Some(ROLLBACK),
            installer::InstallError::Locked { .. } => Some(LOCKED),
            installer::InstallError::Preflight(_) => Some(PREFLIGHT),
            _ => None,
        },
    )
}

pub fn code_for(error: &anyhow::Error) -> ExitCode {
    ExitCode::from(
        refusal_code(error)
            .or_else(|| bundle_category(error).map(category_code))
            .unwrap_or(1),
    )
}
