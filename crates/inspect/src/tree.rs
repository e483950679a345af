//! The streaming Merkle tree the verifier recomputes: only the right edge (one hash per set bit
//! of the size) and the hashes of the partial tile at each tile level are kept, so memory does
//! not grow with the log, and the state can be saved to resume later.

use insyn_ledger::hash::{EMPTY_ROOT, Hash, node_hash};
use insyn_ledger::tile::{TILE_HEIGHT, TILE_WIDTH, Tile};

/// A hash tile the tree has just completed (or, at the end, a partial one) and that the served
/// tile must equal.
#[derive(Debug, Clone, PartialEq)]
pub struct ComputedTile {
    /// The tile's coordinates.
    pub tile: Tile,
    /// Its hashes, in order.
    pub hashes: Vec<Hash>,
}

/// An RFC 6962 tree grown leaf by leaf.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamingTree {
    size: u64,
    /// Roots of the perfect subtrees that make up the tree, largest (leftmost) first.
    edge: Vec<Hash>,
    /// Per tile level L, the hashes at tree level 8·L not yet in a full tile.
    pending: Vec<Vec<Hash>>,
}

impl StreamingTree {
    /// An empty tree.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A tree restored from its saved parts. Returns `None` when they do not fit together.
    #[must_use]
    pub fn from_parts(size: u64, edge: Vec<Hash>, pending: Vec<Vec<Hash>>) -> Option<Self> {
        if edge.len() != size.count_ones() as usize || pending.len() > 8 {
            return None;
        }
        for (level, p) in pending.iter().enumerate() {
            let n = size >> (u32::from(TILE_HEIGHT) * level as u32);
            if p.len() as u64 != n % u64::from(TILE_WIDTH) {
                return None;
            }
        }
        Some(Self {
            size,
            edge,
            pending,
        })
    }

    /// The number of leaves.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The right edge (perfect subtree roots, leftmost first).
    #[must_use]
    pub fn edge(&self) -> &[Hash] {
        &self.edge
    }

    /// The hashes of the partial tile at each level.
    #[must_use]
    pub fn pending(&self) -> &[Vec<Hash>] {
        &self.pending
    }

    /// The leaf hashes of the current partial level-0 tile.
    #[must_use]
    pub fn pending_leaves(&self) -> &[Hash] {
        self.pending.first().map_or(&[], Vec::as_slice)
    }

    /// Appends a leaf hash. Every hash tile this completes is passed to `full` (level 0 included).
    pub fn push(&mut self, leaf: Hash, mut full: impl FnMut(ComputedTile)) {
        let mut h = leaf;
        self.emit(0, h, &mut full);
        let mut height = 0u32;
        while (self.size >> height) & 1 == 1 {
            // The bit is set, so the edge has a subtree of this height to merge with.
            let Some(left) = self.edge.pop() else { break };
            h = node_hash(left, h);
            height += 1;
            if height.is_multiple_of(u32::from(TILE_HEIGHT)) {
                self.emit((height / u32::from(TILE_HEIGHT)) as usize, h, &mut full);
            }
        }
        self.edge.push(h);
        self.size += 1;
    }

    fn emit(&mut self, level: usize, h: Hash, full: &mut impl FnMut(ComputedTile)) {
        while self.pending.len() <= level {
            self.pending.push(Vec::new());
        }
        let p = &mut self.pending[level];
        p.push(h);
        if p.len() == usize::from(TILE_WIDTH) {
            // The number of hashes at this level, including this one, after the push completes.
            let shift = u32::from(TILE_HEIGHT) * level as u32;
            let count = if level == 0 {
                self.size + 1
            } else {
                (self.size + 1) >> shift
            };
            let index = (count - 1) / u64::from(TILE_WIDTH);
            let hashes = std::mem::take(p);
            if let Ok(tile) = Tile::hashes(level as u8, index, TILE_WIDTH) {
                full(ComputedTile { tile, hashes });
            }
        }
    }

    /// The partial hash tiles of the tree as it stands (the right edge of each level).
    #[must_use]
    pub fn partial_tiles(&self) -> Vec<ComputedTile> {
        let mut out = Vec::new();
        for (level, p) in self.pending.iter().enumerate() {
            if p.is_empty() {
                continue;
            }
            let shift = u32::from(TILE_HEIGHT) * level as u32;
            let index = (self.size >> shift) / u64::from(TILE_WIDTH);
            let width = u16::try_from(p.len()).unwrap_or(0);
            if let Ok(tile) = Tile::hashes(level as u8, index, width) {
                out.push(ComputedTile {
                    tile,
                    hashes: p.clone(),
                });
            }
        }
        out
    }

    /// The root hash (RFC 6962 MTH) of the tree.
    #[must_use]
    pub fn root(&self) -> Hash {
        let mut it = self.edge.iter().rev();
        let Some(mut h) = it.next().copied() else {
            return EMPTY_ROOT;
        };
        for left in it {
            h = node_hash(*left, h);
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use insyn_ledger::hash::leaf_hash;
    use insyn_ledger::merkle::{MemoryHashes, root_from_leaves};

    #[test]
    fn roots_and_tiles_match_the_ledger() {
        let leaves: Vec<Hash> = (0..70_000u32)
            .map(|i| leaf_hash(&i.to_be_bytes()))
            .collect();
        let mem = MemoryHashes::from_leaves(leaves.iter().copied());
        let mut t = StreamingTree::new();
        let mut tiles = Vec::new();
        for (i, l) in leaves.iter().enumerate() {
            t.push(*l, |c| tiles.push(c));
            let n = i + 1;
            if n < 600 || n % 9973 == 0 || n == leaves.len() {
                assert_eq!(t.root(), root_from_leaves(&leaves[..n]), "size {n}");
                let back =
                    StreamingTree::from_parts(t.size(), t.edge().to_vec(), t.pending().to_vec());
                assert_eq!(back.as_ref(), Some(&t));
            }
        }
        tiles.extend(t.partial_tiles());
        let mut expected = Tile::for_tree(leaves.len() as u64);
        expected.retain(|x| x.level().is_some());
        let got: Vec<Tile> = tiles.iter().map(|c| c.tile).collect();
        let mut e = expected.clone();
        e.sort();
        let mut g = got.clone();
        g.sort();
        assert_eq!(g, e);
        for c in &tiles {
            let want = c.tile.read_hashes(&mem).unwrap();
            let have: Vec<u8> = c.hashes.iter().flat_map(|h| h.0).collect();
            assert_eq!(have, want, "{}", c.tile);
        }
    }
}
