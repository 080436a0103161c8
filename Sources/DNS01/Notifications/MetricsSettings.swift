import FoundationEssentials
import Glibc
import Settings

/// `[metrics]`: where `dns01 run` writes its Prometheus textfile (node_exporter's textfile
/// collector reads every `*.prom` in its directory, e.g. /var/lib/prometheus/node-exporter).
public struct MetricsSettings: Sendable, Equatable {
    /// The textfile, replaced atomically (temp file + rename in its directory, mode 0644) after each run.
    public var textfile: String

    public init(textfile: String) { self.textfile = textfile }

    /// The `[metrics]` section, validated.
    static func parse(_ settings: Settings) throws -> MetricsSettings {
        try settings.rejectUnknownKeys(allowed: ["textfile"])
        let path = try settings.requiredString("textfile")
        guard path.hasPrefix("/") else {
            throw ConfigError("[metrics]: textfile '\(path)' must be an absolute path (node_exporter reads it from its textfile directory).")
        }
        guard path.hasSuffix(".prom") else {
            throw ConfigError("[metrics]: textfile '\(path)' must end in .prom (node_exporter's textfile collector reads only *.prom files).")
        }
        guard !path.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw ConfigError("[metrics]: textfile contains a control character.")
        }
        return MetricsSettings(textfile: path)
    }
}
