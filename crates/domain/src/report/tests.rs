use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn example() -> Value {
    serde_json::from_str(example_report_json()).unwrap()
}

fn schema_accepts(v: &Value) -> bool {
    jsonschema::draft202012::new(&report_schema_json())
        .unwrap()
        .is_valid(v)
}

fn types_accept(v: &Value) -> bool {
    serde_json::from_value::<Report>(v.clone()).is_ok()
}

fn codes(v: &Value) -> Vec<ReportErrorCode> {
    match validate_report(&serde_json::to_vec(v).unwrap()) {
        Ok(_) => vec![],
        Err(e) => e.0.iter().map(|e| e.code).collect(),
    }
}

/// Sets (or with `None` removes) the value at a JSON pointer.
fn with(mut v: Value, pointer: &str, new: Option<Value>) -> Value {
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    let target = v.pointer_mut(parent).unwrap();
    match (target, new) {
        (Value::Object(m), Some(n)) => {
            m.insert(last.to_owned(), n);
        }
        (Value::Object(m), None) => {
            m.remove(last);
        }
        (Value::Array(a), Some(n)) => a[last.parse::<usize>().unwrap()] = n,
        (Value::Array(a), None) => {
            a.remove(last.parse::<usize>().unwrap());
        }
        _ => panic!("{pointer}"),
    }
    v
}

#[test]
fn the_example_is_valid_everywhere() {
    let v = example();
    assert!(schema_accepts(&v));
    assert!(types_accept(&v));
    let report = validate_report(example_report_json().as_bytes()).unwrap();
    assert_eq!(report.period.to_string(), "2026-03");
    assert_eq!(report.caseload_total(), 27);
    assert_eq!(report.relocations_total(), 2);
    // Canonical bytes read back to the same report.
    assert_eq!(validate_report(&report.to_json_bytes()).unwrap(), report);
}

#[test]
fn the_schema_is_a_valid_draft_2020_12_schema() {
    let schema = report_schema_json();
    assert!(jsonschema::draft202012::meta::is_valid(&schema));
    assert_eq!(schema["$id"], REPORT_SCHEMA_ID);
}

#[test]
fn published_schema_snapshot() {
    insta::assert_json_snapshot!("report_schema_v1", report_schema_json());
}

#[test]
fn every_field_of_the_types_is_in_the_schema_and_required() {
    // Removing any leaf or group from the example must be refused by both sides.
    fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
        if let Value::Object(m) = v {
            for (k, child) in m {
                let p = format!("{at}/{k}");
                out.push(p.clone());
                if k != "relocations_by_county" {
                    pointers(child, p, out);
                }
            }
        }
    }
    let mut all = Vec::new();
    pointers(&example(), String::new(), &mut all);
    assert!(all.len() > 50, "{}", all.len());
    for p in all {
        let v = with(example(), &p, None);
        assert!(!schema_accepts(&v), "schema accepts without {p}");
        assert!(!types_accept(&v), "types accept without {p}");
        assert!(
            codes(&v).contains(&ReportErrorCode::MissingField),
            "{p}: {:?}",
            codes(&v)
        );
    }
}

