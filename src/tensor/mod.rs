//! Owned, typed, dense tensors (row-major, static shape).

mod dtype;
pub mod npy;

pub use dtype::{onnx_type_name, DType};

use crate::{bail, Error, Result};

/// The elements of a tensor, row-major. `Bool` holds 0 or 1 per byte.
#[derive(Clone, Debug, PartialEq)]
pub enum TensorData {
    F32(Vec<f32>),
    I8(Vec<i8>),
    U8(Vec<u8>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    Bool(Vec<u8>),
}

/// A dense row-major tensor with a static shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: TensorData,
}

/// A Rust element type that maps one-to-one to a [`DType`].
pub trait Element: Copy + bytemuck::Pod + Default + std::fmt::Debug + 'static {
    const DTYPE: DType;
    fn wrap(v: Vec<Self>) -> TensorData;
    fn slice(d: &TensorData) -> Option<&[Self]>;
    fn slice_mut(d: &mut TensorData) -> Option<&mut [Self]>;
}

macro_rules! element {
    ($t:ty, $variant:ident) => {
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            fn wrap(v: Vec<Self>) -> TensorData {
                TensorData::$variant(v)
            }
            fn slice(d: &TensorData) -> Option<&[Self]> {
                match d {
                    TensorData::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn slice_mut(d: &mut TensorData) -> Option<&mut [Self]> {
                match d {
                    TensorData::$variant(v) => Some(v),
                    _ => None,
                }
            }
        }
    };
}
element!(f32, F32);
element!(i8, I8);
element!(u8, U8);
element!(i32, I32);
element!(i64, I64);

/// An ONNX dimension as `usize`: a negative one is invalid; one beyond `usize` (on 32-bit
/// targets) is a limit error, like a shape whose element count overflows.
pub fn dim(d: i64) -> Result<usize> {
    if d < 0 {
        return Err(Error::invalid(format!("negative dimension {d}")));
    }
    usize::try_from(d).map_err(|_| Error::Limit(format!("dimension {d} is larger than can be addressed")))
}

/// Number of elements of a shape, or an error if the product overflows `usize` — also when
/// a zero dimension hides the overflow of the others (`[0, 2^63, 5]`), so that strides and
/// every partial product of a shape that passed are safe to compute.
pub fn numel(shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d.max(1)))
        .map(|n| if shape.contains(&0) { 0 } else { n })
        .ok_or_else(|| Error::Limit(format!("shape {shape:?} has more elements than can be addressed")))
}

/// The elements a shape would have with its zero dimensions counted as one: what bounds the
/// loops over its other dimensions (`[2^31, 0]` holds nothing, yet a row-wise op visits 2^31
/// empty rows). Import limits check this instead of [`numel`]; an error on overflow.
pub fn extent(shape: &[usize]) -> Result<usize> {
    numel(shape)?;
    Ok(shape.iter().map(|&d| d.max(1)).product())
}

/// Row-major strides (in elements) of a shape.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

impl Tensor {
    /// Builds a tensor, checking that the data length matches the shape.
    pub fn new(shape: Vec<usize>, data: TensorData) -> Result<Tensor> {
        let n = numel(&shape)?;
        let len = match &data {
            TensorData::F32(v) => v.len(),
            TensorData::I8(v) => v.len(),
            TensorData::U8(v) | TensorData::Bool(v) => v.len(),
            TensorData::I32(v) => v.len(),
            TensorData::I64(v) => v.len(),
        };
        if n != len {
            bail!("tensor data has {len} elements but shape {shape:?} needs {n}");
        }
        Ok(Tensor { shape, data })
    }

    /// Builds a tensor from a typed vector.
    pub fn from_vec<T: Element>(shape: Vec<usize>, v: Vec<T>) -> Result<Tensor> {
        Tensor::new(shape, T::wrap(v))
    }

    /// A rank-0 tensor.
    pub fn scalar<T: Element>(v: T) -> Tensor {
        Tensor { shape: vec![], data: T::wrap(vec![v]) }
    }

