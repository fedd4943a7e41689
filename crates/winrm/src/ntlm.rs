//! NTLMv2 over `Negotiate`, with key exchange, message sealing, a MIC and TLS
//! channel binding (MS-NLMP).
//!
//! ntlmclient encodes NEGOTIATE, parses CHALLENGE and computes the NTLMv2
//! response; this module writes the AUTHENTICATE message itself (ntlmclient's
//! encoder has no MIC field, and its helper would put the session key on the wire
//! in clear), adds `MsvAvFlags` (MIC present) and `MsvAvChannelBindings` (the
//! `tls-server-end-point` hash of the server's certificate, RFC 5929) to the
//! NTLMv2 blob as Windows' Extended Protection requires, signs all three messages
//! with the MIC (MS-NLMP 3.1.5.1.2), and implements sealing for plain HTTP.

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use ntlmclient::{Credentials, Flags, Message, NegotiateMessage, OsVersion, TargetInfoEntry, TargetInfoType};

type HmacMd5 = Hmac<Md5>;

/// The flags Windows' own clients send (UNICODE, REQUEST_TARGET, SIGN, SEAL, NTLM,
/// ALWAYS_SIGN, extended session security, VERSION, 128, KEY_EXCH, 56).
pub fn client_flags() -> Flags {
    Flags::NEGOTIATE_UNICODE
        | Flags::REQUEST_TARGET
        | Flags::NEGOTIATE_SIGN
        | Flags::NEGOTIATE_SEAL
        | Flags::NEGOTIATE_NTLM
        | Flags::NEGOTIATE_ALWAYS_SIGN
        | Flags::NEGOTIATE_NTLM2_KEY
        | Flags::NEGOTIATE_VERSION
        | Flags::NEGOTIATE_128BIT
        | Flags::NEGOTIATE_KEY_EXCHANGE
        | Flags::NEGOTIATE_56BIT
}

/// Errors of the NTLM exchange (never containing key material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NtlmError(pub String);

fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    let mut m = <HmacMd5 as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut m = Md5::new();
    for p in parts {
        m.update(p);
    }
    m.finalize().into()
}

/// Random bytes from the operating system.
pub fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).expect("system randomness");
    b
}

/// RC4, the stream cipher NTLM seals with (its state persists across messages); the
/// RustCrypto `rc4` crate behind a two-method face.
pub struct Rc4(rc4::Rc4);

impl Rc4 {
    /// A cipher keyed with `key` (NTLM's keys are 16 bytes; RC4 takes 1 to 256).
    pub fn new(key: &[u8]) -> Rc4 {
        use rc4::KeyInit;
        Rc4(rc4::Rc4::new_from_slice(key).expect("NTLM keys are 16 bytes"))
    }

    pub fn apply(&mut self, data: &mut [u8]) {
        use rc4::StreamCipher;
        self.0.apply_keystream(data);
    }
}

/// The NEGOTIATE message (leg 1).
pub fn negotiate() -> Vec<u8> {
    let msg = Message::Negotiate(NegotiateMessage {
        flags: client_flags(),
        supplied_domain: String::new(),
        supplied_workstation: String::new(),
        os_version: OsVersion::default(),
    });
    msg.to_bytes().expect("a NEGOTIATE message always encodes")
}

/// What the AUTHENTICATE leg produced: the message and the key for sealing.
pub struct Authenticated {
    pub message: Vec<u8>,
    /// ExportedSessionKey (random when key exchange was negotiated).
    pub session_key: [u8; 16],
    pub flags: Flags,
}

/// Splits `DOMAIN\user` and `user@domain`; a bare user is a local account.
pub fn split_user(user: &str) -> (String, String) {
    if let Some((d, u)) = user.split_once('\\') {
        (u.to_string(), d.to_string())
    } else if let Some((u, d)) = user.split_once('@') {
        (u.to_string(), d.to_string())
    } else {
        (user.to_string(), String::new())
    }
}

/// `MsvAvFlags` bit: the AUTHENTICATE message carries a MIC.
pub const AV_FLAG_MIC: u32 = 0x0000_0002;
/// Offset of the MIC in an AUTHENTICATE message (after the Version field).
pub const MIC_OFFSET: usize = 72;

