import Foundation
import HTTP
import ScriptedHTTP
import Synchronization

extension ScriptedCA {
    /// The state behind the scripted resources and the handlers that answer from it. Handlers
    /// run outside the transport's lock and take this one only briefly.
    final class Engine: Sendable {
        struct Authorization {
            var order: Int
            /// As ordered: "*.a.test" for a wildcard.
            var ordered: String
            var types: [String]
            var tokens: [String: String]
            var answered: String?
            var polls = 0
            var deactivated = false
            var failure: String?

            var identifier: String { ordered.hasPrefix("*.") ? String(ordered.dropFirst(2)) : ordered }
            var wildcard: Bool { ordered.hasPrefix("*.") }
        }

        struct Order {
            var identifiers: [String]
            var authorizations: [String]
            var chain: String?
            var polls = 0
        }

        struct State {
            var accountStatus = "valid"
            var accountCreated = false
            var contact: [String] = []
            var orders: [Int: Order] = [:]
            var authorizations: [String: Authorization] = [:]
        }

        let state = Mutex(State())
        let base: String
        let options: Options
        let pki: ScriptedPKI

        init(base: String, options: Options, pki: ScriptedPKI) {
            self.base = base
            self.options = options
            self.pki = pki
        }

        var accountURL: String { base + "/acct/1" }

        // MARK: - Fixed resources

        /// RFC 8555 §7.3: creates the one account, finds it (onlyReturnExisting), or refuses
        /// without the binding the directory asks for.
        func newAccount(_ request: RecordedRequest) throws -> HTTPResponse {
            let payload = request.jws?.payloadObject() ?? [:]
            let onlyExisting = payload["onlyReturnExisting"] as? Bool == true
            return state.withLock { state in
                if onlyExisting && !state.accountCreated {
                    return .problem("accountDoesNotExist", detail: "No account exists with the provided key")
                }
                if !state.accountCreated && options.externalAccountRequired && payload["externalAccountBinding"] == nil {
                    return .problem("externalAccountRequired", detail: "This CA requires external account binding")
                }
                let created = !state.accountCreated
                state.accountCreated = true
                if let contact = payload["contact"] as? [String], created { state.contact = contact }
                return .json(account(state), status: created ? 201 : 200, headers: ["location": accountURL])
            }
        }

        /// RFC 8555 §7.4: an order with one pending authorization per identifier.
        func newOrder(_ request: RecordedRequest) throws -> HTTPResponse {
            if let fault = kidFault(request) { return fault }
            let payload = request.jws?.payloadObject() ?? [:]
            let identifiers = (payload["identifiers"] as? [[String: Any]] ?? []).compactMap { $0["value"] as? String }
            guard !identifiers.isEmpty else { return .problem("malformed", detail: "NewOrder request did not specify any identifiers") }
            if let profile = payload["profile"] as? String, options.profiles?[profile] == nil {
                return .problem("invalidProfile", detail: "profile \(profile) is not offered")
            }
            if let limit = options.newOrderLimit, state.withLock({ $0.orders.count }) >= limit {
                return .problem("rateLimited", detail: "too many new orders (\(limit)) from this account in the last 3h0m0s",
                                status: 429, retryAfter: options.rateLimitRetryAfter)
            }
            return state.withLock { state in
                let number = state.orders.count + 1
                var authorizations: [String] = []
                for (index, name) in identifiers.enumerated() {
                    if options.reuseAuthorizations, let (url, _) = state.authorizations.first(where: {
                        $0.value.ordered == name && !$0.value.deactivated && $0.value.failure == nil
                    }) {
                        authorizations.append(url)
                        continue
                    }
                    let url = base + "/authz/\(number)/\(index)"
                    let types = name.hasPrefix("*.") ? options.challengeTypes.filter { $0.hasPrefix("dns-") } : options.challengeTypes
                    let tokens = Dictionary(uniqueKeysWithValues: types.map { ($0, Self.token()) })
                    state.authorizations[url] = Authorization(order: number, ordered: name, types: types, tokens: tokens,
                                                              failure: options.failing[name])
                    authorizations.append(url)
                }
                state.orders[number] = Order(identifiers: identifiers, authorizations: authorizations)
                let url = base + "/order/\(number)"
                return .json(order(number, &state, advancing: false), status: 201, headers: ["location": url])
            }
        }

        // MARK: - Resources made per order

