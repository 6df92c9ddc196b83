import Foundation

/// Softmax and losses with temperature T, row-wise over [N, C] logits (computed in Double for stability).
public enum Softmax {
    public static func probabilities(_ logits: Tensor, temperature t: Float = 1) -> Tensor {
        rowwise(logits) { row in
            let m = row.max() ?? 0
            let e = row.map { exp(Double(($0 - m) / t)) }
            let z = e.reduce(0, +)
            return e.map { Float($0 / z) }
        }
    }

    /// Probabilities of one row of logits.
    public static func probabilities(_ row: [Float], temperature t: Float = 1) -> [Float] {
        probabilities(Tensor(shape: [1, row.count], data: row), temperature: t).data
    }

    public static func logProbabilities(_ logits: Tensor, temperature t: Float = 1) -> Tensor {
        rowwise(logits) { row in
            let m = row.max() ?? 0
            let lse = log(row.map { exp(Double(($0 - m) / t)) }.reduce(0, +))
            return row.map { Float(Double(($0 - m) / t) - lse) }
        }
    }

    static func rowwise(_ x: Tensor, _ f: ([Float]) -> [Float]) -> Tensor {
        let (n, c) = (x.shape[0], x.count / x.shape[0])
        var out = [Float]()
        out.reserveCapacity(x.count)
        for i in 0..<n { out += f(Array(x.data[(i * c)..<((i + 1) * c)])) }
        return Tensor(shape: x.shape, data: out)
    }
}

public enum Loss {
    /// Mean over the batch of −Σ target·log softmax(logits/T), and its gradient w.r.t. the logits:
    /// (softmax(logits/T) − target) / (T·N). The distillation loss of the paper with T = 2.
    public static func softCrossEntropy(logits: Tensor, targets: Tensor, temperature t: Float = 1) -> (loss: Float, grad: Tensor) {
        // Unit weights leave every product exact (1·x = x), so this is bitwise the unweighted loss.
        weightedSoftCrossEntropy(logits: logits, targets: targets, weights: [Float](repeating: 1, count: logits.shape[0]), temperature: t)
    }

    /// Σ_i w_i·CE_i / N with per-row weights `w` (class balancing: rare classes count more), and its gradient:
    /// row i of the unweighted gradient scaled by w_i. With all w_i = 1 it is `softCrossEntropy`.
    public static func weightedSoftCrossEntropy(logits: Tensor, targets: Tensor, weights w: [Float], temperature t: Float = 1) -> (loss: Float, grad: Tensor) {
        precondition(logits.shape == targets.shape, "softCrossEntropy: logits \(logits.shape) vs targets \(targets.shape)")
        let n = logits.shape[0]
        precondition(w.count == n, "weightedSoftCrossEntropy: \(w.count) weights for \(n) rows")
        let logp = Softmax.logProbabilities(logits, temperature: t)
        let c = logits.count / max(n, 1)
        var loss = 0.0
        var grad = Tensor(zeros: logits.shape)
        for r in 0..<n {
            for j in (r * c)..<((r + 1) * c) {
                loss -= Double(w[r]) * Double(targets.data[j]) * Double(logp.data[j])
                grad.data[j] = w[r] * (exp(logp.data[j]) - targets.data[j]) / (t * Float(n))
            }
        }
        return (Float(loss / Double(n)), grad)
    }

    /// KL(target ‖ softmax(logits/T)) averaged over the batch ("batchmean"), with its gradient.
    /// It equals the soft cross-entropy minus the targets' entropy, so the gradients coincide.
    public static func klDivergence(logits: Tensor, targets: Tensor, temperature t: Float = 1) -> (loss: Float, grad: Tensor) {
        let (ce, grad) = softCrossEntropy(logits: logits, targets: targets, temperature: t)
        var entropy = 0.0
        for p in targets.data where p > 0 { entropy -= Double(p) * log(Double(p)) }
        return (ce - Float(entropy / Double(logits.shape[0])), grad)
    }
}
