//! SSH public keys of the SSH gateway: register, list, delete.

use reqwest::Method;
use warren_api_types::{AddSshKeyRequest, SshKey, SshKeyList};

use crate::{Client, ClientError, seg};

impl Client {
    /// `POST /v1/ssh-keys`: register a public key (one OpenSSH `.pub` line).
    pub async fn add_ssh_key(&self, req: &AddSshKeyRequest) -> Result<SshKey, ClientError> {
        self.json(self.request(Method::POST, "/v1/ssh-keys").json(req))
            .await
    }

    /// `GET /v1/ssh-keys`: every registered key.
    pub async fn list_ssh_keys(&self) -> Result<Vec<SshKey>, ClientError> {
        let list: SshKeyList = self.json(self.request(Method::GET, "/v1/ssh-keys")).await?;
        Ok(list.items)
    }

    /// `DELETE /v1/ssh-keys/{id}`: new logins with the key are refused.
    pub async fn delete_ssh_key(&self, id: &str) -> Result<(), ClientError> {
        self.send(self.request(Method::DELETE, &format!("/v1/ssh-keys/{}", seg(id))))
            .await?;
        Ok(())
    }
}
