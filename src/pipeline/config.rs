//! The model config: everything qpose needs to know about a pose model besides its graph.
//!
//! It comes from a TOML sidecar beside the model (`model.onnx` → `model.toml`, also used by
//! `model.int8.onnx`), from
//! auto-detection of the seed heads (mmpose RLE / SimCC / heatmap exports, which need no file),
//! or both: a partial file overrides what detection found (tables merge key by key; a `[head]`
//! with its own `kind` replaces the detected head). The fields are public for programmatic
//! overrides. Example (BlazePose): `models/blazepose/pose_landmark_full.toml`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::bbox::CropProtocol;
use super::score::ScoreMode;
use crate::error::Context;
use crate::heads::{
    detect_head, FlipIndices, HeadConfig, HeatmapDecode, KeypointSelection, TensorSpec, COCO17_FLIP_PAIRS,
    COCO17_NAMES, COCO17_SIGMAS, COCO17_SKELETON,
};
use crate::{Error, Result};

/// Returns early with an [`Error::Config`] built from a format string.
macro_rules! config_bail {
    ($($arg:tt)*) => { return Err(Error::Config(format!($($arg)*))) };
}

/// Memory layout of the network input tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// `[1, 3, H, W]` (mmpose exports).
    Nchw,
    /// `[1, H, W, 3]` (TensorFlow / MediaPipe exports).
    Nhwc,
}

/// Channel order the network expects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelOrder {
    #[default]
    Rgb,
    Bgr,
}

/// The network input: `value = (pixel − mean[c]) / std[c]` with pixels in 0..255 and `c` the
/// network's channel (mean and std are listed in the network's channel order).
/// `range = "unit"` in TOML is shorthand for mean 0, std 255 (inputs in [0, 1]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "InputToml", into = "InputToml")]
pub struct InputConfig {
    pub name: String,
    pub width: usize,
    pub height: usize,
    pub layout: Layout,
    pub channels: ChannelOrder,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

/// ImageNet statistics in RGB order, 0..255 units (every mmpose config).
pub const IMAGENET_MEAN: [f32; 3] = [123.675, 116.28, 103.53];
pub const IMAGENET_STD: [f32; 3] = [58.395, 57.12, 57.375];

/// The TOML form of [`InputConfig`]: `range = "unit"` stands for mean 0 / std 255, absent
/// mean/std for ImageNet's; explicit mean/std win over both.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputToml {
    name: String,
    width: usize,
    height: usize,
    layout: Layout,
    #[serde(default)]
    channels: ChannelOrder,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    range: Option<InputRange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mean: Option<[f32; 3]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    std: Option<[f32; 3]>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum InputRange {
    /// Pixels / 255.
    Unit,
}

impl From<InputToml> for InputConfig {
    fn from(t: InputToml) -> InputConfig {
        let (mean, std) = match t.range {
            Some(InputRange::Unit) => ([0.0; 3], [255.0; 3]),
            None => (IMAGENET_MEAN, IMAGENET_STD),
        };
        InputConfig {
            name: t.name,
            width: t.width,
            height: t.height,
            layout: t.layout,
            channels: t.channels,
            mean: t.mean.unwrap_or(mean),
            std: t.std.unwrap_or(std),
        }
    }
}

impl From<InputConfig> for InputToml {
    fn from(c: InputConfig) -> InputToml {
        let (range, mean, std) = if (c.mean, c.std) == (IMAGENET_MEAN, IMAGENET_STD) {
            (None, None, None)
        } else if (c.mean, c.std) == ([0.0; 3], [255.0; 3]) {
            (Some(InputRange::Unit), None, None)
        } else {
            (None, Some(c.mean), Some(c.std))
        };
        InputToml {
            name: c.name,
            width: c.width,
            height: c.height,
            layout: c.layout,
            channels: c.channels,
            range,
            mean,
            std,
        }
    }
}

impl InputConfig {
    /// `(width, height)` in pixels.
    pub fn size(&self) -> [usize; 2] {
        [self.width, self.height]
    }

