//! Typed access to an ONNX node's attributes, with errors that name the attribute.

use crate::{bail, Error, Result};
use tract_onnx::pb::{attribute_proto::AttributeType, AttributeProto, NodeProto, TensorProto};

/// A node's attributes.
pub struct Attrs<'a> {
    node: &'a NodeProto,
}

impl<'a> Attrs<'a> {
    pub fn new(node: &'a NodeProto) -> Attrs<'a> {
        Attrs { node }
    }

    fn get(&self, name: &str, ty: AttributeType) -> Result<Option<&'a AttributeProto>> {
        match self.node.attribute.iter().find(|a| a.name == name) {
            None => Ok(None),
            Some(a) if a.r#type == ty as i32 => Ok(Some(a)),
            // Some exporters leave the type field unset; trust the name then.
            Some(a) if a.r#type == AttributeType::Undefined as i32 => Ok(Some(a)),
            Some(a) => {
                bail!("attribute '{name}' has type {} where {} is expected", type_name(a.r#type), type_name(ty as i32))
            }
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.node.attribute.iter().any(|a| a.name == name)
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>> {
        Ok(self.get(name, AttributeType::Int)?.map(|a| a.i))
    }

    pub fn int_or(&self, name: &str, default: i64) -> Result<i64> {
        Ok(self.int(name)?.unwrap_or(default))
    }

    pub fn float(&self, name: &str) -> Result<Option<f32>> {
        Ok(self.get(name, AttributeType::Float)?.map(|a| a.f))
    }

    pub fn float_or(&self, name: &str, default: f32) -> Result<f32> {
        Ok(self.float(name)?.unwrap_or(default))
    }

    pub fn ints(&self, name: &str) -> Result<Option<&'a [i64]>> {
        Ok(self.get(name, AttributeType::Ints)?.map(|a| a.ints.as_slice()))
    }

    pub fn floats(&self, name: &str) -> Result<Option<&'a [f32]>> {
        Ok(self.get(name, AttributeType::Floats)?.map(|a| a.floats.as_slice()))
    }

    pub fn string(&self, name: &str) -> Result<Option<&'a str>> {
        match self.get(name, AttributeType::String)? {
            None => Ok(None),
            Some(a) => std::str::from_utf8(&a.s)
                .map(Some)
                .map_err(|_| Error::invalid(format!("attribute '{name}' is not valid UTF-8"))),
        }
    }

    pub fn string_or(&self, name: &str, default: &'a str) -> Result<&'a str> {
        Ok(self.string(name)?.unwrap_or(default))
    }

    pub fn tensor(&self, name: &str) -> Result<Option<&'a TensorProto>> {
        Ok(self.get(name, AttributeType::Tensor)?.and_then(|a| a.t.as_ref()))
    }

    /// A list of non-negative ints as `usize`, checked.
    pub fn usizes(&self, name: &str) -> Result<Option<Vec<usize>>> {
        self.ints(name)?
            .map(|v| {
                v.iter()
                    .map(|&x| {
                        usize::try_from(x)
                            .map_err(|_| Error::invalid(format!("attribute '{name}' has negative value {x}")))
                    })
                    .collect()
            })
            .transpose()
    }
}

fn type_name(t: i32) -> &'static str {
    match AttributeType::try_from(t) {
        Ok(AttributeType::Float) => "float",
        Ok(AttributeType::Int) => "int",
        Ok(AttributeType::String) => "string",
        Ok(AttributeType::Tensor) => "tensor",
        Ok(AttributeType::Graph) => "graph",
        Ok(AttributeType::Floats) => "floats",
        Ok(AttributeType::Ints) => "ints",
        Ok(AttributeType::Strings) => "strings",
        Ok(AttributeType::Tensors) => "tensors",
        Ok(AttributeType::Graphs) => "graphs",
        _ => "unknown",
    }
}
