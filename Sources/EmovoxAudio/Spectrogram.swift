import Foundation
import EmovoxCore

/// The VGGVox spectrogram (Nagrani et al.): DC removal, optional dither, pre-emphasis 0.97,
/// Hamming 400 / hop 160, 512-point FFT magnitude, per-bin mean/std normalisation over time.
/// 4.024 s (64,384 samples) → 400 frames → 512 × 400 (or 257 × 400 one-sided).
public struct SpectrogramConfig: Codable, Equatable {
    public var windowLength = 400
    public var hop = 160
    public var fftSize = 512
    /// 512 keeps the full (mirrored) spectrum as VGGVox does; 257 keeps the one-sided half.
    public var bins = 512
    public var preemphasis: Float = 0.97
    public var normalize = true
    /// Standard deviation uses N−1 (MATLAB's `std`, as in VGGVox) plus this epsilon.
    public var epsilon: Float = 1e-5
    /// Dither amplitude when training (in [-1, 1] sample units; ~1/3 of a 16-bit LSB).
    public var ditherScale: Float = 1e-5

    public init(bins: Int = 512) { self.bins = bins }

    public static let cropSamples = 64_384

    public func frames(samples: Int) -> Int { samples < windowLength ? 0 : (samples - windowLength) / hop + 1 }
}

public final class Spectrogram {
    public let config: SpectrogramConfig
    let window: [Float]
    let fft: FFT

    public init(config: SpectrogramConfig = SpectrogramConfig()) {
        precondition(config.bins == config.fftSize || config.bins == config.fftSize / 2 + 1, "bins must be fftSize or fftSize/2+1")
        self.config = config
        let n = config.windowLength
        // Symmetric Hamming, as MATLAB's hamming(400).
        window = (0..<n).map { Float(0.54 - 0.46 * cos(2 * Double.pi * Double($0) / Double(n - 1))) }
        fft = FFT(size: config.fftSize)
    }

    /// [bins, frames] for the whole signal. `dither` adds seeded noise (training only).
    public func compute(_ samples: [Float], dither: inout SeededRNG?) -> Tensor {
        let frames = config.frames(samples: samples.count)
        var out = Tensor(zeros: [config.bins, max(frames, 0)])
        guard frames > 0 else { return out }
        out.data.withUnsafeMutableBufferPointer { compute(samples, dither: &dither, into: $0.baseAddress!) }
        return out
    }

    public func compute(_ samples: [Float]) -> Tensor {
        var none: SeededRNG? = nil
        return compute(samples, dither: &none)
    }

    /// Equal-length crops → [N, 1, bins, frames], computed in parallel.
    public func batch(_ crops: [[Float]], dither: inout SeededRNG?) -> Tensor {
        let frames = config.frames(samples: crops.first?.count ?? 0)
        var out = Tensor(zeros: [crops.count, 1, config.bins, frames])
        let per = config.bins * frames
        // One RNG per crop, split up front, keeps dithered batches deterministic under any thread count.
        var rngs: [SeededRNG?] = crops.map { _ in dither == nil ? nil : dither!.split() }
        out.data.withUnsafeMutableBufferPointer { op in
            rngs.withUnsafeMutableBufferPointer { rp in
                Threads.parallelFor(crops.count) { range in
                    for i in range {
                        precondition(crops[i].count == crops[0].count, "spectrogram batch: crops differ in length")
                        self.compute(crops[i], dither: &rp[i], into: op.baseAddress! + i * per)
                    }
                }
            }
        }
        return out
    }

