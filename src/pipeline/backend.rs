//! The boundary between the top-down pipeline and an inference engine.

pub use crate::heads::OutputTensor;

/// What the top-down pipeline needs from an inference engine: run the network on one
/// preprocessed person crop and hand back its float outputs.
pub trait PoseBackend {
    /// Runs the network on one preprocessed input (layout, size and normalisation as the
    /// model config's `[input]` says; `input.len() == width·height·3`). Returns every graph
    /// output, dequantized to float, borrowed until the next call.
    fn run(&mut self, input: &[f32]) -> crate::Result<Vec<OutputTensor<'_>>>;
}

/// A planned model is a backend: its outputs must be float (QDQ models end in
/// `DequantizeLinear`).
impl PoseBackend for crate::Model {
    fn run(&mut self, input: &[f32]) -> crate::Result<Vec<OutputTensor<'_>>> {
        crate::Model::run(self, &[input])?;
        (0..self.outputs().len())
            .map(|i| {
                let port = &self.outputs()[i];
                let data = self.output(i).as_f32()?;
                Ok(OutputTensor { name: &port.name, shape: &port.shape, data })
            })
            .collect()
    }
}
