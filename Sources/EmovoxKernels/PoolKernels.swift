import Foundation

/// Max pooling's window loops on raw planes (MaxPool2D in EmovoxCore is the layer around them).
public enum PoolKernels {
    /// The training forward also records where each max came from (index within its input plane). As at
    /// inference, a vertical max over whole rows (vectorised, with the row it came from) and then a short
    /// horizontal max. Ties go to the first element in row-major order, as in PyTorch: the vertical pass keeps
    /// the upper row, the horizontal one the smaller plane index.
    public static func trainingMax(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>,
                            planes: Int, g: WindowGeometry) {
        windowArgmax(x, argmax: argmax, planes: planes, g: g, values: { _ in IdentityValues() }) { plane, o, at, src, _ in
            y[plane * g.outH * g.outW + o] = src[Int(at)]
        }
    }

    /// Training max pool of relu(batchnorm(x)) straight from x (BatchNorm → ReLU → MaxPool2D as one pass): each row is
    /// normalised on the fly exactly as BatchNorm writes its output, x̂ = (x − mean)·invStd then x̂·γ + β, so the window
    /// argmax and its ties are those of the unfused chain wherever the pooled value is positive (ReLU only turns
    /// negatives into zeros, which tie; there the gradient is zero whichever element wins). Writes relu(max) to `y`, its
    /// input-plane index to `argmax` and x̂ at that index to `hat`. Plane p holds channel p % channels.
    public static func batchNormReLUMax(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>,
                                        hat: UnsafeMutablePointer<Float>, planes: Int, channels: Int, g: WindowGeometry,
                                        mean: [Float], invStd: [Float], gamma: [Float], beta: [Float]) {
        let outPlane = g.outH * g.outW
        windowArgmax(x, argmax: argmax, planes: planes, g: g, values: { plane in
            let c = plane % channels
            return BatchNormValues(mean: mean[c], invStd: invStd[c], gamma: gamma[c], beta: beta[c])
        }) { plane, o, at, src, bn in
            let h = (src[Int(at)] - bn.mean) * bn.invStd, v = h * bn.gamma + bn.beta
            hat[plane * outPlane + o] = h
            y[plane * outPlane + o] = (v < 0 ? 0 : v) + 0  // ReLU as the layer: −0 → +0, NaN stays NaN
        }
    }

