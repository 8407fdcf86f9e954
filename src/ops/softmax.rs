//! Softmax along one axis (opset-13 semantics; older opsets are rewritten at import).

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Softmax {
    pub axis: usize,
    /// `LogSoftmax` instead of `Softmax`.
    pub log: bool,
}

impl Softmax {
    /// Softmax of one contiguous row in place (max-subtracted for stability).
    pub fn row(&self, x: &mut [f32]) {
        let m = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if self.log {
            let ls = x.iter().map(|&v| (v - m).exp()).sum::<f32>().ln();
            for v in x.iter_mut() {
                *v = *v - m - ls;
            }
        } else {
            let mut sum = 0.0;
            for v in x.iter_mut() {
                *v = (*v - m).exp();
                sum += *v;
            }
            for v in x.iter_mut() {
                *v /= sum;
            }
        }
    }
}
