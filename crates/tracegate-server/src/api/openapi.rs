//! The OpenAPI document of the gateway's own API, `GET /api/v1/openapi.json`.
//!
//! It is generated: every route is registered with `routes!(handler)` in
//! `api.rs` (or a module's `routes()`), which takes the path, the method and
//! the documentation from the handler's `#[utoipa::path]`, so the router and
//! the document come from the same place. A route registered any other way
//! fails the test in `openapi/tests.rs`.

#[cfg(test)]
mod tests;

use std::sync::LazyLock;

use axum::Json;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

/// The name of the admin token's security scheme (spelled out again in `security(..)` below).
const ADMIN_TOKEN: &str = "admin_token";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tracegate",
        description = "The read API of the tracegate LLM gateway: traces, search, export, \
                       conversations, usage and statistics. Routes under /api need \
                       `Authorization: Bearer <TRACEGATE_ADMIN_TOKEN>` when a token is set, \
                       or a virtual key with the read scope (`Bearer tg-...`), which sees \
                       its own account only, or the session cookie of `POST /api/v1/session`. \
                       Every error is `{\"error\": {\"kind\", \"message\", \"pointer\"}}`."
    ),
    modifiers(&AdminToken),
    security(("admin_token" = [])),
    components(schemas(crate::error::ErrorBody)),
    tags(
        (name = "traces", description = "Traces, search and export"),
        (name = "analytics", description = "Conversations, usage and statistics"),
        (name = "gateway", description = "The gateway's own state"),
        (name = "keys", description = "Virtual keys"),
        (name = "session", description = "The dashboard's session cookie"),
    )
)]
struct ApiDoc;

struct AdminToken;

impl Modify for AdminToken {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            ADMIN_TOKEN,
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The whole document: every route of [`super::router`], with its paths as served.
pub fn document() -> Document {
    OpenApiRouter::<super::ApiState>::with_openapi(ApiDoc::openapi())
        .merge(super::open_routes())
        .nest("/api/v1", super::api_routes())
        .nest("/api/v1", super::session::routes())
        .into_openapi()
}

static DOCUMENT: LazyLock<Document> = LazyLock::new(document);

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "gateway",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this API", body = Object),
        (status = 401, description = "Missing or wrong admin token", body = crate::error::ErrorBody),
    )
)]
pub async fn openapi_json() -> Json<&'static Document> {
    Json(&DOCUMENT)
}
