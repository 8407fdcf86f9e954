//! ONNX `TensorProto` → [`Tensor`]: raw bytes (cast with `bytemuck`, copied only when the
//! bytes are misaligned or the type is widened), typed fields, `float16` (read with `half`),
//! and external data (through tract-onnx's resolver, which keeps paths inside the model
//! directory). Sizes are checked against the declared dims before anything is allocated.

use crate::tensor::{dim, extent, numel, onnx_type_name, DType, Tensor, TensorData};
use crate::{bail, Error, Result};
use tract_onnx::pb::{tensor_proto::DataLocation, TensorProto};

const F16: i32 = 10;

/// Decodes an initializer or a `Constant` value. `max_bytes` bounds the decoded size;
/// `model_dir` resolves external data.
pub fn decode(t: &TensorProto, max_bytes: usize, model_dir: Option<&std::path::Path>) -> Result<Tensor> {
    let name = if t.name.is_empty() { "<unnamed>" } else { t.name.as_str() };
    decode_inner(t, max_bytes, model_dir).map_err(|e| match e {
        Error::Limit(m) => Error::Limit(format!("tensor '{name}': {m}")),
        e => Error::invalid(format!("tensor '{name}': {e}")),
    })
}

fn decode_inner(t: &TensorProto, max_bytes: usize, model_dir: Option<&std::path::Path>) -> Result<Tensor> {
    let dtype = DType::from_onnx_code(t.data_type)?;
    let shape = t.dims.iter().map(|&d| dim(d)).collect::<Result<Vec<_>>>()?;
    let n = numel(&shape)?;
    let stored_size = if t.data_type == F16 { 2 } else { dtype.size() };
    // The extent (zero dims counted as one) bounds the loops of the ops that read it.
    crate::limits::check_tensor_bytes(
        onnx_type_name(t.data_type),
        extent(&shape)?,
        dtype.size().max(stored_size),
        max_bytes,
    )?;
    if t.data_location == Some(DataLocation::External as i32) {
        return external(t, &shape, dtype, model_dir);
    }
    if !t.raw_data.is_empty() {
        let want = n * stored_size;
        if t.raw_data.len() != want {
            bail!(
                "{} bytes of raw data for {} dims {:?} (expected {want})",
                t.raw_data.len(),
                onnx_type_name(t.data_type),
                shape
            );
        }
        return from_raw(&t.raw_data, shape, t.data_type, dtype);
    }
    let len_check = |len: usize, field: &str| -> Result<()> {
        if len != n {
            bail!("{len} values in {field} for dims {shape:?} ({n} expected)");
        }
        Ok(())
    };
    let data = match (dtype, t.data_type) {
        (DType::F32, F16) => {
            len_check(t.int32_data.len(), "int32_data")?;
            TensorData::F32(t.int32_data.iter().map(|&b| half::f16::from_bits(b as u16).to_f32()).collect())
        }
        (DType::F32, _) => {
            len_check(t.float_data.len(), "float_data")?;
            TensorData::F32(t.float_data.clone())
        }
        (DType::I8, _) => {
            len_check(t.int32_data.len(), "int32_data")?;
            in_range(&t.int32_data, i8::MIN.into(), i8::MAX.into(), "int8")?;
            TensorData::I8(t.int32_data.iter().map(|&v| v as i8).collect())
        }
        (DType::U8, _) => {
            len_check(t.int32_data.len(), "int32_data")?;
            in_range(&t.int32_data, u8::MIN.into(), u8::MAX.into(), "uint8")?;
            TensorData::U8(t.int32_data.iter().map(|&v| v as u8).collect())
        }
        (DType::Bool, _) => {
            len_check(t.int32_data.len(), "int32_data")?;
            TensorData::Bool(t.int32_data.iter().map(|&v| (v != 0) as u8).collect())
        }
        (DType::I32, _) => {
            len_check(t.int32_data.len(), "int32_data")?;
            TensorData::I32(t.int32_data.clone())
        }
        (DType::I64, _) => {
            len_check(t.int64_data.len(), "int64_data")?;
            TensorData::I64(t.int64_data.clone())
        }
    };
    Tensor::new(shape, data)
}

/// 8-bit values stored widened (in `int32_data`) must fit their type: a zero point of 300
/// for a uint8 tensor is an error, not 44.
fn in_range(v: &[i32], lo: i32, hi: i32, ty: &str) -> Result<()> {
    match v.iter().find(|&&x| x < lo || x > hi) {
        Some(x) => bail!("value {x} in int32_data is outside the {ty} range [{lo}, {hi}]"),
        None => Ok(()),
    }
}

/// Little-endian raw bytes to typed data: a zero-copy cast when aligned (then one copy into
/// the tensor's own storage), an unaligned read otherwise.
fn from_raw(raw: &[u8], shape: Vec<usize>, code: i32, dtype: DType) -> Result<Tensor> {
    fn cast<T: bytemuck::Pod>(raw: &[u8]) -> Vec<T> {
        match bytemuck::try_cast_slice::<u8, T>(raw) {
            Ok(s) => s.to_vec(),
            Err(_) => bytemuck::pod_collect_to_vec(raw),
        }
    }
    let data = match (dtype, code) {
        (DType::F32, F16) => {
            TensorData::F32(cast::<u16>(raw).into_iter().map(|b| half::f16::from_bits(b).to_f32()).collect())
        }
        (DType::F32, _) => TensorData::F32(cast(raw)),
        (DType::I8, _) => TensorData::I8(cast(raw)),
        (DType::U8, _) => TensorData::U8(raw.to_vec()),
        (DType::Bool, _) => TensorData::Bool(raw.iter().map(|&b| (b != 0) as u8).collect()),
        (DType::I32, _) => TensorData::I32(cast(raw)),
        (DType::I64, _) => TensorData::I64(cast(raw)),
    };
    Tensor::new(shape, data)
}

fn external(t: &TensorProto, shape: &[usize], dtype: DType, model_dir: Option<&std::path::Path>) -> Result<Tensor> {
    let dir = model_dir.ok_or_else(|| Error::invalid("external data needs the model's directory"))?;
    let dir = dir.to_str().ok_or_else(|| Error::invalid("model directory is not valid UTF-8"))?;
    let loaded = tract_onnx::tensor::load_tensor(&tract_onnx::data_resolver::MmapDataResolver, t, Some(dir))
        .map_err(|e| Error::invalid(format!("external data: {e:#}")))?;
    if loaded.shape() != shape {
        bail!("external data has shape {:?}, declared {shape:?}", loaded.shape());
    }
    let plain = loaded.try_as_plain_ram().map_err(|e| Error::invalid(format!("external data: {e:#}")))?;
    from_raw(plain.as_bytes(), shape.to_vec(), t.data_type, dtype)
}
