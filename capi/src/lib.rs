//! The C API of qpose (declared in `include/qpose.h`): load a model once, run it many times
//! into caller-owned float buffers.
//!
//! Every exported function catches panics (`catch_unwind`) and turns them into
//! `QPOSE_ERR_INTERNAL` / a null handle, so no unwinding crosses into C.

use qpose::tensor::DType;
use qpose::{Model, ModelOptions};
use std::ffi::{c_char, c_int, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

pub const QPOSE_OK: c_int = 0;
pub const QPOSE_ERR_ARGUMENT: c_int = 1;
pub const QPOSE_ERR_LOAD: c_int = 2;
pub const QPOSE_ERR_RUN: c_int = 3;
pub const QPOSE_ERR_INTERNAL: c_int = 4;

/// The opaque handle behind `qpose_model *`.
pub struct QposeModel {
    model: Model,
    input_names: Vec<CString>,
    output_names: Vec<CString>,
    input_lens: Vec<usize>,
    output_lens: Vec<usize>,
    last_error: CString,
}

/// A NUL-free C string of `msg`.
fn c_string(msg: &str) -> CString {
    CString::new(msg.replace('\0', " ")).unwrap_or_default()
}

/// The message of a caught panic.
fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    let detail = p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned());
    format!("internal error (panic): {}", detail.unwrap_or_else(|| "unknown".into()))
}

/// Copies `msg` into the caller's buffer, truncated at a character boundary and NUL-terminated.
///
/// # Safety
/// `err` is null or points to `err_len` writable bytes.
unsafe fn write_error(err: *mut c_char, err_len: usize, msg: &str) {
    if err.is_null() || err_len == 0 {
        return;
    }
    let mut n = msg.len().min(err_len - 1);
    while !msg.is_char_boundary(n) {
        n -= 1;
    }
    // SAFETY: the caller guarantees err_len writable bytes; n + 1 <= err_len.
    unsafe {
        std::ptr::copy_nonoverlapping(msg.as_ptr(), err.cast::<u8>(), n);
        *err.add(n) = 0;
    }
}

fn load(path: &str) -> Result<QposeModel, String> {
    let model = Model::load(Path::new(path), &ModelOptions::default()).map_err(|e| e.to_string())?;
    for (kind, ports) in [("input", model.inputs()), ("output", model.outputs())] {
        if let Some(p) = ports.iter().find(|p| p.dtype != DType::F32) {
            return Err(format!("{path}: {kind} '{}' is {}; the C API handles f32 only", p.name, p.dtype));
        }
    }
    let names = |ports: &[qpose::plan::Port]| ports.iter().map(|p| c_string(&p.name)).collect();
    let lens = |ports: &[qpose::plan::Port]| ports.iter().map(|p| p.shape.iter().product()).collect();
    Ok(QposeModel {
        input_names: names(model.inputs()),
        output_names: names(model.outputs()),
        input_lens: lens(model.inputs()),
        output_lens: lens(model.outputs()),
        model,
        last_error: CString::default(),
    })
}

/// `const char *qpose_version(void)`
#[no_mangle]
pub extern "C" fn qpose_version() -> *const c_char {
    c"0.1.0".as_ptr()
}

/// `qpose_model *qpose_model_load(const char *path, char *err, size_t err_len)`
///
/// # Safety
/// `path` is null or a NUL-terminated string; `err` is null or points to `err_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn qpose_model_load(path: *const c_char, err: *mut c_char, err_len: usize) -> *mut QposeModel {
    let result = catch_unwind(|| {
        if path.is_null() {
            return Err("path is NULL".to_string());
        }
        // SAFETY: non-null and NUL-terminated by the caller's contract.
        let path = unsafe { CStr::from_ptr(path) };
        let path = path.to_str().map_err(|_| "path is not UTF-8".to_string())?;
        load(path)
    });
    let msg = match result {
        Ok(Ok(m)) => return Box::into_raw(Box::new(m)),
        Ok(Err(msg)) => msg,
        Err(p) => panic_message(&*p),
    };
    // SAFETY: the caller's contract on err/err_len.
    unsafe { write_error(err, err_len, &msg) };
    std::ptr::null_mut()
}

/// `void qpose_model_free(qpose_model *model)`
///
/// # Safety
/// `model` is null or a handle from `qpose_model_load` not freed before.
#[no_mangle]
pub unsafe extern "C" fn qpose_model_free(model: *mut QposeModel) {
    if !model.is_null() {
        // SAFETY: the handle came from Box::into_raw in qpose_model_load.
        let b = unsafe { Box::from_raw(model) };
        let _ = catch_unwind(AssertUnwindSafe(move || drop(b)));
    }
}

