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
        let q = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_div_ps(r, sy));
        let q = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(q, zy), lo), hi);
        let v = _mm256_cvtps_epi32(q);
        // 8 i32 in range: narrow to 8 bytes.
        let w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
        let bytes = if op.y.signed { _mm_packs_epi16(w, w) } else { _mm_packus_epi16(w, w) };
        _mm_storel_epi64(y.as_mut_ptr().add(i) as *mut __m128i, bytes);
    }
    n
}
