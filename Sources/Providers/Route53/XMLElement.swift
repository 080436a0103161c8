import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A parsed XML document as a small tree, enough for Route 53's answers: element names without
/// namespace prefixes, text content, children in order. Parsed by Foundation's XMLParser
/// (libxml2), with external entities off.
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
        first(path[...]).map { $0.text.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    static func parse(_ bytes: [UInt8]) -> XMLNode? {
        let parser = XMLParser(data: Data(bytes))
        parser.shouldResolveExternalEntities = false
        let builder = Builder()
        parser.delegate = builder
        guard parser.parse(), let root = builder.root else { return nil }
        return root
    }

    private final class Builder: NSObject, XMLParserDelegate {
        var stack: [XMLNode] = []
        var root: XMLNode?
        /// Route 53's answers are a few levels deep; a document nested deeper is not one.
        let depthLimit = 32

        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                    qualifiedName: String?, attributes: [String: String] = [:]) {
            guard stack.count < depthLimit else { parser.abortParsing(); return }
            let local = elementName.split(separator: ":").last.map(String.init) ?? elementName
            stack.append(XMLNode(name: local))
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            guard !stack.isEmpty else { return }
            stack[stack.count - 1].text += string
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
            guard let node = stack.popLast() else { return }
            if stack.isEmpty { root = node } else { stack[stack.count - 1].children.append(node) }
        }
    }
}
