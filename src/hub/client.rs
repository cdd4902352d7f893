//! The HTTP client of the hub's API, for the agent and the operator commands: JSON in
//! and out, a bearer token, the hub's CA certificate when it is not a public one.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::hub::api::ApiError;

/// Why a call failed: the hub answered with an error, or could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("the hub answered {status}: {message}")]
    Refused { status: u16, message: String },
    #[error("cannot reach the hub at {url}: {reason}")]
    Unreachable { url: String, reason: String },
}

impl CallError {
    /// Whether trying again later may work (the hub is down, busy, or restarting).
    pub fn transient(&self) -> bool {
        match self {
            CallError::Unreachable { .. } => true,
            CallError::Refused { status, .. } => *status >= 500 || *status == 429,
        }
    }
}

pub struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    /// A client of the hub at `base` (`https://hub.example:8443`), trusting `ca_file`
    /// (PEM) besides the public roots when given.
    pub fn new(
        base: &str,
        token: Option<String>,
        ca_file: Option<&Path>,
    ) -> std::io::Result<Client> {
        let mut config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false);
        if let Some(file) = ca_file {
            let pem = std::fs::read(file)?;
            let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(std::io::Error::other(format!(
                    "{} holds no PEM certificate",
                    file.display()
                )));
            }
            config = config.tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                    .build(),
            );
        }
        Ok(Client {
            base: base.trim_end_matches('/').to_string(),
            token,
            agent: config.build().new_agent(),
        })
    }

    pub fn set_token(&mut self, token: String) {
        self.token = Some(token);
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, CallError> {
        let mut req = self.agent.get(&self.url(path));
        if let Some(t) = &self.token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        self.answer(path, req.call())
    }

    pub fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, CallError> {
        let mut req = self.agent.post(&self.url(path));
        if let Some(t) = &self.token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        self.answer(path, req.send_json(body))
    }

    fn answer<T: DeserializeOwned>(
        &self,
        path: &str,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T, CallError> {
        let unreachable = |reason: String| CallError::Unreachable {
            url: self.url(path),
            reason,
        };
        let mut response = response.map_err(|e| unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| unreachable(e.to_string()))?;
        if !(200..300).contains(&status) {
            let message = serde_json::from_str::<ApiError>(&text)
                .map(|e| e.error)
                .unwrap_or_else(|_| text.chars().take(300).collect());
            return Err(CallError::Refused { status, message });
        }
        serde_json::from_str(&text).map_err(|e| CallError::Refused {
            status,
            message: format!("an answer bitops does not understand: {e}"),
        })
    }
}
