import Foundation
import EmovoxKernels

/// BatchNorm → ReLU → MaxPool2D run as one training step: an execution plan over the three layers (their parameters,
/// buffers and checkpoint names stay theirs), like inference's conv + BN + ReLU epilogue. The unfused chain streams
/// the BN input map about 16 times (x̂ and y written, ReLU read/write, pool read, and the same again backwards); this
/// step reads it once forward (each plane's statistics sums, then, from cache, the window argmax of ±x: BN and ReLU
/// are monotone in x) and twice backward (dx written once from x, plus a scatter at the argmaxes), keeping only the
/// pooled map, its argmax and x̂ there.
///
/// Forward output and running statistics are bitwise those of the unfused chain (the same float64 statistics, BN and
/// ReLU rounded as those layers round them). Ties: the first element in row-major order among the window's largest
/// ±x wins; the chain's first among the largest BN outputs is the same element unless two different x round to the
/// same BN output (then the output value is the same, only the element the gradient goes to differs). γ = 0 makes
/// BN's output constant: all tie and the first element wins, as in the chain. Where the window's max is ≤ 0 the ReLU
/// zeroes its gradient whichever element won. Backward sums Σdy and Σdy·x̂ over the pooled map only (the ReLU mask
/// and x̂ at each argmax come with it), so dx, dγ and dβ differ from the chain only by float summation order.
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
        precondition(c == batchNorm.channels, "BatchNorm(\(batchNorm.channels)) got input \(x.shape)")
        let g = WindowGeometry(inH: h, inW: w, kh: pool.kernel.h, kw: pool.kernel.w, sh: pool.stride.h, sw: pool.stride.w,
                               padding: pool.padding)
        let outPlane = g.outH * g.outW, count = n * c * outPlane
        let gamma = batchNorm.weight.value.data, beta = batchNorm.bias.value.data
        // One read of x: each plane's Σx, Σx², and the window argmax of x (or −x for γ < 0; γ = 0: all tie).
        var sums = [Double](repeating: 0, count: 2 * n * c)
        var idx = [Int32](unsafeUninitializedCapacity: count) { _, k in k = count }
        var y = x.data.withUnsafeBufferPointer { xp in idx.withUnsafeMutableBufferPointer { ip in sums.withUnsafeMutableBufferPointer { sp in
            Tensor(shape: [n, c, g.outH, g.outW]) { yp in
                PoolKernels.signedMaxWithPlaneSums(xp.baseAddress!, yp.baseAddress!, argmax: ip.baseAddress!, sums: sp.baseAddress!,
                                                   planes: n * c, channels: c, g: g,
                                                   sign: gamma.map { $0 > 0 ? 1 : $0 < 0 ? -1 : 0 })
            }
        } } }
        (mean, invStd) = batchNorm.trainingStatistics(planeSums: sums, samples: n, plane: h * w)
        // BN and ReLU on the pooled map only.
        var hat = [Float](unsafeUninitializedCapacity: count) { _, k in k = count }
        y.data.withUnsafeMutableBufferPointer { yp in hat.withUnsafeMutableBufferPointer { hp in
            Threads.parallelFor(n * c, minChunk: max(1, 4096 / outPlane)) { range in
                for nc in range {
                    let ch = nc % c
                    BatchNormKernels.normaliseReLUInPlace(yp.baseAddress! + nc * outPlane, hat: hp.baseAddress! + nc * outPlane,
                                                          count: outPlane, mean: mean[ch], invStd: invStd[ch], gamma: gamma[ch], beta: beta[ch])
                }
            }
        } }
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
