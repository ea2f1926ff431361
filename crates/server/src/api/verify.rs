//! Verification of the codes printed on the messages Rempart sends, for anyone who received one
//! (no token): `POST /v1/verify` (JSON) and the page `GET /verify` (HTML, French then English).
//! The answer says whether the code is genuine and, if so, the day and the agency: nothing else.
//! Every attempt is counted against its client address ([`crate::limit`]) before anything else;
//! past the limit, `429` with `Retry-After`.

use super::caller::ClientIp;
use crate::body::json;
use crate::extract::{RawBody, Q};
use crate::limit::Decision;
use crate::problem::{ApiError, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rempart_vault::{VaultError, VerificationCode, VerifiedCode};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The routes of this area.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/verify", post(verify))
        .route("/verify", get(page))
}

/// What a code may be as typed, as the OpenAPI description gives it (`code`'s pattern): 12
/// characters of the alphabet (digits and letters but U, any case), hyphens and spaces
/// anywhere; exactly what `VerificationCode::parse` reads (the tests check both).
#[cfg(test)]
pub(crate) const CODE_PATTERN: &str =
    r"^[ \u00a0\u202f-]*([0-9A-TV-Za-tv-z][ \u00a0\u202f-]*){12}$";

/// Body of `POST /v1/verify`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerifyRequest {
    /// The code as printed on the message (`XXXX-XXXX-XXXX`): case, hyphens and spaces do not
    /// matter, and O is read as 0, I and L as 1.
    #[schema(
        max_length = 64,
        pattern = r"^[ \u00a0\u202f-]*([0-9A-TV-Za-tv-z][ \u00a0\u202f-]*){12}$"
    )]
    code: String,
}

/// Whether a code is genuine, and if so when and by which agency its message was sent.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct VerifyResponse {
    /// Whether this installation issued the code.
    genuine: bool,
    /// The day the message was sent (`YYYY-MM-DD`), when genuine.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Date)]
    sent_on: Option<String>,
    /// The sending agency's code, when genuine.
    #[serde(skip_serializing_if = "Option::is_none")]
    agency: Option<String>,
}

impl From<Option<VerifiedCode>> for VerifyResponse {
    fn from(v: Option<VerifiedCode>) -> Self {
        match v {
            Some(v) => VerifyResponse {
                genuine: true,
                sent_on: Some(v.sent_on.format("%Y-%m-%d").to_string()),
                agency: Some(v.agency),
            },
            None => VerifyResponse {
                genuine: false,
                sent_on: None,
                agency: None,
            },
        }
    }
}

/// Verifications since start, by outcome.
#[derive(Default)]
pub(crate) struct VerifyCounts {
    pub(crate) genuine: AtomicU64,
    pub(crate) not_genuine: AtomicU64,
    pub(crate) malformed: AtomicU64,
}

/// Counts the attempt against the client's address; `Err` with the seconds to wait when over
/// the limit.
fn admit(s: &AppState, ip: std::net::IpAddr) -> Result<(), u64> {
    match s.verify_limit.check(ip) {
        Decision::Allow => Ok(()),
        Decision::Refuse { retry_after } => Err(retry_after),
    }
}

/// Checks `code`, counting the outcome.
async fn check(
    s: &AppState,
    code: Result<VerificationCode, VaultError>,
) -> Result<Option<VerifiedCode>, ApiError> {
    let counts = &s.metrics.verify;
    let code = code.inspect_err(|_| {
        counts.malformed.fetch_add(1, Ordering::Relaxed);
    })?;
    let v = s.vault.clone();
    let found = tokio::task::spawn_blocking(move || v.verify_parsed_code(&code))
        .await
        .map_err(|_| ApiError::Join)??;
    let outcome = if found.is_some() {
        &counts.genuine
    } else {
        &counts.not_genuine
    };
    outcome.fetch_add(1, Ordering::Relaxed);
    Ok(found)
}

fn parse(text: &str) -> Result<VerificationCode, VaultError> {
    VerificationCode::parse(text).map_err(VaultError::MalformedCode)
}

/// `POST /v1/verify`
#[utoipa::path(post, path = "/v1/verify", request_body = VerifyRequest, tag = "verification",
    responses(
        (status = 200, description = "Whether the code is genuine; when it is, the day its message was sent and the agency that sent it, and nothing else", body = VerifyResponse),
        (status = 422, description = "The body is not `{\"code\": …}`, or the code cannot be a code (wrong length or character)", body = Problem),
        (status = 429, description = "Too many attempts from this client address; `Retry-After` says when to try again", body = Problem,
            headers(("Retry-After" = u64, description = "Seconds to wait")))))]
