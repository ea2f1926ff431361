//! The default policies restated in plain Rust, independently of their Cedar text, so that
//! tests can check the policies (and the vault that applies them) against what they are meant
//! to say. Not used to decide anything.

use crate::{Act, Target};
use rempart_domain::{Category, Purpose, Role};

/// How a request stands, as the default policies see it.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// Caller's role.
    pub role: Role,
    /// The file is in the caller's agency.
    pub same_agency: bool,
    /// The caller is the file's assigned counsellor.
    pub assigned: bool,
    /// The person is enrolled with the caller's organisation.
    pub enrolled: bool,
    /// The person is a minor.
    pub minor: bool,
    /// Purpose.
    pub purpose: Purpose,
    /// Break-glass invoked.
    pub break_glass: bool,
}

/// Whether the default policies allow `act` on `target` in `case`.
pub fn allowed(case: &Case, act: Act, target: Target) -> bool {
    use Category as C;
    use Purpose as P;
    let cat = match target {
        Target::Category(c) => Some(c),
        Target::NirLastDigits | Target::File => None,
    };
    let masked = target == Target::NirLastDigits;
    // The forbids.
    if case.role == Role::Operator {
        return false;
    }
    if act == Act::Read {
        if case.purpose == P::Statistics {
            return false;
        }
        if cat == Some(C::SocialSecurity)
            && !matches!(case.purpose, P::Payment | P::LegalObligation)
        {
            return false;
        }
        if cat == Some(C::LegalRepresentatives)
            && !case.minor
            && !matches!(
                case.purpose,
                P::DataSubjectRequest | P::BreachResponse | P::LegalObligation
            )
        {
            return false;
        }
    }
    if case.role == Role::Partner
        && (masked || matches!(cat, Some(C::SocialSecurity) | Some(C::Situation)))
    {
        return false;
    }
    // The permits.
    match case.role {
        Role::Counsellor => {
            if !case.same_agency {
                return false;
            }
            match act {
                Act::Read => {
                    let directory = matches!(cat, Some(C::Identity) | Some(C::Contact));
                    (case.purpose == P::Accompaniment
                        && (case.assigned || case.break_glass || directory))
                        || (case.purpose == P::Payment
                            && case.assigned
                            && matches!(
                                cat,
                                Some(C::Identity)
                                    | Some(C::SocialSecurity)
                                    | Some(C::AgencyIds)
                                    | Some(C::Situation)
                            ))
                }
                Act::Update => case.purpose == P::Accompaniment && case.assigned,
                Act::Create => true,
                Act::Erase | Act::Assign | Act::Enrol => case.assigned,
                Act::ReadAccesses => false,
            }
        }
        Role::Partner => {
            act == Act::Read
                && case.enrolled
                && case.purpose == P::PartnerService
                && matches!(
                    cat,
                    Some(C::Identity) | Some(C::Contact) | Some(C::Education)
                )
        }
        Role::Dpo => {
            case.same_agency
                && match act {
                    Act::Read => matches!(
                        case.purpose,
                        P::DataSubjectRequest | P::BreachResponse | P::LegalObligation
                    ),
                    Act::Erase | Act::ReadAccesses => true,
                    _ => false,
                }
        }
        Role::Service => case.same_agency && matches!(act, Act::Create | Act::Assign | Act::Enrol),
        // Operators, and any role added later: nothing unless a policy says so.
        _ => false,
    }
}
