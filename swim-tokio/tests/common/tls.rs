//! Certificates for the TLS transport's tests, generated with rcgen: a cluster CA and member
//! certificates it signs, each naming the loopback address (or the addresses given).

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use swim_tokio::TlsConfig;
use swim_tokio::transport::TlsTransport;

/// A certificate authority: the root of a cluster's trust.
pub struct Ca {
    root: CertificateDer<'static>,
    root_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A member's certificate and key, signed by a [`Ca`].
pub struct MemberCert {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// The certificate and the key in PEM.
    pub cert_pem: String,
    pub key_pem: String,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::new()).expect("no names to parse");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().expect("key generation");
        let cert = params.self_signed(&key).expect("self-signed CA");
        Ca { root: cert.der().clone(), root_pem: cert.pem(), issuer: Issuer::new(params, key) }
    }

    /// The CA's certificate, to trust.
    pub fn root(&self) -> CertificateDer<'static> {
        self.root.clone()
    }

    /// The CA's certificate in PEM.
    pub fn root_pem(&self) -> String {
        self.root_pem.clone()
    }

    /// A member certificate naming `names` (IP addresses or DNS names).
    pub fn member(&self, names: &[&str]) -> MemberCert {
        let params = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).expect("names");
        let key = KeyPair::generate().expect("key generation");
        let cert = params.signed_by(&key, &self.issuer).expect("signing");
        MemberCert {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// Mutual TLS settings for a member on loopback whose certificate this CA signed and
    /// which trusts this CA alone.
    pub fn loopback_config(&self) -> TlsConfig {
        let cert = self.member(&["127.0.0.1", "::1"]);
        TlsConfig::mutual([self.root()], cert.chain, cert.key).expect("TLS settings")
    }

    /// A TLS transport on a free loopback port with [`loopback_config`](Ca::loopback_config).
    pub fn transport(&self) -> TlsTransport {
        TlsTransport::bind("127.0.0.1:0".parse().unwrap(), self.loopback_config()).expect("bind")
    }
}
