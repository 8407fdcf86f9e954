//! `qpose run MODEL --input [NAME=]FILE.npy ... --out DIR`

use super::ModelArgs;
use crate::tensor::npy;
use crate::{Error, Model, Result};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The ONNX model.
    model: PathBuf,
    /// An input as .npy, optionally named: `[NAME=]FILE.npy` (in model order when unnamed).
    #[arg(long = "input", short = 'i', required = true)]
    inputs: Vec<String>,
    /// Directory receiving one `NAME.npy` per output (created if missing).
    #[arg(long, short = 'o')]
    out: PathBuf,
    /// Also write every intermediate tensor of the model (ONNX names and layout) into DIR.
    #[arg(long, value_name = "DIR")]
    dump: Option<PathBuf>,
    /// With --dump: run every layer on reference values of its inputs, read from REF (a
    /// directory with index.json mapping tensor names to .npy files), so each layer's
    /// numerics are compared in isolation.
    #[arg(long, value_name = "REF", requires = "dump")]
    isolated: Option<PathBuf>,
    #[command(flatten)]
    precision: super::PrecisionArgs,
    #[command(flatten)]
    model_args: ModelArgs,
}

pub fn run(a: Args) -> Result<()> {
    let mut opts = a.model_args.options()?;
    a.precision.apply(&mut opts);
    let mut model = Model::load(&a.model, &opts)?;
    let ports = model.inputs().to_vec();
    let mut tensors: Vec<Option<crate::tensor::Tensor>> = vec![None; ports.len()];
    for (k, spec) in a.inputs.iter().enumerate() {
        let (slot, file) = match spec.split_once('=') {
            Some((name, file)) => {
                let i = ports.iter().position(|p| p.name == name).ok_or_else(|| Error::Input {
                    name: name.to_string(),
                    msg: format!(
                        "the model has no such input (inputs: {})",
                        ports.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                })?;
                (i, file)
            }
            None => (k, spec.as_str()),
        };
        if slot >= ports.len() {
            return Err(Error::invalid(format!("{} inputs given, the model has {}", a.inputs.len(), ports.len())));
        }
        tensors[slot] = Some(npy::read(file.as_ref())?);
    }
    let inputs = tensors
        .into_iter()
        .zip(&ports)
        .map(|(t, p)| t.ok_or_else(|| Error::Input { name: p.name.clone(), msg: "no file given".into() }))
        .collect::<Result<Vec<_>>>()?;
    let outputs = model.run_tensors(&inputs)?;
    std::fs::create_dir_all(&a.out).map_err(|e| Error::io(&a.out, e))?;
    for (p, t) in model.outputs().iter().zip(outputs) {
        let path = a.out.join(format!("{}.npy", file_stem(&p.name)));
        npy::write(&path, &t)?;
        println!("{} {:?} {} -> {}", p.name, t.shape(), t.dtype(), path.display());
    }
    if let Some(dir) = &a.dump {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let layers = match &a.isolated {
            None => model.run_layers(&inputs)?,
            Some(refdir) => {
                let index_path = refdir.join("index.json");
                let text = std::fs::read_to_string(&index_path).map_err(|e| Error::io(&index_path, e))?;
                let index: std::collections::HashMap<String, String> = serde_json::from_str(&text)
                    .map_err(|e| Error::invalid(format!("{}: {e}", index_path.display())))?;
                model.run_isolated(&inputs, |name| index.get(name).and_then(|f| npy::read(&refdir.join(f)).ok()))?
            }
        };
        let mut index = serde_json::Map::new();
        for (name, t) in &layers {
            let file = format!("{}.npy", file_stem(name));
            npy::write(&dir.join(&file), t)?;
            index.insert(name.clone(), serde_json::Value::String(file));
        }
        let index_path = dir.join("index.json");
        std::fs::write(&index_path, serde_json::to_string_pretty(&index).unwrap_or_default())
            .map_err(|e| Error::io(&index_path, e))?;
        println!("{} intermediate tensors -> {} (index.json maps tensor names to files)", layers.len(), dir.display());
    }
    Ok(())
}

/// A file name for a tensor name: anything but letters, digits and `._-` becomes `_`; long
/// names are cut and made unique with a hash of the full name.
pub fn file_stem(name: &str) -> String {
    let safe: String = name.chars().map(|c| if c.is_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
    if safe.len() <= 100 {
        return safe;
    }
    // FNV-1a, enough to tell long names apart.
    let hash = name.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3));
    format!("{}_{hash:016x}", &safe[..80])
}
