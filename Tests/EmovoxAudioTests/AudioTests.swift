import XCTest
import EmovoxCore
@testable import EmovoxAudio

final class AudioTests: XCTestCase {
    let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }
    func tmp(_ name: String) -> String { NSTemporaryDirectory() + "emovox-\(UUID().uuidString)-\(name)" }

    func testEveryWAVEncodingDecodesToTheReference() throws {
        let ref = try NPY.read(fixture("fmt_reference.npy")).data
        for (name, tol) in [("fmt_u8.wav", Float(1.0 / 128)), ("fmt_s24.wav", 1e-6), ("fmt_s32.wav", 1e-6), ("fmt_f32.wav", 0),
                            ("fmt_f64.wav", 1e-7), ("fmt_s16_stereo_ext.wav", 1.0 / 32768)] {
            let (samples, format) = try WAVReader.read(fixture(name))
            XCTAssertEqual(format.sampleRate, 16000, name)
            XCTAssertEqual(samples.count, ref.count, name)
            let worst = zip(samples, ref).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(worst, tol + 1e-7, "\(name): max error \(worst)")
        }
    }

    func testResamplingThroughFFmpegKeepsFrequencyAndLevel() throws {
        guard Subprocess.which("ffmpeg") != nil else { throw XCTSkip("ffmpeg is not installed (apt-get install ffmpeg)") }
        let x = try AudioLoader.load(fixture("tone440_44k.wav"))
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
        let good = try Data(contentsOf: URL(fileURLWithPath: fixture("fmt_f32.wav")))
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
        let speech = try AudioLoader.load(fixture("speech16k.wav"))
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
    }

    func testStreamingWindowsEqualSlicesOfTheWholeFile() throws {
        guard Subprocess.which("ffmpeg") != nil else { throw XCTSkip("ffmpeg is not installed") }
        let path = fixture("speech16k.wav")
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
