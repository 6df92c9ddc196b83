import XCTest
import EmovoxCore
@testable import EmovoxModels

/// A whole student's inference (the fused conv → BN → ReLU plan) on its measured paths, conv3–5 on Winograd F(4×4, 3×3)
/// in partial tiles, against the same model on F(2×2, 3×3), the training path: the two differ only by the kernels'
/// rounding.
final class StudentInferencePathTests: XCTestCase {
    /// vggm-small at its 400-frame crop (conv3–5 at 15×23: 4×6 tiles of 4×4, the last row and column partial), with
    /// BN statistics set away from the identity. Bound: each F(4×4, 3×3) output is within γ(cin + 15) · 113.8 ·
    /// Σ ‖g‖₁ ‖d‖₁ of exact (≈ 10⁻⁵ of the layer's largest output on these shapes, WinogradConvTests and
    /// tools/conv_kernel_bench.c); BN, ReLU, pooling and the fc layers pass such a relative perturbation on without
    /// amplifying it by more than their gains, so every logit stays within 10⁻³ of the largest logit magnitude (a
    /// 100× margin over the per-layer error) and every class probability within 10⁻³.
    func testF4x4InferenceOfAStudentIsCloseToF2x2() {
        var rng = SeededRNG(seed: 12)
        let model = StudentModel(config: .vggmSmall(classes: 7), rng: &rng)
        for case let bn as BatchNorm in model.network.layers.map(\.layer) {
            for c in 0..<bn.runningMean.count {
                bn.runningMean.data[c] = 0.1 * rng.normal(); bn.runningVar.data[c] = 0.5 + rng.uniform()
                bn.weight.value.data[c] = 1 + 0.2 * rng.normal(); bn.bias.value.data[c] = 0.1 * rng.normal()
            }
        }
        var x = Tensor(zeros: [3, 1, 257, 400])
        for i in x.data.indices { x.data[i] = rng.normal() }
        let rows = ModelSummary.rows(model.network, input: x.shape)
        let inputs = Dictionary(uniqueKeysWithValues: rows.indices.dropFirst().map { (rows[$0].name, rows[$0 - 1].outputShape) })
        let convs = model.network.layers.filter { ["conv3", "conv4", "conv5"].contains($0.name) }.map { ($0.name, $0.layer as! Conv2D) }
        XCTAssertEqual(convs.count, 3)
        func logits(_ choice: DirectConvChoice) -> Tensor {
            for (name, c) in convs {
                c.tuning.direct = choice
                let shape = inputs[name]!, g = c.geometry(shape[2], shape[3])
                XCTAssertEqual(shape[2...3], [15, 23], name)
                XCTAssertEqual(c.path(g, .inference), choice == .measured ? .winograd4 : .winograd, name)
                XCTAssertEqual(c.path(g, .training), .winograd, "\(name): training keeps F(2×2, 3×3)")
            }
            return model.forward(x, training: false)
        }
        let f2 = logits(.winograd), f4 = logits(.measured)
        XCTAssertEqual(f2.shape, [3, 7])
        let scale = f2.data.map(abs).max() ?? 0, worst = zip(f2.data, f4.data).map { abs($0 - $1) }.max() ?? .nan
        XCTAssertGreaterThan(scale, 0)
        XCTAssertLessThanOrEqual(worst, 1e-3 * scale, "max |Δ logit| \(worst), max |logit| \(scale)")
        XCTAssertNotEqual(f2.data, f4.data, "the two paths round differently: the comparison must see two computations")
        func softmax(_ t: Tensor) -> [Float] {
            (0..<3).flatMap { s -> [Float] in
                let row = t.data[s * 7..<(s + 1) * 7], m = row.max()!, e = row.map { exp($0 - m) }, z = e.reduce(0, +)
                return e.map { $0 / z }
            }
        }
        let dp = zip(softmax(f2), softmax(f4)).map { abs($0 - $1) }.max() ?? .nan
        XCTAssertLessThanOrEqual(dp, 1e-3, "max |Δ probability|")
        print("vggm-small inference F(4×4) vs F(2×2): max |Δ logit| \(worst) (max |logit| \(scale)), max |Δ p| \(dp)")
    }
}
