//! Where artifacts come from. This release: local OCI image layouts.

pub mod oci_layout;
