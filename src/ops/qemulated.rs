//! Any float op on 8-bit tensors, computed exactly as a QDQ model defines it: dequantize the
//! quantized inputs, run the float op, quantize its output — in one step, with the f32
//! temporaries in arena scratch, so 8-bit tensors stay 8-bit in memory. Used for the ops
//! without a dedicated int8 kernel (add, average pooling, linear resize, sigmoid, ...).

use super::qconv::ActQuant;
use crate::exec::{LowerCtx, Memory, Slot, Step, ValInfo, SLOT_ALIGN};
use crate::graph::Op;
use crate::kernels::byte_table::ByteTable;
use crate::kernels::isa::Isa;
use crate::kernels::qeltwise::{
    dequantize_slice, kernel_isa, lookup_table, quantize_slice, BinaryKind, QBinary, Quant,
};
use crate::ops::binary::BinaryOp;
use crate::tensor::DType;
use crate::{bail, Error, Result};

/// An activation's quantization as the element-wise kernels take it.
fn quant(q: &ActQuant) -> Quant {
    Quant { scale: q.scale, zero_point: q.zero_point, signed: q.dtype == DType::I8 }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QEmulated {
    /// The float op (never another emulated op).
    #[serde(deserialize_with = "float_op")]
    pub op: Box<Op>,
    /// Per input: its quantization, or `None` for an input used as it is (a constant).
    pub inputs: Vec<Option<ActQuant>>,
    pub out: ActQuant,
    /// Output clamp in the integer domain.
    pub lo: i32,
    pub hi: i32,
}

/// Deserializes [`QEmulated::op`], refusing an emulated op inside another: the nesting is
/// meaningless, and a hostile file could otherwise nest deep enough to overflow the stack.
fn float_op<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Box<Op>, D::Error> {
    use serde::Deserialize;
    thread_local! {
        static INSIDE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    if INSIDE.with(|i| i.replace(true)) {
        return Err(crate::planned::decode_error("an emulated int8 op nested in another".into()));
    }
    let op = Op::deserialize(d);
    INSIDE.with(|i| i.set(false));
    op.map(Box::new)
}

impl QEmulated {
    /// Input facts as the float op sees them.
    fn float_facts<'a>(&self, inputs: &[crate::graph::Fact<'a>]) -> Vec<crate::graph::Fact<'a>> {
        inputs.iter().zip(&self.inputs).map(|(f, q)| if q.is_some() { (DType::F32, f.1) } else { *f }).collect()
    }

    pub fn infer(&self, inputs: &[crate::graph::Fact]) -> Result<Vec<(DType, Vec<usize>)>> {
        if inputs.len() != self.inputs.len() {
            bail!("{} inputs for {} quantizations", inputs.len(), self.inputs.len());
        }
        self.out.validate()?;
        super::qconv::check_code_range(self.lo, self.hi, self.out.dtype)?;
        for (f, q) in inputs.iter().zip(&self.inputs) {
            if let Some(q) = q {
                q.validate()?;
                if f.0 != q.dtype {
                    bail!("input is {} but its quantization is {}", f.0, q.dtype);
                }
            }
        }
        let outs = self.op.infer(&self.float_facts(inputs))?;
        Ok(outs.into_iter().map(|(_, s)| (self.out.dtype, s)).collect())
    }

    /// f32 scratch for the dequantized inputs and the float output, bytes.
    pub fn scratch_bytes(&self, inputs: &[crate::graph::Fact], outputs: &[crate::graph::Fact]) -> usize {
        let f32_bytes = |shape: &[usize]| (shape.iter().product::<usize>() * 4).next_multiple_of(SLOT_ALIGN);
        let ins: usize =
            inputs.iter().zip(&self.inputs).filter(|(_, q)| q.is_some()).map(|(f, _)| f32_bytes(f.1)).sum();
        ins + f32_bytes(outputs[0].1)
    }

    /// The fused one-pass kernels for the common cases (bit-identical to the general path:
    /// same float operations), if this op is one.
    fn fused(&self, ctx: &LowerCtx) -> Result<Option<Box<dyn Step>>> {
        let y = quant(&self.out);
        let out = ctx.outputs[0];
        match (&*self.op, self.inputs.as_slice()) {
            (Op::Binary(op @ (BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul)), [Some(a), Some(b)])
                if ctx.inputs.iter().all(|i| i.numel() == out.numel()) =>
            {
                let kind = match op {
                    BinaryOp::Add => BinaryKind::Add,
                    BinaryOp::Sub => BinaryKind::Sub,
                    _ => BinaryKind::Mul,
                };
                let op = QBinary { kind, a: quant(a), b: quant(b), y, lo: self.lo, hi: self.hi };
                let (a, b) = (ctx.inputs[0].slot()?, ctx.inputs[1].slot()?);
                Ok(Some(Box::new(QBinaryStep { op, isa: kernel_isa(ctx.isa), a, b, y: out.slot()? })))
            }
            (Op::Unary(u), [Some(x)]) => {
                let u = *u;
                let table = lookup_table(quant(x), y, self.lo, self.hi, |v| u.apply(v));
                let lut = ByteTable::new(table, ctx.isa);
                Ok(Some(Box::new(LutStep { lut, x: ctx.inputs[0].slot()?, y: out.slot()? })))
            }
            (Op::Concat(c), quants) if quants.iter().all(Option::is_some) => {
                let outer: usize = out.shape[..c.axis].iter().product();
                let mut parts = Vec::with_capacity(quants.len());
                for (v, q) in ctx.inputs.iter().zip(quants.iter().flatten()) {
                    let table = lookup_table(quant(q), y, self.lo, self.hi, |v| v);
                    let identity = table.iter().enumerate().all(|(i, &t)| t as usize == i);
                    let lut = (!identity).then(|| ByteTable::new(table, ctx.isa));
                    parts.push((v.slot()?, v.shape[c.axis..].iter().product(), lut));
                }
                Ok(Some(Box::new(QConcatStep { parts, outer, y: out.slot()? })))
            }
            _ => Ok(None),
        }
    }

    pub fn lower(&self, ctx: &LowerCtx) -> Result<Box<dyn Step>> {
        if let Some(step) = self.fused(ctx)? {
            return Ok(step);
        }
        let scratch = ctx.scratch.ok_or_else(|| Error::invalid("emulated int8 op needs scratch memory"))?;
        let mut at = scratch.offset;
        let mut carve = |numel: usize| {
            let s = Slot { region: scratch.region, offset: at, bytes: numel * 4 };
            at += (numel * 4).next_multiple_of(SLOT_ALIGN);
            s
        };
        let mut dequant = Vec::new();
        let mut inner_inputs = Vec::new();
        for (v, q) in ctx.inputs.iter().zip(&self.inputs) {
            match q {
                Some(q) => {
                    let f = carve(v.numel());
                    dequant.push((v.slot()?, f, quant(q)));
                    inner_inputs.push(ValInfo { dtype: DType::F32, slot: Some(f), constant: None, ..*v });
                }
                None => inner_inputs.push(*v),
            }
        }
        let out = ctx.outputs[0];
        let f_out = carve(out.numel());
        if at > scratch.offset + scratch.bytes {
            bail!("scratch too small for the emulated op");
        }
        let inner_ctx = LowerCtx {
            node_name: ctx.node_name,
            inputs: inner_inputs,
            outputs: vec![ValInfo { dtype: DType::F32, slot: Some(f_out), constant: None, ..out }],
            isa: ctx.isa,
            scratch: None,
        };
        let inner = self.op.lower(&inner_ctx)?;
        Ok(Box::new(QEmulatedStep {
            inner,
            dequant,
            f_out,
            out: quant(&self.out),
            lo: self.lo,
            hi: self.hi,
            isa: kernel_isa(ctx.isa),
            y: out.slot()?,
        }))
    }
}

