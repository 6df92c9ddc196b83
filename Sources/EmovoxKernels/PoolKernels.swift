import Foundation

/// Max pooling's window loops on raw planes (MaxPool2D in EmovoxCore is the layer around them).
public enum PoolKernels {
    /// The training forward also records where each max came from (index within its input plane). As at
    /// inference, a vertical max over whole rows (vectorised, with the row it came from) and then a short
    /// horizontal max. Ties go to the first element in row-major order, as in PyTorch: the vertical pass keeps
    /// the upper row, the horizontal one the smaller plane index.
    public static func trainingMax(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>,
                            planes: Int, g: WindowGeometry) {
        windowArgmax(x, y, argmax: argmax, planes: planes, g: g, sink: PlainMaxSink())
    }

    /// The pooling half of BatchNorm → ReLU → MaxPool2D in training, in one read of x that also takes BN's statistics.
    /// BN's output ((x − mean)·invStd)·γ + β is monotone in x in float arithmetic too (each rounded step is), rising
    /// for γ > 0 and falling for γ < 0, and ReLU keeps the order, so each window's max of relu(bn(x)) sits at the max
    /// of `sign[c]`·x with sign = 1, −1 or 0 (γ = 0: BN's output is constant, all tie, the first element wins as in the
    /// unfused chain). Writes x at the argmax to `y` (BN and ReLU are applied to the pooled map once the statistics are
    /// known), the argmax to `argmax`, and Σx, Σx² of each plane (`sumAndDot`, as BatchNorm takes them) to `sums`
    /// [plane·2 …]. Plane p holds channel p % channels.
    public static func signedMaxWithPlaneSums(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>,
                                              sums: UnsafeMutablePointer<Double>, planes: Int, channels: Int, g: WindowGeometry,
                                              sign: [Float]) {
        sign.withUnsafeBufferPointer { sp in
            windowArgmax(x, y, argmax: argmax, planes: planes, g: g,
                         sink: SignedMaxSink(sums: sums, inPlane: g.inH * g.inW, channels: channels, sign: sp.baseAddress!))
        }
    }

    /// The argmax pooling loop shared by the plain and the BatchNorm-fused training forward: the sink sees each plane
    /// first and maps its inputs to the values compared (x, or ±x); `y` gets x at each argmax (a protocol, not
    /// closures, so the specialised loop inlines it). Padding never wins.
    @inline(__always)
    static func windowArgmax<S: ArgmaxPoolSink>(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                                argmax: UnsafeMutablePointer<Int32>, planes: Int, g: WindowGeometry, sink: S) {
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
                    sink.beginPlane(plane, src)
                    let f = sink.values(plane)
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
                            y[plane * g.outH * g.outW + oh * g.outW + ow] = src[Int(bestAt)]
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

/// ±x, or 0 for every x (a constant map: all tie).
struct SignedValues: WindowValues {
    let sign: Float
    @inline(__always) func callAsFunction(_ v: SIMD8<Float>) -> SIMD8<Float> { v * SIMD8(repeating: sign) }
    @inline(__always) func callAsFunction(_ v: Float) -> Float { v * sign }
}

/// What a training max pool does with each plane before pooling it, and what it compares there.
protocol ArgmaxPoolSink {
    associatedtype Values: WindowValues
    func beginPlane(_ plane: Int, _ src: UnsafePointer<Float>)
    func values(_ plane: Int) -> Values
}

/// MaxPool2D: the inputs themselves.
struct PlainMaxSink: ArgmaxPoolSink {
    @inline(__always) func beginPlane(_ plane: Int, _ src: UnsafePointer<Float>) {}
    @inline(__always) func values(_ plane: Int) -> IdentityValues { IdentityValues() }
}

/// BatchNorm → ReLU → MaxPool2D's pooling pass: x at the max of sign·x, and each plane's Σx, Σx² read first (the plane
/// then stays in cache for the window loop).
struct SignedMaxSink: ArgmaxPoolSink {
    let sums: UnsafeMutablePointer<Double>, inPlane, channels: Int
    let sign: UnsafePointer<Float>
    @inline(__always) func beginPlane(_ plane: Int, _ src: UnsafePointer<Float>) {
        (sums[2 * plane], sums[2 * plane + 1]) = sumAndDot(src, src, count: inPlane)
    }
    @inline(__always) func values(_ plane: Int) -> SignedValues { SignedValues(sign: sign[plane % channels]) }
}