/// Documents the types refuse; the schema refuses each too, and validation says why, by code.
#[test]
fn schema_and_types_refuse_the_same_documents() {
    use ReportErrorCode as C;
    let long = |n: usize| json!("x".repeat(n));
    let cases: Vec<(&str, Option<Value>, C)> = vec![
        (
            "/schema_version",
            Some(json!(2)),
            C::UnsupportedSchemaVersion,
        ),
        (
            "/schema_version",
            Some(json!("1")),
            C::UnsupportedSchemaVersion,
        ),
        ("/extra", Some(json!(1)), C::UnknownField),
        ("/caseload/extra", Some(json!(1)), C::UnknownField),
        ("/caseload/active", Some(json!(-1)), C::ValueTooSmall),
        ("/caseload/active", Some(json!("3")), C::WrongType),
        ("/caseload/active", Some(json!(null)), C::WrongType),
        ("/caseload/active", Some(json!(2.5)), C::NotAWholeNumber),
        ("/caseload/active", Some(json!(u64::MAX)), C::ValueTooLarge),
        ("/costs_sek/other", Some(json!(-5)), C::ValueTooSmall),
        ("/costs_sek/other", Some(json!(12000.5)), C::NotAWholeNumber),
        ("/period", Some(json!("2026-13")), C::BadFormat),
        ("/period", Some(json!("1999-12")), C::BadFormat),
        ("/period", Some(json!(202603)), C::WrongType),
        ("/provider", Some(json!("55991234")), C::BadFormat),
        (
            "/contract/municipality",
            Some(json!("0100")),
            C::UnknownMunicipality,
        ),
        ("/contract/reference", Some(json!("")), C::TextTooShort),
        ("/contract/reference", Some(json!("a b")), C::BadFormat),
        ("/contract/reference", Some(long(65)), C::TextTooLong),
        (
            "/relocations_by_county/99",
            Some(json!(1)),
            C::UnknownCounty,
        ),
        (
            "/relocations_by_county/12",
            Some(json!(0)),
            C::ValueTooSmall,
        ),
        ("/relocations_by_county", Some(json!([])), C::WrongType),
        ("/subcontractors", Some(json!({})), C::WrongType),
        ("/subcontractors/0/extra", Some(json!("x")), C::UnknownField),
        (
            "/subcontractors/0/delivered",
            Some(long(MAX_DELIVERED_CHARS + 1)),
            C::TextTooLong,
        ),
        (
            "/free_text/narrative",
            Some(long(MAX_NARRATIVE_CHARS + 1)),
            C::TextTooLong,
        ),
        (
            "/free_text/message_to_municipality",
            Some(long(MAX_MESSAGE_CHARS + 1)),
            C::TextTooLong,
        ),
        ("/free_text/narrative", Some(json!(null)), C::WrongType),
        (
            "/subcontractors",
            Some(Value::Array(vec![
                example()["subcontractors"][0].clone();
                MAX_SUBCONTRACTORS + 1
            ])),
            C::TooManyItems,
        ),
    ];
    for (pointer, new, code) in cases {
        let v = with(example(), pointer, new.clone());
        assert!(!types_accept(&v), "types accept {pointer} = {new:?}");
        assert!(!schema_accepts(&v), "schema accepts {pointer} = {new:?}");
        let got = codes(&v);
        assert!(
            got.contains(&code),
            "{pointer} = {new:?}: expected {code}, got {got:?}"
        );
    }
    // Text limits count characters, as JSON Schema's maxLength does, not bytes.
    let v = with(
        example(),
        "/free_text/narrative",
        Some(json!("å".repeat(MAX_NARRATIVE_CHARS))),
    );
    assert!(types_accept(&v) && schema_accepts(&v) && codes(&v).is_empty());
}

