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
        // One line, whatever a lower layer put in the message.
        f.write_str(&message.replace(['\n', '\r'], " "))
    }
}

impl From<sscard_gm::Error> for CliError {
    fn from(error: sscard_gm::Error) -> Self {
        match error {
            sscard_gm::Error::SignatureInvalid | sscard_gm::Error::SignatureSumZero => {
                Self::Refused(error.to_string())
            }
            // A ciphertext that fails its tag or C3 check could not be
            // decrypted: for this tool that is malformed input.
            _ => Self::Input(error.to_string()),
        }
    }
}

impl From<sscard_core::Error> for CliError {
    fn from(error: sscard_core::Error) -> Self {
        use sscard_core::Error as E;
        match error {
            E::Storage(_) => Self::Unreachable(error.to_string()),
            E::Sealed
            | E::BadShare(_)
            | E::Forbidden { .. }
            | E::Refused(_)
            | E::BadCredentials => Self::Refused(error.to_string()),
            _ => Self::Input(error.to_string()),
        }
    }
}

/// Result of a command.
pub type CliResult<T = ()> = Result<T, CliError>;
