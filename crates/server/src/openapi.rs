//! The OpenAPI description, generated from the handlers' annotations and the domain types.

use crate::api::{audit, caseload, persons, search};
use crate::problem::Problem;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Rempart", description = "Personal-data vault and case-file store. Every call returning personal data requires `purpose`. Every error is `application/problem+json`; a validation problem lists the first 50 invalid fields in `errors`, all of them counted in `total_errors` (`truncated` when some are left out). Lists in a file are bounded (`maxItems`). A query or path that cannot be read is a 422 and a body over 1 MiB a 413, both only after authentication (401 first). Any request may be answered 503 with `Retry-After` when the server answers as many requests as it allows at once. API responses carry `Cache-Control: no-store`."),
    paths(persons::create, persons::read, persons::update, persons::erase, search::search, caseload::list, caseload::assign, caseload::enrol, caseload::unenrol, audit::accesses, audit::break_glass, audit::checkpoint, audit::inclusion_proof, audit::consistency_proof),
    components(schemas(
        Problem, persons::Created, persons::PersonResponse, search::Hit, caseload::PageResponse, search::SearchRequest, search::NameBirth, audit::AccessResponse, audit::BreakGlassResponse, audit::CheckpointResponse, audit::EntryResponse, audit::InclusionProofResponse, audit::ConsistencyProofResponse, caseload::Assignment, caseload::Enrolment,
        rempart_domain::PersonInput, rempart_domain::Identity, rempart_domain::Contact, rempart_domain::Address,
        rempart_domain::Situation, rempart_domain::Education, rempart_domain::Professional, rempart_domain::Experience,
        rempart_domain::Followup, rempart_domain::FollowupEvent, rempart_domain::LegalRepresentative
    )),
    modifiers(&Bearer)
)]
struct Doc;

pub(crate) fn document() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}
