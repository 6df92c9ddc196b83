import Foundation
import EmovoxKernels

/// BatchNorm → ReLU → MaxPool2D run as one training step: an execution plan over the three layers (their parameters,
/// buffers and checkpoint names stay theirs), like inference's conv + BN + ReLU epilogue. The unfused chain streams
/// the BN input map about 16 times (x̂ and y written, ReLU read/write, pool read, and the same again backwards); this
/// step reads it twice forward (statistics, then pooling on BN's output computed on the fly) and twice backward
/// (dx written once from x, plus a scatter at the argmaxes), keeping only the pooled map, its argmax and x̂ there.
///
/// Forward output and running statistics are bitwise those of the unfused chain (same float64 statistics, BN's
/// output computed in the same rounding order, the same first-in-row-major tie rule). Backward sums Σdy and Σdy·x̂
/// over the pooled map only (the ReLU mask and x̂ at each argmax come with it), so dx, dγ and dβ differ from the
/// unfused chain only by float summation order. Where BN's output ties inside a window (e.g. γ = 0) the first element
/// wins, as in the chain; where the window's max is ≤ 0 the ReLU zeroes its gradient, whichever element won.
final class BatchNormReLUMaxPool {
    let batchNorm: BatchNorm
    let pool: MaxPool2D
    private var input: Tensor?
    private var pooled: Tensor?
    private var argmax: [Int32] = []
    private var hatAtMax: [Float] = []
    private var mean: [Float] = [], invStd: [Float] = []

    init(_ batchNorm: BatchNorm, _ pool: MaxPool2D) { self.batchNorm = batchNorm; self.pool = pool }

    /// The pattern at `layers[i...]`, when the map is NCHW (BN over a flat [N, C] map is not followed by a 2-D pool).
    static func matches(_ layers: [(name: String, layer: Layer)], at i: Int) -> (BatchNorm, MaxPool2D)? {
        guard i + 2 < layers.count, let bn = layers[i].layer as? BatchNorm, layers[i + 1].layer is ReLU,
              let pool = layers[i + 2].layer as? MaxPool2D else { return nil }
        return (bn, pool)
    }

    func forward(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4, "BatchNorm → ReLU → MaxPool2D needs an NCHW map, got \(x.shape)")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        (mean, invStd) = batchNorm.trainingStatistics(x)
        let g = WindowGeometry(inH: h, inW: w, kh: pool.kernel.h, kw: pool.kernel.w, sh: pool.stride.h, sw: pool.stride.w,
                               padding: pool.padding)
        let count = n * c * g.outH * g.outW
        var idx = [Int32](unsafeUninitializedCapacity: count) { _, k in k = count }
        var hat = [Float](unsafeUninitializedCapacity: count) { _, k in k = count }
        let y = x.data.withUnsafeBufferPointer { xp in idx.withUnsafeMutableBufferPointer { ip in hat.withUnsafeMutableBufferPointer { hp in
            Tensor(shape: [n, c, g.outH, g.outW]) { yp in
                PoolKernels.batchNormReLUMax(xp.baseAddress!, yp.baseAddress!, argmax: ip.baseAddress!, hat: hp.baseAddress!,
                                             planes: n * c, channels: c, g: g, mean: mean, invStd: invStd,
                                             gamma: batchNorm.weight.value.data, beta: batchNorm.bias.value.data)
            }
        } } }
        // Keeps x (one map where the unfused chain keeps two: x̂ and ReLU's output); the pooled map is shared
        // with the next layer's cached input.
        input = x; pooled = y; argmax = idx; hatAtMax = hat
        return y
    }

    func backward(_ dy: Tensor) -> Tensor {
        guard let x = input, let y = pooled else { fatalError("BatchNorm → ReLU → MaxPool2D backward without a training forward") }
        input = nil; pooled = nil
        let (n, c) = (x.shape[0], x.shape[1])
        let inPlane = x.shape[2] * x.shape[3], outPlane = y.shape[2] * y.shape[3]
        let m = Float(n * inPlane)
        precondition(dy.shape == y.shape, "BatchNorm → ReLU → MaxPool2D backward got \(dy.shape), output was \(y.shape)")
        // Per-channel sums over the pooled map, samples in order: no dependence on the thread count.
        var sumDy = [Float](repeating: 0, count: c), sumDyXHat = sumDy
        dy.data.withUnsafeBufferPointer { dp in y.data.withUnsafeBufferPointer { yp in hatAtMax.withUnsafeBufferPointer { hp in
        sumDy.withUnsafeMutableBufferPointer { sp in sumDyXHat.withUnsafeMutableBufferPointer { tp in
            Threads.parallelFor(c) { range in
                for ch in range {
                    var sums = (0.0, 0.0)
                    for s in 0..<n {
                        let o = (s * c + ch) * outPlane
                        let (a, b) = BatchNormKernels.maskedPooledSums(dp.baseAddress! + o, pooled: yp.baseAddress! + o,
                                                                       hat: hp.baseAddress! + o, count: outPlane)
                        sums.0 += a; sums.1 += b
                    }
                    sp[ch] = Float(sums.0); tp[ch] = Float(sums.1)
                }
            }
        } } } } }
        let gamma = batchNorm.weight.value.data
        for ch in 0..<c {
            batchNorm.weight.grad.data[ch] += sumDyXHat[ch]
            batchNorm.bias.grad.data[ch] += sumDy[ch]
        }
        let dx = x.data.withUnsafeBufferPointer { xp in dy.data.withUnsafeBufferPointer { dp in y.data.withUnsafeBufferPointer { yp in
        argmax.withUnsafeBufferPointer { ap in
            Tensor(shape: x.shape) { dxp in
                Threads.parallelFor(n * c, minChunk: max(1, 4096 / inPlane)) { range in
                    for nc in range {
                        let ch = nc % c
                        BatchNormKernels.fusedInputGradient(xp.baseAddress! + nc * inPlane, dx: dxp.baseAddress! + nc * inPlane, count: inPlane,
                                                            dyPooled: dp.baseAddress! + nc * outPlane, pooled: yp.baseAddress! + nc * outPlane,
                                                            argmax: ap.baseAddress! + nc * outPlane, pooledCount: outPlane,
                                                            mean: mean[ch], invStd: invStd[ch], k: gamma[ch] * invStd[ch] / m, m: m,
                                                            sumDy: sumDy[ch], sumDyXHat: sumDyXHat[ch])
                    }
                }
            }
        } } } }
        argmax = []; hatAtMax = []
        return dx
    }
}
