import Foundation

/// The spectrogram's transform loop (Spectrogram in EmovoxAudio prepares the signal and owns the configuration).
public enum SpectrogramKernels {
    /// Sixteen frames per transform: frames g…g+7 ride in the real lanes and g+8…g+15 in the imaginary lanes of
    /// one SIMD8 complex FFT, so every butterfly is a whole-vector operation and each bin's 16 magnitudes land
    /// contiguously in row k of `out` ([fft.size / 2 + 1, frames]). `x` holds whole frames up to the last group
    /// of sixteen (zero tail); `window` has `length` ≤ fft.size taps.
    public static func magnitudes(_ x: UnsafePointer<Float>, window: UnsafePointer<Float>, length: Int, hop: Int, frames: Int,
                                  fft: FFT, into out: UnsafeMutablePointer<Float>) {
        let n = fft.size, half = n / 2
        let groups = (frames + 15) / 16
        var re = [SIMD8<Float>](repeating: .zero, count: n), im = re
        fft.rev.withUnsafeBufferPointer { rv in
        re.withUnsafeMutableBufferPointer { rb in im.withUnsafeMutableBufferPointer { ib in
            let xp = x, wb = window, rp = rb.baseAddress!, ip = ib.baseAddress!
            for g in 0..<groups {
                let first = g * 16
                // Window into bit-reversed slots (the FFT then skips its permutation); 400 → 512 zero padding.
                for k in 0..<length {
                    let w = wb[k]
                    var a = SIMD8<Float>(), b = SIMD8<Float>()
                    for lane in 0..<8 {
                        a[lane] = xp[(first + lane) * hop + k] * w
                        b[lane] = xp[(first + 8 + lane) * hop + k] * w
                    }
                    let slot = Int(rv[k])
                    rp[slot] = a; ip[slot] = b
                }
                for k in length..<n { let slot = Int(rv[k]); rp[slot] = .zero; ip[slot] = .zero }
                fft.butterflies(rp, ip)
                // A[k] = (Z[k] + conj Z[N−k]) / 2, B[k] = (Z[k] − conj Z[N−k]) / 2i; |·| of each.
                let valid = min(16, frames - first)
                for k in 0...half {
                    let j = (n - k) % n
                    let ar = rp[k] + rp[j], ai = ip[k] - ip[j], br = ip[k] + ip[j], bi = rp[k] - rp[j]
                    let magA = (ar * ar + ai * ai).squareRoot() * 0.5, magB = (br * br + bi * bi).squareRoot() * 0.5
                    let row = out + k * frames + first
                    if valid == 16 {
                        UnsafeMutableRawPointer(row).storeBytes(of: magA, as: SIMD8<Float>.self)
                        UnsafeMutableRawPointer(row + 8).storeBytes(of: magB, as: SIMD8<Float>.self)
                    } else {
                        for lane in 0..<valid { row[lane] = lane < 8 ? magA[lane] : magB[lane - 8] }
                    }
                }
            }
        } } }
    }

    /// x[i] = input[i] − mean(input) for i < count (the mean summed in Double).
    public static func removeMean(_ input: UnsafePointer<Float>, count: Int, into x: UnsafeMutablePointer<Float>) {
        var sum = 0.0
        for i in 0..<count { sum += Double(input[i]) }
        let mean = Float(sum / Double(count))
        for i in 0..<count { x[i] = input[i] - mean }
    }

    /// Pre-emphasis in place: x[i] −= coefficient·x[i−1] for i ≥ 1 (x[0] stays), from the end so each step reads
    /// the original x[i−1].
    public static func preemphasise(_ x: UnsafeMutablePointer<Float>, count: Int, coefficient: Float) {
        var i = count - 1
        while i > 0 { x[i] -= coefficient * x[i - 1]; i -= 1 }
    }

