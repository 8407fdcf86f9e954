//! Reading and writing NumPy `.npy` files (format versions 1–3, C order, little endian),
//! the ecosystem's tensor format: any tool can produce inputs or compare outputs.

use super::{numel, DType, Tensor, TensorData};
use crate::{Error, Result};
use std::io::Write;
use std::path::Path;

const MAGIC: &[u8] = b"\x93NUMPY";

/// Reads a `.npy` file. `float16` and `float64` arrays are converted to f32.
pub fn read(path: &Path) -> Result<Tensor> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse(&bytes).map_err(|e| Error::Model { file: path.display().to_string(), msg: e.to_string() })
}

/// Parses the bytes of a `.npy` file.
pub fn parse(bytes: &[u8]) -> Result<Tensor> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(Error::invalid("not a .npy file (bad magic)"));
    }
    let major = bytes[6];
    let (header_len, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(Error::invalid("truncated .npy header"));
            }
            (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12)
        }
        v => return Err(Error::invalid(format!(".npy format version {v} is not supported"))),
    };
    let end = start
        .checked_add(header_len)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| Error::invalid("truncated .npy header"))?;
    let header = std::str::from_utf8(&bytes[start..end]).map_err(|_| Error::invalid(".npy header is not text"))?;
    let descr = dict_value(header, "descr")?.trim_matches(|c| c == '\'' || c == '"');
    if dict_value(header, "fortran_order")?.trim() != "False" {
        return Err(Error::invalid(".npy arrays in Fortran order are not supported"));
    }
    let shape_txt = dict_value(header, "shape")?;
    let shape = shape_txt
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| Error::invalid(format!("bad .npy shape {shape_txt}"))))
        .collect::<Result<Vec<_>>>()?;
    let n = numel(&shape)?;
    let body = &bytes[end..];
    let item = match descr {
        "<f4" | "<i4" => 4,
        "<f8" | "<i8" => 8,
        "<f2" => 2,
        "|i1" | "|u1" | "|b1" => 1,
        d => return Err(Error::invalid(format!(".npy dtype '{d}' is not supported"))),
    };
    let need = n.checked_mul(item).ok_or_else(|| Error::Limit("npy too large".into()))?;
    if body.len() < need {
        return Err(Error::invalid(format!(
            "truncated .npy data: {} bytes for shape {shape:?} of {descr} (need {need})",
            body.len()
        )));
    }
    let body = &body[..need];
    let data = match descr {
        "<f4" => TensorData::F32(bytemuck::pod_collect_to_vec(body)),
        "<i4" => TensorData::I32(bytemuck::pod_collect_to_vec(body)),
        "<i8" => TensorData::I64(bytemuck::pod_collect_to_vec(body)),
        "<f8" => TensorData::F32(bytemuck::pod_collect_to_vec::<u8, f64>(body).into_iter().map(|x| x as f32).collect()),
        "<f2" => TensorData::F32(
            bytemuck::pod_collect_to_vec::<u8, u16>(body)
                .into_iter()
                .map(|b| half::f16::from_bits(b).to_f32())
                .collect(),
        ),
        "|i1" => TensorData::I8(bytemuck::pod_collect_to_vec(body)),
        "|u1" => TensorData::U8(body.to_vec()),
        _ => TensorData::Bool(body.iter().map(|&b| (b != 0) as u8).collect()),
    };
    Tensor::new(shape, data)
}

fn dict_value<'a>(header: &'a str, key: &str) -> Result<&'a str> {
    let missing = || Error::invalid(format!(".npy header has no '{key}': {header}"));
    let at = header.find(&format!("'{key}'")).ok_or_else(missing)?;
    let rest = &header[at + key.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':').ok_or_else(missing)?.trim_start();
    let end = if rest.starts_with('(') { rest.find(')').map(|i| i + 1) } else { rest.find([',', '}']) }
        .ok_or_else(missing)?;
    Ok(&rest[..end])
}

/// Serialises a tensor as `.npy` (format version 1.0).
pub fn to_bytes(t: &Tensor) -> Vec<u8> {
    let descr = match t.dtype() {
        DType::F32 => "<f4",
        DType::I8 => "|i1",
        DType::U8 => "|u1",
        DType::I32 => "<i4",
        DType::I64 => "<i8",
        DType::Bool => "|b1",
    };
    let shape = match t.shape() {
        [] => "()".to_string(),
        [d] => format!("({d},)"),
        s => format!("({})", s.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let unpadded = MAGIC.len() + 4 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + t.bytes().len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(t.bytes());
    out
}

/// Writes a tensor to a `.npy` file.
pub fn write(path: &Path, t: &Tensor) -> Result<()> {
    let mut f = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    f.write_all(&to_bytes(t)).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_shape_type_and_values() {
        let t = Tensor::from_vec(vec![2, 3], vec![1.5f32, -2.0, 0.0, 3.25, 4.0, -0.5]).unwrap();
        assert_eq!(parse(&to_bytes(&t)).unwrap(), t);
        let s = Tensor::scalar(7i64);
        assert_eq!(parse(&to_bytes(&s)).unwrap(), s);
        let v = Tensor::from_vec(vec![3], vec![-1i8, 0, 127]).unwrap();
        assert_eq!(parse(&to_bytes(&v)).unwrap(), v);
    }

    #[test]
    fn truncated_file_is_an_error_not_a_panic() {
        let t = Tensor::from_vec(vec![4], vec![1f32, 2.0, 3.0, 4.0]).unwrap();
        let b = to_bytes(&t);
        for cut in [0, 5, 9, 20, b.len() - 1] {
            assert!(parse(&b[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn header_is_64_byte_aligned() {
        let t = Tensor::from_vec(vec![1], vec![1u8]).unwrap();
        let b = to_bytes(&t);
        assert_eq!((b.len() - 1) % 64, 0);
    }
}
