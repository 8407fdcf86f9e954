//! Top-down evaluation over a COCO set: which people to estimate (ground-truth boxes, clipped
//! as mmpose does, or a detector's boxes), running a model on every one of them, mmpose's
//! OKS-NMS per image, then COCO AP/AR and PCK.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::coco::{evaluate_keypoints, CocoEvalParams, CocoStats};
use super::dataset::CocoDataset;
use super::nms::oks_nms;
use super::pck::{bbox_norm, pck, Pck, PckSample};
use super::results::KeypointResult;
use crate::pipeline::{load_rgb, BBox, PersonPose, PoseBackend, TopDownPipeline};
use crate::{Error, Result};

/// mmpose `CocoMetric`'s OKS-NMS threshold.
pub const NMS_THRESHOLD: f64 = 0.9;
/// mmpose `PCKAccuracy`'s default threshold (bbox-normalised).
pub const PCK_THRESHOLD: f64 = 0.05;

/// One person box from a detector, as in mmpose's `bbox_file` (COCO detection results).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct DetectedBox {
    pub image_id: u64,
    /// `xywh`, image pixels.
    pub bbox: [f64; 4],
    pub score: f64,
    #[serde(default = "person")]
    pub category_id: u64,
}

fn person() -> u64 {
    1
}

/// Reads a COCO detection results file (`[{image_id, bbox, score, category_id}]`).
pub fn read_detections(path: &Path) -> Result<Vec<DetectedBox>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| {
        Error::invalid(format!(
            "{}: not a COCO detection results array ([{{image_id, bbox, score}}]): {e}",
            path.display()
        ))
    })
}

/// One person to estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct PersonTask {
    /// The box the crop is made from (image pixels).
    pub bbox: BBox,
    /// Index of the ground-truth annotation in `CocoDataset::annotations` (ground-truth boxes
    /// only).
    pub annotation: Option<usize>,
}

/// The people of one image.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageTask {
    /// Index into `CocoDataset::images`.
    pub image: usize,
    pub people: Vec<PersonTask>,
}

/// Where the person boxes came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BoxSource {
    /// Annotated people (not crowd, at least one labelled keypoint), boxes clipped to the
    /// image as mmpose does (or not, as BlazePose's reference protocol does).
    GroundTruth { clipped: bool },
    /// A detector's boxes (category 1), not clipped, as mmpose uses a `bbox_file`.
    Detections,
}

/// A COCO set prepared for top-down evaluation: ground truth, where its images are, and the
/// people to estimate in each image.
#[derive(Clone, Debug)]
pub struct EvalSet {
    pub gt: CocoDataset,
    pub images_dir: PathBuf,
    pub tasks: Vec<ImageTask>,
    pub source: BoxSource,
}

impl EvalSet {
    /// Every annotated person of `gt` (mmpose's ground-truth-box protocol), boxes clipped to
    /// the image when `clip` (mmpose) or as annotated (BlazePose's reference protocol).
    pub fn ground_truth(gt: CocoDataset, images_dir: &Path, clip: bool) -> Result<EvalSet> {
        let mut people: BTreeMap<u64, Vec<PersonTask>> = BTreeMap::new();
        let images: HashMap<u64, usize> = gt.images.iter().enumerate().map(|(i, im)| (im.id, i)).collect();
        for (ai, a) in gt.annotations.iter().enumerate() {
            if !(a.category_id == 1 && a.iscrowd == 0 && a.labelled_keypoints() > 0) {
                continue;
            }
            let Some(&ii) = images.get(&a.image_id) else { continue };
            let im = &gt.images[ii];
            let b = a.person_box();
            let bbox = if clip { b.clipped_to_image(im.width, im.height) } else { b };
            people.entry(a.image_id).or_default().push(PersonTask { bbox, annotation: Some(ai) });
        }
        let tasks = order_tasks(&gt, people);
        let set = EvalSet {
            gt,
            images_dir: images_dir.to_path_buf(),
            tasks,
            source: BoxSource::GroundTruth { clipped: clip },
        };
        set.check("no annotated person with keypoints (category 1, not crowd, num_keypoints > 0)")?;
        Ok(set)
    }

