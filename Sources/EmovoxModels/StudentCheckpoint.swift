import Foundation
import EmovoxCore

/// Student weights as safetensors with PyTorch state-dict names ("conv1.weight", "bn1.running_mean", …);
/// the model config and class names travel in the header metadata so a file is self-describing.
public enum StudentCheckpoint {
    public static func save(_ model: StudentModel, classes: [String], extra: [String: String] = [:], to path: String) throws {
        var meta = extra
        meta["format"] = "emovox-student-v1"
        meta["config"] = String(decoding: try JSONEncoder().encode(model.config), as: UTF8.self)
        meta["classes"] = String(decoding: try JSONEncoder().encode(classes), as: UTF8.self)
        try Safetensors.write(model.network.stateDict(), metadata: meta, to: path)
    }

    public static func load(_ path: String) throws -> (model: StudentModel, classes: [String], metadata: [String: String]) {
        let (tensors, meta) = try Safetensors.read(path)
        guard let cfgText = meta["config"], let config = try? JSONDecoder().decode(StudentConfig.self, from: Data(cfgText.utf8)) else {
            throw EmovoxError("not an emovox student checkpoint (no 'config' in the safetensors metadata)", file: path)
        }
        let classes = (meta["classes"]).flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) }
            ?? (0..<config.classes).map { "class\($0)" }
        var rng = SeededRNG(seed: 0)
        let model = StudentModel(config: config, rng: &rng)
        try model.network.load(stateDict: tensors, source: path)
        return (model, classes, meta)
    }
}
