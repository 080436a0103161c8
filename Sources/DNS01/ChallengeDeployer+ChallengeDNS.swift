extension ChallengeDeployer: ChallengeDNS {
    public func persistRecordServed(identifier: String, wildcard: Bool, issuerNames: [String], accountURL: String) async -> Bool {
        false // wired to PersistLookup when it lands
    }
}