    /// Number of floats in one input tensor.
    pub fn len(&self) -> usize {
        self.width * self.height * 3
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads name, size and layout from the declared input shape (`[1, 3, H, W]` → NCHW,
    /// `[1, H, W, 3]` → NHWC) with mmpose's RGB ImageNet normalisation.
    pub fn detect(spec: &TensorSpec) -> Result<InputConfig> {
        let (layout, h, w) = match spec.shape.as_slice() {
            &[1, 3, h, w] if w != 3 => (Layout::Nchw, h, w),
            &[1, h, w, 3] if h != 3 => (Layout::Nhwc, h, w),
            s => {
                return Err(Error::Config(format!(
                    "input '{}' {s:?} is neither [1, 3, H, W] nor [1, H, W, 3]; \
                     give [input] in the model config",
                    spec.name
                )))
            }
        };
        Ok(InputConfig {
            name: spec.name.clone(),
            width: w,
            height: h,
            layout,
            channels: ChannelOrder::Rgb,
            mean: IMAGENET_MEAN,
            std: IMAGENET_STD,
        })
    }
}

/// How person boxes become crops.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CropConfig {
    #[serde(default)]
    pub protocol: CropProtocol,
    #[serde(default = "default_padding")]
    pub padding: f32,
}

fn default_padding() -> f32 {
    1.25
}

impl Default for CropConfig {
    fn default() -> CropConfig {
        CropConfig { protocol: CropProtocol::Mmpose, padding: default_padding() }
    }
}

/// The keypoints the model reports, after an optional selection from the head's raw ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeypointConfig {
    /// Raw head keypoint for each reported keypoint (BlazePose: 17 of 33); absent = all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select: Option<Vec<usize>>,
    #[serde(default = "coco_names")]
    pub names: Vec<String>,
    /// Left/right pairs among the reported keypoints (flip test).
    #[serde(default = "coco_flip_pairs")]
    pub flip_pairs: Vec<[usize; 2]>,
    /// OKS sigmas of the reported keypoints.
    #[serde(default = "coco_sigmas")]
    pub sigmas: Vec<f64>,
    /// Limbs drawn by `eval::draw`.
    #[serde(default = "coco_skeleton")]
    pub skeleton: Vec<[usize; 2]>,
}

fn coco_names() -> Vec<String> {
    COCO17_NAMES.iter().map(|s| s.to_string()).collect()
}
fn coco_flip_pairs() -> Vec<[usize; 2]> {
    COCO17_FLIP_PAIRS.to_vec()
}
fn coco_sigmas() -> Vec<f64> {
    COCO17_SIGMAS.to_vec()
}
fn coco_skeleton() -> Vec<[usize; 2]> {
    COCO17_SKELETON.to_vec()
}

impl Default for KeypointConfig {
    fn default() -> KeypointConfig {
        KeypointConfig {
            select: None,
            names: coco_names(),
            flip_pairs: coco_flip_pairs(),
            sigmas: coco_sigmas(),
            skeleton: coco_skeleton(),
        }
    }
}

/// How a person's ranking score is computed (see [`ScoreMode`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreConfig {
    /// Absent: `bbox_rle` for RLE heads, `bbox_keypoint` otherwise (mmpose's configs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ScoreMode>,
    /// Keypoints above this score count in `bbox_keypoint` (mmpose `keypoint_score_thr`).
    #[serde(default = "default_keypoint_threshold")]
    pub keypoint_threshold: f32,
    /// A graph output whose first value multiplies the score in `flag_keypoint` mode
    /// (BlazePose's pose-presence flag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag_output: Option<String>,
}

fn default_keypoint_threshold() -> f32 {
    0.2
}

impl Default for ScoreConfig {
    fn default() -> ScoreConfig {
        ScoreConfig { mode: None, keypoint_threshold: default_keypoint_threshold(), flag_output: None }
    }
}

/// A pose model's config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub input: InputConfig,
    #[serde(default)]
    pub crop: CropConfig,
    pub head: HeadConfig,
    #[serde(default)]
    pub keypoints: KeypointConfig,
    #[serde(default)]
    pub score: ScoreConfig,
    /// Run every crop twice (as is and mirrored) and merge, as mmpose's `flip_test`.
    #[serde(default)]
    pub flip_test: bool,
}

impl ModelConfig {
    /// The config of the model at `model_path`: its sidecar (see [`sidecar_path`]) merged over
    /// what detection finds in `input` / `outputs`, or detection alone when there is none.
    pub fn for_model(model_path: &Path, input: &TensorSpec, outputs: &[TensorSpec]) -> Result<ModelConfig> {
        match sidecar_path(model_path) {
            Some(sidecar) => {
                let text = std::fs::read_to_string(&sidecar).map_err(|e| Error::io(&sidecar, e))?;
                ModelConfig::from_toml(&text, input, outputs).with_context(|| sidecar.display().to_string())
            }
            None => ModelConfig::detect(input, outputs),
        }
    }

