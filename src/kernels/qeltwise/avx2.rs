//! AVX2 fused int8 element-wise kernel: 8 elements per step, the same IEEE operations as the
//! scalar definition (convert, subtract, multiply, op, divide, round half even, clamp).

use super::{BinaryKind, QBinary, Quant};
use std::arch::x86_64::*;

/// Dequantizes 8 codes at `p`.
#[inline(always)]
unsafe fn load8(p: *const u8, q: Quant) -> __m256 {
    let bytes = _mm_loadl_epi64(p as *const __m128i);
    let wide = if q.signed { _mm256_cvtepi8_epi32(bytes) } else { _mm256_cvtepu8_epi32(bytes) };
    let centred = _mm256_sub_epi32(wide, _mm256_set1_epi32(q.zero_point));
    _mm256_mul_ps(_mm256_cvtepi32_ps(centred), _mm256_set1_ps(q.scale))
}

/// Processes whole groups of 8; returns how many elements it did.
#[target_feature(enable = "avx2")]
pub unsafe fn binary(op: &QBinary, a: &[u8], b: &[u8], y: &mut [u8]) -> usize {
    let n = y.len() / 8 * 8;
    let (sy, zy) = (_mm256_set1_ps(op.y.scale), _mm256_set1_ps(op.y.zero_point as f32));
    let (lo, hi) = (_mm256_set1_ps(op.lo as f32), _mm256_set1_ps(op.hi as f32));
    for i in (0..n).step_by(8) {
        let fa = load8(a.as_ptr().add(i), op.a);
        let fb = load8(b.as_ptr().add(i), op.b);
        let r = match op.kind {
            BinaryKind::Add => _mm256_add_ps(fa, fb),
            BinaryKind::Sub => _mm256_sub_ps(fa, fb),
            BinaryKind::Mul => _mm256_mul_ps(fa, fb),
        };
        store8(y.as_mut_ptr().add(i), r, op.y, sy, zy, lo, hi);
    }
    n
}

/// Quantizes 8 floats to 8 codes at `p`: divide by the scale, round half to even, add the
/// zero point, clamp to `[lo, hi]`; NaN becomes the zero point (clamped).
#[inline(always)]
unsafe fn store8(p: *mut u8, v: __m256, q: Quant, s: __m256, z: __m256, lo: __m256, hi: __m256) {
    let r = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_div_ps(v, s));
    let r = _mm256_add_ps(r, z);
    let r = _mm256_blendv_ps(r, z, _mm256_cmp_ps::<_CMP_UNORD_Q>(r, r));
    let r = _mm256_min_ps(_mm256_max_ps(r, lo), hi);
    let w = _mm256_cvtps_epi32(r);
    // 8 i32 in range: narrow to 8 bytes.
    let w = _mm_packs_epi32(_mm256_castsi256_si128(w), _mm256_extracti128_si256::<1>(w));
    let bytes = if q.signed { _mm_packs_epi16(w, w) } else { _mm_packus_epi16(w, w) };
    _mm_storel_epi64(p as *mut __m128i, bytes);
}

/// Quantizes whole groups of 8; returns how many elements it did.
#[target_feature(enable = "avx2")]
pub unsafe fn quantize(x: &[f32], q: Quant, lo: i32, hi: i32, y: &mut [u8]) -> usize {
    let n = y.len() / 8 * 8;
    let (s, z) = (_mm256_set1_ps(q.scale), _mm256_set1_ps(q.zero_point as f32));
    let (lo, hi) = (_mm256_set1_ps(lo as f32), _mm256_set1_ps(hi as f32));
    for i in (0..n).step_by(8) {
        store8(y.as_mut_ptr().add(i), _mm256_loadu_ps(x.as_ptr().add(i)), q, s, z, lo, hi);
    }
    n
}

/// Dequantizes whole groups of 8; returns how many elements it did.
#[target_feature(enable = "avx2")]
pub unsafe fn dequantize(x: &[u8], q: Quant, y: &mut [f32]) -> usize {
    let n = y.len() / 8 * 8;
    for i in (0..n).step_by(8) {
        _mm256_storeu_ps(y.as_mut_ptr().add(i), load8(x.as_ptr().add(i), q));
    }
    n
}
