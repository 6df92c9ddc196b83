import ArgumentParser
import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxLabelling
import EmovoxExport
import EmovoxTeacherTraining

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export",
        abstract: "Export a student or teacher to ONNX (opset 13), with a JSON beside it: class names, input layout and transform.")
    @Argument(help: "Student checkpoint (.safetensors), face teacher from teacher-train (.safetensors), Keras teacher (.hdf5), teacher manifest (.json), or 'teacher' for the default fer teacher.")
    var checkpoint: String
    @Option(help: "Output .onnx file (the JSON is written to FILE.json).") var onnx: String
    @Option(help: "Class names, comma-separated (default: those stored with the model).") var labels: String?

    func run() throws {
        var path = checkpoint
        if checkpoint == "teacher" {
            path = try TeacherHome.require() + "/emotion_model.hdf5"
        }
        let sidecar: ONNXSidecar
        if TrainedFaceTeacher.isCheckpoint(path) {
            let t = try TrainedFaceTeacher.faceTeacher(path)
            let (model, sc) = try ONNXExport.teacher(t)
            try ONNXExport.write(model, sidecar: sc, to: onnx)
            sidecar = sc
        } else {
            sidecar = try ONNXExport.export(path, to: onnx, labels: labels.map { $0.split(separator: ",").map(String.init) })
        }
        print("\(onnx) written (\(sidecar.kind) \(sidecar.model), input '\(sidecar.input.name)' [\(sidecar.input.shape.joined(separator: ", "))], classes \(sidecar.classes.joined(separator: ",")))")
        print("\(onnx).json written")
    }
}
