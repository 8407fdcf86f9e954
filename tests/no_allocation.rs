//! Once a model is planned, running it allocates nothing: a counting global allocator sees
//! zero allocations during every inference after the first (fp32 and int8 models, every
//! committed architecture). The lean build (`--no-default-features`, no ONNX importer) checks
//! the committed planned models (`tests/data/planned/`) only.
//!
//! Only the inferring thread's allocations count (qpose runs on the caller's thread): the
//! test harness's own thread allocates when it reports a test running for over 60 s, which
//! this one does under qemu.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Set on the thread running the test.
    static COUNTED_THREAD: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if COUNTED_THREAD.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn inference_after_the_first_allocates_nothing() {
    COUNTED_THREAD.with(|c| c.set(true));
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let planned = [
        "tests/data/planned/mbv2_0.5x_rle_192x192_fp32.qpose",
        "tests/data/planned/mbv2_0.5x_rle_192x192_ort_u8s8.qpose",
        "tests/data/planned/mbv2_0.75x_simcc_192x192_ort_u8s8.qpose",
    ];
    #[cfg(feature = "onnx")]
    let onnx = [
        "models/zoo/mbv2_0.5x_rle_192x192_fp32.onnx",
        "models/zoo/mbv2_0.5x_rle_192x192_ort_u8s8.onnx",
        "models/zoo/mbv2_0.75x_simcc_192x192_qat.onnx",
        "models/blazepose/pose_landmark_full.onnx",
        "models/blazepose/pose_landmark_full.int8.onnx",
    ];
    #[cfg(not(feature = "onnx"))]
    let onnx: [&str; 0] = [];
    for model in planned.into_iter().chain(onnx) {
        let mut m = qpose::Model::load(&root.join(model), &qpose::ModelOptions::default()).unwrap();
        let input = vec![0.25f32; m.inputs()[0].shape.iter().product()];
        m.run(&[&input]).unwrap(); // the first run may initialise lazily (kernel scratch, TLS)
        let before = ALLOCATIONS.load(Ordering::SeqCst);
        m.run(&[&input]).unwrap();
        let during = ALLOCATIONS.load(Ordering::SeqCst) - before;
        assert_eq!(during, 0, "{model}: {during} allocations in the second inference");
        assert!(m.output(0).as_f32().unwrap().iter().all(|v| v.is_finite()));
    }
}
