//! `sscard gm sm2 keygen|pub|sign|verify|encrypt|decrypt`

use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};
use sscard_gm::sm2::{
    self, CiphertextFormat, Signature, SignatureFormat, Sm2PrivateKey, Sm2PublicKey,
    DEFAULT_USER_ID,
};

use crate::error::{CliError, CliResult};
use crate::io::{read_file, read_input, write_file, write_output, FileMode};

#[derive(Debug, Subcommand)]
pub enum Sm2Command {
    /// Generate a key pair: the private key as PKCS#8 PEM (0600), optionally the public key as SPKI PEM.
    Keygen {
        /// Private key file to create (never overwritten).
        #[arg(long, value_name = "KEY.pem")]
        out: PathBuf,
        /// Also write the public key here.
        #[arg(long = "pub", value_name = "PUB.pem")]
        public: Option<PathBuf>,
    },
    /// Write the public key of a private key.
    Pub {
        #[arg(long, value_name = "KEY.pem")]
        key: PathBuf,
        /// Where the public key goes (stdout when left out).
        #[arg(long, value_name = "PUB.pem")]
        out: Option<PathBuf>,
    },
    /// Sign a file; the signature is DER SEQUENCE{r,s} unless --raw (r‖s).
    Sign {
        #[arg(long, value_name = "KEY.pem")]
        key: PathBuf,
        #[command(flatten)]
        id: UserId,
        #[arg(long)]
        raw: bool,
        #[arg(long = "in", value_name = "FILE")]
        input: PathBuf,
        #[arg(long, value_name = "SIG")]
        out: PathBuf,
    },
    /// Verify a signature: exit 0 valid, 1 invalid, 2 unreadable input.
    Verify {
        #[arg(long = "pub", value_name = "PUB.pem")]
        public: PathBuf,
        #[command(flatten)]
        id: UserId,
        #[arg(long)]
        raw: bool,
        #[arg(long = "in", value_name = "FILE")]
        input: PathBuf,
        #[arg(long, value_name = "SIG")]
        sig: PathBuf,
    },
    /// Encrypt a file to a public key.
    Encrypt {
        #[arg(long = "pub", value_name = "PUB.pem")]
        public: PathBuf,
        #[arg(long, default_value = "der")]
        format: Format,
        #[arg(long = "in", value_name = "FILE")]
        input: PathBuf,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Decrypt a file with a private key.
    Decrypt {
        #[arg(long, value_name = "KEY.pem")]
        key: PathBuf,
        #[arg(long, default_value = "der")]
        format: Format,
        #[arg(long = "in", value_name = "FILE")]
        input: PathBuf,
        /// Where the plaintext goes (stdout when left out).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// The signer's user ID (GB/T 32918.2 ID_A).
#[derive(Debug, clap::Args)]
pub struct UserId {
    /// User ID of the signer.
    #[arg(long = "id", value_name = "STR", default_value = DEFAULT_USER_ID)]
    value: String,
}

/// `--format der|c1c3c2|c1c2c3`
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// GM/T 0009 DER, as OpenSSL reads and writes it.
    Der,
    /// C1 ‖ C3 ‖ C2.
    C1c3c2,
    /// C1 ‖ C2 ‖ C3.
    C1c2c3,
}

impl From<Format> for CiphertextFormat {
    fn from(format: Format) -> Self {
        match format {
            Format::Der => CiphertextFormat::Der,
            Format::C1c3c2 => CiphertextFormat::C1C3C2,
            Format::C1c2c3 => CiphertextFormat::C1C2C3,
        }
    }
}

fn signature_format(raw: bool) -> SignatureFormat {
    if raw {
        SignatureFormat::Raw
    } else {
        SignatureFormat::Der
    }
}

fn load_private(path: &Path) -> CliResult<Sm2PrivateKey> {
    Sm2PrivateKey::from_pem_or_der(&read_file(path)?)
        .map_err(|e| CliError::input(format!("{}: {e}", path.display())))
}

fn load_public(path: &Path) -> CliResult<Sm2PublicKey> {
    Sm2PublicKey::from_pem_or_der(&read_file(path)?)
        .map_err(|e| CliError::input(format!("{}: {e}", path.display())))
}

fn write_public(path: &Path, key: &Sm2PublicKey) -> CliResult {
    write_file(path, key.to_spki_pem()?.as_bytes(), FileMode::Public)
}

pub fn run(command: Sm2Command) -> CliResult {
    match command {
        Sm2Command::Keygen { out, public } => {
            let key = Sm2PrivateKey::generate()?;
            write_file(&out, key.to_pkcs8_pem()?.as_bytes(), FileMode::Secret)?;
            if let Some(public) = public {
                write_public(&public, &key.public_key())?;
            }
            Ok(())
        }
        Sm2Command::Pub { key, out } => {
            let public = load_private(&key)?.public_key();
            match out {
                Some(out) => write_public(&out, &public),
                None => write_output(None, public.to_spki_pem()?.as_bytes()),
            }
        }
        Sm2Command::Sign {
            key,
            id,
            raw,
            input,
            out,
        } => {
            let key = load_private(&key)?;
            let message = read_input(Some(&input))?;
            let signature = sm2::sign(&key, &id.value, &message)?;
            write_output(Some(&out), &signature.encode(signature_format(raw)))
        }
        Sm2Command::Verify {
            public,
            id,
            raw,
            input,
            sig,
        } => {
            let public = load_public(&public)?;
            let signature = Signature::parse(&read_file(&sig)?, signature_format(raw))
                .map_err(|e| CliError::input(format!("{}: {e}", sig.display())))?;
            let message = read_input(Some(&input))?;
            sm2::verify(&public, &id.value, &message, &signature)?;
            outln!("signature: valid");
            Ok(())
        }
        Sm2Command::Encrypt {
            public,
            format,
            input,
            out,
        } => {
            let public = load_public(&public)?;
            let message = read_input(Some(&input))?;
            write_output(Some(&out), &sm2::encrypt(&public, &message, format.into())?)
        }
        Sm2Command::Decrypt {
            key,
            format,
            input,
            out,
        } => {
            let key = load_private(&key)?;
            let ciphertext = read_input(Some(&input))?;
            write_output(
                out.as_deref(),
                &sm2::decrypt(&key, &ciphertext, format.into())?,
            )
        }
    }
}