    func compute(_ input: [Float], dither: inout SeededRNG?, into out: UnsafeMutablePointer<Float>) {
        let c = config
        let frames = c.frames(samples: input.count)
        // DC removal, dither, pre-emphasis (y[0] = x[0]).
        let mean = input.reduce(0.0) { $0 + Double($1) } / Double(input.count)
        var x = input.map { $0 - Float(mean) }
        if var rng = dither {
            for i in x.indices { x[i] += rng.normal() * c.ditherScale }
            dither = rng
        }
        if c.preemphasis != 0 {
            for i in stride(from: x.count - 1, to: 0, by: -1) { x[i] -= c.preemphasis * x[i - 1] }
        }
        let half = c.fftSize / 2
        var re = [Float](repeating: 0, count: c.fftSize), im = re
        var magA = [Float](repeating: 0, count: half + 1), magB = magA
        // Two real frames per complex FFT: z = a + i·b.
        var f = 0
        re.withUnsafeMutableBufferPointer { rb in im.withUnsafeMutableBufferPointer { ib in
        let rp = rb.baseAddress!, ip = ib.baseAddress!
        while f < frames {
            let second = f + 1 < frames
            for k in c.windowLength..<c.fftSize { rp[k] = 0; ip[k] = 0 }  // zero padding 400 → 512
            x.withUnsafeBufferPointer { xp in window.withUnsafeBufferPointer { wp in
                let a = xp.baseAddress! + f * c.hop, b = xp.baseAddress! + (f + 1) * c.hop
                for k in 0..<c.windowLength { rp[k] = a[k] * wp[k] }
                if second { for k in 0..<c.windowLength { ip[k] = b[k] * wp[k] } } else { for k in 0..<c.windowLength { ip[k] = 0 } }
            } }
            fft.forward(rp, ip)
            for k in 0...half {
                let j = (c.fftSize - k) % c.fftSize
                // A[k] = (Z[k] + conj Z[N−k]) / 2, B[k] = (Z[k] − conj Z[N−k]) / 2i
                let ar = (rp[k] + rp[j]) / 2, ai = (ip[k] - ip[j]) / 2
                let br = (ip[k] + ip[j]) / 2, bi = -(rp[k] - rp[j]) / 2
                magA[k] = (ar * ar + ai * ai).squareRoot()
                magB[k] = (br * br + bi * bi).squareRoot()
            }
            for (frame, mag) in second ? [(f, magA), (f + 1, magB)] : [(f, magA)] {
                for k in 0..<c.bins {
                    out[k * frames + frame] = mag[k <= half ? k : c.fftSize - k]
                }
            }
            f += 2
        }
        } }
        guard c.normalize else { return }
        for k in 0..<c.bins {
            let row = out + k * frames
            var s = 0.0, sq = 0.0
            for t in 0..<frames { s += Double(row[t]) }
            let mu = s / Double(frames)
            for t in 0..<frames { let d = Double(row[t]) - mu; sq += d * d }
            let sd = Float((sq / Double(max(frames - 1, 1))).squareRoot()) + c.epsilon
            let m = Float(mu)
            for t in 0..<frames { row[t] = (row[t] - m) / sd }
        }
    }

    /// A random crop of `samples` (zero-padded when shorter) and its start in samples.
    public static func randomCrop(_ audio: [Float], samples: Int, rng: inout SeededRNG) -> (crop: [Float], start: Int) {
        if audio.count <= samples { return (audio + [Float](repeating: 0, count: samples - audio.count), 0) }
        let s = rng.int(below: audio.count - samples + 1)
        return (Array(audio[s..<(s + samples)]), s)
    }

    /// The centre `maxSamples` of the audio (all of it when shorter; padded to at least `minSamples`).
    public static func centreCrop(_ audio: [Float], maxSamples: Int, minSamples: Int = 0) -> (crop: [Float], start: Int) {
        var crop = audio, start = 0
        if audio.count > maxSamples {
            start = (audio.count - maxSamples) / 2
            crop = Array(audio[start..<(start + maxSamples)])
        }
        if crop.count < minSamples { crop += [Float](repeating: 0, count: minSamples - crop.count) }
        return (crop, start)
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

    public func forward(_ re: inout [Float], _ im: inout [Float]) {
        re.withUnsafeMutableBufferPointer { r in im.withUnsafeMutableBufferPointer { i in forward(r.baseAddress!, i.baseAddress!) } }
    }

    /// In place on `size` values at `r` (real) and `i` (imaginary).
    public func forward(_ r: UnsafeMutablePointer<Float>, _ i: UnsafeMutablePointer<Float>) {
        let n = size
        rev.withUnsafeBufferPointer { rv in
            for k in 0..<n {
                let j = Int(rv[k])
                if j > k { swap(&r[k], &r[j]); swap(&i[k], &i[j]) }
            }
        }
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
                        let tre = br[j] * wr[j] - bi[j] * wi[j], tim = br[j] * wi[j] + bi[j] * wr[j]
                        br[j] = ar[j] - tre; bi[j] = ai[j] - tim
                        ar[j] += tre; ai[j] += tim
                    }
                    start += 2 * h
                }
                h <<= 1
            }
        } }
    }
}
