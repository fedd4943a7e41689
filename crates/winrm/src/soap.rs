//! WS-Management (WinRS) SOAP: request envelopes, and response parsing by
//! namespace and local name (never by prefix).

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

pub const NS_SOAP: &str = "http://www.w3.org/2003/05/soap-envelope";
pub const NS_ADDRESSING: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing";
pub const NS_WSMAN: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd";
pub const NS_SHELL: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell";
pub const NS_FAULT: &str = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault";
const NS_MSWSMAN: &str = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd";
pub const RESOURCE_CMD: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd";

pub const ACTION_CREATE: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create";
pub const ACTION_DELETE: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete";
pub const ACTION_COMMAND: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command";
pub const ACTION_RECEIVE: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive";
pub const ACTION_SEND: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Send";
pub const ACTION_SIGNAL: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal";
pub const SIGNAL_TERMINATE: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate";

/// WSManFault code of the Receive operation timeout: "poll again".
pub const CODE_OPERATION_TIMEOUT: &str = "2150858793";

/// Escapes text for XML content and attribute values.
pub fn esc(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

/// Everything a request needs besides its body.
pub struct Header<'a> {
    pub to: &'a str,
    pub action: &'a str,
    pub message_id: &'a str,
    pub shell_id: Option<&'a str>,
    pub options: &'a [(&'a str, &'a str)],
    /// `OperationTimeout` in seconds.
    pub timeout_s: u32,
}