    /// A zero-filled tensor.
    pub fn zeros(dtype: DType, shape: Vec<usize>) -> Result<Tensor> {
        let n = numel(&shape)?;
        let data = match dtype {
            DType::F32 => TensorData::F32(vec![0.0; n]),
            DType::I8 => TensorData::I8(vec![0; n]),
            DType::U8 => TensorData::U8(vec![0; n]),
            DType::I32 => TensorData::I32(vec![0; n]),
            DType::I64 => TensorData::I64(vec![0; n]),
            DType::Bool => TensorData::Bool(vec![0; n]),
        };
        Ok(Tensor { shape, data })
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn dtype(&self) -> DType {
        match &self.data {
            TensorData::F32(_) => DType::F32,
            TensorData::I8(_) => DType::I8,
            TensorData::U8(_) => DType::U8,
            TensorData::I32(_) => DType::I32,
            TensorData::I64(_) => DType::I64,
            TensorData::Bool(_) => DType::Bool,
        }
    }

    pub fn data(&self) -> &TensorData {
        &self.data
    }

    /// The elements as `&[T]`, or an error naming both types if `T` is not this tensor's type.
    pub fn as_slice<T: Element>(&self) -> Result<&[T]> {
        let dt = self.dtype();
        T::slice(&self.data).ok_or_else(|| Error::invalid(format!("tensor is {dt}, expected {}", T::DTYPE)))
    }

    /// The elements as `&mut [T]`.
    pub fn as_slice_mut<T: Element>(&mut self) -> Result<&mut [T]> {
        let dt = self.dtype();
        T::slice_mut(&mut self.data).ok_or_else(|| Error::invalid(format!("tensor is {dt}, expected {}", T::DTYPE)))
    }

    /// The raw bytes of the elements (native endianness).
    pub fn bytes(&self) -> &[u8] {
        match &self.data {
            TensorData::F32(v) => bytemuck::cast_slice(v),
            TensorData::I8(v) => bytemuck::cast_slice(v),
            TensorData::U8(v) | TensorData::Bool(v) => v,
            TensorData::I32(v) => bytemuck::cast_slice(v),
            TensorData::I64(v) => bytemuck::cast_slice(v),
        }
    }

    /// Same data, new shape with the same element count.
    pub fn reshaped(mut self, shape: Vec<usize>) -> Result<Tensor> {
        if numel(&shape)? != self.len() {
            bail!("cannot reshape {:?} into {shape:?}", self.shape);
        }
        self.shape = shape;
        Ok(self)
    }

    /// All elements converted to f64 (exact for every stored type but i64 beyond 2^53).
    pub fn to_f64_vec(&self) -> Vec<f64> {
        match &self.data {
            TensorData::F32(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::I8(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::U8(v) | TensorData::Bool(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::I32(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::I64(v) => v.iter().map(|&x| x as f64).collect(),
        }
    }

    /// All elements as f32 (an owned copy).
    pub fn to_f32_vec(&self) -> Vec<f32> {
        match &self.data {
            TensorData::F32(v) => v.clone(),
            _ => self.to_f64_vec().into_iter().map(|x| x as f32).collect(),
        }
    }

    /// All elements as i64; floats are truncated toward zero (ONNX Cast semantics).
    pub fn to_i64_vec(&self) -> Vec<i64> {
        match &self.data {
            TensorData::I64(v) => v.clone(),
            TensorData::F32(v) => v.iter().map(|&x| x as i64).collect(),
            TensorData::I8(v) => v.iter().map(|&x| x as i64).collect(),
            TensorData::U8(v) | TensorData::Bool(v) => v.iter().map(|&x| x as i64).collect(),
            TensorData::I32(v) => v.iter().map(|&x| x as i64).collect(),
        }
    }

    /// Converts to another element type (ONNX Cast semantics: float to int truncates toward
    /// zero and saturates; anything to bool is `x != 0`).
    pub fn cast(&self, to: DType) -> Tensor {
        if self.dtype() == to {
            return self.clone();
        }
        let f = self.to_f64_vec();
        let data = match to {
            DType::F32 => TensorData::F32(f.iter().map(|&x| x as f32).collect()),
            DType::I8 => TensorData::I8(f.iter().map(|&x| x as i8).collect()),
            DType::U8 => TensorData::U8(f.iter().map(|&x| x as u8).collect()),
            DType::I32 => TensorData::I32(f.iter().map(|&x| x as i32).collect()),
            DType::I64 => TensorData::I64(self.to_i64_vec()),
            DType::Bool => TensorData::Bool(f.iter().map(|&x| (x != 0.0) as u8).collect()),
        };
        Tensor { shape: self.shape.clone(), data }
    }

    /// Gathers elements at flat indices into a new tensor of `shape` (same type).
    pub fn gather_flat(&self, shape: Vec<usize>, idx: &[usize]) -> Result<Tensor> {
        fn pick<T: Copy>(v: &[T], idx: &[usize]) -> Vec<T> {
            idx.iter().map(|&i| v[i]).collect()
        }
        if let Some(&bad) = idx.iter().find(|&&i| i >= self.len()) {
            bail!("index {bad} out of range for a tensor of {} elements", self.len());
        }
        let data = match &self.data {
            TensorData::F32(v) => TensorData::F32(pick(v, idx)),
            TensorData::I8(v) => TensorData::I8(pick(v, idx)),
            TensorData::U8(v) => TensorData::U8(pick(v, idx)),
            TensorData::Bool(v) => TensorData::Bool(pick(v, idx)),
            TensorData::I32(v) => TensorData::I32(pick(v, idx)),
            TensorData::I64(v) => TensorData::I64(pick(v, idx)),
        };
        Tensor::new(shape, data)
    }
}

/// Serialized as its shape, its element type and its elements as bytes, little-endian
/// (what a planned model file stores; see [`crate::planned`]).
#[derive(serde::Serialize, serde::Deserialize)]
struct TensorRepr<'a> {
    shape: Vec<usize>,
    dtype: DType,
    #[serde(borrow)]
    data: std::borrow::Cow<'a, [u8]>,
}

impl serde::Serialize for Tensor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        fn le<T: Copy, const N: usize>(v: &[T], f: fn(T) -> [u8; N]) -> Vec<u8> {
            v.iter().flat_map(|&x| f(x)).collect()
        }
        let data = match &self.data {
            TensorData::F32(v) => le(v, f32::to_le_bytes),
            TensorData::I8(v) => le(v, i8::to_le_bytes),
            TensorData::U8(v) | TensorData::Bool(v) => v.clone(),
            TensorData::I32(v) => le(v, i32::to_le_bytes),
            TensorData::I64(v) => le(v, i64::to_le_bytes),
        };
        TensorRepr { shape: self.shape.clone(), dtype: self.dtype(), data: data.into() }.serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Tensor {
    /// Checks that the bytes hold exactly the shape's elements before converting them (the
    /// allocation is at most the bytes the input holds).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Tensor, D::Error> {
        fn from_le<T, const N: usize>(b: &[u8], f: fn([u8; N]) -> T) -> Vec<T> {
            b.chunks_exact(N)
                .map(|c| {
                    let mut a = [0u8; N];
                    a.copy_from_slice(c);
                    f(a)
                })
                .collect()
        }
        let r = TensorRepr::deserialize(d)?;
        let err = |msg: String| crate::planned::decode_error::<D::Error>(msg);
        let n = numel(&r.shape).map_err(|e| err(e.to_string()))?;
        if Some(r.data.len()) != n.checked_mul(r.dtype.size()) {
            return Err(err(format!(
                "a {} tensor of shape {:?} needs {n} elements of {} bytes, the file holds {} bytes",
                r.dtype,
                r.shape,
                r.dtype.size(),
                r.data.len()
            )));
        }
        let b = &r.data[..];
        if r.dtype == DType::Bool && b.iter().any(|&x| x > 1) {
            return Err(err("a bool tensor holds a byte other than 0 or 1".into()));
        }
        let data = match r.dtype {
            DType::F32 => TensorData::F32(from_le(b, f32::from_le_bytes)),
            DType::I8 => TensorData::I8(from_le(b, i8::from_le_bytes)),
            DType::U8 => TensorData::U8(b.to_vec()),
            DType::Bool => TensorData::Bool(b.to_vec()),
            DType::I32 => TensorData::I32(from_le(b, i32::from_le_bytes)),
            DType::I64 => TensorData::I64(from_le(b, i64::from_le_bytes)),
        };
        Ok(Tensor { shape: r.shape, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dimensions never truncate: beyond `usize` (32-bit targets) is a limit error.
    #[test]
    fn dims_convert_exactly_or_fail() {
        assert_eq!(dim(7).unwrap(), 7);
        assert!(matches!(dim(-1), Err(Error::Invalid(_))));
        let big = 1i64 << 40;
        match usize::try_from(big) {
            Ok(n) => assert_eq!(dim(big).unwrap(), n),
            Err(_) => assert!(matches!(dim(big), Err(Error::Limit(_)))),
        }
    }
}
