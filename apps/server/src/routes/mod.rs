//! The route table. A route is declared once, by its handler's `#[utoipa::path]`, and
//! registered with [`route!`]: the router takes its method and path from that declaration
//! and the OpenAPI document its description, so the two cannot disagree. [`Routes`] also
//! records every method and path: the authorization matrix walks that list, so no route
//! ships without a decision.

pub mod accounts;
pub mod admin;
pub mod demo;
pub mod dev_login;
pub mod docs;
pub mod export;
pub mod files;
pub mod health;
pub mod identities;
pub mod images;
pub mod local_store;
pub mod login;
pub mod metrics;
pub mod reports;

use actix_web::Resource;
use actix_web::http::Method;
use actix_web::{FromRequest, Handler, HttpResponse, Responder, web};
use utoipa::openapi::OpenApi;

use crate::error::ApiError;

/// A registered route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: Method,
    /// The actix path template (`/accounts/{id}`, `/images/{key:.+}/metadata`).
    pub path: String,
}

impl RouteSpec {
    /// The path as OpenAPI writes it: `{key:.+}` becomes `{key}`.
    pub fn openapi_path(&self) -> String {
        let mut out = String::with_capacity(self.path.len());
        let mut in_param = false;
        let mut skipping = false;
        for c in self.path.chars() {
            match c {
                '{' => {
                    in_param = true;
                    out.push(c);
                }
                ':' if in_param => skipping = true,
                '}' if in_param => {
                    in_param = false;
                    skipping = false;
                    out.push(c);
                }
                _ if skipping => {}
                _ => out.push(c),
            }
        }
        out
    }
}

/// Collects routes, grouped into one actix resource per path so that a known path with an
/// unknown method answers 405 in the envelope.
#[derive(Default)]
pub struct Routes {
    resources: Vec<(String, Resource)>,
    specs: Vec<RouteSpec>,
    /// Each route's part of the OpenAPI document.
    docs: Vec<fn() -> OpenApi>,
}

/// Registers a handler under the method and path its `#[utoipa::path]` declares (see
/// [`Routes::documented`]).
macro_rules! route {
    ($r:expr, $handler:ident) => {{
        #[derive(utoipa::OpenApi)]
        #[openapi(paths($handler))]
        struct Doc;
        $r.documented($handler, <Doc as utoipa::OpenApi>::openapi);
    }};
}
pub(crate) use route;

/// The actix template of an OpenAPI path: an image key (`{key}`) may hold slashes.
fn actix_path(openapi_path: &str) -> String {
    openapi_path.replace("{key}", "{key:.+}")
}

/// The methods a path item describes.
fn methods(item: &utoipa::openapi::PathItem) -> Vec<Method> {
    [
        (item.get.is_some(), Method::GET),
        (item.post.is_some(), Method::POST),
        (item.put.is_some(), Method::PUT),
        (item.patch.is_some(), Method::PATCH),
        (item.delete.is_some(), Method::DELETE),
        (item.head.is_some(), Method::HEAD),
        (item.options.is_some(), Method::OPTIONS),
    ]
    .into_iter()
    .filter_map(|(has, m)| has.then_some(m))
    .collect()
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routes")
            .field("specs", &self.specs)
            .finish_non_exhaustive()
    }
}

impl Routes {
    /// Registers `handler` under every method and path `doc` (its `#[utoipa::path]`, as
    /// [`route!`] passes it) describes, and keeps `doc` for the document.
    pub fn documented<F, Args>(&mut self, handler: F, doc: fn() -> OpenApi)
    where
        F: Handler<Args> + Clone,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        for (path, item) in &doc().paths.paths {
            for method in methods(item) {
                self.add(method, actix_path(path), handler.clone());
            }
        }
        self.docs.push(doc);
    }

    fn add<F, Args>(&mut self, method: Method, path: String, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.specs.push(RouteSpec {
            method: method.clone(),
            path: path.clone(),
        });
        let route = web::route().method(method).to(handler);
        match self.resources.iter_mut().find(|(p, _)| *p == path) {
            Some((_, resource)) => {
                let taken = std::mem::replace(resource, web::resource(path.as_str()));
                *resource = taken.route(route);
            }
            None => {
                let resource = web::resource(path.as_str()).route(route);
                self.resources.push((path, resource));
            }
        }
    }

    /// The routes' descriptions, merged into `base` (the document's info, tags and shared
    /// components).
    pub fn openapi(&self, mut base: OpenApi) -> OpenApi {
        for doc in &self.docs {
            base.merge(doc());
        }
        base
    }

    pub fn specs(&self) -> &[RouteSpec] {
        &self.specs
    }

    /// Mounts every route, in the order added.
    pub fn mount(self, cfg: &mut web::ServiceConfig) {
        for (_, resource) in self.resources {
            cfg.service(resource.default_service(web::to(method_not_allowed)));
        }
    }
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::method_not_allowed())
}

/// Answers every request no route matched.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::route_not_found())
}

/// An instant as every answer writes it: RFC 3339, UTC.
pub(crate) fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The service's routes, every family.
pub fn all() -> Routes {
    let mut r = Routes::default();
    health::routes(&mut r);
    docs::routes(&mut r);
    login::routes(&mut r);
    dev_login::routes(&mut r);
    accounts::routes(&mut r);
    admin::routes(&mut r);
    export::routes(&mut r);
    identities::routes(&mut r);
    images::routes(&mut r);
    local_store::routes(&mut r);
    files::routes(&mut r);
    reports::routes(&mut r);
    metrics::routes(&mut r);
    demo::routes(&mut r);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_paths_drop_patterns() {
        let s = RouteSpec {
            method: Method::GET,
            path: "/images/{key:.+}/metadata".into(),
        };
        assert_eq!(s.openapi_path(), "/images/{key}/metadata");
        let s = RouteSpec {
            method: Method::GET,
            path: "/accounts/{id}".into(),
        };
        assert_eq!(s.openapi_path(), "/accounts/{id}");
    }
}
