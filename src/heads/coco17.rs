//! The COCO-17 person keypoint set: names, left/right pairs, OKS sigmas and skeleton.
//! Both COCO and BlazePose name left/right from the person's point of view.

/// Keypoint names in COCO order.
pub const COCO17_NAMES: [&str; 17] = [
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
];

/// Left/right pairs swapped by a horizontal flip (mmpose `coco.py` `swap`).
pub const COCO17_FLIP_PAIRS: [[usize; 2]; 8] = [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12], [13, 14], [15, 16]];

/// Per-keypoint OKS sigmas (pycocotools `setKpParams`: `[.26, .25, ...] / 10`).
pub const COCO17_SIGMAS: [f64; 17] = [
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089,
    0.089,
];

/// Limbs as 0-based keypoint index pairs (the `skeleton` of the COCO person category, minus 1).
pub const COCO17_SKELETON: [[usize; 2]; 19] = [
    [15, 13],
    [13, 11],
    [16, 14],
    [14, 12],
    [11, 12],
    [5, 11],
    [6, 12],
    [5, 6],
    [5, 7],
    [6, 8],
    [7, 9],
    [8, 10],
    [1, 2],
    [0, 1],
    [0, 2],
    [1, 3],
    [2, 4],
    [3, 5],
    [4, 6],
];