/// What JSON Schema cannot express; validation still refuses it, with its own code.
#[test]
fn checks_beyond_the_schema() {
    use ReportErrorCode as C;
    let cases: Vec<(&str, Value, C)> = vec![
        ("/provider", json!("5599123452"), C::OrgNumberCheckDigit),
        (
            "/subcontractors/0/org_number",
            json!("802500-1235"),
            C::OrgNumberCheckDigit,
        ),
        (
            "/free_text/narrative",
            json!("Participant 811218-9876 moved."),
            C::PersonalNumberInText,
        ),
        (
            "/subcontractors/0/delivered",
            json!("for 19811218-9876"),
            C::PersonalNumberInText,
        ),
        (
            "/contract/reference",
            json!("198112189876"),
            C::PersonalNumberInText,
        ),
    ];
    for (pointer, new, code) in cases {
        let v = with(example(), pointer, Some(new));
        let got = validate_report(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        let e = got
            .0
            .iter()
            .find(|e| e.code == code)
            .unwrap_or_else(|| panic!("{pointer}: {got:?}"));
        assert_eq!(e.path, pointer);
        // Messages never echo the offending text.
        assert!(!e.message.contains("9876"), "{}", e.message);
    }
    // 2.0 is an integer to JSON Schema but not to Insyn.
    let v = with(example(), "/caseload/active", Some(json!(23.0)));
    assert!(schema_accepts(&v));
    assert_eq!(codes(&v), vec![C::NotAWholeNumber]);
}

#[test]
fn every_problem_is_listed_not_just_the_first() {
    let mut v = example();
    v["schema_version"] = json!(7);
    v["period"] = json!("March");
    v["caseload"]["active"] = json!(-3);
    v["services"]
        .as_object_mut()
        .unwrap()
        .remove("counselling_sessions");
    v["staff"]["surprise"] = json!(true);
    v["free_text"]["narrative"] = json!("see 811218-9876");
    v["provider"] = json!("5599123450");
    let errors = validate_report(&serde_json::to_vec(&v).unwrap()).unwrap_err();
    let got: Vec<(&str, &str)> = errors
        .0
        .iter()
        .map(|e| (e.path.as_str(), e.code.as_str()))
        .collect();
    for expected in [
        ("/schema_version", "unsupported_schema_version"),
        ("/period", "bad_format"),
        ("/caseload/active", "value_too_small"),
        ("/services/counselling_sessions", "missing_field"),
        ("/staff/surprise", "unknown_field"),
        ("/free_text/narrative", "personal_number_in_text"),
        ("/provider", "org_number_check_digit"),
    ] {
        assert!(got.contains(&expected), "{expected:?} not in {got:?}");
    }
    assert_eq!(got.len(), 7, "{got:?}");
}

#[test]
fn business_rules_each_have_a_code_and_a_path() {
    use ReportErrorCode as C;
    type Case<'a> = (Vec<(&'a str, Value)>, &'a str, C);
    let cases: Vec<Case> = vec![
        (
            vec![("/costs_sek/total_invoiced", json!(458001))],
            "/costs_sek/total_invoiced",
            C::CostsDoNotSum,
        ),
        (
            vec![
                ("/caseload/completed", json!(20)),
                ("/caseload/interrupted", json!(8)),
            ],
            "/caseload",
            C::OutcomesExceedCaseload,
        ),
        (
            vec![("/caseload/new_this_period", json!(28))],
            "/caseload/new_this_period",
            C::NewExceedCaseload,
        ),
        (
            vec![("/services/debt_counselling_cases", json!(28))],
            "/services/debt_counselling_cases",
            C::ParticipantsExceedCaseload,
        ),
        (
            // 27 people × 31 days in March = 837 nights at most.
            vec![("/services/protected_housing_nights", json!(838))],
            "/services/protected_housing_nights",
            C::HousingNightsExceedCaseload,
        ),
        (
            vec![("/incidents/reported_to_ivo", json!(2))],
            "/incidents/reported_to_ivo",
            C::IvoReportsExceedDeviations,
        ),
        (
            vec![("/subcontractors/0/org_number", json!("5599123451"))],
            "/subcontractors/0/org_number",
            C::SubcontractorIsProvider,
        ),
    ];
    for (changes, path, code) in cases {
        let mut v = example();
        for (p, new) in changes {
            v = with(v, p, Some(new));
        }
        assert!(
            schema_accepts(&v) && types_accept(&v),
            "{path}: the shape should be fine"
        );
        let errors = validate_report(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert_eq!(errors.0.len(), 1, "{errors}");
        assert_eq!(
            (errors.0[0].path.as_str(), errors.0[0].code),
            (path, code),
            "{errors}"
        );
    }
    // Exactly at the limits is fine.
    let v = with(
        example(),
        "/services/protected_housing_nights",
        Some(json!(837)),
    );
    assert!(codes(&v).is_empty());
    let mut v = example();
    let dup = v["subcontractors"][0].clone();
    v["subcontractors"].as_array_mut().unwrap().push(dup);
    assert_eq!(codes(&v), vec![ReportErrorCode::DuplicateSubcontractor]);
}

#[test]
fn hostile_input_is_refused_cheaply() {
    let big = vec![b' '; MAX_REPORT_BYTES + 1];
    let e = validate_report(&big).unwrap_err();
    assert_eq!(e.0.len(), 1);
    assert_eq!(e.0[0].code, ReportErrorCode::ReportTooLarge);
    for bad in [
        &b""[..],
        b"{",
        b"\xff\xfe",
        b"[1,2",
        b"null",
        b"[]",
        b"\"report\"",
    ] {
        let e = validate_report(bad).unwrap_err();
        assert!(!e.0.is_empty());
    }
    let deep = "[".repeat(10_000);
    assert_eq!(
        validate_report(deep.as_bytes()).unwrap_err().0[0].code,
        ReportErrorCode::InvalidJson
    );
    assert_eq!(
        validate_report(b"[]").unwrap_err().0[0].code,
        ReportErrorCode::WrongType
    );
}

#[test]
fn report_must_match_its_statement() {
    use insyn_ledger::entry::ContractRef;
    let r = validate_report(example_report_json().as_bytes()).unwrap();
    let contract = ContractRef {
        municipality: "0180".parse().unwrap(),
        reference: "SOC-2025-017".parse().unwrap(),
    };
    assert_eq!(r.contract.to_contract_ref(), contract);
    assert_eq!(ContractId::from(&contract), r.contract);
    let p = "2026-03".parse().unwrap();
    let provider = "5599123451".parse().unwrap();
    assert!(check_against_statement(&r, &contract, p, &provider).is_ok());
    let elsewhere = ContractRef {
        municipality: "1480".parse().unwrap(),
        ..contract
    };
    let e = check_against_statement(
        &r,
        &elsewhere,
        "2026-04".parse().unwrap(),
        &"8025001234".parse().unwrap(),
    )
    .unwrap_err();
    let paths: Vec<&str> = e.0.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["/contract", "/period", "/provider"]);
    assert!(
        e.0.iter()
            .all(|e| e.code == ReportErrorCode::StatementMismatch)
    );
}

