//! The network's float outputs as the head decoders see them, and an owned copy of one run's
//! outputs (flip test keeps the first run while the backend produces the second).

use crate::{bail, Result};

/// One output tensor of the network, float, as the head decoders consume it.
///
/// `data` is dense and row-major in `shape`'s order. A leading batch dimension of 1 is allowed
/// everywhere (decoders see one person at a time).
#[derive(Clone, Copy, Debug)]
pub struct OutputTensor<'a> {
    pub name: &'a str,
    pub shape: &'a [usize],
    pub data: &'a [f32],
}

impl<'a> OutputTensor<'a> {
    /// The output called `name`, or an error that lists the outputs present.
    pub fn find<'s>(outputs: &'s [OutputTensor<'a>], name: &str) -> Result<&'s OutputTensor<'a>> {
        match outputs.iter().find(|o| o.name == name) {
            Some(o) => Ok(o),
            None => {
                let present: Vec<String> = outputs.iter().map(|o| format!("'{}' {:?}", o.name, o.shape)).collect();
                bail!("network output '{name}' not found; outputs are: {}", present.join(", "))
            }
        }
    }

    /// The shape without a leading batch dimension of 1 (rank ≥ 2 only).
    fn unbatched(&self) -> &'a [usize] {
        match self.shape {
            [1, rest @ ..] if !rest.is_empty() => rest,
            s => s,
        }
    }

    /// Checks that `data` holds exactly as many values as `shape` says.
    fn check_len(&self) -> Result<()> {
        let n: usize = self.shape.iter().product();
        if n != self.data.len() {
            bail!("output '{}': shape {:?} holds {n} values but {} were given", self.name, self.shape, self.data.len());
        }
        Ok(())
    }

    /// `(rows, cols)` of an output shaped `[1, rows, cols]` or `[rows, cols]`.
    pub fn matrix(&self) -> Result<(usize, usize)> {
        self.check_len()?;
        match *self.unbatched() {
            [rows, cols] => Ok((rows, cols)),
            _ => bail!("output '{}': expected [1, K, N], got {:?}", self.name, self.shape),
        }
    }

    /// `(channels, height, width)` of an output shaped `[1, C, H, W]` or `[C, H, W]` (NCHW).
    pub fn maps(&self) -> Result<(usize, usize, usize)> {
        self.check_len()?;
        match *self.unbatched() {
            [c, h, w] => Ok((c, h, w)),
            _ => bail!("output '{}': expected [1, K, H, W], got {:?}", self.name, self.shape),
        }
    }

    /// The data, checked to hold exactly `n` values (any shape).
    pub fn values(&self, n: usize) -> Result<&'a [f32]> {
        self.check_len()?;
        if self.data.len() != n {
            bail!("output '{}' {:?}: expected {n} values, got {}", self.name, self.shape, self.data.len());
        }
        Ok(self.data)
    }
}

/// Owned copies of one run's outputs. Copying into it again reuses its allocations when the
/// outputs keep their names and sizes (the case for one model run many times).
#[derive(Debug, Default)]
pub struct OutputStore {
    names: Vec<String>,
    shapes: Vec<Vec<usize>>,
    data: Vec<Vec<f32>>,
}

impl OutputStore {
    /// Replaces the stored outputs with copies of `outputs`.
    pub fn copy_from(&mut self, outputs: &[OutputTensor<'_>]) {
        let n = outputs.len();
        self.names.resize_with(n, String::new);
        self.shapes.resize_with(n, Vec::new);
        self.data.resize_with(n, Vec::new);
        for (i, o) in outputs.iter().enumerate() {
            self.names[i].clear();
            self.names[i].push_str(o.name);
            self.shapes[i].clear();
            self.shapes[i].extend_from_slice(o.shape);
            self.data[i].clear();
            self.data[i].extend_from_slice(o.data);
        }
    }

    /// Borrowed views of the stored outputs.
    pub fn views(&self) -> Vec<OutputTensor<'_>> {
        (0..self.names.len())
            .map(|i| OutputTensor { name: &self.names[i], shape: &self.shapes[i], data: &self.data[i] })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_accepts_batch_one_and_rejects_wrong_rank() {
        let data = [0.0f32; 6];
        let t = OutputTensor { name: "x", shape: &[1, 2, 3], data: &data };
        assert_eq!(t.matrix().unwrap(), (2, 3));
        let t = OutputTensor { name: "x", shape: &[2, 3], data: &data };
        assert_eq!(t.matrix().unwrap(), (2, 3));
        let t = OutputTensor { name: "x", shape: &[1, 1, 2, 3], data: &data };
        assert!(t.matrix().is_err());
        assert_eq!(t.maps().unwrap(), (1, 2, 3));
    }

    #[test]
    fn length_mismatch_is_an_error_not_a_panic() {
        let data = [0.0f32; 5];
        let t = OutputTensor { name: "x", shape: &[1, 2, 3], data: &data };
        let msg = t.matrix().unwrap_err().to_string();
        assert!(msg.contains("'x'") && msg.contains("6 values"), "{msg}");
    }

    #[test]
    fn find_names_the_outputs_present() {
        let data = [0.0f32; 1];
        let outs = [OutputTensor { name: "a", shape: &[1], data: &data }];
        let msg = OutputTensor::find(&outs, "b").unwrap_err().to_string();
        assert!(msg.contains("'b'") && msg.contains("'a' [1]"), "{msg}");
    }

    #[test]
    fn store_round_trips_and_reuses() {
        let a = [1.0f32, 2.0];
        let b = [3.0f32];
        let mut store = OutputStore::default();
        store.copy_from(&[
            OutputTensor { name: "a", shape: &[1, 2], data: &a },
            OutputTensor { name: "flag", shape: &[1, 1], data: &b },
        ]);
        let v = store.views();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].data, &a);
        assert_eq!(v[1].shape, &[1, 1]);
        store.copy_from(&[OutputTensor { name: "c", shape: &[1], data: &b }]);
        assert_eq!(store.views().len(), 1);
        assert_eq!(store.views()[0].name, "c");
    }
}
