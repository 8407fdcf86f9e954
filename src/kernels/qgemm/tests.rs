//! Every ISA variant of the int8 GEMM, and of the few-channel product (`qdot`, same
//! contract), against a naive i64 reference: random shapes, zero points, signedness,
//! outputs at both rails, float outputs; operands over the whole [-255, 255] or 8-bit ones
//! (s8-range weights, u8/s8 activations minus a zero point), which the dot-product variant
//! of the GEMM takes. Columns are filled one by one (`run`) and, where K needs no padding,
//! also handed over already widened (`run_columns`) and read in place as runs scattered
//! through a larger buffer (`run_gathered`, for the GEMM and the few-channel product).

use super::*;
use crate::kernels::column_runs::ColumnRuns;
use crate::kernels::requant::Output;
use proptest::prelude::*;

fn lcg(seed: u64) -> impl FnMut() -> u64 {
    let mut s = seed | 1;
    move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        s >> 33
    }
}

/// The `n` columns of `k` values of `x` (`k` even) scattered into a larger buffer: runs of
/// `len` values (whole pairs; the whole column, half of it, or 10, 6, 4 or 2 values, as the
/// seed picks among those dividing `k`), three noise values between runs, column `j`
/// starting at `j * gap + 1`. Returns the buffer, the runs' offsets, `len` and `gap`.
fn gathered_source(x: &[i16], k: usize, n: usize, seed: u64) -> (Vec<i16>, Vec<usize>, usize, usize) {
    let lens: Vec<usize> = [k, k / 2, 10, 6, 4, 2].into_iter().filter(|&l| l > 0 && l % 2 == 0 && k % l == 0).collect();
    let len = lens[(seed % lens.len() as u64) as usize];
    let row_at: Vec<usize> = (0..k / len).map(|r| r * (len + 3)).collect();
    let gap = row_at.len() * (len + 3) + 5;
    let mut r = lcg(seed ^ 0x5eed);
    let mut src: Vec<i16> = (0..n * gap + 1).map(|_| r() as i16).collect();
    for j in 0..n {
        for (run, &at) in row_at.iter().enumerate() {
            src[j * gap + 1 + at..][..len].copy_from_slice(&x[j * k + run * len..][..len]);
        }
    }
    (src, row_at, len, gap)
}

