//! The HTTPS client of every AWS client ([`https_client`]) and the roots it trusts: Amazon
//! Trust Services', embedded at build time, and the file `AWS_CA_BUNDLE` names.

use std::borrow::Cow;

use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// The roots of Amazon Trust Services, which every AWS endpoint's certificate chains to.
const AMAZON_ROOTS: &[u8] = include_bytes!("../amazon-roots.pem");

/// The roots the clients trust, as PEM: Amazon's, and the file `AWS_CA_BUNDLE` names.
fn roots(lookup: impl Fn(&str) -> Option<String>) -> Vec<Cow<'static, [u8]>> {
    let mut roots = vec![Cow::Borrowed(AMAZON_ROOTS)];
    if let Some(path) = lookup("AWS_CA_BUNDLE").filter(|path| !path.is_empty()) {
        match std::fs::read(&path) {
            Ok(pem) => roots.push(Cow::Owned(pem)),
            Err(error) => tracing::error!(
                %path,
                %error,
                "AWS_CA_BUNDLE cannot be read: trusting Amazon's roots only"
            ),
        }
    }
    roots
}

/// The HTTPS client of every AWS client: rustls on aws-lc, trusting [`roots`] and no system
/// store (`AWS_CA_BUNDLE` from `lookup`).
pub fn https_client(lookup: impl Fn(&str) -> Option<String>) -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(
            TlsContext::builder()
                .with_trust_store(
                    roots(lookup)
                        .into_iter()
                        .fold(TrustStore::empty(), |store, pem| {
                            store.with_pem_certificate(pem)
                        }),
                )
                .build()
                .unwrap_or_default(),
        )
        .build_https()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    fn certificates(pem: &[u8]) -> usize {
        CertificateDer::pem_slice_iter(pem)
            .map(|certificate| certificate.expect("a PEM certificate"))
            .filter(|certificate| !certificate.is_empty())
            .count()
    }

    #[test]
    fn the_clients_trust_amazons_five_roots_and_no_system_store() {
        let roots = roots(|_| None);
        assert_eq!(roots.len(), 1);
        assert_eq!(certificates(&roots[0]), 5);
        let text = std::str::from_utf8(AMAZON_ROOTS).unwrap();
        for name in [
            "Amazon Root CA 1",
            "Amazon Root CA 2",
            "Amazon Root CA 3",
            "Amazon Root CA 4",
            "Starfield Services Root Certificate Authority - G2",
        ] {
            assert!(text.contains(&format!("# {name}\n")), "{name}");
        }
    }

    #[test]
    fn aws_ca_bundle_adds_its_roots_and_an_unreadable_one_adds_none() {
        let dir = std::env::temp_dir().join(format!("ca-bundle-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bundle = dir.join("proxy.pem");
        // Any certificate will do: the first of Amazon's stands for a proxy's root.
        let one = &AMAZON_ROOTS[AMAZON_ROOTS.windows(5).position(|w| w == b"-----").unwrap()..];
        std::fs::write(&bundle, one).unwrap();
        let path = bundle.to_str().unwrap().to_owned();
        let with_bundle = roots(|key| (key == "AWS_CA_BUNDLE").then(|| path.clone()));
        assert_eq!(with_bundle.len(), 2);
        assert!(certificates(&with_bundle[1]) >= 1);
        let missing = dir.join("missing.pem").to_str().unwrap().to_owned();
        assert_eq!(
            roots(|key| (key == "AWS_CA_BUNDLE").then(|| missing.clone())).len(),
            1
        );
        assert_eq!(
            roots(|key| (key == "AWS_CA_BUNDLE").then(String::new)).len(),
            1
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
