import DNS
import FoundationEssentials
import Glibc
import HTTP

/// The Route 53 API calls the provider makes (REST, version 2013-04-01), each signed with
/// SigV4 for service "route53" in us-east-1 (Route 53 is global), and its XML answers read.
struct Route53Client: Sendable {
    let endpoint: String
    let signer: AWSSignatureV4
    let transport: any HTTPTransport
    static let version = "2013-04-01"
    static let bodyLimit = 4 << 20

    struct Failure: Error, Sendable, CustomStringConvertible {
        var description: String
        /// Route 53's error code ("InvalidChangeBatch", "Throttling", …).
        var code: String?
    }

    /// One TXT record set as Route 53 holds it: values kept exactly as written ("\"abc\"",
    /// or several quoted strings), so a set written back changes only what dns01 changed.
    struct RecordSet: Sendable {
        var name: String
        var ttl: Int
        var values: [String]
    }

    struct Change: Sendable {
        var action: String  // UPSERT or DELETE
        var set: RecordSet
    }

    /// The ID of the public hosted zone named `zone` (a private one when there is no public one).
    func hostedZoneID(for zone: String) async throws -> String? {
        let root = try await call("GET", "/\(Self.version)/hostedzonesbyname?dnsname=\(Self.encode(zone + "."))&maxitems=20")
        let zones = (root.first("HostedZones")?.all("HostedZone") ?? []).filter {
            DomainName.canonical(Self.unescape($0.value("Name") ?? "")) == zone
        }
        let chosen = zones.first { $0.value("Config", "PrivateZone") != "true" } ?? zones.first
        return chosen?.value("Id").map { $0.split(separator: "/").last.map(String.init) ?? $0 }
    }

    /// The TXT record set at `name`, nil when there is none.
    func txtSet(zoneID: String, name: String) async throws -> RecordSet? {
        let root = try await call("GET", "/\(Self.version)/hostedzone/\(zoneID)/rrset?name=\(Self.encode(name + "."))&type=TXT&maxitems=1")
        guard let set = root.first("ResourceRecordSets", "ResourceRecordSet"), set.value("Type") == "TXT",
              DomainName.canonical(Self.unescape(set.value("Name") ?? "")) == name else { return nil }
        let values = (set.first("ResourceRecords")?.all("ResourceRecord") ?? []).compactMap { $0.value("Value") }
        return RecordSet(name: name, ttl: Int(set.value("TTL") ?? "") ?? 300, values: values)
    }

    /// ChangeResourceRecordSets; returns the change's ID.
    func change(zoneID: String, _ changes: [Change]) async throws -> String {
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ChangeResourceRecordSetsRequest xmlns=\"https://route53.amazonaws.com/doc/\(Self.version)/\"><ChangeBatch><Comment>dns01</Comment><Changes>"
        for change in changes {
            xml += "<Change><Action>\(change.action)</Action><ResourceRecordSet><Name>\(Self.escapeXML(change.set.name + "."))</Name><Type>TXT</Type><TTL>\(change.set.ttl)</TTL><ResourceRecords>"
            for value in change.set.values { xml += "<ResourceRecord><Value>\(Self.escapeXML(value))</Value></ResourceRecord>" }
            xml += "</ResourceRecords></ResourceRecordSet></Change>"
        }
        xml += "</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>"
        let root = try await call("POST", "/\(Self.version)/hostedzone/\(zoneID)/rrset", body: Array(xml.utf8))
        guard let id = root.value("ChangeInfo", "Id") else {
            throw Failure(description: "Route 53 accepted the change but gave no change ID")
        }
        return id.split(separator: "/").last.map(String.init) ?? id
    }

    /// GetChange: "PENDING" or "INSYNC".
    func changeStatus(_ id: String) async throws -> String {
        try await call("GET", "/\(Self.version)/change/\(id)").value("ChangeInfo", "Status") ?? "PENDING"
    }

    private func call(_ method: String, _ path: String, body: [UInt8] = []) async throws -> XMLNode {
        var attempt = 0
        while true {
            attempt += 1
            let url = endpoint + path
            var headers: [(String, String)] = []
            if !body.isEmpty { headers.append(("Content-Type", "application/xml")) }
            let signed: [(String, String)]
            do {
                signed = try signer.sign(method: method, url: url, headers: headers, payload: body, date: Date())
            } catch {
                throw Failure(description: "\(error)")
            }
            let response: HTTPResponse
            do {
                response = try await transport.send(HTTPRequest(method: method, url: url, headers: headers + signed, body: body.isEmpty ? nil : body))
            } catch let error as HTTPError {
                throw Failure(description: Redactor(secrets: signer.credentials.secretValues)(error.message))
            }
            guard response.body.count <= Self.bodyLimit else {
                throw Failure(description: "Route 53 answered with \(response.body.count) bytes, more than any answer to this call")
            }
            let root = XMLNode.parse(response.body)
            if (200...299).contains(response.status), let root { return root }
            let code = root?.value("Error", "Code")
            // Route 53 throttles with HTTP 400 and these codes; back off and try again.
            if attempt < 5, code == "Throttling" || code == "PriorRequestNotComplete" {
                try await Task.sleep(for: .milliseconds(250 << attempt))
                continue
            }
            throw Self.failure(status: response.status, root: root, redactor: Redactor(secrets: signer.credentials.secretValues))
        }
    }

    /// Route 53's error answer as one sentence. Its `<Code>` and `<Message>`s are untrusted text
    /// (STYLE.md 20): redacted, stripped of control characters and clipped, at most five messages.
    static func failure(status: Int, root: XMLNode?, redactor: Redactor) -> Failure {
        let code = root?.value("Error", "Code")
        let messages = root?.first("Error", "Messages")?.all("Message").map { $0.text } ?? []
        let shown = (messages.isEmpty ? [root?.value("Error", "Message") ?? "no message"] : Array(messages.prefix(5))).map { redactor.clip($0) }
        let more = messages.count > 5 ? " and \(messages.count - 5) more" : ""
        return Failure(description: "Route 53 answered HTTP \(status)\(code.map { " " + redactor.clip($0, limit: 60) } ?? ""): \(shown.joined(separator: "; "))\(more)",
                       code: code)
    }

    static func encode(_ text: String) -> String {
        PercentEncoding.encode(text)
    }

    static func escapeXML(_ text: String) -> String {
        text.replacing("&", with: "&amp;").replacing("<", with: "&lt;")
            .replacing(">", with: "&gt;")
    }

    /// Route 53 writes some characters of names as octal escapes ("\052" for "*").
    static func unescape(_ name: String) -> String {
        var result = ""
        var index = name.startIndex
        while index < name.endIndex {
            if name[index] == "\\", let end = name.index(index, offsetBy: 4, limitedBy: name.endIndex),
               let code = UInt8(name[name.index(after: index)..<end], radix: 8) {
                result.unicodeScalars.append(UnicodeScalar(code))
                index = end
            } else {
                result.append(name[index])
                index = name.index(after: index)
            }
        }
        return result
    }

    /// A dns01 value as Route 53 holds it: one quoted character-string.
    static func quote(_ value: String) -> String {
        "\"" + value.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\""
    }

    /// The text of a held value: its character-strings joined.
    static func unquote(_ value: String) -> String {
        var parts: [String] = [], current = "", inside = false, escaped = false
        for character in value {
            if escaped { current.append(character); escaped = false; continue }
            switch character {
            case "\\" where inside: escaped = true
            case "\"":
                if inside { parts.append(current); current = "" }
                inside.toggle()
            default: if inside { current.append(character) }
            }
        }
        return parts.isEmpty ? value : parts.joined()
    }
}
