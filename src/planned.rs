//! Planned models (`.qpose` files): the graph as qpose's import and optimisation passes
//! leave it, so that a deployment loads it without the ONNX importer (`qpose compile` writes
//! them; [`crate::Model::load`] reads them).
//!
//! The file holds no plan: weight packing and kernel choice happen when it is loaded, for the
//! CPU that loads it, so one file serves every ISA (x86_64, aarch64, armv7). Layout:
//!
//! | bytes | content |
//! |---|---|
//! | 0..8 | magic `QPOSEPLN` |
//! | 8..12 | format version, u32 little-endian ([`VERSION`]) |
//! | 12.. | postcard encoding of `(QdqSummary, Graph)`: values (name, type, shape, constant data as little-endian bytes, ONNX origin), nodes (name, op with its parameters, input and output value indices), graph inputs and outputs |
//!
//! Loading trusts nothing in the file: lengths are checked against the bytes that are there
//! before anything is allocated (so decoding takes memory in proportion to the file, within
//! `max_file_bytes`; node and value counts are checked once decoded), every id and shape is checked, each node's output types and
//! shapes are inferred again and compared with what the file declares, and the resource
//! [`Limits`] of the ONNX importer apply (then planning and the `max_macs` check, as for an
//! ONNX model).

use crate::graph::Graph;
use crate::limits::{check_file_size, check_model_file, check_tensor_bytes, Limits};
use crate::passes::qdq::QdqSummary;
use crate::tensor::{extent, numel};
use crate::{Error, Result};
use std::path::Path;

/// The first bytes of every planned model.
pub const MAGIC: &[u8; 8] = b"QPOSEPLN";

/// The format version this build writes and reads. Bumped whenever the encoding of the graph
/// or of any op changes; older or newer files are refused (recompile them).
pub const VERSION: u32 = 1;

const HEADER_BYTES: usize = MAGIC.len() + 4;

thread_local! {
    /// The message of the last [`decode_error`] on this thread: postcard keeps only that a
    /// custom error happened, not its text.
    static DECODE_ERROR: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// A deserialization error saying what is wrong with the file (for `Deserialize` impls that
/// check what they read); [`from_bytes`] and [`read`] report its message.
pub(crate) fn decode_error<E: serde::de::Error>(msg: String) -> E {
    let e = E::custom(&msg);
    DECODE_ERROR.with(|d| *d.borrow_mut() = Some(msg));
    e
}

/// Whether the file at `path` starts with the planned-model magic (an error if it cannot be
/// read).
pub fn is_planned(path: &Path) -> Result<bool> {
    use std::io::Read;
    let mut head = [0u8; MAGIC.len()];
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut got = 0;
    while got < head.len() {
        match f.read(&mut head[got..]).map_err(|e| Error::io(path, e))? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got == head.len() && &head == MAGIC)
}

/// Encodes an optimised graph and what its int8 matching did as a planned model.
pub fn to_bytes(g: &Graph, summary: &QdqSummary) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(HEADER_BYTES);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    postcard::to_extend(&(summary, g), out).map_err(|e| Error::invalid(format!("cannot encode the planned model: {e}")))
}

/// Writes a planned model file (see [`to_bytes`]).
pub fn write(path: &Path, g: &Graph, summary: &QdqSummary) -> Result<()> {
    std::fs::write(path, to_bytes(g, summary)?).map_err(|e| Error::io(path, e))
}

/// Reads and checks a planned model file. Errors name the file.
pub fn read(path: &Path, limits: &Limits) -> Result<(Graph, QdqSummary)> {
    check_model_file(path, limits)?;
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode(&bytes, limits, &path.display().to_string())
}

/// Decodes and checks a planned model held in memory.
pub fn from_bytes(bytes: &[u8], limits: &Limits) -> Result<(Graph, QdqSummary)> {
    check_file_size(bytes.len() as u64, limits)?;
    decode(bytes, limits, "<bytes>")
}

fn decode(bytes: &[u8], limits: &Limits, file: &str) -> Result<(Graph, QdqSummary)> {
    let model_err = |msg: String| Error::Model { file: file.to_string(), msg };
    if bytes.len() < HEADER_BYTES || &bytes[..MAGIC.len()] != MAGIC {
        return Err(model_err("not a planned qpose model (no QPOSEPLN header)".into()));
    }
    let mut version = [0u8; 4];
    version.copy_from_slice(&bytes[MAGIC.len()..HEADER_BYTES]);
    let version = u32::from_le_bytes(version);
    if version != VERSION {
        return Err(model_err(format!(
            "planned-model format version {version}, this qpose reads version {VERSION}: compile the ONNX model again with `qpose compile`"
        )));
    }
    DECODE_ERROR.with(|d| d.borrow_mut().take());
    let ((summary, mut g), rest): ((QdqSummary, Graph), &[u8]) = postcard::take_from_bytes(&bytes[HEADER_BYTES..])
        .map_err(|e| {
            let detail = DECODE_ERROR.with(|d| d.borrow_mut().take()).unwrap_or_else(|| e.to_string());
            model_err(format!("corrupt or truncated planned model ({detail})"))
        })?;
    if !rest.is_empty() {
        return Err(model_err(format!("{} unexpected bytes after the planned model", rest.len())));
    }
    validate(&mut g, limits).map_err(|e| match e {
        Error::Limit(_) | Error::Node { .. } => Error::Context { context: file.to_string(), source: Box::new(e) },
        other => model_err(other.to_string()),
    })?;
    Ok((g, summary))
}