    /// Detection only: mmpose defaults (ImageNet RGB normalisation, padding 1.25, COCO-17).
    pub fn detect(input: &TensorSpec, outputs: &[TensorSpec]) -> Result<ModelConfig> {
        let input = InputConfig::detect(input)?;
        let head = detect_head(outputs, input.size())?;
        let config = ModelConfig {
            input,
            crop: CropConfig::default(),
            head,
            keypoints: KeypointConfig::default(),
            score: ScoreConfig::default(),
            flip_test: false,
        };
        config.validate(outputs)?;
        Ok(config)
    }

    /// A TOML config merged over detection (see the module doc), validated against `outputs`.
    pub fn from_toml(text: &str, input: &TensorSpec, outputs: &[TensorSpec]) -> Result<ModelConfig> {
        let file: toml::Table = toml::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        let mut base = toml::Table::new();
        let detected_input = InputConfig::detect(input);
        if let Ok(i) = &detected_input {
            base.insert("input".into(), to_value(i)?);
        }
        let file_head_has_kind = file.get("head").and_then(|h| h.get("kind")).is_some();
        let mut detect_error = None;
        if !file_head_has_kind {
            let file_size = file.get("input").and_then(|i| Some([toml_usize(i, "width")?, toml_usize(i, "height")?]));
            let size = file_size.or_else(|| detected_input.as_ref().ok().map(InputConfig::size));
            match size.map(|s| detect_head(outputs, s)) {
                Some(Ok(h)) => {
                    base.insert("head".into(), to_value(&h)?);
                }
                Some(Err(e)) => detect_error = Some(e),
                None => {}
            }
        }
        merge(&mut base, file);
        if !base.contains_key("head") {
            return Err(detect_error.unwrap_or_else(|| Error::Config("no [head] table and no detectable head".into())));
        }
        if !base.contains_key("input") {
            detected_input?;
        }
        let config: ModelConfig =
            toml::Value::Table(base).try_into().map_err(|e: toml::de::Error| Error::Config(e.to_string()))?;
        config.validate(outputs)?;
        Ok(config)
    }

    /// The config as TOML (what `qpose inspect` can print, and a template for a sidecar).
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::Config(e.to_string()))
    }

    /// The ranking-score mode, with mmpose's per-head default.
    pub fn score_mode(&self) -> ScoreMode {
        self.score.mode.unwrap_or(match self.head {
            HeadConfig::Rle { .. } => ScoreMode::BboxRle,
            _ => ScoreMode::BboxKeypoint,
        })
    }

    /// Whether the crop uses mmpose's UDP warp (heads decoded with UDP).
    pub fn udp_warp(&self) -> bool {
        matches!(self.head, HeadConfig::Heatmap { decode: HeatmapDecode::Udp, .. })
    }

    /// The keypoint selection of the head.
    pub fn selection(&self) -> KeypointSelection {
        KeypointSelection::from_indices(self.keypoints.select.clone())
    }

    /// The flip permutation of the reported keypoints.
    pub fn flip_indices(&self) -> Result<FlipIndices> {
        FlipIndices::from_pairs(self.keypoints.names.len(), &self.keypoints.flip_pairs)
    }

    /// Checks the config against the model's outputs: the outputs it names exist and the head's
    /// keypoint count (after selection) matches the configured names; then [`Self::check`].
    pub fn validate(&self, outputs: &[TensorSpec]) -> Result<()> {
        let mut needed: Vec<&str> = self.head.output_names();
        needed.extend(self.score.flag_output.as_deref());
        for name in needed {
            if !outputs.iter().any(|o| o.name == name) {
                let list: Vec<String> = outputs.iter().map(|o| format!("'{}' {:?}", o.name, o.shape)).collect();
                config_bail!("the config names output '{name}', the model has {}", list.join(", "));
            }
        }
        let n = self.keypoints.names.len();
        if let Some(raw) = raw_keypoint_count(&self.head, outputs) {
            let reported = self.selection().count(raw)?;
            if reported != n {
                config_bail!("the head reports {reported} keypoints but {n} names are configured");
            }
        }
        self.check()
    }

    /// Checks the config against itself: a non-empty input, usable normalisation and padding,
    /// and names, sigmas, flip pairs and skeleton that agree on the keypoint count.
    pub fn check(&self) -> Result<()> {
        let i = &self.input;
        if i.width == 0 || i.height == 0 {
            config_bail!("input '{}' has an empty size {}×{}", i.name, i.width, i.height);
        }
        if i.std.iter().any(|&s| s == 0.0 || !s.is_finite()) {
            config_bail!("input std {:?} must be finite and non-zero", i.std);
        }
        if !(self.crop.padding > 0.0 && self.crop.padding.is_finite()) {
            config_bail!("crop padding must be positive, got {}", self.crop.padding);
        }
        if self.score_mode() == ScoreMode::FlagKeypoint && self.score.flag_output.is_none() {
            config_bail!("score mode flag_keypoint needs score.flag_output");
        }
        let k = &self.keypoints;
        let n = k.names.len();
        if k.sigmas.len() != n {
            config_bail!("{} OKS sigmas configured for {n} keypoints", k.sigmas.len());
        }
        if k.skeleton.iter().flatten().any(|&j| j >= n) {
            config_bail!("skeleton refers to a keypoint beyond the {n} configured");
        }
        self.flip_indices()?;
        Ok(())
    }
}

