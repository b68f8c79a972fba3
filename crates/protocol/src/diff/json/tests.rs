use super::*;

/// A JSON value as a client holds it: objects keep their members in order.
#[derive(Debug, Clone, PartialEq)]
enum V {
    Lit(String),
    Str(String),
    Arr(Vec<V>),
    Obj(Vec<(String, V)>),
}

/// A small general JSON reader (white space allowed, all escapes), written
/// for the tests apart from the encoder's strict one.
fn read(s: &str) -> V {
    fn skip(b: &[u8], i: &mut usize) {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    }
    fn string(b: &[u8], i: &mut usize) -> String {
        assert_eq!(b[*i], b'"');
        *i += 1;
        let mut out = String::new();
        while b[*i] != b'"' {
            if b[*i] == b'\\' {
                *i += 1;
                out.push(match b[*i] {
                    b'n' => '\n',
                    b't' => '\t',
                    c => c as char,
                });
            } else {
                out.push(b[*i] as char);
            }
            *i += 1;
        }
        *i += 1;
        out
    }
    fn value(b: &[u8], i: &mut usize) -> V {
        skip(b, i);
        let v = match b[*i] {
            b'"' => V::Str(string(b, i)),
            b'[' => {
                *i += 1;
                let mut items = Vec::new();
                loop {
                    skip(b, i);
                    if b[*i] == b']' {
                        *i += 1;
                        break;
                    }
                    if b[*i] == b',' {
                        *i += 1;
                    }
                    items.push(value(b, i));
                }
                V::Arr(items)
            }
            b'{' => {
                *i += 1;
                let mut members = Vec::new();
                loop {
                    skip(b, i);
                    match b[*i] {
                        b'}' => {
                            *i += 1;
                            break;
                        }
                        b',' => *i += 1,
                        _ => {
                            let k = string(b, i);
                            skip(b, i);
                            assert_eq!(b[*i], b':');
                            *i += 1;
                            members.push((k, value(b, i)));
                        }
                    }
                }
                V::Obj(members)
            }
            _ => {
                let start = *i;
                while *i < b.len() && !b",]} ".contains(&b[*i]) {
                    *i += 1;
                }
                V::Lit(String::from_utf8(b[start..*i].to_vec()).unwrap())
            }
        };
        skip(b, i);
        v
    }
    value(s.as_bytes(), &mut 0)
}

