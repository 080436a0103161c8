import Crypto

// Interim until the ACME module's own label function lands (helper branch `acme`).
enum DNSAccountLabel {
    static func label(accountURL: String) -> String {
        let digest = Array(SHA256.hash(data: Array(accountURL.utf8)).prefix(10))
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")
        var bits = 0, value = 0, out = "_"
        for byte in digest {
            value = (value << 8) | Int(byte); bits += 8
            while bits >= 5 { out.append(alphabet[(value >> (bits - 5)) & 31]); bits -= 5 }
        }
        if bits > 0 { out.append(alphabet[(value << (5 - bits)) & 31]) }
        return out
    }
}
