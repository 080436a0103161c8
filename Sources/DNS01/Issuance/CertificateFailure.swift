/// A failure that belongs to one certificate of a batch (named so, not `CertificateError`,
/// which is swift-certificates' own).
public struct CertificateFailure: Error, Sendable, CustomStringConvertible {
    public var certName: String
    public var underlying: any Error
    public init(_ certName: String, _ underlying: any Error) {
        if let nested = underlying as? CertificateFailure {
            self = nested
        } else {
            self.certName = certName
            self.underlying = underlying
        }
    }
    public var description: String { describe(underlying) }
}
