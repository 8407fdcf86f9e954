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
            // Every ISA has its own code here.
            prop_assert_eq!(k.isa(), isa.without_dot());
            let mut y = vec![f32::NAN; g.oh * g.ow * g.c];
            k.run(&x, &mut y);
            for (i, (a, e)) in y.iter().zip(&want).enumerate() {
                prop_assert!((a - e).abs() <= 1e-5 * (1.0 + e.abs()), "{:?} element {}: {} vs {}", isa, i, a, e);
            }
        }
    }
}

/// The odd shapes: 1x1 and single-row maps, channel counts around every vector width
/// (1, 4, 8 and 16 lanes), pads larger than the kernel (border outputs read only padding),
/// strides and dilations. Fewer under Miri, which interprets every instruction.
pub(crate) fn odd_geometries() -> Vec<Geometry> {
    let maps: &[(usize, usize)] = if cfg!(miri) { &[(1, 1), (2, 3)] } else { &[(1, 1), (1, 5), (3, 1), (4, 4)] };
    let channels: &[usize] = if cfg!(miri) { &[1, 9, 17] } else { &[1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 33] };
    // (kernel, pads top/left/bottom/right, stride, dilation)
    let windows: &[(usize, [usize; 4], usize, usize)] = &[
        (1, [0, 0, 0, 0], 1, 1),
        (3, [1, 1, 1, 1], 1, 1),
        (1, [3, 2, 1, 4], 1, 1),
        (2, [4, 4, 4, 4], 2, 1),
        (3, [5, 0, 2, 6], 1, 2),
        (3, [4, 4, 0, 0], 3, 1),
    ];
    let mut v = Vec::new();
    for &(h, w) in maps {
        for &c in channels {
            for &(k, [pt, pl, pb, pr], s, d) in windows {
                let (Ok(oh), Ok(ow)) = (
                    crate::ops::window_out(h, k, s, d, pt, pb, false),
                    crate::ops::window_out(w, k, s, d, pl, pr, false),
                ) else {
                    continue;
                };
                v.push(Geometry { h, w, c, oh, ow, kh: k, kw: k, stride: [s, s], dilation: [d, d], pad_tl: [pt, pl] });
            }
        }
    }
    v
}

#[test]
fn odd_shapes_match_the_reference_on_every_isa() {
    let geometries = odd_geometries();
    assert!(geometries.iter().any(|g| g.h == 1 && g.w == 1 && g.pad_tl[0] > g.kh));
    for (i, g) in geometries.into_iter().enumerate() {
        let x = values(g.h * g.w * g.c, i as u64);
        let w = values(g.c * g.kh * g.kw, i as u64 ^ 1);
        let b = values(g.c, i as u64 ^ 2);
        let clamp = if i % 2 == 0 { Clamp { min: 0.0, max: 6.0 } } else { Clamp::NONE };
        let want = reference(&g, &x, &w, &b, clamp);
        for isa in Isa::available() {
            let mut k = DepthwiseF32::new(g, &w, Some(&b), clamp, isa);
            // Guard elements after the output: a kernel writing past its end changes them.
            let mut y = vec![f32::NAN; g.oh * g.ow * g.c + 16];
            k.run(&x, &mut y);
            for (j, (a, e)) in y.iter().zip(&want).enumerate() {
                assert!((a - e).abs() <= 1e-5 * (1.0 + e.abs()), "{isa:?} {g:?} element {j}: {a} vs {e}");
            }
            assert!(y[want.len()..].iter().all(|v| v.is_nan()), "{isa:?} {g:?} wrote past the output");
        }
    }
}

#[test]
fn nan_and_infinities_propagate_through_the_clamp_on_every_isa() {
    let g =
        Geometry { h: 1, w: 1, c: 19, oh: 1, ow: 1, kh: 1, kw: 1, stride: [1, 1], dilation: [1, 1], pad_tl: [0, 0] };
    let x: Vec<f32> = (0..19).map(|c| [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 2.0][c % 4]).collect();
    for clamp in [Clamp::NONE, Clamp { min: 0.0, max: 6.0 }] {
        for isa in Isa::available() {
            let mut k = DepthwiseF32::new(g, &[1.0; 19], None, clamp, isa);
            let mut y = vec![0.0; 19];
            k.run(&x, &mut y);
            for (c, &v) in y.iter().enumerate() {
                let want = [f32::NAN, clamp.max, clamp.min, 2.0][c % 4];
                assert!(v == want || (v.is_nan() && want.is_nan()), "{isa:?} {clamp:?} channel {c}: {v}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn interior_is_exactly_the_pixels_without_padded_taps(h in 1usize..12, w in 1usize..12, kh in 1usize..6, kw in 1usize..6, sy in 1usize..4, sx in 1usize..4, d in 1usize..3, pt in 0usize..4, pl in 0usize..4, pb in 0usize..4, pr in 0usize..4) {
        let (Ok(oh), Ok(ow)) = (crate::ops::window_out(h, kh, sy, d, pt, pb, false), crate::ops::window_out(w, kw, sx, d, pl, pr, false)) else { return Ok(()) };
        let g = Geometry { h, w, c: 1, oh, ow, kh, kw, stride: [sy, sx], dilation: [d, d], pad_tl: [pt, pl] };
        let (rows, cols) = g.interior();
        let mut grid = vec![None; kh * kw];
        for oy in 0..oh {
            for ox in 0..ow {
                g.tap_grid(oy, ox, &mut grid);
                prop_assert_eq!(grid.iter().all(Option::is_some), rows.contains(&oy) && cols.contains(&ox), "({}, {})", oy, ox);
            }
        }
    }
}

/// Interior rows wide enough for several multi-pixel tiles and a remainder, with 16-channel,
/// 8-channel and scalar channel blocks, strides 1 and 2, 3x3 and 5x5, against the reference.
#[test]
fn wide_interior_rows_match_the_reference_on_every_isa() {
    for (c, k, s) in [(8, 3, 1), (16, 3, 2), (24, 5, 1), (13, 3, 1), (40, 3, 2), (3, 5, 1)] {
        let (h, w) = (6, 37);
        let ow = (w + 2 - k) / s + 1;
        let oh = (h + 2 - k) / s + 1;
        let g = Geometry { h, w, c, oh, ow, kh: k, kw: k, stride: [s, s], dilation: [1, 1], pad_tl: [1, 1] };
        let (x, wt, b) = (values(h * w * c, 1), values(c * k * k, 2), values(c, 3));
        let clamp = Clamp { min: 0.0, max: 6.0 };
        let want = reference(&g, &x, &wt, &b, clamp);
        for isa in Isa::available() {
            let mut dw = DepthwiseF32::new(g, &wt, Some(&b), clamp, isa);
            let mut y = vec![f32::NAN; oh * ow * c];
            dw.run(&x, &mut y);
            for (i, (a, e)) in y.iter().zip(&want).enumerate() {
                assert!((a - e).abs() <= 1e-5 * (1.0 + e.abs()), "{isa:?} c {c} k {k} s {s} [{i}] {a} vs {e}");
            }
        }
    }
}
