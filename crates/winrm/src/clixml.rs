//! Decoding PowerShell's CLIXML stderr (`#< CLIXML` followed by `<Objs>`) into
//! readable text: every `<S>` record of the error, warning, verbose and debug
//! streams, `_xHHHH_` escapes decoded; progress records dropped.

const MARKER: &str = "#< CLIXML";

/// Decodes a whole stderr stream. Text outside CLIXML is kept as it is; CLIXML
/// that does not parse is returned raw rather than lost.
pub fn decode(stderr: &str) -> String {
    let Some(pos) = stderr.find(MARKER) else { return stderr.trim().to_string() };
    let before = stderr[..pos].trim();
    let rest = stderr[pos + MARKER.len()..].trim_start_matches(['\r', '\n']);
    let mut out: Vec<String> = Vec::new();
    if !before.is_empty() {
        out.push(before.to_string());
    }
    match records(rest) {
        Some(lines) => out.extend(lines),
        None => out.push(rest.trim().to_string()),
    }
    out.join("\n").trim().to_string()
}

fn records(xml: &str) -> Option<Vec<String>> {
    use quick_xml::events::Event;
    let mut r = quick_xml::Reader::from_str(xml);
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut current: Option<(String, String)> = None; // (stream, text)
    let mut line = String::new();
    loop {
        match r.read_event().ok()? {
            Event::Start(e) => {
                depth += 1;
                // Top-level <S S="Error"> records, directly under <Objs>.
                if depth == 2 && e.local_name().as_ref() == b"S" {
                    let stream = e
                        .attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == b"S")
                        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
                        .unwrap_or_default();
                    current = Some((stream, String::new()));
                }
            }
            Event::Text(t) => {
                if let Some((_, text)) = current.as_mut() {
                    text.push_str(&t.unescape().ok()?);
                }
            }
            Event::End(_) => {
                if depth == 2 {
                    if let Some((stream, text)) = current.take() {
                        let text = unescape_ps(&text);
                        let prefix = match stream.to_ascii_lowercase().as_str() {
                            "warning" => "WARNING: ",
                            "verbose" => "VERBOSE: ",
                            "debug" => "DEBUG: ",
                            _ => "",
                        };
                        // Records are console lines wrapped at the console width: join them.
                        line.push_str(&text);
                        if line.ends_with('\n') || !prefix.is_empty() {
                            for l in line.lines() {
                                let l = l.trim_end();
                                if !l.trim().is_empty() {
                                    out.push(format!("{prefix}{l}"));
                                }
                            }
                            line.clear();
                        }
                    }
                }
                depth = depth.saturating_sub(1);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    for l in line.lines().filter(|l| !l.trim().is_empty()) {
        out.push(l.trim_end().to_string());
    }
    Some(out)
}

/// Decodes `_xHHHH_` escapes (UTF-16 code units, surrogate pairs allowed).
pub fn unescape_ps(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut units: Vec<u16> = Vec::new();
    let mut out = String::new();
    let mut i = 0;
    let flush = |units: &mut Vec<u16>, out: &mut String| {
        if !units.is_empty() {
            out.push_str(&String::from_utf16_lossy(units));
            units.clear();
        }
    };
    while i < bytes.len() {
        if bytes[i] == b'_' && i + 7 <= bytes.len() && bytes[i + 1] == b'x' && bytes[i + 6] == b'_' {
            if let Ok(u) = u16::from_str_radix(&s[i + 2..i + 6], 16) {
                units.push(u);
                i += 7;
                continue;
            }
        }
        flush(&mut units, &mut out);
        let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
        out.push(ch);
        i += ch.len_utf8();
    }
    flush(&mut units, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// pywinrm's get_ps_output_response fixture, decoded: wrapped at console width.
    const PYWINRM: &str = "#< CLIXML\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\"><Obj S=\"progress\" RefId=\"0\"><TN RefId=\"0\"><T>System.Management.Automation.PSCustomObject</T></TN><MS><I64 N=\"SourceId\">1</I64><PR N=\"Record\"><AV>Preparing modules for first use.</AV></PR></MS></Obj><S S=\"Error\">Write-Error \"Error\" : Error_x000D__x000A_</S><S S=\"Error\">    + CategoryInfo          : NotSpecified: (:) [Write-Error], WriteErrorExcep _x000D__x000A_</S><S S=\"Error\">   tion_x000D__x000A_</S><S S=\"Error\">    + FullyQualifiedErrorId : Microsoft.PowerShell.Commands.WriteErrorExceptio _x000D__x000A_</S><S S=\"Error\">   n_x000D__x000A_</S><S S=\"Error\"> _x000D__x000A_</S></Objs>";

    #[test]
    fn pywinrm_fixture() {
        let d = decode(PYWINRM);
        assert!(d.starts_with("Write-Error \"Error\" : Error"), "{d}");
        assert!(!d.contains("Preparing modules"), "progress records are dropped: {d}");
        assert!(!d.contains("_x000D_"));
        assert!(d.contains("CategoryInfo"));
    }

    #[test]
    fn escapes_streams_and_garbage() {
        assert_eq!(unescape_ps("caf_x00E9_ _xD83D__xDE00_ _x_ _x12_"), "café 😀 _x_ _x12_");
        let w = "#< CLIXML\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\"><S S=\"warning\">disk is small</S><S S=\"Error\">boom_x000D__x000A_</S></Objs>";
        assert_eq!(decode(w), "WARNING: disk is small\nboom");
        assert_eq!(decode("plain text\r\n"), "plain text");
        // Truncated CLIXML still yields its records.
        assert_eq!(decode("before\n#< CLIXML\r\n<Objs><S S=\"Error\">x</S>"), "before\nx");
        // Broken XML is returned raw rather than lost.
        assert_eq!(decode("#< CLIXML\r\n<Objs><S S=\"Error\">x</T></Objs>"), "<Objs><S S=\"Error\">x</T></Objs>");
    }
}
