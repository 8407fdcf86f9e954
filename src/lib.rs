//! qpose: an embedded-first int8 inference engine for lightweight top-down human-pose models.
//!
//! Data flows one way: ONNX file → `onnx` import → [`graph`] → [`passes`] → [`plan`] →
//! run ([`runtime`]) → [`heads`] → `pipeline` / `eval`. A [`planned`] model (`.qpose`, from
//! `qpose compile`) holds the graph after the passes: it enters at [`plan`].
//!
//! Features: `onnx` adds the ONNX importer (tract-onnx); `cli` (default, implies `onnx`) adds
//! the command line, the image pipeline, evaluation and calibration. Without them
//! (`--no-default-features`) the crate is the lean runtime: planned-model loading, plan,
//! kernels, [`runtime`] and [`heads`] — no importer, clap, image, toml or protobuf code.

#[cfg(feature = "cli")]
pub mod calibrate;
#[cfg(feature = "cli")]
pub mod cli;
pub mod error;
#[cfg(feature = "cli")]
pub mod eval;
pub mod exec;
pub mod graph;
pub mod heads;
pub mod kernels;
pub mod limits;
#[cfg(feature = "onnx")]
pub mod onnx;
pub mod ops;
pub mod passes;
#[cfg(feature = "cli")]
pub mod pipeline;
pub mod plan;
pub mod planned;
pub mod runtime;
pub mod tensor;

pub use error::{Error, Result};
pub use runtime::{Model, ModelOptions, OutputView};
