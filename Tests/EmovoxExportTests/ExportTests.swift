import XCTest
import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxModels
import EmovoxVision
@testable import EmovoxExport
import EmovoxTeacherTraining

/// A student with random weights and non-trivial BatchNorm statistics, so the exported BatchNormalization
/// nodes really compute something.
func randomStudent(_ name: String, seed: UInt64) throws -> StudentModel {
    var rng = SeededRNG(seed: seed)
    let model = StudentModel(config: try StudentConfig.named(name, classes: 7), rng: &rng)
    for (_, layer) in model.network.layers {
        guard let bn = layer as? BatchNorm else { continue }
        for c in 0..<bn.channels {
            bn.weight.value.data[c] = 0.5 + rng.uniform()
            bn.bias.value.data[c] = rng.uniform() - 0.5
            bn.runningMean.data[c] = (rng.uniform() - 0.5) * 0.2
            bn.runningVar.data[c] = 0.5 + rng.uniform()
        }
    }
    return model
}

let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

final class ExportTests: XCTestCase {
    /// The ONNX bytes parse back with the declared interface (opset 13, named inputs/outputs, dynamic batch and
    /// time axes), and every initializer holds exactly the checkpoint tensor of the same name.
    func testStudentGraphRoundTrips() throws {
        let model = try randomStudent("vggm-small", seed: 1)
        let classes = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
        let (proto, sidecar) = try ONNXExport.student(model, classes: classes, source: "test")
        let parsed = try Onnx_ModelProto(serializedBytes: try proto.serializedBytes() as Data)
        XCTAssertEqual(parsed.opsetImport.first?.version, 13)
        XCTAssertEqual(parsed.graph.input.map(\.name), ["spectrogram"])
        XCTAssertEqual(parsed.graph.output.map(\.name), ["logits", "probabilities"])
        let dims = parsed.graph.input[0].type.tensorType.shape.dim
        XCTAssertEqual(dims.map(\.dimParam), ["batch", "", "", "frames"])
        XCTAssertEqual(dims.map(\.dimValue), [0, 1, 257, 0])
        let state = model.network.stateDict()
        var checked = 0
        for t in parsed.graph.initializer {
            guard let expected = state[t.name] else { XCTFail("initializer \(t.name) is not a model tensor"); continue }
            XCTAssertEqual(t.dims.map(Int.init), expected.shape, t.name)
            let floats: [Float] = t.rawData.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            XCTAssertEqual(floats, expected.data, t.name)
            checked += 1
        }
        // Every parameter and running statistic (not num_batches_tracked) is exported.
        XCTAssertEqual(checked, state.keys.filter { !$0.hasSuffix("num_batches_tracked") }.count)
        XCTAssertEqual(Set(parsed.graph.node.map(\.opType)),
                       ["Conv", "BatchNormalization", "Relu", "MaxPool", "ReduceMean", "Flatten", "Softmax", "Identity"])
        XCTAssertEqual(sidecar.classes, classes)
        XCTAssertEqual(sidecar.spectrogram?.bins, 257)
        XCTAssertEqual(sidecar.spectrogram?.hop, 160)
    }

    func testUnknownModelFileIsAClearError() {
        XCTAssertThrowsError(try ONNXExport.export("/tmp/model.bin", to: "/tmp/x.onnx")) { e in
            XCTAssertTrue("\(e)".contains("cannot tell the model kind"), "\(e)")
        }
    }
}
