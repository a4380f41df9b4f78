//! The OpenAPI 3.1 document (`/openapi.json`), generated from the handlers' annotations, and its
//! browsable page (`/docs`). Generic error responses come from [`shared::openapi`].

use axum::Router;
use shared::openapi::BearerScheme;
use shared::{FieldError, Problem};
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::routes::auth::types::{RefreshRequest, Session, SigninRequest, SignupRequest, User};
use crate::routes::{auth, health, wellknown};
use crate::signing::{Jwk, Jwks};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "auth-service", description = "Accounts, sessions and RS256 access tokens. Errors are RFC 9457 problem+json with a stable `code`. Unknown routes answer 404 `not_found`, wrong methods 405 `method_not_allowed`, unexpected failures 500 `internal`."),
    paths(auth::signup, auth::signin, auth::refresh, auth::signout, auth::me, wellknown::jwks, wellknown::discovery, health::healthz, health::readyz),
    components(schemas(User, Session, SignupRequest, SigninRequest, RefreshRequest, Jwks, Jwk, wellknown::Discovery, Problem, FieldError)),
    modifiers(&BearerScheme),
    tags((name = "auth"), (name = "keys"), (name = "health"))
)]
pub struct ApiDoc;

/// `/openapi.json` and `/docs`.
pub fn router() -> Router<AppState> {
    SwaggerUi::new("/docs")
        .url("/openapi.json", ApiDoc::openapi())
        .into()
}
