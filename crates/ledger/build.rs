//! Declares the `fuzzing` cfg that cargo-fuzz sets, so `cfg(fuzzing)` is not an unexpected cfg.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(fuzzing)");
}
