//! OS packages from Debian-style repositories (issue: OS packages for node preparation). A first
//! step, not yet wired to the manifest: reading the repository's control files (`control`),
//! Debian version order (`version`), package relations (`relation`) and the dependency closure
//! of what is asked minus a baseline the nodes already have (`resolve`). Signature checks of
//! `InRelease` and the fetch come next; RPM repositories would plug in beside these modules.

pub mod control;
pub mod relation;
pub mod resolve;
pub mod version;
