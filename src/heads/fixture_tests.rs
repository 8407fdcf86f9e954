//! Every decoder against `tests/data/heads/fixtures.json`, written by
//! `tests/data/heads/make_fixtures.py` (an independent numpy implementation of mmpose's
//! decoding formulas, with OpenCV's Gaussian blur). Tolerances: keypoint coordinates within
//! 1e−3 input pixels (f32 here vs f64 in numpy, OpenCV's own f32 blur), scores within 1e−5.

use serde::Deserialize;

use super::{build_decoder, FlipIndices, HeadConfig, KeypointSelection, OutputTensor};

#[derive(Deserialize)]
struct Fixtures {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Tensor {
    name: String,
    shape: Vec<usize>,
    data: Vec<f32>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    head: HeadConfig,
    input: [usize; 2],
    #[serde(default)]
    select: Option<Vec<usize>>,
    #[serde(default)]
    flip_pairs: Vec<[usize; 2]>,
    outputs: Vec<Tensor>,
    #[serde(default)]
    flipped: Option<Vec<Tensor>>,
    expected: Vec<[f64; 3]>,
}

fn views(ts: &[Tensor]) -> Vec<OutputTensor<'_>> {
    ts.iter().map(|t| OutputTensor { name: &t.name, shape: &t.shape, data: &t.data }).collect()
}

#[test]
fn decoders_match_the_numpy_reference() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/heads/fixtures.json");
    let text = std::fs::read_to_string(path).unwrap();
    let fixtures: Fixtures = serde_json::from_str(&text).unwrap();
    assert!(fixtures.cases.len() >= 13);
    for case in &fixtures.cases {
        let mut decoder =
            build_decoder(&case.head, case.input, KeypointSelection::from_indices(case.select.clone())).unwrap();
        let mut kps = Vec::new();
        match &case.flipped {
            None => decoder.decode(&views(&case.outputs), &mut kps).unwrap(),
            Some(flipped) => {
                let flip = FlipIndices::from_pairs(case.expected.len(), &case.flip_pairs).unwrap();
                decoder.decode_flip(&views(&case.outputs), &views(flipped), &flip, &mut kps).unwrap()
            }
        }
        assert_eq!(kps.len(), case.expected.len(), "{}", case.name);
        for (j, (k, e)) in kps.iter().zip(&case.expected).enumerate() {
            let (dx, dy, ds) = (f64::from(k.x) - e[0], f64::from(k.y) - e[1], f64::from(k.score) - e[2]);
            assert!(
                dx.abs() <= 1e-3 && dy.abs() <= 1e-3 && ds.abs() <= 1e-5,
                "{} keypoint {j}: got {k:?}, expected {e:?}",
                case.name
            );
        }
    }
}
