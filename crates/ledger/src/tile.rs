//! C2SP tlog-tiles: tile coordinates and paths (`tile/<L>/<N>[.p/<W>]`,
//! `tile/entries/<N>[.p/<W>]`, with `N` written in `x001/x234/067` groups), which tiles a growth
//! of the tree creates or changes, tile contents from stored hashes, and entry bundles.
//!
//! Tiles have height 8: a full tile holds 256 hashes (or entries).
//!
//! `tlog_tiles::Tile` is not used for coordinates or paths: its paths are Go sumdb's
//! `tile/<H>/<L>/<N>` form (height in the path, `data` for entries), not C2SP's, and its growth
//! computation shifts by 64 bits for trees near 2^64. Ours is checked against its growth and tile
//! contents in `tests/properties.rs`.

use std::fmt;
use std::ops::Range;

use crate::hash::HASH_SIZE;
use crate::merkle::{HashReader, MAX_TREE_SIZE, MerkleError, stored_hash_index};

/// Tile height: each tile spans 8 levels of the tree.
pub const TILE_HEIGHT: u8 = 8;

/// Hashes (or entries) in a full tile.
pub const TILE_WIDTH: u16 = 256;

/// The longest tile path we parse; every valid path is shorter.
const MAX_PATH_LEN: usize = 64;

/// Why a tile, a tile path or a bundle was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TileError {
    /// Not a canonical tile path.
    #[error(
        "{0:?} is not a tile path (tile/<level>/<index>[.p/<width>] or tile/entries/<index>[.p/<width>])"
    )]
    Path(String),
    /// Tile coordinates outside what a 64-bit tree can hold.
    #[error("no such tile: level {level:?}, index {index}, width {width}")]
    Coordinates {
        /// Level (`None` for an entry bundle).
        level: Option<u8>,
        /// Index within the level.
        index: u64,
        /// Width.
        width: u32,
    },
    /// An entry longer than a `u16` length prefix allows.
    #[error("an entry of {0} bytes does not fit a bundle (at most 65535 bytes)")]
    EntryTooLong(usize),
    /// A bundle with more than 256 entries.
    #[error("a bundle holds at most 256 entries, got {0}")]
    TooManyEntries(usize),
    /// A bundle that ends inside a length prefix or an entry.
    #[error("the entry bundle is cut short")]
    Truncated,
}

/// What a tile holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileKind {
    /// Hashes at tree level `8 * level`.
    Hashes {
        /// Tile level (0 holds leaf hashes).
        level: u8,
    },
    /// Entry bundle: the entries themselves, aligned with level-0 hash tiles.
    Entries,
}

/// A tile: kind, index within its level, and width (1 to 256; 256 is a full tile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tile {
    kind: TileKind,
    index: u64,
    width: u16,
}

impl Tile {
    /// A hash tile.
    ///
    /// # Errors
    /// [`TileError::Coordinates`] when no tree of at most `u64::MAX` leaves has this tile.
    pub fn hashes(level: u8, index: u64, width: u16) -> Result<Self, TileError> {
        Self::checked(TileKind::Hashes { level }, index, width)
    }

    /// An entry bundle.
    ///
    /// # Errors
    /// [`TileError::Coordinates`] when no tree of at most `u64::MAX` leaves has this tile.
    pub fn entries(index: u64, width: u16) -> Result<Self, TileError> {
        Self::checked(TileKind::Entries, index, width)
    }

    fn checked(kind: TileKind, index: u64, width: u16) -> Result<Self, TileError> {
        let level = match kind {
            TileKind::Hashes { level } => level,
            TileKind::Entries => 0,
        };
        let err = || TileError::Coordinates {
            level: matches!(kind, TileKind::Hashes { .. }).then_some(level),
            index,
            width: u32::from(width),
        };
        if !(1..=TILE_WIDTH).contains(&width) || level > 7 {
            return Err(err());
        }
        // The tile's last hash sits at tree level 8 * level, position index * 256 + width - 1; a
        // tree of at most MAX_TREE_SIZE leaves has fewer than MAX_TREE_SIZE >> (8 * level) there.
        let end = index
            .checked_mul(u64::from(TILE_WIDTH))
            .and_then(|x| x.checked_add(u64::from(width)));
        if end.is_none_or(|e| e > MAX_TREE_SIZE >> (8 * u32::from(level))) {
            return Err(err());
        }
        Ok(Self { kind, index, width })
    }

