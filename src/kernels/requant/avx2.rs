//! AVX2 requantization of 16 channels of one output pixel (two vectors of 8 i32
//! accumulators), bit-identical to the scalar [`super::Requant::store`].

use super::{Output, Requant};
use std::arch::x86_64::*;

/// Requantizes accumulators `a` (channels `c0..c0+8`) and `b` (`c0+8..c0+16`) and stores the
/// first `n` (≤ 16) channels to `dst` (raw output bytes). `ADD_BIAS`: the accumulators do
/// not hold the int32 bias yet (`false` for kernels that start them at it).
#[target_feature(enable = "avx2")]
#[inline]
pub unsafe fn store16<const ADD_BIAS: bool>(r: &Requant, c0: usize, a: __m256i, b: __m256i, dst: *mut u8, n: usize) {
    let with_bias = |acc: __m256i, c: usize| {
        if ADD_BIAS {
            _mm256_add_epi32(acc, _mm256_loadu_si256(r.bias.as_ptr().add(c) as *const __m256i))
        } else {
            acc
        }
    };
    let (a, b) = (with_bias(a, c0), with_bias(b, c0 + 8));
    if r.out == Output::I32 {
        let mut tmp = [0i32; 16];
        _mm256_storeu_si256(tmp.as_mut_ptr() as *mut __m256i, a);
        _mm256_storeu_si256(tmp.as_mut_ptr().add(8) as *mut __m256i, b);
        std::ptr::copy_nonoverlapping(tmp.as_ptr() as *const u8, dst, n * 4);
        return;
    }
    let skip_offset = r.offset_zero && matches!(r.out, Output::Int8 { .. });
    let real = |acc: __m256i, c: usize| {
        let v = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_loadu_ps(r.mult.as_ptr().add(c)));
        if skip_offset {
            v
        } else {
            _mm256_add_ps(v, _mm256_loadu_ps(r.offset.as_ptr().add(c)))
        }
    };
    let (va, vb) = (real(a, c0), real(b, c0 + 8));
    match r.out {
        Output::Int8 { zero_point, lo, hi, signed } => {
            // Round (cvtps rounds half to even, the default MXCSR mode), then clamp by
            // saturation: i32 → i16, + zero point in i16, i16 → 8 bits, and a byte max for a
            // low bound above the type's. Only the high bound is applied in float first: a
            // value past 2^31 would convert to i32::MIN. A NaN (`min_ps` returns its second
            // operand) converts to i32::MIN too: the low rail, as the scalar code gives.
            let top = _mm256_set1_ps((hi - zero_point) as f32);
            let qa = _mm256_cvtps_epi32(_mm256_min_ps(top, va));
            let qb = _mm256_cvtps_epi32(_mm256_min_ps(top, vb));
            let w = _mm256_adds_epi16(_mm256_packs_epi32(qa, qb), _mm256_set1_epi16(zero_point as i16));
            let w = _mm256_permute4x64_epi64::<0b11_01_10_00>(w);
            let (w0, w1) = (_mm256_castsi256_si128(w), _mm256_extracti128_si256::<1>(w));
            let bytes = match signed {
                true if lo > -128 => _mm_max_epi8(_mm_packs_epi16(w0, w1), _mm_set1_epi8(lo as i8)),
                true => _mm_packs_epi16(w0, w1),
                false if lo > 0 => _mm_max_epu8(_mm_packus_epi16(w0, w1), _mm_set1_epi8(lo as u8 as i8)),
                false => _mm_packus_epi16(w0, w1),
            };
            if n == 16 {
                _mm_storeu_si128(dst as *mut __m128i, bytes);
            } else {
                let mut tmp = [0u8; 16];
                _mm_storeu_si128(tmp.as_mut_ptr() as *mut __m128i, bytes);
                std::ptr::copy_nonoverlapping(tmp.as_ptr(), dst, n);
            }
        }
        Output::F32 { lo, hi } => {
            let (lo, hi) = (_mm256_set1_ps(lo), _mm256_set1_ps(hi));
            let fa = _mm256_min_ps(_mm256_max_ps(va, lo), hi);
            let fb = _mm256_min_ps(_mm256_max_ps(vb, lo), hi);
            let mut tmp = [0f32; 16];
            _mm256_storeu_ps(tmp.as_mut_ptr(), fa);
            _mm256_storeu_ps(tmp.as_mut_ptr().add(8), fb);
            std::ptr::copy_nonoverlapping(tmp.as_ptr() as *const u8, dst, n * 4);
        }
        Output::I32 => unreachable!("handled above"),
    }
}