/// The `MsvAvChannelBindings` value for a TLS connection: the MD5 of a
/// `gss_channel_bindings_struct` whose application data is `tls-server-end-point:`
/// followed by the certificate's hash (RFC 5929 section 4.1: the hash of the
/// certificate's signature algorithm, SHA-256 when that is MD5 or SHA-1).
pub fn channel_bindings(server_cert_der: &[u8]) -> [u8; 16] {
    let digest = ring::digest::digest(cert_hash_algorithm(server_cert_der), server_cert_der);
    let mut app = b"tls-server-end-point:".to_vec();
    app.extend_from_slice(digest.as_ref());
    // initiator addrtype and address length, acceptor addrtype and address length: all zero.
    md5(&[&[0u8; 16], &(app.len() as u32).to_le_bytes(), &app])
}

/// The hash of the certificate's signature algorithm, found by its OID in the DER
/// (SHA-384 and SHA-512 with RSA or ECDSA; everything else, MD5 and SHA-1 included, SHA-256).
fn cert_hash_algorithm(der: &[u8]) -> &'static ring::digest::Algorithm {
    const SHA384: [&[u8]; 2] = [
        &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0C], // sha384WithRSAEncryption
        &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x03],       // ecdsa-with-SHA384
    ];
    const SHA512: [&[u8]; 2] = [
        &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0D], // sha512WithRSAEncryption
        &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x04],       // ecdsa-with-SHA512
    ];
    let has = |oid: &[u8]| der.windows(oid.len()).any(|w| w == oid);
    if SHA384.iter().any(|o| has(o)) {
        &ring::digest::SHA384
    } else if SHA512.iter().any(|o| has(o)) {
        &ring::digest::SHA512
    } else {
        &ring::digest::SHA256
    }
}

/// The AV pairs of the NTLMv2 blob: the server's, with `MsvAvFlags` (MIC present, when
/// the server sent a timestamp) and `MsvAvChannelBindings` added before the terminator.
fn client_av_pairs(server: &[TargetInfoEntry], cbt: Option<[u8; 16]>, mic: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut flags = if mic { AV_FLAG_MIC } else { 0 };
    for e in server {
        match e.entry_type {
            TargetInfoType::Terminator | TargetInfoType::ChannelBindings => {}
            TargetInfoType::Flags => {
                flags |= e.data.get(..4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).unwrap_or(0);
            }
            _ => out.extend(e.to_bytes()),
        }
    }
    if flags != 0 {
        out.extend(
            TargetInfoEntry { entry_type: TargetInfoType::Flags, data: flags.to_le_bytes().to_vec() }.to_bytes(),
        );
    }
    if let Some(hash) = cbt {
        out.extend(TargetInfoEntry { entry_type: TargetInfoType::ChannelBindings, data: hash.to_vec() }.to_bytes());
    }
    out.extend(TargetInfoEntry { entry_type: TargetInfoType::Terminator, data: vec![] }.to_bytes());
    out
}

