//! Every ISA variant against a naive i64 reference: kernel sizes, strides, dilations,
//! asymmetric pads, channel counts around the vector width, u8/i8 inputs, zero points.

use super::*;
use crate::kernels::requant::Output;
use proptest::prelude::*;

fn geometry() -> impl Strategy<Value = Geometry> {
    (
        1usize..9,
        1usize..9,
        1usize..50,
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

/// Runs every ISA variant on one geometry and compares with the naive reference.
fn check(g: Geometry, seed: u64, signed: bool, float_out: bool) -> Result<(), TestCaseError> {
    let mut s = seed | 1;
    let mut r = move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        s >> 33
    };
    let x: Vec<u8> = (0..g.h * g.w * g.c).map(|_| r() as u8).collect();
    let taps = g.kh * g.kw;
    let w: Vec<i32> = (0..g.c * taps).map(|_| (r() % 511) as i32 - 255).collect();
    let zx = if signed { (r() % 256) as i32 - 128 } else { (r() % 256) as i32 };
    let m = g.c;
    let out = if float_out {
        Output::F32 { lo: f32::NEG_INFINITY, hi: f32::INFINITY }
    } else {
        Output::Int8 { zero_point: (r() % 256) as i32, lo: 0, hi: 255, signed: false }
    };
    let requant = Requant::new(
        (0..m).map(|_| (r() % 2001) as i32 - 1000).collect(),
        (0..m).map(|_| (r() % 500 + 1) as f32 * 1e-5).collect(),
        vec![0.0; m],
        out,
    );
    let size = out.size();
    let mut want = vec![0u8; g.oh * g.ow * g.c * size];
    for oy in 0..g.oh {
        for ox in 0..g.ow {
            for c in 0..g.c {
                let mut acc = 0i64;
                for ky in 0..g.kh {
                    for kx in 0..g.kw {
                        let iy = (oy * g.stride[0] + ky * g.dilation[0]) as isize - g.pad_tl[0] as isize;
                        let ix = (ox * g.stride[1] + kx * g.dilation[1]) as isize - g.pad_tl[1] as isize;
                        if iy >= 0 && ix >= 0 && (iy as usize) < g.h && (ix as usize) < g.w {
                            let b = x[(iy as usize * g.w + ix as usize) * g.c + c];
                            let v = if signed { b as i8 as i64 } else { b as i64 } - zx as i64;
                            acc += v * w[c * taps + ky * g.kw + kx] as i64;
                        }
                    }
                }
                let o = ((oy * g.ow + ox) * g.c + c) * size;
                requant.store(c, &[acc as i32], &mut want[o..o + size]);
            }
        }
    }
    for isa in Isa::available() {
        let mut k = DepthwiseI8::new(g, &w, requant.clone(), zx, signed, isa);
        // The zero point is within the input type: armv7's NEON kernel takes it.
        if isa == Isa::Neon32 {
            prop_assert_eq!(k.isa(), Isa::Neon32);
        }
        // Guard bytes after the output: a kernel writing past its end changes them.
        let mut got = vec![0xA5u8; want.len() + 64];
        k.run(&x, &mut got, &mut vec![0x5A; DepthwiseI8::scratch_bytes(&g)]);
        prop_assert_eq!(&got[..want.len()], &want[..], "{:?} {:?}", k.isa(), g);
        prop_assert!(got[want.len()..].iter().all(|&b| b == 0xA5), "{:?} {:?} wrote past the output", k.isa(), g);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn every_isa_matches_the_reference(g in geometry(), seed in any::<u64>(), signed in any::<bool>(), float_out in any::<bool>()) {
        check(g, seed, signed, float_out)?;
    }
}

#[test]
fn odd_shapes_match_the_reference_on_every_isa() {
    let geometries = crate::kernels::depthwise_f32::odd_geometries_for_tests();
    assert!(geometries.iter().any(|g| g.h == 1 && g.w == 1 && g.pad_tl[0] > g.kh));
    for (i, g) in geometries.into_iter().enumerate() {
        check(g, i as u64, i % 2 == 0, i % 3 == 0).unwrap();
    }
}

/// 8-channel layers with stride 1 along x run their interior pixels in pairs on AVX2 and
/// NEON: odd and even interior widths, 3x3 and 5x5, stride 2 along y, u8/i8, int8/f32 out.
#[test]
fn eight_channel_pixel_pairs_match_the_reference() {
    for (i, (w, k, sy)) in [(7, 3, 1), (8, 3, 1), (9, 5, 2), (12, 5, 1), (3, 3, 1), (4, 3, 2)].into_iter().enumerate() {
        let (h, pad) = (6, k / 2);
        let oh = (h + 2 * pad - k) / sy + 1;
        let g = Geometry { h, w, c: 8, oh, ow: w, kh: k, kw: k, stride: [sy, 1], dilation: [1, 1], pad_tl: [pad, pad] };
        for isa in Isa::available() {
            let k = DepthwiseI8::new(
                g,
                &vec![1; 8 * k * k],
                Requant::new(vec![0; 8], vec![1.0; 8], vec![0.0; 8], Output::I32),
                0,
                false,
                isa,
            );
            assert_eq!(k.pixel_pairs.is_some(), matches!(k.isa(), Isa::Avx2 | Isa::Neon), "{:?}", k.isa());
        }
        check(g, 100 + i as u64, i % 2 == 1, i % 3 == 0).unwrap();
    }
}
