//! AVX2 + FMA bilinear run sampler: 8 pixels per vector. Each of a pixel's two taps per row is
//! fetched with one unaligned 32-bit load (3 bytes of the tap and one spare) into a lane of a
//! vector, and the channels unpacked by shifts. (Hardware gathers measured slower than these
//! loads on Zen 3, and the Gather Data Sampling microcode mitigation slows them on many Intel
//! cores.)

use super::{block_axes, BlockAxis, Rgb8, Run, Store, BLOCK};

/// Pixels per vector.
const LANES: usize = 8;
use std::arch::x86_64::*;

/// Pixels `lanes` (lane k = pixel `lanes[k]` of the block) along `axis`: image index of the
/// first tap and weight of the second, as `super::scalar::taps` computes them.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn taps(axis: &BlockAxis, lanes: __m256) -> (__m256i, __m256) {
    let p = _mm256_add_ps(_mm256_set1_ps(axis.first), _mm256_mul_ps(lanes, _mm256_set1_ps(axis.step)));
    // max_ps returns its second operand for NaN: NaN positions clamp to `lo`.
    let p = _mm256_min_ps(_mm256_max_ps(p, _mm256_set1_ps(axis.lo)), _mm256_set1_ps(axis.hi));
    let i = _mm256_min_epi32(_mm256_cvttps_epi32(_mm256_floor_ps(p)), _mm256_set1_epi32(axis.last));
    (_mm256_add_epi32(i, _mm256_set1_epi32(axis.anchor)), _mm256_sub_ps(p, _mm256_cvtepi32_ps(i)))
}

/// Lane k: the 4 bytes at `pixels + at[k] + extra`, little-endian.
///
/// # Safety
/// Every `at[k] + extra + 4` must be within the image.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn load_lanes(pixels: *const u8, at: &[i32; LANES], extra: usize) -> __m256i {
    let load = |k: usize| pixels.add(at[k] as usize + extra).cast::<i32>().read_unaligned();
    _mm256_setr_epi32(load(0), load(1), load(2), load(3), load(4), load(5), load(6), load(7))
}

/// Byte `SHIFT / 8` of every 32-bit lane, as f32.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn byte<const SHIFT: i32>(v: __m256i) -> __m256 {
    _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32::<SHIFT>(v), _mm256_set1_epi32(0xff)))
}

/// `w[0]·taps[0] + w[1]·taps[1] + w[2]·taps[2] + w[3]·taps[3]` (top-left, top-right,
/// bottom-left, bottom-right), fused multiply-adds in that order.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn bilinear(w: &[__m256; 4], taps: [__m256; 4]) -> __m256 {
    let acc = _mm256_fmadd_ps(w[1], taps[1], _mm256_mul_ps(w[0], taps[0]));
    _mm256_fmadd_ps(w[3], taps[3], _mm256_fmadd_ps(w[2], taps[2], acc))
}

/// Interleaves three vectors `v[0] = a0..a7`, `v[1] = b0..b7`, `v[2] = c0..c7` into
/// `a0 b0 c0 a1 b1 c1 … a7 b7 c7` (three vectors, in memory order).
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn interleave3(v: [__m256; 3]) -> [__m256; 3] {
    // Rotate each vector so that every lane holds the element its output position needs,
    // then pick per lane: output vector o, lane l holds element (8o + l) / 3 of vector
    // (8o + l) % 3.
    let a = _mm256_permutevar8x32_ps(v[0], _mm256_setr_epi32(0, 3, 6, 1, 4, 7, 2, 5));
    let b = _mm256_permutevar8x32_ps(v[1], _mm256_setr_epi32(5, 0, 3, 6, 1, 4, 7, 2));
    let c = _mm256_permutevar8x32_ps(v[2], _mm256_setr_epi32(2, 5, 0, 3, 6, 1, 4, 7));
    [
        // a b c a b c a b
        _mm256_blend_ps::<0b1001_0010>(_mm256_blend_ps::<0b0010_0100>(a, c), b),
        // c a b c a b c a
        _mm256_blend_ps::<0b0010_0100>(_mm256_blend_ps::<0b0100_1001>(a, c), b),
        // b c a b c a b c
        _mm256_blend_ps::<0b0100_1001>(_mm256_blend_ps::<0b1001_0010>(a, c), b),
    ]
}

