//! `Cast` between element types (truncation toward zero for float to int).

use crate::tensor::DType;

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cast {
    pub to: DType,
}

/// Run-time type conversion (ONNX Cast semantics through f64).
struct CastStep {
    from: DType,
    to: DType,
    x: crate::exec::Slot,
    y: crate::exec::Slot,
}

fn read_f64(mem: &crate::exec::Memory, s: crate::exec::Slot, dt: DType, i: usize) -> f64 {
    match dt {
        DType::F32 => mem.read::<f32>(s)[i] as f64,
        DType::I8 => mem.read::<i8>(s)[i] as f64,
        DType::U8 | DType::Bool => mem.read::<u8>(s)[i] as f64,
        DType::I32 => mem.read::<i32>(s)[i] as f64,
        DType::I64 => mem.read::<i64>(s)[i] as f64,
    }
}

impl crate::exec::Step for CastStep {
    fn kernel(&self) -> String {
        format!("cast.{}.{}", self.from, self.to)
    }

    fn run(&mut self, mem: &crate::exec::Memory) {
        let n = self.y.bytes / self.to.size();
        for i in 0..n {
            let v = read_f64(mem, self.x, self.from, i);
            match self.to {
                DType::F32 => mem.write::<f32>(self.y)[i] = v as f32,
                DType::I8 => mem.write::<i8>(self.y)[i] = v as i8,
                DType::U8 => mem.write::<u8>(self.y)[i] = v as u8,
                DType::Bool => mem.write::<u8>(self.y)[i] = (v != 0.0) as u8,
                DType::I32 => mem.write::<i32>(self.y)[i] = v as i32,
                DType::I64 => mem.write::<i64>(self.y)[i] = v as i64,
            }
        }
    }
}

impl Cast {
    pub fn lower(&self, ctx: &crate::exec::LowerCtx) -> crate::Result<Box<dyn crate::exec::Step>> {
        Ok(Box::new(CastStep {
            from: ctx.inputs[0].dtype,
            to: self.to,
            x: ctx.inputs[0].slot()?,
            y: ctx.outputs[0].slot()?,
        }))
    }
}
