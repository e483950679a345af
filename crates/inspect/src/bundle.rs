//! The single-file export format, `insyn-export/v1` (specified in `docs/FORMAT.md`): a magic
//! line, then records `u8 tag | u32be length | body`:
//!
//! - `C`: the log-signed checkpoint note (exactly one, the first record);
//! - `T`: a tile: `u8 path length | path | contents`, the path as in C2SP tlog-tiles
//!   (`tile/0/x001/234.p/7`, `tile/entries/000`), the contents as served there;
//! - `W`: one cosignature line (C2SP tlog-cosignature) of that checkpoint;
//! - `E`: the end (empty body, the last record); a file without it is truncated.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Mutex;

use crate::source::SourceError;

/// The first 16 bytes of every export bundle.
pub const MAGIC: &[u8; 16] = b"insyn-export/v1\n";

const TAG_CHECKPOINT: u8 = b'C';
const TAG_TILE: u8 = b'T';
const TAG_COSIGNATURE: u8 = b'W';
const TAG_END: u8 = b'E';

/// Writes an export bundle, record by record, to any writer.
#[derive(Debug)]
pub struct BundleWriter<W: Write> {
    out: BufWriter<W>,
}

impl<W: Write> BundleWriter<W> {
    /// Starts a bundle with the log-signed checkpoint note.
    ///
    /// # Errors
    /// The writer's error.
    pub fn new(out: W, checkpoint_note: &[u8]) -> std::io::Result<Self> {
        let mut w = Self {
            out: BufWriter::new(out),
        };
        w.out.write_all(MAGIC)?;
        w.record(TAG_CHECKPOINT, &[checkpoint_note])?;
        Ok(w)
    }

    fn record(&mut self, tag: u8, parts: &[&[u8]]) -> std::io::Result<()> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let len =
            u32::try_from(len).map_err(|_| std::io::Error::other("record longer than 4 GiB"))?;
        self.out.write_all(&[tag])?;
        self.out.write_all(&len.to_be_bytes())?;
        for p in parts {
            self.out.write_all(p)?;
        }
        Ok(())
    }

    /// Adds a tile under its tlog-tiles path.
    ///
    /// # Errors
    /// The writer's error; a path longer than 255 bytes.
    pub fn tile(&mut self, path: &str, contents: &[u8]) -> std::io::Result<()> {
        let plen = u8::try_from(path.len())
            .map_err(|_| std::io::Error::other("tile path longer than 255 bytes"))?;
        self.record(TAG_TILE, &[&[plen], path.as_bytes(), contents])
    }

    /// Adds a cosignature line of the checkpoint.
    ///
    /// # Errors
    /// The writer's error.
    pub fn cosignature(&mut self, line: &str) -> std::io::Result<()> {
        self.record(TAG_COSIGNATURE, &[line.as_bytes()])
    }

    /// Writes the end record and flushes.
    ///
    /// # Errors
    /// The writer's error.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.record(TAG_END, &[])?;
        self.out.into_inner().map_err(|e| e.into_error())
    }
}

/// An opened, indexed export bundle. Tiles are read from the file on demand, so a bundle of a
/// million entries costs only its index in memory.
#[derive(Debug)]
pub struct BundleReader {
    file: Mutex<File>,
    checkpoint: Vec<u8>,
    cosignatures: Vec<String>,
    tiles: HashMap<String, (u64, u32)>,
}

fn format_err(msg: impl Into<String>) -> SourceError {
    SourceError::Format(msg.into())
}

