//! Element types qpose stores and computes with.

use crate::{Error, Result};

/// The element type of a tensor. ONNX `float16` initializers are widened to `F32` at load
/// (the runtime computes in f32 or int8); `bool` is stored as one byte per element.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum DType {
    F32,
    I8,
    U8,
    I32,
    I64,
    Bool,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F32 | DType::I32 => 4,
            DType::I8 | DType::U8 | DType::Bool => 1,
            DType::I64 => 8,
        }
    }

    /// The ONNX `TensorProto.DataType` code.
    pub fn onnx_code(self) -> i32 {
        match self {
            DType::F32 => 1,
            DType::U8 => 2,
            DType::I8 => 3,
            DType::I32 => 6,
            DType::I64 => 7,
            DType::Bool => 9,
        }
    }

    /// Maps an ONNX `TensorProto.DataType` code to the type qpose stores it as
    /// (`float16` becomes `F32`).
    pub fn from_onnx_code(code: i32) -> Result<DType> {
        Ok(match code {
            1 | 10 => DType::F32,
            2 => DType::U8,
            3 => DType::I8,
            6 => DType::I32,
            7 => DType::I64,
            9 => DType::Bool,
            other => {
                return Err(Error::invalid(format!(
                    "element type {} ({other}) is not supported (f32, f16, i8, u8, i32, i64, bool are)",
                    onnx_type_name(other)
                )))
            }
        })
    }

    /// Whether this is one of the 8-bit quantized integer types.
    pub fn is_quantized(self) -> bool {
        matches!(self, DType::I8 | DType::U8)
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DType::F32 => "f32",
            DType::I8 => "i8",
            DType::U8 => "u8",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::Bool => "bool",
        })
    }
}

/// The ONNX name of a `TensorProto.DataType` code, for error messages.
pub fn onnx_type_name(code: i32) -> &'static str {
    match code {
        0 => "undefined",
        1 => "float",
        2 => "uint8",
        3 => "int8",
        4 => "uint16",
        5 => "int16",
        6 => "int32",
        7 => "int64",
        8 => "string",
        9 => "bool",
        10 => "float16",
        11 => "double",
        12 => "uint32",
        13 => "uint64",
        14 => "complex64",
        15 => "complex128",
        16 => "bfloat16",
        17..=20 => "float8",
        21 => "uint4",
        22 => "int4",
        23 => "float4e2m1",
        _ => "unknown",
    }
}
