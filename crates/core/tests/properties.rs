//! Property tests: whatever the payload bytes, parsing never panics and always
//! ends in a payload or a bad-input error; whatever a reply holds, the rendered
//! document is one ASCII JSON object under the output cap.

use csx_core::output::MAX_OUTPUT;
use csx_core::{CustomResult, Error, ErrorKind, Outcome, Payload, PowerState, Reply};
use proptest::prelude::*;

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
        ".{0,20}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("externaldetails".to_string()),
                    Just("host".to_string()),
                    Just("cloudstack.vm.details".to_string()),
                    Just("nics".to_string()),
                    Just("details".to_string()),
                    Just("virtualmachinename".to_string()),
                    Just("maxRam".to_string()),
                    Just("cpus".to_string()),
                    Just("broadcastUri".to_string()),
                    Just("parameters".to_string()),
                    "[a-zA-Z]{1,8}",
                ],
                inner,
                0..8
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Err(e) = Payload::from_slice(&bytes) {
            prop_assert_eq!(e.kind(), ErrorKind::BadInput);
        }
    }

    #[test]
    fn arbitrary_json_parses_or_is_bad_input(v in json_value()) {
        match Payload::from_slice(v.to_string().as_bytes()) {
            Ok(p) => {
                // Every helper works on whatever was accepted.
                let _ = (p.instance_name(), p.cpus(), p.ram_mib(), p.detail(&csx_core::Key::operator("url", "")), p.is_deploy());
                for n in p.nics() {
                    let _ = n.vlan();
                }
            }
            Err(e) => prop_assert_eq!(e.kind(), ErrorKind::BadInput),
        }
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn rendered_output_is_one_small_ascii_json_object(msg in ".{0,300}", rows in 0usize..1500, n in 0usize..2500) {
        let table: Vec<_> = (0..rows).map(|i| {
            serde_json::json!({"name": format!("{msg}{i}"), "i": i}).as_object().cloned().unwrap_or_default()
        }).collect();
        let map = (0..n).map(|i| (format!("i-{i}-{msg}"), PowerState::On)).collect();
        for reply in [
            Reply::Done(Outcome::new(msg.clone())),
            Reply::Failed(Error::remote(msg.repeat(20))),
            Reply::Custom(CustomResult::Table(table)),
            Reply::Statuses(map),
        ] {
            let (text, code) = reply.render();
            prop_assert!(text.is_ascii());
            prop_assert!(text.len() <= MAX_OUTPUT);
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            prop_assert!(v.is_object());
            prop_assert_eq!(code == 0, v["status"] != "error");
        }
    }
}