/// The config file of a model: `<name>.toml` beside `<name>.onnx`; for variants named with
/// further dots (`model.int8.onnx`) the shorter names are tried too (`model.int8.toml`, then
/// `model.toml`), so quantized copies share their float model's config.
pub fn sidecar_path(model_path: &Path) -> Option<PathBuf> {
    let mut stem = model_path.file_stem()?.to_str()?;
    loop {
        let candidate = model_path.with_file_name(format!("{stem}.toml"));
        if candidate.is_file() {
            return Some(candidate);
        }
        stem = &stem[..stem.rfind('.')?];
    }
}

/// How many keypoints the head's outputs hold, when the shapes tell.
fn raw_keypoint_count(head: &HeadConfig, outputs: &[TensorSpec]) -> Option<usize> {
    let dims = |name: &str| -> Option<Vec<usize>> {
        let s = &outputs.iter().find(|o| o.name == name)?.shape;
        Some(match s.as_slice() {
            [1, rest @ ..] if !rest.is_empty() => rest.to_vec(),
            s => s.to_vec(),
        })
    };
    match head {
        HeadConfig::Regression { keypoints, .. } => Some(*keypoints),
        HeadConfig::Rle { coords, .. } => dims(coords)?.first().copied(),
        HeadConfig::Simcc { x, .. } => dims(x)?.first().copied(),
        HeadConfig::Heatmap { output, .. } | HeadConfig::Integral { output, .. } => dims(output)?.first().copied(),
    }
}

fn to_value<T: Serialize>(v: &T) -> Result<toml::Value> {
    toml::Value::try_from(v).map_err(|e| Error::Config(e.to_string()))
}

fn toml_usize(table: &toml::Value, key: &str) -> Option<usize> {
    table.get(key)?.as_integer().and_then(|v| usize::try_from(v).ok())
}