        func resource(_ request: RecordedRequest) throws -> HTTPResponse {
            guard request.url.hasPrefix(base + "/") else { return notFound(request) }
            let path = request.url.dropFirst(base.count + 1).split(separator: "/").map(String.init)
            if request.method == "GET", path.first == "renewal-info", path.count == 2, let window = options.renewalWindow {
                let formatter = ISO8601DateFormatter()
                return .json(Self.json(["suggestedWindow": ["start": formatter.string(from: window.start), "end": formatter.string(from: window.end)]]),
                             headers: ["retry-after": "21600"])
            }
            guard request.method == "POST" else { return notFound(request) }
            if let fault = kidFault(request) { return fault }
            let payload = request.jws?.payloadObject()
            switch (path.first, path.count) {
            case ("acct", 2):
                return account(request, payload: payload)
            case ("order", 2):
                guard let number = Int(path[1]) else { break }
                return state.withLock { state in
                    guard state.orders[number] != nil else { return notFound(request) }
                    return orderResponse(number, &state, advancing: true)
                }
            case ("order", 3) where path[2] == "finalize":
                guard let number = Int(path[1]) else { break }
                return finalize(number, payload: payload, request: request)
            case ("authz", 3):
                return state.withLock { state in
                    guard var authorization = state.authorizations[request.url] else { return notFound(request) }
                    if payload?["status"] as? String == "deactivated" { authorization.deactivated = true }
                    let pending = authorizationStatus(authorization) == "pending"
                    let body = self.authorization(request.url, &authorization, advancing: payload == nil)
                    state.authorizations[request.url] = authorization
                    return .json(body, headers: pending ? retryAfterHeader : [:])
                }
            case ("chall", 4):
                let authorizationURL = base + "/authz/\(path[1])/\(path[2])"
                return state.withLock { state in
                    guard var authorization = state.authorizations[authorizationURL], authorization.types.contains(path[3]) else {
                        return notFound(request)
                    }
                    if payload != nil, authorization.answered == nil { authorization.answered = path[3] }
                    state.authorizations[authorizationURL] = authorization
                    return .json(Self.json(challenge(path[3], authorizationURL: authorizationURL, authorization)),
                                 headers: ["link": "<\(authorizationURL)>;rel=\"up\""])
                }
            case ("cert", 2):
                guard let number = Int(path[1]), let chain = state.withLock({ $0.orders[number]?.chain }) else { break }
                return HTTPResponse(status: 200, headers: ["content-type": ["application/pem-certificate-chain"]], body: Array(chain.utf8))
            default:
                break
            }
            return notFound(request)
        }

        /// RFC 8555 §7.4: the CSR must name exactly the order's identifiers; the chain is issued
        /// at once and served after `processingPolls` polls.
        func finalize(_ number: Int, payload: [String: Any]?, request: RecordedRequest) -> HTTPResponse {
            let orderStatus = state.withLock { state -> String? in
                guard state.orders[number] != nil else { return nil }
                return status(of: number, state)
            }
            guard let orderStatus, let identifiers = state.withLock({ $0.orders[number]?.identifiers }) else { return notFound(request) }
            guard orderStatus == "ready" else {
                return .problem("orderNotReady", detail: "Order's status (\"\(orderStatus)\") is not acceptable for finalization", status: 403)
            }
            guard let csr = (payload?["csr"] as? String).flatMap(RecordedJWS.base64URL) else {
                return .problem("malformed", detail: "finalize request has no csr")
            }
            let chain: String
            do {
                chain = try pki.issue(csrDER: csr, names: identifiers)
            } catch {
                return .problem("badCSR", detail: "\(error)")
            }
            return state.withLock { state in
                state.orders[number]?.chain = chain
                return .json(order(number, &state, advancing: false), headers: ["location": base + "/order/\(number)"])
            }
        }

        func account(_ request: RecordedRequest, payload: [String: Any]?) -> HTTPResponse {
            guard request.url == accountURL else { return notFound(request) }
            return state.withLock { state in
                if let contact = payload?["contact"] as? [String] { state.contact = contact }
                if payload?["status"] as? String == "deactivated" { state.accountStatus = "deactivated" }
                return .json(account(state))
            }
        }

        // MARK: - Documents

        func account(_ state: State) -> String {
            Self.json(["status": state.accountStatus, "contact": state.contact, "orders": base + "/orders/1"])
        }

        func authorizationStatus(_ authorization: Authorization) -> String {
            if authorization.deactivated { return "deactivated" }
            guard authorization.answered != nil, authorization.polls >= options.pendingPolls else { return "pending" }
            return authorization.failure == nil ? "valid" : "invalid"
        }

        func authorization(_ url: String, _ authorization: inout Authorization, advancing: Bool) -> String {
            if advancing, authorization.answered != nil, authorization.polls < options.pendingPolls, !authorization.deactivated,
               authorizationStatus(authorization) == "pending" {
                // This poll answers pending and counts towards the polls asked for.
                let body = authorizationDocument(url, authorization)
                authorization.polls += 1
                return body
            }
            return authorizationDocument(url, authorization)
        }

