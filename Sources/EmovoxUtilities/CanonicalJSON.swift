import Foundation

/// JSON whose bytes depend only on the values: sorted keys, no escaped slashes. Every artefact
/// (checkpoint metadata, labels, manifests, reports) is written with it, so runs can be checksummed.
public enum CanonicalJSON {
    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = pretty ? [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted] : [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    public static func string<T: Encodable>(_ value: T) throws -> String { String(decoding: try encoder().encode(value), as: UTF8.self) }
}
