//! Test support: certificates made with rcgen in a temp folder, a seam
//! serving mTLS on 127.0.0.1, and clients that present any certificate.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use envoy_types::pb::envoy::service::auth::v3::CheckRequest;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use seam::identity::MaterialStore;
use seam::probe::RequestFile;
use seam::server::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

pub const ENVOY: &str = "spiffe://example.org/ns/mesh/sa/envoy";
pub const SEAM: &str = "spiffe://example.org/ns/seam/sa/seam";
pub const FRONTEND: &str = "spiffe://example.org/ns/shop/sa/frontend";

fn at(t: SystemTime) -> time::OffsetDateTime {
    time::OffsetDateTime::from(t)
}

/// A certificate authority of one trust domain.
pub struct Ca {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate with its PKCS#8 key, both PEM.
pub struct Pair {
    pub cert: String,
    pub key: String,
}

/// Leaf parameters meeting every X.509-SVID rule, for one URI SAN.
pub fn svid_params(id: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.subject_alt_names = vec![SanType::URI(id.try_into().unwrap())];
    params
        .distinguished_name
        .push(DnType::CommonName, "workload");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ClientAuth,
        ExtendedKeyUsagePurpose::ServerAuth,
    ];
    params.is_ca = IsCa::ExplicitNoCa;
    params.not_before = at(SystemTime::now() - Duration::from_secs(300));
    params.not_after = at(SystemTime::now() + Duration::from_secs(3600));
    params
}

impl Ca {
    pub fn new(trust_domain: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{trust_domain} root"));
        params.subject_alt_names = vec![SanType::URI(
            format!("spiffe://{trust_domain}").try_into().unwrap(),
        )];
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = at(SystemTime::now() - Duration::from_secs(3600));
        params.not_after = at(SystemTime::now() + Duration::from_secs(86400));
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A valid SVID for `id`.
    pub fn svid(&self, id: &str) -> Pair {
        self.sign(&svid_params(id))
    }

    /// A certificate from `params`, signed by this CA.
    pub fn sign(&self, params: &CertificateParams) -> Pair {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Pair {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }
}

/// Replaces `path` the way SPIRE helpers and editors do: write a sibling,
/// then rename it over.
pub fn replace(path: &Path, contents: &str) {
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, contents).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

/// A running seam with an mTLS listener.
pub struct Seam {
    pub dir: tempfile::TempDir,
    pub ca: Ca,
    pub address: std::net::SocketAddr,
    pub material: Arc<MaterialStore>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Seam {
    /// seam trusting one CA for `example.org`, serving its own SVID from
    /// that CA, allowing `allowed` to call.
    pub async fn start(allowed: &[&str]) -> Seam {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::new("example.org");
        std::fs::write(dir.path().join("bundle.pem"), &ca.pem).unwrap();
        std::fs::create_dir_all(dir.path().join("svid")).unwrap();
        let own = ca.svid(SEAM);
        std::fs::write(dir.path().join("svid/svid.pem"), &own.cert).unwrap();
        std::fs::write(dir.path().join("svid/svid_key.pem"), &own.key).unwrap();

        let policies = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies");
        let allowed: Vec<String> = allowed.iter().map(|id| format!("\"{id}\"")).collect();
        let text = format!(
            "state_dir = \"state\"\n\
             [server]\nlisten = []\n\
             [server.tls]\nlisten = [\"127.0.0.1:0\"]\nallowed_clients = [{}]\n\
             [policy]\ndir = \"{}\"\nwatch = false\n\
             [identity]\nsvid_cert = \"svid/svid.pem\"\nsvid_key = \"svid/svid_key.pem\"\n\
             [[identity.trust_domains]]\nname = \"example.org\"\nbundle = \"bundle.pem\"\n\
             [[context.classify]]\nname = \"orders\"\nhost = \"orders.shop.svc\"\n\
             service = \"spiffe://example.org/ns/shop/sa/orders\"\nsensitivity = \"internal\"\n\
             [records]\nsink = \"file\"\npath = \"records.jsonl\"\n\
             [admin]\nlisten = \"off\"\n",
            allowed.join(", "),
            policies.display()
        );
        let config = seam::config::Config::parse(&text, "tls.toml", dir.path()).unwrap();

        let bound = Server::build(config).unwrap().bind().await.unwrap();
        let address = bound.tls_addresses()[0];
        let material = bound.material().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            bound
                .run(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });

        Seam {
            dir,
            ca,
            address,
            material,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Waits until `done` holds for the material's status, at most 10 s.
    pub async fn wait_for(
        &self,
        what: &str,
        done: impl Fn(&seam::identity::material::MaterialStatus) -> bool,
    ) {
        for _ in 0..200 {
            if done(&self.material.status()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "{what}: not seen within 10 s: {:#?}",
            self.material.status()
        );
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }
}

/// The frontend's request from the shipped examples, as Envoy would send
/// it for a caller holding `leaf`.
pub fn frontend_check(leaf: &str) -> CheckRequest {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/requests/01-frontend-reads-order.toml");
    RequestFile::load(&file).unwrap().to_check(leaf).unwrap()
}

/// Accepts any server certificate, remembering the leaf: these tests are
/// about what the server accepts, not about the client's checks.
#[derive(Debug, Default)]
pub struct Remember {
    pub seen: Mutex<Option<Vec<u8>>>,
}

impl ServerCertVerifier for Remember {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.seen.lock().unwrap() = Some(end_entity.to_vec());
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A client presenting `pair` (or nothing), trusting any server.
pub fn raw_client(pair: Option<&Pair>, remember: Arc<Remember>) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(remember);
    let mut config = match pair {
        Some(pair) => {
            let certs = pem::parse_many(&pair.cert)
                .unwrap()
                .into_iter()
                .map(|p| CertificateDer::from(p.into_contents()))
                .collect();
            let key = pem::parse(&pair.key).unwrap().into_contents();
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key));
            builder.with_client_auth_cert(certs, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(config)
}

/// Opens a TLS connection with `config` and starts HTTP/2: `Ok` when seam
/// answers with its SETTINGS (it let the client in), `Err` with the reason
/// otherwise. A client refused in TLS 1.3 learns it on its first read.
pub async fn attempt(
    address: std::net::SocketAddr,
    config: Arc<ClientConfig>,
) -> Result<(), String> {
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let name = ServerName::IpAddress(address.ip().into());
    let connector = tokio_rustls::TlsConnector::from(config);
    let mut tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;

    let preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";
    tls.write_all(preface).await.map_err(|e| e.to_string())?;
    let mut buffer = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buffer))
        .await
        .map_err(|_| "no answer within 5 s".to_string())?;
    match read {
        Ok(0) => Err("closed without a word".to_string()),
        Ok(_) => Ok(()),
        Err(error) => Err(error.to_string()),
    }
}
