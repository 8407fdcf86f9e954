//! GPTQ weight rounding: Frantar et al., "GPTQ: Accurate Post-Training Quantization for
//! Generative Pre-trained Transformers", ICLR 2023, Algorithm 1 (without its lazy batching,
//! which only reorders the same arithmetic).
//!
//! Rounding each weight to its nearest grid point minimises the weights' own error, not the
//! layer's. GPTQ quantizes the weights `W` (`[rows, K]`, one row per output channel) one
//! input column at a time and moves each column's rounding error onto the columns not yet
//! quantized, so that the expected output error
//!
//! ```text
//! E[‖(Ŵ − W) x‖²] = tr((Ŵ − W) H (Ŵ − W)ᵀ),   H = E[x xᵀ]
//! ```
//!
//! grows least. `x` are the layer's input rows (im2col rows of a convolution) and `H` their
//! second moment ([`SecondMoment`]). With `U` the upper Cholesky factor of `H⁻¹`
//! (`H⁻¹ = Uᵀ U`):
//!
//! ```text
//! for k in 0..K:
//!     ŵ[:, k] = Q(w[:, k])                   (each row's own scale, fixed beforehand)
//!     e       = (w[:, k] − ŵ[:, k]) / U[k, k]
//!     w[:, j] −= e · U[k, j]                 for every j > k
//! ```
//!
//! `H` is damped on its diagonal, `H_ii += damping · H_ii` (1 % by default; the paper adds
//! 1 % of the mean diagonal, which is not invariant to one input's scale, and a bias column
//! against a constant input has a scale of its own), so that it is positive definite when
//! there are fewer calibration rows than `K`; an input that is always zero gets 1 % of the
//! mean diagonal. With uncorrelated inputs (`H` diagonal) `U` is diagonal and GPTQ is
//! nearest rounding. Arithmetic is f64; the result depends only on the inputs.
//!
//! A bias is a weight column against a constant-1 input that is not rounded (`free_tail`):
//! it takes the error carried onto it, which makes bias correction part of the rounding.

use crate::error::{ensure_finite, ensure_len, invalid, Result};
use crate::QuantParams;

/// Largest row length `K` accepted: `H` takes `K²` f64 while rounding (128 MiB at 4096).
pub const MAX_K: usize = 4096;

/// Default diagonal damping, relative to the mean of `H`'s diagonal.
pub const DEFAULT_DAMPING: f64 = 0.01;

/// The running sum of `x xᵀ` over input rows `x` of length `k` (upper triangle, f64).
#[derive(Clone, Debug)]
pub struct SecondMoment {
    k: usize,
    /// Row-major upper triangle: row `i` holds columns `i..k`.
    upper: Vec<f64>,
    rows: usize,
}

impl SecondMoment {
    /// An empty sum for rows of length `k` (`1..=MAX_K`).
    pub fn new(k: usize) -> Result<Self> {
        if k == 0 || k > MAX_K {
            return Err(invalid("k", format!("row length {k} outside 1..={MAX_K}")));
        }
        Ok(SecondMoment { k, upper: vec![0.0; k * (k + 1) / 2], rows: 0 })
    }

    /// Adds the rows of `x` (`[n, k]` row-major).
    pub fn add_rows(&mut self, x: &[f32]) -> Result<()> {
        if x.len() % self.k != 0 {
            return Err(invalid("x", format!("{} values are not whole rows of {}", x.len(), self.k)));
        }
        ensure_finite("input rows", x)?;
        let k = self.k;
        for row in x.chunks_exact(k) {
            let mut at = 0;
            for (i, &xi) in row.iter().enumerate() {
                let len = k - i;
                if xi != 0.0 {
                    let xi = f64::from(xi);
                    for (h, &xj) in self.upper[at..at + len].iter_mut().zip(&row[i..]) {
                        *h += xi * f64::from(xj);
                    }
                }
                at += len;
            }
        }
        self.rows += x.len() / k;
        Ok(())
    }

    /// `E[x xᵀ]` as a full symmetric `[k, k]` matrix (zero before any row).
    fn mean(&self) -> Vec<f64> {
        let k = self.k;
        let n = self.rows.max(1) as f64;
        let mut h = vec![0.0; k * k];
        let mut at = 0;
        for i in 0..k {
            for j in i..k {
                let v = self.upper[at] / n;
                h[i * k + j] = v;
                h[j * k + i] = v;
                at += 1;
            }
        }
        h
    }
}

