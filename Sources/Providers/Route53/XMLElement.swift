import FoundationShim

/// A parsed XML document as a small tree, enough for Route 53's answers: element names without
/// namespace prefixes, text content, children in order.
///
/// Read by `XMLReader` below rather than Foundation's XMLParser, which would link libxml2 and
/// ICU into the binary for a handful of elements. It reads what XML 1.0 puts in such answers
/// (elements, attributes, character and the five predefined entity references, CDATA,
/// comments, processing instructions) and refuses any document type declaration, so no entity
/// is ever defined or expanded.
struct XMLNode: Sendable {
    var name: String
    var text: String = ""
    var children: [XMLNode] = []

    /// The first descendant reached by following `path` ("ChangeInfo", "Id").
    func first(_ path: String...) -> XMLNode? { first(path[...]) }

    private func first(_ path: ArraySlice<String>) -> XMLNode? {
        guard let head = path.first else { return self }
        for child in children where child.name == head {
            if let found = child.first(path.dropFirst()) { return found }
        }
        return nil
    }

    /// Every child named `name`.
    func all(_ name: String) -> [XMLNode] { children.filter { $0.name == name } }

    /// The text of the first descendant at `path`, trimmed.
    func value(_ path: String...) -> String? {
        first(path[...]).map { $0.text.trimmingWhitespaceAndNewlines() }
    }

    /// The document's root element, or nil when `bytes` are not a well-formed document (or nest
    /// deeper than Route 53's answers ever do).
    static func parse(_ bytes: [UInt8]) -> XMLNode? {
        var reader = XMLReader(bytes: bytes)
        return reader.document()
    }
}

/// A strict reader of one XML document in UTF-8 (see `XMLNode`).
private struct XMLReader {
    let bytes: [UInt8]
    var index = 0
    /// Route 53's answers are a few levels deep; a document nested deeper is not one.
    let depthLimit = 32

    init(bytes: [UInt8]) {
        self.bytes = bytes
        // A UTF-8 byte order mark may lead.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
    }

    mutating func document() -> XMLNode? {
        var stack: [Open] = []
        var root: XMLNode?
        while index < bytes.count {
            if bytes[index] != UInt8(ascii: "<") {
                guard let text = characterData() else { return nil }
                if stack.isEmpty {
                    // Outside the root only white space may stand.
                    guard text.allSatisfy(\.isWhitespace) else { return nil }
                } else {
                    stack[stack.count - 1].text += text
                }
                continue
            }
            if skip("<?") {
                guard skip(past: "?>") else { return nil }
            } else if skip("<!--") {
                guard skip(past: "-->") else { return nil }
            } else if skip("<![CDATA[") {
                let start = index
                guard skip(past: "]]>"), !stack.isEmpty else { return nil }
                stack[stack.count - 1].text += String(decoding: bytes[start..<(index - 3)], as: UTF8.self)
            } else if skip("<!") {
                // A document type declaration: refused, entities and all.
                return nil
            } else if skip("</") {
                guard let name = name(), let open = stack.popLast(), open.qualifiedName == name else { return nil }
                skipSpace()
                guard skip(">") else { return nil }
                let node = open.node
                if stack.isEmpty {
                    guard root == nil else { return nil }
                    root = node
                } else {
                    stack[stack.count - 1].children.append(node)
                }
            } else {
                index += 1
                guard root == nil, stack.count < depthLimit, let name = name(), skipAttributes() else { return nil }
                let local = name.split(separator: ":").last.map(String.init) ?? name
                if skip("/>") {
                    let node = XMLNode(name: local)
                    if stack.isEmpty { root = node } else { stack[stack.count - 1].children.append(node) }
                } else {
                    guard skip(">") else { return nil }
                    stack.append(Open(qualifiedName: name, node: XMLNode(name: local)))
                }
            }
        }
        return stack.isEmpty ? root : nil
    }

    /// An element being read, with the name its end tag must repeat.
    private struct Open {
        var qualifiedName: String
        var node: XMLNode
        var text: String {
            get { node.text }
            set { node.text = newValue }
        }
        var children: [XMLNode] {
            get { node.children }
            set { node.children = newValue }
        }
    }

    /// Text up to the next "<", with references replaced; nil for a bad reference.
    private mutating func characterData() -> String? {
        var out: [UInt8] = []
        while index < bytes.count, bytes[index] != UInt8(ascii: "<") {
            if bytes[index] == UInt8(ascii: "&") {
                guard let scalar = reference() else { return nil }
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// "&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#NN;", "&#xHH;" at `index`.
    private mutating func reference() -> Unicode.Scalar? {
        guard let end = bytes[index...].firstIndex(of: UInt8(ascii: ";")), end - index <= 12 else { return nil }
        let body = String(decoding: bytes[(index + 1)..<end], as: UTF8.self)
        index = end + 1
        switch body {
        case "amp": return "&"
        case "lt": return "<"
        case "gt": return ">"
        case "quot": return "\""
        case "apos": return "'"
        default:
            let value: UInt32?
            if body.hasPrefix("#x") {
                value = UInt32(body.dropFirst(2), radix: 16)
            } else if body.hasPrefix("#") {
                value = UInt32(body.dropFirst(), radix: 10)
            } else {
                value = nil
            }
            // XML 1.0's Char: no NUL, no other C0 control but tab, CR, LF.
            guard let value, value >= 0x20 || value == 0x9 || value == 0xA || value == 0xD else { return nil }
            return Unicode.Scalar(value)
        }
    }

    /// An element name at `index`.
    private mutating func name() -> String? {
        let start = index
        while index < bytes.count, !Self.isSpace(bytes[index]), bytes[index] != UInt8(ascii: ">"),
              bytes[index] != UInt8(ascii: "/"), bytes[index] != UInt8(ascii: "="), bytes[index] != UInt8(ascii: "<") {
            index += 1
        }
        return index > start ? String(decoding: bytes[start..<index], as: UTF8.self) : nil
    }

    /// Attributes (name="value" or name='value'), read and dropped: Route 53's elements carry
    /// only namespace declarations.
    private mutating func skipAttributes() -> Bool {
        while true {
            skipSpace()
            guard index < bytes.count else { return false }
            if bytes[index] == UInt8(ascii: ">") || bytes[index] == UInt8(ascii: "/") { return true }
            guard name() != nil else { return false }
            skipSpace()
            guard skip("=") else { return false }
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") || bytes[index] == UInt8(ascii: "'") else { return false }
            let quote = bytes[index]
            index += 1
            guard let close = bytes[index...].firstIndex(of: quote), !bytes[index..<close].contains(UInt8(ascii: "<")) else { return false }
            index = close + 1
        }
    }

    private mutating func skipSpace() {
        while index < bytes.count, Self.isSpace(bytes[index]) { index += 1 }
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    /// Moves past `literal` when it stands at `index`.
    private mutating func skip(_ literal: StaticString) -> Bool {
        let text = literal.withUTF8Buffer { Array($0) }
        guard bytes.count - index >= text.count, bytes[index..<(index + text.count)].elementsEqual(text) else { return false }
        index += text.count
        return true
    }

    /// Moves past the next `literal`; false when there is none.
    private mutating func skip(past literal: StaticString) -> Bool {
        while index < bytes.count {
            if skip(literal) { return true }
            index += 1
        }
        return false
    }
}