    /// The argmax pooling loop shared by the plain and the BatchNorm-fused training forward: `values(plane)` maps one
    /// plane's inputs to the values compared (identity, or BN's output); `emit(plane, outIndex, argmax, plane base,
    /// values)` writes each output. Padding never wins.
    @inline(__always)
    static func windowArgmax<V: WindowValues>(_ x: UnsafePointer<Float>, argmax: UnsafeMutablePointer<Int32>, planes: Int, g: WindowGeometry,
                                              values: (Int) -> V, emit: (Int, Int, Int32, UnsafePointer<Float>, V) -> Void) {
        let (h, w) = (g.inH, g.inW)
        let padded = max((g.outW - 1) * g.sw + g.kw, g.padLeft + w)
        Threads.parallelFor(planes) { range in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: padded) { buffer in
            withUnsafeTemporaryAllocation(of: Int32.self, capacity: padded) { rows in
            withUnsafeTemporaryAllocation(of: Int64.self, capacity: padded) { keys in
                // Padding never wins: −∞, and on a tie the largest index.
                buffer.initialize(repeating: -.infinity)
                rows.initialize(repeating: Int32(h + 1))
                let m = buffer.baseAddress! + g.padLeft, mr = rows.baseAddress! + g.padLeft, mk = keys.baseAddress! + g.padLeft
                for plane in range {
                    let src = x + plane * h * w, at = argmax + plane * g.outH * g.outW
                    let f = values(plane)
                    for oh in 0..<g.outH {
                        let h0 = oh * g.sh - g.padTop
                        let ha = max(h0, 0), hb = max(min(h0 + g.kh, h), ha + 1)
                        f.copy(src + ha * w, to: m, count: w)
                        mr.update(repeating: Int32(ha), count: w)
                        for ih in (ha + 1)..<hb {
                            let row = src + ih * w, rowIndex = SIMD8<Int32>(repeating: Int32(ih))
                            var q = 0
                            while q + 8 <= w {
                                var a = UnsafeRawPointer(m + q).loadUnaligned(as: SIMD8<Float>.self)
                                var r = UnsafeRawPointer(mr + q).loadUnaligned(as: SIMD8<Int32>.self)
                                let b = f(UnsafeRawPointer(row + q).loadUnaligned(as: SIMD8<Float>.self))
                                let wins = b .> a
                                a.replace(with: b, where: wins)
                                r.replace(with: rowIndex, where: wins)
                                UnsafeMutableRawPointer(m + q).storeBytes(of: a, as: SIMD8<Float>.self)
                                UnsafeMutableRawPointer(mr + q).storeBytes(of: r, as: SIMD8<Int32>.self)
                                q += 8
                            }
                            while q < w { let b = f(row[q]); if b > m[q] { m[q] = b; mr[q] = Int32(ih) }; q += 1 }
                        }
                        // Branch-free: value and position packed into one integer key whose maximum is the
                        // largest value and, among equal values, the smallest plane index (the row-major first).
                        @inline(__always) func key(_ q: Int) -> Int64 {
                            let bits = Int32(bitPattern: (m[q] + 0).bitPattern)  // + 0 turns −0 into +0: they tie
                            let ordered = bits >= 0 ? bits : bits ^ Int32.max     // integer order = float order
                            return Int64(ordered) << 32 | Int64(Int32.max - (mr[q] * Int32(w) + Int32(q)))
                        }
                        // Each column's key once (a window overlaps the next when kw > sw), padding included.
                        for q in -g.padLeft..<(padded - g.padLeft) { mk[q] = key(q) }
                        for ow in 0..<g.outW {
                            let c0 = ow * g.sw - g.padLeft  // image column of the window's first tap
                            var best = mk[c0]
                            for j in 1..<max(g.kw, 1) { best = Swift.max(best, mk[c0 + j]) }
                            let bestAt = Int32.max - Int32(truncatingIfNeeded: best)
                            at[oh * g.outW + ow] = bestAt
                            emit(plane, oh * g.outW + ow, bestAt, src, f)
                        }
                    }
                }
            } } }
        }
    }

    /// Inference needs no argmax, so the window max splits into a vertical max of whole rows (vectorised)
    /// and a short horizontal max per output over that row, padded with −∞ so no window needs clipping.
    public static func inferenceMax(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, planes: Int, g: WindowGeometry) {
        let (h, w) = (g.inH, g.inW)
        let padded = (g.outW - 1) * g.sw + g.kw  // ≥ padLeft + w: the right padding, if any, is the tail
        Threads.parallelFor(planes) { range in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: max(padded, g.padLeft + w)) { buffer in
                buffer.initialize(repeating: -.infinity)
                let m = buffer.baseAddress! + g.padLeft
                for plane in range {
                    let src = x + plane * h * w, dst = y + plane * g.outH * g.outW
                    for oh in 0..<g.outH {
                        let h0 = oh * g.sh - g.padTop
                        let ha = max(h0, 0), hb = max(min(h0 + g.kh, h), ha + 1)
                        m.update(from: src + ha * w, count: w)
                        for ih in (ha + 1)..<hb {
                            let row = src + ih * w
                            var q = 0
                            while q + 8 <= w {
                                var a = UnsafeRawPointer(m + q).loadUnaligned(as: SIMD8<Float>.self)
                                let b = UnsafeRawPointer(row + q).loadUnaligned(as: SIMD8<Float>.self)
                                // A mask blend: the stdlib's pointwiseMax goes lane by lane with NaN checks.
                                a.replace(with: b, where: b .> a)
                                UnsafeMutableRawPointer(m + q).storeBytes(of: a, as: SIMD8<Float>.self)
                                q += 8
                            }
                            while q < w { m[q] = Swift.max(m[q], row[q]); q += 1 }
                        }
                        let out = dst + oh * g.outW, base = buffer.baseAddress!
                        if g.kw == 3 {
                            for ow in 0..<g.outW {
                                let r = base + ow * g.sw
                                out[ow] = Swift.max(Swift.max(r[0], r[1]), r[2])
                            }
                        } else {
                            for ow in 0..<g.outW {
                                let r = base + ow * g.sw
                                var best = r[0]
                                for j in 1..<max(g.kw, 1) { best = Swift.max(best, r[j]) }
                                out[ow] = best
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What a training max pool compares: the inputs themselves, or BatchNorm's output computed from them on the fly.
protocol WindowValues {
    func callAsFunction(_ v: SIMD8<Float>) -> SIMD8<Float>
    func callAsFunction(_ v: Float) -> Float
}

extension WindowValues {
    /// One row's values into the pooling buffer.
    @inline(__always) func copy(_ row: UnsafePointer<Float>, to m: UnsafeMutablePointer<Float>, count: Int) {
        var q = 0
        while q + 8 <= count {
            UnsafeMutableRawPointer(m + q).storeBytes(of: self(UnsafeRawPointer(row + q).loadUnaligned(as: SIMD8<Float>.self)), as: SIMD8<Float>.self)
            q += 8
        }
        while q < count { m[q] = self(row[q]); q += 1 }
    }
}

struct IdentityValues: WindowValues {
    @inline(__always) func callAsFunction(_ v: SIMD8<Float>) -> SIMD8<Float> { v }
    @inline(__always) func callAsFunction(_ v: Float) -> Float { v }
}

/// (x − mean)·invStd·γ + β in the order BatchNorm's training forward rounds it (no fused multiply-add), so the
/// values compared are bitwise BN's output.
struct BatchNormValues: WindowValues {
    let mean, invStd, gamma, beta: Float
    @inline(__always) func callAsFunction(_ v: SIMD8<Float>) -> SIMD8<Float> {
        ((v - SIMD8(repeating: mean)) * SIMD8(repeating: invStd)) * SIMD8(repeating: gamma) + SIMD8(repeating: beta)
    }
    @inline(__always) func callAsFunction(_ v: Float) -> Float { ((v - mean) * invStd) * gamma + beta }
}
