//! Ledger entries: the statement an actor signs, its canonical binary encoding, the strict
//! decoder, the domain-separated signing message and the entry (statement, signature and the
//! log's integration time) that becomes one Merkle leaf. The byte format is in `docs/FORMAT.md`.
//!
//! Every value has exactly one encoding: integers are big-endian and fixed-width, strings carry a
//! one-byte length and a restricted ASCII alphabet, identifiers are their canonical digits. The
//! decoder refuses anything else (unknown version, kind or tag, bad lengths, invalid identifiers,
//! trailing bytes), so `decode(bytes)?.encode() == bytes` always holds.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::hash::{Hash, leaf_hash};
use crate::id::{IdError, MunicipalityCode, OrgNumber, Period, Sek};
use crate::keys::{self, KeyId, PublicKey, Signature, SignatureError, SigningKey};

/// The statement format version this code writes and reads.
pub const STATEMENT_VERSION: u8 = 1;

/// The domain-separation prefix of every signed statement message.
pub const SIGNING_PREFIX: &[u8] = b"insyn/entry/v1\n";

/// The largest entry: tile bundles store entry lengths in a `u16`.
pub const MAX_ENTRY_LEN: usize = 65535;

/// Bytes after the statement in an entry: the signature and the integration time.
const ENTRY_SUFFIX_LEN: usize = 64 + 8;

/// Why bytes are not a valid statement or entry, or why a statement cannot be built. The
/// messages are written for the person who submitted the bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// The input ended in the middle of a field.
    #[error("the entry ends too early: {0} is missing or cut short")]
    Truncated(&'static str),
    /// Bytes remain after a complete value.
    #[error("{0} unexpected bytes after the end of the entry")]
    TrailingBytes(usize),
    /// More than [`MAX_ENTRY_LEN`] bytes.
    #[error("the entry is {0} bytes long; an entry may be at most 65535 bytes")]
    TooLong(usize),
    /// A statement version this software does not know.
    #[error("unknown statement version {0}; this software reads version 1")]
    UnknownVersion(u8),
    /// An entry kind this software does not know.
    #[error("unknown entry kind {0}; known kinds are 1 to 9")]
    UnknownKind(u8),
    /// An actor tag this software does not know.
    #[error(
        "unknown actor type {0}; known types are 1 (operator), 2 (municipality), 3 (provider) and 4 (inspector)"
    )]
    UnknownActor(u8),
    /// A review decision this software does not know.
    #[error(
        "unknown review decision {0}; known decisions are 1 (accepted), 2 (question) and 3 (flagged)"
    )]
    UnknownDecision(u8),
    /// The payload flag is neither 0 nor 1.
    #[error("the payload flag must be 0 (no payload) or 1 (payload hash follows), not {0}")]
    PayloadFlag(u8),
    /// A kind that needs a payload has none.
    #[error("a {0} entry must carry the SHA-256 of its payload")]
    PayloadRequired(Kind),
    /// A kind that takes no payload has one.
    #[error("a {0} entry must not carry a payload")]
    PayloadNotAllowed(Kind),
    /// An identifier inside the entry is invalid.
    #[error(transparent)]
    Id(#[from] IdError),
    /// A text field with a wrong length or a character outside its alphabet.
    #[error("{what} {value:?} must be 1 to 64 characters from {alphabet}")]
    Text {
        /// Which field.
        what: &'static str,
        /// The offending value (lossily decoded).
        value: String,
        /// The allowed characters.
        alphabet: &'static str,
    },
    /// A contract whose first period is after its last.
    #[error("the contract runs from {first} to {last}: the first period is after the last")]
    PeriodOrder {
        /// First period.
        first: Period,
        /// Last period.
        last: Period,
    },
    /// A submitted signature that is not 64 bytes.
    #[error("an Ed25519 signature is 64 bytes, got {0}")]
    SignatureLength(usize),
    /// A negative contract budget.
    #[error("the contract budget must not be negative, got {0}")]
    NegativeBudget(Sek),
}

