import Foundation

/// Max pooling over any window (e.g. the student's 5×3), explicit or Keras-'same' padding (padding never wins).
public final class MaxPool2D: Layer {
    public let kernel: (h: Int, w: Int), stride: (h: Int, w: Int), padding: Padding
    private var argmax: [Int32] = []
    private var inputShape: [Int] = []

    public init(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: Padding = .valid) {
        self.kernel = (kernel.0, kernel.1)
        self.stride = stride.map { ($0.0, $0.1) } ?? (kernel.0, kernel.1)
        self.padding = padding
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let g = WindowGeometry(inH: h, inW: w, kh: kernel.h, kw: kernel.w, sh: stride.h, sw: stride.w, padding: padding)
        let outPlane = g.outH * g.outW
        if !training { return Tensor(shape: [n, c, g.outH, g.outW]) { yp in x.data.withUnsafeBufferPointer { xp in
            Self.inferenceMax(xp.baseAddress!, yp.baseAddress!, planes: n * c, g: g)
        } } }
        var idx = [Int32](unsafeUninitializedCapacity: n * c * outPlane) { _, count in count = n * c * outPlane }
        let y = x.data.withUnsafeBufferPointer { xp in idx.withUnsafeMutableBufferPointer { ip in Tensor(shape: [n, c, g.outH, g.outW]) { yp in
            Self.trainingMax(xp.baseAddress!, yp.baseAddress!, argmax: ip.baseAddress!, planes: n * c, g: g)
        } } }
        argmax = idx; inputShape = x.shape
        return y
    }

    /// The training forward also records where each max came from (index within its input plane). As at
    /// inference, a vertical max over whole rows (vectorised, with the row it came from) and then a short
    /// horizontal max. Ties go to the first element in row-major order, as in PyTorch: the vertical pass keeps
    /// the upper row, the horizontal one the smaller plane index.
    static func trainingMax(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>,
                            planes: Int, g: WindowGeometry) {
        let (h, w) = (g.inH, g.inW)
        let padded = max((g.outW - 1) * g.sw + g.kw, g.padLeft + w)
        Threads.parallelFor(planes) { range in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: padded) { values in
            withUnsafeTemporaryAllocation(of: Int32.self, capacity: padded) { rows in
                // Padding never wins: −∞, and on a tie the largest index.
                values.initialize(repeating: -.infinity)
                rows.initialize(repeating: Int32(h + 1))
                let m = values.baseAddress! + g.padLeft, mr = rows.baseAddress! + g.padLeft
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
                        for ow in 0..<g.outW {
                            let c0 = ow * g.sw - g.padLeft  // image column of the window's first tap
                            var best = key(c0)
                            for j in 1..<max(g.kw, 1) { best = Swift.max(best, key(c0 + j)) }
                            let bestAt = Int32.max - Int32(truncatingIfNeeded: best)
                            at[oh * g.outW + ow] = bestAt
                            dst[oh * g.outW + ow] = src[Int(bestAt)]
                        }
                    }
                }
            } }
        }
    }

    /// Inference needs no argmax, so the window max splits into a vertical max of whole rows (vectorised)
    /// and a short horizontal max per output over that row, padded with −∞ so no window needs clipping.
    static func inferenceMax(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, planes: Int, g: WindowGeometry) {
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

    public func backward(_ dy: Tensor) -> Tensor {
        var dx = Tensor(zeros: inputShape)
        let inPlane = inputShape[2] * inputShape[3], outPlane = dy.shape[2] * dy.shape[3]
        let planes = inputShape[0] * inputShape[1]
        dy.data.withUnsafeBufferPointer { dp in dx.data.withUnsafeMutableBufferPointer { xp in argmax.withUnsafeBufferPointer { ip in
            Threads.parallelFor(planes) { range in
                for nc in range {
                    for q in 0..<outPlane {
                        let o = nc * outPlane + q
                        xp[nc * inPlane + Int(ip[o])] += dp[o]
                    }
                }
            }
        } } }
        return dx
    }
}

/// Average pooling. `countPadding` follows PyTorch's count_include_pad (true) or Keras 'same' (false).
public final class AvgPool2D: Layer {
    public let kernel: (h: Int, w: Int), stride: (h: Int, w: Int), padding: Padding, countPadding: Bool
    private var inputShape: [Int] = []

