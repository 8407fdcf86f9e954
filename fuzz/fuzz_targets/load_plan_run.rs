//! ONNX bytes → import → passes → plan → one run on a small deterministic input.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::load_plan_run(data);
});
