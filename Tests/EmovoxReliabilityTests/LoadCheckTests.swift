import XCTest
import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio
@testable import EmovoxModels

/// Weights are checked when loaded; audio that is cut short, odd or silent is reported.
final class LoadCheckTests: XCTestCase {
    func testStudentCheckpointIsCheckedNamingFileAndTensor() throws {
        let d = try tempDir()
        var rng = SeededRNG(seed: 1)
        let model = StudentModel(config: .vggmSmall(classes: 3), rng: &rng)
        let good = d + "/good.safetensors"
        try StudentCheckpoint.save(model, classes: ["a", "b", "c"], to: good)
        XCTAssertEqual(try StudentCheckpoint.load(good).classes, ["a", "b", "c"])
        let (tensors, meta) = try Safetensors.read(good)

        func variant(_ name: String, tensors edit: (inout [String: Tensor]) -> Void = { _ in }, meta editMeta: (inout [String: String]) -> Void = { _ in }) throws -> String {
            var t = tensors, m = meta
            edit(&t); editMeta(&m)
            // Written raw: Safetensors.write refuses non-finite tensors, a damaged file does not ask.
            let path = d + "/\(name).safetensors"
            try rawSafetensors(t, metadata: m).write(to: URL(fileURLWithPath: path))
            return path
        }
        let cases: [(String, [String])] = [
            (try variant("nan", tensors: { $0["conv3.weight"]!.data[5] = .nan }), ["conv3.weight", "non-finite"]),
            (try variant("inf", tensors: { $0["fc8.bias"]!.data[0] = .infinity }), ["fc8.bias", "non-finite"]),
            (try variant("negvar", tensors: { $0["bn2.running_var"]!.data[1] = -0.5 }), ["bn2.running_var", "negative variance"]),
            (try variant("missing", tensors: { $0["bn4.running_mean"] = nil }), ["missing tensors", "bn4.running_mean"]),
            (try variant("extra", tensors: { $0["fc9.weight"] = Tensor(shape: [2], data: [1, 2]) }), ["unexpected tensors", "fc9.weight"]),
            (try variant("shape", tensors: { $0["conv2.weight"] = Tensor(zeros: [64, 32, 3, 3]) }), ["conv2.weight", "shape [64, 32, 3, 3]", "[64, 32, 5, 5]"]),
            (try variant("unknown", meta: { $0["config"] = $0["config"]!.replacingOccurrences(of: "vggm-small", with: "resnet50") }), ["unknown model 'resnet50'"]),
            (try variant("sizes", meta: { $0["config"] = $0["config"]!.replacingOccurrences(of: "\"fc6\":256", with: "\"fc6\":2000000000") }), ["sizes"]),
            (try variant("classes", meta: { $0["classes"] = "[\"a\",\"b\"]" }), ["2 classes", "3 outputs"]),
            (try variant("noconfig", meta: { $0["config"] = nil }), ["not an emovox student checkpoint"]),
        ]
        for (path, words) in cases {
            XCTAssertThrowsError(try StudentCheckpoint.load(path), path) { e in
                XCTAssertTrue(e is EmovoxError && "\(e)".hasPrefix(path + ": "), "\(e)")
                for w in words { XCTAssertTrue("\(e)".contains(w), "'\(w)' not in: \(e)") }
            }
        }
    }

    func testTeacherGraphIsCheckedNamingLayerAndWeight() throws {
        func build(_ weights: [String: [String: Tensor]]) throws {
            let file = KerasModelFile(path: "t.hdf5", modelConfig: ["class_name": "Model", "config": ["layers": FuzzTests.kerasLayers]],
                                      kerasVersion: nil, weights: weights)
            _ = try KerasGraphNetwork(layers: try file.layers(), source: "t.hdf5")
        }
        XCTAssertNoThrow(try build(FuzzTests.kerasWeights))
        var w = FuzzTests.kerasWeights
        w["c1"]!["kernel"]!.data[3] = .nan
        XCTAssertThrowsError(try build(w)) { XCTAssertTrue("\($0)".contains("t.hdf5: layer 'c1' (Conv2D): weight 'kernel' holds NaN"), "\($0)") }
        w = FuzzTests.kerasWeights
        w["c1"]!["kernel"] = Tensor(zeros: [3, 3, 2, 4])  // two input channels, the image has one
        XCTAssertThrowsError(try build(w)) { XCTAssertTrue("\($0)".contains("layer 'c1' (Conv2D): expects 2 input channels, its input has 1"), "\($0)") }
        w = FuzzTests.kerasWeights
        w["bn1"]!["moving_variance"] = Tensor(shape: [3], data: [1, 1, 1])
        XCTAssertThrowsError(try build(w)) { XCTAssertTrue("\($0)".contains("layer 'bn1' (BatchNormalization): weight 'moving_variance' has 3 values, the layer needs 4"), "\($0)") }
        w = FuzzTests.kerasWeights
        w["c1"]!["kernel"] = Tensor(zeros: [9, 9, 1, 4])  // a 9×9 valid window on an 8×8 image
        XCTAssertThrowsError(try build(w)) { XCTAssertTrue("\($0)".contains("9×9 window does not fit the 8×8 input"), "\($0)") }
    }

