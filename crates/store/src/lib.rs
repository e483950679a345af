//! Insyn's storage: sea-orm entities and queries and the sequencer's append transaction.
