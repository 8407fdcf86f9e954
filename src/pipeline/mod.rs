//! Top-down pose pipeline pieces: model config, person box → crop, affine warp into the input
//! tensor, flip test, and keypoints back to image pixels.

pub mod affine;
pub mod backend;
pub mod bbox;
pub mod config;
pub mod flip;
pub mod image_file;
pub mod load;
pub mod score;
pub mod topdown;
pub mod warp;

pub use affine::Affine2x3;
pub use backend::PoseBackend;
pub use bbox::{BBox, CropBox, CropProtocol};
pub use config::{
    sidecar_path, ChannelOrder, CropConfig, InputConfig, KeypointConfig, Layout, ModelConfig, ScoreConfig,
};
pub use image_file::{load_rgb, save_png};
pub use load::config_for_model;
pub use score::{instance_score, ScoreMode};
pub use topdown::{preprocess, PersonPose, TopDownPipeline};
pub use warp::warp_into;

#[cfg(test)]
mod warp_fixture_tests;
