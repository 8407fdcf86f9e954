//! The evaluator against pycocotools and xtcocotools on `tests/data/eval/`: the trimmed
//! COCO-mini-dev ground truth and twelve synthetic result sets, scored by
//! `tests/data/eval/make_coco_fixture.py`.

use std::path::PathBuf;

use serde::Deserialize;

use super::{evaluate_keypoints, read_results, CocoDataset, CocoEvalParams};

#[derive(Deserialize)]
struct Stats {
    pycocotools_stats: std::collections::BTreeMap<String, [f64; 10]>,
    xtcocotools_stats: std::collections::BTreeMap<String, [f64; 10]>,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/eval")
}

/// Largest absolute difference over all stats of all sets.
fn max_difference(reference: &std::collections::BTreeMap<String, [f64; 10]>, params: &CocoEvalParams) -> f64 {
    let gt = CocoDataset::load(&dir().join("coco_gt.json")).unwrap();
    let mut worst = 0.0f64;
    for (name, expected) in reference {
        let results = read_results(&dir().join(format!("results_{name}.json"))).unwrap();
        let got = evaluate_keypoints(&gt, &results, params).unwrap().to_array();
        for (i, (g, e)) in got.iter().zip(expected).enumerate() {
            assert!((g - e).abs() < 1e-9, "{name} stat {i}: got {g}, reference {e}");
            worst = worst.max((g - e).abs());
        }
    }
    worst
}

#[test]
fn all_stats_equal_pycocotools() {
    let stats: Stats = serde_json::from_str(&std::fs::read_to_string(dir().join("coco_stats.json")).unwrap()).unwrap();
    assert_eq!(stats.pycocotools_stats.len(), 12);
    let worst = max_difference(&stats.pycocotools_stats, &CocoEvalParams::default());
    eprintln!("max |qpose − pycocotools| over all stats: {worst:e}");
}

#[test]
fn drop_nonpositive_equals_xtcocotools() {
    let stats: Stats = serde_json::from_str(&std::fs::read_to_string(dir().join("coco_stats.json")).unwrap()).unwrap();
    // The sets differ between the two tools only where all keypoint scores are zero.
    assert!(stats.xtcocotools_stats["zero_scores"][0] < stats.pycocotools_stats["zero_scores"][0] - 0.1);
    let params = CocoEvalParams { drop_nonpositive: true, ..CocoEvalParams::default() };
    let worst = max_difference(&stats.xtcocotools_stats, &params);
    eprintln!("max |qpose − xtcocotools| over all stats: {worst:e}");
}
