//! Property tests over everything the WinRM client parses from the network:
//! SOAP responses, CLIXML, NTLM challenges, sealed bodies. No input panics.

use csx_winrm::{clixml, http, ntlm, soap};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn soap_parsing_never_panics(s in "(<[a-z:]{0,6}( [a-z:]{1,5}=\"[^\"]{0,8}\")?/?>|</[a-z:]{0,6}>|[^<]{0,10}|&[a-z#0-9]{0,5};){0,30}") {
        if let Ok(els) = soap::elements(&s) {
            let _ = (soap::fault(&els), soap::shell_id(&els), soap::command_id(&els), soap::received(&els), soap::relates_to(&els));
        }
    }

    #[test]
    fn clixml_never_panics(s in "(#< CLIXML\r\n)?(<Objs>|<S S=\"[A-Za-z]{0,7}\">|</S>|</Objs>|_x[0-9A-Fa-f]{0,5}_|[^<_]{0,12}){0,20}") {
        let _ = clixml::decode(&s);
    }

    #[test]
    fn ntlm_challenges_never_panic(mut bytes in prop::collection::vec(any::<u8>(), 0..300), typed in any::<bool>()) {
        if typed && bytes.len() >= 12 {
            bytes[..12].copy_from_slice(b"NTLMSSP\0\x02\0\0\0");
        }
        let _ = ntlm::authenticate(&ntlm::negotiate(), &bytes, "HV01\\u", "pw", Some([7; 16]));
    }

    #[test]
    fn sealed_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut s = ntlm::Sealing::client(&[3; 16]);
        let mut framed = b"--Encrypted Boundary\r\n\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=4\r\n--Encrypted Boundary\r\n\tContent-Type: application/octet-stream\r\n".to_vec();
        framed.extend_from_slice(&body);
        prop_assert!(http::unseal(&mut s, &framed).is_err() || body.len() >= 24);
        let _ = http::unseal(&mut s, &body);
    }

    #[test]
    fn endpoints_never_panic(s in ".{0,60}") {
        let _ = http::Endpoint::parse(&s);
    }
}