    /// The detector's person boxes (category 1, score ≥ `min_score`), as mmpose reads a
    /// `bbox_file`. Every detection must name an image of `gt`.
    pub fn detections(gt: CocoDataset, images_dir: &Path, dets: &[DetectedBox], min_score: f64) -> Result<EvalSet> {
        let ids: HashMap<u64, usize> = gt.images.iter().enumerate().map(|(i, im)| (im.id, i)).collect();
        let mut people: BTreeMap<u64, Vec<PersonTask>> = BTreeMap::new();
        for (i, d) in dets.iter().enumerate() {
            if !ids.contains_key(&d.image_id) {
                return Err(Error::invalid(format!(
                    "detection {i} is for image {} which is not in the annotation file",
                    d.image_id
                )));
            }
            if d.bbox.iter().any(|v| !v.is_finite()) || !d.score.is_finite() {
                return Err(Error::invalid(format!(
                    "detection {i} (image {}) has a non-finite box or score",
                    d.image_id
                )));
            }
            if d.category_id != 1 || d.score < min_score {
                continue;
            }
            let [x, y, w, h] = d.bbox.map(|v| v as f32);
            people
                .entry(d.image_id)
                .or_default()
                .push(PersonTask { bbox: BBox::new(x, y, w, h, d.score as f32), annotation: None });
        }
        let tasks = order_tasks(&gt, people);
        let set = EvalSet { gt, images_dir: images_dir.to_path_buf(), tasks, source: BoxSource::Detections };
        set.check("no person detection (category 1) above the score threshold")?;
        Ok(set)
    }

    /// Keeps the first `n` images that have people (in annotation-file order). The ground
    /// truth keeps only those images too, so AP is computed on the subset.
    pub fn first_images(mut self, n: usize) -> Result<EvalSet> {
        self.tasks.truncate(n);
        let keep: HashSet<u64> = self.tasks.iter().map(|t| self.gt.images[t.image].id).collect();
        let old_images = std::mem::take(&mut self.gt.images);
        let mut new_index = HashMap::new();
        for (i, im) in old_images.into_iter().enumerate() {
            if keep.contains(&im.id) {
                new_index.insert(i, self.gt.images.len());
                self.gt.images.push(im);
            }
        }
        let old_anns = std::mem::take(&mut self.gt.annotations);
        let mut ann_index = HashMap::new();
        for (i, a) in old_anns.into_iter().enumerate() {
            if keep.contains(&a.image_id) {
                ann_index.insert(i, self.gt.annotations.len());
                self.gt.annotations.push(a);
            }
        }
        for t in &mut self.tasks {
            t.image = new_index[&t.image];
            for p in &mut t.people {
                p.annotation = p.annotation.map(|a| ann_index[&a]);
            }
        }
        self.check("no image with people left")?;
        Ok(self)
    }

    /// "28 of 80 images have people: 86 people, ground-truth boxes (clipped to the image, as
    /// mmpose)".
    pub fn describe(&self) -> String {
        let source = match self.source {
            BoxSource::GroundTruth { clipped: true } => "ground-truth boxes (clipped to the image, as mmpose)",
            BoxSource::GroundTruth { clipped: false } => "ground-truth boxes (not clipped)",
            BoxSource::Detections => "detector boxes",
        };
        format!(
            "{} of {} images have people: {} people, {source}",
            self.tasks.len(),
            self.gt.images.len(),
            self.people()
        )
    }

    /// Number of people to estimate.
    pub fn people(&self) -> usize {
        self.tasks.iter().map(|t| t.people.len()).sum()
    }

