//! A deterministic, synthetic demo history for `insyn serve --demo`: municipalities, a dozen
//! made-up providers, contracts, keys (with one rotation by a provider, one by a municipality and
//! one revoked provider key), and two years of monthly reports with some late, a few missing, a few
//! corrected, and reviews.
//!
//! Everything here is fiction. Provider names are invented and say so (Demo, Exempel, Fiktiv…);
//! organisation numbers are synthetic numbers with valid check digits, not chosen to match any real
//! organisation; reports contain counts only.
//!
//! The output is a list of [`PlannedSubmission`]s in log order, each naming which demo key signs
//! it ([`DemoKey`]) and when it should be integrated, so the server can run them through its real
//! append path with a simulated clock. The demo keys are derived from the seed with SHA-256: they
//! are DEMO KEYS ONLY, public to anyone who knows the seed, and must never sign anything real.
//! Entry indices in the plan assume the log is empty when the demo starts.

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use insyn_ledger::entry::{
    Actor, Body, ContractRef, Decision, EntryError, InspectorName, SignedStatement, Statement,
};
use insyn_ledger::id::{CountyCode, MunicipalityCode, OrgNumber, Period, Sek};
use insyn_ledger::keys::SigningKey;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::calendar;
use crate::report::{
    Caseload, Complaints, ContractId, Costs, Deviations, FreeText, Incidents, Report,
    SCHEMA_VERSION, Services, Staff, Subcontractor,
};

/// How to generate the demo.
#[derive(Debug, Clone, Copy)]
pub struct DemoConfig {
    /// The seed: the same seed and `now` give the same history, byte for byte.
    pub seed: u64,
    /// The present: the history covers the 24 months up to and including `now`'s month (Swedish
    /// time), and nothing is planned after `now`.
    pub now: OffsetDateTime,
}

/// Which key signs a planned submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DemoKey {
    /// The log's own key (the server's); the operator's statements.
    Log,
    /// A municipality's key; generation 0 is its first, 1 its replacement.
    Municipality {
        /// Whose.
        municipality: MunicipalityCode,
        /// Which of its keys.
        generation: u8,
    },
    /// A provider's key; generation 0 is its first.
    Provider {
        /// Whose.
        provider: OrgNumber,
        /// Which of its keys.
        generation: u8,
    },
    /// The demo inspector's key.
    Inspector,
}

impl DemoKey {
    /// The key derived from `seed`, or `None` for [`DemoKey::Log`] (the server's own key).
    /// DEMO ONLY: anyone who knows the seed knows the key.
    #[must_use]
    pub fn signing_key(&self, seed: u64) -> Option<SigningKey> {
        let label = match self {
            DemoKey::Log => return None,
            DemoKey::Municipality {
                municipality,
                generation,
            } => format!("municipality/{}/{generation}", municipality.code()),
            DemoKey::Provider {
                provider,
                generation,
            } => format!("provider/{}/{generation}", provider.digits()),
            DemoKey::Inspector => "inspector/0".to_owned(),
        };
        let mut h = Sha256::new();
        h.update(b"insyn/demo-key/v1\n");
        h.update(seed.to_be_bytes());
        h.update(label.as_bytes());
        let seed_bytes: [u8; 32] = h.finalize().into();
        Some(SigningKey::from_seed(&seed_bytes))
    }
}

/// One statement to submit: who signs it, what it says, its payload and when the log should
/// integrate it.
#[derive(Debug, Clone)]
pub struct PlannedSubmission {
    /// The key that signs it.
    pub signer: DemoKey,
    /// The actor making the statement.
    pub actor: Actor,
    /// What it says.
    pub body: Body,
    /// The payload, if any (a report as JSON, a profile, contract details, a review comment).
    pub payload: Option<Vec<u8>>,
    /// When the log should integrate it (Unix milliseconds); never decreasing along the plan.
    pub integrated_at_ms: u64,
}

impl PlannedSubmission {
    /// The SHA-256 of the payload, as the statement carries it.
    #[must_use]
    pub fn payload_sha256(&self) -> Option<[u8; 32]> {
        self.payload.as_ref().map(|p| Sha256::digest(p).into())
    }

