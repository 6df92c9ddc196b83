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

    /// The fused BatchNorm → ReLU → MaxPool2D forward's last step, over a pooled row holding x at each argmax:
    /// x̂ = (x − mean)·invStd into `hat`, then relu(x̂·γ + β) over x, rounded as BatchNorm and ReLU round them.
    public static func normaliseReLUInPlace(_ x: UnsafeMutablePointer<Float>, hat: UnsafeMutablePointer<Float>, count: Int,
                                            mean: Float, invStd: Float, gamma: Float, beta: Float) {
        let m8 = SIMD8(repeating: mean), i8 = SIMD8(repeating: invStd), g8 = SIMD8(repeating: gamma), b8 = SIMD8(repeating: beta)
        var q = 0
        while q + 8 <= count {
            let h = (UnsafeRawPointer(x + q).loadUnaligned(as: SIMD8<Float>.self) - m8) * i8
            UnsafeMutableRawPointer(hat + q).storeBytes(of: h, as: SIMD8<Float>.self)
            var v = (h * g8 + b8) + 0  // + 0: ReLU's −0 → +0; NaN stays NaN, as in `relu`
            v.replace(with: 0, where: v .< 0)
            UnsafeMutableRawPointer(x + q).storeBytes(of: v, as: SIMD8<Float>.self)
            q += 8
        }
        while q < count {
            let h = (x[q] - mean) * invStd, v = (h * gamma + beta) + 0
            hat[q] = h
            x[q] = v < 0 ? 0 : v
            q += 1
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

    /// Σdy·[y > 0] and Σdy·[y > 0]·x̂ over one row of a pooled map (BatchNorm → ReLU → MaxPool2D fused backward: the
    /// ReLU mask and x̂ at each window's argmax are the pooled output and the x̂ kept with it). Blocked like
    /// `sumAndDot`: float lanes over 1024 values, each block added into doubles.
    public static func maskedPooledSums(_ dy: UnsafePointer<Float>, pooled y: UnsafePointer<Float>, hat: UnsafePointer<Float>,
                                        count: Int) -> (sumDy: Double, sumDyXHat: Double) {
        var sum = 0.0, dot = 0.0, q = 0
        while q < count {
            let end = min(count, q + 1024)
            var s8 = SIMD8<Float>(), d8 = SIMD8<Float>()
            while q + 8 <= end {
                var g = UnsafeRawPointer(dy + q).loadUnaligned(as: SIMD8<Float>.self)
                g.replace(with: 0, where: UnsafeRawPointer(y + q).loadUnaligned(as: SIMD8<Float>.self) .<= 0)
                s8 += g; d8 += g * UnsafeRawPointer(hat + q).loadUnaligned(as: SIMD8<Float>.self)
                q += 8
            }
            sum += Double(s8.sum()); dot += Double(d8.sum())
            while q < end {
                let g = y[q] > 0 ? dy[q] : 0
                sum += Double(g); dot += Double(g) * Double(hat[q]); q += 1
            }
        }
        return (sum, dot)
    }

    /// The fused backward's dx for one input plane: the part every element gets, k·(0 − Σdy − x̂·Σdy·x̂) with x̂
    /// recomputed from x as the forward rounds it, then k·m·dy added at each window's argmax where the pooled
    /// output is positive (overlapping windows add up).
    public static func fusedInputGradient(_ x: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, count: Int,
                                          dyPooled: UnsafePointer<Float>, pooled: UnsafePointer<Float>, argmax: UnsafePointer<Int32>,
                                          pooledCount: Int, mean: Float, invStd: Float, k: Float, m: Float, sumDy: Float, sumDyXHat: Float) {
        let mean8 = SIMD8(repeating: mean), inv8 = SIMD8(repeating: invStd), k8 = SIMD8(repeating: k)
        let base8 = SIMD8(repeating: 0 - sumDy), s8 = SIMD8(repeating: sumDyXHat)
        var q = 0
        while q + 8 <= count {
            let h = (UnsafeRawPointer(x + q).loadUnaligned(as: SIMD8<Float>.self) - mean8) * inv8
            UnsafeMutableRawPointer(dx + q).storeBytes(of: k8 * (base8 - h * s8), as: SIMD8<Float>.self)
            q += 8
        }
        while q < count { dx[q] = k * ((0 - sumDy) - ((x[q] - mean) * invStd) * sumDyXHat); q += 1 }
        let km = k * m
        for o in 0..<pooledCount where pooled[o] > 0 { dx[Int(argmax[o])] += km * dyPooled[o] }
    }
}