/// The handle behind a pointer, if not null.
///
/// # Safety
/// `model` is null or a live handle.
unsafe fn handle<'a>(model: *const QposeModel) -> Option<&'a QposeModel> {
    // SAFETY: by the caller's contract.
    unsafe { model.as_ref() }
}

/// `size_t qpose_model_input_count(const qpose_model *model)`
///
/// # Safety
/// `model` is null or a live handle.
#[no_mangle]
pub unsafe extern "C" fn qpose_model_input_count(model: *const QposeModel) -> usize {
    // SAFETY: by the caller's contract.
    unsafe { handle(model) }.map_or(0, |m| m.input_lens.len())
}

/// `size_t qpose_model_output_count(const qpose_model *model)`
///
/// # Safety
/// `model` is null or a live handle.
#[no_mangle]
pub unsafe extern "C" fn qpose_model_output_count(model: *const QposeModel) -> usize {
    // SAFETY: by the caller's contract.
    unsafe { handle(model) }.map_or(0, |m| m.output_lens.len())
}

/// Writes a port's shape (see the header).
///
/// # Safety
/// `dims` is null or points to `max_dims` writable values; `ndims` is null or writable.
unsafe fn write_shape(shape: Option<&[usize]>, dims: *mut usize, max_dims: usize, ndims: *mut usize) -> c_int {
    let Some(shape) = shape else { return QPOSE_ERR_ARGUMENT };
    if ndims.is_null() {
        return QPOSE_ERR_ARGUMENT;
    }
    // SAFETY: non-null and writable by the caller's contract.
    unsafe { *ndims = shape.len() };
    if max_dims == 0 {
        return QPOSE_OK; // asked for the rank only
    }
    if shape.len() > max_dims || dims.is_null() {
        return QPOSE_ERR_ARGUMENT;
    }
    // SAFETY: dims has max_dims >= shape.len() writable values.
    unsafe { std::ptr::copy_nonoverlapping(shape.as_ptr(), dims, shape.len()) };
    QPOSE_OK
}

/// `int qpose_model_input_shape(const qpose_model *model, size_t index, size_t *dims, size_t max_dims, size_t *ndims)`
///
/// # Safety
/// `model` is null or a live handle; see `write_shape` for `dims` and `ndims`.
#[no_mangle]
pub unsafe extern "C" fn qpose_model_input_shape(
    model: *const QposeModel,
    index: usize,
    dims: *mut usize,
    max_dims: usize,
    ndims: *mut usize,
) -> c_int {
    // SAFETY: by the caller's contract.
    let shape = unsafe { handle(model) }.and_then(|m| m.model.inputs().get(index)).map(|p| p.shape.as_slice());
    // SAFETY: by the caller's contract.
    unsafe { write_shape(shape, dims, max_dims, ndims) }
}

/// `int qpose_model_output_shape(const qpose_model *model, size_t index, size_t *dims, size_t max_dims, size_t *ndims)`
///
/// # Safety
/// `model` is null or a live handle; see `write_shape` for `dims` and `ndims`.
#[no_mangle]
pub unsafe extern "C" fn qpose_model_output_shape(
    model: *const QposeModel,
    index: usize,
    dims: *mut usize,
    max_dims: usize,
    ndims: *mut usize,
) -> c_int {
    // SAFETY: by the caller's contract.
    let shape = unsafe { handle(model) }.and_then(|m| m.model.outputs().get(index)).map(|p| p.shape.as_slice());
    // SAFETY: by the caller's contract.
    unsafe { write_shape(shape, dims, max_dims, ndims) }
}

/// `size_t qpose_model_input_len(const qpose_model *model, size_t index)`
///
/// # Safety
/// `model` is null or a live handle.
#[no_mangle]
pub unsafe extern "C" fn qpose_model_input_len(model: *const QposeModel, index: usize) -> usize {
    // SAFETY: by the caller's contract.
    unsafe { handle(model) }.and_then(|m| m.input_lens.get(index).copied()).unwrap_or(0)
}

/// `size_t qpose_model_output_len(const qpose_model *model, size_t index)`
///
/// # Safety
/// `model` is null or a live handle.
#[no_mangle]
pub unsafe extern "C" fn qpose_model_output_len(model: *const QposeModel, index: usize) -> usize {
    // SAFETY: by the caller's contract.
    unsafe { handle(model) }.and_then(|m| m.output_lens.get(index).copied()).unwrap_or(0)
}

