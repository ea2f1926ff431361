//! The signature checks behind `jsonwebtoken`: RSA (`RS*`, `PS*`) and ECDSA (`ES256`,
//! `ES384`) verified by `ring` (already in the tree through rustls), everything else — EdDSA,
//! and all signing — by `jsonwebtoken`'s own RustCrypto provider. `jsonwebtoken` is made for
//! this (its `CryptoProvider`, after rustls's); no primitive is written here. Why: RustCrypto's
//! `rsa` rebuilds the public key's arithmetic at every check and costs six times ring's for
//! RS256, the algorithm identity providers such as ProConnect sign with (BENCHMARKS.md).

use jsonwebtoken::crypto::{rust_crypto, CryptoProvider, JwtVerifier};
use jsonwebtoken::errors::{ErrorKind, Result as JwtResult};
use jsonwebtoken::signature;
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind};
use ring::signature::{self as ring_sig, RsaPublicKeyComponents, UnparsedPublicKey};
use std::sync::OnceLock;

/// Installs the provider for this process, once; later calls do nothing. Every check here
/// calls it first; a program that also signs with `jsonwebtoken` calls it before it signs.
/// If another provider was installed first (`jsonwebtoken` used before), checks stay
/// RustCrypto's: as correct, only slower.
pub fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let base = &rust_crypto::DEFAULT_PROVIDER;
        let provider: &'static CryptoProvider = Box::leak(Box::new(CryptoProvider {
            signer_factory: base.signer_factory,
            verifier_factory: verifier,
            key_utils: base.key_utils.clone(),
        }));
        if provider.install_default().is_err() {
            tracing::debug!(
                "jsonwebtoken's provider was chosen before: signatures are checked by RustCrypto"
            );
        }
    });
}

/// The key's material, as `ring` takes it.
enum Material {
    /// An RSA key by its modulus and exponent (a JWK).
    Components { n: Vec<u8>, e: Vec<u8> },
    /// An RSA key as PKCS#1 DER, or an EC point (uncompressed).
    Bytes(Vec<u8>),
}

struct RingVerifier {
    algorithm: Algorithm,
    rsa: Option<&'static ring_sig::RsaParameters>,
    ec: Option<&'static ring_sig::EcdsaVerificationAlgorithm>,
    key: Material,
}