/// GPTQ-rounds `weights` (`[rows, K]` row-major, `K = moment.k()`) with one set of parameters
/// per row (`params`, e.g. a per-channel scheme's channels for these rows) and returns the
/// rounded weights dequantized: every value is `params[r]`'s grid point, so quantizing them
/// again with `params[r]` is exact. The last `free_tail` columns are not rounded (a bias
/// against a constant input): they only take the error carried onto them.
pub fn gptq_round(
    weights: &[f32],
    params: &[QuantParams],
    moment: &SecondMoment,
    damping: f64,
    free_tail: usize,
) -> Result<Vec<f32>> {
    let k = moment.k;
    ensure_len("weights", params.len() * k, weights.len())?;
    ensure_finite("weights", weights)?;
    if free_tail > k {
        return Err(invalid("free_tail", format!("{free_tail} columns of {k}")));
    }
    let h = damped(moment.mean(), k, damping)?;
    let u = inverse_upper_cholesky(&h, k)?;
    let mut w: Vec<f64> = weights.iter().map(|&v| f64::from(v)).collect();
    let mut out = vec![0f32; weights.len()];
    for c in 0..k {
        let d = u[c * k + c];
        let tail = &u[c * k + c + 1..(c + 1) * k];
        for (r, p) in params.iter().enumerate() {
            let row = &mut w[r * k..(r + 1) * k];
            let q = if c < k - free_tail { p.fake_quantize(row[c] as f32) } else { row[c] as f32 };
            out[r * k + c] = q;
            let e = (row[c] - f64::from(q)) / d;
            for (wj, &uj) in row[c + 1..].iter_mut().zip(tail) {
                *wj -= e * uj;
            }
        }
    }
    Ok(out)
}

/// `h` (`[k, k]`) with `damping · H_ii` added to each diagonal entry, and `damping` times
/// the mean diagonal where an entry is 0 (an input that was always 0; all of them: the
/// identity).
fn damped(mut h: Vec<f64>, k: usize, damping: f64) -> Result<Vec<f64>> {
    if !(damping.is_finite() && damping > 0.0) {
        return Err(invalid("damping", format!("{damping} must be finite and > 0")));
    }
    let mean_diag = (0..k).map(|i| h[i * k + i]).sum::<f64>() / k as f64;
    for i in 0..k {
        let d = h[i * k + i];
        h[i * k + i] += if d > 0.0 {
            damping * d
        } else if mean_diag > 0.0 {
            damping * mean_diag
        } else {
            1.0
        };
    }
    Ok(h)
}

/// The upper triangular `U` with `H⁻¹ = Uᵀ U`, for a symmetric positive definite `H`
/// (`[k, k]`): Cholesky of `H`, inverse of the factor, Cholesky of the inverse.
fn inverse_upper_cholesky(h: &[f64], k: usize) -> Result<Vec<f64>> {
    let l = lower_cholesky(h, k)?;
    // Inverse of the lower factor, by forward substitution per column.
    let mut li = vec![0.0; k * k];
    for c in 0..k {
        li[c * k + c] = 1.0 / l[c * k + c];
        for i in c + 1..k {
            let s: f64 = (c..i).map(|m| l[i * k + m] * li[m * k + c]).sum();
            li[i * k + c] = -s / l[i * k + i];
        }
    }
    // H⁻¹ = L⁻ᵀ L⁻¹.
    let mut inv = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..=i {
            let v: f64 = (i..k).map(|m| li[m * k + i] * li[m * k + j]).sum();
            inv[i * k + j] = v;
            inv[j * k + i] = v;
        }
    }
    let m = lower_cholesky(&inv, k)?;
    let mut u = vec![0.0; k * k];
    for i in 0..k {
        for j in i..k {
            u[i * k + j] = m[j * k + i];
        }
    }
    Ok(u)
}