macro_rules! restricted_text {
    ($(#[$doc:meta])* $name:ident, $what:literal, $alphabet:literal, $ok:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }

            fn from_bytes(bytes: &[u8]) -> Result<Self, EntryError> {
                let ok: fn(u8) -> bool = $ok;
                if (1..=64).contains(&bytes.len()) && bytes.iter().all(|b| ok(*b)) {
                    // All allowed bytes are ASCII, so this is valid UTF-8.
                    Ok(Self(String::from_utf8_lossy(bytes).into_owned()))
                } else {
                    Err(EntryError::Text {
                        what: $what,
                        value: String::from_utf8_lossy(bytes).into_owned(),
                        alphabet: $alphabet,
                    })
                }
            }
        }

        impl FromStr for $name {
            type Err = EntryError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::from_bytes(s.as_bytes())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

restricted_text!(
    /// An inspector's name: 1 to 64 characters of `a-z 0-9 . _ -` (lowercase, so one inspector has
    /// one spelling).
    InspectorName,
    "inspector name",
    "a-z, 0-9, '.', '_' and '-'",
    |b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
);

restricted_text!(
    /// A contract's reference within its municipality: 1 to 64 characters of `A-Z a-z 0-9 . _ -`.
    ContractReference,
    "contract reference",
    "A-Z, a-z, 0-9, '.', '_' and '-'",
    |b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
);

restricted_text!(
    /// A pseudonymous reference to the auditor's account: 1 to 64 characters of
    /// `A-Z a-z 0-9 . _ - @ :`. Never a person's name or personal number.
    AuditorRef,
    "auditor reference",
    "A-Z, a-z, 0-9, '.', '_', '-', '@' and ':'",
    |b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@' | b':')
);

/// The kind of an entry; its number is the entry's second byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// 1: the operator registers a municipality.
    MunicipalityRegistered = 1,
    /// 2: a municipality registers a provider (payload: provider profile, optional).
    ProviderRegistered = 2,
    /// 3: a municipality registers a contract (payload: contract details, optional).
    ContractRegistered = 3,
    /// 4: a key is added for an actor.
    KeyAdded = 4,
    /// 5: a key is revoked.
    KeyRevoked = 5,
    /// 6: a provider submits an activity report (payload required).
    ReportSubmitted = 6,
    /// 7: a provider corrects an earlier report (payload required).
    ReportCorrected = 7,
    /// 8: a municipality reviews a report (payload: the comment, optional).
    ReportReviewed = 8,
    /// 9: the operator registers an inspector.
    InspectorRegistered = 9,
}

/// Whether a kind carries a payload hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadRule {
    /// The payload hash must be present.
    Required,
    /// The payload hash may be present.
    Optional,
    /// The payload hash must be absent.
    Forbidden,
}

impl Kind {
    /// Every kind, in number order.
    pub const ALL: [Kind; 9] = [
        Kind::MunicipalityRegistered,
        Kind::ProviderRegistered,
        Kind::ContractRegistered,
        Kind::KeyAdded,
        Kind::KeyRevoked,
        Kind::ReportSubmitted,
        Kind::ReportCorrected,
        Kind::ReportReviewed,
        Kind::InspectorRegistered,
    ];

    /// The kind's number (its byte in the encoding).
    #[must_use]
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The kind with this number.
    #[must_use]
    pub fn from_code(code: u8) -> Option<Kind> {
        Kind::ALL.get(usize::from(code).wrapping_sub(1)).copied()
    }

    /// The kind's name, e.g. `"ReportSubmitted"`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Kind::MunicipalityRegistered => "MunicipalityRegistered",
            Kind::ProviderRegistered => "ProviderRegistered",
            Kind::ContractRegistered => "ContractRegistered",
            Kind::KeyAdded => "KeyAdded",
            Kind::KeyRevoked => "KeyRevoked",
            Kind::ReportSubmitted => "ReportSubmitted",
            Kind::ReportCorrected => "ReportCorrected",
            Kind::ReportReviewed => "ReportReviewed",
            Kind::InspectorRegistered => "InspectorRegistered",
        }
    }

    /// Whether this kind carries a payload hash.
    #[must_use]
    pub fn payload_rule(self) -> PayloadRule {
        match self {
            Kind::ReportSubmitted | Kind::ReportCorrected => PayloadRule::Required,
            Kind::ProviderRegistered | Kind::ContractRegistered | Kind::ReportReviewed => {
                PayloadRule::Optional
            }
            Kind::MunicipalityRegistered
            | Kind::KeyAdded
            | Kind::KeyRevoked
            | Kind::InspectorRegistered => PayloadRule::Forbidden,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Who makes a statement (and whose key signs it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Actor {
    /// The log operator, signing with the log's own key.
    Operator,
    /// A municipality.
    Municipality(MunicipalityCode),
    /// A provider, by organisation number.
    Provider(OrgNumber),
    /// A national inspector.
    Inspector(InspectorName),
}

impl Actor {
    fn tag(&self) -> u8 {
        match self {
            Actor::Operator => 1,
            Actor::Municipality(_) => 2,
            Actor::Provider(_) => 3,
            Actor::Inspector(_) => 4,
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Operator => f.write_str("the log operator"),
            Actor::Municipality(m) => write!(f, "municipality {} {}", m.code(), m.name()),
            Actor::Provider(p) => write!(f, "provider {p}"),
            Actor::Inspector(i) => write!(f, "inspector {i}"),
        }
    }
}

/// A contract, by municipality and that municipality's reference for it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContractRef {
    /// The contracting municipality.
    pub municipality: MunicipalityCode,
    /// Its reference, unique within the municipality.
    pub reference: ContractReference,
}

impl fmt::Display for ContractRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.municipality.code(), self.reference)
    }
}

/// An auditor's decision on a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// 1: accepted as submitted.
    Accepted = 1,
    /// 2: the municipality has a question.
    Question = 2,
    /// 3: flagged for follow-up.
    Flagged = 3,
}

impl Decision {
    fn from_code(c: u8) -> Result<Self, EntryError> {
        match c {
            1 => Ok(Decision::Accepted),
            2 => Ok(Decision::Question),
            3 => Ok(Decision::Flagged),
            other => Err(EntryError::UnknownDecision(other)),
        }
    }
}

