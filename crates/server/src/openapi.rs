//! The OpenAPI description, generated from the handlers' annotations and the domain types.

use crate::api::{
    affected, alerts, audit, breach, caseload, exports, incidents, persons, principals, search,
    sessions, verify,
};
use crate::problem::Problem;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
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

/// Every error is `application/problem+json` (but the public page's, `text/html`, described
/// on its handler), and the statuses any route may answer are described once here rather than
/// on each handler: a query or path that cannot be read (`422`), a busy server (`503`), a
/// failure (`500`); behind a token, no token (`401`), a suspended principal (`403`) and
/// containment (`429`); with a body, one that cannot be read (`400`) or is too large (`413`).
struct Problems;

const PROBLEM_TYPE: &str = "application/problem+json";

const WITH_A_TOKEN: [(&str, &str); 3] = [
    ("401", "No token, or an unknown, expired or revoked one"),
    ("403", "The principal is suspended, or the act is refused"),
    (
        "429",
        "Containment: the response would show more people than the principal may see now; `Retry-After`",
    ),
];

const ANY_ROUTE: [(&str, &str); 3] = [
    (
        "422",
        "A query or path that cannot be read, or an invalid value",
    ),
    (
        "500",
        "A stored ciphertext did not authenticate, or another failure",
    ),
    (
        "503",
        "As many requests in progress as the server allows; `Retry-After`",
    ),
];

const WITH_A_BODY: [(&str, &str); 2] = [
    (
        "400",
        "The body could not be read, or did not arrive in time",
    ),
    ("413", "The body is over 1 MiB"),
];

fn problem(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                PROBLEM_TYPE,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build(),
    )
}

fn describe_problems(op: &mut Operation) {
    let responses = &mut op.responses.responses;
    let body: &[(&str, &str)] = if op.request_body.is_some() {
        &WITH_A_BODY
    } else {
        &[]
    };
    // A public route (no security requirement) answers no 401, 403 or containment's 429.
    let token: &[(&str, &str)] = if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
        &WITH_A_TOKEN
    } else {
        &[]
    };
    for (status, description) in token.iter().chain(&ANY_ROUTE).chain(body) {
        responses
            .entry((*status).to_string())
            .or_insert_with(|| problem(description));
    }
    for (status, response) in responses.iter_mut() {
        if !(status.starts_with('4') || status.starts_with('5')) {
            continue;
        }
        if let RefOr::T(r) = response {
            if let Some(c) = r.content.shift_remove("application/json") {
                r.content.insert(PROBLEM_TYPE.to_string(), c);
            }
        }
    }
}

impl Modify for Problems {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for item in doc.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                describe_problems(op);
            }
        }
    }
}

/// A file as returned is a file as submitted plus its `id`: one object, not a composition, so
/// that `additionalProperties: false` still holds for it.
struct PersonResponseSchema;

impl Modify for PersonResponseSchema {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let Some(components) = doc.components.as_mut() else {
            return;
        };
        let Some(RefOr::T(Schema::Object(input))) = components.schemas.get("PersonInput") else {
            return;
        };
        let mut file = input.clone();
        file.description = Some(
            "A file as returned: its id and the categories the caller may see (others absent)."
                .into(),
        );
        file.properties.insert(
            "id".into(),
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("Pseudonymous id."))
                .into(),
        );
        file.required.push("id".into());
        components
            .schemas
            .insert("PersonResponse".into(), RefOr::T(Schema::Object(file)));
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Rempart", description = "Personal-data vault and case-file store. Every call returning personal data requires `purpose`. Every error is `application/problem+json`; a validation problem lists the first 50 invalid fields in `errors`, all of them counted in `total_errors` (`truncated` when some are left out). Lists in a file are bounded (`maxItems`). A query or path that cannot be read is a 422 and a body over 1 MiB a 413, both only after authentication (401 first). Any request may be answered 503 with `Retry-After` when the server answers as many requests as it allows at once. API responses carry `Cache-Control: no-store`. `POST /v1/verify` and `GET /verify` take no token: anyone may check a verification code, within a rate limit per client address (429 with `Retry-After`)."),
    paths(persons::create, persons::read, persons::update, persons::erase, search::search, caseload::list, caseload::assign, caseload::enrol, caseload::unenrol, audit::accesses, audit::break_glass, audit::checkpoint, audit::inclusion_proof, audit::consistency_proof, alerts::list, alerts::show, alerts::restore, principals::list, principals::show, principals::requests, principals::request, principals::approve, principals::refuse, principals::disable, sessions::list, sessions::revoke, exports::request, exports::show, exports::approve, exports::run, incidents::open, incidents::show, incidents::impact, breach::draft, breach::filed, breach::close, breach::prepare, breach::approve, breach::notices, affected::affected, verify::verify, verify::page),
    components(schemas(
        Problem, persons::Created, persons::PersonResponse, search::Hit, caseload::PageResponse, search::SearchRequest, search::NameBirth, audit::AccessResponse, audit::BreakGlassResponse, audit::CheckpointResponse, audit::EntryResponse, audit::InclusionProofResponse, audit::ConsistencyProofResponse, caseload::Assignment, caseload::Enrolment, alerts::AlertResponse, alerts::Restore, alerts::Restored, principals::PrincipalResponse, principals::RequestResponse, principals::NewRequest, sessions::SessionResponse, exports::ExportRequest, exports::ExportResponse, incidents::OpenIncident, incidents::IncidentResponse, incidents::Step, incidents::ImpactResponse, incidents::ImpactPerson, breach::DraftResponse, breach::Filing, breach::Filed, breach::Close, breach::NoticesResponse, breach::Prepare, affected::AffectedRequest, affected::AffectedResponse, verify::VerifyRequest, verify::VerifyResponse,
        rempart_domain::PersonInput, rempart_domain::Identity, rempart_domain::Contact, rempart_domain::Address,
        rempart_domain::Situation, rempart_domain::Education, rempart_domain::Professional, rempart_domain::Experience,
        rempart_domain::Followup, rempart_domain::FollowupEvent, rempart_domain::LegalRepresentative
    )),
    modifiers(&Bearer, &Problems, &PersonResponseSchema)
)]
struct Doc;

pub(crate) fn document() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}