#[test]
fn error_codes_are_unique_and_snake_case() {
    let mut seen = std::collections::HashSet::new();
    for c in ReportErrorCode::ALL {
        assert!(seen.insert(c.as_str()), "{c}");
        assert!(
            c.as_str()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_')
        );
        assert_eq!(serde_json::to_value(c).unwrap(), json!(c.as_str()));
    }
}

fn leaf_pointers() -> Vec<String> {
    fn go(v: &Value, at: String, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, c) in m {
                    go(c, format!("{at}/{k}"), out);
                }
            }
            Value::Array(a) => {
                for (i, c) in a.iter().enumerate() {
                    go(c, format!("{at}/{i}"), out);
                }
            }
            _ => out.push(at),
        }
    }
    let mut out = Vec::new();
    go(&example(), String::new(), &mut out);
    out
}

fn any_json_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(null)),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (0u64..2_000_000).prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[0-9A-Za-z -]{0,20}".prop_map(Value::from),
        Just(json!([])),
        Just(json!({})),
    ]
}

proptest! {
    /// Whatever one field is set to, the types never accept what the schema refuses, and
    /// `validate_report` accepts exactly what both accept.
    #[test]
    fn schema_and_types_agree_on_single_field_changes(i in 0usize..64, new in any_json_value()) {
        let pointers = leaf_pointers();
        let p = &pointers[i % pointers.len()];
        let v = with(example(), p, Some(new));
        let schema = schema_accepts(&v);
        let types = types_accept(&v);
        let validated = validate_report(&serde_json::to_vec(&v).unwrap()).is_ok();
        if types {
            // Only numeric limits and whole-number floats are schema-only.
            prop_assert!(schema || !validated);
        }
        if !types {
            prop_assert!(!validated);
        }
        if validated {
            prop_assert!(schema && types);
        }
    }

    #[test]
    fn validate_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = validate_report(&bytes);
    }
}