/// Same-shape int8 add / sub / mul in one pass.
struct QBinaryStep {
    op: QBinary,
    isa: Isa,
    a: Slot,
    b: Slot,
    y: Slot,
}

impl Step for QBinaryStep {
    fn kernel(&self) -> String {
        format!("q{:?}.i8.{}", self.op.kind, self.isa.name()).to_lowercase()
    }

    fn run(&mut self, mem: &Memory) {
        self.op.run(self.isa, mem.read::<u8>(self.a), mem.read::<u8>(self.b), mem.write::<u8>(self.y));
    }
}

/// A unary op on 8-bit codes as a 256-entry table.
struct LutStep {
    lut: ByteTable,
    x: Slot,
    y: Slot,
}

impl Step for LutStep {
    fn kernel(&self) -> String {
        format!("lut.i8.{}", self.lut.isa().name())
    }

    fn run(&mut self, mem: &Memory) {
        self.lut.run(mem.read::<u8>(self.x), mem.write::<u8>(self.y));
    }
}

/// A concatenation of 8-bit tensors: each input's rows re-quantized to the output's
/// quantization through a byte table (copied when the quantizations agree), side by side.
struct QConcatStep {
    /// Per input: its slot, the elements of one row (its extent from the concat axis on), and
    /// its table (`None`: the identity).
    parts: Vec<(Slot, usize, Option<ByteTable>)>,
    /// Rows: the product of the axes before the concat axis.
    outer: usize,
    y: Slot,
}

impl Step for QConcatStep {
    fn kernel(&self) -> String {
        let isa = self.parts.iter().find_map(|p| p.2.as_ref()).map_or("copy", |t| t.isa().name());
        format!("concat.i8.{isa}")
    }

    fn run(&mut self, mem: &Memory) {
        let y = mem.write::<u8>(self.y);
        let row: usize = self.parts.iter().map(|p| p.1).sum();
        for (o, dst) in y.chunks_exact_mut(row).take(self.outer).enumerate() {
            let mut at = 0;
            for (x, len, lut) in &self.parts {
                let (src, d) = (&mem.read::<u8>(*x)[o * len..(o + 1) * len], &mut dst[at..at + len]);
                match lut {
                    Some(t) => t.run(src, d),
                    None => d.copy_from_slice(src),
                }
                at += len;
            }
        }
    }
}

struct QEmulatedStep {
    inner: Box<dyn Step>,
    /// (quantized input, its f32 scratch, its quantization).
    dequant: Vec<(Slot, Slot, Quant)>,
    f_out: Slot,
    out: Quant,
    lo: i32,
    hi: i32,
    isa: Isa,
    y: Slot,
}

impl Step for QEmulatedStep {
    fn kernel(&self) -> String {
        format!("dq.{}.q", self.inner.kernel())
    }

    fn run(&mut self, mem: &Memory) {
        for &(src, dst, q) in &self.dequant {
            dequantize_slice(self.isa, mem.read::<u8>(src), q, mem.write::<f32>(dst));
        }
        self.inner.run(mem);
        quantize_slice(self.isa, mem.read::<f32>(self.f_out), self.out, self.lo, self.hi, mem.write::<u8>(self.y));
    }
}
