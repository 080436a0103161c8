extension ChallengeDeployer: ChallengeDNS {
    /// Asks every authoritative server of the identifier's zone for `_validation-persist`
    /// (CNAMEs followed as the CA follows them), sharing this deployer's zone cache.
    public func persistRecordServed(identifier: String, wildcard: Bool, issuerNames: [String], accountURL: String) async -> Bool {
        await PersistLookup(deployer: self).matching(identifier: identifier, wildcard: wildcard, issuerNames: issuerNames,
                                                     accountURL: accountURL)
    }
}
