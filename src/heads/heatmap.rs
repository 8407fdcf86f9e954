//! Heatmap decoding (mmpose `MSRAHeatmap.decode` and `UDPHeatmap.decode`, gaussian type).
//!
//! Per keypoint map `[H, W]`: the first maximum over the flattened map gives the integer
//! location and the score (`score ≤ 0` → location −1, not refined). The location is refined
//! (quarter offset, DARK or DARK-UDP, see [`super::heatmap_refine`]) and scaled to input-crop
//! pixels: `× input / heatmap` size for plain and DARK (no half-pixel offset, as mmpose),
//! `× input / (heatmap − 1)` for UDP.

use super::blur::GaussianKernel;
use super::heatmap_refine::{refine_dark, refine_dark_udp, refine_quarter, Map};
use super::maximum::first_argmax;
use super::{FlipIndices, HeadDecoder, HeatmapDecode, Keypoint, KeypointSelection, OutputTensor};
use crate::{bail, Result};

/// Decodes heatmaps `[1, K, H, W]`.
pub struct HeatmapDecoder {
    output: String,
    decode: HeatmapDecode,
    kernel: GaussianKernel,
    flip_shift: bool,
    input: [f32; 2],
    selection: KeypointSelection,
    merged: Vec<f32>,
    modulated: Vec<f32>,
    tmp: Vec<f32>,
}

impl HeatmapDecoder {
    /// `input` is the network input (width, height) in pixels; `flip_shift` defaults to true
    /// except for UDP (mmpose configs set `shift_heatmap` that way).
    pub fn new(
        output: &str,
        decode: HeatmapDecode,
        blur_kernel: usize,
        flip_shift: Option<bool>,
        input: [f32; 2],
        selection: KeypointSelection,
    ) -> Result<HeatmapDecoder> {
        Ok(HeatmapDecoder {
            output: output.to_owned(),
            decode,
            kernel: GaussianKernel::new(blur_kernel)?,
            flip_shift: flip_shift.unwrap_or(decode != HeatmapDecode::Udp),
            input,
            selection,
            merged: Vec::new(),
            modulated: Vec::new(),
            tmp: Vec::new(),
        })
    }

    fn maps<'a>(&self, outputs: &[OutputTensor<'a>]) -> Result<(&'a [f32], usize, usize, usize)> {
        let t = OutputTensor::find(outputs, &self.output)?;
        let (k, h, w) = t.maps()?;
        if h == 0 || w == 0 || (self.decode == HeatmapDecode::Udp && (h < 2 || w < 2)) {
            bail!("heatmap output '{}' {:?} is too small to decode", t.name, t.shape);
        }
        Ok((t.data, k, h, w))
    }

    /// Decodes one `h × w` map into input-crop pixels.
    fn decode_map(&mut self, map: Map<'_>) -> Keypoint {
        let (best, score) = first_argmax(map.data);
        let (sx, sy) = match self.decode {
            HeatmapDecode::Udp => (self.input[0] / (map.w - 1) as f32, self.input[1] / (map.h - 1) as f32),
            _ => (self.input[0] / map.w as f32, self.input[1] / map.h as f32),
        };
        if score.is_nan() || score <= 0.0 {
            return Keypoint { x: -sx, y: -sy, score };
        }
        let (x, y) = (best % map.w, best / map.w);
        let (fx, fy) = match self.decode {
            HeatmapDecode::Plain => refine_quarter(map, x, y),
            HeatmapDecode::Dark => refine_dark(map, x, y, &self.kernel, &mut self.modulated, &mut self.tmp),
            HeatmapDecode::Udp => refine_dark_udp(map, x, y, &self.kernel, &mut self.modulated, &mut self.tmp),
        };
        Keypoint { x: fx * sx, y: fy * sy, score }
    }
}

