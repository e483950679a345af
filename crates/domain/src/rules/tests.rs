use insyn_ledger::entry::{Actor, Body, ContractRef, Decision, Statement};
use insyn_ledger::id::{MunicipalityCode, OrgNumber, Period, Sek};
use insyn_ledger::keys::{KeyId, SigningKey};
use time::macros::datetime;

use super::*;
use crate::calendar::to_unix_ms;

fn m(code: &str) -> MunicipalityCode {
    code.parse().unwrap()
}
fn org(s: &str) -> OrgNumber {
    s.parse().unwrap()
}
fn p(s: &str) -> Period {
    s.parse().unwrap()
}
fn cref(muni: &str, r: &str) -> ContractRef {
    ContractRef {
        municipality: m(muni),
        reference: r.parse().unwrap(),
    }
}
fn st(actor: Actor, body: Body) -> Statement {
    let payload = matches!(
        body,
        Body::ReportSubmitted { .. } | Body::ReportCorrected { .. }
    )
    .then_some([7; 32]);
    Statement::new(actor, KeyId([0; 32]), body, payload).unwrap()
}

const STHLM: &str = "0180";
const GBG: &str = "1480";
const PROV: &str = "5599123451";
const OTHER: &str = "5599123469";

fn now() -> u64 {
    to_unix_ms(datetime!(2026-05-10 12:00 UTC))
}

fn codes(r: Result<(), Vec<Problem>>) -> Vec<ProblemCode> {
    r.err()
        .unwrap_or_default()
        .into_iter()
        .map(|p| p.code)
        .collect()
}

/// Stockholm and Göteborg registered; PROV registered by both, OTHER by Stockholm; contract
/// 0180/SOC-1 with PROV for 2026-01..=2026-12; a report for 2026-03 at leaf 7.
fn registry() -> (Registry, u64) {
    let mut r = Registry::new();
    let entries = [
        st(
            Actor::Operator,
            Body::MunicipalityRegistered {
                municipality: m(STHLM),
            },
        ),
        st(
            Actor::Operator,
            Body::MunicipalityRegistered {
                municipality: m(GBG),
            },
        ),
        st(
            Actor::Municipality(m(STHLM)),
            Body::ProviderRegistered {
                provider: org(PROV),
            },
        ),
        st(
            Actor::Municipality(m(GBG)),
            Body::ProviderRegistered {
                provider: org(PROV),
            },
        ),
        st(
            Actor::Municipality(m(STHLM)),
            Body::ProviderRegistered {
                provider: org(OTHER),
            },
        ),
        st(
            Actor::Municipality(m(STHLM)),
            Body::ContractRegistered {
                contract: cref(STHLM, "SOC-1"),
                provider: org(PROV),
                first: p("2026-01"),
                last: p("2026-12"),
                budget: Sek(6_000_000),
            },
        ),
        st(
            Actor::Operator,
            Body::InspectorRegistered {
                inspector: "ivo-1".parse().unwrap(),
            },
        ),
        st(
            Actor::Provider(org(PROV)),
            Body::ReportSubmitted {
                contract: cref(STHLM, "SOC-1"),
                period: p("2026-03"),
            },
        ),
    ];
    for (i, s) in entries.iter().enumerate() {
        r.admit(i as u64, s, now())
            .unwrap_or_else(|e| panic!("entry {i}: {e:?}"));
    }
    (r, entries.len() as u64)
}

#[test]
fn a_valid_history_builds_the_registry() {
    let (r, _) = registry();
    assert_eq!(r.municipalities(), vec![m(STHLM), m(GBG)]);
    assert_eq!(
        r.provider(&org(PROV)).unwrap().registered_by,
        vec![m(STHLM), m(GBG)]
    );
    assert_eq!(r.contracting_municipalities(&org(PROV)), vec![m(STHLM)]);
    assert!(r.contracting_municipalities(&org(OTHER)).is_empty());
    let c = r.contract(&cref(STHLM, "SOC-1")).unwrap();
    assert_eq!(
        (c.provider, c.budget, c.registered_at),
        (org(PROV), Sek(6_000_000), 5)
    );
    let v = r.report(&cref(STHLM, "SOC-1"), p("2026-03")).unwrap();
    assert_eq!((v.original, v.latest, v.corrections), (7, 7, 0));
    assert_eq!(
        r.report_at(7).map(|(c, p)| (c.contract.clone(), p)),
        Some((cref(STHLM, "SOC-1"), p("2026-03")))
    );
    assert!(r.report_at(6).is_none());
}