/// A security buffer's fields (length, max length, offset) in an NTLM message.
fn field(out: &mut Vec<u8>, len: usize, offset: usize) {
    out.extend_from_slice(&(len as u16).to_le_bytes());
    out.extend_from_slice(&(len as u16).to_le_bytes());
    out.extend_from_slice(&(offset as u32).to_le_bytes());
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// The AUTHENTICATE message (MS-NLMP 2.2.1.3) with Version and a zeroed MIC; the payload
/// follows at offset 88.
fn authenticate_message(parts: [&[u8]; 6], flags: u32) -> Vec<u8> {
    let mut out = b"NTLMSSP\0".to_vec();
    out.extend_from_slice(&3u32.to_le_bytes());
    let mut offset = MIC_OFFSET + 16;
    for p in parts {
        field(&mut out, p.len(), offset);
        offset += p.len();
    }
    out.extend_from_slice(&flags.to_le_bytes());
    // Version: Windows 10 (10.0, build 19041), NTLM revision 15.
    out.extend_from_slice(&[10, 0, 0x61, 0x4A, 0, 0, 0, 15]);
    out.extend_from_slice(&[0; 16]);
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

/// Answers a CHALLENGE (leg 2) with an AUTHENTICATE (leg 3) signed with a MIC over all three
/// messages (`negotiate` is the NEGOTIATE that was sent); `cbt` is the TLS channel binding
/// ([`channel_bindings`]) when the connection is HTTPS.
pub fn authenticate(
    negotiate: &[u8],
    challenge: &[u8],
    user: &str,
    password: &str,
    cbt: Option<[u8; 16]>,
) -> Result<Authenticated, NtlmError> {
    let Ok(Message::Challenge(ch)) = Message::try_from(challenge) else {
        return Err(NtlmError("the server's NTLM challenge could not be parsed".into()));
    };
    let flags = ch.flags & client_flags() | Flags::NEGOTIATE_UNICODE;
    let (username, domain) = split_user(user);
    let creds = Credentials { username, password: password.to_string(), domain };
    // MS-NLMP 3.1.5.1.2: with a timestamp from the server, the client sends a MIC.
    let mic = ch.target_information.iter().any(|e| e.entry_type == TargetInfoType::Timestamp);
    let target_info = client_av_pairs(&ch.target_information, cbt, mic);
    let resp = ntlmclient::respond_challenge_ntlm_v2(ch.challenge, &target_info, ntlmclient::get_ntlm_time(), &creds);
    let base: [u8; 16] =
        resp.session_key.as_slice().try_into().map_err(|_| NtlmError("bad session key length".into()))?;
    let (session_key, encrypted) = if flags.contains(Flags::NEGOTIATE_KEY_EXCHANGE) {
        let exported: [u8; 16] = random();
        let mut enc = exported;
        Rc4::new(&base).apply(&mut enc);
        (exported, enc.to_vec())
    } else {
        (base, Vec::new())
    };
    // With a timestamp in the target info, MS-NLMP sends no LMv2 response (24 zero bytes).
    let (domain, user, workstation) = (utf16(&creds.domain), utf16(&creds.username), Vec::new());
    let parts: [&[u8]; 6] = [&[0; 24], &resp.ntlm_response, &domain, &user, &workstation, &encrypted];
    let mut message = authenticate_message(parts, flags.bits());
    if mic {
        let code = hmac_md5(&session_key, &[negotiate, challenge, &message]);
        message[MIC_OFFSET..MIC_OFFSET + 16].copy_from_slice(&code);
    }
    Ok(Authenticated { message, session_key, flags })
}

/// One direction's keys and state.
struct Half {
    sign: [u8; 16],
    rc4: Rc4,
    seq: u32,
}

/// Message integrity and confidentiality for an NTLM session (extended session security).
pub struct Sealing {
    out: Half,
    inp: Half,
}

const C2S_SIGN: &[u8] = b"session key to client-to-server signing key magic constant\0";
const C2S_SEAL: &[u8] = b"session key to client-to-server sealing key magic constant\0";
const S2C_SIGN: &[u8] = b"session key to server-to-client signing key magic constant\0";
const S2C_SEAL: &[u8] = b"session key to server-to-client sealing key magic constant\0";

impl Sealing {
    /// The client's side: seals with client-to-server keys, unseals server-to-client.
    pub fn client(session_key: &[u8; 16]) -> Sealing {
        Self::with(session_key, (C2S_SIGN, C2S_SEAL), (S2C_SIGN, S2C_SEAL))
    }

    /// The server's side (for the mock).
    /// The server's side (the mock listener's); only with the `server` feature.
    #[cfg(any(test, feature = "server"))]
    pub fn server(session_key: &[u8; 16]) -> Sealing {
        Self::with(session_key, (S2C_SIGN, S2C_SEAL), (C2S_SIGN, C2S_SEAL))
    }

    fn with(key: &[u8; 16], out: (&[u8], &[u8]), inp: (&[u8], &[u8])) -> Sealing {
        let half =
            |(sign, seal): (&[u8], &[u8])| Half { sign: md5(&[key, sign]), rc4: Rc4::new(&md5(&[key, seal])), seq: 0 };
        Sealing { out: half(out), inp: half(inp) }
    }

    /// Encrypts `data` in place and returns the 16-byte signature.
    pub fn seal(&mut self, data: &mut [u8]) -> [u8; 16] {
        let h = &mut self.out;
        let seq = h.seq.to_le_bytes();
        let mac = hmac_md5(&h.sign, &[&seq, data]);
        h.rc4.apply(data);
        let mut checksum: [u8; 8] = mac[..8].try_into().expect("8 bytes");
        h.rc4.apply(&mut checksum);
        h.seq += 1;
        let mut sig = [0u8; 16];
        sig[0] = 1;
        sig[4..12].copy_from_slice(&checksum);
        sig[12..].copy_from_slice(&seq);
        sig
    }

    /// Decrypts `data` in place and checks its signature.
    pub fn unseal(&mut self, data: &mut [u8], sig: &[u8]) -> Result<(), NtlmError> {
        if sig.len() != 16 || sig[0..4] != [1, 0, 0, 0] {
            return Err(NtlmError("sealed message has no valid NTLM signature".into()));
        }
        let h = &mut self.inp;
        let seq = h.seq.to_le_bytes();
        h.rc4.apply(data);
        let mac = hmac_md5(&h.sign, &[&seq, data]);
        let mut checksum: [u8; 8] = mac[..8].try_into().expect("8 bytes");
        h.rc4.apply(&mut checksum);
        if sig[4..12] != checksum || sig[12..] != seq {
            return Err(NtlmError(
                "the NTLM signature of a sealed message does not match (tampered or out of order)".into(),
            ));
        }
        h.seq += 1;
        Ok(())
    }
}

/// Server side of the handshake, for the mock server: a CHALLENGE, then the
/// check of the client's NTLMv2 proof against a known password.
#[cfg(any(test, feature = "server"))]
pub mod server {
    use super::*;

    /// A CHALLENGE message with a fresh server challenge.
    pub fn challenge(server_challenge: [u8; 8], computer: &str) -> Vec<u8> {
        let time = ntlmclient::get_ntlm_time();
        let entries = [
            TargetInfoEntry::from_string(TargetInfoType::NtDomain, computer),
            TargetInfoEntry::from_string(TargetInfoType::NtServer, computer),
            TargetInfoEntry::from_string(TargetInfoType::DnsServer, &computer.to_lowercase()),
            TargetInfoEntry { entry_type: TargetInfoType::Timestamp, data: time.to_le_bytes().to_vec() },
            TargetInfoEntry { entry_type: TargetInfoType::Terminator, data: vec![] },
        ];
        // Written by hand: ntlmclient's encoder puts the Reserved field after the header,
        // which moves the target info where no parser (Windows' included) looks for it.
        let flags = client_flags() | Flags::TARGET_TYPE_SERVER | Flags::NEGOTIATE_TARGET_INFO;
        let name = utf16(computer);
        let info: Vec<u8> = entries.iter().flat_map(TargetInfoEntry::to_bytes).collect();
        let mut out = b"NTLMSSP\0".to_vec();
        out.extend_from_slice(&2u32.to_le_bytes());
        field(&mut out, name.len(), 56);
        out.extend_from_slice(&flags.bits().to_le_bytes());
        out.extend_from_slice(&server_challenge);
        out.extend_from_slice(&[0; 8]);
        field(&mut out, info.len(), 56 + name.len());
        out.extend_from_slice(&[10, 0, 0x61, 0x4A, 0, 0, 0, 15]);
        out.extend_from_slice(&name);
        out.extend_from_slice(&info);
        out
    }

    /// How the server checks the channel binding (Windows' `CbtHardeningLevel`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub enum Cbt {
        /// Not checked.
        None,
        /// Checked when the client sends one.
        #[default]
        Relaxed,
        /// Required (Extended Protection for Authentication).
        Strict,
    }

    /// What a server saw of one handshake, and how strict it is.
    pub struct Check<'a> {
        /// The NEGOTIATE and CHALLENGE messages exchanged before the AUTHENTICATE.
        pub negotiate: &'a [u8],
        pub challenge: &'a [u8],
        pub server_challenge: [u8; 8],
        /// The channel binding of the TLS connection the client came over, if any.
        pub channel_binding: Option<[u8; 16]>,
        pub cbt: Cbt,
        /// Refuse an AUTHENTICATE without a MIC.
        pub require_mic: bool,
    }

    /// The AV pairs of an NTLMv2 response's blob.
    fn av_pairs(temp: &[u8]) -> Vec<TargetInfoEntry> {
        let mut out = Vec::new();
        let mut rest = temp.get(28..).unwrap_or(&[]);
        while let Ok((e, r)) = TargetInfoEntry::try_from_bytes(rest) {
            if e.entry_type == TargetInfoType::Terminator {
                break;
            }
            out.push(e);
            rest = r;
        }
        out
    }

    /// Checks an AUTHENTICATE against `user`/`password`, its MIC and its channel
    /// binding; returns the user name and the exported session key.
    pub fn verify(
        authenticate: &[u8],
        check: &Check<'_>,
        user: &str,
        password: &str,
    ) -> Result<(String, [u8; 16]), NtlmError> {
        let Ok(Message::Authenticate(a)) = Message::try_from(authenticate) else {
            return Err(NtlmError("not an NTLM AUTHENTICATE message".into()));
        };
        let (want_user, want_domain) = split_user(user);
        if !a.user_name.eq_ignore_ascii_case(&want_user) {
            return Err(NtlmError(format!("unknown user {}", a.user_name)));
        }
        if a.ntlm_response.len() < 16 + 28 {
            return Err(NtlmError("NTLMv2 response too short (NTLMv1 is refused)".into()));
        }
        let creds = Credentials {
            username: a.user_name.clone(),
            password: password.to_string(),
            domain: a.domain_name.clone(),
        };
        if !want_domain.is_empty() && !a.domain_name.eq_ignore_ascii_case(&want_domain) {
            return Err(NtlmError(format!("wrong domain {}", a.domain_name)));
        }
        let key = ntlmclient::ntlm_v2_password_func(&creds);
        let (proof, temp) = a.ntlm_response.split_at(16);
        let expected = hmac_md5(&key, &[&check.server_challenge, temp]);
        if proof != expected {
            return Err(NtlmError("wrong password".into()));
        }
        let base = hmac_md5(&key, &[proof]);
        let session_key = if a.flags.contains(Flags::NEGOTIATE_KEY_EXCHANGE) && a.session_key.len() == 16 {
            let mut k: [u8; 16] = a.session_key.as_slice().try_into().expect("16 bytes");
            Rc4::new(&base).apply(&mut k);
            k
        } else {
            base
        };
        let pairs = av_pairs(temp);
        let av = |t: TargetInfoType| pairs.iter().find(|e| e.entry_type == t).map(|e| e.data.clone());
        let av_flags = av(TargetInfoType::Flags)
            .and_then(|d| d.get(..4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            .unwrap_or(0);
        if av_flags & AV_FLAG_MIC != 0 {
            let mut zeroed = authenticate.to_vec();
            let mic = zeroed.get_mut(MIC_OFFSET..MIC_OFFSET + 16).ok_or_else(|| NtlmError("no MIC".into()))?;
            let sent: Vec<u8> = mic.to_vec();
            mic.fill(0);
            if hmac_md5(&session_key, &[check.negotiate, check.challenge, &zeroed]).as_slice() != sent {
                return Err(NtlmError("the MIC does not match the messages".into()));
            }
        } else if check.require_mic {
            return Err(NtlmError("no MIC".into()));
        }
        let sent_cbt = av(TargetInfoType::ChannelBindings).filter(|d| d.iter().any(|b| *b != 0));
        match (check.cbt, check.channel_binding, sent_cbt) {
            (Cbt::None, _, _) | (_, None, _) => {}
            (Cbt::Relaxed, Some(_), None) => {}
            (_, Some(want), Some(got)) if got == want => {}
            (_, Some(_), _) => return Err(NtlmError("channel binding missing or wrong".into())),
        }
        Ok((a.user_name, session_key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// MS-NLMP 4.2.4.4: GSS_WrapEx with extended session security and key exchange.
    #[test]
    fn ms_nlmp_sealing_vector() {
        let key = [0x55u8; 16];
        assert_eq!(md5(&[&key, C2S_SEAL]).to_vec(), hex("59f600973cc4960a25480a7c196e4c58"));
        assert_eq!(md5(&[&key, C2S_SIGN]).to_vec(), hex("4788dc861b4782f35d43fd98fe1a2d39"));
        let mut s = Sealing::client(&key);
        let mut data: Vec<u8> = "Plaintext".encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        let sig = s.seal(&mut data);
        assert_eq!(data, hex("54e50165bf1936dc996020c1811b0f06fb5f"));
        assert_eq!(sig.to_vec(), hex("010000007fb38ec5c55d497600000000"));
    }

    #[test]
    fn rc4_known_answer() {
        // RFC 6229-style check: key "Key", plaintext "Plaintext".
        let mut d = b"Plaintext".to_vec();
        Rc4::new(b"Key").apply(&mut d);
        assert_eq!(d, hex("bbf316e8d940af0ad3"));
    }

    #[test]
    fn handshake_and_sealing_roundtrip() {
        let neg = negotiate();
        assert!(neg.starts_with(b"NTLMSSP\0\x01\0\0\0"));
        let sc: [u8; 8] = random();
        let ch = server::challenge(sc, "HV01");
        let auth = authenticate(&neg, &ch, "HV01\\Administrator", "Passw0rd!", None).unwrap();
        // The session key never travels in clear.
        assert!(!auth.message.windows(16).any(|w| w == auth.session_key));
        let check = server::Check {
            negotiate: &neg,
            challenge: &ch,
            server_challenge: sc,
            channel_binding: None,
            cbt: server::Cbt::Strict,
            require_mic: true,
        };
        let (user, key) = server::verify(&auth.message, &check, "hv01\\administrator", "Passw0rd!").unwrap();
        assert_eq!(user, "Administrator");
        assert_eq!(key, auth.session_key);
        assert!(server::verify(&auth.message, &check, "HV01\\Administrator", "wrong").is_err());
        let other = server::Check { server_challenge: [0; 8], ..check };
        assert!(server::verify(&auth.message, &other, "HV01\\Administrator", "Passw0rd!").is_err());
        let (mut c, mut s) = (Sealing::client(&key), Sealing::server(&key));
        for msg in ["<s:Envelope/>", "second message, same RC4 stream", ""] {
            let mut d = msg.as_bytes().to_vec();
            let sig = c.seal(&mut d);
            s.unseal(&mut d, &sig).unwrap();
            assert_eq!(d, msg.as_bytes());
            let mut r = format!("reply to {msg}").into_bytes();
            let sig = s.seal(&mut r);
            c.unseal(&mut r, &sig).unwrap();
        }
        let mut d = b"tampered".to_vec();
        let sig = c.seal(&mut d);
        d[0] ^= 1;
        assert!(s.unseal(&mut d, &sig).is_err());
    }

    #[test]
    fn mic_and_channel_binding() {
        let neg = negotiate();
        let sc: [u8; 8] = random();
        let ch = server::challenge(sc, "HV01");
        let cert = b"0\x82 a certificate signed with sha256WithRSAEncryption".to_vec();
        let cbt = channel_bindings(&cert);
        let check = |binding: Option<[u8; 16]>, cbt: server::Cbt| server::Check {
            negotiate: &neg,
            challenge: &ch,
            server_challenge: sc,
            channel_binding: binding,
            cbt,
            require_mic: true,
        };
        let with = authenticate(&neg, &ch, "u", "pw", Some(cbt)).unwrap();
        let without = authenticate(&neg, &ch, "u", "pw", None).unwrap();
        let strict = check(Some(cbt), server::Cbt::Strict);
        assert!(server::verify(&with.message, &strict, "u", "pw").is_ok());
        let e = server::verify(&without.message, &strict, "u", "pw").unwrap_err();
        assert!(e.0.contains("channel binding"), "{e:?}");
        assert!(server::verify(&without.message, &check(Some(cbt), server::Cbt::Relaxed), "u", "pw").is_ok());
        let other = check(Some(channel_bindings(b"another certificate")), server::Cbt::Relaxed);
        assert!(
            server::verify(&with.message, &other, "u", "pw").is_err(),
            "a wrong binding is refused even when relaxed"
        );
        // The MIC covers all three messages: a changed byte anywhere is refused.
        let mut tampered = with.message.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1; // the encrypted session key, outside the NTLMv2 proof
        assert!(server::verify(&tampered, &strict, "u", "pw").unwrap_err().0.contains("MIC"));
        let other_neg = {
            let mut n = neg.clone();
            n[12] ^= 0x01;
            n
        };
        let changed = server::Check { negotiate: &other_neg, ..strict };
        assert!(server::verify(&with.message, &changed, "u", "pw").unwrap_err().0.contains("MIC"));
        // RFC 5929: SHA-384-signed certificates are hashed with SHA-384.
        let ecdsa384 = [0x30, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x03];
        assert_eq!(cert_hash_algorithm(&ecdsa384), &ring::digest::SHA384);
        assert_eq!(cert_hash_algorithm(&cert), &ring::digest::SHA256);
    }

    #[test]
    fn user_forms() {
        assert_eq!(split_user("DOM\\u"), ("u".into(), "DOM".into()));
        assert_eq!(split_user("u@dom.example"), ("u".into(), "dom.example".into()));
        assert_eq!(split_user("u"), ("u".into(), "".into()));
    }
}
