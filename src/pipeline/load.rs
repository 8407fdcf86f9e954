//! A planned model together with its pose config: the config comes from an explicit file, the
//! model's sidecar, or detection, and is checked against the model's input and outputs.

use std::path::Path;

use super::config::{sidecar_path, Layout, ModelConfig};
use crate::error::Context;
use crate::heads::TensorSpec;
use crate::tensor::DType;
use crate::{Error, Model, Result};

/// The model's single input and its outputs as config detection sees them. Errors when the
/// model does not have exactly one input (top-down pose models take one image crop).
pub fn model_specs(model: &Model) -> Result<(TensorSpec, Vec<TensorSpec>)> {
    let input = match model.inputs() {
        [p] => TensorSpec::new(p.name.clone(), &p.shape),
        ports => {
            return Err(Error::Config(format!(
                "a top-down pose model takes one image input; this one has {} ({})",
                ports.len(),
                ports.iter().map(|p| format!("'{}' {:?}", p.name, p.shape)).collect::<Vec<_>>().join(", ")
            )))
        }
    };
    let outputs = model.outputs().iter().map(|p| TensorSpec::new(p.name.clone(), &p.shape)).collect();
    Ok((input, outputs))
}

/// The pose config of `model` (loaded from `model_path`): the TOML file `config` when given,
/// else the sidecar beside the model, else the sidecar of `fallback_model` (a quantized copy
/// written elsewhere shares its float model's config), else detection. The result is
/// validated against the model's outputs and its input must be the float image tensor the
/// config describes.
pub fn config_for_model(
    model: &Model,
    model_path: &Path,
    config: Option<&Path>,
    fallback_model: Option<&Path>,
) -> Result<ModelConfig> {
    let (input, outputs) = model_specs(model)?;
    let file = config
        .map(Path::to_path_buf)
        .or_else(|| sidecar_path(model_path))
        .or_else(|| fallback_model.and_then(sidecar_path));
    let cfg = match &file {
        Some(f) => {
            let text = std::fs::read_to_string(f).map_err(|e| Error::io(f, e))?;
            ModelConfig::from_toml(&text, &input, &outputs).with_context(|| f.display().to_string())?
        }
        None => ModelConfig::detect(&input, &outputs)
            .with_context(|| format!("{} (no config given and no sidecar .toml beside it)", model_path.display()))?,
    };
    check_input(model, &cfg).with_context(|| match &file {
        Some(f) => format!("{} with config {}", model_path.display(), f.display()),
        None => model_path.display().to_string(),
    })?;
    Ok(cfg)
}

/// The model's input must be f32 and shaped as the config's input says.
pub fn check_input(model: &Model, cfg: &ModelConfig) -> Result<()> {
    let (input, _) = model_specs(model)?;
    let i = &cfg.input;
    let want = match i.layout {
        Layout::Nchw => vec![1, 3, i.height, i.width],
        Layout::Nhwc => vec![1, i.height, i.width, 3],
    };
    let dtype = model.inputs()[0].dtype;
    if input.shape != want || dtype != DType::F32 {
        return Err(Error::Config(format!(
            "model/config mismatch: the config describes a {}×{} {:?} f32 input {want:?}, the model's input '{}' is \
             {dtype} {:?}",
            i.width, i.height, i.layout, input.name, input.shape
        )));
    }
    Ok(())
}
