import Foundation
import EmovoxCore
import EmovoxUtilities

/// Student weights as safetensors with PyTorch state-dict names ("conv1.weight", "bn1.running_mean", …);
/// the model config and class names travel in the header metadata so a file is self-describing.
public enum StudentCheckpoint {
    public static let format = "emovox-student-v1"

    public static func save(_ model: StudentModel, classes: [String], extra: [String: String] = [:], to path: String) throws {
        var meta = extra
        meta["format"] = format
        meta["config"] = try CanonicalJSON.string(model.config)   // sorted keys: same run, same bytes
        meta["classes"] = try CanonicalJSON.string(classes)
        try Safetensors.write(model.network.stateDict(), metadata: meta, to: path)
    }

    /// Loads and checks a checkpoint: the config must name a known model with sane sizes, the class list must
    /// fit it, and every tensor must be present, of the right shape and finite (a NaN would otherwise predict
    /// NaN probabilities with a label). Every failure names the file and, where there is one, the tensor.
    public static func load(_ path: String) throws -> (model: StudentModel, classes: [String], metadata: [String: String]) {
        let (tensors, meta) = try Safetensors.read(path)
        let config = try checkedConfig(meta, path: path)
        var classes = (0..<config.classes).map { "class\($0)" }
        if let text = meta["classes"] {
            guard let c = try? JSONDecoder().decode([String].self, from: Data(text.utf8)) else {
                throw EmovoxError("metadata 'classes' is not a JSON list of names", file: path)
            }
            guard c.count == config.classes else {
                throw EmovoxError("metadata names \(c.count) classes but the config has \(config.classes) outputs", file: path)
            }
            classes = c
        }
        for name in tensors.keys.sorted() {
            let t = tensors[name]!
            if let i = t.data.firstIndex(where: { !$0.isFinite }) {
                let bad = t.data.lazy.filter { !$0.isFinite }.count
                throw EmovoxError("tensor '\(name)' holds \(bad) non-finite value\(bad == 1 ? "" : "s") (\(t.data[i]) at index \(i)): the weights are corrupt", file: path)
            }
            if name.hasSuffix("running_var"), let i = t.data.firstIndex(where: { $0 < 0 }) {
                throw EmovoxError("tensor '\(name)' holds a negative variance (\(t.data[i]) at index \(i))", file: path)
            }
        }
        var rng = SeededRNG(seed: 0)
        let model = StudentModel(config: config, rng: &rng)
        try model.network.load(stateDict: tensors, source: path)
        return (model, classes, meta)
    }

    /// The student config from the metadata, refused when it names an unknown model or sizes no student has
    /// (a damaged header must not make us allocate gigabytes before the shape check).
    static func checkedConfig(_ meta: [String: String], path: String) throws -> StudentConfig {
        guard let text = meta["config"] else {
            throw EmovoxError("not an emovox student checkpoint (no 'config' in the safetensors metadata)", file: path)
        }
        let config: StudentConfig
        do { config = try JSONDecoder().decode(StudentConfig.self, from: Data(text.utf8)) } catch {
            throw EmovoxError("metadata 'config' is not a student config: \(error)", file: path)
        }
        guard StudentConfig.names.contains(config.name) else {
            throw EmovoxError("the config names an unknown model '\(config.name)' (known: \(StudentConfig.names.joined(separator: ", ")))", file: path)
        }
        let sizes = config.channels + [config.fc6, config.fc7, config.classes]
        guard config.channels.count == 5, sizes.allSatisfy({ (1...16_384).contains($0) }), (64...4096).contains(config.bins),
              config.fc6Height >= 1, config.dropout.isFinite, (0..<1).contains(config.dropout) else {
            throw EmovoxError("the config's sizes do not describe a \(config.name) student (bins \(config.bins), channels \(config.channels), fc6 \(config.fc6), fc7 \(config.fc7), classes \(config.classes))", file: path)
        }
        return config
    }
}
