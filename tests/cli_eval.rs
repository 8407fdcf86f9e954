//! `qpose eval`: the library path against an independent onnxruntime + pycocotools reference
//! (tests/scripts/make_eval_reference.py), and the command's errors.

use std::path::{Path, PathBuf};
use std::process::Command;

use qpose::eval::topdown::{estimate_set, nms_results, summarize, EstimatedPerson, EvalSet};
use qpose::eval::CocoDataset;
use qpose::heads::Keypoint;
use qpose::pipeline::{config_for_model, BBox, CropBox, PersonPose, TopDownPipeline};
use qpose::{Model, ModelOptions};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const ANN: &str = "tests/data/coco-mini-dev/person_keypoints.json";
const IMAGES: &str = "tests/data/coco-mini-dev/images";
const FP32: &str = "models/blazepose/pose_landmark_full.onnx";

#[derive(serde::Deserialize)]
struct Reference {
    subset: Subset,
}

#[derive(serde::Deserialize)]
struct Subset {
    images: usize,
    people: Vec<RefPerson>,
    kept_after_nms: usize,
    stats: [f64; 10],
}

#[derive(serde::Deserialize)]
struct RefPerson {
    image_id: u64,
    bbox: [f32; 4],
    keypoints: Vec<f64>,
    score: f64,
}

fn reference() -> Subset {
    let text = std::fs::read_to_string(root().join("tests/data/eval/blazepose_reference.json")).unwrap();
    serde_json::from_str::<Reference>(&text).unwrap().subset
}

fn subset(n: usize) -> EvalSet {
    let gt = CocoDataset::load(&root().join(ANN)).unwrap();
    EvalSet::ground_truth(gt, &root().join(IMAGES), true).unwrap().first_images(n).unwrap()
}

/// The reference's people as qpose poses (crop = the square ROI, for NMS areas).
fn reference_people(r: &Subset, set: &EvalSet) -> Vec<EstimatedPerson> {
    r.people
        .iter()
        .map(|p| {
            let [x, y, w, h] = p.bbox;
            let side = 1.25 * w.max(h);
            let keypoints = p
                .keypoints
                .chunks_exact(3)
                .map(|k| Keypoint { x: k[0] as f32, y: k[1] as f32, score: k[2] as f32 })
                .collect();
            let pose = PersonPose {
                bbox: BBox::new(x, y, w, h, 1.0),
                crop: CropBox { center: [x + w / 2.0, y + h / 2.0], scale: [side, side] },
                keypoints,
                flag: None,
                score: p.score as f32,
            };
            let annotation = set.tasks.iter().flat_map(|t| &t.people).find(|q| q.bbox.x == x && q.bbox.y == y);
            EstimatedPerson { image_id: p.image_id, annotation: annotation.and_then(|a| a.annotation), pose }
        })
        .collect()
}

/// qpose's fp32 BlazePose on the first 5 images (7 people) lands within a fraction of a
/// pixel of onnxruntime's keypoints on the same protocol, and its AP/AR are pycocotools'
/// numbers for the reference results. The reference keeps its crops in float as qpose's warp
/// does (rounded to 8 bits as OpenCV does, this model's sigmoid scores near 0.5 move by a few
/// hundredths); what remains is JPEG decoding, where the `image` crate and libjpeg-turbo
/// differ by up to 3 grey levels in chroma on a few percent of the pixels.
#[test]
fn eval_on_five_images_matches_onnxruntime_and_pycocotools() {
    let r = reference();
    let set = subset(r.images);
    assert_eq!(set.people(), r.people.len());

    // Scoring alone: the reference's own keypoints through qpose's NMS + evaluator give
    // pycocotools' stats for them.
    let sigmas = qpose::heads::COCO17_SIGMAS.to_vec();
    let ref_people = reference_people(&r, &set);
    assert_eq!(nms_results(&ref_people, &sigmas).len(), r.kept_after_nms);
    let ref_summary = summarize(&set.gt, &ref_people, &sigmas).unwrap();
    for (got, want) in ref_summary.stats.to_array().iter().zip(r.stats) {
        assert!((got - want).abs() < 1e-9, "stats {:?} vs pycocotools {:?}", ref_summary.stats, r.stats);
    }

    // The whole pipeline.
    let path = root().join(FP32);
    let mut model = Model::load(&path, &ModelOptions::default()).unwrap();
    let config = config_for_model(&model, &path, None, None).unwrap();
    let mut pipeline = TopDownPipeline::new(config.clone()).unwrap();
    let mut calls = 0;
    let people = estimate_set(&set, &mut pipeline, &mut model, &mut |_| calls += 1).unwrap();
    assert_eq!(calls, set.tasks.len());
    let summary = summarize(&set.gt, &people, &config.keypoints.sigmas).unwrap();
    let mut max_d = 0f64;
    let mut sum_d = 0f64;
    let (mut max_s, mut max_i) = (0f64, 0f64);
    for (p, q) in people.iter().zip(&r.people) {
        assert_eq!(p.image_id, q.image_id);
        for (k, t) in p.pose.keypoints.iter().zip(q.keypoints.chunks_exact(3)) {
            let d = (f64::from(k.x) - t[0]).hypot(f64::from(k.y) - t[1]);
            max_d = max_d.max(d);
            sum_d += d;
            max_s = max_s.max((f64::from(k.score) - t[2]).abs());
        }
        max_i = max_i.max((f64::from(p.pose.score) - q.score).abs());
    }
    let mean_d = sum_d / (17 * people.len()) as f64;
    // Measured: 0.07 px mean, 0.37 px max; scores 0.021 (keypoint) and 0.005 (instance) max.
    assert!(mean_d < 0.2 && max_d < 1.0, "keypoints {mean_d:.3} px mean, {max_d:.3} px max from onnxruntime's");
    assert!(max_s < 0.05 && max_i < 0.02, "scores differ by up to {max_s} (keypoints), {max_i} (people)");
    let (ap, ar) = (summary.stats.ap, summary.stats.ar);
    assert!((ap - r.stats[0]).abs() < 0.01 && (ar - r.stats[5]).abs() < 0.01, "AP {ap} AR {ar} vs {:?}", r.stats);
    assert!(summary.pck.as_ref().is_some_and(|p| p.mean > 0.2 && p.mean <= 1.0), "{:?}", summary.pck);
    assert_eq!(summary.raw.len(), 7);
}