/// The body of a statement: one variant per [`Kind`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Kind 1, signed by the operator.
    MunicipalityRegistered {
        /// The municipality.
        municipality: MunicipalityCode,
    },
    /// Kind 2, signed by a municipality.
    ProviderRegistered {
        /// The provider.
        provider: OrgNumber,
    },
    /// Kind 3, signed by the contracting municipality.
    ContractRegistered {
        /// The contract.
        contract: ContractRef,
        /// The contracted provider.
        provider: OrgNumber,
        /// The first reporting period.
        first: Period,
        /// The last reporting period (not before `first`).
        last: Period,
        /// The budget in whole kronor (not negative).
        budget: Sek,
    },
    /// Kind 4: a key for `subject`. The key is kept as bytes so that a log holding a refused
    /// (weak) key still decodes; [`crate::history::KeyHistory`] refuses it.
    KeyAdded {
        /// Whose key.
        subject: Actor,
        /// The 32-byte Ed25519 public key.
        public_key: [u8; 32],
    },
    /// Kind 5: revokes `subject`'s key `key_id`.
    KeyRevoked {
        /// Whose key.
        subject: Actor,
        /// Which key.
        key_id: KeyId,
    },
    /// Kind 6, signed by a provider.
    ReportSubmitted {
        /// The contract reported on.
        contract: ContractRef,
        /// The period covered.
        period: Period,
    },
    /// Kind 7, signed by a provider: replaces the report at leaf `supersedes`.
    ReportCorrected {
        /// The contract reported on.
        contract: ContractRef,
        /// The period covered.
        period: Period,
        /// Leaf index of the report this one corrects.
        supersedes: u64,
    },
    /// Kind 8, signed by a municipality.
    ReportReviewed {
        /// Leaf index of the reviewed report.
        report: u64,
        /// The decision.
        decision: Decision,
        /// The reviewing auditor's account reference.
        auditor: AuditorRef,
    },
    /// Kind 9, signed by the operator.
    InspectorRegistered {
        /// The inspector.
        inspector: InspectorName,
    },
}

impl Body {
    /// The kind of this body.
    #[must_use]
    pub fn kind(&self) -> Kind {
        match self {
            Body::MunicipalityRegistered { .. } => Kind::MunicipalityRegistered,
            Body::ProviderRegistered { .. } => Kind::ProviderRegistered,
            Body::ContractRegistered { .. } => Kind::ContractRegistered,
            Body::KeyAdded { .. } => Kind::KeyAdded,
            Body::KeyRevoked { .. } => Kind::KeyRevoked,
            Body::ReportSubmitted { .. } => Kind::ReportSubmitted,
            Body::ReportCorrected { .. } => Kind::ReportCorrected,
            Body::ReportReviewed { .. } => Kind::ReportReviewed,
            Body::InspectorRegistered { .. } => Kind::InspectorRegistered,
        }
    }
}

/// What an actor signs: actor, key ID, body and optional payload hash. Version 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    actor: Actor,
    key_id: KeyId,
    body: Body,
    payload: Option<[u8; 32]>,
}

impl Statement {
    /// Builds a statement, checking the rules the decoder checks (payload presence, contract
    /// periods and budget).
    ///
    /// # Errors
    /// [`EntryError::PayloadRequired`], [`EntryError::PayloadNotAllowed`],
    /// [`EntryError::PeriodOrder`] or [`EntryError::NegativeBudget`].
    pub fn new(
        actor: Actor,
        key_id: KeyId,
        body: Body,
        payload_sha256: Option<[u8; 32]>,
    ) -> Result<Self, EntryError> {
        let kind = body.kind();
        match (kind.payload_rule(), payload_sha256.is_some()) {
            (PayloadRule::Required, false) => return Err(EntryError::PayloadRequired(kind)),
            (PayloadRule::Forbidden, true) => return Err(EntryError::PayloadNotAllowed(kind)),
            _ => {}
        }
        if let Body::ContractRegistered {
            first,
            last,
            budget,
            ..
        } = &body
        {
            if first > last {
                return Err(EntryError::PeriodOrder {
                    first: *first,
                    last: *last,
                });
            }
            if budget.0 < 0 {
                return Err(EntryError::NegativeBudget(*budget));
            }
        }
        Ok(Self {
            actor,
            key_id,
            body,
            payload: payload_sha256,
        })
    }

    /// The format version (always [`STATEMENT_VERSION`]).
    #[must_use]
    pub fn version(&self) -> u8 {
        STATEMENT_VERSION
    }

    /// The kind.
    #[must_use]
    pub fn kind(&self) -> Kind {
        self.body.kind()
    }

    /// Who makes the statement.
    #[must_use]
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// The ID of the key that signs it.
    #[must_use]
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The body.
    #[must_use]
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// The SHA-256 of the payload, if the statement has one.
    #[must_use]
    pub fn payload_sha256(&self) -> Option<[u8; 32]> {
        self.payload
    }