/// See [`super::Sampler::sample`].
///
/// # Safety
/// AVX2 and FMA must be available and `out` must hold the run's span.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn sample(image: Rgb8<'_>, run: &Run, store: &Store, out: &mut [f32]) {
    let first_lanes = _mm256_setr_ps(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0);
    let (pixels, stride) = (image.pixels.as_ptr(), image.stride());
    let width = _mm256_set1_epi32(image.width as i32);
    let (three, one) = (_mm256_set1_epi32(3), _mm256_set1_ps(1.0));
    let mean = store.mean.map(|m| _mm256_set1_ps(m));
    let inv_std = store.inv_std.map(|s| _mm256_set1_ps(s));
    let interleaved = store.is_interleaved();
    for block in (0..run.len).step_by(BLOCK) {
        let [ax, ay] = block_axes(&image, run, block);
        for sub in (0..BLOCK).step_by(LANES) {
            let j = block + sub;
            if j >= run.len {
                break;
            }
            let lanes = _mm256_add_ps(first_lanes, _mm256_set1_ps(sub as f32));
            let (x0, fx) = taps(&ax, lanes);
            let (y0, fy) = taps(&ay, lanes);
            // Byte offset of each top-left tap. Reading 4 bytes at `tl` (its RGB and the next R)
            // and at `tl + 2` (B, then the right tap's RGB) stays inside the image even for the
            // bottom-right pixel, whose last byte is the image's last.
            let mut tl = [0i32; LANES];
            _mm256_storeu_si256(
                tl.as_mut_ptr().cast(),
                _mm256_mullo_epi32(_mm256_add_epi32(_mm256_mullo_epi32(y0, width), x0), three),
            );
            // SAFETY: taps() keeps x0 ≤ width − 2 and y0 ≤ height − 2, so every byte read is
            // inside the image.
            let top_l = load_lanes(pixels, &tl, 0);
            let top_r = load_lanes(pixels, &tl, 2);
            let bottom_l = load_lanes(pixels, &tl, stride);
            let bottom_r = load_lanes(pixels, &tl, stride + 2);
            let (gx, gy) = (_mm256_sub_ps(one, fx), _mm256_sub_ps(one, fy));
            let w = [_mm256_mul_ps(gx, gy), _mm256_mul_ps(fx, gy), _mm256_mul_ps(gx, fy), _mm256_mul_ps(fx, fy)];
            // Image channel c: byte c of a left load, byte c + 1 of a right one.
            let rgb = [
                bilinear(&w, [byte::<0>(top_l), byte::<8>(top_r), byte::<0>(bottom_l), byte::<8>(bottom_r)]),
                bilinear(&w, [byte::<8>(top_l), byte::<16>(top_r), byte::<8>(bottom_l), byte::<16>(bottom_r)]),
                bilinear(&w, [byte::<16>(top_l), byte::<24>(top_r), byte::<16>(bottom_l), byte::<24>(bottom_r)]),
            ];
            let v = [0, 1, 2].map(|s| _mm256_mul_ps(_mm256_sub_ps(rgb[s], mean[s]), inv_std[s]));
            let n = LANES.min(run.len - j);
            let at = out.as_mut_ptr().add(j * store.pixel_stride);
            // SAFETY (stores): pixels j..j + 8 of the run are inside its span.
            if n == LANES && store.pixel_stride == 1 {
                for (v, &o) in v.iter().zip(&store.offset) {
                    _mm256_storeu_ps(at.add(o), *v);
                }
            } else if n == LANES && interleaved {
                let mut by_offset = v;
                for (v, &o) in v.iter().zip(&store.offset) {
                    by_offset[o] = *v;
                }
                for (o, x) in interleave3(by_offset).into_iter().enumerate() {
                    _mm256_storeu_ps(at.add(o * LANES), x);
                }
            } else {
                let mut lanes_v = [[0.0f32; LANES]; 3];
                for (l, v) in lanes_v.iter_mut().zip(v) {
                    _mm256_storeu_ps(l.as_mut_ptr(), v);
                }
                store.write_lanes(out, j, &lanes_v, n);
            }
        }
    }
}
