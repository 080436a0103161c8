import Crypto

/// OVH's request signature (https://help.ovhcloud.com/csm/en-api-getting-started-ovhcloud-api,
/// "Signing requests"): "$1$" and the hex SHA-1 of application secret, consumer key, method,
/// full URL, body and timestamp joined by "+".
struct OVHSignature: Sendable {
    var applicationSecret: String
    var consumerKey: String

    func sign(method: String, url: String, body: String, timestamp: Int) -> String {
        let text = [applicationSecret, consumerKey, method, url, body, String(timestamp)].joined(separator: "+")
        return "$1$" + Insecure.SHA1.hash(data: Array(text.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined()
    }
}
