#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::reference::{allowed, Case};
use proptest::prelude::*;

fn policies() -> Policies {
    Policies::default_policies().expect("default policies load")
}

fn file<'a>(
    agency: &'a str,
    counsellor: &'a str,
    partners: &'a [String],
    minor: bool,
) -> FileFacts<'a> {
    FileFacts {
        id: "p1",
        agency,
        counsellor: Some(counsellor),
        partners,
        minor,
    }
}

fn how(purpose: Purpose) -> Situation {
    Situation::at(purpose, false, 1_767_693_600)
}

#[test]
fn the_default_policies_load_and_say_what_the_issue_asks() {
    let p = policies();
    let c = Subject {
        name: "c.durand",
        role: Role::Counsellor,
        agency: "ML-075-13",
    };
    let mine = file("ML-075-13", "c.durand", &[], false);
    let g = p.grant(&c, &mine, &how(Purpose::Accompaniment));
    assert_eq!(
        g.nir,
        NirForm::LastDigits,
        "the NIR is masked for accompaniment"
    );
    assert!(g.allows(Category::Situation) && g.allows(Category::Followup));
    assert!(!g.categories.contains(&Category::SocialSecurity));
    assert!(
        !g.allows(Category::LegalRepresentatives),
        "an adult's representatives are not shown"
    );
    let g = p.grant(&c, &mine, &how(Purpose::Payment));
    assert_eq!(g.nir, NirForm::Full, "the full NIR for payment");
    let colleague = file("ML-075-13", "c.other", &[], false);
    let g = p.grant(&c, &colleague, &how(Purpose::Accompaniment));
    assert_eq!(g.categories, vec![Category::Identity, Category::Contact]);
    assert_eq!(g.nir, NirForm::Hidden);
    let elsewhere = file("ML-093-01", "c.durand", &[], false);
    assert!(!p.grant(&c, &elsewhere, &how(Purpose::Accompaniment)).any());

    let partner = Subject {
        name: "afpa",
        role: Role::Partner,
        agency: "AFPA-75",
    };
    let enrolled = ["AFPA-75".to_string()];
    let f = file("ML-075-13", "c.durand", &enrolled, false);
    let g = p.grant(&partner, &f, &how(Purpose::PartnerService));
    assert_eq!(
        g.categories,
        vec![Category::Identity, Category::Contact, Category::Education]
    );
    assert_eq!(g.nir, NirForm::Hidden);
    assert!(!p
        .grant(&partner, &mine, &how(Purpose::PartnerService))
        .any());

    let op = Subject {
        name: "ops",
        role: Role::Operator,
        agency: "ML-075-13",
    };
    for &purpose in Purpose::ALL {
        assert!(!p.grant(&op, &mine, &how(purpose)).any());
    }
}

#[test]
fn a_decision_names_the_policies_that_made_it() {
    let p = policies();
    let c = Subject {
        name: "c.durand",
        role: Role::Counsellor,
        agency: "ML-075-13",
    };
    let mine = file("ML-075-13", "c.durand", &[], false);
    let v = p.decide(
        &c,
        Act::Read,
        &mine,
        &how(Purpose::Accompaniment),
        Target::Category(Category::SocialSecurity),
    );
    assert!(!v.allowed);
    assert_eq!(
        v.policies,
        vec!["nir-masked-except-payment-and-legal-obligation".to_string()]
    );
    let v = p.decide(
        &c,
        Act::Read,
        &mine,
        &how(Purpose::Accompaniment),
        Target::Category(Category::Identity),
    );
    assert!(v.allowed);
    assert_eq!(
        v.policies,
        vec![
            "counsellor-agency-directory".to_string(),
            "counsellor-caseload".to_string()
        ]
    );
    let other = file("ML-093-01", "c.durand", &[], false);
    let v = p.decide(
        &c,
        Act::Read,
        &other,
        &how(Purpose::Accompaniment),
        Target::Category(Category::Identity),
    );
    assert!(
        !v.allowed && v.policies.is_empty(),
        "refused by default: {v:?}"
    );
}

