//! The `dev` provider's login form, served by the service itself (only while DEV_LOGIN is
//! on). With `login_hint` the form is skipped, so the whole login can be scripted with curl:
//!
//! ```sh
//! curl -c j -b j -L "$URL/account/login/oauth2/authorization/dev?login_hint=alice@example.com&name=Alice"
//! ```

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use identity_oidc::DevAuthorization;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{Routes, route};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

pub fn routes(r: &mut Routes) {
    route!(r, authorize_page);
    route!(r, authorize_submit);
}

/// What the dev provider's authorization redirect carries.
#[derive(Debug, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct DevAuthorizeParams {
    redirect_uri: String,
    state: String,
    nonce: String,
    code_challenge: String,
    /// Only `S256`.
    code_challenge_method: Option<String>,
    /// Log in as this e-mail without showing the form.
    login_hint: Option<String>,
    /// The display name to report; none exercises registration completion.
    name: Option<String>,
    /// The form's e-mail field (POST only).
    email: Option<String>,
}

impl DevAuthorizeParams {
    fn authorization(&self) -> DevAuthorization {
        DevAuthorization {
            redirect_uri: self.redirect_uri.clone(),
            state: self.state.clone(),
            nonce: self.nonce.clone(),
            code_challenge: self.code_challenge.clone(),
            login_hint: self.login_hint.clone(),
            name: self.name.clone(),
        }
    }
}

fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

fn form(p: &DevAuthorizeParams, error: Option<&str>) -> HttpResponse {
    let hidden = |name: &str, value: &str| {
        format!(
            r#"<input type="hidden" name="{name}" value="{}">"#,
            escape(value)
        )
    };
    let error = error
        .map(|e| format!(r#"<p class="error" role="alert">{}</p>"#, escape(e)))
        .unwrap_or_default();
    let body = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dev login</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:24rem;margin:4rem auto;padding:0 1rem}}
label{{display:block;margin:.8rem 0 .2rem}}input[type=email],input[type=text]{{width:100%;padding:.4rem}}
button{{margin-top:1rem;padding:.5rem 1rem}}.error{{color:#b00020}}.note{{color:#555;font-size:.9rem}}</style>
</head><body>
<h1>Dev login</h1>
<p class="note">Development only: log in as any e-mail. Leave the name empty to try registration completion.</p>
{error}
<form method="post" action="/account/login/dev/authorize">
{h1}{h2}{h3}{h4}
<label for="email">E-mail</label><input id="email" name="email" type="email" required value="{email}">
<label for="name">Name</label><input id="name" name="name" type="text" value="{name}">
<button type="submit">Log in</button>
</form></body></html>"#,
        h1 = hidden("redirect_uri", &p.redirect_uri),
        h2 = hidden("state", &p.state),
        h3 = hidden("nonce", &p.nonce),
        h4 = hidden("code_challenge", &p.code_challenge),
        email = escape(
            p.email
                .as_deref()
                .or(p.login_hint.as_deref())
                .unwrap_or_default()
        ),
        name = escape(p.name.as_deref().unwrap_or_default()),
    );
    let status = if error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ))
        .body(body)
}

fn approve(
    state: &AppState,
    p: &DevAuthorizeParams,
    email: &str,
) -> Result<HttpResponse, ApiError> {
    let dev = state.dev.as_ref().ok_or_else(ApiError::route_not_found)?;
    if p.code_challenge_method
        .as_deref()
        .is_some_and(|m| m != "S256")
    {
        return Ok(form(p, Some("only S256 PKCE is supported")));
    }
    match dev.approve(&p.authorization(), email, p.name.as_deref()) {
        Ok(to) => Ok(HttpResponse::Found()
            .insert_header((header::LOCATION, to))
            .finish()),
        Err(message) => Ok(form(p, Some(&message))),
    }
}

/// The dev login form; with `login_hint`, straight back to the callback with a code.
#[utoipa::path(get, path = "/account/login/dev/authorize", tag = "accounts",
    params(DevAuthorizeParams),
    responses(
        (status = 200, description = "The login form", content_type = "text/html"),
        (status = 302, description = "Back to the callback with `code` and `state`"),
        (status = 404, description = "DEV_LOGIN is off", body = ErrorBody),
    ))]
pub async fn authorize_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: web::Query<DevAuthorizeParams>,
) -> Result<HttpResponse, ApiError> {
    if state.dev.is_none() {
        return Err(ApiError::route_not_found());
    }
    state.rate_limiter.check(&req)?;
    match params.login_hint.clone().filter(|h| !h.is_empty()) {
        Some(hint) => approve(&state, &params, &hint),
        None => Ok(form(&params, None)),
    }
}

/// The dev login form's submission.
#[utoipa::path(post, path = "/account/login/dev/authorize", tag = "accounts",
    request_body(content = DevAuthorizeParams, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 302, description = "Back to the callback with `code` and `state`"),
        (status = 400, description = "The form again, with what is wrong", content_type = "text/html"),
        (status = 404, description = "DEV_LOGIN is off", body = ErrorBody),
    ))]
pub async fn authorize_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: web::Form<DevAuthorizeParams>,
) -> Result<HttpResponse, ApiError> {
    if state.dev.is_none() {
        return Err(ApiError::route_not_found());
    }
    state.rate_limiter.check(&req)?;
    let email = params.email.clone().unwrap_or_default();
    approve(&state, &params, &email)
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape(r#"<a href="x">'&"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;"
        );
    }
}