    /// The statement signed with `key` (the key [`PlannedSubmission::signer`] names).
    ///
    /// # Errors
    /// As the ledger's `Statement::new` (never for a generated plan; tested).
    pub fn sign(&self, key: &SigningKey) -> Result<SignedStatement, EntryError> {
        Statement::build_and_sign(
            self.actor.clone(),
            self.body.clone(),
            self.payload_sha256(),
            key,
        )
    }
}

/// A demo provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoProvider {
    /// Its synthetic organisation number.
    pub org_number: OrgNumber,
    /// Its made-up name.
    pub name: &'static str,
}

/// The generated demo.
#[derive(Debug, Clone)]
pub struct DemoDataset {
    /// The seed it was made from (and its keys derived from).
    pub seed: u64,
    /// The municipalities.
    pub municipalities: Vec<MunicipalityCode>,
    /// The providers.
    pub providers: Vec<DemoProvider>,
    /// The inspector's name.
    pub inspector: InspectorName,
    /// Every submission, in log order.
    pub submissions: Vec<PlannedSubmission>,
}

impl DemoDataset {
    /// The key for a [`DemoKey`], or `None` for the log's own key.
    #[must_use]
    pub fn signing_key(&self, key: DemoKey) -> Option<SigningKey> {
        key.signing_key(self.seed)
    }

    /// A municipality's key that is valid at the end of the plan (for the portal to sign reviews).
    #[must_use]
    pub fn current_municipality_key(&self, municipality: MunicipalityCode) -> DemoKey {
        let generation = u8::from(rotates_key(municipality));
        DemoKey::Municipality {
            municipality,
            generation,
        }
    }

    /// A provider's key that is valid at the end of the plan.
    #[must_use]
    pub fn current_provider_key(&self, provider: OrgNumber) -> DemoKey {
        let generation = u8::from(
            self.providers
                .iter()
                .position(|p| p.org_number == provider)
                .is_some_and(|i| i == ROTATING_PROVIDER || i == REVOKED_PROVIDER),
        );
        DemoKey::Provider {
            provider,
            generation,
        }
    }
}

/// SplitMix64: small, fast, and the same everywhere, which is all a demo needs.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Self {
        let mut r = Rng(seed ^ stream.wrapping_mul(0xA076_1D64_78BD_642F));
        r.next();
        r
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    fn range32(&mut self, lo: u32, hi: u32) -> u32 {
        u32::try_from(self.range(u64::from(lo), u64::from(hi))).unwrap_or(lo)
    }
    fn percent(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[usize::try_from(self.next() % items.len() as u64).unwrap_or(0)]
    }
}

/// Stockholm is the demo municipality that rotates its key.
fn rotates_key(m: MunicipalityCode) -> bool {
    m.code() == "0180"
}

const MUNICIPALITIES: [&str; 5] = ["0180", "1480", "1280", "0380", "1880"];

/// Made-up names, each marked as fiction.
const PROVIDER_NAMES: [&str; 12] = [
    "Vändpunkt Exempel AB",
    "Nya Steget Demo AB",
    "Stiftelsen Fiktiv Omstart",
    "Broar Ut Demoförening",
    "Vägval Syntet AB",
    "Horisont Påhittad AB",
    "Ankarplats Exempelstiftelse",
    "Kursändring Testbolag AB",
    "Fristad Fiktiv Ideell förening",
    "Nystart Provdata AB",
    "Ledstången Demo AB",
    "Utväg Exempelbolag AB",
];

/// Provider index that rotates its own key after 8 months.
const ROTATING_PROVIDER: usize = 1;
/// Provider index whose key the municipality revokes after 15 months (and replaces).
const REVOKED_PROVIDER: usize = 6;

