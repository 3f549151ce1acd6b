//! OS packages from signed Debian-style repositories: the repository's signature on its Release
//! (`signature`, `release`), its package lists checked against it (`repository`), control files
//! (`control`), package relations (`relation`) and the dependency closure of what is asked minus
//! a baseline the nodes already have (`resolve`). RPM repositories (repomd.xml, GPG-signed)
//! would plug in beside these modules as another `PackageFormat`.

pub mod control;
pub mod relation;
pub mod release;
pub mod repository;
pub mod resolve;
pub mod signature;