/// A complete request envelope.
pub fn envelope(h: &Header<'_>, body: &str) -> String {
    let mut x = String::with_capacity(1536 + body.len());
    x.push_str(r#"<?xml version="1.0" encoding="utf-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd" xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><env:Header>"#);
    x.push_str(&format!("<a:To>{}</a:To>", esc(h.to)));
    x.push_str(r#"<a:ReplyTo><a:Address mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>"#);
    x.push_str(r#"<w:MaxEnvelopeSize mustUnderstand="true">512000</w:MaxEnvelopeSize>"#);
    x.push_str(&format!("<a:MessageID>uuid:{}</a:MessageID>", esc(h.message_id)));
    x.push_str(
        r#"<w:Locale mustUnderstand="false" xml:lang="en-US"/><p:DataLocale mustUnderstand="false" xml:lang="en-US"/>"#,
    );
    x.push_str(&format!("<w:OperationTimeout>PT{}S</w:OperationTimeout>", h.timeout_s));
    x.push_str(&format!(r#"<w:ResourceURI mustUnderstand="true">{RESOURCE_CMD}</w:ResourceURI>"#));
    x.push_str(&format!(r#"<a:Action mustUnderstand="true">{}</a:Action>"#, esc(h.action)));
    if let Some(id) = h.shell_id {
        x.push_str(&format!(r#"<w:SelectorSet><w:Selector Name="ShellId">{}</w:Selector></w:SelectorSet>"#, esc(id)));
    }
    if !h.options.is_empty() {
        x.push_str("<w:OptionSet>");
        for (k, v) in h.options {
            x.push_str(&format!(r#"<w:Option Name="{}">{}</w:Option>"#, esc(k), esc(v)));
        }
        x.push_str("</w:OptionSet>");
    }
    x.push_str("</env:Header><env:Body>");
    x.push_str(body);
    x.push_str("</env:Body></env:Envelope>");
    x
}

pub fn body_create() -> String {
    "<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>".into()
}

pub fn body_command(command: &str, args: &[String]) -> String {
    let mut b = format!("<rsp:CommandLine><rsp:Command>{}</rsp:Command>", esc(command));
    for a in args {
        b.push_str(&format!("<rsp:Arguments>{}</rsp:Arguments>", esc(a)));
    }
    b.push_str("</rsp:CommandLine>");
    b
}

pub fn body_receive(command_id: &str) -> String {
    format!(
        r#"<rsp:Receive><rsp:DesiredStream CommandId="{}">stdout stderr</rsp:DesiredStream></rsp:Receive>"#,
        esc(command_id)
    )
}

pub fn body_send(command_id: &str, b64: &str, end: bool) -> String {
    format!(
        r#"<rsp:Send><rsp:Stream Name="stdin" CommandId="{}"{}>{b64}</rsp:Stream></rsp:Send>"#,
        esc(command_id),
        if end { r#" End="true""# } else { "" }
    )
}

pub fn body_signal(command_id: &str) -> String {
    format!(r#"<rsp:Signal CommandId="{}"><rsp:Code>{SIGNAL_TERMINATE}</rsp:Code></rsp:Signal>"#, esc(command_id))
}

/// A SOAP fault, with the fields pywinrm's WSManFaultError exposes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fault {
    pub code: String,
    pub subcode: String,
    pub reason: String,
    /// `f:WSManFault/@Code` (e.g. 2150858793 for the Receive timeout).
    pub wsman_code: String,
    pub machine: String,
}

impl Fault {
    /// The Receive operation timed out with no output: not an error, poll again.
    pub fn is_operation_timeout(&self) -> bool {
        self.wsman_code == CODE_OPERATION_TIMEOUT || self.subcode.rsplit(':').next() == Some("TimedOut")
    }
}

/// One element seen while parsing: namespace, local name, attributes, text.
#[derive(Debug, Default, Clone)]
pub struct Element {
    pub ns: String,
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub text: String,
}

impl Element {
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Flattens a document into its elements (with their direct text), by namespace.
pub fn elements(xml: &str) -> Result<Vec<Element>, String> {
    let mut r = NsReader::from_str(xml);
    let mut out: Vec<Element> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    loop {
        let ev = r.read_resolved_event().map_err(|e| format!("malformed XML: {e}"))?;
        let is_empty = matches!(ev.1, Event::Empty(_));
        match ev {
            (ns, Event::Start(e)) | (ns, Event::Empty(e)) => {
                let ns = match ns {
                    ResolveResult::Bound(n) => String::from_utf8_lossy(n.as_ref()).into_owned(),
                    _ => String::new(),
                };
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                let mut attrs = Vec::new();
                for a in e.attributes().flatten() {
                    let key = String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned();
                    let val = a.unescape_value().map(|v| v.into_owned()).unwrap_or_default();
                    attrs.push((key, val));
                }
                out.push(Element { ns, name, attrs, text: String::new() });
                if !is_empty {
                    stack.push(out.len() - 1);
                }
            }
            (_, Event::Text(t)) => {
                if let Some(&i) = stack.last() {
                    let t = t.unescape().map_err(|e| format!("malformed XML text: {e}"))?;
                    out[i].text.push_str(&t);
                }
            }
            (_, Event::CData(t)) => {
                if let Some(&i) = stack.last() {
                    out[i].text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            (_, Event::End(_)) => {
                stack.pop();
            }
            (_, Event::Eof) => break,
            _ => {}
        }
    }
    if out.is_empty() {
        return Err("empty XML document".into());
    }
    Ok(out)
}

/// The fault in a response, if it is one.
pub fn fault(els: &[Element]) -> Option<Fault> {
    if !els.iter().any(|e| e.is(NS_SOAP, "Fault")) {
        return None;
    }
    let mut f = Fault::default();
    let mut in_subcode = false;
    for e in els {
        if e.is(NS_SOAP, "Subcode") {
            in_subcode = true;
        } else if e.is(NS_SOAP, "Value") {
            if in_subcode {
                f.subcode = e.text.trim().to_string();
            } else if f.code.is_empty() {
                f.code = e.text.trim().to_string();
            }
        } else if e.is(NS_SOAP, "Text") && f.reason.is_empty() {
            f.reason = e.text.trim().to_string();
        } else if e.is(NS_FAULT, "WSManFault") {
            f.wsman_code = e.attr("Code").unwrap_or("").to_string();
            f.machine = e.attr("Machine").unwrap_or("").to_string();
        } else if e.is(NS_FAULT, "Message") && f.reason.is_empty() {
            f.reason = e.text.trim().to_string();
        } else if e.name == "error_Code" && f.wsman_code.is_empty() {
            f.wsman_code = e.text.trim().to_string();
        }
    }
    Some(f)
}

/// The ShellId of a Create response (`w:Selector Name="ShellId"`, else `rsp:ShellId`).
pub fn shell_id(els: &[Element]) -> Option<String> {
    els.iter()
        .find(|e| e.is(NS_WSMAN, "Selector") && e.attr("Name") == Some("ShellId"))
        .or_else(|| els.iter().find(|e| e.is(NS_SHELL, "ShellId")))
        .map(|e| e.text.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The CommandId of a Command response.
pub fn command_id(els: &[Element]) -> Option<String> {
    els.iter().find(|e| e.is(NS_SHELL, "CommandId")).map(|e| e.text.trim().to_string()).filter(|s| !s.is_empty())
}

/// What one Receive response carried.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Received {
    /// (stream name, base64 text) in document order.
    pub chunks: Vec<(String, String)>,
    pub done: bool,
    pub exit_code: Option<i32>,
}

pub fn received(els: &[Element]) -> Received {
    let mut r = Received::default();
    for e in els {
        if e.is(NS_SHELL, "Stream") {
            let text = e.text.trim();
            if !text.is_empty() {
                r.chunks.push((e.attr("Name").unwrap_or("").to_string(), text.to_string()));
            }
        } else if e.is(NS_SHELL, "CommandState") {
            r.done = e.attr("State").is_some_and(|s| s.ends_with("CommandState/Done"));
        } else if e.is(NS_SHELL, "ExitCode") {
            r.exit_code = e.text.trim().parse::<i64>().ok().map(|c| c as i32);
        }
    }
    r
}

/// `a:RelatesTo` of a response (the request's MessageID it answers).
pub fn relates_to(els: &[Element]) -> Option<String> {
    els.iter().find(|e| e.is(NS_ADDRESSING, "RelatesTo")).map(|e| e.text.trim().to_string())
}

/// The `a:Action` of a document (used by the mock to dispatch).
pub fn action(els: &[Element]) -> Option<String> {
    els.iter().find(|e| e.is(NS_ADDRESSING, "Action")).map(|e| e.text.trim().to_string())
}

/// The MS `p:` namespace is accepted as an alias of the DMTF one in selectors.
pub fn is_wsman_ns(ns: &str) -> bool {
    ns == NS_WSMAN || ns == NS_MSWSMAN
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREATE_RESPONSE: &str = r#"<s:Envelope xml:lang="en-US" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer"><s:Header><a:RelatesTo>uuid:1</a:RelatesTo></s:Header><s:Body><x:ResourceCreated><a:ReferenceParameters><w:SelectorSet><w:Selector Name="ShellId">
      11111111-1111-1111-1111-111111111113
    </w:Selector></w:SelectorSet></a:ReferenceParameters></x:ResourceCreated><rsp:Shell><rsp:ShellId>OTHER</rsp:ShellId></rsp:Shell></s:Body></s:Envelope>"#;

    #[test]
    fn parses_by_namespace_not_prefix() {
        let els = elements(CREATE_RESPONSE).unwrap();
        assert_eq!(shell_id(&els).as_deref(), Some("11111111-1111-1111-1111-111111111113"));
        assert_eq!(relates_to(&els).as_deref(), Some("uuid:1"));
        // Same document with other prefixes.
        let other = CREATE_RESPONSE.replace("w:", "wsman:").replace("xmlns:w=", "xmlns:wsman=");
        assert_eq!(shell_id(&elements(&other).unwrap()).as_deref(), Some("11111111-1111-1111-1111-111111111113"));
        // A selector in a different namespace does not count.
        let wrong = CREATE_RESPONSE.replace("http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd", "urn:other");
        assert_eq!(shell_id(&elements(&wrong).unwrap()).as_deref(), Some("OTHER"));
    }

    #[test]
    fn receive_and_faults() {
        let xml = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><s:Body><rsp:ReceiveResponse>
          <rsp:Stream Name="stdout" CommandId="C">aGVs</rsp:Stream><rsp:Stream Name="stdout" CommandId="C">bG8=</rsp:Stream>
          <rsp:Stream Name="stdout" CommandId="C" End="true"/><rsp:Stream Name="stderr" CommandId="C" End="true"></rsp:Stream>
          <rsp:CommandState CommandId="C" State="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"><rsp:ExitCode>-2</rsp:ExitCode></rsp:CommandState>
          </rsp:ReceiveResponse></s:Body></s:Envelope>"#;
        let r = received(&elements(xml).unwrap());
        assert_eq!(
            r.chunks,
            vec![("stdout".to_string(), "aGVs".to_string()), ("stdout".to_string(), "bG8=".to_string())]
        );
        assert!(r.done);
        assert_eq!(r.exit_code, Some(-2));
        let fault_xml = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Body><s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>w:TimedOut</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  </s:Text></s:Reason><s:Detail><f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" Code="2150858793" Machine="hv01"><f:Message>x</f:Message></f:WSManFault></s:Detail></s:Fault></s:Body></s:Envelope>"#;
        let f = fault(&elements(fault_xml).unwrap()).unwrap();
        assert!(f.is_operation_timeout());
        assert_eq!(f.code, "s:Receiver");
        assert_eq!(f.machine, "hv01");
        assert!(f.reason.starts_with("The WS-Management service"));
        assert!(fault(&elements(xml).unwrap()).is_none());
        assert!(elements("<a><b></a>").is_err());
        assert!(elements("").is_err());
    }

    #[test]
    fn requests_escape_values() {
        let h = Header {
            to: "https://h:5986/wsman",
            action: ACTION_COMMAND,
            message_id: "m",
            shell_id: Some("S<&>"),
            options: &[("K", "v\"")],
            timeout_s: 20,
        };
        let x = envelope(&h, &body_command("cmd & <x>", &["a\"b".into()]));
        assert!(x.contains("S&lt;&amp;&gt;") && x.contains("cmd &amp; &lt;x&gt;") && x.contains("a&quot;b"));
        let els = elements(&x).unwrap();
        assert!(els.iter().any(|e| e.is(NS_SHELL, "Command") && e.text == "cmd & <x>"));
    }
}