/// (municipality index, provider index, reference, first month offset, months, monthly budget in kr)
const CONTRACTS: [(usize, usize, &str, u32, u32, i64); 14] = [
    (0, 0, "SOC-EXIT-01", 0, 36, 420_000),
    (0, 1, "SOC-EXIT-02", 0, 36, 310_000),
    (0, 2, "SOC-BOENDE-03", 0, 18, 560_000),
    (0, 3, "SOC-EXIT-04", 6, 36, 180_000),
    (1, 4, "SDN-AVH-11", 0, 36, 380_000),
    (1, 5, "SDN-AVH-12", 0, 36, 240_000),
    (1, 0, "SDN-AVH-13", 3, 36, 200_000),
    (2, 6, "MLM-EXIT-21", 0, 36, 350_000),
    (2, 7, "MLM-EXIT-22", 0, 36, 210_000),
    (2, 8, "MLM-STOD-23", 0, 36, 150_000),
    (3, 9, "UPS-EXIT-31", 0, 36, 190_000),
    (3, 10, "UPS-EXIT-32", 4, 36, 120_000),
    (4, 11, "ORE-EXIT-41", 10, 36, 160_000),
    (4, 9, "ORE-EXIT-42", 12, 24, 90_000),
];

/// A synthetic organisation number: a fixed prefix, digits from the seed, and the Luhn digit.
fn synthetic_org_number(rng: &mut Rng, prefix: &str) -> OrgNumber {
    loop {
        let mut digits: Vec<u8> = prefix.bytes().map(|b| b - b'0').collect();
        while digits.len() < 9 {
            digits.push(u8::try_from(rng.range(0, 9)).unwrap_or(0));
        }
        let sum: u32 = digits
            .iter()
            .rev()
            .enumerate()
            .map(|(i, &d)| {
                let v = u32::from(d) * if i % 2 == 0 { 2 } else { 1 };
                if v > 9 { v - 9 } else { v }
            })
            .sum();
        digits.push(u8::try_from((10 - sum % 10) % 10).unwrap_or(0));
        let text: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
        if let Ok(n) = text.parse() {
            return n;
        }
    }
}

fn add_months(p: Period, n: u32) -> Period {
    (0..n).fold(p, |p, _| p.next())
}

fn ms(t: OffsetDateTime) -> u64 {
    calendar::to_unix_ms(t)
}

/// What an event refers to before leaf indices are known: other events, by number.
enum Planned {
    Ready(Body),
    Correction {
        contract: ContractRef,
        period: Period,
        supersedes_event: usize,
    },
    Review {
        report_event: usize,
        decision: Decision,
        auditor: &'static str,
    },
}

struct Event {
    at: OffsetDateTime,
    signer: DemoKey,
    actor: Actor,
    planned: Planned,
    payload: Option<Vec<u8>>,
}