/// Merges `over` into `base`: tables recursively, other values replace; a `head` table that
/// has its own `kind` replaces the base head whole.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) if !(key == "head" && o.contains_key("kind")) => {
                merge(b, o)
            }
            (_, v) => {
                base.insert(key, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heads::{Activation, CoordUnits};

    fn spec(name: &str, shape: &[usize]) -> TensorSpec {
        TensorSpec::new(name, shape)
    }

    fn blazepose_outputs() -> Vec<TensorSpec> {
        vec![
            spec("Identity", &[1, 195]),
            spec("Identity_1", &[1, 1]),
            spec("Identity_2", &[1, 256, 256, 1]),
            spec("Identity_3", &[1, 64, 64, 39]),
            spec("Identity_4", &[1, 117]),
        ]
    }

    fn zoo_simcc() -> (TensorSpec, Vec<TensorSpec>) {
        (spec("input", &[1, 3, 256, 192]), vec![spec("simcc_x", &[1, 17, 384]), spec("simcc_y", &[1, 17, 512])])
    }

    #[test]
    fn blazepose_sidecar() {
        let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/blazepose/pose_landmark_full.onnx");
        let c = ModelConfig::for_model(&model, &spec("input_1", &[1, 256, 256, 3]), &blazepose_outputs()).unwrap();
        assert_eq!(
            c.input,
            InputConfig {
                name: "input_1".into(),
                width: 256,
                height: 256,
                layout: Layout::Nhwc,
                channels: ChannelOrder::Rgb,
                mean: [0.0; 3],
                std: [255.0; 3],
            }
        );
        assert_eq!(c.crop, CropConfig { protocol: CropProtocol::Square, padding: 1.25 });
        assert_eq!(
            c.head,
            HeadConfig::Regression {
                output: "Identity".into(),
                keypoints: 39,
                values: 5,
                x: 0,
                y: 1,
                score: Some(3),
                score_activation: Activation::Sigmoid,
                units: CoordUnits::InputPixels,
            }
        );
        assert_eq!(c.selection().count(39).unwrap(), 17);
        assert_eq!(c.selection().raw(3), 7);
        assert_eq!(c.keypoints.names.len(), 17);
        assert_eq!(c.score_mode(), ScoreMode::FlagKeypoint);
        assert_eq!(c.score.flag_output.as_deref(), Some("Identity_1"));
        assert_eq!(c.flip_indices().unwrap().of(5), 6);
        assert!(!c.udp_warp());
    }

    #[test]
    fn int8_variants_share_the_sidecar() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/blazepose");
        let expected = dir.join("pose_landmark_full.toml");
        assert_eq!(sidecar_path(&dir.join("pose_landmark_full.int8.onnx")), Some(expected.clone()));
        assert_eq!(sidecar_path(&dir.join("pose_landmark_full.onnx")), Some(expected));
        assert_eq!(sidecar_path(&dir.join("other.onnx")), None);
        assert_eq!(sidecar_path(Path::new("")), None);
    }

    #[test]
    fn blazepose_without_config_asks_for_one() {
        let msg =
            ModelConfig::detect(&spec("input_1", &[1, 256, 256, 3]), &blazepose_outputs()).unwrap_err().to_string();
        assert!(msg.contains("'Identity' [1, 195]") && msg.contains(".toml"), "{msg}");
    }

    #[test]
    fn mmpose_models_need_no_config() {
        let (input, outputs) = zoo_simcc();
        let c = ModelConfig::detect(&input, &outputs).unwrap();
        assert_eq!(c.input.size(), [192, 256]);
        assert_eq!(c.input.layout, Layout::Nchw);
        assert_eq!((c.input.mean, c.input.std), (IMAGENET_MEAN, IMAGENET_STD));
        assert_eq!(c.head.kind(), "simcc");
        assert_eq!(c.score_mode(), ScoreMode::BboxKeypoint);
        assert_eq!(c.score.keypoint_threshold, 0.2);
        assert_eq!(c.crop, CropConfig::default());
        let rle = [spec("coords", &[1, 17, 2]), spec("sigma", &[1, 17, 2])];
        let c = ModelConfig::detect(&spec("input", &[1, 3, 192, 192]), &rle).unwrap();
        assert_eq!(c.score_mode(), ScoreMode::BboxRle);
    }

    #[test]
    fn a_partial_file_overrides_detection() {
        let (input, outputs) = zoo_simcc();
        let text = "flip_test = true\n[head]\ndark_sigma = [6.0, 6.93]\n[crop]\npadding = 1.5\n";
        let c = ModelConfig::from_toml(text, &input, &outputs).unwrap();
        assert!(c.flip_test);
        assert_eq!(c.crop.padding, 1.5);
        assert_eq!(
            c.head,
            HeadConfig::Simcc {
                x: "simcc_x".into(),
                y: "simcc_y".into(),
                split_ratio: 2.0,
                dark_sigma: Some([6.0, 6.93])
            }
        );
        // Input overrides keep the detected name and size.
        let c = ModelConfig::from_toml("[input]\nchannels = 'bgr'\nrange = 'unit'\n", &input, &outputs).unwrap();
        assert_eq!((c.input.channels, c.input.std, c.input.width), (ChannelOrder::Bgr, [255.0; 3], 192));
    }

    #[test]
    fn config_errors_are_reported() {
        let (input, outputs) = zoo_simcc();
        // Unknown key, wrong output name, keypoint count mismatch, bad flip pair, bad TOML.
        for text in [
            "flip = true",
            "[head]\nkind = 'simcc'\nx = 'sx'\ny = 'simcc_y'",
            "[keypoints]\nselect = [0, 1]",
            "[keypoints]\nflip_pairs = [[0, 17]]",
            "[crop]\npadding = 0.0",
            "[input\n",
        ] {
            assert!(ModelConfig::from_toml(text, &input, &outputs).is_err(), "{text}");
        }
        let bad_input = spec("input", &[1, 4, 256, 192]);
        assert!(ModelConfig::detect(&bad_input, &outputs).is_err());
    }

    #[test]
    fn toml_round_trip() {
        let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/blazepose/pose_landmark_full.onnx");
        let input = spec("input_1", &[1, 256, 256, 3]);
        let c = ModelConfig::for_model(&model, &input, &blazepose_outputs()).unwrap();
        let again = ModelConfig::from_toml(&c.to_toml().unwrap(), &input, &blazepose_outputs()).unwrap();
        assert_eq!(again, c);
        let (input, outputs) = zoo_simcc();
        let c = ModelConfig::detect(&input, &outputs).unwrap();
        assert_eq!(ModelConfig::from_toml(&c.to_toml().unwrap(), &input, &outputs).unwrap(), c);
    }
}
