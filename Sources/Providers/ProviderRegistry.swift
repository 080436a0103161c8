import Processes

/// The providers dns01 knows, by `type` (STYLE.md 7: a registry by type, as lego has).
public enum ProviderRegistry {
    /// `stateDir` is `[acme] state_dir`, for providers that keep files (lexicon's virtualenv);
    /// `childEnvironment` says which of dns01's variables the programs a provider runs do not get.
    public typealias Factory = @Sendable (_ name: String, _ zones: [String], _ settings: Settings, _ stateDir: String,
                                          _ childEnvironment: ChildEnvironment) throws -> any DNSProvider

    public static let factories: [String: Factory] = [
        RFC2136Provider.typeName: { name, zones, settings, _, _ in
            RFC2136Provider(name: name, zones: zones, config: try RFC2136Provider.Config(settings))
        },
        ShellProvider.typeName: { name, zones, settings, _, childEnvironment in
            var config = try ShellProvider.Config(settings)
            config.childEnvironment = childEnvironment
            return ShellProvider(name: name, zones: zones, config: config)
        },
        ZoneFileProvider.typeName: { name, zones, settings, _, childEnvironment in
            var config = try ZoneFileProvider.Config(settings)
            config.childEnvironment = childEnvironment
            return ZoneFileProvider(name: name, zones: zones, config: config)
        },
        CloudflareProvider.typeName: { name, zones, settings, _, _ in
            CloudflareProvider(name: name, zones: zones, config: try CloudflareProvider.Config(settings))
        },
        Route53Provider.typeName: { name, zones, settings, _, _ in
            Route53Provider(name: name, zones: zones, config: try Route53Provider.Config(settings))
        },
        PowerDNSProvider.typeName: { name, zones, settings, _, _ in
            PowerDNSProvider(name: name, zones: zones, config: try PowerDNSProvider.Config(settings))
        },
        AcmeDNSProvider.typeName: { name, zones, settings, _, _ in
            AcmeDNSProvider(name: name, zones: zones, config: try AcmeDNSProvider.Config(settings))
        },
        DigitalOceanProvider.typeName: { name, zones, settings, _, _ in
            DigitalOceanProvider(name: name, zones: zones, config: try DigitalOceanProvider.Config(settings))
        },
        HetznerProvider.typeName: { name, zones, settings, _, _ in
            HetznerProvider(name: name, zones: zones, config: try HetznerProvider.Config(settings))
        },
        DeSECProvider.typeName: { name, zones, settings, _, _ in
            DeSECProvider(name: name, zones: zones, config: try DeSECProvider.Config(settings))
        },
        GandiProvider.typeName: { name, zones, settings, _, _ in
            GandiProvider(name: name, zones: zones, config: try GandiProvider.Config(settings))
        },
        OVHProvider.typeName: { name, zones, settings, _, _ in
            OVHProvider(name: name, zones: zones, config: try OVHProvider.Config(settings))
        },
        GoogleProvider.typeName: { name, zones, settings, _, _ in
            GoogleProvider(name: name, zones: zones, config: try GoogleProvider.Config(settings))
        },
        AzureProvider.typeName: { name, zones, settings, _, _ in
            AzureProvider(name: name, zones: zones, config: try AzureProvider.Config(settings))
        },
        LexiconProvider.typeName: { name, zones, settings, stateDir, childEnvironment in
            var config = try LexiconProvider.Config(settings, stateDir: stateDir)
            config.withhold(childEnvironment)
            return LexiconProvider(name: name, zones: zones, config: config)
        },
    ]

    /// Builds a provider from its `[[provider]]` table. `type`, `name` and `zones` are read here;
    /// the rest goes to the provider's own `Config`.
    public static func make(_ settings: Settings, stateDir: String, childEnvironment: ChildEnvironment) throws -> any DNSProvider {
        let type = try settings.requiredString("type")
        let name = try settings.string("name") ?? type
        guard let factory = factories[type] else {
            throw ConfigError("\(settings.context): unknown provider type '\(type)' (known: \(factories.keys.sorted().joined(separator: ", "))).")
        }
        let zones = try settings.strings("zones") ?? []
        let normalized = try zones.map { zone in
            do { return try DomainName.normalizeIDN(zone, allowUnderscore: true) } catch {
                throw ConfigError("\(settings.context): zone '\(zone)' is not a valid DNS name.")
            }
        }
        return try factory(name, normalized, Settings(context: "[[provider]] '\(name)'", values: settings.values), stateDir, childEnvironment)
    }
}

import DNS
import Settings
