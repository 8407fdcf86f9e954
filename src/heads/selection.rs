//! Which of a head's keypoints are reported, in which order.

use crate::{bail, Result};

/// Picks and orders a head's raw keypoints: output keypoint `j` is raw keypoint `indices[j]`
/// (BlazePose: COCO's 17 from its 33 landmarks). `All` keeps the head's own order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum KeypointSelection {
    #[default]
    All,
    Indices(Vec<usize>),
}

impl KeypointSelection {
    /// Builds a selection from an optional index list (`None` keeps all keypoints).
    pub fn from_indices(indices: Option<Vec<usize>>) -> KeypointSelection {
        indices.map_or(KeypointSelection::All, KeypointSelection::Indices)
    }

    /// Number of output keypoints when the head produces `raw` keypoints; an error if an
    /// index is out of range.
    pub fn count(&self, raw: usize) -> Result<usize> {
        match self {
            KeypointSelection::All => Ok(raw),
            KeypointSelection::Indices(idx) => {
                if let Some(&bad) = idx.iter().find(|&&i| i >= raw) {
                    bail!("keypoint selection index {bad} is out of range: the head has {raw}");
                }
                Ok(idx.len())
            }
        }
    }

    /// The raw keypoint that output keypoint `j` comes from.
    pub fn raw(&self, j: usize) -> usize {
        match self {
            KeypointSelection::All => j,
            KeypointSelection::Indices(idx) => idx[j],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_and_indices() {
        assert_eq!(KeypointSelection::All.count(5).unwrap(), 5);
        assert_eq!(KeypointSelection::All.raw(3), 3);
        let s = KeypointSelection::from_indices(Some(vec![4, 0]));
        assert_eq!(s.count(5).unwrap(), 2);
        assert_eq!(s.raw(0), 4);
        assert!(s.count(4).is_err());
    }
}
