//! The scalar sampler against a naive f64 bilinear reference, and every ISA variant against the
//! scalar one, over random images, run directions (rotations included), lengths around the
//! block and vector widths, both output layouts and runs reaching outside the image.

use super::*;
use proptest::prelude::*;

/// Pseudo-random bytes.
fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 56) as u8
        })
        .collect()
}

/// Bilinear sample in f64 at `(x, y)` clamped onto `[0, w − 1] × [0, h − 1]` (NaN → 0), the
/// sampler's documented behaviour.
fn reference_rgb(pixels: &[u8], w: usize, h: usize, x: f64, y: f64) -> [f64; 3] {
    let (x, y) = (x.max(0.0).min((w - 1) as f64), y.max(0.0).min((h - 1) as f64));
    let (x0, y0) = ((x.floor() as usize).min(w - 2), (y.floor() as usize).min(h - 2));
    let (fx, fy) = (x - x0 as f64, y - y0 as f64);
    let p = |xx: usize, yy: usize, c: usize| f64::from(pixels[(yy * w + xx) * 3 + c]);
    std::array::from_fn(|c| {
        (1.0 - fy) * ((1.0 - fx) * p(x0, y0, c) + fx * p(x0 + 1, y0, c))
            + fy * ((1.0 - fx) * p(x0, y0 + 1, c) + fx * p(x0 + 1, y0 + 1, c))
    })
}

/// Planar (offsets a plane of `len + 3` floats apart, in channel order `perm`) or
/// interleaved output, normalised raw (mean 0, std 1) or ImageNet-style.
fn store(planar: bool, perm: [usize; 3], len: usize, imagenet: bool) -> Store {
    let (pixel_stride, plane) = if planar { (1, len + 3) } else { (3, 1) };
    let (mean, inv_std) = if imagenet {
        ([123.675, 116.28, 103.53], [1.0 / 58.395, 1.0 / 57.12, 1.0 / 57.375])
    } else {
        ([0.0; 3], [1.0; 3])
    };
    Store { pixel_stride, offset: perm.map(|c| c * plane), mean, inv_std }
}

/// Output buffer for `store` and `len` pixels plus 2 spare floats, filled with NaN
/// (unwritten).
fn buffer(store: &Store, len: usize) -> Vec<f32> {
    vec![f32::NAN; store.span(len) + 2]
}

/// The floats a run of `len` pixels writes.
fn written(store: &Store, len: usize) -> Vec<usize> {
    let mut at: Vec<usize> = (0..len).flat_map(|j| store.offset.map(|o| j * store.pixel_stride + o)).collect();
    at.sort_unstable();
    at
}

const PERMS: [[usize; 3]; 2] = [[0, 1, 2], [2, 1, 0]];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Runs between two points anywhere in and around the image (so partly clamped), or with
    /// an endpoint snapped onto a pixel centre or the last row/column.
    #[test]
    fn scalar_matches_the_f64_reference_and_every_isa_the_scalar(
        w in 2usize..24, h in 2usize..24, len in 1usize..40, seed in any::<u64>(),
        ends in prop::array::uniform4(-0.3f64..1.3), snap in 0u8..4,
        planar in any::<bool>(), perm in 0usize..2, imagenet in any::<bool>(),
    ) {
        let pixels = bytes(w * h * 3, seed);
        let image = Rgb8::new(&pixels, w, h).unwrap();
        let (wl, hl) = ((w - 1) as f64, (h - 1) as f64);
        let mut p = [ends[0] * wl, ends[1] * hl, ends[2] * wl, ends[3] * hl];
        match snap {
            0 => p.iter_mut().for_each(|v| *v = v.round()),
            1 => { p[2] = wl; p[3] = hl; }
            _ => {}
        }
        let step = if len > 1 {
            [(p[2] - p[0]) / (len - 1) as f64, (p[3] - p[1]) / (len - 1) as f64]
        } else {
            [0.0, 0.0]
        };
        let run = Run { start: [p[0], p[1]], step, len };
        let st = store(planar, PERMS[perm], len, imagenet);

        let mut scalar = buffer(&st, len);
        Sampler::new(Isa::Scalar).sample(image, &run, &st, &mut scalar);
        // Exactly the run's floats are written.
        let at = written(&st, len);
        for (i, v) in scalar.iter().enumerate() {
            prop_assert_eq!(v.is_nan(), at.binary_search(&i).is_err(), "float {}", i);
        }
        // Against f64: pixel k of a block is within (3·k·|step| + 4)·2⁻²⁴ px of its position
        // (mod.rs), and k·|step| ≤ the run's length (< 36 px here): ≤ 7e-6 px, ≤ 2e-3 grey levels
        // across a 0→255 edge. The f32 weights and sum add a few ulps of 255. 1e-2 grey levels
        // covers both.
        for j in 0..len {
            let (x, y) = (run.start[0] + j as f64 * step[0], run.start[1] + j as f64 * step[1]);
            let want = reference_rgb(&pixels, w, h, x, y);
            for s in 0..3 {
                let got = f64::from(scalar[j * st.pixel_stride + st.offset[s]]);
                let want = (want[s] - f64::from(st.mean[s])) * f64::from(st.inv_std[s]);
                prop_assert!((got - want).abs() <= 1e-2 * f64::from(st.inv_std[s]), "pixel {} channel {}: {} vs {}", j, s, got, want);
            }
        }
        // SIMD variants compute the same positions and weights bit for bit; only their fused
        // multiply-adds in the 4-tap sum differ from the scalar's rounded products: ≤ 3
        // roundings of a value ≤ 255 (≈ 5e-5 grey levels), plus the normalisation rounding of
        // an output ≤ 255 (raw) or ≤ 2.7 (ImageNet). 1e-4 grey levels raw, 1e-5 normalised.
        let tolerance = if imagenet { 1e-5 } else { 1e-4 };
        for isa in Isa::available() {
            let mut out = buffer(&st, len);
            Sampler::new(isa).sample(image, &run, &st, &mut out);
            for (i, (a, b)) in out.iter().zip(&scalar).enumerate() {
                prop_assert!(a.is_nan() == b.is_nan() && (a.is_nan() || (a - b).abs() <= tolerance), "{:?} float {}: {} vs {}", isa, i, a, b);
            }
        }
    }
}

