import XCTest
import EmovoxCore
@testable import EmovoxModels

/// A whole vggm-small training step with BatchNorm → ReLU → MaxPool2D fused (blocks 1, 2 and 5) against the same
/// step layer by layer: the fused forward is bitwise the chain's, so the loss is equal; gradients differ only by
/// float summation order in the three BN layers and what flows back from them.
final class FusedStudentStepTests: XCTestCase {
    func gradients(fused: Bool) -> (loss: Float, grads: [(String, Tensor)], runningVar: [Float]) {
        let saved = Sequential.fusesTrainingBlocks
        Sequential.fusesTrainingBlocks = fused
        defer { Sequential.fusesTrainingBlocks = saved }
        var rng = SeededRNG(seed: 11)
        let model = StudentModel(config: .vggmSmall(classes: 5), rng: &rng)
        XCTAssertEqual(model.network.trainingPlan().count, model.network.layers.count - (fused ? 6 : 0))
        var x = Tensor(zeros: [3, 1, 257, 90])
        for i in x.data.indices { x.data[i] = rng.normal() }
        var targets = Tensor(zeros: [3, 5])
        for s in 0..<3 { targets.data[s * 5 + s] = 1 }
        let logits = model.forward(x, training: true)
        let (loss, grad) = Loss.softCrossEntropy(logits: logits, targets: targets)
        model.backward(grad)
        let bn5 = model.network.layers.first { $0.name == "bn5" }!.layer as! BatchNorm
        return (loss, model.network.namedParameters.map { ($0.0, $0.1.grad) }, bn5.runningVar.data)
    }

    /// Each parameter's gradient within 1e-3 of its largest magnitude (conv1's weight gradient sums over the whole
    /// 52k-element map per tap, so the reordered BN sums show there most).
    func testFusedStepMatchesLayerByLayer() {
        let f = gradients(fused: true), u = gradients(fused: false)
        XCTAssertEqual(f.loss, u.loss)
        XCTAssertEqual(f.runningVar, u.runningVar)
        XCTAssertEqual(f.grads.map(\.0), u.grads.map(\.0))
        for ((name, a), (_, b)) in zip(f.grads, u.grads) {
            let scale = b.data.map(abs).max() ?? 0
            XCTAssertGreaterThan(scale, 0, "\(name): no gradient")
            let worst = zip(a.data, b.data).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, 1e-3 * scale, "\(name): max |Δ| \(worst) vs max |g| \(scale)")
        }
    }
}
