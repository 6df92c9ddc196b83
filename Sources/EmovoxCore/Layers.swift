import Foundation
import EmovoxUtilities
import EmovoxKernels

public final class ReLU: Layer {
    /// The forward output doubles as the backward mask (y > 0 ⇔ x > 0) and shares storage with the
    /// next layer's cached input, so training keeps no extra copy.
    private var output: Tensor?
    public init() {}

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let y = x.data.withUnsafeBufferPointer { xp in
            Tensor(shape: x.shape) { yp in
                Threads.parallelFor(yp.count, minChunk: 1 << 15) { r in
                    relu(xp.baseAddress! + r.lowerBound, yp.baseAddress! + r.lowerBound, count: r.count)
                }
            }
        }
        // Inference leaves the layer untouched, so one network can serve several threads at once.
        if training || output != nil { output = training ? y : nil }
        return y
    }

    /// Writes dx over the cached output (its last user), so the largest maps cost no extra buffer in backward.
    public func backward(_ dy: Tensor) -> Tensor {
        guard var dx = output else { fatalError("ReLU.backward without a training forward") }
        output = nil
        dy.data.withUnsafeBufferPointer { dp in dx.data.withUnsafeMutableBufferPointer { xp in
            Threads.parallelFor(xp.count, minChunk: 1 << 15) { r in
                reluMask(dp.baseAddress! + r.lowerBound, xp.baseAddress! + r.lowerBound, count: r.count)
            }
        } }
        return dx
    }
}

/// Inverted dropout: scales kept units by 1/(1−p) in training, identity at inference.
public final class Dropout: Layer {
    public let p: Float
    public var rng: SeededRNG
    private var keep: [Float] = []

    public init(_ p: Float, rng: inout SeededRNG) { self.p = p; self.rng = rng.split() }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        guard training, p > 0 else { if !keep.isEmpty { keep = [] }; return x }
        let scale = 1 / (1 - p)
        keep = (0..<x.count).map { _ in rng.uniform() >= p ? scale : 0 }
        var y = x
        for i in y.data.indices { y.data[i] *= keep[i] }
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard !keep.isEmpty else { return dy }
        var dx = dy
        for i in dx.data.indices { dx.data[i] *= keep[i] }
        return dx
    }
}

/// y = x·Wᵀ + b with W [out, in] (PyTorch layout); input [N, in] or [N, in, 1, 1].
public final class Linear: Layer {
    public let inFeatures, outFeatures: Int
    public let weight: Parameter
    public let bias: Parameter
    private var input: Tensor?

    public init(_ inFeatures: Int, _ outFeatures: Int, rng: inout SeededRNG) {
        self.inFeatures = inFeatures; self.outFeatures = outFeatures
        let bound = 1 / Float(inFeatures).squareRoot()
        var w = Tensor(zeros: [outFeatures, inFeatures])
        for i in w.data.indices { w.data[i] = (rng.uniform() * 2 - 1) * bound }
        var b = Tensor(zeros: [outFeatures])
        for i in b.data.indices { b.data[i] = (rng.uniform() * 2 - 1) * bound }
        weight = Parameter("weight", w)
        bias = Parameter("bias", b)
    }

    public var parameters: [Parameter] { [weight, bias] }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let n = x.shape[0]
        precondition(x.count == n * inFeatures, "Linear(\(inFeatures)) got input \(x.shape)")
        if training { input = x }
        var y = Tensor(zeros: [n, outFeatures])
        for s in 0..<n { for o in 0..<outFeatures { y.data[s * outFeatures + o] = bias.value.data[o] } }
        x.data.withUnsafeBufferPointer { xp in weight.value.data.withUnsafeBufferPointer { wp in y.data.withUnsafeMutableBufferPointer { yp in
            sgemm(transB: true, m: n, n: outFeatures, k: inFeatures, a: xp.baseAddress!, lda: inFeatures,
                  b: wp.baseAddress!, ldb: inFeatures, beta: 1, c: yp.baseAddress!, ldc: outFeatures)
        } } }
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { fatalError("Linear.backward without a training forward") }
        let n = x.shape[0]
        var dx = Tensor(zeros: x.shape)
        dy.data.withUnsafeBufferPointer { dp in x.data.withUnsafeBufferPointer { xp in
        weight.value.data.withUnsafeBufferPointer { wp in weight.grad.data.withUnsafeMutableBufferPointer { gw in
        dx.data.withUnsafeMutableBufferPointer { dxp in
            sgemm(transA: true, m: outFeatures, n: inFeatures, k: n, a: dp.baseAddress!, lda: outFeatures,
                  b: xp.baseAddress!, ldb: inFeatures, beta: 1, c: gw.baseAddress!, ldc: inFeatures)
            sgemm(m: n, n: inFeatures, k: outFeatures, a: dp.baseAddress!, lda: outFeatures,
                  b: wp.baseAddress!, ldb: inFeatures, c: dxp.baseAddress!, ldc: inFeatures)
        } } } } }
        for s in 0..<n { for o in 0..<outFeatures { bias.grad.data[o] += dy.data[s * outFeatures + o] } }
        input = nil
        return dx
    }
}

