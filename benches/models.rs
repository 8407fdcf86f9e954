//! Whole-model latency of `Model::run`, single-threaded, on real person crops.
//!
//! Every committed model file (`models/zoo/*.onnx`, `models/blazepose/*.onnx`) and every
//! `models/generated/*.onnx` present (`python models/zoo.py --all`; skipped when absent). Each
//! benchmark is named by the model's file name. Inputs are the reference crops of
//! `tests/data/reference/manifest.json` (case 0) so activations are realistic; a model not in
//! the manifest gets a manifest crop of the same shape, or the 192x192 crop of its layout resized
//! bilinearly to its size. A model qpose cannot load yet is reported and skipped.
//!
//! The `person` group times the whole top-down step for one person on the same models:
//! affine crop of a COCO image + normalisation + inference + head decoding
//! (`TopDownPipeline::estimate_one`, no flip test), to set against `model/<name>`.
//!
//! The `warp` group times the affine crop alone (`warp_into`) for the `person` group's image and
//! box into a 192x192 ImageNet-normalised input, NCHW and NHWC; throughput is in input pixels.
//! `QPOSE_ISA=scalar` times the scalar variant.
//!
//! `cargo bench --bench models [-- FILTER]`; pin it (`taskset -c 1 cargo bench ...`) for stable
//! numbers. Compare runtimes with `benches/compare_peers.py`, not across machines or runs.

use criterion::{criterion_group, criterion_main, Criterion};
use qpose::tensor::npy;
use qpose::{Model, ModelOptions};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Model files to bench, committed first, in a stable order.
fn model_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["models/zoo", "models/blazepose", "models/generated"] {
        let Ok(entries) = std::fs::read_dir(root().join(dir)) else {
            continue;
        };
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
            .collect();
        found.sort();
        files.extend(found);
    }
    files
}

