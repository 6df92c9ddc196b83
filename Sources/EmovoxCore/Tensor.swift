import Foundation

/// A dense float32 tensor in row-major (C) order. Images and feature maps are NCHW.
/// Value semantics (copy-on-write through `[Float]`) keep the core simple; hot loops use
/// `withUnsafeBufferPointer` to avoid bounds checks and retain/release traffic.
public struct Tensor: Equatable, Sendable {
    public var shape: [Int]
    public var data: [Float]

    /// Elements of `shape`, or nil when a size is negative or the product overflows (untrusted file headers).
    public static func elementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            n = p
        }
        return n
    }

    public init(shape: [Int], data: [Float]) {
        precondition(shape.reduce(1, *) == data.count,
                     "Tensor: shape \(shape) needs \(shape.reduce(1, *)) values, got \(data.count)")
        self.shape = shape
        self.data = data
    }

    public init(zeros shape: [Int]) {
        self.shape = shape
        self.data = [Float](repeating: 0, count: shape.reduce(1, *))
    }

    public init(repeating value: Float, shape: [Int]) {
        self.shape = shape
        self.data = [Float](repeating: value, count: shape.reduce(1, *))
    }

    /// A tensor whose every element `fill` writes: skips the zeroing pass of `init(zeros:)` on large maps.
    public init(shape: [Int], unsafeFill fill: (UnsafeMutableBufferPointer<Float>) -> Void) {
        self.shape = shape
        let n = shape.reduce(1, *)
        data = [Float](unsafeUninitializedCapacity: n) { buf, initialized in
            fill(buf)
            initialized = n
        }
    }

    public var count: Int { data.count }
    public var rank: Int { shape.count }

    /// Same data, new shape (one dimension may be -1).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var s = newShape
        if let i = s.firstIndex(of: -1) {
            let known = s.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            s[i] = count / max(known, 1)
        }
        return Tensor(shape: s, data: data)
    }

    /// Sample `n` of the leading (batch) dimension as its own tensor with batch 1.
    public func sample(_ n: Int) -> Tensor {
        let per = count / shape[0]
        var s = shape
        s[0] = 1
        return Tensor(shape: s, data: Array(data[(n * per)..<((n + 1) * per)]))
    }

    /// Stack equally-shaped tensors along a new leading axis, or concatenate along axis 0
    /// when they already have a batch axis (`concatenate: true`).
    public static func stack(_ items: [Tensor], concatenate: Bool = false) -> Tensor {
        precondition(!items.isEmpty, "Tensor.stack: nothing to stack")
        let inner = concatenate ? Array(items[0].shape.dropFirst()) : items[0].shape
        var out = [Float]()
        out.reserveCapacity(items.reduce(0) { $0 + $1.count })
        var lead = 0
        for t in items {
            let tInner = concatenate ? Array(t.shape.dropFirst()) : t.shape
            precondition(tInner == inner, "Tensor.stack: shape \(t.shape) does not match \(items[0].shape)")
            out.append(contentsOf: t.data)
            lead += concatenate ? t.shape[0] : 1
        }
        return Tensor(shape: [lead] + inner, data: out)
    }

    public func allFinite() -> Bool { data.allSatisfy { $0.isFinite } }
}

/// A trainable tensor with its gradient; layers own their parameters.
public final class Parameter {
    public let name: String
    public var value: Tensor
    public var grad: Tensor

    public init(_ name: String, _ value: Tensor) {
        self.name = name
        self.value = value
        self.grad = Tensor(zeros: value.shape)
    }

    public func zeroGrad() {
        grad.data.withUnsafeMutableBufferPointer { g in
            for i in g.indices { g[i] = 0 }
        }
    }
}
