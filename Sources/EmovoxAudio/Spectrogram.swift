import Foundation
import EmovoxCore
import EmovoxUtilities

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
    /// Standard deviation uses N−1 (MATLAB's `std`, as in VGGVox) plus this epsilon, in the units of
    /// samples × `inputScale`.
    public var epsilon: Float = 1e-5
    /// VGGVox scales audio to the int16 range (× 32768) before its spectrogram. Magnitudes are linear in the
    /// samples, so we keep [−1, 1] samples and divide ε by this instead: the same result without the large
    /// numbers. 1 reproduces the normalisation of students trained before spectrogram version 2.
    public var inputScale: Float = 32768
    /// Dither amplitude when training (in [-1, 1] sample units; ~1/3 of a 16-bit LSB).
    public var ditherScale: Float = 1e-5

    public init(bins: Int = 512) { self.bins = bins }

    /// Recorded in student checkpoints (`spectrogram` metadata) so inference uses the normalisation the student
    /// was trained on: 1 = [−1, 1] samples with ε = 1e-5 (before int16 scaling), 2 = VGGVox's int16 scale.
    public static let currentVersion = 2

    /// The config of a given spectrogram version (unknown → an error naming `source`).
    public static func version(_ v: Int, bins: Int, source: String? = nil) throws -> SpectrogramConfig {
        var c = SpectrogramConfig(bins: bins)
        switch v {
        case 1: c.inputScale = 1
        case 2: break
        default: throw EmovoxError("unknown spectrogram version \(v) (this build knows 1 and 2)", file: source)
        }
        return c
    }

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
        // One RNG per crop, split up front, keeps dithered batches deterministic under any thread count.
        batch(crops, dithers: crops.map { _ in dither == nil ? nil : dither!.split() })
    }

    /// As `batch(_:dither:)` with the caller's own RNG per crop (nil: no dither for that crop), so a crop's
    /// spectrogram does not depend on which batch, micro-batch or rank it lands in.
    public func batch(_ crops: [[Float]], dithers: [SeededRNG?]) -> Tensor {
        precondition(dithers.count == crops.count, "spectrogram batch: one dither RNG per crop")
        let frames = config.frames(samples: crops.first?.count ?? 0)
        var out = Tensor(zeros: [crops.count, 1, config.bins, frames])
        let per = config.bins * frames
        var rngs = dithers
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

    /// The signal is prepared here, transformed sixteen frames at a time by SpectrogramKernels.magnitudes; the
    /// one-sided rows are normalised, then mirrored when all 512 are kept.
    func compute(_ input: [Float], dither: inout SeededRNG?, into out: UnsafeMutablePointer<Float>) {
        let c = config
        let frames = c.frames(samples: input.count)
        let n = c.fftSize, half = n / 2, length = c.windowLength
        let groups = (frames + 15) / 16
        // DC removal, dither, pre-emphasis (y[0] = x[0]); zero tail so the last group reads whole frames.
        var x = [Float](repeating: 0, count: max(input.count, (groups * 16 - 1) * c.hop + length))
        x.withUnsafeMutableBufferPointer { xb in input.withUnsafeBufferPointer { ib in
            SpectrogramKernels.removeMean(ib.baseAddress!, count: ib.count, into: xb.baseAddress!)
        } }
        if var rng = dither {
            for i in input.indices { x[i] += rng.normal() * c.ditherScale }
            dither = rng
        }
        if c.preemphasis != 0 {
            x.withUnsafeMutableBufferPointer { SpectrogramKernels.preemphasise($0.baseAddress!, count: input.count, coefficient: c.preemphasis) }
        }
        x.withUnsafeBufferPointer { xb in window.withUnsafeBufferPointer { wb in
            SpectrogramKernels.magnitudes(xb.baseAddress!, window: wb.baseAddress!, length: length, hop: c.hop, frames: frames,
                                          fft: fft, into: out)
        } }
        if c.normalize {
            for k in 0...half { SpectrogramKernels.standardise(out + k * frames, count: frames, epsilon: c.epsilon / c.inputScale) }
        }
        if c.bins == n {
            for k in (half + 1)..<n { (out + k * frames).update(from: out + (n - k) * frames, count: frames) }
        }
    }

    /// A random crop of `samples` (zero-padded when shorter) and its start in samples.
    public static func randomCrop(_ audio: [Float], samples: Int, rng: inout SeededRNG) -> (crop: [Float], start: Int) {
        if audio.count <= samples { return (audio + [Float](repeating: 0, count: samples - audio.count), 0) }
        let s = randomCropStart(length: audio.count, samples: samples, rng: &rng)
        return (Array(audio[s..<(s + samples)]), s)
    }

    /// Where a random crop of `samples` starts in a clip of `length` samples (0, drawing nothing, when it is shorter).
    public static func randomCropStart(length: Int, samples: Int, rng: inout SeededRNG) -> Int {
        length <= samples ? 0 : rng.int(below: length - samples + 1)
    }

    /// Where the centre `samples` of a clip of `length` samples start.
    public static func centreCropStart(length: Int, samples: Int) -> Int { length > samples ? (length - samples) / 2 : 0 }

    /// The centre `maxSamples` of the audio (all of it when shorter; padded to at least `minSamples`).
    public static func centreCrop(_ audio: [Float], maxSamples: Int, minSamples: Int = 0) -> (crop: [Float], start: Int) {
        var crop = audio, start = 0
        if audio.count > maxSamples {
            start = centreCropStart(length: audio.count, samples: maxSamples)
            crop = Array(audio[start..<(start + maxSamples)])
        }
        if crop.count < minSamples { crop += [Float](repeating: 0, count: minSamples - crop.count) }
        return (crop, start)
    }
}
