//! Insyn's web portal for municipal auditors and inspectors.