        func authorizationDocument(_ url: String, _ authorization: Authorization) -> String {
            var members: [String: Any] = [
                "status": authorizationStatus(authorization),
                "identifier": ["type": "dns", "value": authorization.identifier],
                "challenges": authorization.types.map { challenge($0, authorizationURL: url, authorization) },
                "expires": ISO8601DateFormatter().string(from: Date().addingTimeInterval(7 * 86_400)),
            ]
            if authorization.wildcard { members["wildcard"] = true }
            return Self.json(members)
        }

        func challenge(_ type: String, authorizationURL: String, _ authorization: Authorization) -> [String: Any] {
            let status: String
            var members: [String: Any] = [:]
            switch authorizationStatus(authorization) {
            case "valid" where authorization.answered == type:
                status = "valid"
                members["validated"] = ISO8601DateFormatter().string(from: Date())
            case "invalid" where authorization.answered == type:
                status = "invalid"
                members["error"] = ["type": "urn:ietf:params:acme:error:incorrectResponse", "detail": authorization.failure ?? "", "status": 403]
            case "pending" where authorization.answered == type:
                status = "processing"
            default:
                status = "pending"
            }
            members["type"] = type
            members["url"] = authorizationURL.replacingOccurrences(of: "/authz/", with: "/chall/") + "/" + type
            members["token"] = authorization.tokens[type] ?? ""
            if type == "dns-persist-01" { members["issuer-domain-names"] = options.issuerDomainNames }
            members["status"] = status
            return members
        }

        func status(of number: Int, _ state: State) -> String {
            guard let order = state.orders[number] else { return "invalid" }
            if order.chain != nil { return order.polls >= options.processingPolls ? "valid" : "processing" }
            let statuses = order.authorizations.map { state.authorizations[$0].map(authorizationStatus) ?? "invalid" }
            if statuses.contains("invalid") || statuses.contains("deactivated") { return "invalid" }
            return statuses.allSatisfy { $0 == "valid" } ? "ready" : "pending"
        }

        func order(_ number: Int, _ state: inout State, advancing: Bool) -> String {
            guard let order = state.orders[number] else { return "{}" }
            let status = status(of: number, state)
            if advancing, status == "processing" { state.orders[number]?.polls += 1 }
            var members: [String: Any] = [
                "status": status,
                "identifiers": order.identifiers.map { ["type": "dns", "value": $0] },
                "authorizations": order.authorizations,
                "finalize": base + "/order/\(number)/finalize",
                "expires": ISO8601DateFormatter().string(from: Date().addingTimeInterval(7 * 86_400)),
            ]
            if status == "valid" { members["certificate"] = base + "/cert/\(number)" }
            if status == "invalid" {
                let failed = order.authorizations.compactMap { state.authorizations[$0] }.filter { $0.failure != nil }
                members["error"] = [
                    "type": "urn:ietf:params:acme:error:unauthorized", "detail": "Some of the authorizations failed", "status": 403,
                    "subproblems": failed.map { ["type": "urn:ietf:params:acme:error:incorrectResponse", "detail": $0.failure ?? "",
                                                 "identifier": ["type": "dns", "value": $0.identifier]] },
                ]
            }
            return Self.json(members)
        }

        func orderResponse(_ number: Int, _ state: inout State, advancing: Bool) -> HTTPResponse {
            let pending = ["processing", "pending"].contains(status(of: number, state))
            let body = order(number, &state, advancing: advancing)
            return .json(body, headers: pending ? retryAfterHeader : [:])
        }

        var retryAfterHeader: [String: String] { options.retryAfter.map { ["retry-after": String($0)] } ?? [:] }

        /// Requests after newAccount are signed with the account's URL as `kid` (RFC 8555 §6.2).
        func kidFault(_ request: RecordedRequest) -> HTTPResponse? {
            guard let jws = request.jws else { return .problem("malformed", detail: "The request body is not a flattened JWS") }
            guard jws.kid == accountURL else {
                return .problem("malformed", detail: "The JWS must carry the kid \(accountURL), not \(jws.kid ?? "none")")
            }
            if state.withLock({ $0.accountStatus }) == "deactivated" {
                return .problem("unauthorized", detail: "Account is not valid, has status \"deactivated\"", status: 403)
            }
            return nil
        }

        func notFound(_ request: RecordedRequest) -> HTTPResponse {
            .problem("malformed", detail: "No such resource: \(request.method) \(request.url)", status: 404)
        }

        static func token() -> String {
            var generator = SystemRandomNumberGenerator()
            let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
            return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }

        static func json(_ object: Any) -> String {
            guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return "{}" }
            return String(decoding: data, as: UTF8.self)
        }
    }
}
