//! The lean runtime as a program: `qpose-lean MODEL [RUNS]` loads and plans the model once
//! (a planned `.qpose`; also ONNX when built with the `onnx` feature), runs it RUNS times
//! (default 20) on a fixed input and prints the load time, the arena size, the outputs'
//! shapes and checksums and the mean time per run. Built without the `cli` feature, it
//! measures what a deployment costs: binary size and peak RSS (see README, "Embedded
//! targets").

use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: qpose-lean MODEL.qpose [RUNS]");
        return ExitCode::from(2);
    };
    let runs: usize = match args.get(2).map(|s| s.parse()) {
        None => 20,
        Some(Ok(n)) if n > 0 => n,
        _ => {
            eprintln!("RUNS must be a positive integer");
            return ExitCode::from(2);
        }
    };
    match run(path.as_ref(), runs) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(path: &std::path::Path, runs: usize) -> qpose::Result<()> {
    let start = Instant::now();
    let mut model = qpose::Model::load(path, &qpose::ModelOptions::default())?;
    let load_ms = start.elapsed().as_secs_f64() * 1e3;
    let inputs: Vec<Vec<f32>> = model
        .inputs()
        .iter()
        .map(|p| (0..p.shape.iter().product::<usize>()).map(|i| (i % 255) as f32 / 255.0).collect())
        .collect();
    let mut outputs: Vec<Vec<f32>> = model.outputs().iter().map(|p| vec![0f32; p.shape.iter().product()]).collect();
    let ins: Vec<&[f32]> = inputs.iter().map(|v| v.as_slice()).collect();
    let start = Instant::now();
    for _ in 0..runs {
        let mut outs: Vec<&mut [f32]> = outputs.iter_mut().map(|v| v.as_mut_slice()).collect();
        model.run_into(&ins, &mut outs)?;
    }
    let ms = start.elapsed().as_secs_f64() * 1e3 / runs as f64;
    println!("model: {}", path.display());
    println!("load: {load_ms:.3} ms (read, check, plan)");
    println!("arena: {} bytes", model.arena_bytes());
    for (p, v) in model.outputs().iter().zip(&outputs) {
        println!("output {} {:?} sum {:.6}", p.name, p.shape, v.iter().map(|&x| x as f64).sum::<f64>());
    }
    println!("runs: {runs}, {ms:.3} ms per run");
    Ok(())
}