    /// The canonical encoding.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Vec::with_capacity(160);
        w.push(STATEMENT_VERSION);
        w.push(self.kind().code());
        put_actor(&mut w, &self.actor);
        w.extend_from_slice(&self.key_id.0);
        match &self.body {
            Body::MunicipalityRegistered { municipality } => {
                w.extend_from_slice(municipality.code().as_bytes());
            }
            Body::ProviderRegistered { provider } => {
                w.extend_from_slice(provider.digits().as_bytes())
            }
            Body::ContractRegistered {
                contract,
                provider,
                first,
                last,
                budget,
            } => {
                put_contract(&mut w, contract);
                w.extend_from_slice(provider.digits().as_bytes());
                put_period(&mut w, *first);
                put_period(&mut w, *last);
                w.extend_from_slice(&budget.0.to_be_bytes());
            }
            Body::KeyAdded {
                subject,
                public_key,
            } => {
                put_actor(&mut w, subject);
                w.extend_from_slice(public_key);
            }
            Body::KeyRevoked { subject, key_id } => {
                put_actor(&mut w, subject);
                w.extend_from_slice(&key_id.0);
            }
            Body::ReportSubmitted { contract, period } => {
                put_contract(&mut w, contract);
                put_period(&mut w, *period);
            }
            Body::ReportCorrected {
                contract,
                period,
                supersedes,
            } => {
                put_contract(&mut w, contract);
                put_period(&mut w, *period);
                w.extend_from_slice(&supersedes.to_be_bytes());
            }
            Body::ReportReviewed {
                report,
                decision,
                auditor,
            } => {
                w.extend_from_slice(&report.to_be_bytes());
                w.push(*decision as u8);
                put_text(&mut w, auditor.as_str());
            }
            Body::InspectorRegistered { inspector } => put_text(&mut w, inspector.as_str()),
        }
        match &self.payload {
            None => w.push(0),
            Some(h) => {
                w.push(1);
                w.extend_from_slice(h);
            }
        }
        w
    }

    /// Strictly decodes a statement: the bytes must be exactly one canonical statement.
    ///
    /// # Errors
    /// Any [`EntryError`] describing the first problem found.
    pub fn decode(bytes: &[u8]) -> Result<Self, EntryError> {
        if bytes.len() > MAX_ENTRY_LEN - ENTRY_SUFFIX_LEN {
            return Err(EntryError::TooLong(bytes.len()));
        }
        let mut r = Reader { buf: bytes, pos: 0 };
        let s = read_statement(&mut r)?;
        r.finish()?;
        Ok(s)
    }

    /// The message the actor signs: [`SIGNING_PREFIX`] followed by the encoded statement.
    #[must_use]
    pub fn signing_message(&self) -> Vec<u8> {
        signing_message(&self.encode())
    }

    /// Signs the statement as it is (the caller makes sure `key` is the key named by `key_id`).
    #[must_use]
    pub fn sign(self, key: &SigningKey) -> SignedStatement {
        let signature = key.sign(&self.signing_message());
        SignedStatement {
            statement: self,
            signature,
        }
    }

    /// Builds a statement naming `key`'s ID and signs it with `key`.
    ///
    /// # Errors
    /// As [`Statement::new`].
    pub fn build_and_sign(
        actor: Actor,
        body: Body,
        payload_sha256: Option<[u8; 32]>,
        key: &SigningKey,
    ) -> Result<SignedStatement, EntryError> {
        Ok(Self::new(actor, key.key_id(), body, payload_sha256)?.sign(key))
    }
}

/// The signing message for already encoded statement bytes.
#[must_use]
pub fn signing_message(statement_bytes: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNING_PREFIX.len() + statement_bytes.len());
    m.extend_from_slice(SIGNING_PREFIX);
    m.extend_from_slice(statement_bytes);
    m
}

/// A statement with its signature: what a client submits. Not yet checked against any key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedStatement {
    statement: Statement,
    signature: Signature,
}

impl SignedStatement {
    /// Pairs a statement with a signature.
    #[must_use]
    pub fn new(statement: Statement, signature: Signature) -> Self {
        Self {
            statement,
            signature,
        }
    }

    /// From submitted bytes: a strictly decoded statement and a 64-byte signature.
    ///
    /// # Errors
    /// The statement's decoding error, or [`EntryError::SignatureLength`].
    pub fn from_parts(statement: &[u8], signature: &[u8]) -> Result<Self, EntryError> {
        let statement = Statement::decode(statement)?;
        let signature = Signature::from_slice(signature)
            .map_err(|_| EntryError::SignatureLength(signature.len()))?;
        Ok(Self {
            statement,
            signature,
        })
    }

    /// The statement.
    #[must_use]
    pub fn statement(&self) -> &Statement {
        &self.statement
    }