/// Generates the demo history.
#[must_use]
pub fn generate(config: &DemoConfig) -> DemoDataset {
    let seed = config.seed;
    let now = config.now;
    let current = calendar::period_at(now)
        .or_else(|| Period::new(2026, 1).ok())
        .expect("now is after the year 2000, or the constant period is valid");
    // The first month: 23 months before the current one.
    let mut first = current;
    for _ in 0..23 {
        first = previous(first);
    }
    let start = calendar::period_start(first) - Duration::days(40);

    let municipalities: Vec<MunicipalityCode> = MUNICIPALITIES
        .iter()
        .filter_map(|c| c.parse().ok())
        .collect();
    let mut rng = Rng::new(seed, 0);
    let providers: Vec<DemoProvider> = PROVIDER_NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| DemoProvider {
            org_number: synthetic_org_number(
                &mut rng,
                if name.contains("förening") || name.contains("tiftelse") {
                    "802"
                } else {
                    "559"
                },
            ),
            name: PROVIDER_NAMES[i],
        })
        .collect();
    let mut subcontractor_pool: Vec<OrgNumber> = Vec::new();
    while subcontractor_pool.len() < 4 {
        let n = synthetic_org_number(&mut rng, "559");
        if !providers.iter().any(|p| p.org_number == n) && !subcontractor_pool.contains(&n) {
            subcontractor_pool.push(n);
        }
    }
    let inspector: InspectorName = "ivo-demo"
        .parse()
        .expect("a constant, valid inspector name");

    let mut events: Vec<Event> = Vec::new();
    let mut tick = start;
    let mut next_tick = || {
        tick += Duration::minutes(10);
        tick
    };
    let muni_actor = |i: usize| Actor::Municipality(municipalities[i]);
    let muni_key =
        |m: MunicipalityCode, at: OffsetDateTime, rotation: OffsetDateTime| DemoKey::Municipality {
            municipality: m,
            generation: u8::from(rotates_key(m) && at > rotation),
        };
    // Stockholm replaces its key a year in.
    let muni_rotation = at_time(
        calendar::period_start(add_months(first, 12)) + Duration::days(3),
        3,
        0,
        30,
    );

    // The operator registers the municipalities and the inspector, with their first keys.
    for (i, m) in municipalities.iter().enumerate() {
        events.push(Event {
            at: next_tick(),
            signer: DemoKey::Log,
            actor: Actor::Operator,
            planned: Planned::Ready(Body::MunicipalityRegistered { municipality: *m }),
            payload: None,
        });
        let key = DemoKey::Municipality {
            municipality: *m,
            generation: 0,
        };
        events.push(Event {
            at: next_tick(),
            signer: DemoKey::Log,
            actor: Actor::Operator,
            planned: Planned::Ready(Body::KeyAdded {
                subject: muni_actor(i),
                public_key: public(key, seed),
            }),
            payload: None,
        });
    }
    events.push(Event {
        at: next_tick(),
        signer: DemoKey::Log,
        actor: Actor::Operator,
        planned: Planned::Ready(Body::InspectorRegistered {
            inspector: inspector.clone(),
        }),
        payload: None,
    });
    events.push(Event {
        at: next_tick(),
        signer: DemoKey::Log,
        actor: Actor::Operator,
        planned: Planned::Ready(Body::KeyAdded {
            subject: Actor::Inspector(inspector.clone()),
            public_key: public(DemoKey::Inspector, seed),
        }),
        payload: None,
    });

    // Each municipality registers its providers (a provider serving two is registered by both) and
    // contracts; the first municipality to register a provider adds its first key.
    let mut keyed = vec![false; providers.len()];
    let mut registered: Vec<(usize, usize)> = Vec::new();
    for (c, &(mi, pi, reference, offset, months, monthly)) in CONTRACTS.iter().enumerate() {
        let m = municipalities[mi];
        let provider = providers[pi].org_number;
        let contract_first = add_months(first, offset);
        let at = |n: i64| {
            at_time(
                calendar::period_start(contract_first) - Duration::days(30 - n),
                9,
                u8::try_from(c).unwrap_or(0),
                0,
            )
        };
        if !registered.contains(&(mi, pi)) {
            registered.push((mi, pi));
            let profile = serde_json::json!({
                "name": providers[pi].name,
                "synthetic": true,
                "note": "Demo data: a made-up provider.",
            });
            events.push(Event {
                at: at(0),
                signer: muni_key(m, at(0), muni_rotation),
                actor: Actor::Municipality(m),
                planned: Planned::Ready(Body::ProviderRegistered { provider }),
                payload: Some(profile.to_string().into_bytes()),
            });
        }
        if !keyed[pi] {
            keyed[pi] = true;
            events.push(Event {
                at: at(1),
                signer: muni_key(m, at(1), muni_rotation),
                actor: Actor::Municipality(m),
                planned: Planned::Ready(Body::KeyAdded {
                    subject: Actor::Provider(provider),
                    public_key: public(
                        DemoKey::Provider {
                            provider,
                            generation: 0,
                        },
                        seed,
                    ),
                }),
                payload: None,
            });
        }
        let Ok(contract_ref) = reference.parse() else {
            continue;
        };
        let contract = ContractRef {
            municipality: m,
            reference: contract_ref,
        };
        let details = serde_json::json!({
            "title": format!("Exit program services, contract {reference} (demo)"),
            "services": ["exit support", "counselling", "protected housing", "relocation support"],
            "synthetic": true,
        });
        events.push(Event {
            at: at(2),
            signer: muni_key(m, at(2), muni_rotation),
            actor: Actor::Municipality(m),
            planned: Planned::Ready(Body::ContractRegistered {
                contract,
                provider,
                first: contract_first,
                last: add_months(contract_first, months.saturating_sub(1)),
                budget: Sek(monthly * i64::from(months)),
            }),
            payload: Some(details.to_string().into_bytes()),
        });
    }

    // Key changes: Stockholm rotates its own key; one provider rotates its own; one provider's key
    // is revoked by its municipality (as if lost) and replaced.
    let sthlm = municipalities[0];
    events.push(Event {
        at: muni_rotation,
        signer: DemoKey::Municipality {
            municipality: sthlm,
            generation: 0,
        },
        actor: Actor::Municipality(sthlm),
        planned: Planned::Ready(Body::KeyAdded {
            subject: Actor::Municipality(sthlm),
            public_key: public(
                DemoKey::Municipality {
                    municipality: sthlm,
                    generation: 1,
                },
                seed,
            ),
        }),
        payload: None,
    });
    events.push(Event {
        at: muni_rotation + Duration::seconds(15),
        signer: DemoKey::Municipality {
            municipality: sthlm,
            generation: 1,
        },
        actor: Actor::Municipality(sthlm),
        planned: Planned::Ready(Body::KeyRevoked {
            subject: Actor::Municipality(sthlm),
            key_id: key_id(
                DemoKey::Municipality {
                    municipality: sthlm,
                    generation: 0,
                },
                seed,
            ),
        }),
        payload: None,
    });
    let rotating = providers[ROTATING_PROVIDER].org_number;
    let provider_rotation = at_time(
        calendar::period_start(add_months(first, 8)) + Duration::days(5),
        3,
        0,
        30,
    );
    let gen0 = DemoKey::Provider {
        provider: rotating,
        generation: 0,
    };
    let gen1 = DemoKey::Provider {
        provider: rotating,
        generation: 1,
    };
    events.push(Event {
        at: provider_rotation,
        signer: gen0,
        actor: Actor::Provider(rotating),
        planned: Planned::Ready(Body::KeyAdded {
            subject: Actor::Provider(rotating),
            public_key: public(gen1, seed),
        }),
        payload: None,
    });
    events.push(Event {
        at: provider_rotation + Duration::seconds(15),
        signer: gen1,
        actor: Actor::Provider(rotating),
        planned: Planned::Ready(Body::KeyRevoked {
            subject: Actor::Provider(rotating),
            key_id: key_id(gen0, seed),
        }),
        payload: None,
    });
    let revoked = providers[REVOKED_PROVIDER].org_number;
    let revoked_registrar = municipalities[CONTRACTS
        .iter()
        .find(|c| c.1 == REVOKED_PROVIDER)
        .map_or(0, |c| c.0)];
    let revocation = at_time(
        calendar::period_start(add_months(first, 15)) + Duration::days(8),
        3,
        0,
        30,
    );
    let lost = DemoKey::Provider {
        provider: revoked,
        generation: 0,
    };
    let replacement = DemoKey::Provider {
        provider: revoked,
        generation: 1,
    };
    events.push(Event {
        at: revocation,
        signer: muni_key(revoked_registrar, revocation, muni_rotation),
        actor: Actor::Municipality(revoked_registrar),
        planned: Planned::Ready(Body::KeyRevoked {
            subject: Actor::Provider(revoked),
            key_id: key_id(lost, seed),
        }),
        payload: None,
    });
    events.push(Event {
        at: revocation + Duration::seconds(15),
        signer: muni_key(revoked_registrar, revocation, muni_rotation),
        actor: Actor::Municipality(revoked_registrar),
        planned: Planned::Ready(Body::KeyAdded {
            subject: Actor::Provider(revoked),
            public_key: public(replacement, seed),
        }),
        payload: None,
    });
    let provider_key = |p: OrgNumber, at: OffsetDateTime| {
        let generation = u8::from(
            (p == rotating && at > provider_rotation)
                || (p == revoked && at > revocation + Duration::seconds(15)),
        );
        DemoKey::Provider {
            provider: p,
            generation,
        }
    };

    // Reports, corrections and reviews, contract by contract.
    for (c, &(mi, pi, reference, offset, months, monthly)) in CONTRACTS.iter().enumerate() {
        let m = municipalities[mi];
        let provider = providers[pi].org_number;
        let Ok(contract_ref) = reference.parse() else {
            continue;
        };
        let contract = ContractRef {
            municipality: m,
            reference: contract_ref,
        };
        let mut rng = Rng::new(seed, 1000 + c as u64);
        let mut figures = Figures::new(&mut rng, monthly);
        let contract_first = add_months(first, offset);
        let contract_last = add_months(contract_first, months.saturating_sub(1));
        for (k, period) in contract_first.through(contract_last).enumerate() {
            if calendar::period_end(period) > now {
                break;
            }
            let report = figures.month(&mut rng, period, &contract, provider, &subcontractor_pool);
            // A few reports never come; some come late (forced for one contract so every demo shows both).
            let forced_missing = c == 9 && (k == 4 || k == 5);
            let forced_late = c == 5 && k == 3;
            if forced_missing || rng.percent(3) {
                continue;
            }
            let late = forced_late || rng.percent(9);
            let day_at = if late {
                calendar::report_deadline(period)
                    + Duration::days(i64::try_from(rng.range(1, 20)).unwrap_or(1))
            } else {
                calendar::period_end(period)
                    + Duration::days(i64::try_from(rng.range(1, 13)).unwrap_or(1))
            };
            let at = at_time(
                day_at,
                u8::try_from(rng.range(8, 16)).unwrap_or(9),
                u8::try_from(rng.range(0, 59)).unwrap_or(0),
                0,
            );
            if at >= now {
                continue;
            }
            let original = events.len();
            events.push(Event {
                at,
                signer: provider_key(provider, at),
                actor: Actor::Provider(provider),
                planned: Planned::Ready(Body::ReportSubmitted {
                    contract: contract.clone(),
                    period,
                }),
                payload: Some(report.to_json_bytes()),
            });
            let mut latest = (original, at);
            let forced_correction = c == 4 && k == 7;
            if forced_correction || rng.percent(5) {
                let fixed_at = at
                    + Duration::days(i64::try_from(rng.range(1, 9)).unwrap_or(1))
                    + Duration::minutes(7);
                if fixed_at < now {
                    let mut fixed = report.clone();
                    // The usual correction: a cost category was misbooked, and a count was off by one.
                    fixed.costs_sek.other += 2_500;
                    fixed.costs_sek.total_invoiced += 2_500;
                    fixed.services.counselling_sessions += 1;
                    fixed.free_text.message_to_municipality =
                        "Correction: one counselling session and a cost for interpreter services were missing.".into();
                    let i = events.len();
                    events.push(Event {
                        at: fixed_at,
                        signer: provider_key(provider, fixed_at),
                        actor: Actor::Provider(provider),
                        planned: Planned::Correction {
                            contract: contract.clone(),
                            period,
                            supersedes_event: latest.0,
                        },
                        payload: Some(fixed.to_json_bytes()),
                    });
                    latest = (i, fixed_at);
                }
            }
            if rng.percent(65) {
                let review_at = at_time(
                    latest.1 + Duration::days(i64::try_from(rng.range(2, 12)).unwrap_or(2)),
                    u8::try_from(rng.range(9, 15)).unwrap_or(10),
                    u8::try_from(rng.range(0, 59)).unwrap_or(0),
                    0,
                );
                if review_at < now {
                    let roll = rng.range(0, 99);
                    let (decision, comment) = if roll < 80 {
                        (
                            Decision::Accepted,
                            "Reviewed against the contract; no remarks.",
                        )
                    } else if roll < 93 {
                        (
                            Decision::Question,
                            "Please explain the change in caseload compared with last month.",
                        )
                    } else {
                        (
                            Decision::Flagged,
                            "Costs deviate from the budget; follow up at the next contract meeting.",
                        )
                    };
                    let auditors = ["auditor-1", "auditor-2"];
                    let auditor = *rng.pick(&auditors);
                    events.push(Event {
                        at: review_at,
                        signer: muni_key(m, review_at, muni_rotation),
                        actor: Actor::Municipality(m),
                        planned: Planned::Review {
                            report_event: latest.0,
                            decision,
                            auditor,
                        },
                        payload: Some(
                            serde_json::json!({ "comment": comment, "synthetic": true })
                                .to_string()
                                .into_bytes(),
                        ),
                    });
                }
            }
        }
    }

    DemoDataset {
        seed,
        municipalities,
        providers,
        inspector,
        submissions: into_log_order(events),
    }
}

