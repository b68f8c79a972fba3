//! A small element tree over quick-xml, keeping the line of every element.
//!
//! Only what a configuration file needs: element names, attributes, text
//! (character data, CDATA and references, concatenated) and children.
//! Comments, processing instructions, the XML declaration and a DOCTYPE are
//! skipped.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use quick_xml::XmlVersion;

/// One element, as written in the file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Element {
    /// The name as written (Lightstreamer compares names ignoring case).
    pub name: String,
    pub attrs: Vec<Attr>,
    pub children: Vec<Element>,
    /// All character data directly inside the element, untrimmed.
    pub text: String,
    /// 1-based line of the element's `<`.
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Attr {
    pub name: String,
    pub value: String,
}

impl Element {
    /// Whether the element is named `name`, ignoring ASCII case.
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// Whether the element carries nothing at all: no attribute, no child,
    /// only blank text. Lightstreamer treats such elements as not written.
    pub fn is_empty(&self) -> bool {
        self.attrs.is_empty() && self.children.is_empty() && self.text.trim().is_empty()
    }
}

/// Why the text is not a well-formed document.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct XmlError {
    pub line: u32,
    /// Names of the elements open where the problem was found, outermost
    /// first.
    pub open: Vec<String>,
    pub message: String,
}

/// Maps byte offsets of the text to 1-based lines.
pub(crate) struct Lines {
    /// Byte offset of every `\n`.
    newlines: Vec<usize>,
}

impl Lines {
    pub fn new(text: &str) -> Self {
        let newlines = text
            .bytes()
            .enumerate()
            .filter_map(|(i, b)| (b == b'\n').then_some(i))
            .collect();
        Self { newlines }
    }

    pub fn line_of(&self, offset: usize) -> u32 {
        let before = self.newlines.partition_point(|&nl| nl < offset);
        u32::try_from(before + 1).unwrap_or(u32::MAX)
    }
}

/// Parses `text` into its root element.
pub(crate) fn parse(text: &str) -> Result<Element, XmlError> {
    let lines = Lines::new(text);
    // A byte order mark is not part of the document.
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let body = &text[bom..];
    let mut reader = Reader::from_str(body);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;

    let fail = |stack: &[Element], offset: usize, message: String| XmlError {
        line: lines.line_of(bom + offset),
        open: stack.iter().map(|e| e.name.clone()).collect(),
        message,
    };

    loop {
        let start = to_usize(reader.buffer_position());
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(e) => {
                let at = to_usize(reader.error_position());
                return Err(fail(&stack, at, format!("invalid XML: {e}")));
            }
        };
        match event {
            Event::Start(tag) | Event::Empty(tag) if root.is_some() && stack.is_empty() => {
                let name = String::from_utf8_lossy(tag.name().as_ref()).into_owned();
                return Err(fail(
                    &stack,
                    start,
                    format!("invalid XML: element <{name}> after the end of the root element"),
                ));
            }
            Event::Start(tag) => {
                let element =
                    open(&tag, start, &lines, bom).map_err(|(at, m)| fail(&stack, at, m))?;
                stack.push(element);
            }
            Event::Empty(tag) => {
                let element =
                    open(&tag, start, &lines, bom).map_err(|(at, m)| fail(&stack, at, m))?;
                close(element, &mut stack, &mut root);
            }
            Event::End(_) => {
                // quick-xml has checked that the name matches the open tag.
                if let Some(element) = stack.pop() {
                    close(element, &mut stack, &mut root);
                }
            }
            Event::Text(t) => {
                let content = t
                    .xml10_content()
                    .map_err(|e| fail(&stack, start, format!("invalid text: {e}")))?;
                add_text(&mut stack, &content, start).map_err(|(at, m)| fail(&stack, at, m))?;
            }
            Event::CData(t) => {
                let content = t
                    .xml10_content()
                    .map_err(|e| fail(&stack, start, format!("invalid CDATA section: {e}")))?;
                add_text(&mut stack, &content, start).map_err(|(at, m)| fail(&stack, at, m))?;
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => {
                        let name = r
                            .xml10_content()
                            .map_err(|e| fail(&stack, start, format!("invalid reference: {e}")))?;
                        match quick_xml::escape::resolve_predefined_entity(&name) {
                            Some(s) => s.to_owned(),
                            None => {
                                return Err(fail(
                                    &stack,
                                    start,
                                    format!("invalid XML: unknown entity &{name};"),
                                ))
                            }
                        }
                    }
                    Err(e) => {
                        return Err(fail(
                            &stack,
                            start,
                            format!("invalid character reference: {e}"),
                        ))
                    }
                };
                add_text(&mut stack, &resolved, start).map_err(|(at, m)| fail(&stack, at, m))?;
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
    }

    if let Some(unclosed) = stack.last() {
        return Err(XmlError {
            line: unclosed.line,
            open: stack.iter().map(|e| e.name.clone()).collect(),
            message: format!("invalid XML: <{}> is never closed", unclosed.name),
        });
    }
    root.ok_or_else(|| XmlError {
        line: lines.line_of(text.len()),
        open: Vec::new(),
        message: "invalid XML: no root element".to_owned(),
    })
}

