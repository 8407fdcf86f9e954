//! Evaluation: COCO keypoint AP/AR as pycocotools computes it, mmpose's OKS-NMS, PCK/PCKh,
//! COCO results files, keypoint displacement between two runs, and drawings (pose overlays and
//! bar charts) for reports.

pub mod chart;
pub mod coco;
pub mod compare;
pub mod dataset;
pub mod displacement;
pub mod draw;
pub mod font;
pub mod nms;
pub mod oks;
pub mod pck;
pub mod report;
pub mod results;
pub mod topdown;

pub use crate::pipeline::score::{instance_score, ScoreMode};
pub use chart::render_bar_chart;
pub use coco::{evaluate_keypoints, CocoEvalParams, CocoStats};
pub use dataset::{CocoAnnotation, CocoDataset, CocoImage};
pub use displacement::{keypoint_displacement, Displacement};
pub use draw::{draw_pose, PoseStyle, FP32_COLOR, INT8_COLOR};
pub use nms::oks_nms;
pub use pck::{mpii_pckh, pck, MpiiPckh, Pck, PckSample};
pub use results::{read_results, write_results, KeypointResult};
pub use topdown::{estimate_set, summarize, EstimatedPerson, EvalSet, EvalSummary};

#[cfg(test)]
mod coco_fixture_tests;
