//! The OpenAPI 3.1 document (`/openapi.json`), generated from the handlers' annotations, and its
//! browsable page (`/docs`). Generic error responses come from [`shared::openapi`].

use axum::Router;
use shared::extract::TextRules;
use shared::openapi::BearerScheme;
use shared::{FieldError, Problem};
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::routes::auth::types::{RefreshRequest, Session, SigninRequest, SignupRequest, User};
use crate::routes::{account, auth, email, events, health, internal, mfa, passkeys, wellknown};
use crate::signing::{Jwk, Jwks};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "auth-service", description = "Accounts, sessions and RS256 access tokens. Errors are RFC 9457 problem+json with a stable `code`. Unknown routes answer 404 `not_found`, wrong methods 405 `method_not_allowed`, unexpected failures 500 `internal`. Strings in request bodies refuse control characters other than tab, line feed and carriage return (422 `control_character`; the `pattern` of each string)."),
    paths(auth::signup, auth::signin, auth::refresh, auth::signout, auth::me, account::list_sessions, account::end_session, account::sign_out_all, account::change_password, account::delete_account, events::list, email::request_verification, email::verify, email::request_reset, email::reset, mfa::setup, mfa::confirm, mfa::disable, mfa::signin_mfa, passkeys::register_start, passkeys::register_finish, passkeys::list, passkeys::remove, passkeys::signin_start, passkeys::signin_finish, internal::revocations, wellknown::jwks, wellknown::discovery, health::healthz, health::readyz),
    components(schemas(User, Session, account::SessionInfo, account::SignOutAllRequest, account::ChangePasswordRequest, account::DeleteAccountRequest, events::Event, events::EventPage, email::VerifyRequest, email::ResetRequestBody, email::ResetBody, mfa::TotpSetup, mfa::ConfirmRequest, mfa::RecoveryCodes, mfa::DisableRequest, mfa::MfaSigninRequest, mfa::MfaRequired, passkeys::Ceremony, passkeys::RegisterFinishRequest, passkeys::SigninFinishRequest, passkeys::Passkey, internal::FeedPage, internal::FeedEvent, SignupRequest, SigninRequest, RefreshRequest, Jwks, Jwk, wellknown::Discovery, Problem, FieldError)),
    modifiers(&BearerScheme, &TextRules),
    tags((name = "auth"), (name = "account", description = "The signed-in user's sessions, password and account."), (name = "email", description = "Verification and password-reset links by mail."), (name = "second factors", description = "An authenticator app (TOTP) with recovery codes, and passkeys (WebAuthn): register, list, remove, and sign in with a passkey alone."), (name = "internal", description = "For other services: the revocation feed."), (name = "keys"), (name = "health"))
)]
pub struct ApiDoc;

/// `/openapi.json` and `/docs`.
pub fn router() -> Router<AppState> {
    SwaggerUi::new("/docs")
        .url("/openapi.json", ApiDoc::openapi())
        .into()
}
