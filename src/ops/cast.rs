//! `Cast` between element types (truncation toward zero for float to int).

use crate::tensor::DType;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cast {
    pub to: DType,
}
