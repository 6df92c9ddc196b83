import ArgumentParser
import Foundation
import EmovoxCore
import EmovoxModels
import EmovoxTeacherTraining
import EmovoxUtilities

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "model", abstract: "Inspect student and face-teacher models; store them in float16.",
                                                    subcommands: [Info.self, Convert.self])

    struct Convert: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rewrite a checkpoint (student or face teacher) with its weights in float16 or float32, metadata kept.",
            discussion: "float16 halves the file (how the shipped FER+ teacher fits in the repository); every command reads it back "
                + "as float32. Check what it costs with teacher-eval on both files.")
        @Argument(help: "A .safetensors checkpoint.") var checkpoint: String
        @Option(help: "Output .safetensors file.") var out: String
        @Option(help: "Weight storage.") var storage: TensorStorage = .f16

        func run() throws {
            let (tensors, metadata) = try Safetensors.read(checkpoint)
            // Only finished models: a resume file's optimiser state must keep its precision for an exact resume.
            let models = [TrainedFaceTeacher.format, StudentCheckpoint.format]
            guard let format = metadata["format"], models.contains(format) else {
                throw EmovoxError("not a finished emovox model (format \(metadata["format"] ?? "none"); expected \(models.joined(separator: " or ")))",
                                  file: checkpoint)
            }
            try Safetensors.write(tensors, metadata: metadata, storage: storage, to: out)
            let size = { (p: String) in ((try? FileManager.default.attributesOfItem(atPath: p)[.size] as? Int) ?? 0) ?? 0 }
            // Rounding relative to each tensor's largest weight (tiny weights flush to zero in float16: relative to
            // themselves they all change by 100 %, which says nothing about the net).
            var worst: Float = 0
            for (name, t) in try Safetensors.read(out).tensors {
                let scale = tensors[name]!.data.map(abs).max() ?? 0
                guard scale > 0 else { continue }
                for (a, b) in zip(tensors[name]!.data, t.data) { worst = max(worst, abs(b - a) / scale) }
            }
            print("\(out): \(tensors.count) tensors in \(storage.rawValue), \(size(checkpoint)) → \(size(out)) bytes; "
                  + "largest change of a weight \(String(format: "%.1e", worst)) of its tensor's largest")
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Layers, output shapes, parameters and MACs of a student or face-teacher net.")
        @Argument(help: "vggm, vggm-small, a face-teacher net (\(TeacherNetConfig.names.joined(separator: ", "))), or a student checkpoint (.safetensors).")
        var name: String
        @Option(help: "Number of output classes (ignored for checkpoints; face teachers default to FER+'s 8).") var classes: Int = 7
        @Option(help: "Input length in seconds (4.024 s = 400 frames).") var seconds: Double = 4.024
        @Flag(help: "Print JSON instead of a table.") var json = false

        func run() throws {
            var rng = SeededRNG(seed: 0)
            if TeacherNetConfig.names.contains(name) {
                let cfg = try TeacherNetConfig.named(name, classes: classes == 7 ? 8 : classes)
                let net = cfg.build(rng: &rng)
                return try printRows(ModelSummary.rows(net, input: [1, 1, cfg.inputSize, cfg.inputSize]),
                                     title: "\(name) (face teacher): input 1×\(cfg.inputSize)×\(cfg.inputSize) grey")
            }
            let model: StudentModel
            if name.hasSuffix(".safetensors") { model = try StudentCheckpoint.load(name).model } else {
                model = StudentModel(config: try StudentConfig.named(name, classes: classes), rng: &rng)
            }
            let frames = max(model.minimumFrames, Int((seconds * 16000 - 400) / 160) + 1)
            try printRows(ModelSummary.rows(model.network, input: [1, 1, model.config.bins, frames]),
                          title: "\(model.config.name): input 1×\(model.config.bins)×\(frames) (\(String(format: "%.3f", seconds)) s)")
        }

        func printRows(_ rows: [LayerSummaryRow], title: String) throws {
            if json {
                let enc = JSONEncoder()
                enc.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try enc.encode(rows), as: UTF8.self))
                return
            }
            print(title)
            print("layer".padding(toLength: 10, withPad: " ", startingAt: 0) + "kind".padding(toLength: 15, withPad: " ", startingAt: 0)
                  + "output".padding(toLength: 22, withPad: " ", startingAt: 0) + "params".leftPad(12) + "MMAC".leftPad(12))
            for r in rows {
                print(r.name.padding(toLength: 10, withPad: " ", startingAt: 0) + r.kind.padding(toLength: 15, withPad: " ", startingAt: 0)
                      + r.outputShape.map(String.init).joined(separator: "×").padding(toLength: 22, withPad: " ", startingAt: 0)
                      + String(r.parameters).leftPad(12) + String(format: "%.1f", Double(r.macs) / 1e6).leftPad(12))
            }
            let params = rows.reduce(0) { $0 + $1.parameters }, macs = rows.reduce(0) { $0 + $1.macs }
            print("total: \(params) parameters, \(String(format: "%.3f", Double(macs) / 1e9)) GMAC per forward")
        }
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
