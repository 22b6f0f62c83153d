//! The command's error and the one place where errors become exit codes.

use std::fmt;
use std::process::ExitCode;

/// Why a command did not succeed. Each kind has one exit code (DESIGN,
/// "Interface conventions"); the message is one line for stderr.
#[derive(Debug)]
#[non_exhaustive]
pub enum CliError {
    /// Exit 1: the input was read but refused (a signature that does not verify).
    Refused(String),
    /// Exit 2: bad usage or input (bad flag, unreadable file, malformed data).
    Input(String),
    /// Exit 3: a server or device (here: the `openssl` command) could not be reached.
    Unreachable(String),
}

impl CliError {
    /// A usage or input error.
    pub fn input(message: impl Into<String>) -> Self {
        Self::Input(message.into())
    }

    /// The process exit code of this error.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            Self::Refused(_) => 1,
            Self::Input(_) => 2,
            Self::Unreachable(_) => 3,
        })
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = match self {
            Self::Refused(m) | Self::Input(m) | Self::Unreachable(m) => m,
        };
        // One line, whatever a lower layer put in the message, with no
        // control character that could drive the terminal.
        f.write_str(&sscard_core::text::escape(
            &message.replace(['\n', '\r'], " "),
        ))
    }
}

impl From<sscard_gm::Error> for CliError {
    fn from(error: sscard_gm::Error) -> Self {
        use sscard_gm::ErrorKind;
        match error.kind() {
            ErrorKind::SignatureInvalid => Self::Refused(error.to_string()),
            // A ciphertext that fails its tag or C3 check could not be
            // decrypted: for this tool that is malformed input.
            ErrorKind::AuthenticationFailed | ErrorKind::Malformed => {
                Self::Input(error.to_string())
            }
            ErrorKind::System => Self::Unreachable(error.to_string()),
        }
    }
}

impl From<sscard_core::Error> for CliError {
    /// By the platform's one mapping ([`sscard_core::Error::code_and_status`]):
    /// a refusal (401, 403, 409, 423, 429) exits 1, bad input (400, 404, 413)
    /// exits 2, and a failure of the store or the system exits 3.
    fn from(error: sscard_core::Error) -> Self {
        let (_, status) = error.code_and_status();
        Self::from_status(status, error.to_string())
    }
}

impl CliError {
    /// The error of an HTTP-like status: 401, 403, 409, 423 and 429 refuse
    /// (exit 1); other 4xx are input errors (exit 2); the rest are failures
    /// of the server (exit 3).
    pub fn from_status(status: u16, message: String) -> Self {
        match status {
            401 | 403 | 409 | 423 | 429 => Self::Refused(message),
            400..=499 => Self::Input(message),
            _ => Self::Unreachable(message),
        }
    }
}

/// Result of a command.
pub type CliResult<T = ()> = Result<T, CliError>;
