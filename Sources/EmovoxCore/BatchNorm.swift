import Foundation
import EmovoxUtilities
import EmovoxKernels

/// Batch normalisation over N·H·W per channel (works for [N, C] too). PyTorch semantics: training uses the
/// biased batch variance and updates running_var with the unbiased one; momentum 0.1 (Keras 0.99 ≙ 0.01).
public final class BatchNorm: Layer {
    public let channels: Int
    public let epsilon: Float
    public let momentum: Float
    public let weight: Parameter
    public let bias: Parameter
    public var runningMean: Tensor
    public var runningVar: Tensor
    public var batchesTracked: Int = 0
    private var xHat: Tensor?
    private var invStd: [Float] = []

    public init(_ channels: Int, epsilon: Float = 1e-5, momentum: Float = 0.1) {
        self.channels = channels; self.epsilon = epsilon; self.momentum = momentum
        weight = Parameter("weight", Tensor(repeating: 1, shape: [channels]))
        bias = Parameter("bias", Tensor(zeros: [channels]))
        runningMean = Tensor(zeros: [channels])
        runningVar = Tensor(repeating: 1, shape: [channels])
    }

    public var parameters: [Parameter] { [weight, bias] }
    public var buffers: [(name: String, tensor: Tensor)] {
        [("running_mean", runningMean), ("running_var", runningVar),
         ("num_batches_tracked", Tensor(shape: [], data: [Float(batchesTracked)]))]
    }

    public func setBuffer(_ name: String, _ tensor: Tensor) throws {
        switch name {
        case "running_mean": runningMean = tensor
        case "running_var": runningVar = tensor
        case "num_batches_tracked": batchesTracked = Int(tensor.data.first ?? 0)
        default: throw EmovoxError("BatchNorm has no buffer '\(name)'")
        }
    }

    func layout(_ x: Tensor) -> (n: Int, plane: Int) {
        precondition(x.shape[1] == channels, "BatchNorm(\(channels)) got input \(x.shape)")
        return (x.shape[0], x.rank > 2 ? x.shape[2...].reduce(1, *) : 1)
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let (n, plane) = layout(x)
        var y = Tensor(zeros: [0])  // replaced below; training writes it inside a closure
        if training {
            let (mean, inv) = trainingStatistics(x)
            let gamma = weight.value.data, beta = bias.value.data
            // Both maps are written completely, so they skip the zero fill.
            xHat = x.data.withUnsafeBufferPointer { xp in
                Tensor(shape: x.shape) { hp in
                    y = Tensor(shape: x.shape) { yp in
                        Threads.parallelFor(n * channels, minChunk: max(1, 4096 / plane)) { range in
                            for nc in range {
                                let c = nc % channels, row = nc * plane
                                BatchNormKernels.normalise(xp.baseAddress! + row, hat: hp.baseAddress! + row, y: yp.baseAddress! + row,
                                                           count: plane, mean: mean[c], invStd: inv[c], gamma: gamma[c], beta: beta[c])
                            }
                        }
                    }
                }
            }
        } else {
            // A backward after an inference forward is a bug: fail loudly, not with stale state. (Only written
            // when set, so inference never mutates the layer and may run on several threads.)
            if xHat != nil { xHat = nil }
            y = x
            inferInPlace(&y)
        }
        return y
    }

    /// Batch mean and 1/√(var + ε) per channel of a training batch; updates the running statistics and
    /// `batchesTracked` and keeps invStd for backward.
    func trainingStatistics(_ x: Tensor) -> (mean: [Float], invStd: [Float]) {
        let (n, plane) = layout(x)
        var sums = [Double](repeating: 0, count: 2 * n * channels)
        // Threads write only through raw pointers, one plane each: no array is mutated concurrently.
        x.data.withUnsafeBufferPointer { xp in sums.withUnsafeMutableBufferPointer { sp in
            Threads.parallelFor(n * channels, minChunk: max(1, 4096 / plane)) { range in
                for nc in range {
                    let row = xp.baseAddress! + nc * plane
                    (sp[2 * nc], sp[2 * nc + 1]) = sumAndDot(row, row, count: plane)
                }
            }
        } }
        return trainingStatistics(planeSums: sums, samples: n, plane: plane)
    }

