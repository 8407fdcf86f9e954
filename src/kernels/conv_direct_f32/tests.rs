//! Every ISA variant against a naive f64 reference: kernel sizes, strides, dilations,
//! asymmetric pads (larger than the kernel too), 1x1 maps, output channel counts 1..32.

use super::*;
use proptest::prelude::*;

fn reference(g: &Geometry, cout: usize, x: &[f32], w: &[f32], b: &[f32], clamp: Clamp) -> Vec<f32> {
    let mut y = vec![0.0; g.oh * g.ow * cout];
    for oy in 0..g.oh {
        for ox in 0..g.ow {
            for o in 0..cout {
                let mut acc = b[o] as f64;
                for ci in 0..g.c {
                    for ky in 0..g.kh {
                        for kx in 0..g.kw {
                            let iy = (oy * g.stride[0] + ky * g.dilation[0]) as isize - g.pad_tl[0] as isize;
                            let ix = (ox * g.stride[1] + kx * g.dilation[1]) as isize - g.pad_tl[1] as isize;
                            if iy >= 0 && ix >= 0 && (iy as usize) < g.h && (ix as usize) < g.w {
                                acc += x[(iy as usize * g.w + ix as usize) * g.c + ci] as f64
                                    * w[((o * g.c + ci) * g.kh + ky) * g.kw + kx] as f64;
                            }
                        }
                    }
                }
                y[(oy * g.ow + ox) * cout + o] = clamp.apply(acc as f32);
            }
        }
    }
    y
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn every_isa_matches_the_reference(h in 1usize..9, w in 1usize..9, c in 1usize..10, cout in 1usize..33, kh in 1usize..5, kw in 1usize..5,
                                       s in 1usize..3, d in 1usize..3, pads in proptest::array::uniform4(0usize..6), seed in any::<u64>(), relu in any::<bool>()) {
        let (Ok(oh), Ok(ow)) = (crate::ops::window_out(h, kh, s, d, pads[0], pads[2], false), crate::ops::window_out(w, kw, s, d, pads[1], pads[3], false)) else { return Ok(()) };
        let g = Geometry { h, w, c, oh, ow, kh, kw, stride: [s, s], dilation: [d, d], pad_tl: [pads[0], pads[1]] };
        let mut st = seed | 1;
        let mut r = move || { st = st.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); ((st >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0 };
        let x: Vec<f32> = (0..h * w * c).map(|_| r()).collect();
        let wt: Vec<f32> = (0..cout * c * kh * kw).map(|_| r()).collect();
        let b: Vec<f32> = (0..cout).map(|_| r()).collect();
        let clamp = if relu { Clamp { min: 0.0, max: 6.0 } } else { Clamp::NONE };
        let want = reference(&g, cout, &x, &wt, &b, clamp);
        for isa in Isa::available() {
            let k = ConvDirectF32::new(g, cout, &wt, Some(&b), clamp, isa);
            // Each ISA runs its own code (AVX-512 the AVX2 one, SDOT CPUs the NEON one).
            prop_assert_eq!(k.isa(), if isa == Isa::Avx512 { Isa::Avx2 } else { isa.without_dot() });
            let mut y = vec![f32::NAN; oh * ow * cout];
            k.run(&x, &mut y);
            for (i, (a, e)) in y.iter().zip(&want).enumerate() {
                prop_assert!((a - e).abs() <= 1e-5 * (1.0 + e.abs()), "{:?} [{}] {} vs {}", k.isa(), i, a, e);
            }
        }
    }
}

/// Runs every ISA on geometry `g` with `cout` outputs and deterministic operands, against
/// the reference; `variant(isa)` is the kernel variant that ISA must take, if it matters.
fn check_every_isa(g: Geometry, cout: usize, variant: impl Fn(Isa) -> Option<&'static str>) {
    let v = |n: usize, k: usize| (0..n).map(|i| ((i * k + 3) % 17) as f32 / 8.0 - 1.0).collect::<Vec<f32>>();
    let (x, wt, b) = (v(g.h * g.w * g.c, 7), v(cout * g.c * g.kh * g.kw, 5), v(cout, 3));
    let clamp = Clamp { min: -1.5, max: 6.0 };
    let want = reference(&g, cout, &x, &wt, &b, clamp);
    for isa in Isa::available() {
        let k = ConvDirectF32::new(g, cout, &wt, Some(&b), clamp, isa);
        if let Some(name) = variant(k.isa()) {
            assert_eq!(k.variant(), name, "{:?} {g:?} cout {cout}", k.isa());
        }
        let mut y = vec![f32::NAN; g.oh * g.ow * cout];
        k.run(&x, &mut y);
        for (i, (a, e)) in y.iter().zip(&want).enumerate() {
            assert!((a - e).abs() <= 1e-5 * (1.0 + e.abs()), "{:?} {g:?} cout {cout} [{i}] {a} vs {e}", k.isa());
        }
    }
}

/// The dot-product path on the shapes it exists for (a kernel row of 8·k floats, 1-4 output
/// channels), with every pixel of a 9x11 map interior or border, against the reference; each
/// ISA with a dot kernel must take it.
#[test]
fn few_output_channels_run_dot_products_on_interior_pixels() {
    for (c, kh, kw, s, cout) in [(8, 3, 3, 1, 1), (8, 3, 3, 2, 2), (4, 5, 2, 1, 4), (16, 1, 3, 1, 3), (8, 2, 1, 1, 1)] {
        let (h, w, pad) = (9, 11, [1, 1]);
        let (oh, ow) = ((h + 2 * pad[0] - kh) / s + 1, (w + 2 * pad[1] - kw) / s + 1);
        let g = Geometry { h, w, c, oh, ow, kh, kw, stride: [s, s], dilation: [1, 1], pad_tl: pad };
        check_every_isa(g, cout, |isa| {
            Some(if matches!(isa, Isa::Avx2 | Isa::Neon) { "direct+dot" } else { "direct" })
        });
    }
}

/// Rows wide enough for several multi-pixel tiles plus a remainder, for every channel-vector
/// count (1-4 vectors of 8 output channels, partial last vectors), strides and dilations,
/// against the reference.
#[test]
fn wide_rows_broadcast_several_pixels_at_a_time() {
    for (c, kh, kw, s, d, cout) in
        [(3, 3, 3, 2, 1, 16), (3, 3, 3, 1, 1, 24), (5, 3, 2, 1, 2, 7), (2, 5, 5, 1, 1, 32), (3, 3, 3, 2, 1, 13)]
    {
        let (h, w, pad) = (7, 41, [1, 2]);
        let (oh, ow) = ((h + 2 * pad[0] - d * (kh - 1) - 1) / s + 1, (w + 2 * pad[1] - d * (kw - 1) - 1) / s + 1);
        let g = Geometry { h, w, c, oh, ow, kh, kw, stride: [s, s], dilation: [d, d], pad_tl: pad };
        check_every_isa(g, cout, |_| None);
    }
}