    /// (row − mean) / (std + ε), std with N−1 as MATLAB's `std`. Double sums: a row is only a few hundred values.
    public static func standardise(_ row: UnsafeMutablePointer<Float>, count: Int, epsilon: Float) {
        var s = 0.0, sq = 0.0
        for t in 0..<count { s += Double(row[t]) }
        let mu = s / Double(count)
        for t in 0..<count { let d = Double(row[t]) - mu; sq += d * d }
        let inv = 1 / (Float((sq / Double(max(count - 1, 1))).squareRoot()) + epsilon)
        let m = Float(mu)
        for t in 0..<count { row[t] = (row[t] - m) * inv }
    }
}

/// Iterative radix-2 complex FFT (sizes 2^k): bit-reversal permutation, then log2(N) butterfly stages with
/// each stage's twiddles stored contiguously; the first stage (twiddle 1) is a plain add/subtract.
public final class FFT {
    public let size: Int
    let rev: [Int32]
    /// Twiddles of stage with half-length h live at [h - 1, 2h - 1).
    let twRe: [Float], twIm: [Float]

    public init(size: Int) {
        precondition(size > 1 && size & (size - 1) == 0, "FFT size must be a power of two")
        self.size = size
        let bits = size.trailingZeroBitCount
        rev = (0..<size).map { i in
            var r = 0
            for b in 0..<bits where i & (1 << b) != 0 { r |= 1 << (bits - 1 - b) }
            return Int32(r)
        }
        var re = [Float](), im = [Float]()
        var h = 1
        while h < size {
            for j in 0..<h {
                let a = -Double.pi * Double(j) / Double(h)
                re.append(Float(cos(a))); im.append(Float(sin(a)))
            }
            h <<= 1
        }
        twRe = re; twIm = im
    }

    /// The butterfly stages on SIMD8 lanes (eight independent transforms) whose input is already in
    /// bit-reversed order.
    func butterflies(_ r: UnsafeMutablePointer<SIMD8<Float>>, _ i: UnsafeMutablePointer<SIMD8<Float>>) {
        let n = size
        var a = 0
        while a < n {  // half-length 1: twiddle 1
            let br = r[a + 1], bi = i[a + 1]
            r[a + 1] = r[a] - br; i[a + 1] = i[a] - bi
            r[a] += br; i[a] += bi
            a += 2
        }
        twRe.withUnsafeBufferPointer { tr in twIm.withUnsafeBufferPointer { ti in
            var h = 2
            while h < n {
                let wr = tr.baseAddress! + h - 1, wi = ti.baseAddress! + h - 1
                var start = 0
                while start < n {
                    let ar = r + start, ai = i + start, br = r + start + h, bi = i + start + h
                    for j in 0..<h {
                        let c = SIMD8<Float>(repeating: wr[j]), s = SIMD8<Float>(repeating: wi[j])
                        let tre = br[j] * c - bi[j] * s, tim = br[j] * s + bi[j] * c
                        br[j] = ar[j] - tre; bi[j] = ai[j] - tim
                        ar[j] += tre; ai[j] += tim
                    }
                    start += 2 * h
                }
                h <<= 1
            }
        } }
    }

    public func forward(_ re: inout [Float], _ im: inout [Float]) {
        re.withUnsafeMutableBufferPointer { r in im.withUnsafeMutableBufferPointer { i in forward(r.baseAddress!, i.baseAddress!) } }
    }

    /// In place on `size` values at `r` (real) and `i` (imaginary): one transform through the same SIMD
    /// stages the spectrogram uses (in every lane; lane 0 is read back), so a test of this tests those.
    public func forward(_ r: UnsafeMutablePointer<Float>, _ i: UnsafeMutablePointer<Float>) {
        let n = size
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 2 * n) { buffer in
            let vr = buffer.baseAddress!, vi = vr + n
            rev.withUnsafeBufferPointer { rv in
                for k in 0..<n {
                    let j = Int(rv[k])
                    (vr + k).initialize(to: SIMD8(repeating: r[j])); (vi + k).initialize(to: SIMD8(repeating: i[j]))
                }
            }
            butterflies(vr, vi)
            for k in 0..<n { r[k] = vr[k][0]; i[k] = vi[k][0] }
        }
    }
}