#[test]
fn registration_rules() {
    use ProblemCode as C;
    let (r, _) = registry();
    let cases: Vec<(Statement, Vec<ProblemCode>)> = vec![
        (
            st(
                Actor::Operator,
                Body::MunicipalityRegistered {
                    municipality: m(STHLM),
                },
            ),
            vec![C::MunicipalityAlreadyRegistered],
        ),
        (
            st(
                Actor::Municipality(m(STHLM)),
                Body::MunicipalityRegistered {
                    municipality: m("1280"),
                },
            ),
            vec![C::WrongActor],
        ),
        (
            st(
                Actor::Operator,
                Body::InspectorRegistered {
                    inspector: "ivo-1".parse().unwrap(),
                },
            ),
            vec![C::InspectorAlreadyRegistered],
        ),
        (
            st(
                Actor::Municipality(m(STHLM)),
                Body::ProviderRegistered {
                    provider: org(PROV),
                },
            ),
            vec![C::ProviderAlreadyRegistered],
        ),
        // Malmö is not registered yet.
        (
            st(
                Actor::Municipality(m("1280")),
                Body::ProviderRegistered {
                    provider: org(PROV),
                },
            ),
            vec![C::MunicipalityNotRegistered],
        ),
        (
            st(
                Actor::Provider(org(PROV)),
                Body::ProviderRegistered {
                    provider: org(OTHER),
                },
            ),
            vec![C::WrongActor],
        ),
        (
            // Göteborg did not register OTHER, and may not register Stockholm's contracts; the reference is taken.
            st(
                Actor::Municipality(m(GBG)),
                Body::ContractRegistered {
                    contract: cref(STHLM, "SOC-1"),
                    provider: org(OTHER),
                    first: p("2026-01"),
                    last: p("2026-12"),
                    budget: Sek(1),
                },
            ),
            vec![
                C::ContractOfAnotherMunicipality,
                C::ContractAlreadyRegistered,
            ],
        ),
        (
            // Göteborg never registered OTHER.
            st(
                Actor::Municipality(m(GBG)),
                Body::ContractRegistered {
                    contract: cref(GBG, "SOC-9"),
                    provider: org(OTHER),
                    first: p("2026-01"),
                    last: p("2026-12"),
                    budget: Sek(1),
                },
            ),
            vec![C::ProviderNotRegistered],
        ),
        (
            st(
                Actor::Municipality(m(GBG)),
                Body::ContractRegistered {
                    contract: cref(GBG, "SOC-1"),
                    provider: org(PROV),
                    first: p("2026-01"),
                    last: p("2026-12"),
                    budget: Sek(1),
                },
            ),
            vec![],
        ),
    ];
    for (s, expected) in cases {
        assert_eq!(codes(r.check(&s, now())), expected, "{:?}", s.body());
    }
}