    /// Writes WAV bytes and loads them through the public loader, collecting its warnings.
    func load(_ bytes: [UInt8], _ name: String, in d: String) throws -> (samples: [Float], warnings: [String]) {
        let path = d + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        var warnings: [String] = []
        let s = try AudioLoader.load(path) { file, message in XCTAssertEqual(file, path); warnings.append(message) }
        return (s, warnings)
    }

    func testAudioHonesty() throws {
        let d = try tempDir()
        let whole = [UInt8](WAVReader.encode16(FuzzTests.noise(16000), sampleRate: 16000))  // 1 s, 32 000 data bytes from 44
        let ok = try load(whole, "whole.wav", in: d)
        XCTAssertEqual(ok.samples.count, 16000); XCTAssertEqual(ok.warnings, [])

        let cut = try load(Array(whole.prefix(44 + 16000)), "cut.wav", in: d)  // the header still says 32 000
        XCTAssertEqual(cut.samples.count, 8000)
        XCTAssertEqual(cut.warnings, ["the data chunk is shorter than its header says (16000 of 32000 bytes): the file is cut short, 0.50 s of 1.00 s are read"])

        var odd = FuzzTests.wav(rate: 16000, channels: 2, bits: 16, frames: 4000)  // 16 000 data bytes at the end
        let sizeAt = odd.count - 16000 - 4
        odd += [1, 2]  // half a frame more, and the header says so
        for k in 0..<4 { odd[sizeAt + k] = UInt8(truncatingIfNeeded: 16002 >> (8 * k)) }
        let partial = try load(odd, "odd.wav", in: d)
        XCTAssertEqual(partial.samples.count, 4000)
        XCTAssertEqual(partial.warnings, ["the data size (16002 bytes) is not a whole number of 4-byte frames (2 × 16 bit): the last partial frame is dropped"])

        let silent = try load([UInt8](WAVReader.encode16([Float](repeating: 0, count: 8000), sampleRate: 16000)), "silent.wav", in: d)
        XCTAssertEqual(silent.warnings, ["silent: every sample is zero (0.50 s)"])
        let quiet = try load([UInt8](WAVReader.encode16([Float](repeating: 0.5 / 32768, count: 8000).enumerated().map { $0.offset % 2 == 0 ? $0.element * 2 : 0 }, sampleRate: 16000)), "quiet.wav", in: d)
        XCTAssertEqual(quiet.warnings, ["near-silent: peak level -90 dBFS over 0.50 s"])

        func fails(_ bytes: [UInt8], _ name: String, _ words: String) {
            XCTAssertThrowsError(try load(bytes, name, in: d)) { e in
                XCTAssertTrue("\(e)".hasPrefix(d + "/" + name + ": ") && "\(e)".contains(words), "\(e)")
            }
        }
        var zeroChannels = whole; zeroChannels[22] = 0; zeroChannels[23] = 0
        fails(zeroChannels, "channels.wav", "the header declares 0 channels")
        var zeroRate = whole; for k in 24..<28 { zeroRate[k] = 0 }
        fails(zeroRate, "rate.wav", "the header declares a sample rate of 0 Hz")
        fails([UInt8](WAVReader.encode16(FuzzTests.noise(100), sampleRate: 16000)), "tiny.wav", "near-empty audio: 100 samples (6.2 ms)")
        fails(Array(whole.prefix(45)), "onebyte.wav", "truncated data chunk (1 of 32000 bytes)")
        fails([], "empty.wav", "empty file")
        fails(Array("ID3 this is an mp3 really".utf8), "text.wav", "not a WAV file")
        // The header-only check `corpus scan` uses sees the same, without reading the samples.
        FileManager.default.createFile(atPath: d + "/cut2.wav", contents: Data(whole.prefix(44 + 16000)))
        XCTAssertEqual(try WAVReader.inspect(d + "/cut2.wav"), cut.warnings)
    }
}
