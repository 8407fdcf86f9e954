//! What one person costs beyond inference, as ratios: `TopDownPipeline::estimate_one` (affine
//! crop + normalisation + inference + decoding) over `Model::run` on the same crop, and the
//! crop alone (`preprocess`) over `Model::run`, for every committed zoo model (int8 and fp32)
//! on the `person` group's image and box of `benches/models.rs`.
//!
//! The three are timed interleaved, one call each per round, for `ROUNDS` rounds, and compared
//! by their minimum (and median): on a shared machine the inference alone swings by ±15 % from
//! one criterion run to the next, more than the few percent measured here, while the minimum
//! over interleaved rounds is stable to a percent or two.
//!
//! `taskset -c 1 cargo bench --bench person_overhead [-- FILTER]` (FILTER: part of a model file
//! name).

use qpose::pipeline::{bbox::BBox, image_file::load_rgb, load::config_for_model, preprocess, TopDownPipeline};
use qpose::{Model, ModelOptions};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

const ROUNDS: usize = 300;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // `cargo bench` passes `--bench`; the first other argument filters models.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with("--")).unwrap_or_default();
    let image = load_rgb(&root.join("tests/data/coco-mini-dev/images/000000037666.jpg")).expect("bundled image");
    let bbox = BBox::new(50.0, 40.0, 180.0, 320.0, 1.0);
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("models/zoo"))
        .expect("models/zoo")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "onnx") && p.to_string_lossy().contains(filter.as_str()))
        .collect();
    files.sort();
    println!("{:<40} {:>15} {:>15}   (min; median)", "model", "person / model", "crop / model");
    for file in files {
        let name = file.file_stem().unwrap_or_default().to_string_lossy().to_string();
        let mut model = Model::load(&file, &ModelOptions::default()).expect("zoo model loads");
        let mut config = config_for_model(&model, &file, None, None).expect("zoo model has a config");
        config.flip_test = false;
        let mut input = vec![0.0f32; config.input.len()];
        preprocess(&config, &image, &bbox, &mut input).expect("crop");
        let mut pipeline = TopDownPipeline::new(config.clone()).expect("pipeline");
        let mut crop = vec![0.0f32; config.input.len()];
        // Seconds per round: model, person, crop.
        let mut times = [vec![0.0f64; ROUNDS], vec![0.0; ROUNDS], vec![0.0; ROUNDS]];
        for round in 0..ROUNDS + 10 {
            let start = Instant::now();
            model.run(&[black_box(&input)]).expect("model runs");
            let model_done = Instant::now();
            black_box(pipeline.estimate_one(&mut model, black_box(&image), &bbox).expect("pipeline runs"));
            let person_done = Instant::now();
            preprocess(&config, black_box(&image), &bbox, &mut crop).expect("crop");
            let crop_done = Instant::now();
            // The first 10 rounds warm up.
            if let Some(r) = round.checked_sub(10) {
                times[0][r] = (model_done - start).as_secs_f64();
                times[1][r] = (person_done - model_done).as_secs_f64();
                times[2][r] = (crop_done - person_done).as_secs_f64();
            }
        }
        let [model_t, person_t, crop_t] = times.map(|mut t| {
            t.sort_by(f64::total_cmp);
            (t[0], t[ROUNDS / 2])
        });
        println!(
            "{name:<40} {:>6.3}; {:>6.3} {:>6.3}; {:>6.3}",
            person_t.0 / model_t.0,
            person_t.1 / model_t.1,
            crop_t.0 / model_t.0,
            crop_t.1 / model_t.1
        );
    }
}