/// Non-finite and far-away positions clamp onto the image (NaN onto its first row or
/// column), never read outside it, and every variant agrees on them.
#[test]
fn degenerate_runs_clamp_onto_the_image() {
    let (w, h) = (5, 3);
    let pixels = bytes(w * h * 3, 7);
    let image = Rgb8::new(&pixels, w, h).unwrap();
    let st = store(false, [0, 1, 2], 11, false);
    let corner = |x: usize, y: usize| -> Vec<f32> { (0..3).map(|c| f32::from(pixels[(y * w + x) * 3 + c])).collect() };
    let runs = [
        (Run { start: [f64::NAN, f64::NAN], step: [1.0, 1.0], len: 11 }, Some(corner(0, 0))),
        (Run { start: [-1e30, 1e30], step: [0.0, 0.0], len: 11 }, Some(corner(0, h - 1))),
        (Run { start: [1e12, -5.0], step: [1e12, -1.0], len: 11 }, Some(corner(w - 1, 0))),
        // 0·∞ makes the first block's positions NaN, the second's +∞.
        (Run { start: [2.0, 1.0], step: [f64::INFINITY, f64::INFINITY], len: 11 }, None),
    ];
    for (run, want) in &runs {
        let mut scalar = buffer(&st, run.len);
        Sampler::new(Isa::Scalar).sample(image, run, &st, &mut scalar);
        assert!(scalar[..st.span(run.len)].iter().all(|v| (0.0..=255.0).contains(v)), "{run:?}: {scalar:?}");
        if let Some(want) = want {
            for j in 0..run.len {
                assert_eq!(&scalar[j * 3..j * 3 + 3], want.as_slice(), "{run:?} pixel {j}");
            }
        }
        for isa in Isa::available() {
            let mut out = buffer(&st, run.len);
            Sampler::new(isa).sample(image, run, &st, &mut out);
            assert_eq!(out[..st.span(run.len)], scalar[..st.span(run.len)], "{isa:?} {run:?}");
        }
    }
}

#[test]
fn images_the_sampler_cannot_take_are_refused() {
    assert!(Rgb8::new(&[0; 3], 1, 1).is_none());
    assert!(Rgb8::new(&[0; 6], 2, 1).is_none());
    assert!(Rgb8::new(&[0; 11], 2, 2).is_none());
    assert!(Rgb8::new(&[0; 12], 2, 2).is_some());
    assert!(Rgb8::new(&[], usize::MAX, 2).is_none());
}

#[test]
#[should_panic(expected = "overflows its output")]
fn a_short_output_buffer_panics() {
    let pixels = [0u8; 12];
    let image = Rgb8::new(&pixels, 2, 2).unwrap();
    let st = store(true, [0, 1, 2], 4, false);
    let run = Run { start: [0.0, 0.0], step: [0.1, 0.1], len: 4 };
    Sampler::new(Isa::Scalar).sample(image, &run, &st, &mut vec![0.0; st.span(4) - 1]);
}
