#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustRootError {
    #[error("the trust root is not valid: {0}; make it with `ferry trust init`")]
    Malformed(String),
    #[error(
        "trust root version {version} is signed by {valid} of the {threshold} keys of its own \
         root role it needs: sign it with `ferry trust sign --key KEY` by enough root keys"
    )]
    NotSelfSigned {
        version: u64,
        valid: usize,
        threshold: usize,
    },
    #[error(
        "trust root version {version} is signed by {valid} of the {threshold} root keys of \
         version {previous}, which trusts it only then: a root is changed by the keys of the \
         one before it (sign it with enough of version {previous}'s root keys)"
    )]
    NotSignedByPrevious {
        version: u64,
        previous: u64,
        valid: usize,
        threshold: usize,
    },
    #[error(
        "trust root version {offered} skips version {next}: this side holds version {held}, and \
         roots are accepted one version at a time; carry every root from {next} to {offered}"
    )]
    SkippedVersion { held: u64, next: u64, offered: u64 },
    #[error(
        "two different trust roots claim version {version}: the one held here and the one \
         offered; a root's keys may be compromised, stop and check with the root key holders"
    )]
    Fork { version: u64 },
    #[error(
        "trust root version {version} expired at {expires}: have the root key holders sign a \
         new version and carry it (`ferry trust expires`, `ferry trust sign`)"
    )]
    Expired { version: u64, expires: String },
    #[error(
        "trust root version {offered} is older than version {held}, which this side already \
         accepted: roots never go back"
    )]
    Older { offered: u64, held: u64 },
}