/// [N, …] → [N, prod(…)].
public final class Flatten: Layer {
    private var inputShape: [Int] = []
    public init() {}
    public func forward(_ x: Tensor, training: Bool) -> Tensor { if training { inputShape = x.shape }; return x.reshaped([x.shape[0], -1]) }
    public func backward(_ dy: Tensor) -> Tensor { dy.reshaped(inputShape) }
}

/// Elementwise sum of two equally shaped tensors; its backward hands dy to both inputs.
public func add(_ a: Tensor, _ b: Tensor) -> Tensor {
    var y = a
    addInPlace(&y, b)
    return y
}

/// a += b: no new buffer when `a` is uniquely referenced.
public func addInPlace(_ a: inout Tensor, _ b: Tensor) {
    precondition(a.shape == b.shape, "add: shapes \(a.shape) and \(b.shape) differ")
    a.data.withUnsafeMutableBufferPointer { yp in b.data.withUnsafeBufferPointer { bp in
        Threads.parallelFor(yp.count, minChunk: 1 << 15) { r in for i in r { yp[i] += bp[i] } }
    } }
}

/// max(x, 0) in place: inference graphs apply it to a map nobody else holds.
public func reluInPlace(_ x: inout Tensor) {
    x.data.withUnsafeMutableBufferPointer { xp in
        Threads.parallelFor(xp.count, minChunk: 1 << 15) { r in
            relu(xp.baseAddress! + r.lowerBound, xp.baseAddress! + r.lowerBound, count: r.count)
        }
    }
}

/// A layer made of named sub-layers: checkpoints name their tensors "<child>.<tensor>", recursively.
public protocol LayerContainer: Layer {
    var children: [(name: String, layer: Layer)] { get }
}

extension LayerContainer {
    /// Points every Dropout layer inside at a stream drawn from (seed, epoch, step) alone. Trainers call it
    /// before each step, so a run resumed from a checkpoint (which holds no RNG state) draws the same masks.
    public func reseedDropout(seed: UInt64, epoch: Int, step: Int) {
        var k = 0
        func walk(_ c: LayerContainer) {
            for child in c.children {
                if let d = child.layer as? Dropout {
                    d.rng = SeededRNG(seed: seed ^ 0xD80F_0D80_F0D8_0F0D, epoch: epoch, position: step * 64 + k)
                    k += 1
                } else if let inner = child.layer as? LayerContainer { walk(inner) }
            }
        }
        walk(self)
    }
}

/// y = body(x) + shortcut(x) (shortcut = identity when nil): the residual block of Xception-style nets.
public final class Residual: LayerContainer {
    public var children: [(name: String, layer: Layer)] { [("body", body)] + (shortcut.map { [("shortcut", $0)] } ?? []) }

    public let body: Layer
    public let shortcut: Layer?

    public init(body: Layer, shortcut: Layer? = nil) { self.body = body; self.shortcut = shortcut }

    public var parameters: [Parameter] { body.parameters + (shortcut?.parameters ?? []) }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        add(body.forward(x, training: training), shortcut?.forward(x, training: training) ?? x)
    }

    public func backward(_ dy: Tensor) -> Tensor {
        add(body.backward(dy), shortcut?.backward(dy) ?? dy)
    }
}

/// Layers applied in order, with PyTorch-style dotted names ("conv1.weight") for checkpoints.
public final class Sequential: LayerContainer {
    public private(set) var layers: [(name: String, layer: Layer)]
    public var children: [(name: String, layer: Layer)] { layers }

    public init(_ layers: [(String, Layer)]) { self.layers = layers.map { (name: $0.0, layer: $0.1) } }

    /// Training runs BatchNorm → ReLU → MaxPool2D as one fused step (see `BatchNormReLUMaxPool`); off, every layer
    /// runs alone. Process-wide like `Threads.count`: the bench and the tests run both paths.
    nonisolated(unsafe) public static var fusesTrainingBlocks = true

    /// One unit of a training pass: a single layer, or a fused run of layers starting at `first`.
    public struct TrainingStep {
        public let first: Int, count: Int
        public let forward: (Tensor) -> Tensor
        public let backward: (Tensor) -> Tensor
    }

    private var fusedBlocks: [Int: BatchNormReLUMaxPool] = [:]
    private var lastTrainingPlan: [TrainingStep]?

