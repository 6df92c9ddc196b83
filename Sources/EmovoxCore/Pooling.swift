import Foundation
import EmovoxKernels

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
            PoolKernels.inferenceMax(xp.baseAddress!, yp.baseAddress!, planes: n * c, g: g)
        } } }
        var idx = [Int32](unsafeUninitializedCapacity: n * c * outPlane) { _, count in count = n * c * outPlane }
        let y = x.data.withUnsafeBufferPointer { xp in idx.withUnsafeMutableBufferPointer { ip in Tensor(shape: [n, c, g.outH, g.outW]) { yp in
            PoolKernels.trainingMax(xp.baseAddress!, yp.baseAddress!, argmax: ip.baseAddress!, planes: n * c, g: g)
        } } }
        argmax = idx; inputShape = x.shape
        return y
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
