//! Every ISA variant against a naive reference, over random shapes, strides, dilations,
//! asymmetric pads and channel counts that are not multiples of the vector width.

use super::*;
use proptest::prelude::*;

fn reference(g: &Geometry, x: &[f32], w_chw: &[f32], bias: &[f32], clamp: Clamp) -> Vec<f32> {
    let mut y = vec![0.0; g.oh * g.ow * g.c];
    for oy in 0..g.oh {
        for ox in 0..g.ow {
            for c in 0..g.c {
                let mut acc = bias[c] as f64;
                for ky in 0..g.kh {
                    for kx in 0..g.kw {
                        let iy = (oy * g.stride[0] + ky * g.dilation[0]) as isize - g.pad_tl[0] as isize;
                        let ix = (ox * g.stride[1] + kx * g.dilation[1]) as isize - g.pad_tl[1] as isize;
                        if iy >= 0 && ix >= 0 && (iy as usize) < g.h && (ix as usize) < g.w {
                            acc += x[(iy as usize * g.w + ix as usize) * g.c + c] as f64
                                * w_chw[(c * g.kh + ky) * g.kw + kx] as f64;
                        }
                    }
                }
                y[(oy * g.ow + ox) * g.c + c] = clamp.apply(acc as f32);
            }
        }
    }
    y
}

fn geometry() -> impl Strategy<Value = Geometry> {
    (
        1usize..9,
        1usize..9,
        1usize..40,
        1usize..6,
        1usize..6,
        1usize..3,
        1usize..3,
        1usize..3,
        0usize..3,
        0usize..3,
        0usize..3,
        0usize..3,
    )
        .prop_filter_map("window fits", |(h, w, c, kh, kw, sy, sx, d, pt, pl, pb, pr)| {
            let oh = crate::ops::window_out(h, kh, sy, d, pt, pb, false).ok()?;
            let ow = crate::ops::window_out(w, kw, sx, d, pl, pr, false).ok()?;
            Some(Geometry { h, w, c, oh, ow, kh, kw, stride: [sy, sx], dilation: [d, d], pad_tl: [pt, pl] })
        })
}

fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn every_isa_matches_the_reference(g in geometry(), seed in any::<u64>(), relu6 in any::<bool>()) {
        let x = values(g.h * g.w * g.c, seed);
        let w = values(g.c * g.kh * g.kw, seed ^ 1);
        let b = values(g.c, seed ^ 2);
        let clamp = if relu6 { Clamp { min: 0.0, max: 6.0 } } else { Clamp::NONE };
        let want = reference(&g, &x, &w, &b, clamp);
        for isa in Isa::available() {
            let mut k = DepthwiseF32::new(g, &w, Some(&b), clamp, isa);
            prop_assert_eq!(k.isa(), isa);
            let mut y = vec![f32::NAN; g.oh * g.ow * g.c];
            k.run(&x, &mut y);
            for (i, (a, e)) in y.iter().zip(&want).enumerate() {
                prop_assert!((a - e).abs() <= 1e-5 * (1.0 + e.abs()), "{:?} element {}: {} vs {}", isa, i, a, e);
            }
        }
    }
}
