/// Any JSON value, for error bodies whose shape depends on what went wrong (deSEC's field
/// errors: `{"ttl": ["…"]}`, or one such object per item of a bulk request).
enum JSONValue: Decodable, Sendable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    /// Every string in it, prefixed with the key that holds it ("ttl: Ensure this value …"),
    /// in key order; at most `limit`.
    func messages(limit: Int = 10) -> [String] {
        var found: [String] = []
        func walk(_ value: JSONValue, _ key: String?) {
            guard found.count < limit else { return }
            switch value {
            case .string(let text): found.append(key.map { "\($0): \(text)" } ?? text)
            case .array(let items): items.forEach { walk($0, key) }
            case .object(let fields): fields.sorted { $0.key < $1.key }.forEach { walk($0.value, $0.key == "detail" ? key : $0.key) }
            case .number, .bool, .null: break
            }
        }
        walk(self, nil)
        return found
    }
}
