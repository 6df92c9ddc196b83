import XCTest
@testable import EmovoxCore

final class TrainingTests: XCTestCase {
    /// Horizontal vs vertical noisy stripes, 12×12.
    func stripes(_ n: Int, _ rng: inout SeededRNG) -> (Tensor, [Int]) {
        var x = Tensor(zeros: [n, 1, 12, 12]), labels: [Int] = []
        for s in 0..<n {
            let label = rng.int(below: 2), phase = rng.int(below: 4)
            labels.append(label)
            for i in 0..<12 { for j in 0..<12 {
                let on = ((label == 0 ? i : j) + phase) % 4 < 2
                x.data[s * 144 + i * 12 + j] = (on ? 1 : -1) + rng.normal() * 0.5
            } }
        }
        return (x, labels)
    }

    func makeNet(_ rng: inout SeededRNG) -> Sequential {
        Sequential([("conv1", Conv2D(1, 6, kernel: (3, 3), padding: .symmetric(1, 1), bias: false, rng: &rng)),
                    ("bn1", BatchNorm(6)), ("relu1", ReLU()), ("pool1", MaxPool2D(kernel: (2, 2))),
                    ("conv2", Conv2D(6, 8, kernel: (3, 3), padding: .same, rng: &rng)), ("relu2", ReLU()),
                    ("gap", GlobalAvgPool()), ("fc", Linear(8, 2, rng: &rng))])
    }

    func train(seed: UInt64, steps: Int) -> (net: Sequential, losses: [Float]) {
        var rng = SeededRNG(seed: seed)
        let net = makeNet(&rng)
        let sgd = SGD(net.parameters, learningRate: 0.05, momentum: 0.9, weightDecay: 5e-4)
        var losses: [Float] = []
        for _ in 0..<steps {
            let (x, y) = stripes(32, &rng)
            var target = Tensor(zeros: [32, 2])
            for (i, l) in y.enumerated() { target.data[i * 2 + l] = 1 }
            sgd.zeroGrad()
            let logits = net.forward(x, training: true)
            let (loss, g) = Loss.softCrossEntropy(logits: logits, targets: target)
            _ = net.backward(g)
            sgd.step()
            losses.append(loss)
        }
        return (net, losses)
    }

    func testTinyCNNLearnsStripes() {
        let (net, losses) = train(seed: 11, steps: 80)
        var rng = SeededRNG(seed: 12345)
        let (x, y) = stripes(200, &rng)
        let logits = net.forward(x, training: false)
        let correct = (0..<200).filter { (logits.data[$0 * 2 + 1] > logits.data[$0 * 2] ? 1 : 0) == y[$0] }.count
        XCTAssertGreaterThanOrEqual(Double(correct) / 200, 0.95, "held-out accuracy \(correct)/200; final loss \(losses.last!)")
    }

    func testSameSeedSameRunDifferentSeedDifferentRun() {
        let a = train(seed: 5, steps: 6), b = train(seed: 5, steps: 6), c = train(seed: 6, steps: 6)
        XCTAssertEqual(a.losses, b.losses)
        XCTAssertEqual(a.net.stateDict(), b.net.stateDict())
        XCTAssertNotEqual(a.losses, c.losses)
    }
}
