//! The public entry point: load a model once (ONNX, or planned `.qpose`), run it many times.
//!
//! ```no_run
//! let mut model = qpose::Model::load("model.qpose".as_ref(), &qpose::ModelOptions::default())?;
//! let input = vec![0f32; model.inputs()[0].shape.iter().product()];
//! model.run(&[&input])?;
//! let out = model.output(0).as_f32()?;
//! # Ok::<(), qpose::Error>(())
//! ```

use crate::exec::{AlignedBuf, Memory};
use crate::graph::Graph;
use crate::limits::LoadOptions;
use crate::plan::{Plan, PlanOptions, Port};
use crate::tensor::{DType, Tensor, TensorData};
use crate::{Error, Result};
use std::path::Path;

/// How to load and plan a model.
#[derive(Clone, Debug, Default)]
pub struct ModelOptions {
    pub load: LoadOptions,
    pub passes: crate::passes::PassOptions,
    pub plan: PlanOptions,
}

/// A loaded, planned model with its run-time memory.
pub struct Model {
    graph: Graph,
    plan: Plan,
    arena: AlignedBuf,
    quantized: crate::passes::qdq::QdqSummary,
}

/// A planned model was optimised when it was compiled: options that change what the passes
/// or the importer do belong to `qpose compile`, not to loading.
fn check_planned_options(opts: &ModelOptions) -> Result<()> {
    if !opts.passes.int8 || !opts.passes.keep_float.is_empty() {
        return Err(Error::Config(
            "a planned model's precision was fixed when it was compiled: give --float or --keep-float to `qpose compile`"
                .into(),
        ));
    }
    if !opts.load.input_shapes.is_empty() {
        return Err(Error::Config(
            "a planned model's input shapes were fixed when it was compiled: give --input-shape to `qpose compile`"
                .into(),
        ));
    }
    Ok(())
}

/// A view of one output after a run.
pub struct OutputView<'a> {
    pub name: &'a str,
    pub dtype: DType,
    pub shape: &'a [usize],
    pub bytes: &'a [u8],
}

impl<'a> OutputView<'a> {
    /// The data as f32, or an error if the output has another type.
    pub fn as_f32(&self) -> Result<&'a [f32]> {
        if self.dtype != DType::F32 {
            return Err(Error::invalid(format!("output '{}' is {}, not f32", self.name, self.dtype)));
        }
        Ok(bytemuck::cast_slice(self.bytes))
    }

    /// An owned copy as a [`Tensor`].
    pub fn to_tensor(&self) -> Result<Tensor> {
        let shape = self.shape.to_vec();
        let data = match self.dtype {
            DType::F32 => TensorData::F32(bytemuck::cast_slice(self.bytes).to_vec()),
            DType::I8 => TensorData::I8(bytemuck::cast_slice(self.bytes).to_vec()),
            DType::U8 => TensorData::U8(self.bytes.to_vec()),
            DType::Bool => TensorData::Bool(self.bytes.to_vec()),
            DType::I32 => TensorData::I32(bytemuck::cast_slice(self.bytes).to_vec()),
            DType::I64 => TensorData::I64(bytemuck::cast_slice(self.bytes).to_vec()),
        };
        Tensor::new(shape, data)
    }
}

impl Model {
    /// Loads and plans a model file: a planned model (`.qpose`, recognised by its header)
    /// is planned as it is; an ONNX file is imported and optimised first (builds with the
    /// `onnx` feature only; without it, an ONNX file is an error saying how to compile it).
    pub fn load(path: &Path, opts: &ModelOptions) -> Result<Model> {
        crate::limits::check_model_file(path, &opts.load.limits)?;
        let model = if crate::planned::is_planned(path)? {
            check_planned_options(opts)
                .and_then(|()| crate::planned::read(path, &opts.load.limits))
                .and_then(|(g, summary)| Model::plan_graph(g, summary, opts))
        } else {
            Model::load_onnx(path, opts)
        };
        model.map_err(|e| match e {
            Error::Context { .. } | Error::Model { .. } | Error::Io { .. } => e,
            other => Error::Context { context: path.display().to_string(), source: Box::new(other) },
        })
    }

