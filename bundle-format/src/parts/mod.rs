//! The diode leg: a bundle as verified data parts plus striped Reed-Solomon repair parts, a
//! signed parts manifest, an exact account of what is present, and an any-order join.

pub mod join;
pub mod manifest;
pub mod split;
pub mod status;
pub mod stream;

pub use join::join;
pub use manifest::PartsManifest;
pub use split::{SplitOptions, split};
pub use status::{PartState, PartsStatus, scan};
pub use stream::{AssembledParts, PartsStream, assemble, open_stream};