    /// How a training pass runs the layers (in order): the plan `forward(training: true)` follows and `backward`
    /// retraces; the bench times it step by step.
    public func trainingPlan() -> [TrainingStep] {
        var steps: [TrainingStep] = []
        var i = 0
        while i < layers.count {
            if Self.fusesTrainingBlocks, let (bn, pool) = BatchNormReLUMaxPool.matches(layers, at: i) {
                let block: BatchNormReLUMaxPool
                if let b = fusedBlocks[i], b.batchNorm === bn, b.pool === pool { block = b } else {
                    block = BatchNormReLUMaxPool(bn, pool); fusedBlocks[i] = block
                }
                steps.append(TrainingStep(first: i, count: 3, forward: block.forward, backward: block.backward))
                i += 3
            } else {
                let layer = layers[i].layer
                steps.append(TrainingStep(first: i, count: 1, forward: { layer.forward($0, training: true) }, backward: layer.backward))
                i += 1
            }
        }
        return steps
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        if training {
            let plan = trainingPlan()
            lastTrainingPlan = plan
            return plan.reduce(x) { $1.forward($0) }
        }
        // Inference: BN and ReLU rewrite the map in place; the layer before just made it and nobody else holds it.
        // A BN followed by a ReLU is one pass over the map; after a conv, BN (→ ReLU) is the conv's GEMM epilogue.
        var h = x
        var i = 0
        while i < layers.count {
            let layer = layers[i].layer
            if let conv = layer as? Conv2D, conv.hasGEMMPath, i + 1 < layers.count, let bn = layers[i + 1].layer as? BatchNorm {
                let fuse = i + 2 < layers.count && layers[i + 2].layer is ReLU
                let (scale, shift) = bn.inferenceAffine()
                h = conv.inferWithEpilogue(h, scale: scale, shift: shift, relu: fuse)
                i += fuse ? 3 : 2
                continue
            }
            if let bn = layer as? BatchNorm {
                let fuse = i + 1 < layers.count && layers[i + 1].layer is ReLU
                bn.inferInPlace(&h, relu: fuse)
                i += fuse ? 2 : 1
                continue
            }
            if layer is ReLU { reluInPlace(&h) } else { h = layer.forward(h, training: false) }
            i += 1
        }
        return h
    }

    /// Forward that also returns every named layer's output (for model summaries and feature taps).
    public func forwardTrace(_ x: Tensor) -> [(name: String, output: Tensor)] {
        var out: [(String, Tensor)] = []
        var h = x
        for (name, layer) in layers { h = layer.forward(h, training: false); out.append((name, h)) }
        return out.map { (name: $0.0, output: $0.1) }
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let plan = lastTrainingPlan else { fatalError("Sequential.backward without a training forward") }
        lastTrainingPlan = nil
        return plan.reversed().reduce(dy) { $1.backward($0) }
    }

    public var parameters: [Parameter] { namedParameters.map(\.1) }

    public var namedParameters: [(String, Parameter)] { Self.parameters(of: self) }

    public var namedBuffers: [(String, Layer, String, Tensor)] { Self.buffers(of: self) }

    static func parameters(of container: LayerContainer) -> [(String, Parameter)] {
        container.children.flatMap { child -> [(String, Parameter)] in
            if let c = child.layer as? LayerContainer { return parameters(of: c).map { ("\(child.name).\($0.0)", $0.1) } }
            return child.layer.parameters.map { ("\(child.name).\($0.name)", $0) }
        }
    }

    static func buffers(of container: LayerContainer) -> [(String, Layer, String, Tensor)] {
        container.children.flatMap { child -> [(String, Layer, String, Tensor)] in
            if let c = child.layer as? LayerContainer { return buffers(of: c).map { ("\(child.name).\($0.0)", $0.1, $0.2, $0.3) } }
            return child.layer.buffers.map { ("\(child.name).\($0.name)", child.layer, $0.name, $0.tensor) }
        }
    }

    /// The state dict in PyTorch naming: parameters and buffers by dotted name.
    public func stateDict() -> [String: Tensor] {
        var d: [String: Tensor] = [:]
        for (name, p) in namedParameters { d[name] = p.value }
        for (name, _, _, t) in namedBuffers { d[name] = t }
        return d
    }

    /// Loads a state dict, checking that names and shapes match exactly (like `load_state_dict(strict=True)`).
    public func load(stateDict: [String: Tensor], source: String) throws {
        var missing: [String] = []
        for (name, p) in namedParameters {
            guard let t = stateDict[name] else { missing.append(name); continue }
            guard t.shape == p.value.shape else {
                throw EmovoxError("tensor '\(name)' has shape \(t.shape), the model needs \(p.value.shape)", file: source)
            }
            p.value = t
        }
        for (name, layer, local, current) in namedBuffers {
            guard let t = stateDict[name] else { missing.append(name); continue }
            guard t.count == current.count else {
                throw EmovoxError("buffer '\(name)' has shape \(t.shape), the model needs \(current.shape)", file: source)
            }
            try layer.setBuffer(local, t.reshaped(current.shape))
        }
        if !missing.isEmpty {
            throw EmovoxError("missing tensors: \(missing.prefix(6).joined(separator: ", "))\(missing.count > 6 ? " …" : "")", file: source)
        }
        let known = Set(namedParameters.map(\.0) + namedBuffers.map(\.0))
        let unexpected = stateDict.keys.filter { !known.contains($0) }.sorted()
        if !unexpected.isEmpty {
            throw EmovoxError("unexpected tensors: \(unexpected.prefix(6).joined(separator: ", "))", file: source)
        }
    }
}
