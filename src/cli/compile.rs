//! `qpose compile MODEL.onnx --out MODEL.qpose`: imports and optimises an ONNX model once and
//! writes the result as a planned model, which the lean runtime loads without the importer.

use super::ModelArgs;
use crate::{Error, Result};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The ONNX model.
    model: PathBuf,
    /// The planned model to write (conventionally `.qpose`).
    #[arg(long, short = 'o', value_name = "MODEL.qpose")]
    out: PathBuf,
    #[command(flatten)]
    precision: super::PrecisionArgs,
    // --isa only caps the kernels of the check plan made here: the file is ISA-independent,
    // planned again on the CPU that loads it.
    #[command(flatten)]
    model_args: ModelArgs,
}

pub fn run(a: Args) -> Result<()> {
    let mut opts = a.model_args.options()?;
    a.precision.apply(&mut opts);
    // Planning here too checks that the file will plan wherever it is loaded.
    let model = super::common::load_model(&a.model, &opts)?;
    model.save_planned(&a.out)?;
    let size = |p: &PathBuf| std::fs::metadata(p).map(|m| m.len()).map_err(|e| Error::io(p, e));
    let q = model.quantized();
    println!(
        "{}: {} bytes ({} bytes in), {} nodes, {} int8 layers, {} emulated int8 ops",
        a.out.display(),
        size(&a.out)?,
        size(&a.model)?,
        model.graph().nodes.len(),
        q.int8_layers,
        q.emulated
    );
    Ok(())
}
