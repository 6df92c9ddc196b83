import Foundation

/// Max pooling's window loops on raw planes (MaxPool2D in EmovoxCore is the layer around them).
public enum PoolKernels {
    /// The training forward also records where each max came from (index within its input plane). As at
    /// inference, a vertical max over whole rows (vectorised, with the row it came from) and then a short
    /// horizontal max. Ties go to the first element in row-major order, as in PyTorch: the vertical pass keeps
    /// the upper row, the horizontal one the smaller plane index.
    public static func trainingMax(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>,
                            planes: Int, g: WindowGeometry) {
        let (h, w) = (g.inH, g.inW)
        let padded = max((g.outW - 1) * g.sw + g.kw, g.padLeft + w)
        Threads.parallelFor(planes) { range in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: padded) { values in
            withUnsafeTemporaryAllocation(of: Int32.self, capacity: padded) { rows in
            withUnsafeTemporaryAllocation(of: Int64.self, capacity: padded) { keys in
                // Padding never wins: −∞, and on a tie the largest index.
                values.initialize(repeating: -.infinity)
                rows.initialize(repeating: Int32(h + 1))
                let m = values.baseAddress! + g.padLeft, mr = rows.baseAddress! + g.padLeft, mk = keys.baseAddress! + g.padLeft
                for plane in range {
                    let src = x + plane * h * w, dst = y + plane * g.outH * g.outW, at = argmax + plane * g.outH * g.outW
                    for oh in 0..<g.outH {
                        let h0 = oh * g.sh - g.padTop
                        let ha = max(h0, 0), hb = max(min(h0 + g.kh, h), ha + 1)
                        m.update(from: src + ha * w, count: w)
                        mr.update(repeating: Int32(ha), count: w)
                        for ih in (ha + 1)..<hb {
                            let row = src + ih * w, rowIndex = SIMD8<Int32>(repeating: Int32(ih))
                            var q = 0
                            while q + 8 <= w {
                                var a = UnsafeRawPointer(m + q).loadUnaligned(as: SIMD8<Float>.self)
                                var r = UnsafeRawPointer(mr + q).loadUnaligned(as: SIMD8<Int32>.self)
                                let b = UnsafeRawPointer(row + q).loadUnaligned(as: SIMD8<Float>.self)
                                let wins = b .> a
                                a.replace(with: b, where: wins)
                                r.replace(with: rowIndex, where: wins)
                                UnsafeMutableRawPointer(m + q).storeBytes(of: a, as: SIMD8<Float>.self)
                                UnsafeMutableRawPointer(mr + q).storeBytes(of: r, as: SIMD8<Int32>.self)
                                q += 8
                            }
                            while q < w { if row[q] > m[q] { m[q] = row[q]; mr[q] = Int32(ih) }; q += 1 }
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
                            dst[oh * g.outW + ow] = src[Int(bestAt)]
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
