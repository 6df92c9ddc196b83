import XCTest
import EmovoxCore
import EmovoxUtilities
@testable import EmovoxAudio

final class AudioTests: XCTestCase {
    let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }
    func tmp(_ name: String) -> String { NSTemporaryDirectory() + "emovox-\(UUID().uuidString)-\(name)" }

    /// Encodes the reference tone (or any float samples) with sox, an independent encoder; skips without sox.
    func soxWAV(_ samples: [Float], rate: Int = 16000, channels: [Float] = [0], args: [String], name: String) throws -> String {
        guard Subprocess.which("sox") != nil else { throw XCTSkip("sox is not installed (apt-get install sox)") }
        var inputs: [String] = []
        for (k, offset) in channels.enumerated() {
            let raw = tmp("ch\(k).f32")
            try samples.map { $0 + offset }.withUnsafeBufferPointer { Data(buffer: $0) }.write(to: URL(fileURLWithPath: raw))
            inputs += ["-t", "f32", "-r", String(rate), "-c", "1", raw]
        }
        let out = tmp(name)
        _ = try Subprocess.run("sox", ["-D"] + (channels.count > 1 ? ["-M"] : []) + inputs + args + [out])  // -D: no dither
        addTeardownBlock { ([out] + inputs.filter { $0.hasSuffix(".f32") }).forEach { try? FileManager.default.removeItem(atPath: $0) } }
        return out
    }

    func speech() throws -> [Float] { try NPY.read(fixture("speech16k.npy")).data }

    func testEveryWAVEncodingDecodesToTheReference() throws {
        let ref = try NPY.read(fixture("fmt_reference.npy")).data
        let cases: [(String, [String], Float, [Float])] = [
            ("u8", ["-e", "unsigned-integer", "-b", "8"], 1.0 / 128, [0]), ("s16", ["-e", "signed-integer", "-b", "16"], 1.0 / 32768, [0]),
            ("s24", ["-e", "signed-integer", "-b", "24"], 1e-6, [0]), ("s32", ["-e", "signed-integer", "-b", "32"], 1e-6, [0]),
            ("f32", ["-e", "floating-point", "-b", "32"], 0, [0]), ("f64", ["-e", "floating-point", "-b", "64"], 1e-7, [0]),
            // Stereo 24-bit is written as WAVE_FORMAT_EXTENSIBLE; the mean of the two channels is the tone.
            ("stereo", ["-e", "signed-integer", "-b", "24"], 1e-6, [0.1, -0.1])]
        for (name, args, tol, channels) in cases {
            let path = try soxWAV(ref, channels: channels, args: args, name: "\(name).wav")
            let (samples, format) = try WAVReader.read(path)
            XCTAssertEqual(format.sampleRate, 16000, name)
            XCTAssertEqual(format.channels, channels.count, name)
            XCTAssertEqual(samples.count, ref.count, name)
            let worst = zip(samples, ref).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(worst, tol + 1e-7, "\(name): max error \(worst)")
        }
    }

    /// Chunks the reader must step over: an odd-sized JUNK chunk (with its pad byte) before fmt.
    func testUnknownOddSizedChunksAreSkipped() throws {
        let tone = try NPY.read(fixture("fmt_reference.npy")).data
        var d = WAVReader.encode16(tone, sampleRate: 16000)
        d.insert(contentsOf: Array("JUNK".utf8) + [3, 0, 0, 0] + Array("abc".utf8) + [0], at: 12)
        let (samples, _) = try WAVReader.decode(d, name: "junk.wav")
        XCTAssertEqual(samples.count, tone.count)
        XCTAssertEqual(samples[100], tone[100], accuracy: 1.0 / 32768)
    }

    func testResamplingThroughFFmpegKeepsFrequencyAndLevel() throws {
        guard Subprocess.which("ffmpeg") != nil else { throw XCTSkip("ffmpeg is not installed (apt-get install ffmpeg)") }
        let t44 = (0..<11025).map { Float(0.5 * sin(2 * Double.pi * 440 * Double($0) / 44100)) }
        let x = try AudioLoader.load(try soxWAV(t44, rate: 44100, args: ["-e", "signed-integer", "-b", "16"], name: "tone44k.wav"))
        XCTAssertEqual(x.count, 4000, accuracy: 2)
        // Zero crossings of a 440 Hz tone over 0.25 s: ≈ 220; RMS of 0.5·sin ≈ 0.354.
        let crossings = zip(x.dropFirst(200), x.dropFirst(201)).filter { $0 < 0 && $1 >= 0 }.count
        XCTAssertEqual(Double(crossings) / (Double(x.count - 201) / 16000), 440, accuracy: 8)
        let mid = x[400..<3600]
        let rms = (mid.reduce(0) { $0 + Double($1 * $1) } / Double(mid.count)).squareRoot()
        XCTAssertEqual(rms, 0.3536, accuracy: 0.01)
    }

    func testBadAudioGivesClearErrorsNamingTheFile() throws {
        let empty = tmp("empty.wav"), text = tmp("text.wav"), trunc = tmp("trunc.wav")
        defer { [empty, text, trunc].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        FileManager.default.createFile(atPath: empty, contents: Data())
        FileManager.default.createFile(atPath: text, contents: Data("hello, I am not audio".utf8))
        let good = WAVReader.encode16(try NPY.read(fixture("fmt_reference.npy")).data, sampleRate: 16000)
        FileManager.default.createFile(atPath: trunc, contents: good.prefix(40))
        for (path, words) in [(empty, "empty"), (text, "not a WAV"), (trunc, "data"), ("/nonexistent/x.wav", "no such file")] {
            XCTAssertThrowsError(try AudioLoader.load(path)) { e in
                XCTAssertTrue("\(e)".contains(path), "\(e)")
                XCTAssertTrue("\(e)".contains(words), "\(e)")
            }
        }
    }

    func testFFTMatchesDirectDFT() {
        let n = 64
        var rng = SeededRNG(seed: 1)
        let xr = (0..<n).map { _ in rng.normal() }, xi = (0..<n).map { _ in rng.normal() }
        var re = xr, im = xi
        FFT(size: n).forward(&re, &im)
        for k in 0..<n {
            var sr = 0.0, si = 0.0
            for t in 0..<n {
                let a = -2 * Double.pi * Double(k * t) / Double(n)
                sr += Double(xr[t]) * cos(a) - Double(xi[t]) * sin(a)
                si += Double(xr[t]) * sin(a) + Double(xi[t]) * cos(a)
            }
            XCTAssertEqual(Double(re[k]), sr, accuracy: 1e-3)
            XCTAssertEqual(Double(im[k]), si, accuracy: 1e-3)
        }
    }

    /// The VGGVox spectrogram equals the independent NumPy oracle (itself checked against librosa's STFT).
    func testSpectrogramMatchesNumPyOracleOnSpeech() throws {
        let speech = try self.speech()
        for bins in [257, 512] {
            let expected = try NPY.read(fixture("speech16k_spec\(bins).npy"))
            let spec = Spectrogram(config: SpectrogramConfig(bins: bins)).compute(speech)
            XCTAssertEqual(spec.shape[0], bins)
            XCTAssertEqual(spec.shape[1], (speech.count - 400) / 160 + 1)
            let cols = expected.shape[1]
            var worst: Float = 0
            for k in 0..<bins { for t in 0..<cols {
                let a = spec.data[k * spec.shape[1] + t], b = expected.data[k * cols + t]
                worst = max(worst, abs(a - b) / max(1, abs(b)))
            } }
            XCTAssertLessThanOrEqual(worst, 1e-4, "bins \(bins): max relative error \(worst)")
        }
    }

    func testCropGeometryBatchAndDither() {
        var rng = SeededRNG(seed: 2)
        let audio = (0..<80_000).map { _ in rng.normal() * 0.1 }
        let s = Spectrogram(config: SpectrogramConfig(bins: 512))
        XCTAssertEqual(s.config.frames(samples: SpectrogramConfig.cropSamples), 400)
        let (crop, start) = Spectrogram.randomCrop(audio, samples: SpectrogramConfig.cropSamples, rng: &rng)
        XCTAssertEqual(Array(audio[start..<(start + crop.count)]), crop)
        XCTAssertEqual(Spectrogram.randomCrop(Array(audio.prefix(1000)), samples: 2000, rng: &rng).crop.count, 2000)
        var none: SeededRNG? = nil
        let batch = s.batch([crop, crop], dither: &none)
        XCTAssertEqual(batch.shape, [2, 1, 512, 400])
        XCTAssertEqual(Array(batch.data[0..<204_800]), s.compute(crop).data)
        var d1: SeededRNG? = SeededRNG(seed: 5), d2: SeededRNG? = SeededRNG(seed: 5)
        XCTAssertEqual(s.batch([crop], dither: &d1), s.batch([crop], dither: &d2))  // seeded dither is reproducible
        XCTAssertNotEqual(s.batch([crop], dither: &d1).data, batch.data.prefix(204_800).map { $0 })
        // One RNG per crop: a crop's spectrogram is the same alone or in any batch (micro-batches, MPI ranks).
        let other = Array(audio.suffix(crop.count))
        let pair = s.batch([crop, other], dithers: [SeededRNG(seed: 8), SeededRNG(seed: 9)])
        XCTAssertEqual(Array(pair.data[204_800...]), s.batch([other], dithers: [SeededRNG(seed: 9)]).data)
        var alone: SeededRNG? = SeededRNG(seed: 8)
        XCTAssertEqual(Array(pair.data[0..<204_800]), s.compute(crop, dither: &alone).data)
        XCTAssertNotEqual(Array(pair.data[0..<204_800]), Array(batch.data[0..<204_800]))  // dither is on
    }

    func testStreamingWindowsEqualSlicesOfTheWholeFile() throws {
        guard Subprocess.which("ffmpeg") != nil else { throw XCTSkip("ffmpeg is not installed") }
        let path = tmp("speech.wav")
        try WAVReader.encode16(try speech(), sampleRate: 16000).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let whole = try AudioLoader.load(path)
        var starts: [Int] = []
        try AudioStream(path: path).windows(window: 8000, hop: 4000) { start, samples, valid in
            starts.append(start)
            XCTAssertEqual(samples.count, 8000)
            XCTAssertEqual(Array(samples.prefix(valid)), Array(whole[start..<(start + valid)]))
        }
        XCTAssertEqual(starts, [0, 4000, 8000, 12000])  // 19,200 samples: the last window is 7,200 long
        // Raw s16le PCM through a pipe, as `emovox predict -` reads standard input.
        let pipe = Pipe()
        let pcm = whole.prefix(5000).map { Int16(max(-32768, min(32767, ($0 * 32768).rounded()))) }
        pipe.fileHandleForWriting.write(pcm.withUnsafeBufferPointer { Data(buffer: $0) })
        try pipe.fileHandleForWriting.close()
        var got: [Float] = []
        try AudioStream(rawPCM16: pipe.fileHandleForReading).windows(window: 2000, hop: 2000) { _, s, v in got += s.prefix(v) }
        XCTAssertEqual(got.count, 5000)
        XCTAssertEqual(got[1234], whole[1234], accuracy: 1.0 / 32768)
    }

    func testRealSpeechFromRAVDESS() throws {
        guard let dir = SharedData.path("data/ravdess16k", from: #filePath) else {
            throw XCTSkip("needs ../shared/data/ravdess16k (RAVDESS speech); absent on this checkout")
        }
        let x = try AudioLoader.load(dir + "/03-01-05-01-02-01-20.wav")
        XCTAssertGreaterThan(x.count, 40_000)
        let (crop, _) = Spectrogram.centreCrop(x, maxSamples: SpectrogramConfig.cropSamples, minSamples: SpectrogramConfig.cropSamples)
        let spec = Spectrogram().compute(crop)
        XCTAssertEqual(spec.shape, [512, 400])
        for k in stride(from: 1, to: 256, by: 37) {
            let row = spec.data[(k * 400)..<((k + 1) * 400)]
            let mean = row.reduce(0, +) / 400
            let sd = (row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 399).squareRoot()
            XCTAssertEqual(mean, 0, accuracy: 1e-4); XCTAssertEqual(sd, 1, accuracy: 0.05)  // ε = 1e-5 in the divisor
        }
    }
}