#[test]
fn key_authority_rules() {
    use ProblemCode as C;
    let (r, _) = registry();
    let add = |signer: Actor, subject: Actor| {
        st(
            signer,
            Body::KeyAdded {
                subject,
                public_key: [1; 32],
            },
        )
    };
    let prov = Actor::Provider(org(PROV));
    let cases = [
        (add(Actor::Operator, Actor::Municipality(m(STHLM))), vec![]),
        (
            add(Actor::Municipality(m(STHLM)), Actor::Municipality(m(STHLM))),
            vec![],
        ),
        (
            add(Actor::Municipality(m(GBG)), Actor::Municipality(m(STHLM))),
            vec![C::KeySignerNotAllowed],
        ),
        (add(Actor::Municipality(m(STHLM)), prov.clone()), vec![]),
        (add(Actor::Municipality(m(GBG)), prov.clone()), vec![]),
        (add(prov.clone(), prov.clone()), vec![]),
        (
            add(Actor::Operator, prov.clone()),
            vec![C::KeySignerNotAllowed],
        ),
        (
            add(Actor::Municipality(m(GBG)), Actor::Provider(org(OTHER))),
            vec![C::KeySignerNotAllowed],
        ),
        (
            add(Actor::Operator, Actor::Operator),
            vec![C::UnknownKeySubject],
        ),
        (
            add(Actor::Operator, Actor::Municipality(m("1280"))),
            vec![C::UnknownKeySubject],
        ),
        (
            add(Actor::Operator, Actor::Inspector("ivo-1".parse().unwrap())),
            vec![],
        ),
        (
            add(Actor::Operator, Actor::Inspector("nobody".parse().unwrap())),
            vec![C::UnknownKeySubject],
        ),
        (
            add(
                Actor::Municipality(m(STHLM)),
                Actor::Provider(org("8025001234")),
            ),
            vec![C::UnknownKeySubject],
        ),
    ];
    for (s, expected) in cases {
        assert_eq!(
            codes(r.check(&s, now())),
            expected,
            "{} {:?}",
            s.actor(),
            s.body()
        );
    }
}

#[test]
fn report_rules() {
    use ProblemCode as C;
    let (r, next) = registry();
    let prov = Actor::Provider(org(PROV));
    let submit = |actor: Actor, c: ContractRef, period: &str| {
        st(
            actor,
            Body::ReportSubmitted {
                contract: c,
                period: p(period),
            },
        )
    };
    let correct = |c: ContractRef, period: &str, supersedes: u64| {
        st(
            Actor::Provider(org(PROV)),
            Body::ReportCorrected {
                contract: c,
                period: p(period),
                supersedes,
            },
        )
    };
    let soc1 = || cref(STHLM, "SOC-1");
    let cases = [
        (submit(prov.clone(), soc1(), "2026-04"), vec![]),
        // May is the current month: it has begun, so it may be reported (early).
        (submit(prov.clone(), soc1(), "2026-05"), vec![]),
        (
            submit(prov.clone(), soc1(), "2026-06"),
            vec![C::PeriodNotStarted],
        ),
        (
            submit(prov.clone(), soc1(), "2025-12"),
            vec![C::PeriodOutsideContract],
        ),
        (
            submit(prov.clone(), cref(STHLM, "SOC-2"), "2026-04"),
            vec![C::UnknownContract],
        ),
        (
            submit(Actor::Provider(org(OTHER)), soc1(), "2026-04"),
            vec![C::NotTheContractProvider],
        ),
        (
            submit(Actor::Municipality(m(STHLM)), soc1(), "2026-04"),
            vec![C::WrongActor],
        ),
        (
            submit(prov.clone(), soc1(), "2026-03"),
            vec![C::ReportAlreadySubmitted],
        ),
        (correct(soc1(), "2026-03", 7), vec![]),
        (
            correct(soc1(), "2026-04", 7),
            vec![C::CorrectionOfAnotherReport],
        ),
        (correct(soc1(), "2026-03", 5), vec![C::UnknownReport]),
        (correct(soc1(), "2026-03", 99), vec![C::UnknownReport]),
    ];
    for (s, expected) in cases {
        assert_eq!(
            codes(r.check(&s, now())),
            expected,
            "{} {:?}",
            s.actor(),
            s.body()
        );
    }
    // After one correction, the next must supersede the correction.
    let mut r = r;
    r.admit(next, &correct(soc1(), "2026-03", 7), now())
        .unwrap();
    assert_eq!(
        codes(r.check(&correct(soc1(), "2026-03", 7), now())),
        vec![C::CorrectionNotOfLatest]
    );
    assert_eq!(
        codes(r.check(&correct(soc1(), "2026-03", next), now())),
        vec![]
    );
    let v = r.report(&soc1(), p("2026-03")).unwrap();
    assert_eq!((v.original, v.latest, v.corrections), (7, next, 1));
    assert_eq!(r.report_at(next).unwrap().1, p("2026-03"));
    assert_eq!(r.report_entries(), 2);
    assert_eq!(r.versions(&soc1(), p("2026-03")), vec![7, next]);
    assert_eq!(r.versions(&soc1(), p("2026-04")), Vec::<u64>::new());
}

