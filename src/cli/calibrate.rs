//! `qpose calibrate`: fp32 ONNX → QDQ ONNX (int8) calibrated on real person crops.

use crate::calibrate::{
    self, dataset, evaluate, ActivationType, Budget, CalibrateOptions, LsqOptions, ObserverKind, Source, Split,
    WeightObserverKind, WeightRounding,
};
use crate::{Error, Result};
use clap::Args as ClapArgs;
use std::path::PathBuf;

#[derive(ClapArgs, Debug)]
pub struct Args {
    /// The fp32 ONNX model (opset >= 13). Its config sidecar (MODEL.toml) says how crops are
    /// prepared; without one, mmpose defaults are detected from the input shape.
    pub model: PathBuf,
    /// Folder of images. With --coco: the annotations' image folder; alone: every
    /// .jpg/.jpeg/.png, the whole image taken as the person box.
    #[arg(long)]
    pub images: PathBuf,
    /// COCO keypoint annotations: every person with labelled keypoints is a crop (ground-truth
    /// boxes).
    #[arg(long)]
    pub coco: Option<PathBuf>,
    /// Activation observer: minmax, ema, percentile, mse, entropy.
    #[arg(long, default_value = "minmax")]
    pub observer: ObserverKind,
    /// Also try these activation observers (comma separated), per quantization group: a
    /// group takes another observer's range when the measured head-output error on the
    /// evaluation crops goes down (one model measurement per group and observer).
    #[arg(long, value_delimiter = ',', value_name = "OBSERVER,...")]
    pub try_observers: Vec<ObserverKind>,
    /// Weight observer per output channel: minmax, mse.
    #[arg(long, default_value = "minmax")]
    pub weight_observer: WeightObserverKind,
    /// Weight rounding: nearest, or gptq (each input column's rounding error carried onto
    /// the columns after it, weighted by the second moment of the layer's float calibration
    /// inputs, so that the layer's output error is smallest; the bias takes the error's mean,
    /// which makes --bias-correct redundant).
    #[arg(long, default_value = "nearest")]
    pub weight_rounding: WeightRounding,
    /// Activation type: u8 or s8.
    #[arg(long, default_value = "u8")]
    pub activation_type: ActivationType,
    /// Learn step sizes and offsets with LSQ+ per layer (initialised from MSE).
    #[arg(long)]
    pub lsq: bool,
    /// LSQ+ Adam steps per layer.
    #[arg(long, default_value_t = LsqOptions::default().iterations)]
    pub lsq_iterations: usize,
    /// Cross-layer equalization before calibrating.
    #[arg(long)]
    pub equalize: bool,
    /// Correct biases for the weights' quantization error (DFQ, with measured input means).
    #[arg(long)]
    pub bias_correct: bool,
    /// Keep these nodes in float (node or output tensor names, comma separated).
    #[arg(long = "keep-float", value_delimiter = ',', value_name = "NODE,...")]
    pub keep_float: Vec<String>,
    /// Keep the residual joins in float (each Add of two computed tensors, and a Relu/Clip
    /// right after one): the residual stream is quantized only where a layer reads it. No
    /// multiply-accumulates move to float.
    #[arg(long)]
    pub float_residuals: bool,
    /// Keep layers in float: the fewest that meet an error budget, sqnr:DB (head-output SQNR
    /// against fp32, e.g. sqnr:30) or px:PIXELS (mean keypoint displacement in input-crop
    /// pixels, e.g. px:2.0); or those that lower the error most while at least PERCENT % of
    /// the MACs stay int8, int8:PERCENT (e.g. int8:90).
    #[arg(long)]
    pub auto_mixed: Option<Budget>,
    /// Calibrate on at most N crops (evenly spaced over the source).
    #[arg(long)]
    pub samples: Option<usize>,
    /// Which images to calibrate on: all, even, odd (by image order). With --eval, a split
    /// is evaluated on the other half (held out).
    #[arg(long, default_value = "all")]
    pub split: String,
    /// Crops used for the sensitivity analysis and the report's SQNR (evenly spaced).
    #[arg(long, default_value_t = 16)]
    pub eval_samples: usize,
    /// With --coco: COCO keypoint AP of the fp32 model and the int8 model (qpose, ground-truth
    /// boxes) on the calibration crops, or on the held-out half with --split.
    #[arg(long)]
    pub eval: bool,
    /// Seed of every random choice (LSQ+ sampling).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also write the report as markdown.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
    /// Where to write the QDQ model.
    #[arg(long)]
    pub out: PathBuf,
}