    /// What the tile holds.
    #[must_use]
    pub fn kind(&self) -> TileKind {
        self.kind
    }

    /// The tile level, or `None` for an entry bundle.
    #[must_use]
    pub fn level(&self) -> Option<u8> {
        match self.kind {
            TileKind::Hashes { level } => Some(level),
            TileKind::Entries => None,
        }
    }

    /// The index within the level.
    #[must_use]
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The width: the number of hashes or entries (1 to 256).
    #[must_use]
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Whether the tile is full (256 wide) and so will never change.
    #[must_use]
    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH
    }

    /// The positions, at the tile's tree level, of the hashes (or, for a bundle, the leaf indexes
    /// of the entries) it holds.
    #[must_use]
    pub fn positions(&self) -> Range<u64> {
        let start = self.index << TILE_HEIGHT;
        start..start + u64::from(self.width)
    }

    /// The tile's path, e.g. `tile/0/x001/x234/067.p/8` or `tile/entries/000`.
    #[must_use]
    pub fn path(&self) -> String {
        let mut groups = Vec::new();
        let mut n = self.index;
        loop {
            groups.push(n % 1000);
            n /= 1000;
            if n == 0 {
                break;
            }
        }
        let mut s = String::from("tile/");
        match self.kind {
            TileKind::Hashes { level } => s.push_str(&level.to_string()),
            TileKind::Entries => s.push_str("entries"),
        }
        for (i, g) in groups.iter().rev().enumerate() {
            let last = i + 1 == groups.len();
            s.push_str(if last { "/" } else { "/x" });
            s.push_str(&format!("{g:03}"));
        }
        if !self.is_full() {
            s.push_str(&format!(".p/{}", self.width));
        }
        s
    }

    /// Parses a tile path strictly: it must be exactly what [`Tile::path`] writes for some tile.
    ///
    /// # Errors
    /// [`TileError::Path`] for anything else (leading zeros, `x000` groups, `..`, empty or extra
    /// segments, widths of 0 or 256 and above, indexes beyond a 64-bit tree).
    pub fn parse_path(path: &str) -> Result<Self, TileError> {
        let err = || TileError::Path(path.chars().take(MAX_PATH_LEN * 2).collect());
        if path.len() > MAX_PATH_LEN || !path.is_ascii() {
            return Err(err());
        }
        let mut segs: Vec<&str> = path.split('/').collect();
        if segs.len() < 3 || segs[0] != "tile" {
            return Err(err());
        }
        let kind = if segs[1] == "entries" {
            TileKind::Entries
        } else {
            let l = parse_decimal(segs[1]).ok_or_else(err)?;
            TileKind::Hashes {
                level: u8::try_from(l).map_err(|_| err())?,
            }
        };
        let mut width = TILE_WIDTH;
        let n = segs.len();
        if let Some(stripped) = segs[n - 2].strip_suffix(".p").filter(|_| n >= 4) {
            let w = parse_decimal(segs[n - 1]).ok_or_else(err)?;
            width = u16::try_from(w).map_err(|_| err())?;
            if width == 0 || width >= TILE_WIDTH {
                return Err(err());
            }
            segs[n - 2] = stripped;
            segs.pop();
        }
        let groups = &segs[2..];
        if groups.is_empty() || groups.len() > 7 {
            return Err(err());
        }
        let mut index: u64 = 0;
        for (i, g) in groups.iter().enumerate() {
            let digits = if i + 1 == groups.len() {
                *g
            } else {
                g.strip_prefix('x').ok_or_else(err)?
            };
            if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err());
            }
            let v: u64 = digits.parse().map_err(|_| err())?;
            index = index
                .checked_mul(1000)
                .and_then(|x| x.checked_add(v))
                .ok_or_else(err)?;
        }
        let tile = Self::checked(kind, index, width).map_err(|_| err())?;
        // Rejects x000 leading groups and any other spelling that is not the canonical one.
        if tile.path() != path {
            return Err(err());
        }
        Ok(tile)
    }

    /// The tiles (hash tiles of every level and entry bundles) that must be written when the
    /// tree grows from `old` to `new` leaves: every tile that is new or wider. Nothing for
    /// `new <= old` or `new >` [`MAX_TREE_SIZE`].
    #[must_use]
    pub fn for_growth(old: u64, new: u64) -> Vec<Tile> {
        if new <= old || new > MAX_TREE_SIZE {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut push = |level: u8, index: u64, width: u16| {
            let kind = TileKind::Hashes { level };
            out.push(Tile { kind, index, width });
            if level == 0 {
                out.push(Tile {
                    kind: TileKind::Entries,
                    index,
                    width,
                });
            }
        };
        for level in 0..8u8 {
            let shift = u32::from(level) * u32::from(TILE_HEIGHT);
            // Hashes at tree level 8 * level, before and after.
            let (old_n, new_n) = (old >> shift, new >> shift);
            if new_n == 0 {
                break;
            }
            if old_n == new_n {
                continue;
            }
            // Tiles that are now full (including a formerly partial one), then the new partial tile.
            for index in (old_n >> TILE_HEIGHT)..(new_n >> TILE_HEIGHT) {
                push(level, index, TILE_WIDTH);
            }
            let index = new_n >> TILE_HEIGHT;
            // Below 256 by construction.
            let width = u16::try_from(new_n - (index << TILE_HEIGHT)).unwrap_or(0);
            if width > 0 {
                push(level, index, width);
            }
        }
        out
    }

    /// The tiles of a whole tree of `size` leaves, at their current widths.
    #[must_use]
    pub fn for_tree(size: u64) -> Vec<Tile> {
        Self::for_growth(0, size)
    }

    /// The contents of a hash tile: its hashes, 32 bytes each, read from stored hashes.
    /// Returns an empty vector for an entry bundle (the caller assembles those with
    /// [`encode_bundle`]).
    ///
    /// # Errors
    /// The reader's error.
    pub fn read_hashes<R: HashReader + ?Sized>(&self, reader: &R) -> Result<Vec<u8>, MerkleError> {
        let TileKind::Hashes { level } = self.kind else {
            return Ok(Vec::new());
        };
        let tree_level = level * TILE_HEIGHT;
        let indexes: Vec<u64> = self
            .positions()
            .map(|i| stored_hash_index(tree_level, i))
            .collect();
        let hashes = reader.read_hashes(&indexes)?;
        if hashes.len() != indexes.len() {
            return Err(MerkleError::ShortRead {
                wanted: indexes.len(),
                got: hashes.len(),
            });
        }
        let mut out = Vec::with_capacity(hashes.len() * HASH_SIZE);
        for h in hashes {
            out.extend_from_slice(&h.0);
        }
        Ok(out)
    }
}

