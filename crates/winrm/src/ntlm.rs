//! NTLMv2 over `Negotiate`, with key exchange and message sealing (MS-NLMP).
//!
//! ntlmclient encodes and parses the three messages and computes the NTLMv2
//! response; this module assembles the AUTHENTICATE message itself (ntlmclient's
//! own helper would put the session key on the wire in clear), performs the key
//! exchange, and implements signing and sealing for the plain-HTTP listener.

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use ntlmclient::{
    AuthenticateMessage, ChallengeMessage, Credentials, Flags, Message, NegotiateMessage, OsVersion, TargetInfoEntry,
};

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

/// RC4, the stream cipher NTLM seals with (its state persists across messages).
#[derive(Clone)]
pub struct Rc4 {
    s: [u8; 256],
    i: u8,
    j: u8,
}

impl Rc4 {
    pub fn new(key: &[u8]) -> Rc4 {
        let mut s = [0u8; 256];
        for (i, v) in s.iter_mut().enumerate() {
            *v = i as u8;
        }
        let mut j: u8 = 0;
        for i in 0..256 {
            j = j.wrapping_add(s[i]).wrapping_add(key[i % key.len()]);
            s.swap(i, j as usize);
        }
        Rc4 { s, i: 0, j: 0 }
    }

    pub fn apply(&mut self, data: &mut [u8]) {
        for b in data.iter_mut() {
            self.i = self.i.wrapping_add(1);
            self.j = self.j.wrapping_add(self.s[self.i as usize]);
            self.s.swap(self.i as usize, self.j as usize);
            let k = self.s[(self.s[self.i as usize].wrapping_add(self.s[self.j as usize])) as usize];
            *b ^= k;
        }
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

/// Answers a CHALLENGE (leg 2) with an AUTHENTICATE (leg 3).
pub fn authenticate(challenge: &[u8], user: &str, password: &str) -> Result<Authenticated, NtlmError> {
    let Ok(Message::Challenge(ch)) = Message::try_from(challenge) else {
        return Err(NtlmError("the server's NTLM challenge could not be parsed".into()));
    };
    let flags = ch.flags & client_flags() | Flags::NEGOTIATE_UNICODE;
    let (username, domain) = split_user(user);
    let creds = Credentials { username, password: password.to_string(), domain };
    let target_info: Vec<u8> = ch.target_information.iter().flat_map(TargetInfoEntry::to_bytes).collect();
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
    let msg = Message::Authenticate(AuthenticateMessage {
        // With a timestamp in the target info, MS-NLMP sends no LMv2 response.
        lm_response: vec![0; 24],
        ntlm_response: resp.ntlm_response,
        domain_name: creds.domain.clone(),
        user_name: creds.username.clone(),
        workstation_name: String::new(),
        session_key: encrypted,
        flags,
        os_version: OsVersion::default(),
    });
    let message =
        msg.to_bytes().map_err(|e| NtlmError(format!("cannot encode the NTLM AUTHENTICATE message: {e:?}")))?;
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
pub mod server {
    use super::*;
    use ntlmclient::TargetInfoType;

    /// A CHALLENGE message with a fresh server challenge.
    pub fn challenge(server_challenge: [u8; 8], computer: &str) -> Vec<u8> {
        let time = ntlmclient::get_ntlm_time();
        let entries = vec![
            TargetInfoEntry::from_string(TargetInfoType::NtDomain, computer),
            TargetInfoEntry::from_string(TargetInfoType::NtServer, computer),
            TargetInfoEntry::from_string(TargetInfoType::DnsServer, &computer.to_lowercase()),
            TargetInfoEntry { entry_type: TargetInfoType::Timestamp, data: time.to_le_bytes().to_vec() },
            TargetInfoEntry { entry_type: TargetInfoType::Terminator, data: vec![] },
        ];
        let msg = Message::Challenge(ChallengeMessage {
            target_name: computer.to_string(),
            flags: client_flags() | Flags::TARGET_TYPE_SERVER | Flags::NEGOTIATE_TARGET_INFO,
            challenge: server_challenge,
            context: (0, 0),
            target_information: entries,
            os_version: OsVersion::default(),
        });
        msg.to_bytes().expect("a CHALLENGE message always encodes")
    }

    /// Checks an AUTHENTICATE against `user`/`password`; returns the user name and
    /// the exported session key.
    pub fn verify(
        authenticate: &[u8],
        server_challenge: [u8; 8],
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
        let expected = hmac_md5(&key, &[&server_challenge, temp]);
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
        let auth = authenticate(&ch, "HV01\\Administrator", "Passw0rd!").unwrap();
        // The session key never travels in clear.
        assert!(!auth.message.windows(16).any(|w| w == auth.session_key));
        let (user, key) = server::verify(&auth.message, sc, "hv01\\administrator", "Passw0rd!").unwrap();
        assert_eq!(user, "Administrator");
        assert_eq!(key, auth.session_key);
        assert!(server::verify(&auth.message, sc, "HV01\\Administrator", "wrong").is_err());
        assert!(server::verify(&auth.message, [0; 8], "HV01\\Administrator", "Passw0rd!").is_err());

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
    fn user_forms() {
        assert_eq!(split_user("DOM\\u"), ("u".into(), "DOM".into()));
        assert_eq!(split_user("u@dom.example"), ("u".into(), "dom.example".into()));
        assert_eq!(split_user("u"), ("u".into(), "".into()));
    }
}
