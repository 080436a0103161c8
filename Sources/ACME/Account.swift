import FoundationEssentials
import Glibc
import HTTP

/// An account object (RFC 8555 §7.1.2).
public struct Account: Sendable, Decodable {
    public var status: String
    public var contact: [String]?
    public var orders: String?
}

extension ACMEClient {
    /// RFC 8555 §7.3: creates (or finds) the account and keeps its URL as `kid`. With
    /// `externalAccountBinding`, the account is bound to the CA's key id (§7.3.4, HS256).
    public func newAccount(contact: [String], termsOfServiceAgreed: Bool, onlyReturnExisting: Bool = false,
                           externalAccountBinding: ExternalAccountBinding? = nil) async throws -> (url: String, account: Account) {
        struct Payload: Encodable {
            var contact: [String]?
            var termsOfServiceAgreed: Bool?
            var onlyReturnExisting: Bool?
            var externalAccountBinding: JWS.Flattened?
        }
        let directory = try await directory()
        if directory.meta?.externalAccountRequired == true, externalAccountBinding == nil, !onlyReturnExisting {
            throw ACMEError(.externalAccountRequired, "The CA at \(host) requires external account binding: set eab_kid and eab_hmac_key_file in [acme] to the values the CA gave you.")
        }
        let binding = try externalAccountBinding.map { try $0.sign(accountJWK: accountKey.jwk, url: directory.newAccount) }
        let payload = Payload(contact: contact.isEmpty ? nil : contact, termsOfServiceAgreed: termsOfServiceAgreed ? true : nil,
                              onlyReturnExisting: onlyReturnExisting ? true : nil, externalAccountBinding: binding)
        let response = try await post(directory.newAccount, payload: Array(try JSONEncoder.plain.encode(payload)),
                                      what: onlyReturnExisting ? "look up the account" : "create the account", useJWK: true)
        guard let location = response.header("Location") else {
            throw ACMEError(.badResponse, "The CA at \(host) created an account but sent no Location for it.")
        }
        accountURL = location
        return (location, try sender.decode(Account.self, response, what: "account"))
    }

    /// The account object (POST-as-GET to the account URL, §7.3.3 with an empty payload).
    public func account() async throws -> Account {
        let response = try await post(try requireAccountURL(), payload: nil, what: "fetch the account")
        return try sender.decode(Account.self, response, what: "account")
    }

    /// RFC 8555 §7.3.2: replaces the account's contact URLs.
    public func updateAccount(contact: [String]) async throws -> Account {
        struct Payload: Encodable { var contact: [String] }
        let response = try await post(try requireAccountURL(), payload: Array(try JSONEncoder.plain.encode(Payload(contact: contact))),
                                      what: "update the account's contact")
        return try sender.decode(Account.self, response, what: "account")
    }

    /// RFC 8555 §7.3.6: deactivates the account for good.
    public func deactivateAccount() async throws -> Account {
        let response = try await post(try requireAccountURL(), payload: Array(#"{"status":"deactivated"}"#.utf8),
                                      what: "deactivate the account")
        return try sender.decode(Account.self, response, what: "account")
    }

    /// RFC 8555 §7.3.5: moves the account to `newKey`. The inner JWS is signed by the new key
    /// (with its `jwk`, no nonce), the outer one by the current key; afterwards this client
    /// signs with the new key.
    public func changeKey(to newKey: AccountKey) async throws {
        guard let keyChange = try await directory().keyChange else {
            throw ACMEError(.unsupported, "The CA at \(host) offers no key change (its directory has no keyChange URL).")
        }
        let accountURL = try requireAccountURL()
        let innerHeader = "{\"alg\":\(JSONText.quote(newKey.algorithm.rawValue)),\"jwk\":\(newKey.jwk.canonicalJSON),\"url\":\(JSONText.quote(keyChange))}"
        let innerPayload = "{\"account\":\(JSONText.quote(accountURL)),\"oldKey\":\(accountKey.jwk.canonicalJSON)}"
        let inner = try JWS.flattened(protectedHeader: innerHeader, payload: Array(innerPayload.utf8), sign: newKey.sign)
        _ = try await post(keyChange, payload: inner, what: "change the account key")
        accountKey = newKey
        thumbprint = newKey.thumbprint()
    }
}