impl BundleReader {
    /// Opens a bundle and indexes its records.
    ///
    /// # Errors
    /// [`SourceError::Io`], or [`SourceError::Format`] for a file that is not a complete bundle.
    pub fn open(path: &Path) -> Result<Self, SourceError> {
        let file = File::open(path)?;
        // Record lengths are checked against the file before anything is allocated, so a
        // hostile bundle cannot make the reader ask for gigabytes it does not contain.
        let file_len = file.metadata()?.len();
        let mut r = BufReader::new(file.try_clone()?);
        let mut magic = [0u8; 16];
        r.read_exact(&mut magic)
            .map_err(|_| format_err("too short for the magic line"))?;
        if &magic != MAGIC {
            return Err(format_err("wrong magic line (expected insyn-export/v1)"));
        }
        let mut pos = MAGIC.len() as u64;
        let mut checkpoint = None;
        let mut cosignatures = Vec::new();
        let mut tiles = HashMap::new();
        loop {
            let mut head = [0u8; 5];
            r.read_exact(&mut head)
                .map_err(|_| format_err("truncated: no end record"))?;
            let tag = head[0];
            let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]);
            pos += 5;
            if u64::from(len) > file_len.saturating_sub(pos) {
                return Err(format_err("truncated: a record is longer than the file"));
            }
            match tag {
                TAG_END => {
                    if len != 0 {
                        return Err(format_err("end record with a body"));
                    }
                    let mut rest = [0u8; 1];
                    if r.read(&mut rest)? != 0 {
                        return Err(format_err("bytes after the end record"));
                    }
                    break;
                }
                TAG_CHECKPOINT | TAG_COSIGNATURE => {
                    let mut body = vec![0u8; len as usize];
                    r.read_exact(&mut body)
                        .map_err(|_| format_err("truncated record"))?;
                    if tag == TAG_CHECKPOINT {
                        if checkpoint.is_some() {
                            return Err(format_err("more than one checkpoint"));
                        }
                        checkpoint = Some(body);
                    } else {
                        let line = String::from_utf8(body)
                            .map_err(|_| format_err("cosignature line is not UTF-8"))?;
                        cosignatures.push(line);
                    }
                }
                TAG_TILE => {
                    let mut plen = [0u8; 1];
                    r.read_exact(&mut plen)
                        .map_err(|_| format_err("truncated record"))?;
                    let plen = u32::from(plen[0]);
                    // The record holds the length byte, the path and the contents.
                    if plen >= len {
                        return Err(format_err("tile path longer than its record"));
                    }
                    let mut path = vec![0u8; plen as usize];
                    r.read_exact(&mut path)
                        .map_err(|_| format_err("truncated record"))?;
                    let path =
                        String::from_utf8(path).map_err(|_| format_err("tile path not UTF-8"))?;
                    let clen = len - plen - 1;
                    let offset = pos + 1 + u64::from(plen);
                    r.seek_relative(i64::from(clen))?;
                    if tiles.insert(path.clone(), (offset, clen)).is_some() {
                        return Err(format_err(format!("tile {path} appears twice")));
                    }
                }
                other => return Err(format_err(format!("unknown record tag {other:#04x}"))),
            }
            pos += u64::from(len);
        }
        let checkpoint = checkpoint.ok_or_else(|| format_err("no checkpoint"))?;
        Ok(Self {
            file: Mutex::new(file),
            checkpoint,
            cosignatures,
            tiles,
        })
    }

    /// The log-signed checkpoint note.
    #[must_use]
    pub fn checkpoint(&self) -> &[u8] {
        &self.checkpoint
    }

    /// The cosignature lines of the checkpoint.
    #[must_use]
    pub fn cosignatures(&self) -> &[String] {
        &self.cosignatures
    }

    /// The checkpoint note with every cosignature line appended.
    #[must_use]
    pub fn cosigned_checkpoint(&self) -> Vec<u8> {
        let mut note = self.checkpoint.clone();
        for l in &self.cosignatures {
            note.extend_from_slice(l.as_bytes());
        }
        note
    }

    /// How many tiles the bundle holds.
    #[must_use]
    pub fn tile_count(&self) -> usize {
        self.tiles.len()
    }

    /// A tile's contents by its tlog-tiles path.
    ///
    /// # Errors
    /// [`SourceError::NotFound`] or [`SourceError::Io`].
    pub fn tile(&self, path: &str) -> Result<Vec<u8>, SourceError> {
        let &(offset, len) = self
            .tiles
            .get(path)
            .ok_or_else(|| SourceError::NotFound(format!("{path} is not in the bundle")))?;
        let mut file = self
            .file
            .lock()
            .map_err(|_| SourceError::Io(std::io::Error::other("bundle file lock poisoned")))?;
        file.seek(SeekFrom::Start(offset))?;
        let mut buf = vec![0u8; len as usize];
        file.read_exact(&mut buf)?;
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.insyn");
        let f = File::create(&path).unwrap();
        let mut w = BundleWriter::new(f, b"log\n1\nroot\n\n- sig\n").unwrap();
        w.tile("tile/0/000.p/1", &[7u8; 32]).unwrap();
        w.tile("tile/entries/000.p/1", b"\x00\x01x").unwrap();
        w.cosignature("\u{2014} witness abc\n").unwrap();
        w.finish().unwrap();
        let r = BundleReader::open(&path).unwrap();
        assert_eq!(r.tile("tile/0/000.p/1").unwrap(), vec![7u8; 32]);
        assert_eq!(r.tile("tile/entries/000.p/1").unwrap(), b"\x00\x01x");
        assert!(matches!(
            r.tile("tile/0/001"),
            Err(SourceError::NotFound(_))
        ));
        assert_eq!(r.cosignatures().len(), 1);
        assert!(r.cosigned_checkpoint().ends_with("abc\n".as_bytes()));

        let bytes = std::fs::read(&path).unwrap();
        let cut = dir.path().join("cut.insyn");
        std::fs::write(&cut, &bytes[..bytes.len() - 3]).unwrap();
        assert!(matches!(
            BundleReader::open(&cut),
            Err(SourceError::Format(_))
        ));
        let mut extra = bytes.clone();
        extra.push(0);
        std::fs::write(&cut, &extra).unwrap();
        assert!(matches!(
            BundleReader::open(&cut),
            Err(SourceError::Format(_))
        ));
    }

    /// A hostile bundle must be refused as malformed: no panic, no allocation its record
    /// lengths ask for but the file cannot back.
    #[test]
    fn hostile_record_lengths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.insyn");
        let record = |tag: u8, len: u32, body: &[u8]| {
            let mut r = vec![tag];
            r.extend_from_slice(&len.to_be_bytes());
            r.extend_from_slice(body);
            r
        };
        let end = record(b'E', 0, b"");
        let checkpoint = record(b'C', 4, b"cp\n\n");
        let cases: Vec<Vec<u8>> = vec![
            // A checkpoint record that claims 4 GiB.
            record(b'C', u32::MAX, b"x"),
            // A cosignature record that claims far more than the file holds.
            [checkpoint.clone(), record(b'W', 1 << 30, b"x"), end.clone()].concat(),
            // A tile record with no room for its path length byte.
            [checkpoint.clone(), record(b'T', 0, b"\x00"), end.clone()].concat(),
            // A tile record whose path fills it exactly, leaving no room for the length byte.
            [checkpoint.clone(), record(b'T', 2, b"\x02ab"), end.clone()].concat(),
            // A tile whose contents run past the end of the file.
            [
                checkpoint.clone(),
                record(b'T', u32::MAX, b"\x01a"),
                end.clone(),
            ]
            .concat(),
        ];
        for (i, case) in cases.iter().enumerate() {
            let mut bytes = MAGIC.to_vec();
            bytes.extend_from_slice(case);
            std::fs::write(&path, &bytes).unwrap();
            assert!(
                matches!(BundleReader::open(&path), Err(SourceError::Format(_))),
                "case {i}"
            );
        }
    }
}