    #[cfg(feature = "onnx")]
    fn load_onnx(path: &Path, opts: &ModelOptions) -> Result<Model> {
        Model::from_graph(crate::onnx::load(path, &opts.load)?, opts)
    }

    #[cfg(not(feature = "onnx"))]
    fn load_onnx(path: &Path, _opts: &ModelOptions) -> Result<Model> {
        Err(Error::Model {
            file: path.display().to_string(),
            msg: "not a planned qpose model, and this build has no ONNX importer (feature `onnx`): \
                  compile the ONNX model with `qpose compile MODEL.onnx --out MODEL.qpose`"
                .into(),
        })
    }

    /// Checks and plans a planned model held in memory (the bytes of a `.qpose` file).
    pub fn from_planned_bytes(bytes: &[u8], opts: &ModelOptions) -> Result<Model> {
        check_planned_options(opts)?;
        let (g, summary) = crate::planned::from_bytes(bytes, &opts.load.limits)?;
        Model::plan_graph(g, summary, opts)
    }

    /// Optimises and plans an imported graph.
    pub fn from_graph(mut g: Graph, opts: &ModelOptions) -> Result<Model> {
        let quantized = crate::passes::optimize(&mut g, &opts.passes)?;
        Model::plan_graph(g, quantized, opts)
    }

    /// Plans an optimised graph for this CPU, within the `max_macs` limit.
    fn plan_graph(g: Graph, quantized: crate::passes::qdq::QdqSummary, opts: &ModelOptions) -> Result<Model> {
        let plan = crate::plan::plan(&g, &opts.plan)?;
        let work = plan.steps.iter().fold(0u64, |a, s| a.saturating_add(s.work));
        if work > opts.load.limits.max_macs {
            return Err(Error::Limit(format!(
                "one run would take {work} multiply-accumulates (or pooling taps), over the limit of {} (max_macs)",
                opts.load.limits.max_macs
            )));
        }
        let arena = AlignedBuf::zeroed(plan.arena_bytes);
        Ok(Model { graph: g, plan, arena, quantized })
    }

    /// The planned model (`.qpose`) of this model: its optimised graph, which
    /// [`Model::load`] plans again without importing or optimising (see [`crate::planned`]).
    pub fn to_planned_bytes(&self) -> Result<Vec<u8>> {
        crate::planned::to_bytes(&self.graph, &self.quantized)
    }

    /// Writes [`Model::to_planned_bytes`] to `path`.
    pub fn save_planned(&self, path: &Path) -> Result<()> {
        crate::planned::write(path, &self.graph, &self.quantized)
    }

    /// What the int8 matching rewrote (all zero for float models or `--float`).
    pub fn quantized(&self) -> &crate::passes::qdq::QdqSummary {
        &self.quantized
    }

