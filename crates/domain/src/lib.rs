//! Rempart's domain: the validated types a young person's file is made of.
//!
//! Raw input (a JSON body, a CSV line) becomes a [`ValidFile`] in exactly one place,
//! [`ValidFile::parse`], which names every invalid field and never repeats a value in an
//! error. Identifiers are normalised there (NIR without spaces, phones in E.164), and the
//! exact-search terms for blind indexes are derived from the normalised values. This crate
//! does no I/O: today's date comes in through [`ValidationRules`].
//!
//! ```
//! use rempart_domain::{Nir, Phone};
//! assert_eq!(Nir::parse("2060475113042 33").unwrap().masked(), "*************33");
//! assert_eq!(Phone::parse("06 12 34 56 78").unwrap().as_str(), "+33612345678");
//! ```
#![forbid(unsafe_code)]
#![forbid(unused_must_use)]
#![deny(missing_docs)]

mod contact;
mod ids;
pub mod limits;
mod nir;
mod record;
mod validate;

pub use contact::{Email, EmailError, Phone, PhoneError};
pub use ids::{
    parse_france_travail_id, Agency, AgencyError, FranceTravailPattern, PatternError, Purpose,
    Role, DEFAULT_FRANCE_TRAVAIL_PATTERN,
};
pub use nir::{nir_key, Nir, NirError};
pub use record::{
    Address, AgencyIds, Category, Contact, Education, Experience, Followup, FollowupEvent,
    Identity, LegalRepresentative, PersonInput, Professional, Situation, SocialSecurity,
};
pub use validate::{
    normalise_name, parse_date, FieldError, IndexKind, SearchTerm, ValidFile, ValidationErrors,
    ValidationRules,
};