    /// The signature.
    #[must_use]
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The deduplication hash: SHA-256(statement bytes || signature). Resubmitting the same
    /// statement and signature yields the same hash (and so the same receipt).
    #[must_use]
    pub fn dedupe_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.statement.encode());
        h.update(self.signature.0);
        h.finalize().into()
    }

    /// Checks the signature with `public_key` under the one acceptance rule ([`keys::verify`]),
    /// after checking that the statement names that key's ID. Whether the key was valid for the
    /// actor at this point of the log is [`crate::history::KeyHistory`]'s business.
    ///
    /// # Errors
    /// [`SignatureError::KeyMismatch`] or [`SignatureError::Invalid`].
    pub fn verify_signature(&self, public_key: &PublicKey) -> Result<(), SignatureError> {
        let named = self.statement.key_id;
        if public_key.key_id() != named {
            return Err(SignatureError::KeyMismatch {
                named,
                given: public_key.key_id(),
            });
        }
        keys::verify(
            public_key,
            &self.statement.signing_message(),
            &self.signature,
        )
    }

    /// Makes the entry the log appends, stamped with the integration time.
    #[must_use]
    pub fn into_entry(self, integrated_at_ms: u64) -> Entry {
        Entry {
            signed: self,
            integrated_at: integrated_at_ms,
        }
    }
}

/// One leaf of the log: a signed statement and the time (Unix milliseconds) the log integrated it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    signed: SignedStatement,
    integrated_at: u64,
}

impl Entry {
    /// An entry from its parts.
    #[must_use]
    pub fn new(signed: SignedStatement, integrated_at_ms: u64) -> Self {
        Self {
            signed,
            integrated_at: integrated_at_ms,
        }
    }

    /// The signed statement.
    #[must_use]
    pub fn signed(&self) -> &SignedStatement {
        &self.signed
    }

    /// The statement.
    #[must_use]
    pub fn statement(&self) -> &Statement {
        &self.signed.statement
    }

    /// The signature.
    #[must_use]
    pub fn signature(&self) -> &Signature {
        &self.signed.signature
    }

    /// When the log integrated the entry, in Unix milliseconds.
    #[must_use]
    pub fn integrated_at_ms(&self) -> u64 {
        self.integrated_at
    }

    /// The canonical encoding: statement || signature || u64 integration time.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut w = self.signed.statement.encode();
        w.extend_from_slice(&self.signed.signature.0);
        w.extend_from_slice(&self.integrated_at.to_be_bytes());
        w
    }

    /// Strictly decodes an entry.
    ///
    /// # Errors
    /// Any [`EntryError`] describing the first problem found.
    pub fn decode(bytes: &[u8]) -> Result<Self, EntryError> {
        if bytes.len() > MAX_ENTRY_LEN {
            return Err(EntryError::TooLong(bytes.len()));
        }
        let mut r = Reader { buf: bytes, pos: 0 };
        let statement = read_statement(&mut r)?;
        let signature = Signature(r.array::<64>("the 64-byte signature")?);
        let integrated_at = r.u64("the integration time")?;
        r.finish()?;
        Ok(Self {
            signed: SignedStatement {
                statement,
                signature,
            },
            integrated_at,
        })
    }

    /// The RFC 6962 leaf hash of the encoded entry.
    #[must_use]
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.encode())
    }
}

fn put_text(w: &mut Vec<u8>, s: &str) {
    // Restricted text types are at most 64 bytes, so the length fits a byte.
    w.push(u8::try_from(s.len()).unwrap_or(u8::MAX));
    w.extend_from_slice(s.as_bytes());
}

fn put_actor(w: &mut Vec<u8>, a: &Actor) {
    w.push(a.tag());
    match a {
        Actor::Operator => {}
        Actor::Municipality(m) => w.extend_from_slice(m.code().as_bytes()),
        Actor::Provider(p) => w.extend_from_slice(p.digits().as_bytes()),
        Actor::Inspector(i) => put_text(w, i.as_str()),
    }
}

fn put_contract(w: &mut Vec<u8>, c: &ContractRef) {
    w.extend_from_slice(c.municipality.code().as_bytes());
    put_text(w, c.reference.as_str());
}

fn put_period(w: &mut Vec<u8>, p: Period) {
    w.extend_from_slice(&p.year().to_be_bytes());
    w.push(p.month());
}

/// A cursor over input bytes; every read names what it reads, for the error message.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&[u8], EntryError> {
        let end = self.pos.checked_add(n).ok_or(EntryError::Truncated(what))?;
        let s = self
            .buf
            .get(self.pos..end)
            .ok_or(EntryError::Truncated(what))?;
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, EntryError> {
        Ok(self.take(1, what)?[0])
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], EntryError> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, EntryError> {
        Ok(u64::from_be_bytes(self.array::<8>(what)?))
    }

    fn text(&mut self, what: &'static str) -> Result<&[u8], EntryError> {
        let n = self.u8(what)?;
        self.take(usize::from(n), what)
    }

    fn finish(&self) -> Result<(), EntryError> {
        match self.buf.len() - self.pos {
            0 => Ok(()),
            n => Err(EntryError::TrailingBytes(n)),
        }
    }

    fn municipality(&mut self, what: &'static str) -> Result<MunicipalityCode, EntryError> {
        let b = self.take(4, what)?;
        let s = std::str::from_utf8(b)
            .map_err(|_| IdError::Municipality(String::from_utf8_lossy(b).into_owned()))?;
        Ok(s.parse()?)
    }

    fn org_number(&mut self, what: &'static str) -> Result<OrgNumber, EntryError> {
        let b = self.take(10, what)?;
        // Only the ten-digit form is canonical; the parser also admits NNNNNN-NNNN (11 bytes),
        // which cannot occur in 10 bytes.
        let s = std::str::from_utf8(b)
            .map_err(|_| IdError::OrgNumberFormat(String::from_utf8_lossy(b).into_owned()))?;
        Ok(s.parse()?)
    }

    fn period(&mut self, what: &'static str) -> Result<Period, EntryError> {
        let b = self.array::<3>(what)?;
        Ok(Period::new(u16::from_be_bytes([b[0], b[1]]), b[2])?)
    }

    fn actor(&mut self, what: &'static str) -> Result<Actor, EntryError> {
        match self.u8(what)? {
            1 => Ok(Actor::Operator),
            2 => Ok(Actor::Municipality(
                self.municipality("the municipality code")?,
            )),
            3 => Ok(Actor::Provider(self.org_number("the organisation number")?)),
            4 => Ok(Actor::Inspector(InspectorName::from_bytes(
                self.text("the inspector name")?,
            )?)),
            other => Err(EntryError::UnknownActor(other)),
        }
    }

    fn contract(&mut self) -> Result<ContractRef, EntryError> {
        let municipality = self.municipality("the contract's municipality code")?;
        let reference = ContractReference::from_bytes(self.text("the contract reference")?)?;
        Ok(ContractRef {
            municipality,
            reference,
        })
    }
}

