//! Fuzz target: an export bundle (`insyn-export/v1`) as an inspector opens it. The reader works
//! on a file, so each input is written to one scratch file per process. Opening and reading may
//! fail but never panic or allocate what the file does not hold.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use insyn_inspect::bundle::BundleReader;
use libfuzzer_sys::fuzz_target;

fn scratch() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        std::env::temp_dir().join(format!("insyn-fuzz-bundle-{}", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    if std::fs::write(path, data).is_err() {
        return;
    }
    if let Ok(b) = BundleReader::open(path) {
        let _ = b.cosigned_checkpoint();
        let _ = b.tile_count();
        for tile in ["tile/0/000", "tile/0/000.p/1", "tile/entries/000", "tile/entries/000.p/1"] {
            let _ = b.tile(tile);
        }
    }
});
