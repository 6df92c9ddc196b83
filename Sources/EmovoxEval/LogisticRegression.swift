import Foundation
import EmovoxCore

/// Multinomial logistic regression with L2 (scikit-learn's objective: C·Σ cross-entropy + ½‖W‖², intercept
/// unpenalised), fitted by L-BFGS in Double precision.
public struct LogisticRegression: Codable {
    public var c: Double
    public var classes: Int
    public var dimension: Int
    /// [classes × dimension], row-major.
    public var coef: [Double]
    public var intercept: [Double]
    public var iterations = 0

    public init(c: Double = 1.0, classes: Int, dimension: Int) {
        self.c = c; self.classes = classes; self.dimension = dimension
        coef = [Double](repeating: 0, count: classes * dimension)
        intercept = [Double](repeating: 0, count: classes)
    }

    /// Objective and gradient at a flat parameter vector [W…, b…].
    func objective(_ w: [Double], x: [[Double]], y: [Int]) -> (Double, [Double]) {
        let k = classes, d = dimension
        var f = 0.0, g = [Double](repeating: 0, count: w.count)
        var z = [Double](repeating: 0, count: k)
        for (i, row) in x.enumerated() {
            for j in 0..<k {
                var s = w[k * d + j]
                for q in 0..<d { s += w[j * d + q] * row[q] }
                z[j] = s
            }
            let m = z.max()!
            let lse = m + log(z.reduce(0) { $0 + exp($1 - m) })
            f += c * (lse - z[y[i]])
            for j in 0..<k {
                let r = c * (exp(z[j] - lse) - (j == y[i] ? 1 : 0))
                for q in 0..<d { g[j * d + q] += r * row[q] }
                g[k * d + j] += r
            }
        }
        for q in 0..<(k * d) { f += 0.5 * w[q] * w[q]; g[q] += w[q] }
        return (f, g)
    }

    public mutating func fit(x: [[Double]], y: [Int], maxIterations: Int = 500, tolerance: Double = 1e-8) {
        var w = coef + intercept
        iterations = LBFGS.minimize(&w, maxIterations: maxIterations, tolerance: tolerance) { objective($0, x: x, y: y) }
        coef = Array(w[0..<(classes * dimension)])
        intercept = Array(w[(classes * dimension)...])
    }

    public func probabilities(_ x: [[Double]]) -> [[Double]] {
        x.map { row in
            let z = (0..<classes).map { j in intercept[j] + (0..<dimension).reduce(0.0) { $0 + coef[j * dimension + $1] * row[$1] } }
            let m = z.max()!, e = z.map { exp($0 - m) }, s = e.reduce(0, +)
            return e.map { $0 / s }
        }
    }

    public func predict(_ x: [[Double]]) -> [Int] {
        probabilities(x).map { p in p.indices.max { p[$0] < p[$1] }! }
    }
}

/// Feature standardisation fitted on training rows only (zero-variance features keep scale 1).
public struct Standardizer: Codable {
    public var mean: [Double], scale: [Double]

    public init(fit x: [[Double]]) {
        let d = x.first?.count ?? 0, n = Double(max(x.count, 1))
        mean = (0..<d).map { q in x.reduce(0) { $0 + $1[q] } / n }
        let mu = mean
        scale = (0..<d).map { q in
            let v = x.reduce(0.0) { $0 + ($1[q] - mu[q]) * ($1[q] - mu[q]) } / n
            return v > 1e-24 ? v.squareRoot() : 1
        }
    }

    public func transform(_ x: [[Double]]) -> [[Double]] { x.map { r in r.indices.map { (r[$0] - mean[$0]) / scale[$0] } } }
}

/// Limited-memory BFGS with a backtracking line search satisfying the Armijo and curvature conditions.
public enum LBFGS {
    /// Minimises f in place; returns the iterations used. Stops when ‖g‖∞ ≤ tolerance·max(1, |f|) or on no progress.
    @discardableResult
    public static func minimize(_ x: inout [Double], memory: Int = 10, maxIterations: Int, tolerance: Double,
                                _ f: ([Double]) -> (Double, [Double])) -> Int {
        var (fx, g) = f(x)
        var s: [[Double]] = [], yv: [[Double]] = [], rho: [Double] = []
        func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
        for it in 0..<maxIterations {
            if g.map(abs).max()! <= tolerance * max(1, abs(fx)) { return it }
            // Two-loop recursion for the search direction.
            var q = g
            var alpha = [Double](repeating: 0, count: s.count)
            for i in stride(from: s.count - 1, through: 0, by: -1) {
                alpha[i] = rho[i] * dot(s[i], q)
                for j in q.indices { q[j] -= alpha[i] * yv[i][j] }
            }
            let gamma = s.isEmpty ? 1 / max(1, g.map(abs).max()!) : dot(s.last!, yv.last!) / dot(yv.last!, yv.last!)
            for j in q.indices { q[j] *= gamma }
            for i in s.indices {
                let b = rho[i] * dot(yv[i], q)
                for j in q.indices { q[j] += s[i][j] * (alpha[i] - b) }
            }
            var d = q.map { -$0 }
            var slope = dot(g, d)
            if slope >= 0 { d = g.map { -$0 }; slope = dot(g, d); s.removeAll(); yv.removeAll(); rho.removeAll() }
            // Backtracking line search (Armijo); the objectives here are convex, and pairs with
            // non-positive curvature are skipped below, so the inverse-Hessian estimate stays positive.
            var step = 1.0, accepted = false
            var xn = x, fn = fx, gn = g
            for _ in 0..<60 {
                xn = zip(x, d).map { $0 + step * $1 }
                (fn, gn) = f(xn)
                if fn <= fx + 1e-4 * step * slope { accepted = true; break }
                step *= 0.5
            }
            if !accepted { return it }
            let sk = zip(xn, x).map { $0 - $1 }, yk = zip(gn, g).map { $0 - $1 }
            let sy = dot(sk, yk)
            if sy > 1e-12 {
                s.append(sk); yv.append(yk); rho.append(1 / sy)
                if s.count > memory { s.removeFirst(); yv.removeFirst(); rho.removeFirst() }
            }
            let improvement = fx - fn
            x = xn; fx = fn; g = gn
            if improvement >= 0 && improvement < 1e-15 * max(1, abs(fx)) { return it + 1 }
        }
        return maxIterations
    }
}