#[test]
fn a_submission_payload_is_checked_against_its_signed_statement() {
    use insyn_ledger::entry::{Actor, Body, ContractRef, Statement};
    use insyn_ledger::keys::KeyId;
    use sha2::{Digest, Sha256};

    let bytes = example_report_json().as_bytes();
    let digest: [u8; 32] = Sha256::digest(bytes).into();
    let contract = ContractRef {
        municipality: "0180".parse().unwrap(),
        reference: "SOC-2025-017".parse().unwrap(),
    };
    let make = |actor: Actor, period: &str, payload: [u8; 32]| {
        Statement::new(
            actor,
            KeyId([0; 32]),
            Body::ReportSubmitted {
                contract: contract.clone(),
                period: period.parse().unwrap(),
            },
            Some(payload),
        )
        .unwrap()
    };
    let provider = Actor::Provider("5599123451".parse().unwrap());
    assert!(validate_report_for(bytes, &make(provider.clone(), "2026-03", digest)).is_ok());
    let e = validate_report_for(bytes, &make(provider.clone(), "2026-03", [0; 32])).unwrap_err();
    assert_eq!(e.0[0].code, ReportErrorCode::PayloadHashMismatch);
    let e = validate_report_for(bytes, &make(provider, "2026-04", digest)).unwrap_err();
    assert_eq!(
        (e.0[0].code, e.0[0].path.as_str()),
        (ReportErrorCode::StatementMismatch, "/period")
    );
    let other = Actor::Provider("5599123469".parse().unwrap());
    let e = validate_report_for(bytes, &make(other, "2026-03", digest)).unwrap_err();
    assert_eq!(e.0[0].path, "/provider");
}

/// `docs/REPORT-SCHEMA.md` shows the example verbatim, names every field and every error code.
#[test]
fn the_provider_documentation_is_complete() {
    let doc = include_str!("../../../../docs/REPORT-SCHEMA.md");
    assert!(
        doc.contains(example_report_json().trim_end()),
        "the example in the docs is out of date"
    );
    for c in ReportErrorCode::ALL {
        assert!(
            doc.contains(&format!("`{}`", c.as_str())),
            "error code {c} is not documented"
        );
    }
    for p in leaf_pointers() {
        let field = p
            .rsplit('/')
            .find(|s| s.parse::<usize>().is_err() && s.len() > 2)
            .unwrap();
        assert!(
            doc.contains(&format!("`{field}`")) || doc.contains(&format!(".{field}`")),
            "field {field} is not documented"
        );
    }
}

