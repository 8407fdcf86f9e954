//! The Adam optimiser (Kingma & Ba, 2015), in f64, for the few parameters LSQ+ learns.

/// Adam state for a fixed number of parameters.
#[derive(Debug, Clone)]
pub(crate) struct Adam {
    beta1: f64,
    beta2: f64,
    eps: f64,
    first_moment: Vec<f64>,
    second_moment: Vec<f64>,
    steps: i32,
}

impl Adam {
    /// Standard hyper-parameters: β1 = 0.9, β2 = 0.999, ε = 1e-8.
    pub(crate) fn new(num_params: usize) -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            first_moment: vec![0.0; num_params],
            second_moment: vec![0.0; num_params],
            steps: 0,
        }
    }

    /// One bias-corrected update `θ -= lr * m_hat / (sqrt(v_hat) + ε)`.
    pub(crate) fn step(&mut self, params: &mut [f64], grads: &[f64], lr: f64) {
        self.steps = self.steps.saturating_add(1);
        let correction1 = 1.0 - self.beta1.powi(self.steps);
        let correction2 = 1.0 - self.beta2.powi(self.steps);
        let moments = self.first_moment.iter_mut().zip(&mut self.second_moment);
        for ((theta, &g), (m, v)) in params.iter_mut().zip(grads).zip(moments) {
            *m = self.beta1 * *m + (1.0 - self.beta1) * g;
            *v = self.beta2 * *v + (1.0 - self.beta2) * g * g;
            *theta -= lr * (*m / correction1) / ((*v / correction2).sqrt() + self.eps);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_moves_by_lr_against_the_gradient_sign() {
        // After one step m_hat = g and v_hat = g^2, so the update is lr * g / (|g| + eps).
        let mut adam = Adam::new(2);
        let mut p = [1.0, -1.0];
        adam.step(&mut p, &[3.0, -0.5], 0.1);
        assert!((p[0] - 0.9).abs() < 1e-8);
        assert!((p[1] - -0.9).abs() < 1e-8);
    }

    #[test]
    fn minimises_a_quadratic() {
        // f(θ) = (θ0 - 3)^2 + 10 (θ1 + 1)^2.
        let mut adam = Adam::new(2);
        let mut p = [0.0, 0.0];
        for _ in 0..2000 {
            let g = [2.0 * (p[0] - 3.0), 20.0 * (p[1] + 1.0)];
            adam.step(&mut p, &g, 0.05);
        }
        assert!((p[0] - 3.0).abs() < 1e-3 && (p[1] + 1.0).abs() < 1e-3, "{p:?}");
        // Zero gradients do not move anything.
        let mut q = [0.5];
        let mut still = Adam::new(1);
        still.step(&mut q, &[0.0], 1.0);
        assert_eq!(q, [0.5]);
    }
}