/// Sorts events by time (stably) and resolves references to leaf indices.
fn into_log_order(events: Vec<Event>) -> Vec<PlannedSubmission> {
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by_key(|&i| (events[i].at, i));
    let mut leaf_of = vec![0u64; events.len()];
    for (leaf, &i) in order.iter().enumerate() {
        leaf_of[i] = leaf as u64;
    }
    let mut slots: Vec<Option<Event>> = events.into_iter().map(Some).collect();
    order
        .iter()
        .filter_map(|&i| slots[i].take())
        .filter_map(|e| {
            let body = match e.planned {
                Planned::Ready(body) => body,
                Planned::Correction {
                    contract,
                    period,
                    supersedes_event,
                } => Body::ReportCorrected {
                    contract,
                    period,
                    supersedes: leaf_of[supersedes_event],
                },
                Planned::Review {
                    report_event,
                    decision,
                    auditor,
                } => Body::ReportReviewed {
                    report: leaf_of[report_event],
                    decision,
                    auditor: auditor.parse().ok()?,
                },
            };
            Some(PlannedSubmission {
                signer: e.signer,
                actor: e.actor,
                body,
                payload: e.payload,
                integrated_at_ms: ms(e.at),
            })
        })
        .collect()
}

fn previous(p: Period) -> Period {
    if p.month() == 1 {
        Period::new(p.year().saturating_sub(1), 12).unwrap_or(p)
    } else {
        Period::new(p.year(), p.month() - 1).unwrap_or(p)
    }
}