#[test]
fn report_period_start_is_swedish_time() {
    let (r, _) = registry();
    let s = st(
        Actor::Provider(org(PROV)),
        Body::ReportSubmitted {
            contract: cref(STHLM, "SOC-1"),
            period: p("2026-06"),
        },
    );
    // 31 May 22:00 UTC is midnight on 1 June in Sweden (summer time).
    assert!(
        r.check(&s, to_unix_ms(datetime!(2026-05-31 21:59:59 UTC)))
            .is_err()
    );
    assert!(
        r.check(&s, to_unix_ms(datetime!(2026-05-31 22:00 UTC)))
            .is_ok()
    );
}

#[test]
fn review_rules() {
    use ProblemCode as C;
    let (mut r, next) = registry();
    let review = |muni: &str, report: u64| {
        st(
            Actor::Municipality(m(muni)),
            Body::ReportReviewed {
                report,
                decision: Decision::Question,
                auditor: "auditor-17".parse().unwrap(),
            },
        )
    };
    assert_eq!(codes(r.check(&review(STHLM, 7), now())), vec![]);
    assert_eq!(
        codes(r.check(&review(GBG, 7), now())),
        vec![C::ReviewOfAnotherMunicipality]
    );
    assert_eq!(
        codes(r.check(&review(STHLM, 6), now())),
        vec![C::UnknownReport]
    );
    assert_eq!(
        codes(r.check(&review("1280", 7), now())),
        vec![C::MunicipalityNotRegistered]
    );
    let by_provider = st(
        Actor::Provider(org(PROV)),
        Body::ReportReviewed {
            report: 7,
            decision: Decision::Accepted,
            auditor: "x".parse().unwrap(),
        },
    );
    assert_eq!(codes(r.check(&by_provider, now())), vec![C::WrongActor]);
    r.admit(next, &review(STHLM, 7), now()).unwrap();
    let v = r.report(&cref(STHLM, "SOC-1"), p("2026-03")).unwrap();
    assert_eq!(
        (v.reviews, v.last_review),
        (1, Some((Decision::Question, 7)))
    );
}

#[test]
fn apply_is_tolerant_of_entries_that_break_rules() {
    let mut r = Registry::new();
    let bad = [
        st(
            Actor::Provider(org(PROV)),
            Body::ReportSubmitted {
                contract: cref(STHLM, "X"),
                period: p("2026-01"),
            },
        ),
        st(
            Actor::Provider(org(PROV)),
            Body::ReportCorrected {
                contract: cref(STHLM, "X"),
                period: p("2026-01"),
                supersedes: 0,
            },
        ),
        st(
            Actor::Municipality(m(STHLM)),
            Body::ReportReviewed {
                report: 0,
                decision: Decision::Flagged,
                auditor: "a".parse().unwrap(),
            },
        ),
    ];
    for (i, s) in bad.iter().enumerate() {
        assert!(r.check(s, now()).is_err());
        r.apply(i as u64, s);
    }
    assert_eq!(r.report_entries(), 0);
}

#[test]
fn problem_codes_are_stable_strings() {
    assert_eq!(
        ProblemCode::PeriodOutsideContract.as_str(),
        "period_outside_contract"
    );
    assert_eq!(
        serde_json::to_value(ProblemCode::CorrectionNotOfLatest).unwrap(),
        "correction_not_of_latest"
    );
}

