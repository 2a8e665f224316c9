//! The notifier port's adapters: the log (the embedded default), SMS through Aligo's HTTP
//! API (the provider the chat API's system used), and a generic webhook signed with
//! HMAC-SHA256; and the event publisher, Standard Webhooks ([`events`]).

pub mod events;

use std::time::Duration;

use async_trait::async_trait;
use domain::{Notice, Notifier, NotifyError};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Writes notices to the log: for development, and where nobody needs to be told.
#[derive(Debug, Clone, Default)]
pub struct LogNotifier;

#[async_trait]
impl Notifier for LogNotifier {
    async fn send(&self, notice: &Notice) -> Result<(), NotifyError> {
        tracing::info!(
            target: "notice",
            account = %notice.account,
            has_phone = notice.phone.is_some(),
            text = %notice.text,
            "notice"
        );
        Ok(())
    }
}

pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())
}

/// Aligo's settings (<https://smartsms.aligo.in/admin/api/spec.html>).
#[derive(Clone)]
pub struct AligoConfig {
    /// `https://apis.aligo.in/send/`.
    pub endpoint: String,
    pub key: String,
    pub user_id: String,
    /// A sender number registered with Aligo.
    pub sender: String,
    /// `testmode_yn=Y`: Aligo accepts and answers but sends nothing.
    pub test_mode: bool,
    pub timeout: Duration,
}

impl std::fmt::Debug for AligoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AligoConfig")
            .field("endpoint", &self.endpoint)
            .field("user_id", &self.user_id)
            .field("sender", &self.sender)
            .field("test_mode", &self.test_mode)
            .finish_non_exhaustive()
    }
}

/// SMS through Aligo. Accounts without a phone number are skipped.
#[derive(Debug, Clone)]
pub struct AligoSms {
    config: AligoConfig,
    http: reqwest::Client,
}

impl AligoSms {
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(config: AligoConfig) -> Result<Self, String> {
        Ok(Self {
            http: client(config.timeout)?,
            config,
        })
    }
}

/// SMS holds 90 bytes of EUC-KR (a Hangul syllable is two); longer is LMS.
fn is_long(text: &str) -> bool {
    text.chars()
        .map(|c| if c.is_ascii() { 1 } else { 2 })
        .sum::<usize>()
        > 90
}

#[async_trait]
impl Notifier for AligoSms {
    async fn send(&self, notice: &Notice) -> Result<(), NotifyError> {
        let Some(phone) = &notice.phone else {
            return Err(NotifyError::Skipped(
                "the account has no phone number".into(),
            ));
        };
        let c = &self.config;
        let mut form = vec![
            ("key", c.key.as_str()),
            ("user_id", c.user_id.as_str()),
            ("sender", c.sender.as_str()),
            ("receiver", phone.as_str()),
            ("msg", notice.text.as_str()),
            ("testmode_yn", if c.test_mode { "Y" } else { "N" }),
        ];
        if is_long(&notice.text) {
            form.push(("msg_type", "LMS"));
            form.push(("title", "신고 안내"));
        } else {
            form.push(("msg_type", "SMS"));
        }
        let res = self
            .http
            .post(&c.endpoint)
            .form(&form)
            .send()
            .await
            .map_err(|e| {
                NotifyError::Failed(format!(
                    "Aligo unreachable: {}",
                    if e.is_timeout() {
                        "timeout".to_owned()
                    } else {
                        e.to_string()
                    }
                ))
            })?;
        let status = res.status();
        if !status.is_success() {
            return Err(NotifyError::Failed(format!("Aligo answered HTTP {status}")));
        }
        let body: serde_json::Value = res.json().await.map_err(|e| {
            NotifyError::Failed(format!("Aligo answered something that is not JSON: {e}"))
        })?;
        // `result_code` is 1 on success and negative on failure; Aligo sends it as a
        // string or a number.
        let code = match &body["result_code"] {
            serde_json::Value::Number(n) => n.as_i64(),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        match code {
            Some(c) if c >= 1 => Ok(()),
            other => Err(NotifyError::Failed(format!(
                "Aligo result_code {}: {}",
                other.map_or_else(|| "missing".to_owned(), |c| c.to_string()),
                body["message"].as_str().unwrap_or_default()
            ))),
        }
    }
}

/// Posts notices as JSON to a URL, signed: `X-Signature: sha256=<hex HMAC of the body>`,
/// with `Idempotency-Key` so the receiver can drop a notice it already has.
#[derive(Clone)]
pub struct Webhook {
    url: String,
    secret: Vec<u8>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(url: &str, secret: &[u8], timeout: Duration) -> Result<Self, String> {
        Ok(Self {
            url: url.to_owned(),
            secret: secret.to_vec(),
            http: client(timeout)?,
        })
    }

    /// The signature a receiver recomputes to check a body.
    pub fn sign(secret: &[u8], body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key"));
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }
}

#[async_trait]
impl Notifier for Webhook {
    async fn send(&self, notice: &Notice) -> Result<(), NotifyError> {
        let body = serde_json::json!({
            "account_id": notice.account.get(),
            "phone": notice.phone.as_ref().map(domain::Phone::as_str),
            "text": notice.text,
            "idempotency_key": notice.idempotency_key,
        })
        .to_string();
        self.post(body, &notice.idempotency_key).await
    }
}

impl Webhook {
    /// POSTs `body` signed, under `key`: 2xx is delivered, anything else failed.
    async fn post(&self, body: String, key: &str) -> Result<(), NotifyError> {
        let res = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("x-signature", Self::sign(&self.secret, body.as_bytes()))
            .header("idempotency-key", key)
            .body(body)
            .send()
            .await
            .map_err(|e| NotifyError::Failed(format!("webhook unreachable: {e}")))?;
        if res.status().is_success() {
            Ok(())
        } else {
            Err(NotifyError::Failed(format!(
                "webhook answered HTTP {}",
                res.status()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_korean_text_is_lms() {
        assert!(!is_long("[신고 접수] 신고 #5가 접수되었습니다."));
        assert!(is_long(&"가".repeat(46)));
        assert!(!is_long(&"a".repeat(90)));
    }
}