fn to_usize(position: u64) -> usize {
    usize::try_from(position).unwrap_or(usize::MAX)
}

/// A new element from its start tag, found at byte `start` of the body.
fn open(
    tag: &BytesStart<'_>,
    start: usize,
    lines: &Lines,
    bom: usize,
) -> Result<Element, (usize, String)> {
    let name = String::from_utf8_lossy(tag.name().as_ref()).into_owned();
    let mut attrs = Vec::new();
    for attr in tag.attributes() {
        // Attribute error positions count from the byte after `<`.
        let attr = attr.map_err(|e| {
            (
                start + 1 + attr_error_offset(&e),
                format!("invalid XML: {e}"),
            )
        })?;
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| (start, format!("invalid XML: attribute value: {e}")))?;
        attrs.push(Attr {
            name: String::from_utf8_lossy(attr.key.as_ref()).into_owned(),
            value: value.into_owned(),
        });
    }
    Ok(Element {
        name,
        attrs,
        children: Vec::new(),
        text: String::new(),
        line: lines.line_of(bom + start),
    })
}

fn attr_error_offset(e: &quick_xml::events::attributes::AttrError) -> usize {
    use quick_xml::events::attributes::AttrError;
    match e {
        AttrError::ExpectedEq(p)
        | AttrError::ExpectedValue(p)
        | AttrError::UnquotedValue(p)
        | AttrError::ExpectedQuote(p, _)
        | AttrError::Duplicated(p, _) => *p,
    }
}

fn close(element: Element, stack: &mut [Element], root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

/// Appends character data to the open element; outside the root only
/// whitespace is allowed.
fn add_text(stack: &mut [Element], content: &str, start: usize) -> Result<(), (usize, String)> {
    match stack.last_mut() {
        Some(element) => {
            element.text.push_str(content);
            Ok(())
        }
        None if content.trim().is_empty() => Ok(()),
        None => {
            let skipped = content.len() - content.trim_start().len();
            Err((
                start + skipped,
                "invalid XML: text outside the root element".to_owned(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_counted_from_one() {
        let lines = Lines::new("a\nb\n\nc");
        assert_eq!(lines.line_of(0), 1);
        assert_eq!(lines.line_of(1), 1);
        assert_eq!(lines.line_of(2), 2);
        assert_eq!(lines.line_of(4), 3);
        assert_eq!(lines.line_of(5), 4);
    }

    #[test]
    fn builds_a_tree_with_lines() {
        let text = "<?xml version=\"1.0\"?>\n<!-- c -->\n<root a=\"1 &amp; 2\">\n  <x>  v&lt;w  </x>\n  <y/><z><![CDATA[<raw>]]></z>\n</root>\n";
        let root = parse(text).unwrap();
        assert_eq!(root.name, "root");
        assert_eq!(root.line, 3);
        assert_eq!(
            root.attrs,
            vec![Attr {
                name: "a".into(),
                value: "1 & 2".into()
            }]
        );
        assert_eq!(root.children.len(), 3);
        assert_eq!(root.children[0].text, "  v<w  ");
        assert_eq!(root.children[0].line, 4);
        assert_eq!(root.children[1].name, "y");
        assert_eq!(root.children[1].line, 5);
        assert_eq!(root.children[2].text, "<raw>");
        assert!(root.children[1].is_empty());
    }

    #[test]
    fn character_references_are_resolved() {
        let root = parse("<r>&#65;&#x42;</r>").unwrap();
        assert_eq!(root.text, "AB");
    }

    #[test]
    fn a_mismatched_end_tag_is_reported_with_its_line() {
        let err = parse("<r>\n  <a>\n  </b>\n</r>").unwrap_err();
        assert_eq!(err.line, 3);
        assert_eq!(err.open, vec!["r".to_owned(), "a".to_owned()]);
        assert!(err.message.starts_with("invalid XML"), "{}", err.message);
    }

    #[test]
    fn an_unclosed_element_is_reported_at_its_start() {
        let err = parse("<r>\n  <a>\n").unwrap_err();
        assert_eq!(err.line, 2, "{err:?}");
    }

    #[test]
    fn unknown_entities_are_refused() {
        let err = parse("<r>\n&nope;</r>").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("&nope;"), "{}", err.message);
    }

    #[test]
    fn duplicate_attributes_are_refused() {
        let err = parse("<r>\n<a x=\"1\" x=\"2\"/></r>").unwrap_err();
        assert_eq!(err.line, 2);
    }

    #[test]
    fn a_second_root_or_stray_text_is_refused() {
        assert_eq!(parse("<r/>\n<s/>").unwrap_err().line, 2);
        assert_eq!(parse("<r/>\n\n  oops").unwrap_err().line, 3);
        assert!(parse("  ").is_err());
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let root = parse("\u{feff}<r>\n<a/></r>").unwrap();
        assert_eq!(root.children[0].line, 2);
    }
}