fn read_statement(r: &mut Reader<'_>) -> Result<Statement, EntryError> {
    let version = r.u8("the version byte")?;
    if version != STATEMENT_VERSION {
        return Err(EntryError::UnknownVersion(version));
    }
    let code = r.u8("the kind byte")?;
    let kind = Kind::from_code(code).ok_or(EntryError::UnknownKind(code))?;
    let actor = r.actor("the actor")?;
    let key_id = KeyId(r.array::<32>("the key ID")?);
    let body = match kind {
        Kind::MunicipalityRegistered => Body::MunicipalityRegistered {
            municipality: r.municipality("the municipality code")?,
        },
        Kind::ProviderRegistered => Body::ProviderRegistered {
            provider: r.org_number("the organisation number")?,
        },
        Kind::ContractRegistered => Body::ContractRegistered {
            contract: r.contract()?,
            provider: r.org_number("the organisation number")?,
            first: r.period("the first period")?,
            last: r.period("the last period")?,
            budget: Sek(i64::from_be_bytes(r.array::<8>("the budget")?)),
        },
        Kind::KeyAdded => Body::KeyAdded {
            subject: r.actor("the key's subject")?,
            public_key: r.array::<32>("the public key")?,
        },
        Kind::KeyRevoked => Body::KeyRevoked {
            subject: r.actor("the key's subject")?,
            key_id: KeyId(r.array::<32>("the revoked key ID")?),
        },
        Kind::ReportSubmitted => Body::ReportSubmitted {
            contract: r.contract()?,
            period: r.period("the report period")?,
        },
        Kind::ReportCorrected => Body::ReportCorrected {
            contract: r.contract()?,
            period: r.period("the report period")?,
            supersedes: r.u64("the superseded leaf index")?,
        },
        Kind::ReportReviewed => Body::ReportReviewed {
            report: r.u64("the reviewed leaf index")?,
            decision: Decision::from_code(r.u8("the decision")?)?,
            auditor: AuditorRef::from_bytes(r.text("the auditor reference")?)?,
        },
        Kind::InspectorRegistered => Body::InspectorRegistered {
            inspector: InspectorName::from_bytes(r.text("the inspector name")?)?,
        },
    };
    let payload = match r.u8("the payload flag")? {
        0 => None,
        1 => Some(r.array::<32>("the payload hash")?),
        other => return Err(EntryError::PayloadFlag(other)),
    };
    Statement::new(actor, key_id, body, payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sthlm() -> MunicipalityCode {
        "0180".parse().unwrap()
    }

    fn contract() -> ContractRef {
        ContractRef {
            municipality: sthlm(),
            reference: "EXIT-2026.01_a".parse().unwrap(),
        }
    }

    fn provider() -> OrgNumber {
        "5560360793".parse().unwrap()
    }

    /// One statement of every kind.
    fn samples() -> Vec<Statement> {
        let key = KeyId([7; 32]);
        let m = Actor::Municipality(sthlm());
        let p = Actor::Provider(provider());
        let period: Period = "2026-03".parse().unwrap();
        vec![
            Statement::new(
                Actor::Operator,
                key,
                Body::MunicipalityRegistered {
                    municipality: sthlm(),
                },
                None,
            ),
            Statement::new(
                m.clone(),
                key,
                Body::ProviderRegistered {
                    provider: provider(),
                },
                Some([1; 32]),
            ),
            Statement::new(
                m.clone(),
                key,
                Body::ContractRegistered {
                    contract: contract(),
                    provider: provider(),
                    first: "2026-01".parse().unwrap(),
                    last: "2027-12".parse().unwrap(),
                    budget: Sek(4_500_000),
                },
                None,
            ),
            Statement::new(
                m.clone(),
                key,
                Body::KeyAdded {
                    subject: p.clone(),
                    public_key: [9; 32],
                },
                None,
            ),
            Statement::new(
                Actor::Operator,
                key,
                Body::KeyRevoked {
                    subject: Actor::Inspector("ivo".parse().unwrap()),
                    key_id: KeyId([3; 32]),
                },
                None,
            ),
            Statement::new(
                p.clone(),
                key,
                Body::ReportSubmitted {
                    contract: contract(),
                    period,
                },
                Some([2; 32]),
            ),
            Statement::new(
                p,
                key,
                Body::ReportCorrected {
                    contract: contract(),
                    period,
                    supersedes: 41,
                },
                Some([3; 32]),
            ),
            Statement::new(
                m,
                key,
                Body::ReportReviewed {
                    report: 42,
                    decision: Decision::Question,
                    auditor: "auditor:0180-17".parse().unwrap(),
                },
                Some([4; 32]),
            ),
            Statement::new(
                Actor::Operator,
                key,
                Body::InspectorRegistered {
                    inspector: "ivo".parse().unwrap(),
                },
                None,
            ),
        ]
        .into_iter()
        .map(Result::unwrap)
        .collect()
    }

    fn err(bytes: &[u8]) -> String {
        Statement::decode(bytes).unwrap_err().to_string()
    }

    #[test]
    fn every_kind_round_trips_canonically() {
        let key = SigningKey::from_seed(&[5; 32]);
        for (i, s) in samples().into_iter().enumerate() {
            assert_eq!(s.kind().code() as usize, i + 1);
            let bytes = s.encode();
            assert_eq!(Statement::decode(&bytes).unwrap(), s);
            let entry = s.clone().sign(&key).into_entry(1_764_000_000_123);
            let eb = entry.encode();
            assert_eq!(eb.len(), bytes.len() + 72);
            assert_eq!(Entry::decode(&eb).unwrap(), entry);
            assert_eq!(entry.leaf_hash(), leaf_hash(&eb));
            // Every strict prefix is refused, and so is any extra byte.
            for cut in 0..bytes.len() {
                assert!(Statement::decode(&bytes[..cut]).is_err());
            }
            for cut in 0..eb.len() {
                assert!(Entry::decode(&eb[..cut]).is_err());
            }
            let mut longer = eb.clone();
            longer.push(0);
            assert_eq!(
                Entry::decode(&longer).unwrap_err(),
                EntryError::TrailingBytes(1)
            );
        }
    }

    #[test]
    fn signing_is_domain_separated_and_checked() {
        let key = SigningKey::from_seed(&[5; 32]);
        let s = Statement::build_and_sign(
            Actor::Provider(provider()),
            Body::ReportSubmitted {
                contract: contract(),
                period: "2026-03".parse().unwrap(),
            },
            Some([2; 32]),
            &key,
        )
        .unwrap();
        let msg = s.statement().signing_message();
        assert!(msg.starts_with(b"insyn/entry/v1\n"));
        assert_eq!(&msg[15..], s.statement().encode().as_slice());
        s.verify_signature(&key.public_key()).unwrap();
        let other = SigningKey::from_seed(&[6; 32]);
        assert!(matches!(
            s.verify_signature(&other.public_key()),
            Err(SignatureError::KeyMismatch { .. })
        ));
        // The signature over the bare statement (no prefix) is not accepted.
        let bare = SignedStatement::new(s.statement().clone(), key.sign(&s.statement().encode()));
        assert_eq!(
            bare.verify_signature(&key.public_key()),
            Err(SignatureError::Invalid)
        );
        // The dedupe hash is SHA-256(statement || signature).
        let mut both = s.statement().encode();
        both.extend_from_slice(&s.signature().0);
        assert_eq!(s.dedupe_hash(), crate::hash::sha256(&both));
        let again = SignedStatement::from_parts(&s.statement().encode(), &s.signature().0).unwrap();
        assert_eq!(again.dedupe_hash(), s.dedupe_hash());
    }

    #[test]
    fn decoder_errors_say_what_is_wrong() {
        let good = samples()[5].encode(); // ReportSubmitted by a provider
        assert_eq!(
            err(&[]),
            "the entry ends too early: the version byte is missing or cut short"
        );
        assert_eq!(
            err(&[1]),
            "the entry ends too early: the kind byte is missing or cut short"
        );
        assert_eq!(
            err(&[2, 6]),
            "unknown statement version 2; this software reads version 1"
        );
        assert_eq!(err(&[1, 0]), "unknown entry kind 0; known kinds are 1 to 9");
        assert_eq!(
            err(&[1, 10]),
            "unknown entry kind 10; known kinds are 1 to 9"
        );
        assert_eq!(
            err(&[1, 6, 5]),
            "unknown actor type 5; known types are 1 (operator), 2 (municipality), 3 (provider) and 4 (inspector)"
        );
        assert_eq!(
            err(&[1, 6, 2, b'0', b'1']),
            "the entry ends too early: the municipality code is missing or cut short"
        );
        assert_eq!(
            err(b"\x01\x06\x029999"),
            "\"9999\" is not a Swedish municipality code (four digits, as SCB assigns them, e.g. 0180 Stockholm)"
        );
        assert_eq!(
            err(b"\x01\x06\x035560360794"),
            "organisation number \"5560360794\" has a wrong check digit"
        );
        assert_eq!(
            err(b"\x01\x06\x03556036-079"),
            "organisation number \"556036-079\" must be 10 digits, written NNNNNNNNNN or NNNNNN-NNNN"
        );
        assert_eq!(
            err(b"\x01\x09\x01"),
            "the entry ends too early: the key ID is missing or cut short"
        );
        let mut inspector = vec![1, 9, 1];
        inspector.extend_from_slice(&[0; 32]);
        inspector.extend_from_slice(b"\x03IVO\x00");
        assert_eq!(
            err(&inspector),
            "inspector name \"IVO\" must be 1 to 64 characters from a-z, 0-9, '.', '_' and '-'"
        );
        inspector.truncate(35);
        inspector.extend_from_slice(b"\x00\x00");
        assert_eq!(
            err(&inspector),
            "inspector name \"\" must be 1 to 64 characters from a-z, 0-9, '.', '_' and '-'"
        );
        // Field offsets in the ReportSubmitted sample: 0 version, 1 kind, 2..13 actor (tag + 10
        // digits), 13..45 key ID, 45..49 municipality, 49 reference length, then the reference,
        // the period (3 bytes), the payload flag and hash.
        let rl = usize::from(good[49]);
        let period_at = 50 + rl;
        let mut bad = good.clone();
        bad[period_at + 2] = 13;
        assert_eq!(
            err(&bad),
            "period \"2026-13\" must be a calendar month written YYYY-MM, e.g. 2026-03"
        );
        let mut bad = good.clone();
        bad[50] = b'/';
        assert_eq!(
            err(&bad),
            "contract reference \"/XIT-2026.01_a\" must be 1 to 64 characters from A-Z, a-z, 0-9, '.', '_' and '-'"
        );
        let flag_at = period_at + 3;
        let mut bad = good.clone();
        bad[flag_at] = 2;
        assert_eq!(
            err(&bad),
            "the payload flag must be 0 (no payload) or 1 (payload hash follows), not 2"
        );
        let mut bad = good[..=flag_at].to_vec();
        bad[flag_at] = 0;
        assert_eq!(
            err(&bad),
            "a ReportSubmitted entry must carry the SHA-256 of its payload"
        );
        assert_eq!(
            err(&good[..flag_at + 10]),
            "the entry ends too early: the payload hash is missing or cut short"
        );
        let mut longer = good.clone();
        longer.extend_from_slice(&[0, 0]);
        assert_eq!(
            err(&longer),
            "2 unexpected bytes after the end of the entry"
        );

        let mut key_added = samples()[3].encode();
        let n = key_added.len();
        key_added[n - 1] = 1;
        key_added.extend_from_slice(&[0; 32]);
        assert_eq!(err(&key_added), "a KeyAdded entry must not carry a payload");

        let mut review = samples()[7].encode();
        review[2 + 5 + 32 + 8] = 4;
        assert_eq!(
            err(&review),
            "unknown review decision 4; known decisions are 1 (accepted), 2 (question) and 3 (flagged)"
        );

        let contract = samples()[2].encode();
        let last_at = 2 + 5 + 32 + 4 + 1 + rl + 10 + 3;
        let mut bad = contract.clone();
        bad[last_at..last_at + 3].copy_from_slice(&[0x07, 0xe9, 12]); // 2025-12, before 2026-01
        assert_eq!(
            err(&bad),
            "the contract runs from 2026-01 to 2025-12: the first period is after the last"
        );
        let mut bad = contract.clone();
        bad[last_at + 3] = 0x80;
        assert!(err(&bad).starts_with("the contract budget must not be negative, got -"));

        assert_eq!(
            Entry::decode(&vec![1; 65536]).unwrap_err().to_string(),
            "the entry is 65536 bytes long; an entry may be at most 65535 bytes"
        );
        assert_eq!(
            SignedStatement::from_parts(&good, &[0; 63])
                .unwrap_err()
                .to_string(),
            "an Ed25519 signature is 64 bytes, got 63"
        );
        assert_eq!(
            SignedStatement::from_parts(&good, &[0; 65])
                .unwrap_err()
                .to_string(),
            "an Ed25519 signature is 64 bytes, got 65"
        );
    }

    #[test]
    fn builders_enforce_what_the_decoder_enforces() {
        let key = KeyId([0; 32]);
        let p = Actor::Provider(provider());
        let body = Body::ReportSubmitted {
            contract: contract(),
            period: "2026-03".parse().unwrap(),
        };
        assert_eq!(
            Statement::new(p, key, body, None).unwrap_err(),
            EntryError::PayloadRequired(Kind::ReportSubmitted)
        );
        assert!("a".repeat(65).parse::<ContractReference>().is_err());
        assert!("a".repeat(64).parse::<ContractReference>().is_ok());
        assert!("å".parse::<ContractReference>().is_err());
        assert!("".parse::<AuditorRef>().is_err());
        for k in Kind::ALL {
            assert_eq!(Kind::from_code(k.code()), Some(k));
        }
        assert_eq!(Kind::from_code(0), None);
        assert_eq!(Kind::from_code(10), None);
    }
}
