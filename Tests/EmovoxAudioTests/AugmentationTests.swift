import XCTest
import EmovoxCore
@testable import EmovoxAudio

final class AugmentationTests: XCTestCase {
    let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    func fixture(_ name: String) throws -> Tensor { try NPY.read(fixtures.appendingPathComponent(name).path) }

    /// The speed perturbation's resampler equals scipy.signal.resample_poly (same Kaiser-windowed sinc and alignment).
    func testResamplerMatchesSciPyResamplePoly() throws {
        let x = try fixture("resample_in.npy").data
        for (up, down) in [(10, 11), (10, 9), (1, 2), (2, 1), (20, 21)] {
            let expected = try fixture("resample_\(up)_\(down).npy").data
            let y = PolyphaseResampler(up: up, down: down).resample(x)
            XCTAssertEqual(y.count, expected.count, "\(up)/\(down) length")
            var worst: Float = 0
            for i in 0..<min(y.count, expected.count) { worst = max(worst, abs(y[i] - expected[i])) }
            XCTAssertLessThanOrEqual(worst, 2e-5, "\(up)/\(down): max abs error \(worst)")
        }
        // Reduced ratios give the same filter: 20/22 is 10/11.
        XCTAssertEqual(PolyphaseResampler(up: 20, down: 22).resample(x), PolyphaseResampler(up: 10, down: 11).resample(x))
    }

    /// Band-limited speech (16 → 8 → 16 kHz): nearly empty bins above 4 kHz, where ε against the int16-scaled
    /// magnitudes matters. The current spectrogram matches the VGGVox-scaled oracle; version 1 (ε on [−1, 1]) does not.
    func testBandLimitedSpectrogramMatchesVGGVoxScale() throws {
        let audio = try fixture("band8k.npy").data, expected = try fixture("band8k_spec257.npy")
        func worst(_ config: SpectrogramConfig) -> Float {
            let spec = Spectrogram(config: config).compute(audio)
            XCTAssertEqual(spec.shape, expected.shape)
            var w: Float = 0
            for i in 0..<spec.count { w = max(w, abs(spec.data[i] - expected.data[i]) / max(1, abs(expected.data[i]))) }
            return w
        }
        // Float32 FFT rounding is relative to the loud low bins; the near-empty high bins have a std ~1e3 times
        // smaller, so normalising them magnifies it to ~2e-4. Still 20× below what ε's scale changes.
        XCTAssertLessThanOrEqual(worst(SpectrogramConfig(bins: 257)), 3e-4)
        XCTAssertEqual(try SpectrogramConfig.version(2, bins: 257), SpectrogramConfig(bins: 257))
        let legacy = worst(try SpectrogramConfig.version(1, bins: 257))
        XCTAssertGreaterThan(legacy, 2e-3, "version 1 should differ on band-limited audio (got \(legacy))")
        XCTAssertThrowsError(try SpectrogramConfig.version(3, bins: 257, source: "x.safetensors")) {
            XCTAssertTrue("\($0)".contains("x.safetensors"))
        }
    }

    func tone(_ n: Int) -> [Float] { (0..<n).map { 0.3 * sin(Float($0) * 0.05) } }

    func testCropIsDeterministicPerSampleStreamAndHasTheRequestedLength() {
        var aug = AudioAugmentation()
        aug.speed = 0.9...1.1; aug.noiseSNR = 10...20; aug.gainDB = -6...6; aug.randomPlacement = true
        let audio = tone(90_000)
        var a = SeededRNG(seed: 1, epoch: 3, position: 7), b = SeededRNG(seed: 1, epoch: 3, position: 7), c = SeededRNG(seed: 1, epoch: 3, position: 8)
        let x = aug.crop(audio, samples: 64_384, rng: &a), y = aug.crop(audio, samples: 64_384, rng: &b), z = aug.crop(audio, samples: 64_384, rng: &c)
        XCTAssertEqual(x.crop, y.crop)
        XCTAssertNotEqual(x.crop, z.crop)
        XCTAssertEqual(x.crop.count, 64_384)
        XCTAssertTrue(x.start >= 0 && x.end <= audio.count && x.end > x.start)
    }

    /// With no part switched on, a crop is the plain window of the clip with its span.
    func testPlainCropIsTheWindowOfTheClip() {
        let audio = tone(10_000)
        var rng = SeededRNG(seed: 4)
        let r = AudioAugmentation().crop(audio, samples: 4000, rng: &rng)
        XCTAssertEqual(r.end - r.start, 4000)
        XCTAssertEqual(r.crop, Array(audio[r.start..<r.end]))
    }

    /// Speed f reads f × crop samples of the clip (span) and resamples them to the crop length.
    func testSpeedReadsTheScaledSpan() {
        var aug = AudioAugmentation()
        aug.speed = 1.1...1.1
        var rng = SeededRNG(seed: 5)
        let audio = tone(50_000), r = aug.crop(audio, samples: 10_000, rng: &rng)
        XCTAssertEqual(r.end - r.start, 11_000)
        XCTAssertEqual(r.crop, PolyphaseResampler(up: 10, down: 11).resample(Array(audio[r.start..<r.end])))
    }

