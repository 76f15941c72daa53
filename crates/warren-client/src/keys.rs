//! API keys: create, list, revoke.

use reqwest::Method;
use warren_api_types::{ApiKey, CreateKeyRequest, CreatedKey, KeyList};

use crate::{Client, ClientError, seg};

impl Client {
    /// `POST /v1/keys`: the answer holds the new key, shown only this once.
    pub async fn create_key(&self, req: &CreateKeyRequest) -> Result<CreatedKey, ClientError> {
        self.json(self.request(Method::POST, "/v1/keys").json(req))
            .await
    }

    /// `GET /v1/keys`: every key, without secrets.
    pub async fn list_keys(&self) -> Result<Vec<ApiKey>, ClientError> {
        let list: KeyList = self.json(self.request(Method::GET, "/v1/keys")).await?;
        Ok(list.items)
    }

    /// `DELETE /v1/keys/{id}`: the key stops working at once.
    pub async fn revoke_key(&self, id: &str) -> Result<(), ClientError> {
        self.send(self.request(Method::DELETE, &format!("/v1/keys/{}", seg(id))))
            .await?;
        Ok(())
    }
}