fn split(s: &str) -> Result<Split> {
    match s {
        "all" => Ok(Split::All),
        "even" => Ok(Split::Even),
        "odd" => Ok(Split::Odd),
        _ => Err(Error::Config(format!("--split '{s}': expected all, even or odd"))),
    }
}

pub fn run(a: Args) -> Result<()> {
    let calib_split = split(&a.split)?;
    if a.eval && a.coco.is_none() {
        return Err(Error::Config("--eval needs --coco (ground truth)".into()));
    }
    let source = match &a.coco {
        Some(ann) => Source::Coco { annotations: ann.clone(), images: a.images.clone() },
        None => Source::Images { dir: a.images.clone() },
    };
    let show = !a.quiet;
    let bar = calibrate::progress_bar(show, 0, "preparing crops");
    let (mut net, config, set) = calibrate::load_for_calibration(&a.model, &source, calib_split, a.samples, |i, n| {
        bar.set_length(n as u64);
        bar.set_position(i as u64);
    })?;
    bar.finish_and_clear();
    eprintln!("calibrating {} on {} crops", a.model.display(), set.samples.len());
    if a.equalize {
        let eq = calibrate::equalize_with_data(&mut net, &set)?;
        eprintln!(
            "equalized {} layer pairs across identity/ReLU and {} of {} pairs across a clip (data-aware)",
            eq.pairs.len(),
            eq.clipped,
            eq.skipped_clip
        );
    }
    let opts = CalibrateOptions {
        observer: a.observer,
        try_observers: a.try_observers.clone(),
        weight_observer: a.weight_observer,
        weight_rounding: a.weight_rounding,
        activation_type: a.activation_type,
        lsq: a.lsq.then(|| LsqOptions { iterations: a.lsq_iterations, ..LsqOptions::default() }),
        equalize: a.equalize,
        bias_correct: a.bias_correct,
        keep_float: a.keep_float.clone(),
        float_residuals: a.float_residuals,
        auto_mixed: a.auto_mixed,
        eval_samples: a.eval_samples,
        seed: a.seed,
        progress: show,
    };
    let out = calibrate::calibrate_net(net, Some(&config), &set, &opts)?;
    out.write(&a.out)?;
    print!("{}", out.report.text());
    println!("wrote {}", a.out.display());
    let mut md = out.report.markdown();
    if a.eval {
        let eval_split = match calib_split {
            Split::All => Split::All,
            Split::Even => Split::Odd,
            Split::Odd => Split::Even,
        };
        let eval_set = if eval_split == calib_split {
            set.clone()
        } else {
            dataset::load(&config, &source, eval_split, None, |_, _| {})?
        };
        let coco = eval_set.coco.as_ref().ok_or_else(|| Error::invalid("no COCO annotations"))?;
        let samples: Vec<&dataset::Sample> = eval_set.samples.iter().collect();
        let mut fp32 = crate::Model::load(&a.model, &crate::ModelOptions::default())?;
        let (s32, r32) = evaluate::coco_ap(&mut fp32, &config, &samples, coco)?;
        let mut int8 = evaluate::load_model(&out.proto, true)?;
        let (s8, r8) = evaluate::coco_ap(&mut int8, &config, &samples, coco)?;
        let d = crate::eval::keypoint_displacement(&r32, &r8)?;
        // Head outputs against fp32 on the same crops (SQNR, displacement in input pixels).
        let mut refs = Vec::with_capacity(samples.len());
        for s in &samples {
            refs.push(evaluate::run_outputs(&mut fp32, &s.input)?);
        }
        let ref_views: Vec<&Vec<(String, crate::tensor::Tensor)>> = refs.iter().collect();
        let agree = evaluate::agreement(&mut int8, &samples, &ref_views, Some(&config))?;
        let which = if eval_split == calib_split { "the calibration crops" } else { "the held-out half" };
        let line = format!(
            "COCO keypoint AP on {which} ({} people, ground-truth boxes): fp32 {:.3} (AR {:.3}), int8 {:.3} (AR {:.3}); \
             int8 vs fp32: head-output SQNR {:.2} dB, mean keypoint displacement {:.3} input px ({:.2} image px)",
            samples.len(),
            s32.ap,
            s32.ar,
            s8.ap,
            s8.ar,
            agree.sqnr_db,
            agree.displacement_px,
            d.mean
        );
        println!("{line}");
        md.push_str(&format!("\n{line}\n"));
    }
    if let Some(path) = &a.report {
        std::fs::write(path, md).map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}