    /// The optimised graph the plan was built from.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn inputs(&self) -> &[Port] {
        &self.plan.inputs
    }

    pub fn outputs(&self) -> &[Port] {
        &self.plan.outputs
    }

    /// Bytes of the activation arena (all run-time tensors and scratch).
    pub fn arena_bytes(&self) -> usize {
        self.arena.len()
    }

    /// Copies raw input bytes (native endianness, the input's type) into input `i`.
    pub fn set_input_bytes(&mut self, i: usize, bytes: &[u8]) -> Result<()> {
        let port = self.plan.inputs.get(i).ok_or_else(|| Error::invalid(format!("the model has no input {i}")))?;
        if bytes.len() != port.slot.bytes {
            return Err(Error::Input {
                name: port.name.clone(),
                msg: format!(
                    "got {} bytes, expected {} ({} of shape {:?})",
                    bytes.len(),
                    port.slot.bytes,
                    port.dtype,
                    port.shape
                ),
            });
        }
        self.arena.as_bytes_mut()[port.slot.offset..port.slot.offset + bytes.len()].copy_from_slice(bytes);
        Ok(())
    }

    /// Runs every step on inputs set with [`Model::set_input_bytes`]. Never allocates. Input
    /// memory is reused once the inputs are consumed: set them again before the next run.
    pub fn run_steps(&mut self) {
        let mem = Memory::new(&mut self.arena, &self.plan.consts);
        for s in &mut self.plan.steps {
            s.step.run(&mem);
        }
    }

    /// Runs the model on f32 inputs (one slice per model input, in order).
    pub fn run(&mut self, inputs: &[&[f32]]) -> Result<()> {
        if inputs.len() != self.plan.inputs.len() {
            return Err(Error::invalid(format!(
                "the model has {} inputs, {} given",
                self.plan.inputs.len(),
                inputs.len()
            )));
        }
        for (i, x) in inputs.iter().enumerate() {
            let port = &self.plan.inputs[i];
            if port.dtype != DType::F32 {
                return Err(Error::Input { name: port.name.clone(), msg: format!("expects {}, got f32", port.dtype) });
            }
            let want: usize = port.shape.iter().product();
            if x.len() != want {
                return Err(Error::Input {
                    name: port.name.clone(),
                    msg: format!("got {} values, expected {want} (shape {:?})", x.len(), port.shape),
                });
            }
            self.set_input_bytes(i, bytemuck::cast_slice(x))?;
        }
        self.run_steps();
        Ok(())
    }

    /// Runs the model on f32 inputs like [`Model::run`] and copies every output into the
    /// caller's buffer (one per model output, in order, each exactly the output's length).
    /// Every output must be f32. Allocates nothing.
    pub fn run_into(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) -> Result<()> {
        if outputs.len() != self.plan.outputs.len() {
            return Err(Error::invalid(format!(
                "the model has {} outputs, {} buffers given",
                self.plan.outputs.len(),
                outputs.len()
            )));
        }
        for (p, buf) in self.plan.outputs.iter().zip(outputs.iter()) {
            if p.dtype != DType::F32 {
                return Err(Error::invalid(format!("output '{}' is {}, not f32", p.name, p.dtype)));
            }
            if buf.len() * 4 != p.slot.bytes {
                return Err(Error::invalid(format!(
                    "output '{}': buffer of {} values, expected {} (shape {:?})",
                    p.name,
                    buf.len(),
                    p.slot.bytes / 4,
                    p.shape
                )));
            }
        }
        self.run(inputs)?;
        for (i, buf) in outputs.iter_mut().enumerate() {
            buf.copy_from_slice(self.output(i).as_f32()?);
        }
        Ok(())
    }

    /// Runs the model on tensors (checked against the declared types and shapes).
    pub fn run_tensors(&mut self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        self.set_inputs(inputs)?;
        self.run_steps();
        (0..self.plan.outputs.len()).map(|i| self.output(i).to_tensor()).collect()
    }

    /// Copies tensors into the model's inputs, checking types and shapes.
    fn set_inputs(&mut self, inputs: &[Tensor]) -> Result<()> {
        if inputs.len() != self.plan.inputs.len() {
            return Err(Error::invalid(format!(
                "the model has {} inputs, {} given",
                self.plan.inputs.len(),
                inputs.len()
            )));
        }
        for (i, t) in inputs.iter().enumerate() {
            let port = &self.plan.inputs[i];
            if t.dtype() != port.dtype || t.shape() != port.shape.as_slice() {
                return Err(Error::Input {
                    name: port.name.clone(),
                    msg: format!("got {} {:?}, expected {} {:?}", t.dtype(), t.shape(), port.dtype, port.shape),
                });
            }
            self.set_input_bytes(i, t.bytes())?;
        }
        Ok(())
    }

    /// Output `i` of the last run.
    pub fn output(&self, i: usize) -> OutputView<'_> {
        let p = &self.plan.outputs[i];
        OutputView {
            name: &p.name,
            dtype: p.dtype,
            shape: &p.shape,
            bytes: &self.arena.as_bytes()[p.slot.offset..p.slot.offset + p.slot.bytes],
        }
    }

    /// Runs every step like [`Model::run_steps`], handing each step's output to `visit` right
    /// after the step (before the arena reuses its memory). For diagnostics; `visit` may
    /// allocate.
    pub fn run_steps_visiting(&mut self, mut visit: impl FnMut(&crate::plan::PlannedStep, OutputView)) {
        let mem = Memory::new(&mut self.arena, &self.plan.consts);
        for s in &mut self.plan.steps {
            s.step.run(&mem);
            let bytes = mem.read::<u8>(s.slot);
            visit(s, OutputView { name: &s.node, dtype: s.dtype, shape: &s.shape, bytes });
        }
    }

    /// Runs on `inputs` and returns every step output that holds a tensor of the original
    /// model, as (ONNX tensor name, tensor in the model's own layout). For per-layer
    /// comparisons.
    pub fn run_layers(&mut self, inputs: &[Tensor]) -> Result<Vec<(String, Tensor)>> {
        self.set_inputs(inputs)?;
        let mut out = Vec::new();
        let mut failure = None;
        self.run_steps_visiting(|s, view| {
            let Some(origin) = &s.origin else { return };
            let inverse = crate::ops::transpose::Transpose { perm: origin.perm.clone() }.inverse();
            match view.to_tensor().and_then(|t| inverse.eval(&t)) {
                Ok(t) => out.push((origin.name.clone(), t)),
                Err(e) => failure = Some(e),
            }
        });
        failure.map_or(Ok(out), Err)
    }

    /// Runs each step on reference values of its inputs where `reference(onnx_name)` has one
    /// (in the model's layout; other inputs keep what the previous steps computed), and
    /// returns each step's output like [`Model::run_layers`]. This isolates every layer's
    /// numerics from the differences its predecessors accumulated.
    pub fn run_isolated(
        &mut self,
        inputs: &[Tensor],
        mut reference: impl FnMut(&str) -> Option<Tensor>,
    ) -> Result<Vec<(String, Tensor)>> {
        self.set_inputs(inputs)?;
        let mut out = Vec::new();
        for i in 0..self.plan.steps.len() {
            for inp in self.plan.steps[i].inputs.clone() {
                let Some(origin) = &inp.origin else { continue };
                let Some(t) = reference(&origin.name) else { continue };
                let t = crate::ops::transpose::Transpose { perm: origin.perm.clone() }.eval(&t)?;
                if t.dtype() != inp.dtype || t.shape() != inp.shape.as_slice() {
                    return Err(Error::invalid(format!(
                        "reference '{}' is {} {:?}, the step reads {} {:?}",
                        origin.name,
                        t.dtype(),
                        t.shape(),
                        inp.dtype,
                        inp.shape
                    )));
                }
                self.arena.as_bytes_mut()[inp.slot.offset..inp.slot.offset + inp.slot.bytes].copy_from_slice(t.bytes());
            }
            let mem = Memory::new(&mut self.arena, &self.plan.consts);
            let s = &mut self.plan.steps[i];
            s.step.run(&mem);
            if let Some(origin) = &s.origin {
                let view = OutputView { name: &s.node, dtype: s.dtype, shape: &s.shape, bytes: mem.read::<u8>(s.slot) };
                let inverse = crate::ops::transpose::Transpose { perm: origin.perm.clone() }.inverse();
                out.push((origin.name.clone(), inverse.eval(&view.to_tensor()?)?));
            }
        }
        Ok(out)
    }

    /// Index of the output called `name`.
    pub fn output_index(&self, name: &str) -> Option<usize> {
        self.plan.outputs.iter().position(|p| p.name == name)
    }
}

#[cfg(all(test, not(feature = "onnx")))]
mod tests {
    /// Without the importer, an ONNX file is refused with a message saying how to compile it.
    #[test]
    fn onnx_files_need_the_importer() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/zoo/mbv2_0.5x_rle_192x192_ort_u8s8.onnx");
        let e = super::Model::load(&path, &super::ModelOptions::default()).err().expect("no importer").to_string();
        assert!(e.contains("mbv2_0.5x_rle_192x192_ort_u8s8.onnx") && e.contains("qpose compile"), "{e}");
    }
}
