//! The running cluster as ferry sees it: k3s versions (the bundle's and each node's), the
//! kubectl calls install and `ferry node remove` make through a server, and drift between the
//! inventory and the cluster.

pub mod drift;
pub mod kubectl;
pub mod version;
