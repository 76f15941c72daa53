//! Where a tool call gets its API client: one fixed client (stdio), or the caller's, put in
//! the HTTP request's extensions by the daemon after it checked the API key.

use rmcp::model::Extensions;
use warren_client::Client;

use crate::error::ToolError;

/// The API client acting for the caller of one `/mcp` request. The daemon inserts it into
/// the HTTP request's extensions once the request's API key is valid; the tools of that
/// request use it.
#[derive(Debug, Clone)]
pub struct Caller(pub Client);

/// How [`crate::WarrenMcp`] finds the client for a call.
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    /// Every call uses this client (stdio: one user, one key).
    Fixed(Client),
    /// Each call uses the [`Caller`] of the HTTP request that carried it.
    PerRequest,
}

impl Backend {
    /// The client for a call whose request context holds `ext`.
    pub(crate) fn client(&self, ext: &Extensions) -> Result<Client, ToolError> {
        match self {
            Self::Fixed(client) => Ok(client.clone()),
            Self::PerRequest => ext
                .get::<http::request::Parts>()
                .and_then(|parts| parts.extensions.get::<Caller>())
                .map(|caller| caller.0.clone())
                .ok_or(ToolError::NoCaller),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(url: &str) -> Client {
        Client::new(url, Some("k".into())).unwrap()
    }

    #[test]
    fn per_request_takes_the_caller_of_the_http_request() {
        let mut req = http::Request::new(());
        req.extensions_mut()
            .insert(Caller(client("http://127.0.0.1:1")));
        let (parts, ()) = req.into_parts();
        let mut ext = Extensions::new();
        ext.insert(parts);
        let got = Backend::PerRequest.client(&ext).unwrap();
        assert_eq!(got.base_url(), "http://127.0.0.1:1");
    }

    #[test]
    fn per_request_without_a_caller_is_an_error_not_a_panic() {
        let err = Backend::PerRequest.client(&Extensions::new()).unwrap_err();
        assert!(matches!(err, ToolError::NoCaller), "{err}");
        let (parts, ()) = http::Request::new(()).into_parts();
        let mut ext = Extensions::new();
        ext.insert(parts);
        assert!(Backend::PerRequest.client(&ext).is_err());
    }

    #[test]
    fn fixed_ignores_the_request() {
        let got = Backend::Fixed(client("http://h:2")).client(&Extensions::new());
        assert_eq!(got.unwrap().base_url(), "http://h:2");
    }
}
