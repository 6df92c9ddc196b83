import XCTest
@testable import EmovoxCore

/// Fixture tensors from tools/gen_core_fixtures.py (PyTorch), read with our own safetensors reader.
enum Fixtures {
    static let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    static let core: (tensors: [String: Tensor], metadata: [String: String]) = try! Safetensors.read(url.appendingPathComponent("core.safetensors").path)
    static func t(_ name: String) -> Tensor {
        guard let t = core.tensors[name] else { fatalError("fixture tensor \(name) missing: regenerate with tools/gen_core_fixtures.py") }
        return t
    }
    static func meta(_ c: String) -> [String: Any] {
        let all = try! JSONSerialization.jsonObject(with: Data(core.metadata["cases"]!.utf8)) as! [String: Any]
        return all[c] as! [String: Any]
    }
}

func assertClose(_ a: Tensor, _ b: Tensor, tol: Float = 1e-4, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.shape, b.shape, "\(what): shape", file: file, line: line)
    guard a.count == b.count else { return }
    var worst: Float = 0
    for i in 0..<a.count { worst = max(worst, abs(a.data[i] - b.data[i]) / max(1, abs(b.data[i]))) }
    XCTAssertLessThanOrEqual(worst, tol, "\(what): max relative error \(worst)", file: file, line: line)
}

func randomTensor(_ shape: [Int], _ rng: inout SeededRNG, scale: Float = 1) -> Tensor {
    var t = Tensor(zeros: shape)
    for i in t.data.indices { t.data[i] = rng.normal() * scale }
    return t
}

/// Central finite differences of L = Σ y·R against the analytic gradient, for inputs and parameters.
/// Checks a random subset of coordinates (all when small), in Double to keep the estimate clean.
func gradientCheck(_ layer: Layer, input: Tensor, training: Bool = true, eps: Float = 1e-2, tol: Double = 2e-2,
                   coordinates: Int = 40, file: StaticString = #filePath, line: UInt = #line) {
    var rng = SeededRNG(seed: 99)
    let y0 = layer.forward(input, training: training)
    let r = randomTensor(y0.shape, &rng)
    layer.parameters.forEach { $0.zeroGrad() }
    _ = layer.forward(input, training: training)
    let dx = layer.backward(r)
    func loss(_ x: Tensor) -> Double {
        let y = layer.forward(x, training: training)
        return zip(y.data, r.data).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }
    func pick(_ n: Int) -> [Int] { n <= coordinates ? Array(0..<n) : (0..<coordinates).map { _ in rng.int(below: n) } }
    var worst = 0.0
    for i in pick(input.count) {
        var xp = input, xm = input
        xp.data[i] += eps; xm.data[i] -= eps
        let num = (loss(xp) - loss(xm)) / (2 * Double(eps))
        worst = max(worst, abs(num - Double(dx.data[i])) / max(1, abs(num)))
    }
    for p in layer.parameters {
        let g = p.grad
        for i in pick(p.value.count) {
            let v = p.value.data[i]
            p.value.data[i] = v + eps; let lp = loss(input)
            p.value.data[i] = v - eps; let lm = loss(input)
            p.value.data[i] = v
            let num = (lp - lm) / (2 * Double(eps))
            worst = max(worst, abs(num - Double(g.data[i])) / max(1, abs(num)))
        }
    }
    XCTAssertLessThanOrEqual(worst, tol, "\(type(of: layer)): worst relative gradient error \(worst)", file: file, line: line)
}
