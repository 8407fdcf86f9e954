//! Compute kernels: pure functions of slices, each declared once with the instruction sets
//! it has, and tested against a naive reference on every variant the host can run.

pub mod bilinear_rgb8;
pub mod byte_table;
pub mod column_runs;
pub mod conv_direct_f32;
pub mod depthwise_f32;
pub mod depthwise_i8;
pub mod gemm_f32;
pub mod isa;
#[cfg(target_arch = "x86_64")]
pub mod pointwise_f32;
pub mod qdot;
pub mod qeltwise;
pub mod qgemm;
pub mod requant;
