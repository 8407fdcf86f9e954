//! qpose: an embedded-first int8 inference engine for lightweight top-down human-pose models.

pub mod error;
pub mod eval;
pub mod heads;
pub mod pipeline;

pub use error::{Error, Result};
