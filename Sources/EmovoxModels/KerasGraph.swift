import Foundation
import EmovoxCore
import EmovoxUtilities

/// One layer of a Keras functional model as the importer sees it: class, inbound layers, config, weights.
/// `config` holds plain JSON values (`JSONSerialization` types), `weights` maps short names
/// ("kernel", "bias", "depthwise_kernel", "gamma", "moving_mean", …) to Keras-layout tensors.
public struct KerasLayerDescription {
    public var name: String
    public var className: String
    public var inputs: [String]
    public var config: [String: Any]
    public var weights: [String: Tensor]

    public init(name: String, className: String, inputs: [String], config: [String: Any], weights: [String: Tensor] = [:]) {
        self.name = name; self.className = className; self.inputs = inputs; self.config = config; self.weights = weights
    }
}

/// A Keras functional graph rebuilt on emovox layers, for inference. Tensors are NCHW inside
/// (Keras is NHWC; every op here is per-channel, so only the weight layouts need converting).
public final class KerasGraphNetwork {
    /// Public so exporters (ONNX) can walk the graph as it runs.
    public enum Op {
        case input
        case layer(Layer)                   // conv, BN, pool, GAP: single input
        case separable(Conv2D, Conv2D)      // depthwise then pointwise
        case activation(Activation)
        case add
    }

    /// The Keras activations the graph runs (by their Keras names); `linear` is also a dropout or a folded BatchNorm.
    public enum Activation: String, CaseIterable, Sendable {
        case relu, softmax, linear
    }

    public struct Node { public let name: String; public let inputs: [String]; public let op: Op }

    /// How `logits` runs the graph.
    public enum InferencePath: String, CaseIterable, Sendable {
        /// Channels-last maps with a zero border kept from the input to the global pooling, fused separable blocks and
        /// direct convs (KerasBlockedPlan, BlockedKernels); graphs it cannot compile run `perLayer`.
        case blocked
        /// Layer by layer on NCHW tensors with the im2col + sgemm convs: the reference the blocked path is tested against.
        case perLayer
    }

    /// The path `logits` and `nodeTimings` take (`.blocked` falls back to `.perLayer` when the graph does not compile).
    public var inferencePath: InferencePath = .blocked
    /// Instruction set of the blocked kernels (tests compare every level; `.best` otherwise).
    public var simdLevel: ConvSIMDLevel = .best
    /// The blocked plan, when the graph is made of ops it runs (fer's mini-Xception is).
    let blockedPlan: KerasBlockedPlan?
    /// Whether `logits` runs the blocked kernels.
    public var runsBlocked: Bool { inferencePath == .blocked && blockedPlan != nil }

    /// Nodes in execution order, BatchNorms already folded into their convs where possible.
    public let nodes: [Node]
    /// Index of the last node reading each value: intermediates are freed (or reused in place) there.
    let lastUse: [String: Int]
    public let inputShape: [Int]           // [C, H, W]
    /// Name of the node whose output is the logits (the input of a final softmax), else the last node.
    public let logitsNode: String
    public let source: String

