//! Arena placement: every run-time tensor (and every step's scratch) gets a byte range,
//! reused once its lifetime is over. Reshapes share their input's range. Greedy by size:
//! largest first, each at the lowest offset free for its whole lifetime.

use crate::exec::{Region, Slot, SLOT_ALIGN};
use crate::graph::Graph;
use crate::tensor::numel;
use crate::{Error, Result};

/// Where each value and each node's scratch lives.
pub struct Placement {
    /// Per value: its slot (arena or constant area), `None` for constants only packed.
    pub values: Vec<Option<Slot>>,
    /// Per node: its scratch slot.
    pub scratch: Vec<Option<Slot>>,
    pub arena_bytes: usize,
    /// Constants read at run time, with their offsets in the constant area.
    pub consts: Vec<(crate::graph::ValueId, usize)>,
    pub const_bytes: usize,
}

struct Item {
    bytes: usize,
    start: usize,
    end: usize,
    /// Values sharing this range, or `None` for a node's scratch.
    values: Vec<usize>,
    node: Option<usize>,
}

/// Overlapping lifetimes the greedy placement examines in total before it stops looking for
/// reuse (each item examines those alive with it: quadratic when everything is alive at once).
const PLACEMENT_WORK: usize = 1 << 20;

fn align(x: usize) -> usize {
    x.div_ceil(SLOT_ALIGN) * SLOT_ALIGN
}

/// Places a sorted, pruned graph. `scratch[i]` is node `i`'s scratch need in bytes.
pub fn place(g: &Graph, scratch: &[usize], max_arena_bytes: usize) -> Result<Placement> {
    let nv = g.values.len();
    let last = g.nodes.len();
    let bytes_of = |v: usize| -> Result<usize> {
        let val = &g.values[v];
        numel(&val.shape)?
            .checked_mul(val.dtype.size())
            .ok_or_else(|| Error::Limit(format!("tensor '{}' is too large", val.name)))
    };
    // Alias roots: a reshape's output shares its input's buffer.
    let mut root: Vec<usize> = (0..nv).collect();
    for n in &g.nodes {
        if n.op.is_alias() && !g.value(n.inputs[0]).is_const() {
            root[n.outputs[0].0] = root[n.inputs[0].0];
        }
    }
    let mut start = vec![usize::MAX; nv];
    let mut end = vec![0usize; nv];
    for &i in &g.inputs {
        start[root[i.0]] = 0;
    }
    for (t, n) in g.nodes.iter().enumerate() {
        for o in &n.outputs {
            let r = root[o.0];
            start[r] = start[r].min(t);
            end[r] = end[r].max(t);
        }
        for i in &n.inputs {
            let r = root[i.0];
            end[r] = end[r].max(t);
        }
    }
    for &o in &g.outputs {
        end[root[o.0]] = last;
    }
    let mut items: Vec<Item> = Vec::new();
    let mut item_of_root = vec![usize::MAX; nv];
    for v in 0..nv {
        if g.values[v].is_const() || start[root[v]] == usize::MAX {
            continue;
        }
        let r = root[v];
        if item_of_root[r] == usize::MAX {
            item_of_root[r] = items.len();
            items.push(Item { bytes: bytes_of(r)?, start: start[r], end: end[r], values: vec![], node: None });
        }
        items[item_of_root[r]].values.push(v);
    }
    for (t, &b) in scratch.iter().enumerate() {
        if b > 0 {
            items.push(Item { bytes: b, start: t, end: t, values: vec![], node: Some(t) });
        }
    }
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(items[i].bytes), items[i].start));
    let mut placed = Placed::new(last + 1);
    let mut offsets = vec![0usize; items.len()];
    let mut arena = 0usize;
    let mut busy = Vec::new();
    let mut work = 0usize;
    for &i in &order {
        let it = &items[i];
        let size = align(it.bytes.max(1));
        let mut offset = arena;
        // Past the work budget (thousands of tensors alive at once: a hostile graph, not a
        // pose model), the rest goes on top of the arena: linear time, no reuse.
        if work <= PLACEMENT_WORK {
            placed.overlapping(it.start, it.end, &mut busy);
            work += busy.len();
            busy.sort_unstable();
            offset = 0;
            for &(b0, b1) in &busy {
                if offset + size <= b0 {
                    break;
                }
                offset = offset.max(b1);
            }
        }
        offsets[i] = offset;
        placed.insert(it.start, it.end, (offset, offset + size));
        arena = arena.max(offset + size);
        if arena > max_arena_bytes {
            return Err(Error::Limit(format!(
                "the activation arena would exceed {max_arena_bytes} bytes (max_arena_bytes)"
            )));
        }
    }
    let mut values = vec![None; nv];
    let mut scratch_slots = vec![None; g.nodes.len()];
    for (i, it) in items.iter().enumerate() {
        let slot = |bytes| Slot { region: Region::Arena, offset: offsets[i], bytes };
        for &v in &it.values {
            values[v] = Some(slot(bytes_of(v)?));
        }
        if let Some(t) = it.node {
            scratch_slots[t] = Some(slot(it.bytes));
        }
    }
    // Constants read at run time.
    let mut consts = Vec::new();
    let mut const_bytes = 0;
    for n in &g.nodes {
        for (j, v) in n.inputs.iter().enumerate() {
            if g.value(*v).is_const() && !n.op.packs_input(j) && values[v.0].is_none() {
                let b = bytes_of(v.0)?;
                values[v.0] = Some(Slot { region: Region::Const, offset: const_bytes, bytes: b });
                consts.push((*v, const_bytes));
                const_bytes += align(b.max(1));
            }
        }
    }
    Ok(Placement { values, scratch: scratch_slots, arena_bytes: arena, consts, const_bytes })
}

/// Byte ranges placed so far, indexed by their lifetime `[start, end]` (step indices), so
/// that finding those alive during a given lifetime costs O(log T + what is found) rather
/// than a scan of everything placed (quadratic on long graphs).
struct Placed {
    /// Segment tree over time: each range is stored at the O(log T) nodes covering its
    /// lifetime, so a stabbing query at time `t` visits the root-to-leaf path of `t`.
    tree: Vec<Vec<(usize, usize)>>,
    leaves: usize,
    /// Ranges by the step their lifetime starts at.
    by_start: std::collections::BTreeMap<usize, Vec<(usize, usize)>>,
}

impl Placed {
    fn new(steps: usize) -> Placed {
        let leaves = steps.next_power_of_two();
        Placed { tree: vec![Vec::new(); 2 * leaves], leaves, by_start: Default::default() }
    }

    fn insert(&mut self, start: usize, end: usize, range: (usize, usize)) {
        let (mut l, mut r) = (start + self.leaves, end + self.leaves + 1);
        while l < r {
            if l & 1 == 1 {
                self.tree[l].push(range);
                l += 1;
            }
            if r & 1 == 1 {
                r -= 1;
                self.tree[r].push(range);
            }
            l >>= 1;
            r >>= 1;
        }
        self.by_start.entry(start).or_default().push(range);
    }

    /// The ranges whose lifetime intersects `[start, end]`, into `out` (cleared first): those
    /// alive at `start`, and those starting in `(start, end]`; each exactly once.
    fn overlapping(&self, start: usize, end: usize, out: &mut Vec<(usize, usize)>) {
        out.clear();
        let mut node = start + self.leaves;
        while node >= 1 {
            out.extend_from_slice(&self.tree[node]);
            node >>= 1;
        }
        if end > start {
            for ranges in self.by_start.range(start + 1..=end).map(|(_, r)| r) {
                out.extend_from_slice(ranges);
            }
        }
    }
}
