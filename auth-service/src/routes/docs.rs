//! `/openapi.json`, generated from the handlers' annotations, and a browsable `/docs` page.

use axum::Router;
use shared::{FieldError, Problem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::keys::{Jwk, Jwks};
use crate::routes::{auth, health, wellknown};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "auth-service", description = "Accounts, sessions and RS256 access tokens. Errors are RFC 9457 problem+json with a stable `code`. Unknown routes answer 404 `not_found`, wrong methods 405 `method_not_allowed`, unexpected failures 500 `internal`."),
    paths(auth::signup, auth::signin, auth::refresh, auth::signout, auth::me, wellknown::jwks, wellknown::discovery, health::healthz, health::readyz),
    components(schemas(auth::User, auth::Session, auth::SignupRequest, auth::SigninRequest, auth::RefreshRequest, Jwks, Jwk, wellknown::Discovery, Problem, FieldError)),
    modifiers(&BearerAuth),
    tags((name = "auth"), (name = "keys"), (name = "health"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

pub fn router() -> Router<AppState> {
    Router::new().merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
}