#[test]
fn a_bad_policy_file_is_refused_with_its_line_and_reason() {
    let bad_attr = "// a comment\n\npermit (principal, action, resource)\nwhen { principal.grade == \"boss\" };\n";
    match Policies::parse(bad_attr, "site.cedar") {
        Err(PolicyError::Invalid { file, line, reason }) => {
            assert_eq!(file, "site.cedar");
            assert_eq!(line, 4, "{reason}");
            assert!(reason.contains("grade"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let syntax = "permit (principal, action, resource);\n\npermit (principal, action resource);\n";
    match Policies::parse(syntax, "x.cedar") {
        Err(PolicyError::Invalid { line, .. }) => assert_eq!(line, 3),
        other => panic!("{other:?}"),
    }
    let unknown_action = "permit (principal, action == Rempart::Action::\"steal\", resource);";
    assert!(matches!(
        Policies::parse(unknown_action, "x.cedar"),
        Err(PolicyError::Invalid { line: 1, .. })
    ));
    let twice = "@id(\"a\")\npermit (principal, action, resource);\n@id(\"a\")\nforbid (principal, action, resource);\n";
    match Policies::parse(twice, "x.cedar") {
        Err(PolicyError::Invalid { line, reason, .. }) => {
            assert_eq!(line, 3);
            assert!(reason.contains("\"a\""));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Policies::parse("// nothing\n", "x.cedar"),
        Err(PolicyError::Empty(_))
    ));
    let display = Policies::parse(bad_attr, "site.cedar")
        .unwrap_err()
        .to_string();
    assert!(display.starts_with("site.cedar:4: "), "{display}");
}

#[test]
fn the_table_is_computed_from_the_policies() {
    let t = role_table(&policies());
    assert!(
        t.contains("| counsellor | file of their caseload | I n A C S E P F L¹ |"),
        "{t}"
    );
    assert!(
        t.contains("| operator | file of their agency | — | — | — | — | — | — | — |"),
        "{t}"
    );
    // A changed policy changes the table.
    let open = Policies::parse("permit (principal, action, resource);", "open.cedar").unwrap();
    assert!(role_table(&open).contains("| operator | file of their agency | I N A C S E P F L |"));
}

fn arb_role() -> impl Strategy<Value = Role> {
    prop::sample::select(Role::ALL.to_vec())
}
fn arb_purpose() -> impl Strategy<Value = Purpose> {
    prop::sample::select(Purpose::ALL.to_vec())
}
fn arb_act() -> impl Strategy<Value = Act> {
    prop::sample::select(Act::ALL.to_vec())
}
fn arb_target() -> impl Strategy<Value = Target> {
    prop_oneof![
        prop::sample::select(Category::ALL.to_vec()).prop_map(Target::Category),
        Just(Target::NirLastDigits),
        Just(Target::File),
    ]
}

/// A thousand policies of the kind a large network would add: one per agency.
fn with_agency_policies(n: usize) -> Policies {
    let mut src = DEFAULT_POLICIES.to_string();
    for i in 0..n {
        src.push_str(&format!(
            "\n@id(\"agency-{i}-no-night-reads\")\nforbid (principal in Rempart::Agency::\"ML-{i:03}-01\", action == Rempart::Action::\"read\", resource)\nwhen {{ context.hour < 6 && resource.counsellor != principal.name }};\n"
        ));
    }
    for i in 0..n / 2 {
        src.push_str(&format!(
            "\n@id(\"agency-{i}-partner-professional\")\npermit (principal, action == Rempart::Action::\"read\", resource in Rempart::Agency::\"ML-{i:03}-01\")\nwhen {{ principal.role == \"partner\" && context.category == \"professional\" }};\n"
        ));
    }
    src.push_str("\n@id(\"named-in-condition\")\npermit (principal, action == Rempart::Action::\"read\", resource)\nwhen { principal.name == \"c.a\" && [\"education\"].contains(context.category) && \"accompaniment\" == context.purpose && resource.agency == principal.agency };\n");
    src.push_str("\n@id(\"either\")\nforbid (principal, action, resource)\nwhen { principal.role == \"dpo\" || context.category == \"situation\" }\nunless { context.break_glass };\n");
    src.push_str(
        "\n@id(\"one-file\")\nforbid (principal, action, resource == Rempart::File::\"p7\");\n",
    );
    src.push_str("\n@id(\"one-person\")\npermit (principal == Rempart::Principal::\"c.b\", action == Rempart::Action::\"read\", resource)\nwhen { context.category == \"education\" && resource.agency == \"ML-001-01\" };\n");
    Policies::parse(&src, "big.cedar").unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// The Cedar file and its plain restatement agree on every kind of request.
    #[test]
    fn the_default_policies_say_what_they_mean(
        role in arb_role(), same_agency: bool, assigned: bool, enrolled: bool, minor: bool,
        purpose in arb_purpose(), break_glass: bool, act in arb_act(), target in arb_target(),
    ) {
        let p = policies();
        let who = Subject { name: "me", role, agency: "ML-075-13" };
        let partners = if enrolled { vec!["ML-075-13".to_string()] } else { vec![] };
        let f = FileFacts {
            id: "p",
            agency: if same_agency { "ML-075-13" } else { "ML-093-01" },
            counsellor: Some(if assigned { "me" } else { "other" }),
            partners: &partners,
            minor,
        };
        let h = Situation { purpose, break_glass, hour: 10, weekday: 2 };
        let case = Case { role, same_agency, assigned, enrolled, minor, purpose, break_glass };
        let v = p.decide(&who, act, &f, &h, target);
        prop_assert_eq!(v.allowed, allowed(&case, act, target), "{:?} {:?} {:?} → {:?}", case, act, target, v);
        prop_assert!(v.errors.is_empty());
    }

    /// Setting aside policies that cannot apply never changes a decision.
    #[test]
    fn slicing_gives_the_same_decision_as_the_whole_set(
        agency in 0usize..3, name in prop::sample::select(vec!["c.a", "c.b", "me"]),
        role in prop_oneof![2 => Just(Role::Counsellor), 1 => Just(Role::Partner), 2 => arb_role()],
        file_agency in 0usize..3, file in 0usize..10, assigned: bool, minor: bool,
        purpose in prop_oneof![2 => Just(Purpose::Accompaniment), 3 => arb_purpose()],
        break_glass: bool,
        act in prop_oneof![2 => Just(Act::Read), 1 => arb_act()], target in arb_target(),
        hour in 0u8..24,
    ) {
        static BIG: std::sync::OnceLock<Policies> = std::sync::OnceLock::new();
        let p = BIG.get_or_init(|| with_agency_policies(1000));
        let agency = format!("ML-{agency:03}-01");
        let fa = format!("ML-{file_agency:03}-01");
        let who = Subject { name, role, agency: &agency };
        let id = format!("p{file}");
        let f = FileFacts { id: &id, agency: &fa, counsellor: Some(if assigned { name } else { "x" }), partners: &[], minor };
        let h = Situation { purpose, break_glass, hour, weekday: 3 };
        prop_assert_eq!(p.decide(&who, act, &f, &h, target), p.decide_unsliced(&who, act, &f, &h, target));
        prop_assert_eq!(
            Decide::allows(p, &who, act, &f, &h, target),
            p.decide_unsliced(&who, act, &f, &h, target).allowed
        );
        // A read's grant, which decides targets with the same policies once, is what every
        // category decided against the whole set gives.
        let full = |t| p.decide_unsliced(&who, Act::Read, &f, &h, t).allowed;
        let g = p.grant(&who, &f, &h);
        let expected: Vec<Category> = Category::ALL.iter().copied().filter(|c| full(Target::Category(*c))).collect();
        prop_assert_eq!(&g.categories, &expected);
        let nir = if full(Target::Category(Category::SocialSecurity)) {
            NirForm::Full
        } else if full(Target::NirLastDigits) {
            NirForm::LastDigits
        } else {
            NirForm::Hidden
        };
        prop_assert_eq!(g.nir, nir);
    }
}

#[test]
fn situation_knows_the_hour_and_the_day() {
    // 2026-11-23 is a Monday; 19:16 UTC.
    let s = Situation::at(Purpose::Accompaniment, false, 1_795_461_360);
    assert_eq!((s.hour, s.weekday), (19, 1));
}

#[test]
fn the_audit_log_is_for_operators_and_the_dpo_and_checkpoints_for_all() {
    let p = policies();
    let how = how(Purpose::BreachResponse);
    let who = |role| Subject {
        name: "x",
        role,
        agency: "ML-075-13",
    };
    for &role in Role::ALL {
        let d = |act| p.decide_log(&who(role), act, &how).allowed;
        assert!(d(LogAct::ReadCheckpoint));
        assert_eq!(
            d(LogAct::Prove),
            matches!(role, Role::Operator | Role::Dpo),
            "{role:?}"
        );
        assert_eq!(
            d(LogAct::Export),
            matches!(role, Role::Operator | Role::Dpo),
            "{role:?}"
        );
        assert_eq!(d(LogAct::ReviewBreakGlass), role == Role::Dpo, "{role:?}");
    }
    let v = p.decide_log(&who(Role::Operator), LogAct::Export, &how);
    assert_eq!(v.policies, ["audit-log-for-operators-and-the-dpo"]);
}

/// The review's reproduction: a name that appears only in an `unless` must key the slice cache,
/// or whoever asks first decides for everyone who shares the rest of the request's shape.
#[test]
fn a_name_in_an_unless_clause_does_not_leak_a_decision_to_the_next_caller() {
    let src = format!(
        "{DEFAULT_POLICIES}\n@id(\"dpo-no-situation\")\nforbid (principal, action, resource)\nwhen {{ principal.role == \"dpo\" && context.category == \"situation\" }}\nunless {{ principal.name == \"boss\" }};\n"
    );
    for boss_first in [true, false] {
        let p = Policies::parse(&src, "site.cedar").unwrap();
        let boss = Subject {
            name: "boss",
            role: Role::Dpo,
            agency: "ML-075-13",
        };
        let dpo = Subject {
            name: "dpo",
            ..boss
        };
        let f = file("ML-075-13", "c.durand", &[], false);
        let h = how(Purpose::DataSubjectRequest);
        let order = if boss_first { [boss, dpo] } else { [dpo, boss] };
        for who in order {
            let g = p.grant(&who, &f, &h);
            assert_eq!(
                g.allows(Category::Situation),
                who.name == "boss",
                "{} (boss first: {boss_first})",
                who.name
            );
            let v = p.decide(
                &who,
                Act::Read,
                &f,
                &h,
                Target::Category(Category::Situation),
            );
            assert_eq!(v.allowed, who.name == "boss", "{v:?}");
        }
    }
}

/// One plain or not-so-plain test of a condition, as a site would write it.
fn arb_atom() -> impl Strategy<Value = String> {
    let roles = ["counsellor", "partner", "operator", "dpo", "service"];
    let names = ["boss", "dpo", "c.a"];
    let agencies = ["ML-000-01", "ML-001-01"];
    let purposes: Vec<&str> = Purpose::ALL.iter().map(|p| p.as_str()).collect();
    let categories: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
    prop_oneof![
        prop::sample::select(roles.to_vec()).prop_map(|r| format!("principal.role == \"{r}\"")),
        prop::sample::select(names.to_vec()).prop_map(|n| format!("principal.name == \"{n}\"")),
        prop::sample::select(names.to_vec()).prop_map(|n| format!("\"{n}\" == principal.name")),
        prop::sample::subsequence(names.to_vec(), 1..3).prop_map(|ns| format!(
            "[{}].contains(principal.name)",
            ns.iter()
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        prop::sample::select(agencies.to_vec())
            .prop_map(|a| format!("principal.agency == \"{a}\"")),
        prop::sample::select(agencies.to_vec()).prop_map(|a| format!("resource.agency == \"{a}\"")),
        Just("resource.agency == principal.agency".to_string()),
        prop::sample::select(purposes).prop_map(|p| format!("context.purpose == \"{p}\"")),
        prop::sample::select(categories).prop_map(|c| format!("context.category == \"{c}\"")),
        Just("context.break_glass".to_string()),
        Just("context.hour < 6".to_string()),
        Just("resource.minor".to_string()),
        Just("resource.counsellor == principal.name".to_string()),
    ]
}

/// A condition: one to three tests joined by `&&` or `||`, sometimes negated.
fn arb_condition() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((arb_atom(), prop::bool::weighted(0.15)), 1..4),
        any::<bool>(),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(atoms, and, not_all)| {
            let parts: Vec<String> = atoms
                .into_iter()
                .map(|(a, neg)| if neg { format!("!({a})") } else { a })
                .collect();
            let body = parts.join(if and { " && " } else { " || " });
            if not_all {
                format!("!({body})")
            } else {
                body
            }
        })
}

/// A policy over file acts with a random scope and up to two `when`/`unless` clauses.
fn arb_policy() -> impl Strategy<Value = String> {
    let principal = prop_oneof![
        Just("principal".to_string()),
        Just("principal == Rempart::Principal::\"boss\"".to_string()),
        Just("principal in Rempart::Agency::\"ML-001-01\"".to_string()),
    ];
    let action = prop_oneof![
        Just("action == Rempart::Action::\"read\"".to_string()),
        Just("action in [Rempart::Action::\"read\", Rempart::Action::\"update\", Rempart::Action::\"erase\"]".to_string()),
    ];
    let resource = prop_oneof![
        Just("resource".to_string()),
        Just("resource in Rempart::Agency::\"ML-000-01\"".to_string()),
    ];
    let clause = (any::<bool>(), arb_condition())
        .prop_map(|(when, c)| format!("{} {{ {c} }}", if when { "when" } else { "unless" }));
    (
        any::<bool>(),
        principal,
        action,
        resource,
        prop::collection::vec(clause, 0..3),
    )
        .prop_map(|(permit, p, a, r, clauses)| {
            format!(
                "{} ({p}, {a}, {r})\n{};",
                if permit { "permit" } else { "forbid" },
                clauses.join("\n")
            )
        })
}

#[derive(Debug, Clone)]
struct Ask {
    name: &'static str,
    role: Role,
    agency: &'static str,
    act: Act,
    file_agency: &'static str,
    file: &'static str,
    counsellor: &'static str,
    minor: bool,
    purpose: Purpose,
    break_glass: bool,
    hour: u8,
    target: Target,
}

fn arb_ask() -> impl Strategy<Value = Ask> {
    let names = prop::sample::select(vec!["boss", "dpo", "c.a", "x"]);
    let agencies = || prop::sample::select(vec!["ML-000-01", "ML-001-01"]);
    (
        (names, arb_role(), agencies(), arb_act()),
        (
            agencies(),
            prop::sample::select(vec!["p1", "p2"]),
            prop::sample::select(vec!["boss", "c.a", ""]),
            any::<bool>(),
        ),
        (
            arb_purpose(),
            any::<bool>(),
            prop::sample::select(vec![3u8, 10]),
            arb_target(),
        ),
    )
        .prop_map(
            |(
                (name, role, agency, act),
                (file_agency, file, counsellor, minor),
                (purpose, break_glass, hour, target),
            )| Ask {
                name,
                role,
                agency,
                act,
                file_agency,
                file,
                counsellor,
                minor,
                purpose,
                break_glass,
                hour,
                target,
            },
        )
}

/// Requests of a few shapes, each asked by several principals: what one principal's decision
/// leaves in the cache is what the next one of the same shape finds.
fn arb_asks() -> impl Strategy<Value = Vec<Ask>> {
    (
        prop::collection::vec(arb_ask(), 1..4),
        prop::collection::vec(
            (
                0usize..4,
                prop::sample::select(vec!["boss", "dpo", "c.a", "x"]),
            ),
            2..30,
        ),
    )
        .prop_map(|(bases, picks)| {
            picks
                .into_iter()
                .map(|(i, name)| Ask {
                    name,
                    ..bases[i % bases.len()].clone()
                })
                .collect()
        })
}

/// Every sliced decision of `asks`, in that order, against one cache, checked against the
/// whole set.
fn replay(p: &Policies, asks: &[Ask]) -> Result<(), TestCaseError> {
    for a in asks {
        let who = Subject {
            name: a.name,
            role: a.role,
            agency: a.agency,
        };
        let f = FileFacts {
            id: a.file,
            agency: a.file_agency,
            counsellor: Some(a.counsellor),
            partners: &[],
            minor: a.minor,
        };
        let h = Situation {
            purpose: a.purpose,
            break_glass: a.break_glass,
            hour: a.hour,
            weekday: 3,
        };
        let whole = p.decide_unsliced(&who, a.act, &f, &h, a.target);
        prop_assert_eq!(
            p.decide(&who, a.act, &f, &h, a.target),
            whole.clone(),
            "{:?}",
            a
        );
        prop_assert_eq!(
            Decide::allows(p, &who, a.act, &f, &h, a.target),
            whole.allowed
        );
        let full = |t| p.decide_unsliced(&who, Act::Read, &f, &h, t).allowed;
        let g = p.grant(&who, &f, &h);
        let expected: Vec<Category> = Category::ALL
            .iter()
            .copied()
            .filter(|c| full(Target::Category(*c)))
            .collect();
        prop_assert_eq!(&g.categories, &expected, "{:?}", a);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    /// Random policy sets (scopes, names, `when` and `unless` clauses, `&&`, `||`, negations,
    /// tests the slicing reads and tests it leaves to Cedar), asked the same requests in two
    /// random orders against fresh caches: every decision is the whole set's.
    #[test]
    fn slicing_agrees_with_the_whole_set_for_any_policies_in_any_order(
        policies in prop::collection::vec(arb_policy(), 1..6),
        (asks, shuffled) in arb_asks()
            .prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle())),
    ) {
        let mut src = String::from(
            "permit (principal, action in [Rempart::Action::\"read\", Rempart::Action::\"update\", Rempart::Action::\"erase\"], resource)\nwhen { resource.agency == principal.agency };\n",
        );
        for p in &policies {
            src.push_str(p);
            src.push('\n');
        }
        let parsed = Policies::parse(&src, "random.cedar");
        prop_assert!(parsed.is_ok(), "{src}\n{:?}", parsed.err());
        let p = parsed.unwrap();
        replay(&p, &asks)?;
        // The same requests, in another order, on a cache filled in that order.
        let q = Policies::parse(&src, "random.cedar").unwrap();
        replay(&q, &shuffled)?;
    }
}