    /// The file of image task `t`.
    pub fn image_path(&self, t: &ImageTask) -> PathBuf {
        self.images_dir.join(&self.gt.images[t.image].file_name)
    }

    /// Errors unless there are people to estimate and every image they are in exists.
    fn check(&self, empty: &str) -> Result<()> {
        if self.people() == 0 {
            return Err(Error::invalid(format!("nothing to evaluate: {empty}")));
        }
        if !self.images_dir.is_dir() {
            return Err(Error::invalid(format!("images directory {} does not exist", self.images_dir.display())));
        }
        let missing: Vec<String> = self
            .tasks
            .iter()
            .map(|t| self.image_path(t))
            .filter(|p| !p.is_file())
            .map(|p| p.display().to_string())
            .collect();
        if let Some(first) = missing.first() {
            return Err(Error::invalid(format!(
                "{} of {} images are missing, e.g. {first} (is --images the directory the annotation file's \
                 file_name entries are relative to?)",
                missing.len(),
                self.tasks.len()
            )));
        }
        Ok(())
    }
}

/// Tasks in the order of the annotation file's image list.
fn order_tasks(gt: &CocoDataset, mut people: BTreeMap<u64, Vec<PersonTask>>) -> Vec<ImageTask> {
    gt.images
        .iter()
        .enumerate()
        .filter_map(|(i, im)| people.remove(&im.id).map(|p| ImageTask { image: i, people: p }))
        .collect()
}

/// One estimated person.
#[derive(Clone, Debug, PartialEq)]
pub struct EstimatedPerson {
    pub image_id: u64,
    /// Ground-truth annotation index (ground-truth boxes only).
    pub annotation: Option<usize>,
    pub pose: PersonPose,
}