/// The combined state: signatures and keys from the ledger, business rules from here.
#[test]
fn ledger_state_admits_signed_statements_in_order() {
    use ProblemCode as C;
    let log_key = SigningKey::from_seed(&[1; 32]);
    let muni_key = SigningKey::from_seed(&[2; 32]);
    let prov_key = SigningKey::from_seed(&[3; 32]);
    let mut state = LedgerState::new(log_key.public_key());
    let sign = |actor: Actor, body: Body, key: &SigningKey| {
        let payload = matches!(
            body,
            Body::ReportSubmitted { .. } | Body::ReportCorrected { .. }
        )
        .then_some([9; 32]);
        Statement::build_and_sign(actor, body, payload, key).unwrap()
    };
    let sthlm = Actor::Municipality(m(STHLM));
    let prov = Actor::Provider(org(PROV));
    let plan = [
        sign(
            Actor::Operator,
            Body::MunicipalityRegistered {
                municipality: m(STHLM),
            },
            &log_key,
        ),
        sign(
            Actor::Operator,
            Body::KeyAdded {
                subject: sthlm.clone(),
                public_key: muni_key.public_key().to_bytes(),
            },
            &log_key,
        ),
        sign(
            sthlm.clone(),
            Body::ProviderRegistered {
                provider: org(PROV),
            },
            &muni_key,
        ),
        sign(
            sthlm.clone(),
            Body::KeyAdded {
                subject: prov.clone(),
                public_key: prov_key.public_key().to_bytes(),
            },
            &muni_key,
        ),
        sign(
            sthlm.clone(),
            Body::ContractRegistered {
                contract: cref(STHLM, "SOC-1"),
                provider: org(PROV),
                first: p("2026-01"),
                last: p("2026-12"),
                budget: Sek(1_200_000),
            },
            &muni_key,
        ),
        sign(
            prov.clone(),
            Body::ReportSubmitted {
                contract: cref(STHLM, "SOC-1"),
                period: p("2026-01"),
            },
            &prov_key,
        ),
    ];
    for (i, s) in plan.iter().enumerate() {
        let e = state
            .admit(s, now())
            .unwrap_or_else(|e| panic!("{i}: {e:?}"));
        assert_eq!(e.integrated_at_ms(), now());
    }
    assert_eq!(state.len(), 6);

    // A second report for January: refused by the rules; with a stranger's key: refused by both.
    let again = sign(
        prov.clone(),
        Body::ReportSubmitted {
            contract: cref(STHLM, "SOC-1"),
            period: p("2026-01"),
        },
        &prov_key,
    );
    assert_eq!(
        codes(state.check(&again, now())),
        vec![C::ReportAlreadySubmitted]
    );
    let stranger = SigningKey::from_seed(&[4; 32]);
    let forged = sign(
        prov.clone(),
        Body::ReportSubmitted {
            contract: cref(STHLM, "SOC-1"),
            period: p("2026-01"),
        },
        &stranger,
    );
    assert_eq!(
        codes(state.check(&forged, now())),
        vec![C::UnknownKey, C::ReportAlreadySubmitted]
    );
    assert_eq!(state.len(), 6, "refused statements change nothing");

    // A key for a provider nobody registered: one problem, not two names for the same one.
    let stranger_key = sign(
        sthlm.clone(),
        Body::KeyAdded {
            subject: Actor::Provider(org(OTHER)),
            public_key: stranger.public_key().to_bytes(),
        },
        &muni_key,
    );
    assert_eq!(
        codes(state.check(&stranger_key, now())),
        vec![C::UnknownKeySubject]
    );

    // Revoke the provider's key (by the municipality): its next report is refused.
    let revoke = sign(
        sthlm.clone(),
        Body::KeyRevoked {
            subject: prov.clone(),
            key_id: prov_key.key_id(),
        },
        &muni_key,
    );
    state.admit(&revoke, now()).unwrap();
    let feb = sign(
        prov.clone(),
        Body::ReportSubmitted {
            contract: cref(STHLM, "SOC-1"),
            period: p("2026-02"),
        },
        &prov_key,
    );
    assert_eq!(codes(state.check(&feb, now())), vec![C::KeyRevoked]);

    // Replaying the log from entries gives the same state, and reports a bad entry without stopping.
    let mut replay = LedgerState::new(log_key.public_key());
    for s in plan.iter().chain([&revoke]) {
        replay.apply(&s.clone().into_entry(now())).unwrap();
    }
    assert_eq!(
        codes(replay.apply(&feb.clone().into_entry(now()))),
        vec![C::KeyRevoked]
    );
    assert_eq!(replay.len(), 8);
    assert!(
        replay
            .registry
            .report(&cref(STHLM, "SOC-1"), p("2026-02"))
            .is_none()
    );
}