extension AudioTests {
    /// The NumPy oracle run live on a real RAVDESS recording (needs ../shared and python3 with numpy).
    func testSpectrogramMatchesNumPyOracleOnRealSpeech() throws {
        guard let dir = SharedData.path("data/ravdess16k", from: #filePath) else { throw XCTSkip("needs ../shared/data/ravdess16k (RAVDESS speech)") }
        guard (try? Subprocess.run("python3", ["-c", "import numpy"])) != nil else { throw XCTSkip("needs python3 with numpy for the live oracle") }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let wav = dir + "/03-01-05-01-02-01-20.wav", out = NSTemporaryDirectory() + "emovox-oracle-\(UUID().uuidString).npy"
        defer { try? FileManager.default.removeItem(atPath: out) }
        _ = try Subprocess.run("python3", [root + "/tools/gen_audio_fixtures.py", "--oracle", wav, out])
        let expected = try NPY.read(out), spec = Spectrogram().compute(try AudioLoader.load(wav))
        XCTAssertEqual(spec.shape, expected.shape)
        var worst: Float = 0
        for i in 0..<spec.count { worst = max(worst, abs(spec.data[i] - expected.data[i]) / max(1, abs(expected.data[i]))) }
        XCTAssertLessThanOrEqual(worst, 1e-4, "max relative error \(worst) on real speech")
    }
}