impl signature::Verifier<Vec<u8>> for RingVerifier {
    fn verify(&self, msg: &[u8], sig: &Vec<u8>) -> Result<(), signature::Error> {
        let checked = match (&self.key, self.rsa, self.ec) {
            (Material::Components { n, e }, Some(params), _) => {
                RsaPublicKeyComponents { n, e }.verify(params, msg, sig)
            }
            (Material::Bytes(der), Some(params), _) => {
                UnparsedPublicKey::new(params, der).verify(msg, sig)
            }
            (Material::Bytes(point), None, Some(alg)) => {
                UnparsedPublicKey::new(alg, point).verify(msg, sig)
            }
            _ => return Err(signature::Error::new()),
        };
        checked.map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

/// A big-endian integer without its leading zero bytes.
fn unpadded(b: &[u8]) -> Vec<u8> {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b[start..].to_vec()
}

fn verifier(algorithm: &Algorithm, key: &DecodingKey) -> JwtResult<Box<dyn JwtVerifier>> {
    use jsonwebtoken::AlgorithmFamily as F;
    let rsa: Option<&'static ring_sig::RsaParameters> = match algorithm {
        Algorithm::RS256 => Some(&ring_sig::RSA_PKCS1_2048_8192_SHA256),
        Algorithm::RS384 => Some(&ring_sig::RSA_PKCS1_2048_8192_SHA384),
        Algorithm::RS512 => Some(&ring_sig::RSA_PKCS1_2048_8192_SHA512),
        Algorithm::PS256 => Some(&ring_sig::RSA_PSS_2048_8192_SHA256),
        Algorithm::PS384 => Some(&ring_sig::RSA_PSS_2048_8192_SHA384),
        Algorithm::PS512 => Some(&ring_sig::RSA_PSS_2048_8192_SHA512),
        _ => None,
    };
    let ec: Option<&'static ring_sig::EcdsaVerificationAlgorithm> = match algorithm {
        Algorithm::ES256 => Some(&ring_sig::ECDSA_P256_SHA256_FIXED),
        Algorithm::ES384 => Some(&ring_sig::ECDSA_P384_SHA384_FIXED),
        _ => None,
    };
    let family = match (rsa, ec) {
        (Some(_), _) => F::Rsa,
        (None, Some(_)) => F::Ec,
        // EdDSA (and the shared-secret algorithms, which Rempart never accepts).
        (None, None) => return (rust_crypto::DEFAULT_PROVIDER.verifier_factory)(algorithm, key),
    };
    if key.family() != family {
        return Err(ErrorKind::InvalidKeyFormat.into());
    }
    let key = match key.kind() {
        // Leading zero bytes (which some issuers write, RFC 7518 notwithstanding) change no
        // value, but ring refuses them.
        DecodingKeyKind::RsaModulusExponent { n, e } if rsa.is_some() => Material::Components {
            n: unpadded(n),
            e: unpadded(e),
        },
        DecodingKeyKind::SecretOrDer(b) => Material::Bytes(b.clone()),
        DecodingKeyKind::RsaModulusExponent { .. } => {
            return Err(ErrorKind::InvalidKeyFormat.into())
        }
    };
    Ok(Box::new(RingVerifier {
        algorithm: *algorithm,
        rsa,
        ec,
        key,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
    use base64::Engine;
    use jsonwebtoken::{decode, encode, EncodingKey, Header, Validation};
    use ring::signature::KeyPair;
    use serde_json::{json, Value};

    fn rsa_key(bits: usize) -> (EncodingKey, DecodingKey) {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::traits::PublicKeyParts;
        let k = rsa::PrivateKey::new(&mut getrandom::SysRng, bits).unwrap();
        let der = k.to_pkcs1_der().unwrap();
        let public = k.to_public_key();
        (
            EncodingKey::from_rsa_der(der.as_bytes()),
            DecodingKey::from_rsa_components(
                &B64URL.encode(public.n_bytes()),
                &B64URL.encode(public.e_bytes()),
            )
            .unwrap(),
        )
    }

    fn ec_key(alg: &'static ring_sig::EcdsaSigningAlgorithm) -> (EncodingKey, DecodingKey) {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = ring_sig::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        let pair = ring_sig::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
        let point = pair.public_key().as_ref();
        let half = (point.len() - 1) / 2;
        (
            EncodingKey::from_ec_der(pkcs8.as_ref()),
            DecodingKey::from_ec_components(
                &B64URL.encode(&point[1..1 + half]),
                &B64URL.encode(&point[1 + half..]),
            )
            .unwrap(),
        )
    }

    fn ed_key() -> (EncodingKey, DecodingKey) {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = ring_sig::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = ring_sig::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        (
            EncodingKey::from_ed_der(pkcs8.as_ref()),
            DecodingKey::from_ed_components(&B64URL.encode(pair.public_key().as_ref())).unwrap(),
        )
    }

    fn check(alg: Algorithm, token: &str, key: &DecodingKey) -> Result<Value, ErrorKind> {
        install();
        decode::<Value>(token, key, &Validation::new(alg))
            .map(|d| d.claims)
            .map_err(|e| e.into_kind())
    }

    /// The token with one character of its signature changed.
    fn forged(token: &str) -> String {
        let at = token.rfind('.').unwrap() + 5;
        let c = if &token[at..=at] == "A" { "B" } else { "A" };
        format!("{}{c}{}", &token[..at], &token[at + 1..])
    }

    #[test]
    fn each_algorithm_verifies_its_own_signatures_and_refuses_forged_ones() {
        // Before anything signs: the first use of jsonwebtoken would choose its own provider.
        install();
        let claims = json!({"sub": "a", "exp": 4_000_000_000u64});
        let rsa = rsa_key(2048);
        let keys = [
            (Algorithm::RS256, rsa.clone()),
            (Algorithm::RS384, rsa.clone()),
            (Algorithm::PS256, rsa.clone()),
            (Algorithm::PS512, rsa),
            (
                Algorithm::ES256,
                ec_key(&ring_sig::ECDSA_P256_SHA256_FIXED_SIGNING),
            ),
            (
                Algorithm::ES384,
                ec_key(&ring_sig::ECDSA_P384_SHA384_FIXED_SIGNING),
            ),
            (Algorithm::EdDSA, ed_key()),
        ];
        for (alg, (sign, verify)) in &keys {
            let token = encode(&Header::new(*alg), &claims, sign).unwrap();
            assert_eq!(check(*alg, &token, verify), Ok(claims.clone()), "{alg:?}");
            assert_eq!(
                check(*alg, &forged(&token), verify),
                Err(ErrorKind::InvalidSignature),
                "{alg:?} forged"
            );
        }
        // A key of another family, or another key of the same one, verifies nothing.
        let token = encode(&Header::new(Algorithm::RS256), &claims, &keys[0].1 .0).unwrap();
        assert!(check(Algorithm::RS256, &token, &keys[4].1 .1).is_err());
        assert!(check(Algorithm::RS256, &token, &rsa_key(2048).1).is_err());
        let token = encode(&Header::new(Algorithm::ES256), &claims, &keys[4].1 .0).unwrap();
        assert!(check(Algorithm::ES256, &token, &keys[0].1 .1).is_err());
        assert!(check(Algorithm::ES256, &token, &keys[5].1 .1).is_err());
    }

    #[test]
    fn an_rsa_key_written_with_leading_zero_bytes_still_verifies() {
        install();
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::traits::PublicKeyParts;
        let k = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).unwrap();
        let sign = EncodingKey::from_rsa_der(k.to_pkcs1_der().unwrap().as_bytes());
        let public = k.to_public_key();
        let (mut n, mut e) = (vec![0u8], vec![0u8]);
        n.extend_from_slice(&public.n_bytes());
        e.extend_from_slice(&public.e_bytes());
        let verify =
            DecodingKey::from_rsa_components(&B64URL.encode(&n), &B64URL.encode(&e)).unwrap();
        let claims = json!({"sub": "a", "exp": 4_000_000_000u64});
        let token = encode(&Header::new(Algorithm::RS256), &claims, &sign).unwrap();
        assert_eq!(check(Algorithm::RS256, &token, &verify), Ok(claims));
    }

    /// RustCrypto accepts a 1024-bit key; ring does not: this tells whose check ran.
    #[test]
    fn rsa_keys_shorter_than_2048_bits_are_refused() {
        install();
        let claims = json!({"sub": "a", "exp": 4_000_000_000u64});
        let (sign, verify) = rsa_key(1024);
        let token = encode(&Header::new(Algorithm::RS256), &claims, &sign).unwrap();
        assert!(check(Algorithm::RS256, &token, &verify).is_err());
        let installed = CryptoProvider::try_get_default().unwrap();
        assert!(
            !std::ptr::eq(installed, &rust_crypto::DEFAULT_PROVIDER),
            "this process checks signatures with ring"
        );
    }
}