/// Checks everything the planner relies on and the passes would have guaranteed: ids in
/// range, each value produced once, constants matching their declared type and shape, the
/// resource limits, a sorted acyclic graph, and every node's outputs as its op infers them.
fn validate(g: &mut Graph, limits: &Limits) -> Result<()> {
    if g.nodes.len() > limits.max_nodes {
        return Err(Error::Limit(format!(
            "{} nodes, more than the limit of {} (max_nodes)",
            g.nodes.len(),
            limits.max_nodes
        )));
    }
    let nv = g.values.len();
    let ids = g.nodes.iter().flat_map(|n| n.inputs.iter().chain(&n.outputs)).chain(&g.inputs).chain(&g.outputs);
    if let Some(bad) = ids.into_iter().find(|v| v.0 >= nv) {
        crate::bail!("value index {} is out of range ({nv} values)", bad.0);
    }
    if g.outputs.is_empty() {
        crate::bail!("the graph has no outputs");
    }
    let (mut const_bytes, mut tensor_bytes) = (0usize, 0usize);
    for v in &g.values {
        if v.shape.len() > limits.max_rank {
            return Err(Error::Limit(format!(
                "value '{}' has rank {} (max_rank {})",
                v.name,
                v.shape.len(),
                limits.max_rank
            )));
        }
        let what = format!("value '{}' of shape {:?} (zero dims counted as one)", v.name, v.shape);
        check_tensor_bytes(&what, extent(&v.shape)?, v.dtype.size(), limits.max_tensor_bytes)?;
        let bytes = numel(&v.shape)? * v.dtype.size();
        tensor_bytes = tensor_bytes.saturating_add(bytes);
        if tensor_bytes > limits.max_total_tensor_bytes {
            return Err(Error::Limit(format!(
                "the graph declares more than {} bytes of tensors in total (max_total_tensor_bytes)",
                limits.max_total_tensor_bytes
            )));
        }
        if let Some(t) = &v.constant {
            if t.dtype() != v.dtype || t.shape() != v.shape.as_slice() {
                crate::bail!(
                    "constant '{}' holds {} {:?} but is declared {} {:?}",
                    v.name,
                    t.dtype(),
                    t.shape(),
                    v.dtype,
                    v.shape
                );
            }
            const_bytes = const_bytes.saturating_add(bytes);
            if const_bytes > limits.max_total_const_bytes {
                return Err(Error::Limit(format!(
                    "constants exceed {} bytes in total (max_total_const_bytes)",
                    limits.max_total_const_bytes
                )));
            }
        }
    }
    let mut produced = vec![false; nv];
    for n in &g.nodes {
        if n.outputs.is_empty() {
            crate::bail!("node '{}' has no outputs", n.name);
        }
        for o in &n.outputs {
            let v = &g.values[o.0];
            if produced[o.0] || v.is_const() {
                crate::bail!("value '{}' is written by node '{}' and by another node or the file", v.name, n.name);
            }
            produced[o.0] = true;
        }
    }
    for i in &g.inputs {
        let v = &g.values[i.0];
        if produced[i.0] || v.is_const() {
            crate::bail!("graph input '{}' is also computed or constant", v.name);
        }
    }
    if let Some(o) = g.outputs.iter().find(|o| !produced[o.0]) {
        crate::bail!("graph output '{}' is computed by no node", g.values[o.0].name);
    }
    g.sort()?;
    for n in &g.nodes {
        let facts: Vec<_> = n.inputs.iter().map(|&v| (g.value(v).dtype, g.value(v).shape.as_slice())).collect();
        let node_err = |msg: String| Error::Node { node: n.name.clone(), op: n.op.name().into(), opset: g.opset, msg };
        let inferred = n.op.infer(&facts).map_err(|e| node_err(e.to_string()))?;
        let declared: Vec<_> = n.outputs.iter().map(|&v| (g.value(v).dtype, g.value(v).shape.clone())).collect();
        if inferred != declared {
            return Err(node_err(format!("the file declares outputs {declared:?}, the op computes {inferred:?}")));
        }
    }
    Ok(())
}