    public init(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: Padding = .valid, countPadding: Bool = true) {
        self.kernel = (kernel.0, kernel.1)
        self.stride = stride.map { ($0.0, $0.1) } ?? (kernel.0, kernel.1)
        self.padding = padding
        self.countPadding = countPadding
    }

    /// Visits every (output, input, weight) triple; forward and backward are the same sum read two ways.
    private func sweep(_ shape: [Int], _ body: (_ nc: Int, _ o: Int, _ i: Int, _ weight: Float) -> Void) -> WindowGeometry {
        let (h, w) = (shape[2], shape[3])
        let g = WindowGeometry(inH: h, inW: w, kh: kernel.h, kw: kernel.w, sh: stride.h, sw: stride.w, padding: padding)
        for nc in 0..<(shape[0] * shape[1]) {
            for oh in 0..<g.outH { for ow in 0..<g.outW {
                let h0 = oh * g.sh - g.padTop, w0 = ow * g.sw - g.padLeft
                let ha = max(h0, 0), hb = min(h0 + g.kh, h), wa = max(w0, 0), wb = min(w0 + g.kw, w)
                let area = countPadding ? g.kh * g.kw : (hb - ha) * (wb - wa)
                let weight = 1 / Float(max(area, 1))
                for ih in ha..<max(ha, hb) { for iw in wa..<max(wa, wb) {
                    body(nc, oh * g.outW + ow, ih * w + iw, weight)
                } }
            } }
        }
        return g
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        if training { inputShape = x.shape }
        let g = WindowGeometry(inH: x.shape[2], inW: x.shape[3], kh: kernel.h, kw: kernel.w, sh: stride.h, sw: stride.w, padding: padding)
        var y = Tensor(zeros: [x.shape[0], x.shape[1], g.outH, g.outW])
        let inPlane = x.shape[2] * x.shape[3], outPlane = g.outH * g.outW
        _ = sweep(x.shape) { nc, o, i, wgt in y.data[nc * outPlane + o] += wgt * x.data[nc * inPlane + i] }
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        var dx = Tensor(zeros: inputShape)
        let inPlane = inputShape[2] * inputShape[3], outPlane = dy.shape[2] * dy.shape[3]
        _ = sweep(inputShape) { nc, o, i, wgt in dx.data[nc * inPlane + i] += wgt * dy.data[nc * outPlane + o] }
        return dx
    }
}

/// Mean over the spatial axes: [N, C, H, W] → [N, C].
public final class GlobalAvgPool: Layer {
    private var inputShape: [Int] = []
    public init() {}

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        if training { inputShape = x.shape }
        let plane = x.shape[2] * x.shape[3], planes = x.shape[0] * x.shape[1]
        var y = Tensor(zeros: [x.shape[0], x.shape[1]])
        x.data.withUnsafeBufferPointer { xp in
            for i in 0..<planes {
                var acc: Float = 0
                for q in 0..<plane { acc += xp[i * plane + q] }
                y.data[i] = acc / Float(plane)
            }
        }
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        let plane = inputShape[2] * inputShape[3]
        var dx = Tensor(zeros: inputShape)
        for i in 0..<dy.count {
            let v = dy.data[i] / Float(plane)
            for q in 0..<plane { dx.data[i * plane + q] = v }
        }
        return dx
    }
}

/// Mean over one axis of an NCHW tensor, keeping it as size 1 (the student averages fc6 over time = axis 3).
public final class MeanOverAxis: Layer {
    public let axis: Int
    private var inputShape: [Int] = []
    public init(axis: Int) { self.axis = axis }

    private func strides(_ shape: [Int]) -> (outer: Int, len: Int, inner: Int) {
        (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        if training { inputShape = x.shape }
        let (outer, len, inner) = strides(x.shape)
        var shape = x.shape
        shape[axis] = 1
        var y = Tensor(zeros: shape)
        for o in 0..<outer { for t in 0..<len { for i in 0..<inner {
            y.data[o * inner + i] += x.data[(o * len + t) * inner + i]
        } } }
        let s = 1 / Float(len)
        for i in y.data.indices { y.data[i] *= s }
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        let (outer, len, inner) = strides(inputShape)
        var dx = Tensor(zeros: inputShape)
        let s = 1 / Float(len)
        for o in 0..<outer { for t in 0..<len { for i in 0..<inner {
            dx.data[(o * len + t) * inner + i] = dy.data[o * inner + i] * s
        } } }
        return dx
    }
}