/// Lower Cholesky factor `L` of a symmetric positive definite `[k, k]` matrix (`A = L Lᵀ`).
fn lower_cholesky(a: &[f64], k: usize) -> Result<Vec<f64>> {
    let mut l = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..=i {
            let s: f64 = (0..j).map(|m| l[i * k + m] * l[j * k + m]).sum();
            if i == j {
                let d = a[i * k + i] - s;
                if !(d > 0.0 && d.is_finite()) {
                    return Err(invalid(
                        "moment",
                        format!("the damped second moment is not positive definite (pivot {i})"),
                    ));
                }
                l[i * k + i] = d.sqrt();
            } else {
                l[i * k + j] = (a[i * k + j] - s) / l[j * k + j];
            }
        }
    }
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::QuantScheme;

    fn grid(scale: f32) -> QuantParams {
        QuantParams::new(scale, 0, QuantScheme::I8_SYMMETRIC_NARROW).unwrap()
    }

    /// The output error `Σ_rows ((ŵ − w) · x)²` over the moment's rows.
    fn output_error(w: &[f32], q: &[f32], rows: &[f32], k: usize) -> f64 {
        rows.chunks_exact(k)
            .map(|x| {
                let e: f64 = w.iter().zip(q).zip(x).map(|((&w, &q), &x)| f64::from(q - w) * f64::from(x)).sum();
                e * e
            })
            .sum()
    }

    #[test]
    fn uncorrelated_inputs_give_nearest_rounding() {
        // Rows are the standard basis: H is diagonal, so no error is carried over.
        let k = 4;
        let mut m = SecondMoment::new(k).unwrap();
        for i in 0..k {
            let mut x = vec![0f32; k];
            x[i] = 1.0 + i as f32;
            m.add_rows(&x).unwrap();
        }
        let w = [0.26f32, -0.74, 1.49, 0.51, -3.3, 2.5, 0.0, 12.0];
        let params = [grid(0.5), grid(1.0)];
        let q = gptq_round(&w, &params, &m, DEFAULT_DAMPING, 0).unwrap();
        let nearest: Vec<f32> = w
            .chunks(k)
            .zip(&params)
            .flat_map(|(r, p)| r.iter().map(|&v| p.fake_quantize(v)).collect::<Vec<_>>())
            .collect();
        assert_eq!(q, nearest);
    }

    #[test]
    fn equal_inputs_carry_the_rounding_error_to_the_next_weight() {
        // x1 = x2 always: only w1 + w2 matters. Weights of 0.4 steps each round to 0 + 0 (the
        // sum off by 0.8 steps); GPTQ rounds w1 to 0 and carries its 0.4 onto w2, which then
        // rounds to 1 (the sum off by 0.2 steps).
        let mut m = SecondMoment::new(2).unwrap();
        m.add_rows(&[1.0, 1.0, -2.0, -2.0, 0.5, 0.5]).unwrap();
        let p = grid(0.1);
        let q = gptq_round(&[0.04, 0.04], &[p], &m, 1e-6, 0).unwrap();
        assert_eq!(q, vec![0.0, p.fake_quantize(0.1)]);
    }

    #[test]
    fn a_free_column_takes_the_carried_error_unrounded() {
        // The input is always 1, like the bias column's: w·x + b only depends on w + b. w =
        // 0.4 steps rounds to 0 and its 0.04 goes to b, which is not rounded.
        let mut m = SecondMoment::new(2).unwrap();
        m.add_rows(&[1.0, 1.0, 1.0, 1.0]).unwrap();
        let q = gptq_round(&[0.04, 0.3], &[grid(0.1)], &m, 1e-9, 1).unwrap();
        assert_eq!(q[0], 0.0);
        assert!((q[1] - 0.34).abs() < 1e-6, "{}", q[1]);
        assert!(gptq_round(&[0.04, 0.3], &[grid(0.1)], &m, 1e-9, 3).is_err());
    }

    #[test]
    fn correlated_inputs_lower_the_output_error_and_stay_on_the_grid() {
        let (k, rows) = (9, 400);
        let mut seed = 7u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((seed >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        // Neighbouring pixels of a smooth signal: strongly correlated, as a 3x3 patch's taps.
        let x: Vec<f32> = (0..rows)
            .flat_map(|_| {
                let base = next();
                (0..k).map(|_| base + 0.05 * next()).collect::<Vec<_>>()
            })
            .collect();
        let mut m = SecondMoment::new(k).unwrap();
        m.add_rows(&x).unwrap();
        // Coarse grids (weights of a few steps), as in a layer whose large weights nearly cancel.
        let w: Vec<f32> = (0..3 * k).map(|_| 0.6 * next()).collect();
        let params = [grid(0.1), grid(0.07), grid(0.13)];
        let q = gptq_round(&w, &params, &m, DEFAULT_DAMPING, 0).unwrap();
        let (mut e_gptq, mut e_near) = (0.0, 0.0);
        for ((wr, qr), p) in w.chunks(k).zip(q.chunks(k)).zip(&params) {
            for &v in qr {
                assert_eq!(p.fake_quantize(v), v, "{v} is not on the grid of scale {}", p.scale());
            }
            let nearest: Vec<f32> = wr.iter().map(|&v| p.fake_quantize(v)).collect();
            e_gptq += output_error(wr, qr, &x, k);
            e_near += output_error(wr, &nearest, &x, k);
        }
        assert!(e_gptq < 0.5 * e_near, "gptq {e_gptq} vs nearest {e_near}");
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(SecondMoment::new(0).is_err());
        assert!(SecondMoment::new(MAX_K + 1).is_err());
        let mut m = SecondMoment::new(2).unwrap();
        assert!(m.add_rows(&[1.0, 2.0, 3.0]).is_err());
        assert!(m.add_rows(&[1.0, f32::NAN]).is_err());
        assert!(gptq_round(&[1.0, 2.0, 3.0], &[grid(0.1)], &m, DEFAULT_DAMPING, 0).is_err());
        assert!(gptq_round(&[1.0, f32::INFINITY], &[grid(0.1)], &m, DEFAULT_DAMPING, 0).is_err());
        assert!(gptq_round(&[1.0, 2.0], &[grid(0.1)], &m, 0.0, 0).is_err());
        // No rows yet: H = 0, rounding falls back to nearest.
        assert_eq!(gptq_round(&[0.26, -0.74], &[grid(0.5)], &m, DEFAULT_DAMPING, 0).unwrap(), vec![0.5, -0.5]);
    }
}