fn write(v: &V) -> String {
    match v {
        V::Lit(s) => s.clone(),
        V::Str(s) => format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")),
        V::Arr(items) => format!(
            "[{}]",
            items.iter().map(write).collect::<Vec<_>>().join(",")
        ),
        V::Obj(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}:{}", write(&V::Str(k.clone())), write(v)))
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

/// Applies an RFC 6902 patch (add, remove, replace) the way the clients'
/// libraries do: a new member goes at the end of its object.
fn apply(doc: &str, patch: &str) -> String {
    let mut doc = read(doc);
    let V::Arr(ops) = read(patch) else {
        panic!("a patch is an array")
    };
    for op in ops {
        let V::Obj(m) = op else {
            panic!("an op is an object")
        };
        let get = |k: &str| m.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let Some(V::Str(kind)) = get("op") else {
            panic!("op")
        };
        let Some(V::Str(path)) = get("path") else {
            panic!("path")
        };
        let tokens: Vec<String> = path
            .split('/')
            .skip(1)
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect();
        let (last, parents) = tokens.split_last().expect("no root operations");
        let mut at = &mut doc;
        for t in parents {
            at = match at {
                V::Arr(items) => &mut items[t.parse::<usize>().unwrap()],
                V::Obj(m) => &mut m.iter_mut().find(|(k, _)| k == t).unwrap().1,
                _ => panic!("{path}: no container"),
            };
        }
        match (kind.as_str(), at) {
            ("add", V::Arr(items)) => items.insert(last.parse().unwrap(), get("value").unwrap()),
            ("remove", V::Arr(items)) => {
                items.remove(last.parse().unwrap());
            }
            ("replace", V::Arr(items)) => {
                items[last.parse::<usize>().unwrap()] = get("value").unwrap()
            }
            ("add" | "replace", V::Obj(m)) => match m.iter_mut().find(|(k, _)| k == last) {
                Some(slot) => slot.1 = get("value").unwrap(),
                None if kind == "add" => m.push((last.clone(), get("value").unwrap())),
                None => panic!("{path}: replace of a missing member"),
            },
            ("remove", V::Obj(m)) => {
                let i = m.iter().position(|(k, _)| k == last).unwrap();
                m.remove(i);
            }
            (k, _) => panic!("{k} at {path}"),
        }
    }
    write(&doc)
}

#[test]
fn patches_give_the_new_text_back() {
    let cases = [
        (r#"{"a":1,"b":"x"}"#, r#"{"a":2,"b":"x"}"#),
        (r#"{"a":1,"b":"x"}"#, r#"{"a":1}"#),
        (r#"{"a":1}"#, r#"{"a":1,"c":[1,2]}"#),
        (
            r#"{"a":{"b":{"c":true}}}"#,
            r#"{"a":{"b":{"c":false,"d":null}}}"#,
        ),
        (r#"[1,2,3,4,5]"#, r#"[1,2,9,4,5]"#),
        (r#"[1,2,3,4,5]"#, r#"[1,2,5]"#),
        (r#"[1,2,3]"#, r#"[0,1,2,3,4]"#),
        (r#"[]"#, r#"[{"x":"y"}]"#),
        (r#"{"a/b":1,"c~d":2}"#, r#"{"a/b":3,"c~d":4}"#),
        (r#"{"q\"t":"a\\b"}"#, r#"{"q\"t":"c\\d"}"#),
        // Member order the client cannot reach in place: the object is replaced.
        (r#"{"o":{"a":1,"b":2}}"#, r#"{"o":{"b":2,"a":1}}"#),
        (r#"{"o":[1]}"#, r#"{"o":{"k":1}}"#),
        (r#"{"p":12.5,"n":-3}"#, r#"{"p":12.75,"n":-4}"#),
    ];
    for (old, new) in cases {
        let patch = json_patch(old, new).unwrap_or_else(|| panic!("{old} -> {new}"));
        assert_eq!(apply(old, &patch), new, "{old} -> {new}: {patch}");
        // Shoal's own decoder agrees.
        assert_eq!(
            apply_json_patch(old, &patch).as_deref(),
            Some(new),
            "{patch}"
        );
    }
}

#[test]
fn a_small_change_in_a_big_document_is_a_small_patch() {
    let items: Vec<String> = (0..50)
        .map(|i| format!(r#"{{"id":{i},"qty":10}}"#))
        .collect();
    let old = format!(r#"{{"book":[{}]}}"#, items.join(","));
    let new = old.replacen(r#"{"id":7,"qty":10}"#, r#"{"id":7,"qty":11}"#, 1);
    let patch = json_patch(&old, &new).unwrap();
    assert_eq!(
        patch,
        r#"[{"op":"replace","path":"/book/7/qty","value":11}]"#
    );
    assert_eq!(apply(&old, &patch), new);
}

#[test]
fn values_a_client_would_write_back_differently_get_no_patch() {
    let old = r#"{"a":1}"#;
    for new in [
        r#"{ "a": 2 }"#,               // white space
        r#"{"a":"é"}"#,                // not ASCII
        r#"{"a":"\u0041"}"#,           // an escape other than \" and \\
        r#"{"a":"\n"}"#,               // a control escape
        r#"{"a":1.0}"#,                // JavaScript writes 1
        r#"{"a":1e3}"#,                // an exponent
        r#"{"a":0.0001}"#,             // Java writes 1.0E-4
        r#"{"a":12345678.5}"#,         // Java writes 1.23456785E7
        r#"{"a":0.1234567890123456}"#, // more digits than a double keeps
        r#"{"a":9007199254740992}"#,   // past 2^53 - 1
        r#"{"a":-0}"#,
        r#"{"a":01}"#,
        r#"{"3":1,"a":1}"#, // JavaScript moves "3" first
        r#"{"a":1,"a":2}"#, // duplicate member
        r#"{"b":1,"a":1}"#, // kept member after a new one
        r#""text""#,        // not a container
        r#"[1]"#,           // not the same kind of container
        "{\"a\":1}\n",      // trailing text
        "not json",
    ] {
        assert_eq!(json_patch(old, new), None, "{new}");
    }
    assert_eq!(json_patch("[1] ", "[2]"), None);
    assert!(json_patch(r#"{"a":1}"#, r#"{"a":9007199254740991}"#).is_some());
    assert!(json_patch(r#"{"a":1}"#, r#"{"a":0.001}"#).is_some());
    assert!(json_patch(r#"{"a":1}"#, r#"{"a":9999999.99}"#).is_some());
}

#[test]
fn nesting_is_bounded() {
    let deep = "[".repeat(MAX_DEPTH + 2) + &"]".repeat(MAX_DEPTH + 2);
    assert_eq!(json_patch(&deep, "[]"), None);
    // So is length; a large object is diffed without quadratic lookups.
    let long = format!("[\"{}\"]", "x".repeat(MAX_LEN));
    assert_eq!(json_patch(&long, "[]"), None);
    let members: Vec<String> = (0..5000).map(|i| format!("\"k{i}\":{i}")).collect();
    let old = format!("{{{}}}", members.join(","));
    let new = old.replacen("\"k4999\":4999", "\"k4999\":0", 1);
    assert_eq!(
        json_patch(&old, &new).as_deref(),
        Some(r#"[{"op":"replace","path":"/k4999","value":0}]"#)
    );
}

#[test]
fn the_decoder_refuses_what_does_not_apply() {
    let old = r#"{"a":[1,2]}"#;
    for patch in [
        r#"[{"op":"remove","path":"/b"}]"#,
        r#"[{"op":"replace","path":"/b","value":1}]"#,
        r#"[{"op":"add","path":"/a/3","value":1}]"#,
        r#"[{"op":"move","path":"/a","from":"/b"}]"#,
        r#"[{"op":"add","path":"","value":1}]"#,
        r#"{"op":"add"}"#,
        "not a patch",
    ] {
        assert_eq!(apply_json_patch(old, patch), None, "{patch}");
    }
    assert_eq!(apply_json_patch(old, "[]").as_deref(), Some(old));
}

/// Canonical JSON documents: small member names (some with `~` and `/`),
/// integers, decimals, strings and literals, nested a few levels.
fn document() -> impl proptest::strategy::Strategy<Value = V> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        (-1000i64..1000).prop_map(|n| V::Lit(n.to_string())),
        (0u32..1000, 1u32..10).prop_map(|(i, f)| V::Lit(format!("{i}.{f}"))),
        "[a-c ]{0,4}".prop_map(V::Str),
        prop_oneof![Just("true"), Just("false"), Just("null")].prop_map(|s| V::Lit(s.into())),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(V::Arr),
            proptest::collection::vec(("[a-c~/]{1,2}", inner), 0..5).prop_map(|members| {
                let mut seen = std::collections::HashSet::new();
                V::Obj(
                    members
                        .into_iter()
                        .filter(|(k, _)| seen.insert(k.clone()))
                        .collect(),
                )
            }),
        ]
    })
}

proptest::proptest! {
    #[test]
    fn any_patch_applies_to_the_new_text(old in document(), new in document()) {
        let (old, new) = (write(&old), write(&new));
        if let Some(patch) = json_patch(&old, &new) {
            proptest::prop_assert_eq!(apply(&old, &patch), new.clone());
            proptest::prop_assert_eq!(apply_json_patch(&old, &patch), Some(new));
        }
    }

    #[test]
    fn documents_of_one_shape_always_get_a_patch(
        old in proptest::collection::vec(("[a-c]{1,2}", document()), 1..6),
        change in document(),
        at in 0usize..6,
    ) {
        let mut seen = std::collections::HashSet::new();
        let old: Vec<(String, V)> = old.into_iter().filter(|(k, _)| seen.insert(k.clone())).collect();
        let mut new = old.clone();
        let i = at % new.len();
        new[i].1 = change;
        let (old, new) = (write(&V::Obj(old)), write(&V::Obj(new)));
        let patch = json_patch(&old, &new);
        proptest::prop_assert!(patch.is_some(), "{} -> {}", old, new);
        let patch = patch.unwrap_or_default();
        proptest::prop_assert_eq!(apply(&old, &patch), new);
    }
}
