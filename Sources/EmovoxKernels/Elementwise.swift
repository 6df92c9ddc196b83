import Foundation

/// y = max(x·scale + shift, 0) (NaN stays NaN, as in PyTorch; the affine part is BN at inference), eight
/// lanes at a time with a mask blend: Swift.max is NaN-aware lane by lane and keeps a plain loop scalar.
/// `y` may be `x`.
@inline(__always) public func relu(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int,
                                   scale: Float = 1, shift: Float = 0) {
    let a8 = SIMD8(repeating: scale), b8 = SIMD8(repeating: shift)
    var i = 0
    while i + 8 <= count {
        var v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) * a8 + b8
        v.replace(with: 0, where: v .< 0)
        UnsafeMutableRawPointer(y + i).storeBytes(of: v, as: SIMD8<Float>.self)
        i += 8
    }
    while i < count { y[i] = max(x[i] * scale + shift, 0); i += 1 }
}

/// dx = y > 0 ? dy : 0 written over `y` (ReLU's backward; the forward output is the mask).
/// Eight lanes at a time with a mask blend (the scalar select does not vectorise).
public func reluMask(_ dy: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count {
        let v = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
        var d = UnsafeRawPointer(dy + i).loadUnaligned(as: SIMD8<Float>.self)
        d.replace(with: 0, where: v .<= 0)
        UnsafeMutableRawPointer(y + i).storeBytes(of: d, as: SIMD8<Float>.self)
        i += 8
    }
    while i < count { y[i] = y[i] > 0 ? dy[i] : 0; i += 1 }
}

/// Σa and Σa·b of a row (Σx, Σx² with b = a): eight float lanes over blocks of 1024 (short float sums,
/// vectorised), each block added into doubles, so a 50 000-element plane loses no more than a block's
/// float rounding.
public func sumAndDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> (Double, Double) {
    var sum = 0.0, dot = 0.0, q = 0
    while q < count {
        let end = min(count, q + 1024)
        var s8 = SIMD8<Float>(), d8 = SIMD8<Float>()
        while q + 8 <= end {
            let u = UnsafeRawPointer(a + q).loadUnaligned(as: SIMD8<Float>.self)
            let v = UnsafeRawPointer(b + q).loadUnaligned(as: SIMD8<Float>.self)
            s8 += u; d8 += u * v
            q += 8
        }
        sum += Double(s8.sum()); dot += Double(d8.sum())
        while q < end { sum += Double(a[q]); dot += Double(a[q]) * Double(b[q]); q += 1 }
    }
    return (sum, dot)
}

/// Batch normalisation's per-row loops (BatchNorm in EmovoxCore holds the statistics and the parameters).
public enum BatchNormKernels {
    /// x̂ = (x − mean)·invStd into `hat`, y = x̂·gamma + beta into `y`, over one row of `count` values.
    public static func normalise(_ x: UnsafePointer<Float>, hat: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>, count: Int,
                                 mean: Float, invStd: Float, gamma: Float, beta: Float) {
        for q in 0..<count {
            let h = (x[q] - mean) * invStd
            hat[q] = h
            y[q] = h * gamma + beta
        }
    }

    /// x ← x·scale + shift in place (inference with running statistics, no ReLU).
    public static func affine(_ x: UnsafeMutablePointer<Float>, count: Int, scale: Float, shift: Float) {
        for q in 0..<count { x[q] = x[q] * scale + shift }
    }

    /// dx = k·(m·dy − Σdy − x̂·Σ(dy·x̂)) written over x̂ (`hat`), one row of `count` values.
    public static func inputGradient(_ dy: UnsafePointer<Float>, hat: UnsafeMutablePointer<Float>, count: Int,
                                     k: Float, m: Float, sumDy: Float, sumDyXHat: Float) {
        for q in 0..<count { hat[q] = k * (m * dy[q] - sumDy - hat[q] * sumDyXHat) }
    }
}
