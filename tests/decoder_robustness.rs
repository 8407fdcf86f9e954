//! Decoders, the top-down pipeline and the evaluation never panic: random garbage tensors
//! (NaN, infinities, huge, zero), degenerate boxes (zero area, negative size, outside the
//! image, non-finite), empty and tiny images, all-zero scores — through a fake backend.

use proptest::prelude::*;
use qpose::heads::{OutputTensor, TensorSpec};
use qpose::pipeline::backend::PoseBackend;
use qpose::pipeline::bbox::BBox;
use qpose::pipeline::config::ModelConfig;
use qpose::pipeline::topdown::TopDownPipeline;

/// Input 1x3x32x24 (height 32, width 24).
const H: usize = 32;
const W: usize = 24;

struct Head {
    toml: &'static str,
    outputs: Vec<(&'static str, Vec<usize>)>,
}

fn heads() -> Vec<Head> {
    vec![
        Head {
            toml: "[head]\nkind = 'simcc'\nx = 'sx'\ny = 'sy'\n",
            outputs: vec![("sx", vec![1, 17, 2 * W]), ("sy", vec![1, 17, 2 * H])],
        },
        Head {
            toml: "[head]\nkind = 'rle'\ncoords = 'coords'\nsigma = 'sigma'\n",
            outputs: vec![("coords", vec![1, 17, 2]), ("sigma", vec![1, 17, 2])],
        },
        Head { toml: "[head]\nkind = 'heatmap'\noutput = 'hm'\n", outputs: vec![("hm", vec![1, 17, H / 4, W / 4])] },
    ]
}

/// Answers every run with the same garbage.
struct Garbage {
    names: Vec<&'static str>,
    shapes: Vec<Vec<usize>>,
    data: Vec<Vec<f32>>,
}

impl PoseBackend for Garbage {
    fn run(&mut self, input: &[f32]) -> qpose::Result<Vec<OutputTensor<'_>>> {
        assert_eq!(input.len(), 3 * H * W);
        Ok((0..self.names.len())
            .map(|i| OutputTensor { name: self.names[i], shape: &self.shapes[i], data: &self.data[i] })
            .collect())
    }
}

fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        4 => -10.0f32..10.0,
        1 => Just(f32::NAN),
        1 => Just(f32::INFINITY),
        1 => Just(f32::NEG_INFINITY),
        1 => Just(0.0f32),
        1 => Just(f32::MAX),
        1 => Just(-f32::MAX),
        1 => Just(f32::MIN_POSITIVE),
    ]
}

fn coord() -> impl Strategy<Value = f32> {
    prop_oneof![
        4 => -100.0f32..400.0,
        1 => Just(f32::NAN),
        1 => Just(f32::INFINITY),
        1 => Just(f32::NEG_INFINITY),
        1 => Just(0.0f32),
        1 => Just(-1e30f32),
        1 => Just(1e30f32),
    ]
}

fn bbox() -> impl Strategy<Value = BBox> {
    (coord(), coord(), coord(), coord(), value()).prop_map(|(x, y, w, h, s)| BBox::new(x, y, w, h, s))
}

fn pipeline(head: &Head, flip: bool) -> (TopDownPipeline, Garbage) {
    let input = TensorSpec::new("input", &[1, 3, H, W]);
    let specs: Vec<TensorSpec> = head.outputs.iter().map(|(n, s)| TensorSpec::new(*n, s)).collect();
    let mut config = ModelConfig::from_toml(head.toml, &input, &specs).unwrap();
    config.flip_test = flip;
    let garbage = Garbage {
        names: head.outputs.iter().map(|(n, _)| *n).collect(),
        shapes: head.outputs.iter().map(|(_, s)| s.clone()).collect(),
        data: head.outputs.iter().map(|(_, s)| vec![0.0; s.iter().product()]).collect(),
    };
    (TopDownPipeline::new(config).unwrap(), garbage)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn garbage_outputs_boxes_and_images_never_panic(
        head in 0usize..3,
        flip in any::<bool>(),
        values in prop::collection::vec(value(), 1..64),
        boxes in prop::collection::vec(bbox(), 0..4),
        (iw, ih) in (0u32..9, 0u32..9),
        all_zero in any::<bool>(),
    ) {
        let heads = heads();
        let (mut p, mut net) = pipeline(&heads[head], flip);
        for d in &mut net.data {
            for (i, v) in d.iter_mut().enumerate() {
                *v = if all_zero { 0.0 } else { values[i % values.len()] };
            }
        }
        let image = image::RgbImage::from_fn(iw, ih, |x, y| image::Rgb([(x * 30) as u8, (y * 30) as u8, 7]));
        // Either an error or poses: never a panic. Poses have one keypoint per selected one.
        if let Ok(people) = p.estimate(&mut net, &image, &boxes) {
            prop_assert_eq!(people.len(), boxes.len());
            for person in &people {
                prop_assert_eq!(person.keypoints.len(), 17);
            }
            // OKS non-maximum suppression over whatever came out.
            let sigmas = [0.05f64; 17];
            let keep = qpose::eval::nms::oks_nms(&people, 0.9, &sigmas);
            prop_assert!(keep.iter().all(|&i| i < people.len()));
        }
    }
}

#[test]
fn oks_of_degenerate_poses_is_a_number_or_nan_never_a_panic() {
    let a = vec![[0.0f64, 0.0]; 17];
    let b = vec![[f64::NAN, f64::INFINITY]; 17];
    let sigmas = [0.05f64; 17];
    for (pa, pb, area_a, area_b) in [(&a, &a, 0.0, 0.0), (&a, &b, 0.0, 1.0), (&b, &b, f64::NAN, -1.0)] {
        let v = qpose::eval::oks::oks_between(pa, pb, area_a, area_b, &sigmas);
        assert!(v.is_nan() || (0.0..=1.0).contains(&v), "{v}");
    }
    // Zero-area identical poses.
    let same = qpose::eval::oks::oks_between(&a, &a, 0.0, 0.0, &sigmas);
    assert!((0.0..=1.0).contains(&same), "{same}");
}