    /// The statistics from Σx, Σx² of every (sample, channel) plane ([2·(s·C + c) …], from `sumAndDot`): added in
    /// float64 in sample order, so the result depends neither on the thread count nor on who took the sums (the
    /// fused BatchNorm → ReLU → MaxPool2D step takes them while pooling).
    func trainingStatistics(planeSums sums: [Double], samples n: Int, plane: Int) -> (mean: [Float], invStd: [Float]) {
        let m = Double(n * plane)
        var mean = [Float](repeating: 0, count: channels)
        invStd = mean
        for c in 0..<channels {
            var sum = 0.0, sq = 0.0
            for s in 0..<n { sum += sums[2 * (s * channels + c)]; sq += sums[2 * (s * channels + c) + 1] }
            let mu = sum / m, variance = max(sq / m - mu * mu, 0)
            mean[c] = Float(mu)
            invStd[c] = Float(1 / (variance + Double(epsilon)).squareRoot())
            // Running variance is the unbiased estimate, as in PyTorch.
            let unbiased = m > 1 ? variance * m / (m - 1) : variance
            runningMean.data[c] = (1 - momentum) * runningMean.data[c] + momentum * mean[c]
            runningVar.data[c] = (1 - momentum) * runningVar.data[c] + momentum * Float(unbiased)
        }
        batchesTracked += 1
        return (mean, invStd)
    }

    /// Inference with running statistics, rewriting `x` (no copy when the caller holds the only reference);
    /// `relu` applies a following ReLU in the same pass.
    public func inferInPlace(_ x: inout Tensor, relu: Bool = false) {
        let (n, plane) = layout(x)
        let (scale, shift) = inferenceAffine()
        x.data.withUnsafeMutableBufferPointer { xp in
            Threads.parallelFor(n * channels, minChunk: max(1, 4096 / plane)) { range in
                for nc in range {
                    let c = nc % channels, p = xp.baseAddress! + nc * plane
                    if relu {
                        EmovoxKernels.relu(p, p, count: plane, scale: scale[c], shift: shift[c])
                    } else {
                        BatchNormKernels.affine(p, count: plane, scale: scale[c], shift: shift[c])
                    }
                }
            }
        }
    }

    /// Inference-time affine form (scale, shift) per channel, for folding BN into a preceding conv.
    public func inferenceAffine() -> (scale: [Float], shift: [Float]) {
        var scale = [Float](repeating: 0, count: channels), shift = scale
        for c in 0..<channels {
            scale[c] = weight.value.data[c] / (runningVar.data[c] + epsilon).squareRoot()
            shift[c] = bias.value.data[c] - runningMean.data[c] * scale[c]
        }
        return (scale, shift)
    }

    /// dx = γ·invStd/m · (m·dy − Σdy − x̂·Σ(dy·x̂)), the standard batch-statistics backward. Each channel's
    /// sums are taken before its dx is written over the cached x̂, which no one needs afterwards.
    public func backward(_ dy: Tensor) -> Tensor {
        guard var dx = xHat else { fatalError("BatchNorm.backward without a training forward") }
        xHat = nil
        let (n, plane) = layout(dy)
        let m = Float(n * plane)
        let gamma = weight.value.data, inv = invStd
        dy.data.withUnsafeBufferPointer { dp in dx.data.withUnsafeMutableBufferPointer { hp in
        weight.grad.data.withUnsafeMutableBufferPointer { gw in bias.grad.data.withUnsafeMutableBufferPointer { gb in
            Threads.parallelFor(channels) { range in
                for c in range {
                    var sums = (0.0, 0.0)
                    for s in 0..<n {
                        let base = (s * channels + c) * plane
                        let (a, b) = sumAndDot(dp.baseAddress! + base, hp.baseAddress! + base, count: plane)
                        sums.0 += a; sums.1 += b
                    }
                    let sumDy = Float(sums.0), sumDyXh = Float(sums.1)
                    gw[c] += sumDyXh
                    gb[c] += sumDy
                    let k = gamma[c] * inv[c] / m
                    for s in 0..<n {
                        let base = (s * channels + c) * plane
                        BatchNormKernels.inputGradient(dp.baseAddress! + base, hat: hp.baseAddress! + base, count: plane,
                                                       k: k, m: m, sumDy: sumDy, sumDyXHat: sumDyXh)
                    }
                }
            }
        } } } }
        return dx
    }
}