/// Runs every ISA variant on one problem and compares with the naive reference.
#[allow(clippy::too_many_arguments)]
fn check(
    m: usize,
    k: usize,
    n: usize,
    seed: u64,
    signed_out: bool,
    float_out: bool,
    narrow: bool,
    raw: bool,
    eight_bit: bool,
    contiguous: bool,
) -> Result<(), TestCaseError> {
    let mut r = lcg(seed);
    // 8-bit operands: x − zx for u8 x (zx = −lo) or s8 x (zx = −128 − lo); s8 weights.
    let x_range = if eight_bit {
        let lo = -((r() % 256) as i32);
        lo..=lo + 255
    } else {
        -255..=255
    };
    let span = (x_range.end() - x_range.start() + 1) as u64;
    let x: Vec<i16> = (0..n * k).map(|_| (*x_range.start() + (r() % span) as i32) as i16).collect();
    let wmax = if eight_bit { 128 } else { 256 };
    let w: Vec<i32> = (0..m * k).map(|_| (r() % (2 * wmax - 1)) as i32 - wmax as i32 + 1).collect();
    let bias: Vec<i32> = (0..m).map(|_| (r() % 20001) as i32 - 10000).collect();
    let mult: Vec<f32> = (0..m).map(|_| (r() % 1000 + 1) as f32 * 1e-6).collect();
    // An int32-bias layer has no float offset (which SIMD epilogues may skip adding).
    let offset: Vec<f32> =
        if seed % 4 == 1 { vec![0.0; m] } else { (0..m).map(|_| (r() % 200) as f32 * 0.37 - 37.0).collect() };
    let out = if raw {
        Output::I32
    } else if float_out {
        Output::F32 { lo: if narrow { 0.0 } else { f32::NEG_INFINITY }, hi: if narrow { 6.0 } else { f32::INFINITY } }
    } else if signed_out {
        Output::Int8 { zero_point: (r() % 50) as i32 - 25, lo: if narrow { -100 } else { -128 }, hi: 127, signed: true }
    } else {
        Output::Int8 {
            zero_point: (r() % 256) as i32,
            lo: if narrow { 20 } else { 0 },
            hi: if narrow { 200 } else { 255 },
            signed: false,
        }
    };
    let requant = Requant::new(bias.clone(), mult.clone(), offset.clone(), out);
    let size = out.size();
    // Outputs channel-contiguous, or with gaps between columns, which keep the guard value.
    let ldo = if contiguous { m } else { m + 3 };
    // Naive reference.
    let mut want = vec![0xA5u8; n * ldo * size];
    for j in 0..n {
        let accs: Vec<i32> =
            (0..m).map(|c| (0..k).map(|kk| x[j * k + kk] as i64 * w[c * k + kk] as i64).sum::<i64>() as i32).collect();
        requant.store(0, &accs, &mut want[j * ldo * size..(j * ldo + m) * size]);
    }
    for isa in Isa::available() {
        let mut g = QGemm::new(&w, m, k, x_range.clone(), requant.clone(), isa);
        if isa == Isa::NeonDot {
            // The dot-product tile takes exactly the 8-bit operands; NEON's i16 tile the rest.
            prop_assert_eq!(g.isa(), if eight_bit { Isa::NeonDot } else { Isa::Neon });
        }
        if isa == Isa::Neon32 {
            prop_assert_eq!((g.isa(), g.tile_shape()), (Isa::Neon32, (8, 4)));
        }
        // Guard bytes after the output: a kernel writing past its end changes them.
        let mut got = vec![0xA5u8; n * ldo * size + 64];
        g.run(n, |j, dst| dst.copy_from_slice(&x[j * k..(j + 1) * k]), &mut got, ldo);
        prop_assert_eq!(&got[..want.len()], &want[..], "{:?} m={} k={} n={}", g.isa(), m, k, n);
        prop_assert!(got[want.len()..].iter().all(|&b| b == 0xA5), "{:?} wrote past the output", g.isa());
        // The same columns handed over already widened, back to back (whole tiles read in
        // place, a partial last tile through the column buffer).
        if g.takes_columns() {
            let mut got = vec![0xA5u8; n * ldo * size + 64];
            g.run_columns(n, &x, &mut got, ldo);
            prop_assert_eq!(&got[..want.len()], &want[..], "run_columns {:?} m={} k={} n={}", g.isa(), m, k, n);
            prop_assert!(got[want.len()..].iter().all(|&b| b == 0xA5), "run_columns {:?} wrote past", g.isa());
        }
        // The same columns read in place from a larger buffer (see `gathered_source`).
        if g.takes_gathered() {
            let (src, row_at, len, gap) = gathered_source(&x, k, n, seed);
            let runs = ColumnRuns { row_at: &row_at, len };
            let mut got = vec![0xA5u8; n * ldo * size + 64];
            g.run_gathered(n, &src, |j| j * gap + 1, runs, &mut got, ldo);
            prop_assert_eq!(&got[..want.len()], &want[..], "run_gathered {:?} m={} k={} n={}", g.isa(), m, k, n);
            prop_assert!(got[want.len()..].iter().all(|&b| b == 0xA5), "run_gathered {:?} wrote past", g.isa());
        }
        // The few-channel kernel has the same contract: the same reference holds.
        if m <= crate::kernels::qdot::MAX_M {
            let mut d = crate::kernels::qdot::QDot::new(&w, m, k, requant.clone(), isa);
            // Each ISA runs its own code (AVX-512 the AVX2 one, SDOT CPUs the NEON one).
            let own = match isa {
                Isa::Avx512 => Isa::Avx2,
                isa => isa.without_dot(),
            };
            prop_assert_eq!(d.isa(), own);
            let mut got = vec![0xA5u8; n * ldo * size + 64];
            d.run(n, |j, dst| dst.copy_from_slice(&x[j * k..(j + 1) * k]), &mut got, ldo);
            prop_assert_eq!(&got[..want.len()], &want[..], "qdot {:?} m={} k={} n={}", d.isa(), m, k, n);
            prop_assert!(got[want.len()..].iter().all(|&b| b == 0xA5), "qdot {:?} wrote past the output", d.isa());
            if d.takes_gathered() && k % 2 == 0 {
                let (src, row_at, len, gap) = gathered_source(&x, k, n, seed);
                let runs = ColumnRuns { row_at: &row_at, len };
                let mut got = vec![0xA5u8; n * ldo * size + 64];
                d.run_gathered(n, &src, |j| j * gap + 1, runs, &mut got, ldo);
                prop_assert_eq!(&got[..want.len()], &want[..], "qdot gathered {:?} m={} k={} n={}", d.isa(), m, k, n);
                prop_assert!(got[want.len()..].iter().all(|&b| b == 0xA5), "qdot gathered {:?} wrote past", d.isa());
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn every_isa_matches_the_reference(m in 1usize..40, k in 1usize..70, n in 1usize..15, seed in any::<u64>(),
                                       signed_out in any::<bool>(), float_out in any::<bool>(), narrow in any::<bool>(), raw in any::<bool>(),
                                       eight_bit in any::<bool>()) {
        check(m, k, n, seed, signed_out, float_out, narrow, raw, eight_bit, seed % 3 == 0)?;
    }
}

/// Odd shapes: single channel, row or column; channel counts around the 16-channel tile
/// (and armv7's 8); odd K (a zero pair completes it); column counts around the 6-column
/// tile (and armv7's 4).
#[test]
fn odd_shapes_match_the_reference_on_every_isa() {
    let ms: &[usize] = if cfg!(miri) { &[1, 17] } else { &[1, 3, 4, 7, 8, 9, 15, 16, 17, 33] };
    let ks: &[usize] = if cfg!(miri) { &[1, 3] } else { &[1, 2, 3, 16, 17, 72] };
    let ns: &[usize] = if cfg!(miri) { &[1, 7] } else { &[1, 4, 5, 6, 7, 8, 13] };
    let mut i = 0u64;
    for &m in ms {
        for &k in ks {
            for &n in ns {
                i += 1;
                check(m, k, n, i, i % 2 == 0, i % 3 == 0, i % 5 == 0, i % 7 == 0, i % 4 < 2, false).unwrap();
            }
        }
    }
}

/// A single-channel product with outputs side by side (a one-map head, 3×3 over 8 channels)
/// requantizes runs of 16 outputs together: column counts around the run and the 8-column
/// block, every output type.
#[test]
fn single_channel_runs_match_the_reference_on_every_isa() {
    let ns: &[usize] = if cfg!(miri) { &[9, 17] } else { &[1, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40, 57] };
    for (i, &n) in ns.iter().enumerate() {
        for out in 0..4u64 {
            let seed = 100 + 4 * i as u64 + out;
            check(1, 72, n, seed, out == 0, out == 1, seed % 2 == 0, out == 3, seed % 3 == 0, true).unwrap();
        }
    }
}