/// Runs the pipeline on every person of `set`, in task order (the same order for every
/// model, so two runs line up person by person). `progress` is called after each image with
/// the number of people done so far.
pub fn estimate_set(
    set: &EvalSet,
    pipeline: &mut TopDownPipeline,
    backend: &mut dyn PoseBackend,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<EstimatedPerson>> {
    let mut out = Vec::with_capacity(set.people());
    for t in &set.tasks {
        let image = load_rgb(&set.image_path(t))?;
        let boxes: Vec<BBox> = t.people.iter().map(|p| p.bbox).collect();
        let image_id = set.gt.images[t.image].id;
        let poses = pipeline
            .estimate(backend, &image, &boxes)
            .map_err(|e| Error::Context { context: format!("image {image_id}"), source: Box::new(e) })?;
        for (p, pose) in t.people.iter().zip(poses) {
            out.push(EstimatedPerson { image_id, annotation: p.annotation, pose });
        }
        progress(out.len());
    }
    Ok(out)
}

/// The COCO results of every person, before NMS (one per box, in box order).
pub fn results_of(people: &[EstimatedPerson]) -> Vec<KeypointResult> {
    people.iter().map(|p| KeypointResult::from_pose(p.image_id, &p.pose)).collect()
}

/// mmpose's OKS-NMS per image (threshold [`NMS_THRESHOLD`], instance areas from the crops);
/// returns the kept people's COCO results, image by image, best first within an image.
pub fn nms_results(people: &[EstimatedPerson], sigmas: &[f64]) -> Vec<KeypointResult> {
    let mut by_image: BTreeMap<u64, Vec<&EstimatedPerson>> = BTreeMap::new();
    for p in people {
        by_image.entry(p.image_id).or_default().push(p);
    }
    let mut out = Vec::with_capacity(people.len());
    for (image_id, ps) in by_image {
        let poses: Vec<PersonPose> = ps.iter().map(|p| p.pose.clone()).collect();
        for k in oks_nms(&poses, NMS_THRESHOLD, sigmas) {
            out.push(KeypointResult::from_pose(image_id, &poses[k]));
        }
    }
    out
}

/// PCK at `thr` normalised by the longer side of each person's box (mmpose `PCKAccuracy`,
/// `norm_item='bbox'`), over the people estimated from ground-truth boxes; `None` when no
/// person has a ground-truth annotation (detector boxes).
pub fn pck_bbox(gt: &CocoDataset, people: &[EstimatedPerson], thr: f64) -> Result<Option<Pck>> {
    let mut samples = Vec::new();
    for p in people {
        let Some(ai) = p.annotation else { continue };
        let a = gt
            .annotations
            .get(ai)
            .ok_or_else(|| Error::invalid(format!("person of image {} refers to a missing annotation", p.image_id)))?;
        let k = p.pose.keypoints.len();
        if a.keypoints.len() != 3 * k {
            return Err(Error::invalid(format!(
                "annotation {} has {} keypoints, the model reports {k}",
                a.id,
                a.keypoints.len() / 3
            )));
        }
        samples.push(PckSample {
            pred: p.pose.keypoints.iter().map(|q| [f64::from(q.x), f64::from(q.y)]).collect(),
            gt: a.keypoints.chunks_exact(3).map(|t| [t[0], t[1]]).collect(),
            visible: a.keypoints.chunks_exact(3).map(|t| t[2] > 0.0).collect(),
            norm: bbox_norm(f64::from(p.pose.bbox.w), f64::from(p.pose.bbox.h)),
        });
    }
    if samples.is_empty() {
        return Ok(None);
    }
    pck(&samples, thr).map(Some)
}

/// What one model scored on a set.
#[derive(Clone, Debug)]
pub struct EvalSummary {
    /// The ten COCO keypoint stats of the results after OKS-NMS.
    pub stats: CocoStats,
    /// PCK@0.05, bbox-normalised (ground-truth boxes only).
    pub pck: Option<Pck>,
    /// People estimated (boxes).
    pub people: usize,
    /// Results before NMS, one per box in task order.
    pub raw: Vec<KeypointResult>,
    /// Results after OKS-NMS: what AP is computed on and what `--json` writes.
    pub results: Vec<KeypointResult>,
}

/// Scores estimated people: OKS-NMS, COCO AP/AR (pycocotools' algorithm) with `sigmas`, and
/// bbox-normalised PCK. Errors when the model's keypoints do not match the annotations'.
pub fn summarize(gt: &CocoDataset, people: &[EstimatedPerson], sigmas: &[f64]) -> Result<EvalSummary> {
    let gt_k = gt.annotations.iter().find(|a| !a.keypoints.is_empty()).map(|a| a.keypoints.len() / 3);
    if let (Some(gt_k), Some(p)) = (gt_k, people.first()) {
        if p.pose.keypoints.len() != gt_k || sigmas.len() != gt_k {
            return Err(Error::Config(format!(
                "the model reports {} keypoints ({} OKS sigmas configured), the annotations have {gt_k}",
                p.pose.keypoints.len(),
                sigmas.len()
            )));
        }
    }
    let raw = results_of(people);
    let results = nms_results(people, sigmas);
    let params = CocoEvalParams { sigmas: sigmas.to_vec(), ..CocoEvalParams::default() };
    let stats = evaluate_keypoints(gt, &results, &params)?;
    let pck = pck_bbox(gt, people, PCK_THRESHOLD)?;
    Ok(EvalSummary { stats, pck, people: people.len(), raw, results })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::dataset::{CocoAnnotation, CocoImage};

    fn ann(id: u64, image_id: u64, bbox: [f64; 4], labelled: bool, crowd: u8) -> CocoAnnotation {
        let v = if labelled { 2.0 } else { 0.0 };
        CocoAnnotation {
            id,
            image_id,
            category_id: 1,
            iscrowd: crowd,
            area: 100.0,
            bbox,
            keypoints: vec![1.0, 1.0, v],
            num_keypoints: None,
        }
    }

    fn dataset() -> CocoDataset {
        let image = |id, name: &str| CocoImage {
            id,
            file_name: name.into(),
            width: 100,
            height: 50,
            license: None,
            flickr_url: None,
            coco_url: None,
        };
        CocoDataset {
            images: vec![image(2, "b.jpg"), image(1, "a.jpg"), image(3, "c.jpg")],
            annotations: vec![
                ann(10, 1, [-5.0, 10.0, 200.0, 20.0], true, 0),
                ann(11, 1, [0.0, 0.0, 5.0, 5.0], false, 0),
                ann(12, 2, [1.0, 1.0, 5.0, 5.0], true, 1),
                ann(13, 2, [1.0, 1.0, 5.0, 5.0], true, 0),
            ],
            ..CocoDataset::default()
        }
    }

    fn images_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("qpose-topdown-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["a.jpg", "b.jpg", "c.jpg"] {
            std::fs::write(dir.join(f), b"").unwrap();
        }
        dir
    }

    #[test]
    fn ground_truth_people_clipped_in_image_order() {
        let dir = images_dir("gt");
        let set = EvalSet::ground_truth(dataset(), &dir, true).unwrap();
        // Image 2 comes first in the file; its crowd annotation is skipped, and so is image 1's
        // person without labelled keypoints.
        assert_eq!(set.tasks.len(), 2);
        assert_eq!(set.gt.images[set.tasks[0].image].id, 2);
        assert_eq!(
            set.tasks[0].people,
            vec![PersonTask { bbox: BBox::new(1.0, 1.0, 5.0, 5.0, 1.0), annotation: Some(3) }]
        );
        assert_eq!(set.tasks[1].people[0].bbox, BBox::new(0.0, 10.0, 99.0, 20.0, 1.0));
        let unclipped = EvalSet::ground_truth(dataset(), &dir, false).unwrap();
        assert_eq!(unclipped.tasks[1].people[0].bbox, BBox::new(-5.0, 10.0, 200.0, 20.0, 1.0));
        // The subset keeps the first image only, ground truth included.
        let sub = set.first_images(1).unwrap();
        assert_eq!(sub.gt.images.len(), 1);
        assert_eq!(sub.gt.annotations.iter().map(|a| a.id).collect::<Vec<_>>(), vec![12, 13]);
        assert_eq!(sub.tasks[0].people[0].annotation, Some(1));
        assert_eq!(sub.tasks[0].image, 0);
    }

    #[test]
    fn detections_and_errors() {
        let dir = images_dir("det");
        let det =
            |image_id, score, category_id| DetectedBox { image_id, bbox: [-3.0, 0.0, 10.0, 10.0], score, category_id };
        let set = EvalSet::detections(dataset(), &dir, &[det(3, 0.9, 1), det(3, 0.1, 1), det(1, 0.9, 2)], 0.2).unwrap();
        assert_eq!(set.people(), 1);
        assert_eq!(set.tasks[0].people[0].bbox, BBox::new(-3.0, 0.0, 10.0, 10.0, 0.9));
        assert_eq!(set.source, BoxSource::Detections);
        let e = EvalSet::detections(dataset(), &dir, &[det(7, 0.9, 1)], 0.0).unwrap_err().to_string();
        assert!(e.contains("image 7"), "{e}");
        let e = EvalSet::detections(dataset(), &dir, &[det(3, 0.1, 1)], 0.5).unwrap_err().to_string();
        assert!(e.contains("nothing to evaluate"), "{e}");
        let e = EvalSet::ground_truth(dataset(), &dir.join("nope"), true).unwrap_err().to_string();
        assert!(e.contains("does not exist"), "{e}");
        std::fs::remove_file(dir.join("a.jpg")).unwrap();
        let e = EvalSet::ground_truth(dataset(), &dir, true).unwrap_err().to_string();
        assert!(e.contains("1 of 2 images are missing") && e.contains("a.jpg"), "{e}");
    }
}
