//! Planned-model bytes (`.qpose`) → checks → plan → one run on a small deterministic input.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::load_planned_run(data);
});
