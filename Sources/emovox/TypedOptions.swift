import ArgumentParser
import EmovoxData
import EmovoxModels
import EmovoxTraining
import EmovoxTeacherTraining
import EmovoxDistill
import EmovoxCore
import EmovoxUtilities

// Options with a fixed set of values are the library's enums: ArgumentParser parses them, lists the valid values
// in --help, and refuses anything else with the list ("Please provide one of …") instead of a silent fallback.
extension CorpusFormat: ExpressibleByArgument {}
extension OptimizerKind: ExpressibleByArgument {}
extension TeacherTargetMode: ExpressibleByArgument {}
extension StudentModelName: ExpressibleByArgument {}
extension TeacherNetName: ExpressibleByArgument {}
extension DirectConvChoice: ExpressibleByArgument {}
extension TensorStorage: ExpressibleByArgument {}

extension Recipe: ExpressibleByArgument {
    public init?(argument: String) {
        guard let r = Recipe.all.first(where: { $0.name == argument }) else { return nil }
        self = r
    }
    public static var allValueStrings: [String] { Recipe.names }
    public var defaultValueDescription: String { name }
}

/// FER+ splits by their short names (train, valid, test), not their folder names.
extension FERPlusSplit: ExpressibleByArgument {
    var argumentName: String { String(describing: self) }
    public init?(argument: String) {
        guard let s = Self.allCases.first(where: { $0.argumentName == argument }) else { return nil }
        self = s
    }
    public static var allValueStrings: [String] { allCases.map(\.argumentName) }
    public var defaultValueDescription: String { argumentName }
}

/// What `probe` fits its classifier on (recorded by name in a calibration head).
enum ProbeFeatureKind: String, CaseIterable, ExpressibleByArgument {
    case logits, embedding
}

/// Library errors name parameters, not flags; where a value comes straight from a flag, the CLI names the flag
/// (and refuses it as a usage error).
func parsing<T>(_ flag: String, _ parse: () throws -> T) throws -> T {
    do { return try parse() } catch let e as EmovoxError { throw ValidationError("\(flag): \(e.message)") }
}
