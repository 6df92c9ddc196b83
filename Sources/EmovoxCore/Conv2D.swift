import Foundation
import EmovoxKernels

/// 2-D convolution (cross-correlation, as PyTorch), NCHW, weight [out, in/groups, kh, kw] (PyTorch layout).
/// General groups use im2col + sgemm; depthwise (groups == in == out) runs a direct loop, 1×1/stride-1
/// convs skip im2col because the input already is the column matrix.
public final class Conv2D: Layer {
    public let inChannels, outChannels, groups: Int
    public let kernel: (h: Int, w: Int)
    public let stride: (h: Int, w: Int)
    public let padding: Padding
    public let weight: Parameter
    public var bias: Parameter?
    /// False for a network's first layer: nobody needs dL/d(input), and col2im there is the costliest step.
    public var computesInputGradient = true
    /// Column-matrix budgets of the GEMM paths (the measured defaults unless a caller or test passes others).
    public var tuning = ConvTuning()
    private var input: Tensor?

    public init(_ inChannels: Int, _ outChannels: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
                padding: Padding = .valid, groups: Int = 1, bias: Bool = true, rng: inout SeededRNG) {
        precondition(inChannels % groups == 0 && outChannels % groups == 0, "channels must divide groups")
        self.inChannels = inChannels; self.outChannels = outChannels; self.groups = groups
        self.kernel = (kernel.0, kernel.1); self.stride = (stride.0, stride.1); self.padding = padding
        // Kaiming-uniform-like init scaled by fan-in (PyTorch's default family).
        let fanIn = inChannels / groups * kernel.0 * kernel.1
        let bound = Float(sqrt(6.0 / Double(fanIn))) / Float(2).squareRoot()
        var w = Tensor(zeros: [outChannels, inChannels / groups, kernel.0, kernel.1])
        for i in w.data.indices { w.data[i] = (rng.uniform() * 2 - 1) * bound }
        weight = Parameter("weight", w)
        if bias {
            let bb = 1 / Float(fanIn).squareRoot()
            var b = Tensor(zeros: [outChannels])
            for i in b.data.indices { b.data[i] = (rng.uniform() * 2 - 1) * bb }
            self.bias = Parameter("bias", b)
        } else { self.bias = nil }
    }

    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }

    public func geometry(_ h: Int, _ w: Int) -> WindowGeometry {
        WindowGeometry(inH: h, inW: w, kh: kernel.h, kw: kernel.w, sh: stride.h, sw: stride.w, padding: padding)
    }

    var isDepthwise: Bool { groups == inChannels && groups == outChannels && groups > 1 }
    var isPointwise: Bool {
        kernel == (1, 1) && stride == (1, 1) && padding.resolve(input: 1, kernel: 1, stride: 1, vertical: true) == (0, 0)
            && padding.resolve(input: 1, kernel: 1, stride: 1, vertical: false) == (0, 0)
    }

    /// The (M, N, K) of one forward GEMM call for an [n, C, h, w] input (nil for depthwise convs, which
    /// use no GEMM): profiles compare a layer with plain sgemm at its own shape.
    public func forwardGEMMShape(n: Int, h: Int, w: Int) -> (m: Int, n: Int, k: Int)? {
        if isDepthwise { return nil }
        let g = geometry(h, w), k = inChannels / groups * g.kh * g.kw, p = g.outH * g.outW
        if !isPointwise, let rows = ConvKernels.bandRows(k: k, g: g, budget: tuning.bandBudget) { return (outChannels / groups, rows * g.outW, k) }
        return (outChannels / groups, ConvKernels.chunkSize(n: n, rows: k, p: p, budget: tuning.columnBudget) * p, k)
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == inChannels,
                     "Conv2D expects [N, \(inChannels), H, W], got \(x.shape)")
        if training { input = x }
        let (n, h, w) = (x.shape[0], x.shape[2], x.shape[3])
        let g = geometry(h, w)
        let shape = [n, outChannels, g.outH, g.outW]
        if isDepthwise && g.sw == 1 {
            return Tensor(shape: shape) { yp in x.data.withUnsafeBufferPointer { xp in weight.value.data.withUnsafeBufferPointer { wp in
                ConvKernels.depthwiseStride1(xp.baseAddress!, wp.baseAddress!, bias: bias?.value.data, yp.baseAddress!, n: n, c: inChannels, g: g)
            } } }
        }
        if isDepthwise {
            var y = Tensor(zeros: shape)
            ConvKernels.depthwiseForward(x: x.data, w: weight.value.data, y: &y.data, n: n, c: inChannels, g: g)
            if let b = bias { ConvKernels.addChannelBias(&y.data, b.value.data, n: n, c: outChannels, plane: g.outH * g.outW) }
            return y
        }
        let pass: ConvPass = training ? .training : .inference
        if usesDirect(g, pass) {
            return Tensor(shape: shape) { yp in x.data.withUnsafeBufferPointer { xp in weight.value.data.withUnsafeBufferPointer { wp in
                withOptionalPointer(bias?.value.data) { bp in
                    ConvKernels.directForward(x: xp.baseAddress!, w: wp.baseAddress!, y: yp.baseAddress!, n: n, cin: inChannels, cout: outChannels,
                                              g: g, shift: bp, path: path(g, pass))
                }
            } } }
        }
        // The GEMM path writes every output (the bias rides in as its initial C), so no zero fill first.
        var y = Tensor(shape: shape) { _ in }
        ConvKernels.gemmForward(x: x.data, w: weight.value.data, bias: bias?.value.data, y: &y.data, n: n, cin: inChannels,
                                cout: outChannels, groups: groups, g: g, pointwise: isPointwise, tuning: tuning)
        return y
    }

    /// Whether this layer runs the direct 3×3 kernels (or their Winograd variant), or the direct 5×5 / 7×7 stride-2
    /// forward, on an input of this geometry in `pass` (else im2col + sgemm).
    public func usesDirect(_ g: WindowGeometry, _ pass: ConvPass = .training) -> Bool { path(g, pass) != .im2col }

    /// The algorithm this layer runs on an input of this geometry in `pass` (training: the forward and backward of
    /// a training step; inference: `forward(training: false)` and `inferWithEpilogue`).
    public func path(_ g: WindowGeometry, _ pass: ConvPass = .training) -> ConvPath {
        ConvKernels.convPath(tuning.direct, g: g, groups: groups, cin: inChannels, cout: outChannels, pass: pass)
    }

    /// Whether `inferWithEpilogue` applies (the GEMM paths; depthwise convs keep their own kernel).
    public var hasGEMMPath: Bool { !isDepthwise }

    /// Inference of conv → BN (running statistics as `scale`·y + `shift` per channel) → optional ReLU in one pass:
    /// the conv bias joins the shift, and the affine (+ ReLU) is applied to each block of output right after its
    /// GEMM, while it is still in cache, instead of a second pass over the whole map. The weights are not copied.
    public func inferWithEpilogue(_ x: Tensor, scale: [Float], shift: [Float], relu: Bool) -> Tensor {
        precondition(hasGEMMPath && scale.count == outChannels && shift.count == outChannels)
        precondition(x.rank == 4 && x.shape[1] == inChannels, "Conv2D expects [N, \(inChannels), H, W], got \(x.shape)")
        let (n, h, w) = (x.shape[0], x.shape[2], x.shape[3])
        let g = geometry(h, w)
        let fusedShift = bias.map { b in (0..<outChannels).map { b.value.data[$0] * scale[$0] + shift[$0] } } ?? shift
        if usesDirect(g, .inference) {
            return Tensor(shape: [n, outChannels, g.outH, g.outW]) { yp in x.data.withUnsafeBufferPointer { xp in
                weight.value.data.withUnsafeBufferPointer { wp in scale.withUnsafeBufferPointer { sp in fusedShift.withUnsafeBufferPointer { hp in
                    ConvKernels.directForward(x: xp.baseAddress!, w: wp.baseAddress!, y: yp.baseAddress!, n: n, cin: inChannels, cout: outChannels,
                                              g: g, scale: sp.baseAddress!, shift: hp.baseAddress!, relu: relu, path: path(g, .inference))
                } } }
            } }
        }
        let epilogue = ConvKernels.Epilogue(scale: scale, shift: fusedShift, relu: relu)
        var y = Tensor(shape: [n, outChannels, g.outH, g.outW]) { _ in }
        ConvKernels.gemmForward(x: x.data, w: weight.value.data, y: &y.data, n: n, cin: inChannels, cout: outChannels, groups: groups,
                                g: g, pointwise: isPointwise, epilogue: epilogue, tuning: tuning)
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { fatalError("Conv2D.backward without a training forward") }
        let (n, h, w) = (x.shape[0], x.shape[2], x.shape[3])
        let g = geometry(h, w)
        precondition(dy.shape == [n, outChannels, g.outH, g.outW], "Conv2D.backward: dy \(dy.shape)")
        var dx = Tensor(zeros: x.shape)
        if let b = bias { ConvKernels.accumulateChannelSums(dy.data, into: &b.grad.data, n: n, c: outChannels, plane: g.outH * g.outW) }
        if usesDirect(g) && ConvKernels.direct5x5Stride2Applies(g: g, groups: groups) {
            // Input gradient on the direct kernel; the weight gradient on im2col + sgemm. (7×7 stride 2, conv1: only
            // the forward is direct; its backward takes the im2col branch below.)
            if computesInputGradient {
                dy.data.withUnsafeBufferPointer { dyp in weight.value.data.withUnsafeBufferPointer { wp in dx.data.withUnsafeMutableBufferPointer { dxp in
                    ConvKernels.direct5x5Stride2InputGradient(dy: dyp.baseAddress!, w: wp.baseAddress!, dx: dxp.baseAddress!, n: n,
                                                              cin: inChannels, cout: outChannels, g: g)
                } } }
            }
            ConvKernels.gemmBackward(x: x.data, w: weight.value.data, dy: dy.data, dx: &dx.data, dw: &weight.grad.data,  // dx untouched
                                     n: n, cin: inChannels, cout: outChannels, groups: groups, g: g, pointwise: false,
                                     inputGradient: false, tuning: tuning)
        } else if usesDirect(g) && ConvKernels.directApplies(g: g, groups: groups) {
            x.data.withUnsafeBufferPointer { xp in weight.value.data.withUnsafeBufferPointer { wp in dy.data.withUnsafeBufferPointer { dyp in
            dx.data.withUnsafeMutableBufferPointer { dxp in weight.grad.data.withUnsafeMutableBufferPointer { dwp in
                ConvKernels.direct3x3Backward(x: xp.baseAddress!, w: wp.baseAddress!, dy: dyp.baseAddress!,
                                              dx: computesInputGradient ? dxp.baseAddress! : nil, dw: dwp.baseAddress!,
                                              n: n, cin: inChannels, cout: outChannels, h: h, w: w,
                                              path: path(g))
            } } } } }
        } else if isDepthwise {
            ConvKernels.depthwiseBackward(x: x.data, w: weight.value.data, dy: dy.data, dx: &dx.data,
                                          dw: &weight.grad.data, n: n, c: inChannels, g: g)
        } else {
            ConvKernels.gemmBackward(x: x.data, w: weight.value.data, dy: dy.data, dx: &dx.data, dw: &weight.grad.data,
                                     n: n, cin: inChannels, cout: outChannels, groups: groups, g: g, pointwise: isPointwise,
                                     inputGradient: computesInputGradient, tuning: tuning)
        }
        input = nil
        return dx
    }
}

/// `body` with a pointer to the array's elements, or nil for no array.
private func withOptionalPointer<R>(_ a: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let a else { return body(nil) }
    return a.withUnsafeBufferPointer { body($0.baseAddress) }
}
