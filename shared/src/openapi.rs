//! Pieces of the OpenAPI documents both services need: the bearer security scheme and problem
//! responses, declared once as response sets that routes list, so every route documents every
//! problem it can answer.

use std::collections::BTreeMap;

use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, Ref, RefOr};
use utoipa::{IntoResponses, Modify};

/// Adds the `bearer` security scheme (an RS256 `at+jwt` access token).
pub struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An RS256 access token (`typ: at+jwt`) from the auth-service.",
                    ))
                    .build(),
            ),
        );
    }
}

/// A problem+json response with `description`.
pub fn problem(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
        .into()
}

/// A problem+json response that also sends `header`.
pub fn problem_with_header(
    description: &str,
    header: &str,
    header_description: &str,
) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .header(
            header,
            HeaderBuilder::new()
                .description(Some(header_description))
                .build(),
        )
        .build()
        .into()
}

/// The 401 of a route that needs a bearer token.
pub fn unauthorized() -> (String, RefOr<Response>) {
    (
        "401".to_owned(),
        problem_with_header(
            "`invalid_token`: no bearer token, or one that is malformed, expired, wrongly signed, revoked or \
             not for this service. Checked before anything else in the request.",
            "WWW-Authenticate",
            "`Bearer` when no token was sent, `Bearer error=\"invalid_token\"` when one was refused.",
        ),
    )
}

/// What any route can answer when things go wrong on the server's side.
pub struct ServerErrors;

impl IntoResponses for ServerErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([
            (
                "503".to_owned(),
                problem_with_header(
                    "`not_ready`: the database or the signing keys are unavailable, or the service is at its bound of requests in flight (`MAX_CONCURRENT_REQUESTS`); `timeout`: the request took too long.",
                    "Retry-After",
                    "Seconds to wait before retrying.",
                ),
            ),
            (
                "500".to_owned(),
                problem("`internal`: an unexpected failure, logged with the request id."),
            ),
        ])
    }
}

/// What a route with a JSON body can answer about the body itself.
pub struct BodyErrors;

impl IntoResponses for BodyErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([
            (
                "400".to_owned(),
                problem("`invalid_json`: the body is not valid JSON."),
            ),
            (
                "413".to_owned(),
                problem("`payload_too_large`: the body is over 64 KiB."),
            ),
            (
                "415".to_owned(),
                problem("`unsupported_media_type`: the body is not `application/json`."),
            ),
        ])
    }
}
