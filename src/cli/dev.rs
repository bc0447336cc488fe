//! `seam dev`: development helpers around the local CA.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::EXIT_FAILURE;
use crate::dev::DevCa;

/// `seam dev` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Mint an X.509-SVID for a SPIFFE ID from the development CA
    Svid {
        /// The SPIFFE ID, e.g. spiffe://example.org/ns/shop/sa/frontend
        spiffe_id: String,
        /// Folder to write `<name>.pem` and `<name>-key.pem` into
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Validity in seconds
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
        /// Development state folder
        #[arg(long, default_value = ".seam")]
        state_dir: PathBuf,
    },
    /// Print the development CA's bundle (PEM) for a trust domain
    Bundle {
        /// Trust domain
        #[arg(default_value = "example.org")]
        trust_domain: String,
        /// Development state folder
        #[arg(long, default_value = ".seam")]
        state_dir: PathBuf,
    },
}

pub(super) fn run(command: Command) -> ExitCode {
    match command {
        Command::Svid {
            spiffe_id,
            out,
            ttl,
            state_dir,
        } => svid(&spiffe_id, &out, ttl, &state_dir),
        Command::Bundle {
            trust_domain,
            state_dir,
        } => match DevCa::load_or_create(&state_dir, &trust_domain) {
            Ok(ca) => {
                print!("{}", ca.ca_pem());
                ExitCode::SUCCESS
            }
            Err(error) => fail(&error.to_string()),
        },
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("seam dev: {message}");
    ExitCode::from(EXIT_FAILURE)
}

fn svid(spiffe_id: &str, out: &std::path::Path, ttl: u64, state: &std::path::Path) -> ExitCode {
    let Some(trust_domain) = spiffe_id
        .strip_prefix("spiffe://")
        .and_then(|rest| rest.split('/').next())
    else {
        return fail(&format!("`{spiffe_id}` is not a SPIFFE ID"));
    };
    let ca = match DevCa::load_or_create(state, trust_domain) {
        Ok(ca) => ca,
        Err(error) => return fail(&error.to_string()),
    };
    let svid = match ca.mint_svid(spiffe_id, Duration::from_secs(ttl)) {
        Ok(svid) => svid,
        Err(error) => return fail(&error.to_string()),
    };

    let name = spiffe_id.rsplit('/').next().unwrap_or("svid");
    let cert = out.join(format!("{name}.pem"));
    let key = out.join(format!("{name}-key.pem"));
    let written = std::fs::create_dir_all(out)
        .and_then(|()| std::fs::write(&cert, &svid.cert_pem))
        .and_then(|()| write_private(&key, &svid.key_pem));
    if let Err(error) = written {
        return fail(&format!("cannot write to `{}`: {error}", out.display()));
    }
    println!("{}", cert.display());
    println!("{}", key.display());
    ExitCode::SUCCESS
}

fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}