    public init(layers: [KerasLayerDescription], source: String) throws {
        self.source = source
        var nodes: [Node] = []
        var shape: [Int]? = nil
        var rng = SeededRNG(seed: 0)  // weights are overwritten; the RNG only satisfies layer init
        // Each node's output shape [C, H, W] ([C] after global pooling): a config that does not fit its weights,
        // or a damaged file, is refused here naming the layer, never inside a kernel.
        var shapes: [String: [Int]] = [:]
        for l in layers {
            func fail(_ why: String) -> EmovoxError { EmovoxError("layer '\(l.name)' (\(l.className)): \(why)", file: source) }
            func weight(_ key: String, rank: Int? = nil, count: Int? = nil) throws -> Tensor {
                guard let t = l.weights[key] else { throw fail("missing weight '\(key)'") }
                if let rank, t.rank != rank || t.shape.contains(where: { $0 < 1 }) { throw fail("weight '\(key)' has shape \(t.shape), expected \(rank) positive sizes") }
                if let count, t.count != count { throw fail("weight '\(key)' has \(t.count) values, the layer needs \(count)") }
                guard t.allFinite() else { throw fail("weight '\(key)' holds NaN or infinite values") }
                return t
            }
            func ints(_ key: String, default d: [Int]? = nil) throws -> [Int] {
                if let v = l.config[key] as? [Any] { return v.compactMap { ($0 as? NSNumber)?.intValue } }
                if let v = l.config[key] as? NSNumber { return [v.intValue, v.intValue] }
                if let d { return d }
                throw fail("config lacks '\(key)'")
            }
            func padding() throws -> Padding {
                switch l.config["padding"] as? String ?? "valid" {
                case "same": return .same
                case "valid": return .valid
                case let other: throw fail("unsupported padding '\(other)'")
                }
            }
            func checkLinear() throws {
                let act = l.config["activation"] as? String ?? "linear"
                if act != "linear" { throw fail("fused activation '\(act)' is not supported (use a separate Activation layer)") }
                if let d = l.config["dilation_rate"] as? [Any], d.compactMap({ ($0 as? NSNumber)?.intValue }) != [1, 1] {
                    throw fail("dilated convolution is not supported")
                }
            }
            let op: Op
            switch l.className {
            case "InputLayer":
                let s = (l.config["batch_input_shape"] as? [Any] ?? []).dropFirst().compactMap { ($0 as? NSNumber)?.intValue }
                guard s.count == 3, s.allSatisfy({ (1...4096).contains($0) }), s[0] * s[1] * s[2] <= 1 << 20 else {
                    throw fail("needs batch_input_shape [None, H, W, C] of at most 2^20 values")
                }
                shape = [s[2], s[0], s[1]]
                op = .input
            case "Conv2D":
                try checkLinear()
                let k = try weight("kernel", rank: 4)  // [kh, kw, in, out]
                let conv = Conv2D(k.shape[2], k.shape[3], kernel: (k.shape[0], k.shape[1]),
                                  stride: try Self.pair(source, ints("strides", default: [1, 1])), padding: try padding(),
                                  bias: l.config["use_bias"] as? Bool ?? true, rng: &rng)
                conv.weight.value = KerasLayout.convKernel(k)
                if let b = conv.bias { b.value = try weight("bias", count: k.shape[3]) }
                op = .layer(conv)
            case "SeparableConv2D", "DepthwiseConv2D":
                try checkLinear()
                let dk = try weight("depthwise_kernel", rank: 4)  // [kh, kw, in, multiplier]
                guard dk.shape[3] == 1 else { throw fail("depth_multiplier \(dk.shape[3]) is not supported") }
                let c = dk.shape[2]
                let stride = try Self.pair(source, ints("strides", default: [1, 1]))
                let isSeparable = l.className == "SeparableConv2D"
                let useBias = l.config["use_bias"] as? Bool ?? true
                let dw = Conv2D(c, c, kernel: (dk.shape[0], dk.shape[1]), stride: stride, padding: try padding(),
                                groups: c, bias: !isSeparable && useBias, rng: &rng)
                dw.weight.value = KerasLayout.depthwiseKernel(dk)
                if !isSeparable {
                    if let b = dw.bias { b.value = try weight("bias", count: c) }
                    op = .layer(dw)
                } else {
                    let pk = try weight("pointwise_kernel", rank: 4)  // [1, 1, in, out]
                    guard pk.shape[0] == 1, pk.shape[1] == 1, pk.shape[2] == c else { throw fail("pointwise_kernel has shape \(pk.shape), expected [1, 1, \(c), out]") }
                    let pw = Conv2D(c, pk.shape[3], kernel: (1, 1), bias: useBias, rng: &rng)
                    pw.weight.value = KerasLayout.convKernel(pk)
                    if let b = pw.bias { b.value = try weight("bias", count: pk.shape[3]) }
                    op = .separable(dw, pw)
                }
            case "BatchNormalization":
                let eps = (l.config["epsilon"] as? NSNumber)?.floatValue ?? 1e-3
                guard eps.isFinite, eps >= 0 else { throw fail("epsilon \(eps) is not a non-negative number") }
                let beta = try weight("beta", rank: 1)
                let bn = BatchNorm(beta.count, epsilon: eps)
                bn.bias.value = beta
                bn.weight.value = l.weights["gamma"] == nil ? Tensor(repeating: 1, shape: beta.shape)  // scale=False omits gamma
                                                            : try weight("gamma", count: beta.count).reshaped(beta.shape)
                bn.runningMean = try weight("moving_mean", count: beta.count).reshaped(beta.shape)
                bn.runningVar = try weight("moving_variance", count: beta.count).reshaped(beta.shape)
                guard bn.runningVar.data.allSatisfy({ $0 >= 0 }) else { throw fail("moving_variance holds a negative variance") }
                op = .layer(bn)
            case "Activation":
                let name = l.config["activation"] as? String ?? "linear"
                guard let a = Activation(rawValue: name) else {
                    throw fail("unsupported activation '\(name)' (supported: \(Activation.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                op = .activation(a)
            case "ReLU":
                op = .activation(.relu)
            case "MaxPooling2D", "AveragePooling2D":
                let pool = try Self.pair(source, ints("pool_size", default: [2, 2]))
                let strides = try Self.pair(source, (l.config["strides"] is NSNull) ? [pool.0, pool.1] : ints("strides", default: [pool.0, pool.1]))
                op = .layer(l.className == "MaxPooling2D"
                            ? MaxPool2D(kernel: pool, stride: strides, padding: try padding()) as Layer
                            : AvgPool2D(kernel: pool, stride: strides, padding: try padding(), countPadding: false))
            case "GlobalAveragePooling2D":
                op = .layer(GlobalAvgPool())
            case "Add":
                guard l.inputs.count >= 2 else { throw fail("Add needs two or more inputs") }
                op = .add
            case "Dropout":
                op = .activation(.linear)  // identity at inference
            default:
                throw fail("unsupported layer type — the importer knows InputLayer, Conv2D, SeparableConv2D, DepthwiseConv2D, BatchNormalization, Activation, ReLU, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, Add, Dropout")
            }
            for i in l.inputs where shapes[i] == nil { throw fail("input '\(i)' is not defined before it") }
            if shapes[l.name] != nil { throw fail("a second layer has this name") }
            shapes[l.name] = try Self.outputShape(op, inputs: l.inputs.map { shapes[$0]! }, modelInput: shape, fail: fail)
            nodes.append(Node(name: l.name, inputs: l.inputs, op: op))
        }
        guard let s = shape else { throw EmovoxError("model has no InputLayer", file: source) }
        guard let last = nodes.last else { throw EmovoxError("model has no layers", file: source) }
        guard shapes[last.name]?.count == 1 else {
            throw EmovoxError("the model ends in a \(shapes[last.name] ?? []) feature map, not class scores (global pooling is missing)", file: source)
        }
        inputShape = s
        self.nodes = Self.foldBatchNorms(nodes)
        var lastUse: [String: Int] = [:]
        for (i, n) in self.nodes.enumerated() { for inp in n.inputs { lastUse[inp] = i } }
        self.lastUse = lastUse
        if case .activation(.softmax) = last.op, let prev = last.inputs.first { logitsNode = prev } else { logitsNode = last.name }
        blockedPlan = KerasBlockedPlan(nodes: self.nodes, inputShape: s, logitsNode: logitsNode)
    }

    private static func pair(_ source: String, _ v: [Int]) throws -> (Int, Int) {
        guard v.count == 2, v.allSatisfy({ (1...1024).contains($0) }) else { throw EmovoxError("expected a pair of sizes 1…1024, got \(v)", file: source) }
        return (v[0], v[1])
    }

    /// The shape a node produces from its inputs' shapes, or an error saying why they do not fit.
    private static func outputShape(_ op: Op, inputs: [[Int]], modelInput: [Int]?, fail: (String) -> EmovoxError) throws -> [Int] {
        if case .input = op { return modelInput! }
        guard let x = inputs.first else { throw fail("has no input") }
        func window(_ x: [Int], _ k: (h: Int, w: Int), _ s: (h: Int, w: Int), _ p: Padding, channels: Int, out: Int) throws -> [Int] {
            guard x.count == 3 else { throw fail("needs a feature map, its input has shape \(x)") }
            guard x[0] == channels else { throw fail("expects \(channels) input channels, its input has \(x[0])") }
            if p == .same { return [out, (x[1] + s.h - 1) / s.h, (x[2] + s.w - 1) / s.w] }
            guard case let .explicit(t, b, l, r) = p, x[1] + t + b >= k.h, x[2] + l + r >= k.w else {
                throw fail("its \(k.h)×\(k.w) window does not fit the \(x[1])×\(x[2]) input")
            }
            return [out, (x[1] + t + b - k.h) / s.h + 1, (x[2] + l + r - k.w) / s.w + 1]
        }
        switch op {
        case .input: return modelInput!
        case let .layer(conv as Conv2D):
            return try window(x, conv.kernel, conv.stride, conv.padding, channels: conv.inChannels, out: conv.outChannels)
        case let .separable(dw, pw):
            let mid = try window(x, dw.kernel, dw.stride, dw.padding, channels: dw.inChannels, out: dw.outChannels)
            return try window(mid, pw.kernel, pw.stride, pw.padding, channels: pw.inChannels, out: pw.outChannels)
        case let .layer(bn as BatchNorm):
            guard x[0] == bn.channels else { throw fail("has \(bn.channels) channels, its input has \(x[0])") }
            return x
        case let .layer(pool as MaxPool2D): return try window(x, pool.kernel, pool.stride, pool.padding, channels: x[0], out: x[0])
        case let .layer(pool as AvgPool2D): return try window(x, pool.kernel, pool.stride, pool.padding, channels: x[0], out: x[0])
        case .layer:  // global average pooling
            guard x.count == 3 else { throw fail("needs a feature map, its input has shape \(x)") }
            return [x[0]]
        case .activation: return x
        case .add:
            guard inputs.allSatisfy({ $0 == x }) else { throw fail("adds inputs of different shapes \(inputs)") }
            return x
        }
    }

    /// Inference-time rewrite: a BatchNormalization whose only input is a conv used by nothing else is
    /// folded into that conv's weights and bias (w·s, b·s + t) and becomes an identity node.
    static func foldBatchNorms(_ nodes: [Node]) -> [Node] {
        var consumers: [String: Int] = [:]
        for n in nodes { for i in n.inputs { consumers[i, default: 0] += 1 } }
        var out = nodes
        let index = Dictionary(uniqueKeysWithValues: nodes.enumerated().map { ($0.element.name, $0.offset) })
        for (k, node) in nodes.enumerated() {
            guard case let .layer(layer) = node.op, let bn = layer as? BatchNorm, node.inputs.count == 1,
                  let src = index[node.inputs[0]], consumers[node.inputs[0]] == 1 else { continue }
            let conv: Conv2D
            switch nodes[src].op {
            case let .layer(l as Conv2D): conv = l
            case let .separable(_, pw): conv = pw
            default: continue
            }
            let (scale, shift) = bn.inferenceAffine()
            let per = conv.weight.value.count / conv.outChannels
            for o in 0..<conv.outChannels { for q in 0..<per { conv.weight.value.data[o * per + q] *= scale[o] } }
            var bias = conv.bias?.value ?? Tensor(zeros: [conv.outChannels])
            for o in 0..<conv.outChannels { bias.data[o] = bias.data[o] * scale[o] + shift[o] }
            conv.bias = Parameter("bias", bias)
            out[k] = Node(name: node.name, inputs: node.inputs, op: .activation(.linear))
        }
        return out
    }

    /// Runs the graph up to the logits node. Input [N, C, H, W]; output [N, classes].
    /// The batch is split over the threads and each thread carries `samplesPerStep` samples at a time
    /// through the whole graph with serial kernels: a 64×64 face's maps (≤ 60×60×16 floats) then stay in
    /// cache, where layer-by-layer over a large batch would stream every map through memory.
    public func logits(_ x: Tensor) -> Tensor {
        precondition(Array(x.shape.dropFirst()) == inputShape, "teacher input must be [N, \(inputShape)], got \(x.shape)")
        if runsBlocked, let plan = blockedPlan { return blockedLogits(x, plan) }
        let n = x.shape[0], step = max(1, samplesPerStep)
        if n <= step { return run(x) }
        let per = x.count / n, steps = (n + step - 1) / step
        var parts = [Tensor?](repeating: nil, count: steps)
        x.data.withUnsafeBufferPointer { xp in parts.withUnsafeMutableBufferPointer { pp in
            Threads.forEachDynamic(steps) { i in
                Threads.serially {
                    let lo = i * step, hi = min(n, lo + step)
                    pp[i] = run(Tensor(shape: [hi - lo] + inputShape, data: Array(xp[(lo * per)..<(hi * per)])))
                }
            }
        } }
        return Tensor.stack(parts.map { $0! }, concatenate: true)
    }

    /// The blocked path: one image per pass (fer's maps take 1.6 MB together, each step's input and output fit the
    /// 1 MB L2), images spread over the threads; a single image instead splits its larger steps' rows over the threads.
    func blockedLogits(_ x: Tensor, _ plan: KerasBlockedPlan) -> Tensor {
        let n = x.shape[0], per = x.count / max(n, 1), classes = plan.classes, level = simdLevel
        return Tensor(shape: [n, classes], unsafeFill: { out in
            x.data.withUnsafeBufferPointer { xp in
                if n == 1 { plan.run(xp.baseAddress!, into: out.baseAddress!, level: level); return }
                Threads.forEachDynamic(n) { i in
                    Threads.serially { plan.run(xp.baseAddress! + i * per, into: out.baseAddress! + i * classes, level: level) }
                }
            }
        })
    }

    /// Samples per pass through the graph on one thread (measured on 2 cores: 1 is fastest, each doubling loses ~15 %: the maps fall out of cache).
    public var samplesPerStep = 1

    /// Milliseconds spent in each node over `repeats` passes of `x` on this thread (the teacher's profile).
    /// On the blocked path, one row per step, named after the graph nodes it fuses ("a+b").
    public func nodeTimings(_ x: Tensor, repeats: Int = 20) -> [(name: String, kind: String, ms: Double)] {
        if runsBlocked, let plan = blockedPlan {
            precondition(x.shape == [1] + inputShape, "nodeTimings on the blocked path takes one image [1, \(inputShape)]")
            var total = [Double](repeating: 0, count: plan.steps.count), out = [Float](repeating: 0, count: plan.classes)
            for _ in 0..<repeats {
                x.data.withUnsafeBufferPointer { xp in
                    plan.run(xp.baseAddress!, into: &out, level: simdLevel) { i, seconds in total[i] += seconds * 1000 }
                }
            }
            return plan.steps.indices.map { (plan.steps[$0].names.joined(separator: "+"), plan.steps[$0].kind, total[$0] / Double(repeats)) }
        }
        var total = [Double](repeating: 0, count: nodes.count)
        for _ in 0..<repeats {
            _ = run(x) { i, seconds in total[i] += seconds * 1000 }
        }
        return nodes.indices.map { i in
            let kind: String
            switch nodes[i].op {
            case .input: kind = "Input"
            case let .layer(l): kind = String(describing: type(of: l))
            case .separable: kind = "SeparableConv2D"
            case let .activation(a): kind = "Activation(\(a.rawValue))"
            case .add: kind = "Add"
            }
            return (nodes[i].name, kind, total[i] / Double(repeats))
        }
    }

    /// One pass of the graph. Reads the layers only, so several threads may run it at once.
    func run(_ x: Tensor, timing: ((Int, Double) -> Void)? = nil) -> Tensor {
        var values: [String: Tensor] = [:]
        for (i, node) in nodes.enumerated() {
            let t0 = timing == nil ? 0 : DispatchTime.now().uptimeNanoseconds
            defer { if let timing { timing(i, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9) } }
            var ins = node.inputs.map { values[$0]! }
            // Inputs used for the last time leave the table: elementwise ops below then own them and write in place.
            for inp in node.inputs where lastUse[inp] == i { values[inp] = nil }
            var out: Tensor
            switch node.op {
            case .input: out = x
            case let .layer(l): out = l.forward(ins[0], training: false)
            case let .separable(dw, pw): out = pw.forward(dw.forward(ins[0], training: false), training: false)
            case let .activation(a):
                out = ins.removeFirst()
                switch a {
                case .relu: reluInPlace(&out)
                case .softmax: out = Softmax.probabilities(out)
                case .linear: break
                }
            case .add:
                out = ins.removeFirst()
                for other in ins { addInPlace(&out, other) }
            }
            if node.name == logitsNode { return out.reshaped([x.shape[0], -1]) }
            values[node.name] = out
        }
        fatalError("logits node \(logitsNode) was not reached")
    }
}

/// Keras (TensorFlow) weight layouts → PyTorch layouts.
public enum KerasLayout {
    /// [kh, kw, in, out] → [out, in, kh, kw]
    public static func convKernel(_ k: Tensor) -> Tensor {
        let (kh, kw, ci, co) = (k.shape[0], k.shape[1], k.shape[2], k.shape[3])
        var out = Tensor(zeros: [co, ci, kh, kw])
        for i in 0..<kh { for j in 0..<kw { for c in 0..<ci { for o in 0..<co {
            out.data[((o * ci + c) * kh + i) * kw + j] = k.data[((i * kw + j) * ci + c) * co + o]
        } } } }
        return out
    }

    /// [kh, kw, in, 1] → [in, 1, kh, kw]
    public static func depthwiseKernel(_ k: Tensor) -> Tensor {
        let (kh, kw, c) = (k.shape[0], k.shape[1], k.shape[2])
        var out = Tensor(zeros: [c, 1, kh, kw])
        for i in 0..<kh { for j in 0..<kw { for ch in 0..<c {
            out.data[(ch * kh + i) * kw + j] = k.data[(i * kw + j) * c + ch]
        } } }
        return out
    }
}
