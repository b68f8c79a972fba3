//! `UD3` updates, read lazily, and `DFD` declarations.
//!
//! An update is `<t>|UD3|S|<item>|S|<sub id>|B|<snapshot>` followed by one
//! `S|<field>|S|<value>` (or `S|<field>|Y|<base64>`) group per field.
//! [`Update::fields`] walks the groups one at a time: nothing is allocated
//! for a field whose name and value are unescaped.

use std::borrow::Cow;

use base64::Engine as _;

use crate::error::{ParseError, ParseErrorKind};
use crate::modes::DiffAlgorithm;
use crate::tokens::Tokens;

use super::{item_ref, ItemRef};

/// A `UD3` line.
#[derive(Debug, Clone)]
pub struct Update<'a> {
    pub item: Cow<'a, str>,
    /// The id of the `SUB` request that opened the subscription.
    pub sub_id: Cow<'a, str>,
    /// Whether the update is part of the item's snapshot.
    pub snapshot: bool,
    fields: Fields<'a>,
}

impl<'a> Update<'a> {
    /// The fields, decoded as they are iterated. Iterate a clone first to
    /// validate the whole line when an update must apply all-or-nothing.
    pub fn fields(&self) -> Fields<'a> {
        self.fields.clone()
    }
}

/// A lazy iterator over the fields of an update. After an error it ends.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    tokens: Tokens<'a>,
    failed: bool,
}

/// One field of an update.
#[derive(Debug, Clone, PartialEq)]
pub struct Field<'a> {
    pub name: Cow<'a, str>,
    pub value: FieldValue<'a>,
}

/// The value of a field.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    /// `S|#` (or `Y|#`).
    Null,
    /// `S|<text>`.
    Text(Cow<'a, str>),
    /// `Y|<base64>`: bytes, as the Python SDK sends a `bytes` value.
    Bytes(Base64<'a>),
}

/// A base64 token, decoded on demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Base64<'a>(&'a str);

/// A `Y` value is not valid (padded, standard alphabet) base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid base64 value")]
pub struct InvalidBase64;

impl<'a> Base64<'a> {
    /// The token as received.
    pub fn as_str(&self) -> &'a str {
        self.0
    }

    /// Decodes the bytes, appending them to `out`.
    pub fn decode_into(&self, out: &mut Vec<u8>) -> Result<(), InvalidBase64> {
        base64::engine::general_purpose::STANDARD
            .decode_vec(self.0, out)
            .map_err(|_| InvalidBase64)
    }

    pub fn decode(&self) -> Result<Vec<u8>, InvalidBase64> {
        let mut out = Vec::new();
        self.decode_into(&mut out)?;
        Ok(out)
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Field<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.tokens.at_end() {
            return None;
        }
        let field = next_field(&mut self.tokens);
        self.failed = field.is_err();
        Some(field)
    }
}

fn next_field<'a>(t: &mut Tokens<'a>) -> Result<Field<'a>, ParseError> {
    // The Java SDK's update(IndexedItemEvent) writes `I|<index>` before each
    // field name; the name says the same, so the index is skipped.
    if t.next_is("I") {
        t.number::<i64>("I", "field index")?;
    }
    let name = t.string("field name")?;
    let pos = t.pos();
    let value = match t.raw("field value type")? {
        "S" => match t.value("field value")? {
            None => FieldValue::Null,
            Some(v) => FieldValue::Text(v),
        },
        "Y" => match t.raw("field value")? {
            "#" => FieldValue::Null,
            "$" => FieldValue::Bytes(Base64("")),
            b64 => FieldValue::Bytes(Base64(b64)),
        },
        other => {
            return Err(t.error(
                pos,
                ParseErrorKind::WrongType {
                    what: "field value",
                    expected: "S or Y",
                    found: other.to_owned(),
                },
            ))
        }
    };
    Ok(Field { name, value })
}

pub(super) fn parse_update(mut t: Tokens<'_>) -> Result<Update<'_>, ParseError> {
    let ItemRef { item, sub_id } = item_ref(&mut t)?;
    let snapshot = t.boolean("snapshot flag")?;
    Ok(Update {
        item,
        sub_id,
        snapshot,
        fields: Fields {
            tokens: t,
            failed: false,
        },
    })
}

/// A `DFD` line: per field, the diff algorithms its values may be sent
/// with, in order of preference.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDiffs<'a> {
    pub item: Cow<'a, str>,
    pub sub_id: Cow<'a, str>,
    /// `None`: no information (`#`); an empty list: no diff allowed (`$`).
    pub fields: Vec<(Cow<'a, str>, Option<Vec<DiffAlgorithm>>)>,
}

pub(super) fn parse_diffs<'a>(t: &mut Tokens<'a>) -> Result<FieldDiffs<'a>, ParseError> {
    let ItemRef { item, sub_id } = item_ref(t)?;
    let mut fields = Vec::new();
    while !t.at_end() {
        let name = t.string("field name")?;
        t.expect_type("F", "diff algorithms")?;
        let pos = t.pos();
        let algorithms = match t.raw("diff algorithms")? {
            "#" => None,
            "$" => Some(Vec::new()),
            letters => Some(
                letters
                    .chars()
                    .map(|c| {
                        DiffAlgorithm::from_letter(c).ok_or_else(|| {
                            t.error(pos, ParseErrorKind::BadAlgorithm(c.to_string()))
                        })
                    })
                    .collect::<Result<_, _>>()?,
            ),
        };
        fields.push((name, algorithms));
    }
    Ok(FieldDiffs {
        item,
        sub_id,
        fields,
    })
}
