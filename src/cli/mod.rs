//! The `qpose` command line: one file per subcommand.

mod bench;
mod calibrate;
mod common;
mod compare;
mod compile;
mod demo;
mod eval;
mod inspect;
mod run;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "qpose", version, about = "Embedded-first int8 inference for lightweight top-down pose models")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Bench(bench::Args),
    /// Inputs, outputs, op histogram, parameters, MACs per layer and the kernel each runs.
    Inspect(inspect::Args),
    /// Runs a model on .npy inputs and writes every output as .npy.
    Run(run::Args),
    /// Imports and optimises an ONNX model once and writes it as a planned model (.qpose),
    /// which loads without the ONNX importer (the lean runtime).
    Compile(compile::Args),
    /// Calibrates an fp32 model on person crops and writes a QDQ (int8) ONNX model.
    Calibrate(calibrate::Args),
    /// Top-down pose estimation over a COCO set: AP/AR, PCK, COCO results JSON.
    Eval(eval::Args),
    /// fp32 vs int8 (or a QDQ model's float path vs its int8 path): AP/AR, keypoint
    /// displacement, per-layer SQNR, latency, and a markdown report with figures.
    Compare(compare::Args),
    /// The bundled BlazePose on the bundled COCO images, fp32 vs int8, report and images.
    Demo(demo::Args),
}

/// Parses arguments, runs the command, and returns the process exit code.
pub fn main() -> std::process::ExitCode {
    // A closed pipe (`qpose inspect | head`) ends the process quietly, as it does for other
    // command-line tools, instead of a panic in `println!`.
    #[cfg(unix)]
    // SAFETY: setting a signal disposition to its default has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench(a) => bench::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Run(a) => run::run(a),
        Command::Compile(a) => compile::run(a),
        Command::Calibrate(a) => calibrate::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Compare(a) => compare::run(a),
        Command::Demo(a) => demo::run(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Precision options for commands that run a model.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct PrecisionArgs {
    /// Run QDQ models through the float reference path instead of int8 kernels.
    #[arg(long)]
    pub float: bool,
    /// Keep these nodes in float (node or output tensor names, comma separated).
    #[arg(long = "keep-float", value_delimiter = ',', value_name = "NODE,...")]
    pub keep_float: Vec<String>,
}

impl PrecisionArgs {
    pub fn apply(&self, o: &mut crate::ModelOptions) {
        o.passes.int8 = !self.float;
        o.passes.keep_float.extend(self.keep_float.iter().cloned());
    }
}

/// Model options shared by subcommands that load a model.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ModelArgs {
    /// Concrete shape for an input with symbolic dimensions: NAME=1,3,256,192 (repeatable).
    #[arg(long = "input-shape", value_name = "NAME=DIMS")]
    pub input_shapes: Vec<String>,
    /// Cap the instruction set of qpose's own kernels (scalar, avx2, avx512, neon, neondot, neon32).
    #[arg(long)]
    pub isa: Option<String>,
}

impl ModelArgs {
    pub fn options(&self) -> crate::Result<crate::ModelOptions> {
        let mut o = crate::ModelOptions::default();
        for s in &self.input_shapes {
            let (name, dims) = s
                .split_once('=')
                .ok_or_else(|| crate::Error::Config(format!("--input-shape '{s}' is not NAME=DIMS")))?;
            let dims = dims
                .split(',')
                .map(|d| {
                    d.trim()
                        .parse::<usize>()
                        .map_err(|_| crate::Error::Config(format!("--input-shape '{s}': bad dimension '{d}'")))
                })
                .collect::<crate::Result<Vec<_>>>()?;
            o.load.input_shapes.insert(name.to_string(), dims);
        }
        if let Some(name) = &self.isa {
            let isa = crate::kernels::isa::Isa::from_name(name)
                .ok_or_else(|| crate::Error::Config(format!("unknown ISA '{name}'")))?;
            if !isa.is_available() {
                return Err(crate::Error::Config(format!("this CPU cannot run {name} code")));
            }
            o.plan.isa = isa;
        }
        Ok(o)
    }
}