pub(crate) async fn verify(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    RawBody(body): RawBody,
) -> Result<Json<VerifyResponse>, ApiError> {
    admit(&s, ip).map_err(|retry_after| ApiError::RateLimited { retry_after })?;
    let req: VerifyRequest = json(&body?)?;
    Ok(Json(check(&s, parse(&req.code)).await?.into()))
}

/// Query of `GET /verify`.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    /// The code to check, as typed; without it, the page shows the form alone.
    #[param(
        max_length = 64,
        pattern = r"^[ \u00a0\u202f-]*([0-9A-TV-Za-tv-z][ \u00a0\u202f-]*){12}$"
    )]
    code: Option<String>,
}

/// What the page shows.
#[derive(Serialize, Default)]
struct PageView {
    /// `genuine`, `forged`, `malformed`, `limited`, `error`, or empty (the form alone).
    outcome: &'static str,
    /// What the field holds: the code as written back, or as typed.
    code: String,
    sent_on: String,
    sent_on_fr: String,
    agency: String,
    retry_after: u64,
}

/// The page's template: minijinja, HTML-escaped (its name ends in `.html`).
fn environment() -> &'static minijinja::Environment<'static> {
    static ENV: OnceLock<minijinja::Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = minijinja::Environment::new();
        if let Err(e) = env.add_template("verify.html", include_str!("../../templates/verify.html"))
        {
            tracing::error!(error = %e, "the verification page's template does not parse");
        }
        env
    })
}

/// The page's security headers: nothing loaded from anywhere (styles inline), no script, not
/// framed, no referrer (the code may be in the address), not cached.
const PAGE_HEADERS: [(header::HeaderName, &str); 4] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    ),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::CACHE_CONTROL, "no-store"),
];

fn render(status: StatusCode, view: &PageView) -> Response {
    let html = environment()
        .get_template("verify.html")
        .and_then(|t| t.render(minijinja::value::Serde(view)));
    let mut resp = match html {
        Ok(html) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering the verification page failed");
            return ApiError::Join.into_response();
        }
    };
    let h = resp.headers_mut();
    for (name, value) in PAGE_HEADERS {
        h.insert(name, HeaderValue::from_static(value));
    }
    if view.outcome == "limited" {
        if let Ok(v) = HeaderValue::from_str(&view.retry_after.to_string()) {
            h.insert(header::RETRY_AFTER, v);
        }
    }
    resp
}

/// A day as French writes it: `2 mars 2026`, `1er mai 2026`.
fn french(day: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    const MONTHS: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    let month = MONTHS
        .get(day.month0() as usize)
        .copied()
        .unwrap_or_default();
    match day.day() {
        1 => format!("1er {month} {}", day.year()),
        d => format!("{d} {month} {}", day.year()),
    }
}

/// `GET /verify`
#[utoipa::path(get, path = "/verify", params(PageQuery), tag = "verification",
    responses(
        (status = 200, description = "The page (French, then English): the form, and the result when a code was given (genuine, with its day and agency, or not)", content_type = "text/html", body = String),
        (status = 422, description = "The page, saying that the text given is not a code (or that the query holds more than `code`)", content_type = "text/html", body = String),
        (status = 429, description = "The page, saying to try again later: too many attempts from this client address", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 500, description = "The page, saying that the check could not be made", content_type = "text/html", body = String)))]