impl fmt::Display for Tile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// A decimal number without leading zeros (or `0`), at most 20 digits.
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

/// Encodes an entry bundle: each entry as a big-endian `u16` length followed by its bytes.
///
/// # Errors
/// [`TileError::EntryTooLong`] or [`TileError::TooManyEntries`].
pub fn encode_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>, TileError> {
    if entries.len() > usize::from(TILE_WIDTH) {
        return Err(TileError::TooManyEntries(entries.len()));
    }
    let mut out = Vec::new();
    for e in entries {
        let e = e.as_ref();
        let len = u16::try_from(e.len()).map_err(|_| TileError::EntryTooLong(e.len()))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// Decodes an entry bundle into its entries (borrowed from `bytes`).
///
/// # Errors
/// [`TileError::Truncated`] or [`TileError::TooManyEntries`].
pub fn decode_bundle(bytes: &[u8]) -> Result<Vec<&[u8]>, TileError> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        if out.len() == usize::from(TILE_WIDTH) {
            return Err(TileError::TooManyEntries(out.len() + 1));
        }
        let (len, tail) = rest.split_first_chunk::<2>().ok_or(TileError::Truncated)?;
        let len = usize::from(u16::from_be_bytes(*len));
        if tail.len() < len {
            return Err(TileError::Truncated);
        }
        let (entry, tail) = tail.split_at(len);
        out.push(entry);
        rest = tail;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;
    use crate::merkle::MemoryHashes;

    #[test]
    fn paths_follow_c2sp() {
        assert_eq!(
            Tile::hashes(0, 1_234_067, 256).unwrap().path(),
            "tile/0/x001/x234/067"
        );
        assert_eq!(
            Tile::hashes(1, 1_234_067, 8).unwrap().path(),
            "tile/1/x001/x234/067.p/8"
        );
        assert_eq!(Tile::entries(0, 1).unwrap().path(), "tile/entries/000.p/1");
        assert_eq!(
            Tile::entries(1000, 256).unwrap().path(),
            "tile/entries/x001/000"
        );
        for t in [
            Tile::hashes(0, 0, 256).unwrap(),
            Tile::hashes(2, 999, 3).unwrap(),
            Tile::entries(1_234_067, 255).unwrap(),
            Tile::hashes(0, (1 << 54) - 1, 256).unwrap(),
            Tile::hashes(7, 0, 64).unwrap(),
        ] {
            assert_eq!(Tile::parse_path(&t.path()).unwrap(), t);
        }
    }

    #[test]
    fn tricky_paths_are_refused() {
        for bad in [
            "tile/0/x000/067",
            "tile/0/67",
            "tile/0/0067",
            "tile/00/067",
            "tile/0/067.p/0",
            "tile/0/067.p/256",
            "tile/0/067.p/08",
            "tile/0/067.p/",
            "tile/0/067/",
            "tile//067",
            "tile/0/../067",
            "tile/0/x001/./067",
            "tile/8/000",
            "tile/-1/000",
            "tile/data/000",
            "/tile/0/000",
            "tile/0/x1/067",
            "tile/0/001/067",
            "tile/entries/067.p/1/2",
            "tile/1/x072/x057/x594/x037/x927/936",
            "tile/0/x018/x446/x744/x073/x709/x551/615",
            "tile/0/x018/x014/x398/x509/x481/984",
            "tile/7/000.p/65",
            "tile/7/001",
            "tile/0/０６７",
        ] {
            assert!(Tile::parse_path(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Tile::parse_path("tile/0/../x").unwrap_err().to_string(),
            "\"tile/0/../x\" is not a tile path (tile/<level>/<index>[.p/<width>] or tile/entries/<index>[.p/<width>])"
        );
    }

    #[test]
    fn growth_lists_new_and_widened_tiles() {
        let t = Tile::for_growth(0, 3);
        assert_eq!(
            t.iter().map(Tile::path).collect::<Vec<_>>(),
            ["tile/0/000.p/3", "tile/entries/000.p/3"]
        );
        let t = Tile::for_growth(255, 257);
        assert_eq!(
            t.iter().map(Tile::path).collect::<Vec<_>>(),
            [
                "tile/0/000",
                "tile/entries/000",
                "tile/0/001.p/1",
                "tile/entries/001.p/1",
                "tile/1/000.p/1"
            ]
        );
        assert!(Tile::for_growth(5, 5).is_empty());
        assert!(Tile::for_growth(6, 5).is_empty());
        // Growth within one full tile creates nothing at that tile.
        assert!(
            !Tile::for_growth(256, 300)
                .iter()
                .any(|t| t.index() == 0 && t.level() == Some(0))
        );
    }

    #[test]
    fn tile_contents_are_the_level_hashes() {
        let m = MemoryHashes::from_leaves((0..600u32).map(|i| leaf_hash(&i.to_be_bytes())));
        let t = Tile::hashes(0, 1, 256).unwrap();
        let data = t.read_hashes(&m).unwrap();
        assert_eq!(data.len(), 256 * 32);
        assert_eq!(&data[..32], &leaf_hash(&256u32.to_be_bytes()).0);
        // A full level-1 tile's... the level-1 tile of width 2 holds the roots of leaf tiles 0 and 1.
        let t1 = Tile::hashes(1, 0, 2).unwrap();
        let d1 = t1.read_hashes(&m).unwrap();
        assert_eq!(&d1[..32], &crate::merkle::tree_hash(256, &m).unwrap().0);
    }

    #[test]
    fn bundles_round_trip_and_refuse_garbage() {
        let entries: Vec<Vec<u8>> = vec![b"a".to_vec(), Vec::new(), vec![7u8; 300]];
        let b = encode_bundle(&entries).unwrap();
        assert_eq!(&b[..3], &[0, 1, b'a']);
        assert_eq!(
            decode_bundle(&b).unwrap(),
            entries.iter().map(Vec::as_slice).collect::<Vec<_>>()
        );
        assert_eq!(decode_bundle(&b[..b.len() - 1]), Err(TileError::Truncated));
        assert_eq!(decode_bundle(&[0]), Err(TileError::Truncated));
        assert!(matches!(
            encode_bundle(&[vec![0u8; 65536]]),
            Err(TileError::EntryTooLong(65536))
        ));
        let many = vec![Vec::<u8>::new(); 257];
        assert!(encode_bundle(&many).is_err());
        assert!(decode_bundle(&vec![0u8; 2 * 257]).is_err());
    }
}
