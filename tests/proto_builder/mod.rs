//! Builds small ONNX models in memory (tract-onnx's protobuf types) for tests that need
//! generated graphs: long chains, hostile sizes, numeric faults.

#![allow(dead_code)]

use tract_onnx::pb::tensor_shape_proto::{dimension, Dimension};
use tract_onnx::pb::{
    type_proto, AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto,
    TypeProto, ValueInfoProto,
};

pub const FLOAT: i32 = 1;
pub const UINT8: i32 = 2;
pub const INT8: i32 = 3;
pub const INT32: i32 = 6;
pub const INT64: i32 = 7;

pub fn value_info(name: &str, elem_type: i32, dims: &[i64]) -> ValueInfoProto {
    let dim = dims.iter().map(|&d| Dimension { value: Some(dimension::Value::DimValue(d)), ..Default::default() });
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type,
                shape: Some(TensorShapeProto { dim: dim.collect() }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn node(op: &str, inputs: &[&str], outputs: &[&str], attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: outputs.first().map(|o| format!("{o}_node")).unwrap_or_default(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute,
        ..Default::default()
    }
}

pub fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: 7, ints: v.to_vec(), ..Default::default() }
}

pub fn int(name: &str, v: i64) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: 2, i: v, ..Default::default() }
}

pub fn float(name: &str, v: f32) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: 1, f: v, ..Default::default() }
}

pub fn f32_tensor(name: &str, dims: &[i64], data: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        data_type: FLOAT,
        dims: dims.to_vec(),
        float_data: data.to_vec(),
        ..Default::default()
    }
}

/// An 8-bit (`INT8` or `UINT8`) or `INT32` tensor from integer values.
pub fn int_tensor(name: &str, data_type: i32, dims: &[i64], data: &[i32]) -> TensorProto {
    TensorProto { name: name.into(), data_type, dims: dims.to_vec(), int32_data: data.to_vec(), ..Default::default() }
}

pub fn i64_tensor(name: &str, dims: &[i64], data: &[i64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        data_type: INT64,
        dims: dims.to_vec(),
        int64_data: data.to_vec(),
        ..Default::default()
    }
}

pub fn model(
    nodes: Vec<NodeProto>,
    inputs: Vec<ValueInfoProto>,
    outputs: Vec<ValueInfoProto>,
    initializer: Vec<TensorProto>,
) -> ModelProto {
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: 13 }],
        graph: Some(GraphProto {
            name: "generated".into(),
            node: nodes,
            input: inputs,
            output: outputs,
            initializer,
            ..Default::default()
        }),
        ..Default::default()
    }
}
