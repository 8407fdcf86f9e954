//! Horizontal mirror of a preprocessed input tensor (mmpose's `inputs.flip(-1)`): pixel column
//! `c` becomes column `w − 1 − c`.

use super::config::{InputConfig, Layout};
use crate::{bail, Result};

/// Writes the mirror image of `src` into `dst`; both hold one input tensor as `input` lays it out.
pub fn flip_input_horizontally(src: &[f32], dst: &mut [f32], input: &InputConfig) -> Result<()> {
    let (w, h) = (input.width, input.height);
    if src.len() != input.len() || dst.len() != input.len() {
        bail!("flip: buffers of {} and {} floats for a {w}×{h}×3 input", src.len(), dst.len());
    }
    match input.layout {
        Layout::Nchw => {
            for (s, d) in src.chunks_exact(w).zip(dst.chunks_exact_mut(w)) {
                d.iter_mut().zip(s.iter().rev()).for_each(|(d, s)| *d = *s);
            }
        }
        Layout::Nhwc => {
            for (s, d) in src.chunks_exact(w * 3).zip(dst.chunks_exact_mut(w * 3)) {
                for (dp, sp) in d.chunks_exact_mut(3).zip(s.chunks_exact(3).rev()) {
                    dp.copy_from_slice(sp);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::config::ChannelOrder;

    fn input(layout: Layout) -> InputConfig {
        InputConfig {
            name: "i".into(),
            width: 3,
            height: 1,
            layout,
            channels: ChannelOrder::Rgb,
            mean: [0.0; 3],
            std: [1.0; 3],
        }
    }

    #[test]
    fn mirrors_columns_in_both_layouts() {
        let src: Vec<f32> = (0..9).map(|v| v as f32).collect();
        let mut dst = vec![0.0; 9];
        // NCHW planes [0 1 2] [3 4 5] [6 7 8].
        flip_input_horizontally(&src, &mut dst, &input(Layout::Nchw)).unwrap();
        assert_eq!(dst, [2.0, 1.0, 0.0, 5.0, 4.0, 3.0, 8.0, 7.0, 6.0]);
        // NHWC pixels (0 1 2) (3 4 5) (6 7 8).
        flip_input_horizontally(&src, &mut dst, &input(Layout::Nhwc)).unwrap();
        assert_eq!(dst, [6.0, 7.0, 8.0, 3.0, 4.0, 5.0, 0.0, 1.0, 2.0]);
        assert!(flip_input_horizontally(&src[..8], &mut dst, &input(Layout::Nhwc)).is_err());
    }
}