/// The same day at a given UTC time.
fn at_time(day: OffsetDateTime, hour: u8, minute: u8, second: u8) -> OffsetDateTime {
    day.to_offset(time::UtcOffset::UTC)
        .replace_time(time::Time::from_hms(hour, minute, second).unwrap_or(time::Time::MIDNIGHT))
}

fn public(key: DemoKey, seed: u64) -> [u8; 32] {
    key.signing_key(seed)
        .map(|k| k.public_key().to_bytes())
        .unwrap_or([0; 32])
}

fn key_id(key: DemoKey, seed: u64) -> insyn_ledger::keys::KeyId {
    key.signing_key(seed)
        .map_or(insyn_ledger::keys::KeyId([0; 32]), |k| k.key_id())
}

/// A provider's figures, evolving month by month.
struct Figures {
    active: u32,
    monthly_budget: i64,
    fte_hundredths: u32,
    lived_experience: u32,
}

const NARRATIVES: [&str; 6] = [
    "Stable month. Group sessions continued twice a week and two participants started studies.",
    "Several participants needed protected housing after threats; cooperation with the police exit coordinator worked well.",
    "Intake increased after information meetings with social services.",
    "Two participants completed the program and have stable housing and work.",
    "Summer period with reduced group activities; individual contacts were kept up.",
    "Recruitment of a counsellor with lived experience is completed.",
];

