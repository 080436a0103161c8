import FoundationEssentials
import FoundationShim
import Glibc

/// `dns01 run --dry-run` rehearses against a staging CA where there is one, so a rehearsal
/// counts against no production rate limit and leaves no certificate in the CA's logs.
extension Configuration.ACME {
    /// Let's Encrypt's production directory and its staging twin.
    public static let letsEncryptProduction = "https://acme-v02.api.letsencrypt.org/directory"
    public static let letsEncryptStaging = "https://acme-staging-v02.api.letsencrypt.org/directory"

    /// The directory a dry run uses: `staging_directory` when set; Let's Encrypt's staging for
    /// its production URL; otherwise `directory` itself (a CA dns01 knows no staging twin of,
    /// such as a private one: the rehearsal obtains a certificate there and throws it away).
    public var dryRunDirectory: String {
        if let stagingDirectory { return stagingDirectory }
        if directory.trimmingCharacters { $0 == "/" } == Self.letsEncryptProduction { return Self.letsEncryptStaging }
        return directory
    }

    /// The `[acme]` settings of a dry run: `dryRunDirectory`, and when that is another CA, an
    /// account of its own under `accounts/<staging host>/`, registered there like any: the
    /// production `account_key_file` and external account binding belong to the production CA
    /// and are not sent to another.
    public var forDryRun: Configuration.ACME {
        var settings = self
        let target = dryRunDirectory
        guard target != directory else { return settings }
        settings.directory = target
        settings.accountKeyFile = nil
        settings.eabKeyID = nil
        settings.eabHMACKeyFile = nil
        return settings
    }
}