/// (model path relative to the root, input name -> .npy path) for every manifest entry.
fn manifest() -> Vec<(String, Vec<(String, String)>)> {
    let path = root().join("tests/data/reference/manifest.json");
    let text = std::fs::read_to_string(&path).expect("tests/data/reference/manifest.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("manifest is JSON");
    json["models"]
        .as_array()
        .map(|models| {
            models
                .iter()
                .filter_map(|m| {
                    let inputs = m["cases"][0]["inputs"].as_object()?;
                    Some((
                        m["model"].as_str()?.to_string(),
                        inputs.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A real crop for every input of `model`, and a note on where it came from.
fn inputs_for(file: &Path, model: &Model) -> Option<(Vec<Vec<f32>>, String)> {
    let manifest = manifest();
    let rel = file.strip_prefix(root()).unwrap_or(file).to_string_lossy().replace('\\', "/");
    let mut data = Vec::new();
    let mut notes = Vec::new();
    for port in model.inputs() {
        // 1. This model's own reference input.
        let own =
            manifest.iter().find(|(m, _)| *m == rel).and_then(|(_, ins)| ins.iter().find(|(n, _)| *n == port.name));
        // 2. Any reference input of the same shape.
        let same_shape = || {
            manifest
                .iter()
                .flat_map(|(_, ins)| ins.iter())
                .find(|(_, f)| npy::read(&root().join(f)).is_ok_and(|t| t.shape() == port.shape.as_slice()))
        };
        if let Some((_, f)) = own.or_else(same_shape) {
            let t = npy::read(&root().join(f)).ok()?;
            data.push(t.to_f32_vec());
            notes.push(f.clone());
            continue;
        }
        // 3. The 192x192 crop of the same layout, resized.
        let (nchw, h, w) = match *port.shape.as_slice() {
            [1, 3, h, w] => (true, h, w),
            [1, h, w, 3] => (false, h, w),
            _ => return None,
        };
        let src = "tests/data/reference/input_192x192/input_0.npy";
        let t = npy::read(&root().join(src)).ok()?;
        if t.shape() != [1, 3, 192, 192] {
            return None;
        }
        let planes = t.to_f32_vec();
        let mut out = vec![0f32; 3 * h * w];
        for c in 0..3 {
            let plane = &planes[c * 192 * 192..(c + 1) * 192 * 192];
            for y in 0..h {
                for x in 0..w {
                    let v = bilinear(plane, 192, 192, y, x, h, w);
                    let o = if nchw { (c * h + y) * w + x } else { (y * w + x) * 3 + c };
                    out[o] = v;
                }
            }
        }
        data.push(out);
        notes.push(format!("{src} resized to {h}x{w}"));
    }
    Some((data, notes.join(", ")))
}

/// Bilinear sample (align_corners = false) of pixel (`y`, `x`) of an `h x w` resize of `plane`.
fn bilinear(plane: &[f32], sh: usize, sw: usize, y: usize, x: usize, h: usize, w: usize) -> f32 {
    let fy = ((y as f32 + 0.5) * sh as f32 / h as f32 - 0.5).clamp(0.0, (sh - 1) as f32);
    let fx = ((x as f32 + 0.5) * sw as f32 / w as f32 - 0.5).clamp(0.0, (sw - 1) as f32);
    let (y0, x0) = (fy.floor() as usize, fx.floor() as usize);
    let (y1, x1) = ((y0 + 1).min(sh - 1), (x0 + 1).min(sw - 1));
    let (dy, dx) = (fy - y0 as f32, fx - x0 as f32);
    let p = |yy: usize, xx: usize| plane[yy * sw + xx];
    (p(y0, x0) * (1.0 - dx) + p(y0, x1) * dx) * (1.0 - dy) + (p(y1, x0) * (1.0 - dx) + p(y1, x1) * dx) * dy
}

fn models(c: &mut Criterion) {
    let mut group = c.benchmark_group("model");
    group.sample_size(30).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    for file in model_files() {
        let name =
            file.file_name().map(|n| n.to_string_lossy().trim_end_matches(".onnx").to_string()).unwrap_or_default();
        let mut model = match Model::load(&file, &ModelOptions::default()) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("model/{name}: skipped, qpose cannot load it yet: {e}");
                continue;
            }
        };
        let Some((inputs, source)) = inputs_for(&file, &model) else {
            eprintln!("model/{name}: skipped, no input of its shape");
            continue;
        };
        let macs: u64 = model.plan().steps.iter().map(|s| s.macs).sum();
        eprintln!("model/{name}: {:.3} GMAC, {} steps, input {source}", macs as f64 / 1e9, model.plan().steps.len());
        let refs: Vec<&[f32]> = inputs.iter().map(Vec::as_slice).collect();
        group.bench_function(name, |b| {
            b.iter(|| {
                model.run(black_box(&refs)).expect("model runs");
                black_box(model.output(0).bytes.first().copied())
            })
        });
    }
    group.finish();
}

/// One person end to end: crop, normalise, infer, decode (the first annotated person of a
/// bundled COCO image), for every model whose config qpose knows.
fn person(c: &mut Criterion) {
    use qpose::pipeline::{bbox::BBox, image_file::load_rgb, load::config_for_model, topdown::TopDownPipeline};
    let mut group = c.benchmark_group("person");
    group.sample_size(30).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    let image = load_rgb(&root().join("tests/data/coco-mini-dev/images/000000037666.jpg")).expect("bundled image");
    let bbox = BBox::new(50.0, 40.0, 180.0, 320.0, 1.0);
    for file in model_files() {
        let name =
            file.file_name().map(|n| n.to_string_lossy().trim_end_matches(".onnx").to_string()).unwrap_or_default();
        let Ok(mut model) = Model::load(&file, &ModelOptions::default()) else { continue };
        let config = config_for_model(&model, &file, None, None).map(|mut c| {
            c.flip_test = false;
            c
        });
        let mut pipeline = match config.and_then(TopDownPipeline::new) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("person/{name}: skipped, no pipeline config: {e}");
                continue;
            }
        };
        group.bench_function(name, |b| {
            b.iter(|| black_box(pipeline.estimate_one(&mut model, black_box(&image), &bbox).expect("pipeline runs")))
        });
    }
    group.finish();
}

/// The affine crop alone: the `person` group's image and box warped into a 192x192 input.
fn warp(c: &mut Criterion) {
    use qpose::pipeline::{
        bbox::{BBox, CropBox, CropProtocol},
        config::{ChannelOrder, InputConfig, Layout, IMAGENET_MEAN, IMAGENET_STD},
        image_file::load_rgb,
        warp_into, Affine2x3,
    };
    let mut group = c.benchmark_group("warp");
    group.sample_size(50).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    let image = load_rgb(&root().join("tests/data/coco-mini-dev/images/000000037666.jpg")).expect("bundled image");
    let size = [192, 192];
    let crop = CropBox::from_bbox(&BBox::new(50.0, 40.0, 180.0, 320.0, 1.0), CropProtocol::Mmpose, 1.25, size);
    let m = Affine2x3::image_to_input(&crop, size);
    group.throughput(criterion::Throughput::Elements((size[0] * size[1]) as u64));
    for (name, layout) in [("nchw_192x192", Layout::Nchw), ("nhwc_192x192", Layout::Nhwc)] {
        let input = InputConfig {
            name: "input".into(),
            width: size[0],
            height: size[1],
            layout,
            channels: ChannelOrder::Rgb,
            mean: IMAGENET_MEAN,
            std: IMAGENET_STD,
        };
        let mut out = vec![0.0f32; input.len()];
        group.bench_function(name, |b| {
            b.iter(|| {
                warp_into(black_box(&image), &m, &input, &mut out).expect("warp runs");
                black_box(out[0])
            })
        });
    }
    group.finish();
}

criterion_group!(benches, models, person, warp);
criterion_main!(benches);
