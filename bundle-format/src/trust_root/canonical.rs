//! Canonical JSON as The Update Framework signs it (the OLPC form securesystemslib writes):
//! object keys sorted, no whitespace, strings escaping only `"` and `\`, integers only.

use serde_json::Value;

pub fn encode(value: &Value) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    write(value, &mut out)?;
    Ok(out)
}

fn write(value: &Value, out: &mut Vec<u8>) -> Result<(), String> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => {
            if n.is_f64() {
                return Err(format!(
                    "{n} is not an integer, and canonical JSON has no other numbers"
                ));
            }
            out.extend_from_slice(n.to_string().as_bytes());
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write(&map[key], out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for byte in s.bytes() {
        if byte == b'"' || byte == b'\\' {
            out.push(b'\\');
        }
        out.push(byte);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sorted_no_spaces_minimal_escapes() {
        let value: Value = serde_json::from_str(
            r#"{"b": [1, true, null], "a": "q\"u\\o\nte", "é": {"z": 0, "y": -3}}"#,
        )
        .unwrap_or_default();
        assert_eq!(
            String::from_utf8(encode(&value).unwrap_or_default()).unwrap_or_default(),
            "{\"a\":\"q\\\"u\\\\o\nte\",\"b\":[1,true,null],\"é\":{\"y\":-3,\"z\":0}}"
        );
        let float: Value = serde_json::from_str("{\"x\": 1.5}").unwrap_or_default();
        assert!(encode(&float).is_err());
    }
}
