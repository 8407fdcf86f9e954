//! The C API, called through its extern functions on the committed int8 seed model, as ONNX
//! and compiled to a planned model: the same outputs as `qpose::Model::run` on the ONNX file,
//! and errors reported as codes and messages.

use qpose_c::*;
use std::ffi::{c_char, CStr, CString};
use std::path::{Path, PathBuf};

fn seed_model() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/zoo/mbv2_0.5x_rle_192x192_ort_u8s8.onnx")
}

fn input(len: usize) -> Vec<f32> {
    (0..len).map(|i| ((i * 37) % 251) as f32 / 125.0 - 1.0).collect()
}

#[test]
fn c_api_matches_model_run() {
    c_api_matches_reference(&seed_model());
}

#[test]
fn c_api_loads_planned_models() {
    let planned = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("capi_seed.qpose");
    qpose::Model::load(&seed_model(), &qpose::ModelOptions::default()).unwrap().save_planned(&planned).unwrap();
    c_api_matches_reference(&planned);
}

/// Loads `model` through the C API and runs it twice against `Model::run` on the ONNX seed.
fn c_api_matches_reference(model: &Path) {
    let path = CString::new(model.to_str().unwrap()).unwrap();
    let mut err = [0 as c_char; 256];
    let m = unsafe { qpose_model_load(path.as_ptr(), err.as_mut_ptr(), err.len()) };
    assert!(!m.is_null(), "{:?}", unsafe { CStr::from_ptr(err.as_ptr()) });

    let mut reference = qpose::Model::load(&seed_model(), &qpose::ModelOptions::default()).unwrap();
    assert_eq!(unsafe { qpose_model_input_count(m) }, reference.inputs().len());
    assert_eq!(unsafe { qpose_model_output_count(m) }, reference.outputs().len());
    assert_eq!(unsafe { qpose_model_arena_bytes(m) }, reference.arena_bytes());
    for (i, p) in reference.inputs().iter().enumerate() {
        let mut dims = [0usize; 8];
        let mut nd = 0usize;
        assert_eq!(unsafe { qpose_model_input_shape(m, i, dims.as_mut_ptr(), dims.len(), &mut nd) }, QPOSE_OK);
        assert_eq!(&dims[..nd], p.shape.as_slice());
        let name = unsafe { CStr::from_ptr(qpose_model_input_name(m, i)) };
        assert_eq!(name.to_str().unwrap(), p.name);
    }
    let mut outputs: Vec<Vec<f32>> = Vec::new();
    for (j, p) in reference.outputs().iter().enumerate() {
        let mut dims = [0usize; 8];
        let mut nd = 0usize;
        assert_eq!(unsafe { qpose_model_output_shape(m, j, dims.as_mut_ptr(), dims.len(), &mut nd) }, QPOSE_OK);
        assert_eq!(&dims[..nd], p.shape.as_slice());
        let len = unsafe { qpose_model_output_len(m, j) };
        assert_eq!(len, p.shape.iter().product::<usize>());
        outputs.push(vec![f32::NAN; len]);
    }

    let inputs: Vec<Vec<f32>> =
        (0..reference.inputs().len()).map(|i| input(unsafe { qpose_model_input_len(m, i) })).collect();
    let in_ptrs: Vec<*const f32> = inputs.iter().map(|v| v.as_ptr()).collect();
    // Twice: the second run must not depend on what the first left in the arena.
    for _ in 0..2 {
        let out_ptrs: Vec<*mut f32> = outputs.iter_mut().map(|v| v.as_mut_ptr()).collect();
        assert_eq!(unsafe { qpose_model_run(m, in_ptrs.as_ptr(), out_ptrs.as_ptr()) }, QPOSE_OK);
        let refs: Vec<&[f32]> = inputs.iter().map(|v| v.as_slice()).collect();
        reference.run(&refs).unwrap();
        for (j, got) in outputs.iter().enumerate() {
            let want = reference.output(j).as_f32().unwrap();
            assert!(got.iter().zip(want).all(|(a, b)| a.to_bits() == b.to_bits()), "output {j} differs");
        }
    }
    unsafe { qpose_model_free(m) };
}

#[test]
fn c_api_reports_errors() {
    // A missing file: NULL and a message, truncated to the buffer.
    let path = CString::new("/nonexistent/model.onnx").unwrap();
    let mut err = [0 as c_char; 16];
    let m = unsafe { qpose_model_load(path.as_ptr(), err.as_mut_ptr(), err.len()) };
    assert!(m.is_null());
    let msg = unsafe { CStr::from_ptr(err.as_ptr()) }.to_str().unwrap();
    assert!(!msg.is_empty() && msg.len() <= 15, "{msg:?}");
    assert!(unsafe { qpose_model_load(std::ptr::null(), std::ptr::null_mut(), 0) }.is_null());

    // NULL handles are answered, not dereferenced.
    assert_eq!(unsafe { qpose_model_input_count(std::ptr::null()) }, 0);
    assert_eq!(
        unsafe { qpose_model_run(std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) },
        QPOSE_ERR_ARGUMENT
    );
    unsafe { qpose_model_free(std::ptr::null_mut()) };

    let path = CString::new(seed_model().to_str().unwrap()).unwrap();
    let m = unsafe { qpose_model_load(path.as_ptr(), std::ptr::null_mut(), 0) };
    assert!(!m.is_null());
    let mut nd = 0usize;
    assert_eq!(unsafe { qpose_model_input_shape(m, 0, std::ptr::null_mut(), 0, &mut nd) }, QPOSE_OK);
    assert_eq!(nd, 4);
    let mut small = [0usize; 2];
    assert_eq!(unsafe { qpose_model_input_shape(m, 0, small.as_mut_ptr(), 2, &mut nd) }, QPOSE_ERR_ARGUMENT);
    assert_eq!(unsafe { qpose_model_output_shape(m, 99, small.as_mut_ptr(), 2, &mut nd) }, QPOSE_ERR_ARGUMENT);
    assert!(unsafe { qpose_model_output_name(m, 99) }.is_null());

    let null_input: [*const f32; 1] = [std::ptr::null()];
    let mut out = vec![0f32; unsafe { qpose_model_output_len(m, 0) }];
    let outs = [out.as_mut_ptr()];
    assert_eq!(unsafe { qpose_model_run(m, null_input.as_ptr(), outs.as_ptr()) }, QPOSE_ERR_ARGUMENT);
    let msg = unsafe { CStr::from_ptr(qpose_model_last_error(m)) }.to_str().unwrap();
    assert!(msg.contains("input 0"), "{msg}");
    unsafe { qpose_model_free(m) };
}
