//! The top-down pipeline: for each person box, crop and normalise, run the network, decode the
//! head, and map the keypoints back to image pixels.

use image::RgbImage;

use super::affine::Affine2x3;
use super::backend::PoseBackend;
use super::bbox::{BBox, CropBox};
use super::config::ModelConfig;
use super::flip::flip_input_horizontally;
use super::score::instance_score;
use super::warp::warp_into;
use crate::heads::{build_decoder, FlipIndices, HeadDecoder, Keypoint, OutputStore, OutputTensor};
use crate::{bail, Result};

/// One person's pose in **image pixels**.
#[derive(Clone, Debug, PartialEq)]
pub struct PersonPose {
    /// The box the person was cropped from.
    pub bbox: BBox,
    /// The crop the network saw (image pixels); `crop.scale[0]·crop.scale[1]` is mmpose's
    /// instance area for OKS-NMS.
    pub crop: CropBox,
    /// Keypoints in image pixels, in the config's keypoint order, with the head's scores.
    pub keypoints: Vec<Keypoint>,
    /// The value of the config's `score.flag_output` (BlazePose's pose flag), if any.
    pub flag: Option<f32>,
    /// Ranking score per the config's score mode.
    pub score: f32,
}

/// Crops `bbox` from `image` and writes the normalised network input into `out`
/// (`config.input.len()` floats). Returns the crop, needed to map keypoints back.
/// Also what a calibrator needs to build its input set.
pub fn preprocess(config: &ModelConfig, image: &RgbImage, bbox: &BBox, out: &mut [f32]) -> Result<CropBox> {
    let size = config.input.size();
    let crop = CropBox::from_bbox(bbox, config.crop.protocol, config.crop.padding, size);
    let m = if config.udp_warp() {
        Affine2x3::image_to_input_udp(&crop, size)
    } else {
        Affine2x3::image_to_input(&crop, size)
    };
    warp_into(image, &m, &config.input, out)?;
    Ok(crop)
}

/// Config, decoder and reusable buffers of a top-down pose estimator. After the first person,
/// estimating allocates only the returned keypoint lists.
pub struct TopDownPipeline {
    config: ModelConfig,
    decoder: Box<dyn HeadDecoder>,
    flip: FlipIndices,
    input: Vec<f32>,
    flipped_input: Vec<f32>,
    first_run: OutputStore,
    keypoints: Vec<Keypoint>,
}