fn any_report() -> impl Strategy<Value = Report> {
    let count = || 0u32..2_000;
    let text = |max: usize| {
        proptest::collection::vec(prop_oneof!["[a-zåäö ,.]", "[0-9]"], 0..max.min(40))
            .prop_map(|v| v.concat())
    };
    let municipalities: Vec<MunicipalityCode> = MunicipalityCode::all().collect();
    let counties: Vec<CountyCode> = CountyCode::all().collect();
    let ids = (
        0..municipalities.len(),
        2000u16..2100,
        1u8..=12,
        "[A-Za-z0-9._-]{1,64}",
    );
    let caseload =
        (count(), count(), count(), count(), count()).prop_map(|(a, b, c, d, e)| Caseload {
            in_intake_assessment: a,
            active: b,
            completed: c,
            interrupted: d,
            new_this_period: e,
        });
    let services = proptest::collection::vec(count(), 9).prop_map(|v| Services {
        protected_housing_nights: v[0],
        relocation_support_moves: v[1],
        counselling_sessions: v[2],
        work_or_study_support_participants: v[3],
        addiction_treatment_referrals: v[4],
        addiction_treatment_participants: v[5],
        psychiatric_care_referrals: v[6],
        debt_counselling_cases: v[7],
        police_exit_coordinator_contacts: v[8],
    });
    let relocations = proptest::collection::btree_map(0..counties.len(), 1u32..50, 0..5);
    let costs = proptest::collection::vec(0u64..10_000_000, 4);
    let rest = (
        proptest::collection::vec(count(), 12),
        text(MAX_NARRATIVE_CHARS),
        text(MAX_MESSAGE_CHARS),
        any::<bool>(),
    );
    (ids, caseload, services, relocations, costs, rest).prop_map(
        move |(
            (mi, year, month, reference),
            caseload,
            services,
            relocations,
            costs,
            (v, narrative, message, fix_sum),
        )| {
            let total = costs.iter().sum::<u64>() + u64::from(!fix_sum);
            Report {
                schema_version: SCHEMA_VERSION,
                contract: ContractId {
                    municipality: municipalities[mi],
                    reference: reference.parse().unwrap(),
                },
                period: Period::new(year, month).unwrap(),
                provider: "5599123451".parse().unwrap(),
                caseload,
                services,
                relocations_by_county: relocations
                    .into_iter()
                    .map(|(c, n)| (counties[c], std::num::NonZeroU32::new(n).unwrap()))
                    .collect(),
                staff: Staff {
                    fte_hundredths: v[0],
                    hours_worked: v[1],
                    with_lived_experience: v[2],
                    joined: v[3],
                    left: v[4],
                    qualification_changes: v[5],
                },
                subcontractors: vec![],
                costs_sek: Costs {
                    staff: costs[0],
                    housing: costs[1],
                    treatment: costs[2],
                    other: costs[3],
                    total_invoiced: total,
                },
                incidents: Incidents {
                    deviations: Deviations {
                        minor: v[6],
                        significant: v[7],
                        serious: v[8],
                    },
                    reported_to_ivo: v[9],
                    threats_or_violence_against_participants: v[10],
                    threats_or_violence_against_staff: v[11],
                },
                complaints: Complaints {
                    received: v[0],
                    resolved: v[1],
                },
                free_text: FreeText {
                    narrative,
                    message_to_municipality: message,
                },
            }
        },
    )
}

proptest! {
    /// Every report the types can hold (within the limits) is accepted by the schema: validation
    /// of its JSON finds at most business-rule problems (and personal-number-shaped text, which
    /// random digits can form), and a valid one reads back equal.
    #[test]
    fn serialised_reports_always_have_the_right_shape(report in any_report()) {
        let bytes = report.to_json_bytes();
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        prop_assert!(schema_accepts(&value));
        match validate_report(&bytes) {
            Ok(read) => prop_assert_eq!(read, report),
            Err(errors) => {
                use ReportErrorCode as C;
                for e in errors.errors() {
                    prop_assert!(
                        matches!(
                            e.code,
                            C::CostsDoNotSum
                                | C::OutcomesExceedCaseload
                                | C::NewExceedCaseload
                                | C::ParticipantsExceedCaseload
                                | C::HousingNightsExceedCaseload
                                | C::IvoReportsExceedDeviations
                                | C::PersonalNumberInText
                        ),
                        "{}", e
                    );
                }
            }
        }
    }
}

#[test]
fn field_names_with_personal_numbers_are_masked_in_paths() {
    let v = with(example(), "/caseload/x811218-9876", Some(json!(1)));
    let errors = validate_report(&serde_json::to_vec(&v).unwrap()).unwrap_err();
    assert!(errors.has(ReportErrorCode::PersonalNumberInText));
    assert!(errors.has(ReportErrorCode::UnknownField));
    for e in errors.errors() {
        assert_eq!(e.path, "/caseload/x***********", "{e}");
    }
}