    /// Short clips land at a random offset inside zeros; the offsets vary across streams.
    func testRandomPlacementOfShortClips() {
        var aug = AudioAugmentation()
        aug.randomPlacement = true
        let audio = [Float](repeating: 0.5, count: 1000)
        var offsets = Set<Int>()
        for p in 0..<20 {
            var rng = SeededRNG(seed: 0, epoch: 0, position: p)
            let r = aug.crop(audio, samples: 5000, rng: &rng)
            let first = r.crop.firstIndex(of: 0.5)!
            XCTAssertEqual(r.crop.filter { $0 == 0.5 }.count, 1000)
            XCTAssertTrue(r.crop[first..<(first + 1000)].allSatisfy { $0 == 0.5 })
            XCTAssertEqual([r.start, r.end], [0, 1000])
            offsets.insert(first)
        }
        XCTAssertGreaterThan(offsets.count, 10)
        var rng = SeededRNG(seed: 0)
        XCTAssertEqual(AudioAugmentation().crop(audio, samples: 5000, rng: &rng).crop.firstIndex(of: 0.5), 0)
    }

    /// Gain scales by 10^(dB/20); noise comes in at the drawn SNR (measured on a long crop).
    func testGainAndNoiseLevels() {
        let audio = tone(200_000)
        var gain = AudioAugmentation()
        gain.gainDB = 6...6
        var rng = SeededRNG(seed: 6)
        let g = gain.crop(audio, samples: 100_000, rng: &rng)
        for i in stride(from: 0, to: g.crop.count, by: 997) { XCTAssertEqual(g.crop[i], audio[g.start + i] * 1.9952623, accuracy: 1e-5) }
        var noise = AudioAugmentation()
        noise.noiseSNR = 10...10
        let n = noise.crop(audio, samples: 100_000, rng: &rng)
        let clean = audio[n.start..<n.end]
        let ps = clean.reduce(0.0) { $0 + Double($1 * $1) }, pn = zip(n.crop, clean).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
        XCTAssertEqual(10 * log10(ps / pn), 10, accuracy: 0.1)
    }

    /// Masks zero whole frames and whole bins, never wider than asked, the same for the same stream.
    func testSpecAugmentMasks() {
        var aug = AudioAugmentation()
        aug.timeMasks = 2; aug.timeMaskFrames = 10; aug.frequencyMasks = 1; aug.frequencyMaskBins = 8
        let rng = SeededRNG(seed: 7)
        let ones = Tensor(shape: [3, 1, 20, 50], data: [Float](repeating: 1, count: 3 * 20 * 50))
        var a = ones, b = ones
        var r1 = rng, r2 = rng
        aug.mask(&a, rng: &r1); aug.mask(&b, rng: &r2)
        XCTAssertEqual(a.data, b.data)
        var sawMask = false
        for n in 0..<3 {
            let v = { (k: Int, t: Int) in a.data[n * 1000 + k * 50 + t] }
            let zeroFrames = (0..<50).filter { t in (0..<20).allSatisfy { v($0, t) == 0 } }
            let zeroBins = (0..<20).filter { k in (0..<50).allSatisfy { v(k, $0) == 0 } }
            // Two time masks of ≤ 10 frames cannot zero a bin of 50 frames, one ≤ 8-bin mask cannot zero a 20-bin frame.
            XCTAssertLessThanOrEqual(zeroFrames.count, 20)
            XCTAssertLessThanOrEqual(zeroBins.count, 8)
            // Every zero lies in a masked frame or a masked bin.
            for k in 0..<20 { for t in 0..<50 where v(k, t) == 0 { XCTAssertTrue(zeroFrames.contains(t) || zeroBins.contains(k)) } }
            sawMask = sawMask || !zeroFrames.isEmpty || !zeroBins.isEmpty
        }
        XCTAssertTrue(sawMask)
        XCTAssertNotEqual(a.data, ones.data)
    }

    func testRangeParsing() throws {
        XCTAssertEqual(try AudioAugmentation.range("0.9:1.1", name: "--speed"), 0.9...1.1)
        XCTAssertEqual(try AudioAugmentation.range("-6", name: "--gain-db"), -6 ... -6)
        XCTAssertThrowsError(try AudioAugmentation.range("3:1", name: "--speed"))
        XCTAssertThrowsError(try AudioAugmentation.range("a:b", name: "--speed"))
        XCTAssertTrue(AudioAugmentation().isOff)
        let json = try JSONEncoder().encode(AudioAugmentation())
        XCTAssertEqual(try JSONDecoder().decode(AudioAugmentation.self, from: json), AudioAugmentation())
    }
}
