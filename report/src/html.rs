//! A small HTML tree whose text and attribute values are always escaped when written: the
//! report shows names from elsewhere (image references, chart values, package metadata), and
//! none of them may become markup. Only `'static` strings (the page's own style and script)
//! are written as they are.

#[derive(Debug, Clone)]
pub enum Node {
    Element(Element),
    Text(String),
    /// The page's own style or script, compiled in; never anything read from a bundle.
    Static(&'static str),
}

#[derive(Debug, Clone)]
pub struct Element {
    tag: &'static str,
    attributes: Vec<(&'static str, String)>,
    children: Vec<Node>,
}

/// Elements with no content and no end tag.
const VOID: [&str; 3] = ["meta", "input", "br"];

pub fn el(tag: &'static str) -> Element {
    Element {
        tag,
        attributes: Vec::new(),
        children: Vec::new(),
    }
}

pub fn text(value: impl Into<String>) -> Node {
    Node::Text(value.into())
}

impl Element {
    #[must_use]
    pub fn attr(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.attributes.push((name, value.into()));
        self
    }

    #[must_use]
    pub fn class(self, value: &'static str) -> Self {
        self.attr("class", value)
    }

    #[must_use]
    pub fn child(mut self, node: impl Into<Node>) -> Self {
        self.children.push(node.into());
        self
    }

    #[must_use]
    pub fn children(mut self, nodes: impl IntoIterator<Item = impl Into<Node>>) -> Self {
        self.children.extend(nodes.into_iter().map(Into::into));
        self
    }

    #[must_use]
    pub fn text(self, value: impl Into<String>) -> Self {
        self.child(text(value))
    }
}

impl From<Element> for Node {
    fn from(element: Element) -> Self {
        Self::Element(element)
    }
}

fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab and newline have no place in a page.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}

impl Node {
    pub fn write(&self, out: &mut String) {
        match self {
            Self::Text(value) => escape_into(out, value),
            Self::Static(value) => out.push_str(value),
            Self::Element(element) => {
                out.push('<');
                out.push_str(element.tag);
                for (name, value) in &element.attributes {
                    out.push(' ');
                    out.push_str(name);
                    out.push_str("=\"");
                    escape_into(out, value);
                    out.push('"');
                }
                out.push('>');
                if VOID.contains(&element.tag) {
                    return;
                }
                for child in &element.children {
                    child.write(out);
                }
                out.push_str("</");
                out.push_str(element.tag);
                out.push('>');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_attributes_cannot_become_markup() {
        let node: Node = el("td")
            .attr("title", "\"><script>alert(1)</script>")
            .text("<img src=x onerror=alert(1)> & 'q' \u{7}")
            .into();
        let mut out = String::new();
        node.write(&mut out);
        assert_eq!(
            out,
            "<td title=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\">&lt;img src=x \
             onerror=alert(1)&gt; &amp; &#39;q&#39; \u{fffd}</td>"
        );
    }
}