impl TopDownPipeline {
    /// A pipeline for `config` (checked with [`ModelConfig::check`]; validate it against the
    /// model's outputs with [`ModelConfig::validate`] when it was built by hand).
    pub fn new(config: ModelConfig) -> Result<TopDownPipeline> {
        config.check()?;
        let decoder = build_decoder(&config.head, config.input.size(), config.selection())?;
        let flip = config.flip_indices()?;
        let n = config.input.len();
        Ok(TopDownPipeline {
            config,
            decoder,
            flip,
            input: vec![0.0; n],
            flipped_input: vec![0.0; n],
            first_run: OutputStore::default(),
            keypoints: Vec::new(),
        })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Estimates the pose of every person in `boxes` (image pixels), in order.
    pub fn estimate(
        &mut self,
        backend: &mut dyn PoseBackend,
        image: &RgbImage,
        boxes: &[BBox],
    ) -> Result<Vec<PersonPose>> {
        boxes.iter().map(|b| self.estimate_one(backend, image, b)).collect()
    }

    /// Estimates one person's pose.
    pub fn estimate_one(&mut self, backend: &mut dyn PoseBackend, image: &RgbImage, bbox: &BBox) -> Result<PersonPose> {
        let crop = preprocess(&self.config, image, bbox, &mut self.input)?;
        let flag_name = self.config.score.flag_output.as_deref();
        let flag = if self.config.flip_test {
            flip_input_horizontally(&self.input, &mut self.flipped_input, &self.config.input)?;
            self.first_run.copy_from(&backend.run(&self.input)?);
            let first = self.first_run.views();
            let flipped = backend.run(&self.flipped_input)?;
            self.decoder.decode_flip(&first, &flipped, &self.flip, &mut self.keypoints)?;
            match flag_name {
                Some(name) => Some(0.5 * (flag_value(&first, name)? + flag_value(&flipped, name)?)),
                None => None,
            }
        } else {
            let outputs = backend.run(&self.input)?;
            self.decoder.decode(&outputs, &mut self.keypoints)?;
            flag_name.map(|name| flag_value(&outputs, name)).transpose()?
        };
        let size = self.config.input.size();
        let keypoints: Vec<Keypoint> = self
            .keypoints
            .iter()
            .map(|k| {
                let (x, y) = crop.crop_to_image(k.x, k.y, size);
                Keypoint { x, y, score: k.score }
            })
            .collect();
        let score = instance_score(
            self.config.score_mode(),
            bbox.score,
            &keypoints,
            self.config.score.keypoint_threshold,
            flag,
        );
        Ok(PersonPose { bbox: *bbox, crop, keypoints, flag, score })
    }
}

/// The first value of the output called `name`.
fn flag_value(outputs: &[OutputTensor<'_>], name: &str) -> Result<f32> {
    match OutputTensor::find(outputs, name)?.data.first() {
        Some(&v) => Ok(v),
        None => bail!("flag output '{name}' is empty"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heads::TensorSpec;
    use crate::pipeline::config::Layout;

    /// A "network" that finds the brightest pixel of the input (first channel) and answers
    /// with SimCC vectors peaked there for all 17 keypoints, and a flag of 0.5.
    struct BrightestPixelNet {
        w: usize,
        h: usize,
        x: Vec<f32>,
        y: Vec<f32>,
        flag: [f32; 1],
        runs: usize,
    }

    impl BrightestPixelNet {
        fn new(w: usize, h: usize) -> Self {
            BrightestPixelNet { w, h, x: vec![0.0; 17 * 2 * w], y: vec![0.0; 17 * 2 * h], flag: [0.5], runs: 0 }
        }
    }

    impl PoseBackend for BrightestPixelNet {
        fn run(&mut self, input: &[f32]) -> Result<Vec<OutputTensor<'_>>> {
            self.runs += 1;
            let plane = &input[..self.w * self.h];
            let best = (0..plane.len()).fold(0, |b, i| if plane[i] > plane[b] { i } else { b });
            let (col, row) = (best % self.w, best / self.w);
            self.x.fill(0.0);
            self.y.fill(0.0);
            for k in 0..17 {
                self.x[k * 2 * self.w + 2 * col] = 1.0;
                self.y[k * 2 * self.h + 2 * row] = 1.0;
            }
            Ok(vec![
                OutputTensor { name: "simcc_x", shape: &[1, 17, 384], data: &self.x },
                OutputTensor { name: "simcc_y", shape: &[1, 17, 512], data: &self.y },
                OutputTensor { name: "flag", shape: &[1, 1], data: &self.flag },
            ])
        }
    }

    fn config() -> ModelConfig {
        let input = TensorSpec::new("input", &[1, 3, 256, 192]);
        let outputs = [
            TensorSpec::new("simcc_x", &[1, 17, 384]),
            TensorSpec::new("simcc_y", &[1, 17, 512]),
            TensorSpec::new("flag", &[1, 1]),
        ];
        let text = "[head]\nkind = 'simcc'\nx = 'simcc_x'\ny = 'simcc_y'\n\
                    [score]\nmode = 'flag_keypoint'\nflag_output = 'flag'\n";
        ModelConfig::from_toml(text, &input, &outputs).unwrap()
    }

    /// A black 300×200 image with white dots.
    fn image_with_dots(dots: &[(u32, u32)]) -> RgbImage {
        let mut img = RgbImage::new(300, 200);
        for &(x, y) in dots {
            img.put_pixel(x, y, image::Rgb([255, 255, 255]));
        }
        img
    }

    #[test]
    fn keypoints_land_on_the_dot_in_image_pixels() {
        // Box (100, 50, 96, 128): centre (148, 114), crop 120×160 → input 192×256 at k = 1.6.
        // Image (128, 84) maps to crop pixel ((128−88)·1.6, (84−34)·1.6) = (64, 80), which the
        // net finds; back in the image that is (128, 84) again. Second person: box (0, 0, 96,
        // 128) → crop origin (−12, −16); dot (40, 30) → crop (83.2, 73.6) → nearest crop pixel
        // (83, 74) → image (83/1.6 − 12, 74/1.6 − 16) = (39.875, 30.25).
        let mut net = BrightestPixelNet::new(192, 256);
        let mut p = TopDownPipeline::new(config()).unwrap();
        assert_eq!(p.config().input.layout, Layout::Nchw);
        let img = image_with_dots(&[(128, 84), (40, 30)]);
        let boxes = [BBox::new(100.0, 50.0, 96.0, 128.0, 0.9), BBox::new(0.0, 0.0, 96.0, 128.0, 1.0)];
        let people = p.estimate(&mut net, &img, &boxes).unwrap();
        assert_eq!(people.len(), 2);
        assert_eq!(people[0].crop, CropBox { center: [148.0, 114.0], scale: [120.0, 160.0] });
        for k in &people[0].keypoints {
            assert!((k.x - 128.0).abs() < 1e-4 && (k.y - 84.0).abs() < 1e-4, "{k:?}");
            assert_eq!(k.score, 1.0);
        }
        for k in &people[1].keypoints {
            assert!((k.x - 39.875).abs() < 1e-4 && (k.y - 30.25).abs() < 1e-4, "{k:?}");
        }
        assert_eq!(people[0].flag, Some(0.5));
        assert_eq!(people[0].score, 0.5);
        assert_eq!(net.runs, 2);
    }

    #[test]
    fn flip_test_runs_twice_and_lands_on_the_dot() {
        // The flipped run finds the mirrored pixel; SimCC flip-back puts the averaged peaks at
        // bins 2c and 2c + 1, and the first maximum (2c) wins: the same keypoint as without flip.
        let mut cfg = config();
        cfg.flip_test = true;
        let mut net = BrightestPixelNet::new(192, 256);
        let mut p = TopDownPipeline::new(cfg).unwrap();
        let img = image_with_dots(&[(128, 84)]);
        let people = p.estimate(&mut net, &img, &[BBox::new(100.0, 50.0, 96.0, 128.0, 1.0)]).unwrap();
        assert_eq!(net.runs, 2);
        for k in &people[0].keypoints {
            assert!((k.x - 128.0).abs() < 1e-4 && (k.y - 84.0).abs() < 1e-4, "{k:?}");
            assert_eq!(k.score, 0.5);
        }
        assert_eq!(people[0].flag, Some(0.5));
    }

    #[test]
    fn degenerate_boxes_and_empty_images_do_not_fail() {
        let mut net = BrightestPixelNet::new(192, 256);
        let mut p = TopDownPipeline::new(config()).unwrap();
        let boxes = [BBox::new(10.0, 10.0, 0.0, 0.0, 1.0), BBox::new(-500.0, -500.0, 10.0, 10.0, 1.0)];
        let people = p.estimate(&mut net, &RgbImage::new(0, 0), &boxes).unwrap();
        assert_eq!(people.len(), 2);
        assert!(people.iter().flat_map(|p| &p.keypoints).all(|k| k.x.is_finite() && k.y.is_finite()));
        assert!(p.estimate(&mut net, &RgbImage::new(4, 4), &[]).unwrap().is_empty());
    }
}