/// `const char *qpose_model_input_name(const qpose_model *model, size_t index)`
///
/// # Safety
/// `model` is null or a live handle.
#[no_mangle]
pub unsafe extern "C" fn qpose_model_input_name(model: *const QposeModel, index: usize) -> *const c_char {
    // SAFETY: by the caller's contract.
    unsafe { handle(model) }.and_then(|m| m.input_names.get(index)).map_or(std::ptr::null(), |s| s.as_ptr())
}

/// `const char *qpose_model_output_name(const qpose_model *model, size_t index)`
///
/// # Safety
/// `model` is null or a live handle.
#[no_mangle]
pub unsafe extern "C" fn qpose_model_output_name(model: *const QposeModel, index: usize) -> *const c_char {
    // SAFETY: by the caller's contract.
    unsafe { handle(model) }.and_then(|m| m.output_names.get(index)).map_or(std::ptr::null(), |s| s.as_ptr())
}

/// `size_t qpose_model_arena_bytes(const qpose_model *model)`
///
/// # Safety
/// `model` is null or a live handle.
#[no_mangle]
pub unsafe extern "C" fn qpose_model_arena_bytes(model: *const QposeModel) -> usize {
    // SAFETY: by the caller's contract.
    unsafe { handle(model) }.map_or(0, |m| m.model.arena_bytes())
}

/// Runs `m` on the caller's buffers. Allocates only to report an error.
///
/// # Safety
/// See `qpose_model_run`.
unsafe fn run(m: &mut QposeModel, inputs: *const *const f32, outputs: *const *mut f32) -> Result<(), (c_int, String)> {
    let arg = |msg: String| (QPOSE_ERR_ARGUMENT, msg);
    if inputs.is_null() || outputs.is_null() {
        return Err(arg("inputs or outputs is NULL".into()));
    }
    for i in 0..m.input_lens.len() {
        // SAFETY: the caller passes one pointer per input.
        let p = unsafe { *inputs.add(i) };
        if p.is_null() {
            return Err(arg(format!("input {i} is NULL")));
        }
        // SAFETY: the caller's buffer holds input_len(i) floats.
        let x = unsafe { std::slice::from_raw_parts(p, m.input_lens[i]) };
        m.model.set_input_bytes(i, as_bytes(x)).map_err(|e| (QPOSE_ERR_RUN, e.to_string()))?;
    }
    for j in 0..m.output_lens.len() {
        // SAFETY: the caller passes one pointer per output.
        if unsafe { *outputs.add(j) }.is_null() {
            return Err(arg(format!("output {j} is NULL")));
        }
    }
    m.model.run_steps();
    for j in 0..m.output_lens.len() {
        let out = m.model.output(j);
        let values = out.as_f32().map_err(|e| (QPOSE_ERR_RUN, e.to_string()))?;
        // SAFETY: checked non-null above; the caller's buffer holds output_len(j) floats.
        let dst = unsafe { std::slice::from_raw_parts_mut(*outputs.add(j), m.output_lens[j]) };
        dst.copy_from_slice(values);
    }
    Ok(())
}

/// The bytes of an f32 slice.
fn as_bytes(x: &[f32]) -> &[u8] {
    // SAFETY: f32 has no padding and every byte pattern is a valid u8; u8 has alignment 1.
    unsafe { std::slice::from_raw_parts(x.as_ptr().cast::<u8>(), std::mem::size_of_val(x)) }
}

/// `int qpose_model_run(qpose_model *model, const float *const *inputs, float *const *outputs)`
///
/// # Safety
/// `model` is null or a live handle not used by another thread; `inputs` and `outputs` are
/// null or arrays of one pointer per input / output, each to as many floats as the port holds.
#[no_mangle]
pub unsafe extern "C" fn qpose_model_run(
    model: *mut QposeModel,
    inputs: *const *const f32,
    outputs: *const *mut f32,
) -> c_int {
    // SAFETY: by the caller's contract.
    let Some(m) = (unsafe { model.as_mut() }) else { return QPOSE_ERR_ARGUMENT };
    // SAFETY: by the caller's contract.
    let result = catch_unwind(AssertUnwindSafe(|| unsafe { run(m, inputs, outputs) }));
    let (code, msg) = match result {
        Ok(Ok(())) => return QPOSE_OK,
        Ok(Err(e)) => e,
        Err(p) => (QPOSE_ERR_INTERNAL, panic_message(&*p)),
    };
    m.last_error = c_string(&msg);
    code
}

/// `const char *qpose_model_last_error(const qpose_model *model)`
///
/// # Safety
/// `model` is null or a live handle.
#[no_mangle]
pub unsafe extern "C" fn qpose_model_last_error(model: *const QposeModel) -> *const c_char {
    // SAFETY: by the caller's contract.
    unsafe { handle(model) }.map_or(c"".as_ptr(), |m| m.last_error.as_ptr())
}
