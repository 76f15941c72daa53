//! JSON bodies with E2B-shaped rejections. An empty body reads as `{}` (the SDKs send none on
//! some calls whose fields are all optional); a content type is not required.

use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::error::E2bError;

/// Largest JSON body of an E2B control-plane call.
const MAX_BODY: usize = 1024 * 1024;

/// A JSON request body.
#[derive(Debug)]
pub(crate) struct Json<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = E2bError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, E2bError> {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|e| E2bError::bad_request(format!("cannot read the body: {e}")))?;
        let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(text)
            .map(Self)
            .map_err(|e| E2bError::bad_request(format!("invalid JSON body: {e}")))
    }
}
