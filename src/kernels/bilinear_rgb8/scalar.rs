//! Portable bilinear run sampler, one pixel at a time: the definition the SIMD variants are
//! tested against.

use super::{block_axes, BlockAxis, Rgb8, Run, Store, BLOCK};

/// Pixels whose taps are computed together, in one loop the compiler can vectorise.
const CHUNK: usize = 8;

/// See [`super::Sampler::sample`].
pub fn sample(image: Rgb8<'_>, run: &Run, store: &Store, out: &mut [f32]) {
    let (pixels, stride) = (image.pixels, image.stride());
    for block in (0..run.len).step_by(BLOCK) {
        let [ax, ay] = block_axes(&image, run, block);
        for sub in (0..BLOCK).step_by(CHUNK) {
            let j = block + sub;
            if j >= run.len {
                break;
            }
            let ((x0, fx), (y0, fy)) = (taps(&ax, sub), taps(&ay, sub));
            for k in 0..CHUNK.min(run.len - j) {
                let i = y0[k] as usize * stride + x0[k] as usize * 3;
                let (top, bottom) = (&pixels[i..i + 6], &pixels[i + stride..i + stride + 6]);
                let (fx, fy) = (fx[k], fy[k]);
                let w = [(1.0 - fx) * (1.0 - fy), fx * (1.0 - fy), (1.0 - fx) * fy, fx * fy];
                let rgb = std::array::from_fn(|c| {
                    w[0] * f32::from(top[c])
                        + w[1] * f32::from(top[3 + c])
                        + w[2] * f32::from(bottom[c])
                        + w[3] * f32::from(bottom[3 + c])
                });
                store.put(out, j + k, rgb);
            }
        }
    }
}

/// Pixels `sub..sub + CHUNK` of a block along `axis`: for each, the image index of its first
/// tap (in `[0, size − 2]`) and the weight of its second tap (in `[0, 1]`).
#[inline(always)]
fn taps(axis: &BlockAxis, sub: usize) -> ([i32; CHUNK], [f32; CHUNK]) {
    let (mut index, mut weight) = ([0; CHUNK], [0.0; CHUNK]);
    for k in 0..CHUNK {
        // f32::max/min return the other operand for NaN, as the SIMD variants' clamps do.
        let p = (axis.first + (sub + k) as f32 * axis.step).max(axis.lo).min(axis.hi);
        // floor(p) for |p| < 2³¹ (p is clamped into the image), without a libm call.
        let t = p as i32;
        let i = (t - i32::from(t as f32 > p)).min(axis.last);
        (index[k], weight[k]) = (axis.anchor + i, p - i as f32);
    }
    (index, weight)
}
