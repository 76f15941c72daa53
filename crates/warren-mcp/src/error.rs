//! What can make a tool call fail; each becomes a tool result with `isError: true`.

use warren_client::ClientError;

/// Why a tool call failed. The message is what the agent reads, so it says what to do.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ToolError {
    /// The API refused or failed the call (its message and stable code), or was unreachable.
    #[error(transparent)]
    Api(#[from] ClientError),
    /// An argument is out of range or inconsistent with another.
    #[error("invalid argument `{argument}`: {reason}")]
    InvalidArgument {
        /// The argument's name.
        argument: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// `run_code`: the sandbox's image has no interpreter for the language.
    #[error(
        "this sandbox has no {language} interpreter (`{program}` is not installed in its image): \
         use an image that has it, or install it with run_command"
    )]
    InterpreterMissing {
        /// The language asked for.
        language: &'static str,
        /// The program looked for.
        program: &'static str,
    },
    /// `expose_port`: nothing listens on the port (for other hosts) yet.
    #[error(
        "nothing in sandbox {sandbox} listens on port {port} for other hosts yet: start the \
         server first, bound to 0.0.0.0 (not 127.0.0.1), then call expose_port again"
    )]
    PortNotListening {
        /// The sandbox.
        sandbox: String,
        /// The port.
        port: u16,
    },
    /// An HTTP request reached the tools without the daemon's [`crate::Caller`]: a wiring bug.
    #[error("internal error: this MCP request carries no authenticated caller")]
    NoCaller,
    /// The result could not be encoded as JSON.
    #[error("cannot encode the result as JSON")]
    Encode(#[source] serde_json::Error),
}

impl ToolError {
    /// The message with every cause in the chain, once.
    pub(crate) fn report(&self) -> String {
        let mut out = self.to_string();
        let mut cause = std::error::Error::source(self);
        // `Api` is transparent: its own message is already `out`.
        if matches!(self, Self::Api(_)) {
            cause = cause.and_then(std::error::Error::source);
        }
        while let Some(c) = cause {
            out.push_str(": ");
            out.push_str(&c.to_string());
            cause = c.source();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_read_as_the_api_message_and_code() {
        let e = ToolError::from(ClientError::Api {
            status: 404,
            code: warren_api_types::ErrorCode::SandboxNotFound,
            message: "no sandbox sb-x".into(),
        });
        assert_eq!(e.report(), "no sandbox sb-x (sandbox_not_found)");
    }

    #[test]
    fn causes_are_reported_once() {
        let json = serde_json::from_str::<u8>("x").unwrap_err();
        let text = json.to_string();
        let report = ToolError::Encode(json).report();
        assert_eq!(report, format!("cannot encode the result as JSON: {text}"));
    }
}
