//! Fuzz target: the body of a C2SP tlog-witness `add-checkpoint` request, as the witness parses
//! it. Whatever parses must re-encode and parse back to the same request.

#![no_main]

use insyn_inspect::witness::AddCheckpoint;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = AddCheckpoint::parse(data) {
        let again = AddCheckpoint::parse(&req.to_body()).expect("a re-encoded request parses");
        assert_eq!(again.old_size, req.old_size);
        assert_eq!(again.proof, req.proof);
        assert_eq!(again.note, req.note);
    }
});