fn qpose(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_qpose")).args(args).current_dir(root()).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("qpose-cli-eval-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The command end to end on one image: the stats, PCK and the results file.
#[test]
fn eval_command_writes_results() {
    let dir = tmp("ok");
    let json = dir.join("results.json");
    let (ok, stdout, stderr) = qpose(&[
        "eval",
        FP32,
        "--coco",
        ANN,
        "--images",
        IMAGES,
        "--max-images",
        "1",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    for s in ["AP (M)", "AR .75", "PCK@0.05", "1 of 1 images have people: 1 people", "1 results ->"] {
        assert!(stdout.contains(s), "{s} missing from:\n{stdout}");
    }
    let results = qpose::eval::read_results(&json).unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].keypoints.len(), 51);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Bad input is an error message naming the problem, never a panic.
#[test]
fn eval_errors_are_clear() {
    let dir = tmp("errors");
    let empty = dir.join("empty.json");
    std::fs::write(&empty, r#"{"images": [], "annotations": []}"#).unwrap();
    let dets = dir.join("dets.json");
    std::fs::write(&dets, r#"[{"image_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9, "category_id": 1}]"#).unwrap();
    let bad_config = dir.join("bad.toml");
    std::fs::write(&bad_config, "[head]\nkind = 'simcc'\nx = 'nope'\ny = 'nope'\n").unwrap();
    let blaze_config = "models/blazepose/pose_landmark_full.toml";
    let zoo = "models/zoo/mbv2_0.75x_simcc_192x192_fp32.onnx";
    let p = |x: &Path| x.to_str().unwrap().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["missing.onnx".into(), "--coco".into(), ANN.into(), "--images".into(), IMAGES.into()], "missing.onnx"),
        (vec![FP32.into(), "--coco".into(), "nope.json".into(), "--images".into(), IMAGES.into()], "nope.json"),
        (vec![FP32.into(), "--coco".into(), ANN.into(), "--images".into(), "nodir".into()], "nodir"),
        (vec![FP32.into(), "--coco".into(), p(&empty), "--images".into(), IMAGES.into()], "nothing to evaluate"),
        (
            vec![
                FP32.into(),
                "--coco".into(),
                ANN.into(),
                "--images".into(),
                IMAGES.into(),
                "--boxes".into(),
                p(&dets),
            ],
            "image 1 which is not in the annotation file",
        ),
        (
            vec![
                zoo.into(),
                "--coco".into(),
                ANN.into(),
                "--images".into(),
                IMAGES.into(),
                "--config".into(),
                blaze_config.into(),
            ],
            "the config names output 'Identity'",
        ),
        (
            vec![
                FP32.into(),
                "--coco".into(),
                ANN.into(),
                "--images".into(),
                IMAGES.into(),
                "--config".into(),
                p(&bad_config),
            ],
            "bad.toml",
        ),
        (
            vec![
                FP32.into(),
                "--coco".into(),
                ANN.into(),
                "--images".into(),
                IMAGES.into(),
                "--config".into(),
                "none.toml".into(),
            ],
            "none.toml does not exist",
        ),
    ];
    for (args, want) in cases {
        let mut all = vec!["eval".to_string()];
        all.extend(args.iter().cloned());
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let (ok, _, stderr) = qpose(&all);
        assert!(!ok, "{args:?} succeeded");
        assert!(stderr.starts_with("error: ") && stderr.contains(want), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
