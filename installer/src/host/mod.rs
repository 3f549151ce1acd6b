//! Everything ferry keeps on a host: where each file lives ([`paths`]), how each is rendered
//! from typed values by a real serializer ([`render`], [`unit`]), how it is written only when
//! its content differs ([`files`]), and what install learns of a host before it changes
//! anything ([`facts`], [`os`]). No other module names a remote path or builds a host file.

pub mod facts;
pub mod files;
pub mod os;
pub mod paths;
pub mod render;
pub mod unit;

pub use files::{Changed, ensure_file, ensure_unit, quote};
pub use os::OsFamily;
