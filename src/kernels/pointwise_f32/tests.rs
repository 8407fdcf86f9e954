//! Every ISA with a kernel against a naive f64 reference: channel counts around the 8- and
//! 16-lane blocks, pixel counts around the 6- and 12-pixel tiles and the L1 chunk, a clamp,
//! NaN inputs, and nothing written past the `n · m` outputs.

use super::*;
use proptest::prelude::*;

fn reference(x: &[f32], w: &[f32], b: &[f32], m: usize, k: usize, n: usize, clamp: Clamp) -> Vec<f32> {
    let mut y = vec![0.0; n * m];
    for j in 0..n {
        for c in 0..m {
            let acc: f64 = b[c] as f64 + (0..k).map(|kk| x[j * k + kk] as f64 * w[c * k + kk] as f64).sum::<f64>();
            y[j * m + c] = clamp.apply_keeping_nan(acc as f32);
        }
    }
    y
}

fn check(m: usize, k: usize, n: usize, seed: u64, clamp: Clamp, nan_at: Option<usize>) -> Result<(), TestCaseError> {
    let mut st = seed | 1;
    let mut r = move || {
        st = st.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((st >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    };
    let mut x: Vec<f32> = (0..n * k).map(|_| r() * 3.0).collect();
    if let Some(i) = nan_at {
        let at = i % x.len();
        x[at] = f32::NAN;
    }
    let w: Vec<f32> = (0..m * k).map(|_| r()).collect();
    let b: Vec<f32> = (0..m).map(|_| r()).collect();
    let want = reference(&x, &w, &b, m, k, n, clamp);
    let mut planned = 0;
    for isa in Isa::available() {
        let Some(p) = PointwiseF32::new(&w, m, k, Some(&b), clamp, isa) else { continue };
        planned += 1;
        // A sentinel past the outputs must survive.
        let mut y = vec![-7.5f32; n * m + 9];
        p.run(&x, n, &mut y);
        prop_assert!(y[n * m..].iter().all(|&v| v == -7.5), "{:?} wrote past the outputs", p.isa());
        for (i, (g, e)) in y.iter().zip(&want).enumerate() {
            let same = (g.is_nan() && e.is_nan()) || (g - e).abs() <= 1e-5 * (1.0 + e.abs()) * (k as f32).sqrt();
            prop_assert!(same, "{:?} m {} k {} n {}: y[{}] = {}, want {}", p.isa(), m, k, n, i, g, e);
        }
    }
    prop_assert!(planned > 0 || !Isa::Avx2.is_available(), "AVX2 machine without a planned kernel");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn every_isa_matches_the_reference(m in 1usize..41, k in 1usize..40, n in 1usize..30, seed in any::<u64>(), relu in any::<bool>(),
                                       nan in proptest::option::of(any::<usize>())) {
        let clamp = if relu { Clamp { min: 0.0, max: 6.0 } } else { Clamp::NONE };
        check(m, k, n, seed, clamp, nan)?;
    }
}

/// Pixel counts that cross the L1 chunk of a long reduction (chunk = 16 KiB of inputs), with
/// full and partial channel blocks.
#[test]
fn chunked_pixels_match_the_reference() {
    for (m, k, n) in [(16, 300, 47), (24, 1000, 9), (8, 513, 30), (1280, 160, 36), (48, 8, 9216 / 16)] {
        check(m, k, n, 7, Clamp { min: 0.0, max: 6.0 }, None).unwrap();
    }
}

/// Taps over a bordered NHWC image, strided pixels, and one channel block per call (what a
/// transposed convolution's phase runs): every written output against a naive sum, every
/// other element of `y` untouched.
#[test]
fn taps_strided_pixels_and_block_ranges_match_the_reference() {
    let (w_img, cin, m) = (5, 3, 20);
    let taps = vec![0, cin, w_img * cin, (w_img + 1) * cin]; // a 2x2 window
    let x: Vec<f32> = (0..4 * w_img * cin).map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.25).collect();
    let k = taps.len() * cin;
    let w: Vec<f32> = (0..m * k).map(|i| ((i * 13 % 17) as f32 - 8.0) * 0.125).collect();
    let b: Vec<f32> = (0..m).map(|c| c as f32 * 0.5 - 4.0).collect();
    for isa in Isa::available() {
        let Some(p) = PointwiseF32::with_taps(&w, m, cin, taps.clone(), Some(&b), Clamp::NONE, isa) else { continue };
        assert_eq!(p.blocks(), 2);
        // 3 pixels along image row 1 from column 1, outputs every other pixel of 2·m.
        let (x0, n, y_step) = ((w_img + 1) * cin, 3, 2 * m);
        let mut y = vec![-7.5f32; n * y_step + 5];
        for blk in 0..p.blocks() {
            p.run_strided(&x, [x0, cin], n, &mut y, [5, y_step], blk..blk + 1);
        }
        for j in 0..n {
            for c in 0..m {
                let want: f32 = b[c]
                    + (0..taps.len())
                        .flat_map(|t| (0..cin).map(move |i| (t, i)))
                        .map(|(t, i)| x[x0 + j * cin + taps[t] + i] * w[c * k + t * cin + i])
                        .sum::<f32>();
                let got = y[5 + j * y_step + c];
                assert!(
                    (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
                    "{isa:?} pixel {j} channel {c}: {got} vs {want}"
                );
            }
        }
        let written = |i: usize| i >= 5 && (i - 5) % y_step < m && (i - 5) / y_step < n;
        assert!((0..y.len()).filter(|&i| !written(i)).all(|i| y[i] == -7.5), "{isa:?} wrote outside its outputs");
    }
}
