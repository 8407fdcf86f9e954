//! The one error type of qpose. Every message names what is wrong: the file, the node, the op,
//! the input or the shape — bad input is reported, never a panic.

use std::path::PathBuf;

/// Everything that can go wrong while loading, planning or running a model, or while
/// decoding and evaluating its outputs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    /// The file is not a well-formed model (truncated, corrupt, inconsistent).
    #[error("{file}: {msg}")]
    Model { file: String, msg: String },

    /// An ONNX node cannot be imported or planned.
    #[error("node '{node}' ({op}, opset {opset}): {msg}")]
    Node { node: String, op: String, opset: i64, msg: String },

    /// An op (or an op/attribute combination) qpose does not implement.
    #[error("unsupported op '{op}' (domain '{domain}') at node '{node}', opset {opset}{detail}")]
    Unsupported { op: String, domain: String, node: String, opset: i64, detail: String },

    /// A caller-provided input does not match what the model declares.
    #[error("input '{name}': {msg}")]
    Input { name: String, msg: String },

    /// A resource limit would be exceeded; decided before allocating.
    #[error("limit exceeded: {0}")]
    Limit(String),

    /// A configuration file or command-line option is wrong.
    #[error("config: {0}")]
    Config(String),

    /// Anything else, with a message that says what is wrong.
    #[error("{0}")]
    Invalid(String),

    /// An error with the context it happened in (outermost first when displayed).
    #[error("{context}: {source}")]
    Context { context: String, source: Box<Error> },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(msg: impl Into<String>) -> Error {
        Error::Invalid(msg.into())
    }

    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io { path: path.into(), source }
    }
}

/// Adds context to errors, in the style of `anyhow::Context`.
pub trait Context<T> {
    fn context(self, context: impl Into<String>) -> Result<T>;
    fn with_context<F: FnOnce() -> String>(self, f: F) -> Result<T>;
}

impl<T> Context<T> for Result<T> {
    fn context(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|e| Error::Context { context: context.into(), source: Box::new(e) })
    }
    fn with_context<F: FnOnce() -> String>(self, f: F) -> Result<T> {
        self.map_err(|e| Error::Context { context: f(), source: Box::new(e) })
    }
}

/// Returns early with an [`Error::Invalid`] built from a format string.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => { return Err($crate::error::Error::Invalid(format!($($arg)*))) };
}

/// Returns early with an [`Error::Invalid`] unless the condition holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => { if !$cond { $crate::bail!($($arg)*) } };
}
