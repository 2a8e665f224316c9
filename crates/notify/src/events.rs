//! Events to the operator's endpoints, signed per the Standard Webhooks specification
//! (<https://www.standardwebhooks.com/>): `webhook-id` (the same on every attempt),
//! `webhook-timestamp` (seconds, the attempt's own time, so receivers' replay windows
//! hold for retries too) and `webhook-signature: v1,<base64 HMAC-SHA256 of
//! "{id}.{timestamp}.{body}">` keyed with the endpoint's `whsec_` secret. Redirects are
//! never followed; a timeout, a redirect or a non-2xx answer is a failure to retry.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use domain::{EventMessage, EventPublisher, NotifyError};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// One endpoint: where, and the key its messages are signed with.
#[derive(Clone)]
pub struct Endpoint {
    pub url: String,
    key: Vec<u8>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// `secret` as Standard Webhooks writes it: `whsec_` and the key in base64.
    ///
    /// # Errors
    /// A secret without the prefix, not base64, or shorter than 24 bytes.
    pub fn new(url: &str, secret: &str) -> Result<Self, String> {
        let key = secret
            .strip_prefix("whsec_")
            .ok_or("an endpoint secret starts with whsec_")
            .and_then(|b64| {
                STANDARD
                    .decode(b64)
                    .map_err(|_| "an endpoint secret is whsec_ and base64")
            })?;
        if key.len() < 24 {
            return Err("an endpoint secret holds at least 24 bytes".into());
        }
        Ok(Self {
            url: url.to_owned(),
            key,
        })
    }
}

/// The Standard Webhooks publisher.
#[derive(Clone)]
pub struct StandardWebhooks {
    endpoints: BTreeMap<String, Endpoint>,
    http: reqwest::Client,
}

impl std::fmt::Debug for StandardWebhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandardWebhooks")
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

impl StandardWebhooks {
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(endpoints: BTreeMap<String, Endpoint>, timeout: Duration) -> Result<Self, String> {
        Ok(Self {
            endpoints,
            http: crate::client(timeout)?,
        })
    }

    /// The `webhook-signature` of `body` sent as message `id` at `timestamp`.
    pub fn sign(endpoint: &Endpoint, id: &str, timestamp: i64, body: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&endpoint.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key"));
        mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

#[async_trait]
impl EventPublisher for StandardWebhooks {
    async fn publish(&self, message: &EventMessage) -> Result<(), NotifyError> {
        let Some(endpoint) = self.endpoints.get(&message.endpoint) else {
            return Err(NotifyError::Skipped(format!(
                "no endpoint named {} is configured",
                message.endpoint
            )));
        };
        let body = message.body.to_string();
        let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
        let res = self
            .http
            .post(&endpoint.url)
            .header("content-type", "application/json")
            .header("webhook-id", &message.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                Self::sign(endpoint, &message.id, timestamp, &body),
            )
            .body(body)
            .send()
            .await
            .map_err(|e| NotifyError::Failed(format!("endpoint unreachable or too slow: {e}")))?;
        let status = res.status();
        if status.is_success() {
            Ok(())
        } else if status.is_redirection() {
            Err(NotifyError::Failed(format!(
                "the endpoint answered HTTP {status}: redirects are not followed"
            )))
        } else {
            Err(NotifyError::Failed(format!(
                "the endpoint answered HTTP {status}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the specification's reference libraries: secret
    /// `whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw`, id `msg_p5jXN8AQM9LWM0D4loKWxJek`,
    /// timestamp 1614265330, body `{"test": 2432232314}`.
    #[test]
    fn signatures_match_the_specifications_example() {
        let e = Endpoint::new("http://x", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            StandardWebhooks::sign(
                &e,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                r#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_whsec_and_base64() {
        assert!(Endpoint::new("http://x", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(Endpoint::new("http://x", "whsec_%%%").is_err());
        assert!(
            Endpoint::new("http://x", "whsec_c2hvcnQ=").is_err(),
            "too short"
        );
    }
}