#[test]
fn memory_per_report_is_small() {
    // The map's key and value, and the leaf row, as the module documentation promises.
    assert!(std::mem::size_of::<(ContractNo, Period)>() <= 8);
    assert!(std::mem::size_of::<ReportVersions>() <= 40);
    assert!(std::mem::size_of::<(u64, ContractNo, Period)>() <= 16);
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Statements drawn from a small world (3 municipalities, 3 providers, 3 contract references,
    /// 4 periods, leaf references up to 40), so that random sequences hit every rule often.
    fn any_statement() -> impl Strategy<Value = Statement> {
        let munis = ["0180", "1480", "1280"];
        let provs = [PROV, OTHER, "8025001234"];
        let refs = ["A", "B", "C"];
        let periods = ["2026-01", "2026-02", "2026-03", "2026-04"];
        let any_actor = prop_oneof![
            Just(Actor::Operator),
            (0..3usize).prop_map(move |i| Actor::Municipality(m(munis[i]))),
            (0..3usize).prop_map(move |i| Actor::Provider(org(provs[i]))),
        ];
        // Mostly the providers and contracts that exist, sometimes others.
        let provider = prop_oneof![4 => (0..2usize).prop_map(move |i| Actor::Provider(org(provs[i]))), 1 => any_actor.clone()];
        let municipality = prop_oneof![4 => (0..2usize).prop_map(move |i| Actor::Municipality(m(munis[i]))), 1 => any_actor.clone()];
        let contract = prop_oneof![
            4 => (0..2usize, 0..2usize).prop_map(move |(mi, r)| cref(munis[mi], refs[r])),
            1 => (0..3usize, 0..3usize).prop_map(move |(mi, r)| cref(munis[mi], refs[r])),
        ];
        let period = (0..4usize).prop_map(move |i| p(periods[i]));
        let registration = prop_oneof![
            (0..3usize).prop_map(move |i| Body::MunicipalityRegistered {
                municipality: m(munis[i])
            }),
            (0..3usize).prop_map(move |i| Body::ProviderRegistered {
                provider: org(provs[i])
            }),
            (contract.clone(), 0..3usize, 0..4usize).prop_map(move |(contract, pi, last)| {
                Body::ContractRegistered {
                    contract,
                    provider: org(provs[pi]),
                    first: p("2026-01"),
                    last: p(periods[last]),
                    budget: Sek(1_000),
                }
            }),
        ];
        let report = prop_oneof![
            (contract.clone(), period.clone())
                .prop_map(|(contract, period)| Body::ReportSubmitted { contract, period }),
            (contract, period, 8..40u64).prop_map(|(contract, period, supersedes)| {
                Body::ReportCorrected {
                    contract,
                    period,
                    supersedes,
                }
            }),
        ];
        let review = (8..40u64).prop_map(|report| Body::ReportReviewed {
            report,
            decision: Decision::Accepted,
            auditor: "a".parse().unwrap(),
        });
        prop_oneof![
            1 => (any_actor, registration),
            5 => (provider, report),
            2 => (municipality, review),
        ]
        .prop_map(|(a, b)| st(a, b))
    }

    /// The reports as a database table holds them (one row per report or correction, as the
    /// store's `report_index`), searched the slow, obvious way: an implementation of
    /// [`ReportLookup`] independent of the registry's maps.
    #[derive(Default)]
    struct Table(Vec<(u64, ContractRef, Period, bool)>);

    impl Table {
        fn record(&mut self, index: u64, statement: &Statement) {
            match statement.body() {
                Body::ReportSubmitted { contract, period } => {
                    self.0.push((index, contract.clone(), *period, false))
                }
                Body::ReportCorrected {
                    contract, period, ..
                } => self.0.push((index, contract.clone(), *period, true)),
                _ => {}
            }
        }
    }

    impl ReportLookup for Table {
        fn versions_of(&self, contract: &ContractRef, period: Period) -> Option<(u64, u64)> {
            let rows = || self.0.iter().filter(|r| r.1 == *contract && r.2 == period);
            let original = rows().find(|r| !r.3)?.0;
            let latest = rows().map(|r| r.0).max()?;
            Some((original, latest))
        }

        fn report_leaf(&self, leaf: u64) -> Option<(ContractRef, Period)> {
            self.0
                .iter()
                .find(|r| r.0 == leaf)
                .map(|r| (r.1.clone(), r.2))
        }
    }

    /// A registered world for random statements to land in: two municipalities, two providers,
    /// three contracts.
    fn registered_world() -> [Statement; 8] {
        let contract =
            |muni: &str, reference: &str, provider: &str, last: &str| Body::ContractRegistered {
                contract: cref(muni, reference),
                provider: org(provider),
                first: p("2026-01"),
                last: p(last),
                budget: Sek(1_000),
            };
        [
            st(
                Actor::Operator,
                Body::MunicipalityRegistered {
                    municipality: m(STHLM),
                },
            ),
            st(
                Actor::Operator,
                Body::MunicipalityRegistered {
                    municipality: m(GBG),
                },
            ),
            st(
                Actor::Municipality(m(STHLM)),
                Body::ProviderRegistered {
                    provider: org(PROV),
                },
            ),
            st(
                Actor::Municipality(m(STHLM)),
                Body::ProviderRegistered {
                    provider: org(OTHER),
                },
            ),
            st(
                Actor::Municipality(m(GBG)),
                Body::ProviderRegistered {
                    provider: org(PROV),
                },
            ),
            st(
                Actor::Municipality(m(STHLM)),
                contract(STHLM, "A", PROV, "2026-03"),
            ),
            st(
                Actor::Municipality(m(STHLM)),
                contract(STHLM, "B", OTHER, "2026-04"),
            ),
            st(
                Actor::Municipality(m(GBG)),
                contract(GBG, "A", PROV, "2026-02"),
            ),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// A registry without reports, answering the report rules from a table of the log's
        /// reports (what the sequencer does with its database), gives exactly the verdicts of the
        /// registry that keeps every report in memory, and keeps nothing per report itself.
        #[test]
        fn a_registry_without_reports_gives_the_same_verdicts(statements in proptest::collection::vec(any_statement(), 1..80)) {
            let mut full = Registry::new();
            let mut lean = Registry::without_reports();
            let mut table = Table::default();
            let setup = registered_world();
            let mut reached_report_rules = 0;
            for (i, s) in setup.iter().chain(&statements).enumerate() {
                let i = i as u64;
                // Aim corrections and reviews at what exists, two times in three.
                let aimed = match s.body() {
                    Body::ReportCorrected { contract, period, supersedes } if supersedes % 3 != 0 => full
                        .report(contract, *period)
                        .map(|v| Body::ReportCorrected { contract: contract.clone(), period: *period, supersedes: v.latest }),
                    Body::ReportReviewed { report, decision, auditor } if report % 3 != 0 && !full.report_leaves.is_empty() => {
                        let leaf = full.report_leaves[(*report as usize) % full.report_leaves.len()].0;
                        Some(Body::ReportReviewed { report: leaf, decision: *decision, auditor: auditor.clone() })
                    }
                    _ => None,
                };
                let aimed = aimed.map(|body| st(s.actor().clone(), body));
                let s = aimed.as_ref().unwrap_or(s);
                let expected = full.check(s, now());
                prop_assert_eq!(&lean.check_with(s, now(), &table), &expected);
                if expected.as_ref().err().is_some_and(|ps| ps.iter().any(|p| matches!(p.code, ProblemCode::ReportAlreadySubmitted | ProblemCode::CorrectionNotOfLatest | ProblemCode::CorrectionOfAnotherReport | ProblemCode::ReviewOfAnotherMunicipality))) {
                    reached_report_rules += 1;
                }
                if expected.is_ok() {
                    full.apply(i, s);
                    lean.apply(i, s);
                    table.record(i, s);
                }
            }
            prop_assert!(lean.reports.is_empty() && lean.corrections.is_empty() && lean.report_leaves.is_empty());
            if std::env::var_os("INSYN_PROPERTY_STATS").is_some() {
                eprintln!("report rules reached {reached_report_rules} times");
            }
        }

        /// Whatever is submitted, admitting never panics, refused statements change nothing, and
        /// what is admitted keeps the registry's invariants.
        #[test]
        fn admitted_histories_keep_the_invariants(statements in proptest::collection::vec(any_statement(), 1..80)) {
            let mut r = Registry::new();
            // A registered world to start from, so random statements reach the report rules.
            let setup = registered_world();
            for (i, s) in setup.iter().enumerate() {
                prop_assert!(r.admit(i as u64, s, now()).is_ok());
            }
            let mut admitted = 0u64;
            for (i, s) in statements.iter().enumerate().map(|(i, s)| (i + setup.len(), s)) {
                // Two times in three, point corrections and reviews at what exists, so that the
                // rules after "unknown report" are reached too.
                let aimed = match s.body() {
                    Body::ReportCorrected { contract, period, supersedes } if supersedes % 3 != 0 => r
                        .report(contract, *period)
                        .map(|v| Body::ReportCorrected { contract: contract.clone(), period: *period, supersedes: v.latest }),
                    Body::ReportReviewed { report, decision, auditor } if report % 3 != 0 && !r.report_leaves.is_empty() => {
                        let leaf = r.report_leaves[(*report as usize) % r.report_leaves.len()].0;
                        Some(Body::ReportReviewed { report: leaf, decision: *decision, auditor: auditor.clone() })
                    }
                    _ => None,
                };
                let aimed = aimed.map(|body| st(s.actor().clone(), body));
                let s = aimed.as_ref().unwrap_or(s);
                let before = format!("{r:?}");
                match r.admit(i as u64, s, now()) {
                    Ok(()) => admitted += 1,
                    Err(problems) => {
                        prop_assert!(!problems.is_empty());
                        prop_assert_eq!(before, format!("{:?}", r));
                    }
                }
            }
            prop_assert!(admitted <= statements.len() as u64);
            if std::env::var_os("INSYN_PROPERTY_STATS").is_some() {
                let corrected = r.reports.values().filter(|v| v.corrections > 0).count();
                let reviewed = r.reports.values().filter(|v| v.reviews > 0).count();
                eprintln!("admitted {admitted} of {}, {} report entries {corrected} {reviewed}", statements.len(), r.report_entries());
            }
            prop_assert!(r.report_leaves.windows(2).all(|w| w[0].0 < w[1].0));
            for ((n, period), v) in &r.reports {
                let info = r.contract_info(*n).unwrap();
                prop_assert!(info.first <= *period && *period <= info.last);
                prop_assert!(r.registered_by(&info.provider, info.contract.municipality));
                let versions = r.versions(&info.contract, *period);
                prop_assert_eq!(versions.first().copied(), Some(v.original));
                prop_assert_eq!(versions.last().copied(), Some(v.latest));
                prop_assert_eq!(versions.len() as u32, v.corrections + 1);
                for leaf in versions {
                    prop_assert_eq!(r.report_at(leaf).map(|(c, p)| (c.contract.clone(), p)), Some((info.contract.clone(), *period)));
                }
            }
            for (_, c) in r.contracts() {
                prop_assert!(r.has_municipality(c.contract.municipality));
            }
            // A verifier replays whatever a log holds: apply alone never panics either.
            let mut raw = Registry::new();
            for (i, s) in statements.iter().enumerate() {
                raw.apply(i as u64, s);
            }
            prop_assert!(raw.report_leaves.windows(2).all(|w| w[0].0 < w[1].0));
        }
    }
}
