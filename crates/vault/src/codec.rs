//! What is inside a sealed category: the normalised category, serialised as JSON. This is
//! the only encoding of plaintext at rest, and it exists only inside ciphertexts.

use rempart_domain::{AgencyIds, Category, PersonInput, SocialSecurity};
use zeroize::Zeroizing;

/// Errors only arise from a category sealed by a different version of the format.
#[derive(Debug, thiserror::Error)]
#[error("sealed category {0} does not decode")]
pub(crate) struct DecodeError(pub(crate) &'static str);

fn enc<T: serde::Serialize>(v: &T) -> Zeroizing<Vec<u8>> {
    // Serialising plain structs of strings and numbers into memory cannot fail.
    Zeroizing::new(serde_json::to_vec(v).unwrap_or_default())
}

/// The plaintext of `category` in `record`, if the record has it.
pub(crate) fn encode(record: &PersonInput, category: Category) -> Option<Zeroizing<Vec<u8>>> {
    if !record.has(category) {
        return None;
    }
    Some(match category {
        Category::Identity => enc(&record.identity),
        Category::SocialSecurity => enc(&SocialSecurity {
            nir: record.nir.clone(),
        }),
        Category::AgencyIds => enc(&AgencyIds {
            france_travail_id: record.france_travail_id.clone(),
            ml_file_number: record.ml_file_number.clone(),
        }),
        Category::Contact => enc(&record.contact),
        Category::Situation => enc(&record.situation),
        Category::Education => enc(&record.education),
        Category::Professional => enc(&record.professional),
        Category::Followup => enc(&record.followup),
        Category::LegalRepresentatives => enc(&record.legal_representatives),
        _ => return None,
    })
}

/// Puts the opened plaintext of `category` into `record`.
pub(crate) fn decode(
    category: Category,
    bytes: &[u8],
    record: &mut PersonInput,
) -> Result<(), DecodeError> {
    let e = |_| DecodeError(category.as_str());
    match category {
        Category::Identity => record.identity = serde_json::from_slice(bytes).map_err(e)?,
        Category::SocialSecurity => {
            let s: SocialSecurity = serde_json::from_slice(bytes).map_err(e)?;
            record.nir = s.nir.clone();
        }
        Category::AgencyIds => {
            let a: AgencyIds = serde_json::from_slice(bytes).map_err(e)?;
            record.france_travail_id = a.france_travail_id.clone();
            record.ml_file_number = a.ml_file_number.clone();
        }
        Category::Contact => record.contact = serde_json::from_slice(bytes).map_err(e)?,
        Category::Situation => record.situation = serde_json::from_slice(bytes).map_err(e)?,
        Category::Education => record.education = serde_json::from_slice(bytes).map_err(e)?,
        Category::Professional => record.professional = serde_json::from_slice(bytes).map_err(e)?,
        Category::Followup => record.followup = serde_json::from_slice(bytes).map_err(e)?,
        Category::LegalRepresentatives => {
            record.legal_representatives = serde_json::from_slice(bytes).map_err(e)?
        }
        _ => return Err(DecodeError("unknown")),
    }
    Ok(())
}
