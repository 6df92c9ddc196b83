import Foundation
import EmovoxCore
import EmovoxUtilities

/// Training-time audio augmentation for distillation. Every part is off unless set, and each is a pure function
/// of the clip and the sample's own RNG, so a sample comes out the same whichever worker prepares it.
/// The defaults stay off until the recipe search (issue 13, part 2) has measured which parts help.
public struct AudioAugmentation: Codable, Equatable, Sendable {
    /// Clips shorter than the crop are placed at a random offset (else at the start, zero-padded after).
    public var randomPlacement = false
    /// Speed factor range (e.g. 0.9...1.1): band-limited resampling changes tempo and pitch together, as Kaldi's
    /// speed perturbation does. Factors are drawn in steps of 1/40.
    public var speed: ClosedRange<Float>? = nil
    /// Additive white Gaussian noise at a signal-to-noise ratio (dB) drawn from this range.
    public var noiseSNR: ClosedRange<Float>? = nil
    /// Gain (dB) drawn from this range.
    public var gainDB: ClosedRange<Float>? = nil
    /// SpecAugment-style masks on the normalised spectrogram (set to 0, the per-bin mean): count and widest mask.
    public var timeMasks = 0
    public var timeMaskFrames = 40
    public var frequencyMasks = 0
    public var frequencyMaskBins = 30

    public init() {}

    public var isOff: Bool { self == AudioAugmentation() }

    /// "lo:hi" (or one number for a fixed value) → a range; `name` is the option it came from, for the error.
    public static func range(_ text: String, name: String) throws -> ClosedRange<Float> {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard (1...2).contains(parts.count), parts.allSatisfy({ $0?.isFinite == true }) else {
            throw EmovoxError("\(name) '\(text)' is not a number or a range lo:hi")
        }
        let lo = parts[0]!, hi = parts.last!!
        guard lo <= hi else { throw EmovoxError("\(name) '\(text)': the lower end is above the upper end") }
        return lo...hi
    }

    static func draw(_ r: ClosedRange<Float>, _ rng: inout SeededRNG) -> Float { r.lowerBound + (r.upperBound - r.lowerBound) * rng.uniform() }

    /// A training crop of exactly `samples` from `audio`, augmented, and the span of `audio` it came from
    /// (`start..<end` in samples, for the teacher target of that time).
    public func crop(_ audio: [Float], samples: Int, rng: inout SeededRNG) -> (crop: [Float], start: Int, end: Int) {
        // Speed: read a window of samples·factor and resample it to `samples` (length ratio up/down = 1/factor).
        var up = 1, down = 1
        if let speed {
            let steps = 40
            let d = max(1, Int((Self.draw(speed, &rng) * Float(steps)).rounded()))
            let g = gcd(steps, d)
            up = steps / g; down = d / g
        }
        let need = (samples * down + up - 1) / up
        var start = 0, window: [Float]
        if audio.count > need {
            start = rng.int(below: audio.count - need + 1)
            window = Array(audio[start..<(start + need)])
        } else {
            window = audio
        }
        let end = start + window.count
        if up != down { window = PolyphaseResampler(up: up, down: down).resample(window) }
        if window.count > samples { window.removeLast(window.count - samples) }
        var out = [Float](repeating: 0, count: samples)
        let offset = randomPlacement && window.count < samples ? rng.int(below: samples - window.count + 1) : 0
        for i in window.indices { out[offset + i] = window[i] }
        if let gainDB {
            let g = Float(pow(10, Double(Self.draw(gainDB, &rng)) / 20))
            for i in out.indices { out[i] *= g }
        }
        if let noiseSNR, !window.isEmpty {
            let snr = Self.draw(noiseSNR, &rng)
            // Power of the clip itself (not the zero padding), so placement does not change the noise level.
            let power = out[offset..<(offset + window.count)].reduce(0.0) { $0 + Double($1) * Double($1) } / Double(window.count)
            if power > 0 {
                let sd = Float((power / pow(10, Double(snr) / 10)).squareRoot())
                for i in out.indices { out[i] += sd * rng.normal() }
            }
        }
        return (out, start, end)
    }