impl Figures {
    fn new(rng: &mut Rng, monthly_budget: i64) -> Self {
        // Roughly one active participant per 12 000 kr a month.
        let active =
            u32::try_from(monthly_budget / 12_000).unwrap_or(10).max(5) + rng.range32(0, 6);
        Self {
            active,
            monthly_budget,
            fte_hundredths: u32::try_from(monthly_budget / 600).unwrap_or(300),
            lived_experience: rng.range32(0, 3),
        }
    }

    fn month(
        &mut self,
        rng: &mut Rng,
        period: Period,
        contract: &ContractRef,
        provider: OrgNumber,
        pool: &[OrgNumber],
    ) -> Report {
        // A slow random walk, with an occasional jump.
        let step = rng.range32(0, 6);
        self.active = if rng.percent(50) {
            self.active + step / 2
        } else {
            self.active.saturating_sub(step / 2)
        }
        .max(3);
        if rng.percent(3) {
            self.active += rng.range32(6, 12);
        }
        let active = self.active;
        let in_intake = rng.range32(0, 6);
        let completed = rng.range32(0, 2).min(active);
        let interrupted = rng.range32(0, 2).min(active - completed);
        let new_this_period = rng.range32(0, in_intake + 2).min(in_intake + active);
        let moves = if rng.percent(35) {
            rng.range32(1, 3)
        } else {
            0
        };
        let mut relocations = BTreeMap::new();
        let counties: Vec<CountyCode> = CountyCode::all().collect();
        // Usually every relocation had support; rarely one was reported without (a flag).
        let relocated = if moves == 0 && rng.percent(4) {
            1
        } else {
            moves
        };
        for _ in 0..relocated {
            let county = *rng.pick(&counties);
            let n = relocations.entry(county).or_insert(0u32);
            *n += 1;
        }
        let relocations_by_county = relocations
            .into_iter()
            .filter_map(|(c, n)| NonZeroU32::new(n).map(|n| (c, n)))
            .collect();
        let people = in_intake + active;
        let days = u32::from(crate::report::days_in_month(period));
        let in_housing = rng.range32(0, 4).min(people);
        let protected_housing_nights = (in_housing * days).saturating_sub(rng.range32(0, 10));

        // Costs: around the monthly budget, now and then well above it.
        let factor = if rng.percent(5) {
            rng.range(125, 150)
        } else {
            rng.range(85, 112)
        };
        let total = u64::try_from(self.monthly_budget).unwrap_or(0) * factor / 100;
        let staff_cost = total * rng.range(58, 66) / 100;
        let housing_cost = total * rng.range(12, 20) / 100;
        let treatment_cost = total * rng.range(4, 9) / 100;
        let other_cost = total - staff_cost - housing_cost - treatment_cost;

        if rng.percent(6) {
            self.fte_hundredths = (self.fte_hundredths + rng.range32(0, 100))
                .saturating_sub(50)
                .max(100);
        }
        let joined = u32::from(rng.percent(8));
        let left = u32::from(rng.percent(7));
        let serious = u32::from(rng.percent(4));
        let significant = u32::from(rng.percent(10));
        let minor = rng.range32(0, 2);
        // Serious deviations are reported to IVO, except rarely (a flag).
        let reported_to_ivo = if serious > 0 && rng.percent(30) {
            0
        } else {
            serious
        };
        let complaints_received = u32::from(rng.percent(20));
        let subcontractors = if rng.percent(30) {
            vec![Subcontractor {
                org_number: *rng.pick(pool),
                delivered: "Interpreter services and short-term protected housing.".into(),
            }]
        } else {
            Vec::new()
        };
        Report {
            schema_version: SCHEMA_VERSION,
            contract: ContractId {
                municipality: contract.municipality,
                reference: contract.reference.clone(),
            },
            period,
            provider,
            caseload: Caseload {
                in_intake_assessment: in_intake,
                active,
                completed,
                interrupted,
                new_this_period,
            },
            services: Services {
                protected_housing_nights,
                relocation_support_moves: moves,
                counselling_sessions: active * rng.range32(2, 5),
                work_or_study_support_participants: rng.range32(0, active / 2),
                addiction_treatment_referrals: rng.range32(0, 2),
                addiction_treatment_participants: rng.range32(0, active / 4 + 1).min(people),
                psychiatric_care_referrals: rng.range32(0, 1),
                debt_counselling_cases: rng.range32(0, active / 3 + 1).min(people),
                police_exit_coordinator_contacts: rng.range32(2, 12),
            },
            relocations_by_county,
            staff: Staff {
                fte_hundredths: self.fte_hundredths,
                hours_worked: self.fte_hundredths * 165 / 100,
                with_lived_experience: self.lived_experience,
                joined,
                left,
                qualification_changes: u32::from(rng.percent(5)),
            },
            subcontractors,
            costs_sek: Costs {
                staff: staff_cost,
                housing: housing_cost,
                treatment: treatment_cost,
                other: other_cost,
                total_invoiced: total,
            },
            incidents: Incidents {
                deviations: Deviations {
                    minor,
                    significant,
                    serious,
                },
                reported_to_ivo,
                threats_or_violence_against_participants: u32::from(rng.percent(10)),
                threats_or_violence_against_staff: u32::from(rng.percent(5)),
            },
            complaints: Complaints {
                received: complaints_received,
                resolved: complaints_received,
            },
            free_text: FreeText {
                narrative: (*rng.pick(&NARRATIVES)).to_owned(),
                message_to_municipality: String::new(),
            },
        }
    }
}

#[cfg(test)]
mod tests;