pub(crate) async fn page(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    Q(query): Q<PageQuery>,
) -> Response {
    let code = match query {
        Ok(PageQuery { code: None }) => return render(StatusCode::OK, &PageView::default()),
        Ok(PageQuery { code: Some(code) }) => code,
        Err(_) => {
            let view = PageView {
                outcome: "malformed",
                ..PageView::default()
            };
            return render(StatusCode::UNPROCESSABLE_ENTITY, &view);
        }
    };
    if let Err(retry_after) = admit(&s, ip) {
        let view = PageView {
            outcome: "limited",
            retry_after,
            ..PageView::default()
        };
        return render(StatusCode::TOO_MANY_REQUESTS, &view);
    }
    let parsed = parse(&code);
    // Written back as the reader typed it (escaped), or in its canonical form once read; a text
    // far too long is not written back.
    let shown = match &parsed {
        Ok(c) => c.to_string(),
        Err(_) if code.chars().count() <= rempart_vault::CODE_INPUT_MAX => code,
        Err(_) => String::new(),
    };
    let (status, view) = match check(&s, parsed).await {
        Ok(Some(v)) => (
            StatusCode::OK,
            PageView {
                outcome: "genuine",
                sent_on: v.sent_on.format("%Y-%m-%d").to_string(),
                sent_on_fr: french(v.sent_on),
                agency: v.agency,
                ..PageView::default()
            },
        ),
        Ok(None) => (
            StatusCode::OK,
            PageView {
                outcome: "forged",
                ..PageView::default()
            },
        ),
        Err(ApiError::Vault(VaultError::MalformedCode(_))) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            PageView {
                outcome: "malformed",
                ..PageView::default()
            },
        ),
        Err(e) => {
            tracing::error!(error = %e, "verifying a code failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                PageView {
                    outcome: "error",
                    ..PageView::default()
                },
            )
        }
    };
    render(
        status,
        &PageView {
            code: shown,
            ..view
        },
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn pattern() -> regex::Regex {
        regex::Regex::new(CODE_PATTERN).unwrap()
    }

    proptest! {
        #[test]
        fn the_documented_pattern_is_exactly_what_the_parser_reads(
            text in "[0-9A-Za-z \u{a0}\u{202f}\t_\u{2013}-]{0,20}|[ -]{0,2}([0-9A-Za-z][ \u{a0}-]?){11,13}",
        ) {
            prop_assert_eq!(pattern().is_match(&text), VerificationCode::parse(&text).is_ok(), "{:?}", text);
        }
    }

    #[test]
    fn the_openapi_description_gives_the_pattern_and_no_token_statuses() {
        let doc = serde_json::to_value(crate::openapi::document()).unwrap();
        let schema = &doc["components"]["schemas"]["VerifyRequest"]["properties"]["code"];
        assert_eq!(schema["pattern"], CODE_PATTERN);
        assert_eq!(schema["maxLength"], rempart_vault::CODE_INPUT_MAX);
        let page = &doc["paths"]["/verify"]["get"];
        assert_eq!(page["parameters"][0]["schema"]["pattern"], CODE_PATTERN);
        let api = &doc["paths"]["/v1/verify"]["post"];
        for op in [page, api] {
            let statuses: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
            for s in ["401", "403"] {
                assert!(!statuses.iter().any(|k| *k == s), "{statuses:?}");
            }
            for s in ["200", "422", "429", "500", "503"] {
                assert!(statuses.iter().any(|k| *k == s), "{s}: {statuses:?}");
            }
            assert!(op.get("security").is_none());
        }
        for s in ["200", "422", "429", "500"] {
            assert!(
                page["responses"][s]["content"]["text/html"].is_object(),
                "{s}"
            );
        }
        assert!(page["responses"]["503"]["content"]["application/problem+json"].is_object());
        assert!(api["responses"]["429"]["content"]["application/problem+json"].is_object());
        assert!(api["responses"]["200"]["content"]["application/json"].is_object());
    }

    async fn text(r: Response) -> String {
        let b = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn the_page_escapes_what_it_writes_back_and_locks_everything_down() {
        let typed = "\"><script>alert(1)</script>";
        let r = render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &PageView {
                outcome: "malformed",
                code: typed.into(),
                ..PageView::default()
            },
        );
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let h = r.headers();
        assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(h[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'; style-src 'unsafe-inline';"));
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        let html = text(r).await;
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(
            !html.contains("value=\"\">"),
            "the attribute is not closed early"
        );
        assert!(html.contains("pas un code"), "{html}");
        // Nothing is loaded from anywhere: no script, no link, no image, no frame.
        for tag in ["<script", "<link", "<img", "<iframe", "src=", "href="] {
            assert!(!html.contains(tag), "{tag}");
        }
        let r = render(
            StatusCode::OK,
            &PageView {
                outcome: "genuine",
                code: "7H3K-9QRM-2XWD".into(),
                sent_on: "2026-03-02".into(),
                sent_on_fr: french(chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()),
                agency: "ML-075-13".into(),
                ..PageView::default()
            },
        );
        let html = text(r).await;
        let fr = html.find("envoyé le 2 mars 2026 par ML-075-13").unwrap();
        let en = html.find("sent on 2026-03-02 by ML-075-13").unwrap();
        assert!(fr < en, "French first");
        assert!(html.contains("value=\"7H3K-9QRM-2XWD\""));
        let may_day = chrono::NaiveDate::from_ymd_opt(2026, 5, 1).unwrap();
        assert_eq!(french(may_day), "1er mai 2026");
    }
}
