//! A young person's file as it crosses the boundary: the input shape (also the shape kept,
//! normalised, inside each sealed category) and the categories of product.md.

use crate::ids::string_enum;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Implements a `Debug` that prints only the type name: these types hold personal data.
macro_rules! redacted_debug {
    ($($t:ty),+) => {$(
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($t), "(<redacted>)"))
            }
        }
    )+};
}

string_enum! {
    /// The categories of a file. Every field belongs to exactly one; authorisation, audit and
    /// breach analysis speak of categories.
    Category {
        /// Names, birth date, sex, nationality.
        Identity = "identity",
        /// The NIR.
        SocialSecurity = "social_security",
        /// France Travail identifier, Mission locale file number.
        AgencyIds = "agency_ids",
        /// Address, email, phones.
        Contact = "contact",
        /// Benefits, resources, housing, mobility.
        Situation = "situation",
        /// Level, diplomas, training.
        Education = "education",
        /// Experience, activity, contracts.
        Professional = "professional",
        /// Registration, status, counsellor, events.
        Followup = "followup",
        /// Parents or guardians of minors.
        LegalRepresentatives = "legal_representatives",
    }
}

/// A file as submitted (`POST /v1/persons`, a CSV line) or as shown. Unknown fields are refused.
/// Every field is optional at this level so that validation can name every missing one at once.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PersonInput {
    /// Agency code, e.g. `ML-075-13` (required when creating).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
    /// Identity category (required when creating).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// NIR, social-security category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nir: Option<String>,
    /// France Travail identifier (agency identifiers category).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub france_travail_id: Option<String>,
    /// Mission locale file number (agency identifiers category).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ml_file_number: Option<String>,
    /// Contact category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
    /// Personal situation category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub situation: Option<Situation>,
    /// Education and training category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub education: Option<Education>,
    /// Professional activity category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub professional: Option<Professional>,
    /// Follow-up category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub followup: Option<Followup>,
    /// Legal representatives category (at most 4).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::limits::representatives"
    )]
    #[cfg_attr(feature = "openapi", schema(max_items = 4))]
    pub legal_representatives: Option<Vec<LegalRepresentative>>,
}

/// Identity category.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// Last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// First names, space-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_names: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
    /// `F` or `M`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<String>,
    /// ISO 3166-1 alpha-2 code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nationality: Option<String>,
}

/// Contact category.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// Email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone numbers (E.164 once stored), at most 5.
    #[serde(default, deserialize_with = "crate::limits::phones")]
    #[cfg_attr(feature = "openapi", schema(max_items = 5))]
    pub phones: Vec<String>,
    /// Postal address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
}

/// Postal address.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// Street line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line1: Option<String>,
    /// Complement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    /// Postal code (5 digits in France).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// City.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// ISO 3166-1 alpha-2, France when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// Personal situation category.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Situation {
    /// Benefits received, e.g. `RSA`. At most 50.
    #[serde(default, deserialize_with = "crate::limits::list")]
    #[cfg_attr(feature = "openapi", schema(max_items = 50))]
    pub benefits: Vec<String>,
    /// Monthly resources in euros.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_resources_eur: Option<i64>,
    /// Housing situation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub housing: Option<String>,
    /// Mobility (licence, vehicle…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobility: Option<String>,
}

/// Education and training category.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Education {
    /// Level of studies, `1` to `8` (French nomenclature).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// Diplomas obtained. At most 50.
    #[serde(default, deserialize_with = "crate::limits::list")]
    #[cfg_attr(feature = "openapi", schema(max_items = 50))]
    pub diplomas: Vec<String>,
    /// Training followed. At most 50.
    #[serde(default, deserialize_with = "crate::limits::list")]
    #[cfg_attr(feature = "openapi", schema(max_items = 50))]
    pub trainings: Vec<String>,
}

/// Professional activity category.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Professional {
    /// Work experience. At most 50.
    #[serde(default, deserialize_with = "crate::limits::list")]
    #[cfg_attr(feature = "openapi", schema(max_items = 50))]
    pub experiences: Vec<Experience>,
    /// Current activity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_activity: Option<String>,
    /// Contracts. At most 50.
    #[serde(default, deserialize_with = "crate::limits::list")]
    #[cfg_attr(feature = "openapi", schema(max_items = 50))]
    pub contracts: Vec<String>,
}

/// One work experience.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Experience {
    /// Job held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// `YYYY-MM`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// `YYYY-MM`, absent while ongoing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// Follow-up category.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Followup {
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_on: Option<String>,
    /// `registered` or `struck_off`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Login of the assigned counsellor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counsellor: Option<String>,
    /// Events of the accompaniment, at most 500.
    #[serde(default, deserialize_with = "crate::limits::events")]
    #[cfg_attr(feature = "openapi", schema(max_items = 500))]
    pub events: Vec<FollowupEvent>,
}

/// An event of the accompaniment.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FollowupEvent {
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// Kind of event (interview, workshop…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A parent or guardian.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LegalRepresentative {
    /// Last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// First names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_names: Option<String>,
    /// Relationship (mother, father, guardian…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationship: Option<String>,
    /// Email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

redacted_debug!(
    PersonInput,
    Identity,
    Contact,
    Address,
    Situation,
    Education,
    Professional,
    Experience,
    Followup,
    FollowupEvent,
    LegalRepresentative
);

/// The social-security category's sealed content.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SocialSecurity {
    /// NIR, 15 characters.
    pub nir: Option<String>,
}

/// The agency-identifiers category's sealed content.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgencyIds {
    /// France Travail identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub france_travail_id: Option<String>,
    /// Mission locale file number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ml_file_number: Option<String>,
}

redacted_debug!(SocialSecurity, AgencyIds);

impl PersonInput {
    /// Whether the file holds anything in `category`.
    pub fn has(&self, category: Category) -> bool {
        match category {
            Category::Identity => self.identity.is_some(),
            Category::SocialSecurity => self.nir.is_some(),
            Category::AgencyIds => {
                self.france_travail_id.is_some() || self.ml_file_number.is_some()
            }
            Category::Contact => self.contact.is_some(),
            Category::Situation => self.situation.is_some(),
            Category::Education => self.education.is_some(),
            Category::Professional => self.professional.is_some(),
            Category::Followup => self.followup.is_some(),
            Category::LegalRepresentatives => self.legal_representatives.is_some(),
        }
    }

    /// Copies `category` from `other` into `self`, replacing what was there.
    pub fn take_category(&mut self, other: &PersonInput, category: Category) {
        match category {
            Category::Identity => self.identity = other.identity.clone(),
            Category::SocialSecurity => self.nir = other.nir.clone(),
            Category::AgencyIds => {
                self.france_travail_id = other.france_travail_id.clone();
                self.ml_file_number = other.ml_file_number.clone();
            }
            Category::Contact => self.contact = other.contact.clone(),
            Category::Situation => self.situation = other.situation.clone(),
            Category::Education => self.education = other.education.clone(),
            Category::Professional => self.professional = other.professional.clone(),
            Category::Followup => self.followup = other.followup.clone(),
            Category::LegalRepresentatives => {
                self.legal_representatives = other.legal_representatives.clone()
            }
        }
    }
}
