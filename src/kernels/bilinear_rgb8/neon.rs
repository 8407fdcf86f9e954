//! NEON bilinear run sampler: 4 pixels per vector. Each of a pixel's two taps
//! per row is fetched with one unaligned 32-bit load (3 bytes of the tap and one spare) into
//! a lane of a vector, and the channels unpacked by shifts.

use super::{block_axes, BlockAxis, Rgb8, Run, Store, BLOCK};
use std::arch::aarch64::*;

/// Pixels per vector.
const LANES: usize = 4;

/// Pixels `lanes` (lane k = pixel `lanes[k]` of the block) along `axis`: image index of the
/// first tap and weight of the second, as `super::scalar::taps` computes them.
#[target_feature(enable = "neon")]
#[inline]
unsafe fn taps(axis: &BlockAxis, lanes: float32x4_t) -> (int32x4_t, float32x4_t) {
    let p = vaddq_f32(vdupq_n_f32(axis.first), vmulq_f32(lanes, vdupq_n_f32(axis.step)));
    // maxnm/minnm return the number for NaN: NaN positions clamp to `lo`.
    let p = vminnmq_f32(vmaxnmq_f32(p, vdupq_n_f32(axis.lo)), vdupq_n_f32(axis.hi));
    let i = vminq_s32(vcvtmq_s32_f32(p), vdupq_n_s32(axis.last));
    (vaddq_s32(i, vdupq_n_s32(axis.anchor)), vsubq_f32(p, vcvtq_f32_s32(i)))
}

/// Lane k: the 4 bytes at `pixels + at[k] + extra`, little-endian.
///
/// # Safety
/// Every `at[k] + extra + 4` must be within the image.
#[target_feature(enable = "neon")]
#[inline]
unsafe fn load_lanes(pixels: *const u8, at: &[i32; LANES], extra: usize) -> uint32x4_t {
    let load = |k: usize| u32::from_le(pixels.add(at[k] as usize + extra).cast::<u32>().read_unaligned());
    let v = vdupq_n_u32(load(0));
    let v = vsetq_lane_u32::<1>(load(1), v);
    let v = vsetq_lane_u32::<2>(load(2), v);
    vsetq_lane_u32::<3>(load(3), v)
}

/// Byte `SHIFT / 8` of every 32-bit lane, as f32.
#[target_feature(enable = "neon")]
#[inline]
unsafe fn byte<const SHIFT: i32>(v: uint32x4_t) -> float32x4_t {
    // A negative register shift shifts right (and allows 0, unlike `vshrq_n_u32`).
    vcvtq_f32_u32(vandq_u32(vshlq_u32(v, vdupq_n_s32(-SHIFT)), vdupq_n_u32(0xff)))
}

/// `w[0]·taps[0] + w[1]·taps[1] + w[2]·taps[2] + w[3]·taps[3]` (top-left, top-right,
/// bottom-left, bottom-right), fused multiply-adds in that order.
#[target_feature(enable = "neon")]
#[inline]
unsafe fn bilinear(w: &[float32x4_t; 4], taps: [float32x4_t; 4]) -> float32x4_t {
    let acc = vfmaq_f32(vmulq_f32(w[0], taps[0]), w[1], taps[1]);
    vfmaq_f32(vfmaq_f32(acc, w[2], taps[2]), w[3], taps[3])
}

/// See [`super::Sampler::sample`].
///
/// # Safety
/// NEON must be available and `out` must hold the run's span.
#[target_feature(enable = "neon")]
pub unsafe fn sample(image: Rgb8<'_>, run: &Run, store: &Store, out: &mut [f32]) {
    let first_lanes = vld1q_f32([0.0f32, 1.0, 2.0, 3.0].as_ptr());
    let pixels = image.pixels.as_ptr();
    let (width, stride) = (vdupq_n_s32(image.width as i32), image.stride());
    let (three, one) = (vdupq_n_s32(3), vdupq_n_f32(1.0));
    let mean = store.mean.map(|m| vdupq_n_f32(m));
    let inv_std = store.inv_std.map(|s| vdupq_n_f32(s));
    let interleaved = store.is_interleaved();
    for block in (0..run.len).step_by(BLOCK) {
        let [ax, ay] = block_axes(&image, run, block);
        for sub in (0..BLOCK).step_by(LANES) {
            let j = block + sub;
            if j >= run.len {
                break;
            }
            let lanes = vaddq_f32(first_lanes, vdupq_n_f32(sub as f32));
            let (x0, fx) = taps(&ax, lanes);
            let (y0, fy) = taps(&ay, lanes);
            // Byte offset of the top-left tap. Reading 4 bytes at `tl` (its RGB and the next
            // R) and at `tl + 2` (B, then the right tap's RGB) stays inside the image even for
            // the bottom-right pixel, whose last byte is the image's last.
            let mut tl = [0i32; LANES];
            vst1q_s32(tl.as_mut_ptr(), vmulq_s32(vmlaq_s32(x0, y0, width), three));
            // SAFETY: taps() keeps x0 ≤ width − 2 and y0 ≤ height − 2, so every byte read is
            // inside `pixels`.
            let top_l = load_lanes(pixels, &tl, 0);
            let top_r = load_lanes(pixels, &tl, 2);
            let bottom_l = load_lanes(pixels, &tl, stride);
            let bottom_r = load_lanes(pixels, &tl, stride + 2);
            let (gx, gy) = (vsubq_f32(one, fx), vsubq_f32(one, fy));
            let w = [vmulq_f32(gx, gy), vmulq_f32(fx, gy), vmulq_f32(gx, fy), vmulq_f32(fx, fy)];
            // Image channel c: byte c of a left load, byte c + 1 of a right one.
            let rgb = [
                bilinear(&w, [byte::<0>(top_l), byte::<8>(top_r), byte::<0>(bottom_l), byte::<8>(bottom_r)]),
                bilinear(&w, [byte::<8>(top_l), byte::<16>(top_r), byte::<8>(bottom_l), byte::<16>(bottom_r)]),
                bilinear(&w, [byte::<16>(top_l), byte::<24>(top_r), byte::<16>(bottom_l), byte::<24>(bottom_r)]),
            ];
            let v = [0, 1, 2].map(|s| vmulq_f32(vsubq_f32(rgb[s], mean[s]), inv_std[s]));
            let n = LANES.min(run.len - j);
            let at = out.as_mut_ptr().add(j * store.pixel_stride);
            // SAFETY (stores): pixels j..j + 4 of the run are inside its span.
            if n == LANES && store.pixel_stride == 1 {
                for (v, &o) in v.iter().zip(&store.offset) {
                    vst1q_f32(at.add(o), *v);
                }
            } else if n == LANES && interleaved {
                let mut by_offset = v;
                for (v, &o) in v.iter().zip(&store.offset) {
                    by_offset[o] = *v;
                }
                vst3q_f32(at, float32x4x3_t(by_offset[0], by_offset[1], by_offset[2]));
            } else {
                let mut lanes_v = [[0.0f32; LANES]; 3];
                for (l, v) in lanes_v.iter_mut().zip(v) {
                    vst1q_f32(l.as_mut_ptr(), v);
                }
                store.write_lanes(out, j, &lanes_v, n);
            }
        }
    }
}
