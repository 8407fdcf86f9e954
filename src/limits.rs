//! Resource limits every model loader checks before allocating (the ONNX importer and the
//! planned-model reader alike), and the options that carry them.

use crate::{Error, Result};
use std::collections::HashMap;
use std::path::Path;

/// Resource limits, checked before allocating (each refusal is an [`Error::Limit`] naming
/// the limit). The defaults suit an edge device running lightweight pose models (the
/// largest committed model is 6 MB of weights, ~40 MB of declared tensors and ~0.2 GMAC);
/// hosts with other needs set their own.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest model file (or byte buffer) read, bytes. Checked before reading.
    pub max_file_bytes: usize,
    /// Largest single tensor (constant or activation), bytes.
    pub max_tensor_bytes: usize,
    /// Sum of all constants, bytes.
    pub max_total_const_bytes: usize,
    /// Sum of every tensor the imported graph declares (inputs, constants and every node
    /// output, before any memory reuse), bytes: bounds what planning and one run touch.
    pub max_total_tensor_bytes: usize,
    /// Most nodes in a graph.
    pub max_nodes: usize,
    /// Highest tensor rank.
    pub max_rank: usize,
    /// Most multiply-accumulates one run may do (what the planned steps declare): bounds the
    /// time a hostile file can make one inference take. Checked by [`crate::Model`] after
    /// planning, before the arena is allocated.
    pub max_macs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 1 << 30,
            max_tensor_bytes: 256 << 20,
            max_total_const_bytes: 1 << 30,
            max_total_tensor_bytes: 1 << 30,
            max_nodes: 100_000,
            max_rank: 8,
            max_macs: 50_000_000_000,
        }
    }
}

/// How to load a model.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    pub limits: Limits,
    /// Concrete shapes for inputs whose declared shape is symbolic, by input name (ONNX
    /// import only: a planned model's shapes were fixed when it was compiled).
    pub input_shapes: HashMap<String, Vec<usize>>,
}

/// Checks, before reading it, that the model at `path` is a regular file within the file
/// limit. Errors name the file.
pub(crate) fn check_model_file(path: &Path, limits: &Limits) -> Result<()> {
    let file = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::Model { file, msg: "not a regular file".into() });
    }
    check_file_size(meta.len(), limits).map_err(|e| Error::Context { context: file, source: Box::new(e) })
}

/// The file limit: a model of `len` bytes must fit in `max_file_bytes`. Checked before reading.
pub(crate) fn check_file_size(len: u64, limits: &Limits) -> Result<()> {
    if len > limits.max_file_bytes as u64 {
        return Err(Error::Limit(format!(
            "the model is {len} bytes, over the {}-byte file limit (max_file_bytes)",
            limits.max_file_bytes
        )));
    }
    Ok(())
}

/// The single-tensor limit: `elems` elements of `elem_bytes` each (a tensor's extent, see
/// [`crate::tensor::extent`]) must fit in `max_bytes` (`max_tensor_bytes`); `what` names the tensor.
pub(crate) fn check_tensor_bytes(what: &str, elems: usize, elem_bytes: usize, max_bytes: usize) -> Result<()> {
    let bytes = elems.saturating_mul(elem_bytes);
    if bytes > max_bytes {
        return Err(Error::Limit(format!(
            "{what} of {elems} elements is {bytes} bytes, over the {max_bytes}-byte tensor limit (max_tensor_bytes)"
        )));
    }
    Ok(())
}
