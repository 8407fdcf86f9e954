//! Flip test: which keypoint becomes which when the input is mirrored.

use crate::{bail, Result};

/// For each output keypoint `j`, the keypoint `flip[j]` it is mirrored into (mmpose
/// `flip_indices`). A permutation that is its own inverse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlipIndices(Vec<usize>);

impl FlipIndices {
    /// Builds the permutation of `count` keypoints from left/right pairs; unpaired keypoints
    /// (nose, pelvis...) map to themselves.
    pub fn from_pairs(count: usize, pairs: &[[usize; 2]]) -> Result<FlipIndices> {
        let mut map: Vec<usize> = (0..count).collect();
        let mut seen = vec![false; count];
        for &[a, b] in pairs {
            if a >= count || b >= count {
                bail!("flip pair [{a}, {b}] is out of range for {count} keypoints");
            }
            if a == b || seen[a] || seen[b] {
                bail!("flip pair [{a}, {b}] repeats a keypoint");
            }
            seen[a] = true;
            seen[b] = true;
            map[a] = b;
            map[b] = a;
        }
        Ok(FlipIndices(map))
    }

    /// The keypoint that `j` is mirrored into.
    pub fn of(&self, j: usize) -> usize {
        self.0[j]
    }

    /// Checks that this permutation covers `count` keypoints.
    pub fn check_len(&self, count: usize) -> Result<()> {
        if self.0.len() != count {
            bail!("flip indices cover {} keypoints, the head decodes {count}", self.0.len());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coco17_pairs_give_mmpose_flip_indices() {
        let f = FlipIndices::from_pairs(17, &crate::heads::COCO17_FLIP_PAIRS).unwrap();
        assert_eq!(f.0, [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]);
    }

    #[test]
    fn mpii_pairs_give_mmpose_indices() {
        let pairs = [[0, 5], [1, 4], [2, 3], [10, 15], [11, 14], [12, 13]];
        let f = FlipIndices::from_pairs(16, &pairs).unwrap();
        assert_eq!(f.0, [5, 4, 3, 2, 1, 0, 6, 7, 8, 9, 15, 14, 13, 12, 11, 10]);
    }

    #[test]
    fn bad_pairs_are_errors() {
        assert!(FlipIndices::from_pairs(3, &[[0, 3]]).is_err());
        assert!(FlipIndices::from_pairs(3, &[[0, 1], [1, 2]]).is_err());
        assert!(FlipIndices::from_pairs(3, &[[1, 1]]).is_err());
    }
}