    /// Time and frequency masks on a batch of spectrograms [N, 1, bins, frames], each item with its own stream
    /// split from `rng` up front (deterministic under any thread count or batch composition order).
    public func mask(_ x: inout Tensor, rng: inout SeededRNG) {
        guard timeMasks > 0 || frequencyMasks > 0 else { return }
        mask(&x, rngs: (0..<x.shape[0]).map { _ in rng.split() })
    }

    /// The same masks with item i drawn from `rngs[i]` (training: each sample's own stream, so a sample is masked
    /// the same whichever batch, worker or rank it is prepared in).
    public func mask(_ x: inout Tensor, rngs: [SeededRNG]) {
        guard timeMasks > 0 || frequencyMasks > 0 else { return }
        precondition(x.shape.count == 4 && rngs.count == x.shape[0], "mask expects [N, 1, bins, frames] and one RNG per item")
        let n = x.shape[0], bins = x.shape[1] * x.shape[2], frames = x.shape[3]
        for item in 0..<n {
            var r = rngs[item]
            let base = item * bins * frames
            for _ in 0..<timeMasks {
                let w = r.int(below: min(timeMaskFrames, frames) + 1), t0 = r.int(below: frames - w + 1)
                for k in 0..<bins { for t in t0..<(t0 + w) { x.data[base + k * frames + t] = 0 } }
            }
            for _ in 0..<frequencyMasks {
                let w = r.int(below: min(frequencyMaskBins, bins) + 1), k0 = r.int(below: bins - w + 1)
                for k in k0..<(k0 + w) { for t in 0..<frames { x.data[base + k * frames + t] = 0 } }
            }
        }
    }

    func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
}

/// Band-limited rational resampling by up/down: a Kaiser-windowed sinc low-pass (β = 5, cutoff at the lower of
/// the two Nyquist rates, 10 zero crossings per side) applied polyphase, i.e. only the taps that meet input
/// samples are summed. Its filter and alignment are SciPy's `resample_poly` defaults, which the tests check.
public struct PolyphaseResampler {
    public let up: Int, down: Int
    let halfLength: Int
    let taps: [Float]

    public init(up: Int, down: Int, kaiserBeta: Double = 5) {
        precondition(up > 0 && down > 0, "resampler: up and down must be positive")
        func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
        let g = gcd(up, down), u = up / g, d = down / g
        self.up = u; self.down = d
        let rate = max(u, d), half = 10 * rate
        halfLength = half
        let cutoff = 1 / Double(rate), n = 2 * half + 1
        var h = (0..<n).map { i -> Double in
            let m = Double(i - half)
            let sinc = m == 0 ? cutoff : sin(Double.pi * cutoff * m) / (Double.pi * m)
            let r = 2 * Double(i) / Double(n - 1) - 1
            return sinc * Self.besselI0(kaiserBeta * max(0, 1 - r * r).squareRoot()) / Self.besselI0(kaiserBeta)
        }
        let sum = h.reduce(0, +)
        h = h.map { $0 / sum * Double(u) }  // unit DC gain after zero-stuffing by `up`
        taps = h.map(Float.init)
    }

    /// Modified Bessel function of the first kind, order 0 (power series; converges fast for β ≤ 20).
    static func besselI0(_ x: Double) -> Double {
        var sum = 1.0, term = 1.0, k = 1.0
        while term > 1e-17 * sum { term *= (x / (2 * k)) * (x / (2 * k)); sum += term; k += 1 }
        return sum
    }

    public func outputCount(_ inputCount: Int) -> Int { (inputCount * up + down - 1) / down }

    /// y[k] = Σᵢ x[i] · h[half + k·down − i·up]: output k sits at input time k·down/up.
    public func resample(_ x: [Float]) -> [Float] {
        let count = outputCount(x.count)
        var y = [Float](repeating: 0, count: count)
        x.withUnsafeBufferPointer { xp in taps.withUnsafeBufferPointer { hp in
            for k in 0..<count {
                let centre = k * down
                // i·up ∈ [centre − half, centre + half]
                let lo = max(0, (centre - halfLength + up - 1) / up), hi = min(x.count - 1, (centre + halfLength) / up)
                guard lo <= hi else { continue }
                var acc: Float = 0
                var j = halfLength + centre - lo * up
                for i in lo...hi { acc += xp[i] * hp[j]; j -= up }
                y[k] = acc
            }
        } }
        return y
    }
}