impl HeadDecoder for HeatmapDecoder {
    fn decode(&mut self, outputs: &[OutputTensor<'_>], out: &mut Vec<Keypoint>) -> Result<()> {
        let (data, k, h, w) = self.maps(outputs)?;
        let n = self.selection.count(k)?;
        out.clear();
        for j in 0..n {
            let c = self.selection.raw(j);
            out.push(self.decode_map(Map { data: &data[c * h * w..(c + 1) * h * w], h, w }));
        }
        Ok(())
    }

    /// mmpose `flip_heatmaps(mode='heatmap')`: the flipped run's maps are mirrored along W and
    /// permuted by `flip`; with `flip_shift` they move one pixel right (`hm[..., 1:] =
    /// hm[..., :-1]`, column 0 kept); then averaged with the unflipped maps.
    fn decode_flip(
        &mut self,
        outputs: &[OutputTensor<'_>],
        flipped: &[OutputTensor<'_>],
        flip: &FlipIndices,
        out: &mut Vec<Keypoint>,
    ) -> Result<()> {
        let (data, k, h, w) = self.maps(outputs)?;
        let (fdata, fk, fh, fw) = self.maps(flipped)?;
        if (fk, fh, fw) != (k, h, w) {
            bail!("flipped heatmaps differ in shape from the unflipped ones");
        }
        let n = self.selection.count(k)?;
        flip.check_len(n)?;
        let mut merged = std::mem::take(&mut self.merged);
        out.clear();
        for j in 0..n {
            let c = self.selection.raw(j);
            let fc = self.selection.raw(flip.of(j));
            let (a, b) = (&data[c * h * w..(c + 1) * h * w], &fdata[fc * h * w..(fc + 1) * h * w]);
            merged.clear();
            for y in 0..h {
                for x in 0..w {
                    // Column x of the mirrored map is column w−1−x of the flipped run; with the
                    // shift, column x ≥ 1 takes mirrored column x − 1.
                    let src = if self.flip_shift && x > 0 { w - x } else { w - 1 - x };
                    merged.push(0.5 * (a[y * w + x] + b[y * w + src]));
                }
            }
            out.push(self.decode_map(Map { data: &merged, h, w }));
        }
        self.merged = merged;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoder(decode: HeatmapDecode, blur_kernel: usize, flip_shift: Option<bool>) -> HeatmapDecoder {
        HeatmapDecoder::new("hm", decode, blur_kernel, flip_shift, [16.0, 20.0], KeypointSelection::All).unwrap()
    }

    #[test]
    fn plain_decode_scales_by_the_stride_and_marks_nonpositive_maps() {
        // Two 5×4 maps (W = 4, H = 5) for a 16×20 input: stride 4.
        let mut d = vec![0.0f32; 40];
        d[2 * 4 + 2] = 1.0; // map 0: max at (2, 2)
        d[2 * 4 + 3] = 0.5; // right neighbour higher → x + 0.25
        d[3 * 4 + 2] = 0.2; // lower neighbour higher → y + 0.25
        for v in &mut d[20..] {
            *v = -1.0; // map 1: all negative → location −1
        }
        let outs = [OutputTensor { name: "hm", shape: &[1, 2, 5, 4], data: &d }];
        let mut kps = Vec::new();
        decoder(HeatmapDecode::Plain, 11, None).decode(&outs, &mut kps).unwrap();
        // 1 < x = 2 < W − 1 and 1 < y = 2 < H − 1: both move, (2.25, 2.25)·4.
        assert_eq!(kps[0], Keypoint { x: 9.0, y: 9.0, score: 1.0 });
        assert_eq!(kps[1], Keypoint { x: -4.0, y: -4.0, score: -1.0 });
    }

    #[test]
    fn udp_scales_by_size_minus_one() {
        // Unblurred (1-tap kernel) map with a symmetric peak at (2, 2): zero gradient, no
        // sub-pixel move; scaled by 16/(4−1) and 20/(5−1).
        let mut d = vec![0.5f32; 20];
        d[2 * 4 + 2] = 1.0;
        let outs = [OutputTensor { name: "hm", shape: &[1, 1, 5, 4], data: &d }];
        let mut kps = Vec::new();
        decoder(HeatmapDecode::Udp, 1, None).decode(&outs, &mut kps).unwrap();
        assert!((kps[0].x - 32.0 / 3.0).abs() < 1e-5 && (kps[0].y - 10.0).abs() < 1e-5, "{:?}", kps[0]);
        let d = [0.0f32; 4];
        let outs = [OutputTensor { name: "hm", shape: &[1, 1, 1, 4], data: &d }];
        assert!(decoder(HeatmapDecode::Udp, 11, None).decode(&outs, &mut kps).is_err());
    }

    #[test]
    fn flip_merge_mirrors_shifts_and_swaps() {
        // Two keypoints that swap, maps 1×4. Unflipped run: zeros. Flipped run: keypoint 1
        // peaks at column 1, which mirrors to column 2 and shifts right to column 3.
        let d = [0.0f32; 8];
        let mut f = [0.0f32; 8];
        f[4 + 1] = 2.0;
        let outs = [OutputTensor { name: "hm", shape: &[1, 2, 1, 4], data: &d }];
        let flipped = [OutputTensor { name: "hm", shape: &[1, 2, 1, 4], data: &f }];
        let flip = FlipIndices::from_pairs(2, &[[0, 1]]).unwrap();
        let mut kps = Vec::new();
        let mut dec = decoder(HeatmapDecode::Plain, 11, None);
        dec.decode_flip(&outs, &flipped, &flip, &mut kps).unwrap();
        // Keypoint 0 takes flipped keypoint 1: merged peak 1.0 at column 3 (stride 4 → 12).
        assert_eq!(kps[0], Keypoint { x: 12.0, y: 0.0, score: 1.0 });
        assert_eq!(kps[1].score, 0.0);
        // Without the shift the peak stays at mirrored column 2.
        let mut dec = decoder(HeatmapDecode::Plain, 11, Some(false));
        dec.decode_flip(&outs, &flipped, &flip, &mut kps).unwrap();
        assert_eq!(kps[0].x, 8.0);
    }
}
