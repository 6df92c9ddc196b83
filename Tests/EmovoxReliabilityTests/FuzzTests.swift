import XCTest
import Foundation
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio
import EmovoxVision
@testable import EmovoxModels
import EmovoxData
import EmovoxLabelling
import EmovoxAudioStore

/// One seeded fuzz test per parser: none crashes or hangs, every failure is an EmovoxError naming the file.
final class FuzzTests: XCTestCase {
    static func noise(_ n: Int, seed: UInt64 = 1) -> [Float] { var r = SeededRNG(seed: seed); return (0..<n).map { _ in r.normal() * 0.2 } }

    /// A WAV with a LIST chunk before the data (chunk walking) in any PCM/float layout.
    static func wav(rate: Int, channels: Int, bits: Int, float: Bool = false, frames: Int) -> [UInt8] {
        var d: [UInt8] = []
        func u32(_ v: Int) { d += withUnsafeBytes(of: UInt32(v).littleEndian, Array.init) }
        func u16(_ v: Int) { d += withUnsafeBytes(of: UInt16(v).littleEndian, Array.init) }
        let bytes = frames * channels * bits / 8
        d += Array("RIFF".utf8); u32(4 + 24 + 14 + 8 + bytes); d += Array("WAVE".utf8)
        d += Array("fmt ".utf8); u32(16); u16(float ? 3 : 1); u16(channels); u32(rate); u32(rate * channels * bits / 8); u16(channels * bits / 8); u16(bits)
        d += Array("LIST".utf8); u32(5); d += Array("INFOx".utf8); d.append(0)  // odd size: padded
        d += Array("data".utf8); u32(bytes)
        var r = SeededRNG(seed: 2)
        for _ in 0..<bytes { d.append(UInt8(truncatingIfNeeded: r.next())) }
        if float { for i in stride(from: d.count - bytes, to: d.count, by: bits / 8) { d[i + bits / 8 - 1] = 0x3e } }  // finite floats
        return d
    }

    func testWAV() {
        let seeds = [[UInt8](WAVReader.encode16(Self.noise(4000), sampleRate: 16000)), Self.wav(rate: 16000, channels: 2, bits: 24, frames: 1000),
                     Self.wav(rate: 44100, channels: 1, bits: 32, float: true, frames: 1500), Self.wav(rate: 16000, channels: 3, bits: 8, frames: 800)]
        fuzz("wav", ext: "wav", seeds: seeds, count: 1500) { path in
            let (samples, format, _) = try WAVReader.readChecked(path)
            _ = try AudioLoader.check(samples, sampleRate: format.sampleRate, name: path) { _, _ in }
            _ = try WAVReader.inspect(path)
        }
    }

    func testNPY() {
        var f8: [UInt8] = [0x93] + Array("NUMPY".utf8) + [2, 0]
        var header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }"
        header += String(repeating: " ", count: (64 - (12 + header.utf8.count + 1) % 64) % 64) + "\n"
        f8 += withUnsafeBytes(of: UInt32(header.utf8.count).littleEndian, Array.init) + Array(header.utf8)
        f8 += [Double](repeating: 0.5, count: 6).withUnsafeBytes(Array.init)
        let seeds = [[UInt8](NPY.encode(Tensor(shape: [3, 4], data: Self.noise(12)))), [UInt8](NPY.encode(Tensor(shape: [5], data: Self.noise(5)))), f8]
        fuzz("npy", ext: "npy", seeds: seeds, count: 1500) { _ = try NPY.read($0) }
    }

    func testSafetensors() throws {
        let t: [String: Tensor] = ["conv.weight": Tensor(shape: [2, 1, 3, 3], data: Self.noise(18)), "bn.num_batches_tracked": Tensor(shape: [], data: [7]),
                                   "fc.bias": Tensor(shape: [4], data: Self.noise(4))]
        let seeds = [[UInt8](try Safetensors.encode(t, metadata: ["config": "{\"a\":1}", "classes": "[\"x\"]"])), [UInt8](try Safetensors.encode(t))]
        fuzz("safetensors", ext: "safetensors", seeds: seeds, count: 1500) { _ = try Safetensors.read($0) }
    }

    /// The whole checkpoint load (config, classes, shapes, finiteness) on a damaged real student checkpoint.
    func testStudentCheckpoint() throws {
        var rng = SeededRNG(seed: 3)
        let model = StudentModel(config: .vggmSmall(classes: 3), rng: &rng)
        let path = FuzzSettings.dir + "/seed-student.safetensors"
        try StudentCheckpoint.save(model, classes: ["a", "b", "c"], to: path)
        fuzz("checkpoint", ext: "safetensors", seeds: [[UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))], count: 60) {
            _ = try StudentCheckpoint.load($0)
        }
    }

    func testLabelsJSONL() throws {
        let lines = try (0..<3).map { i in
            try CanonicalJSON.string(ClipTeacherLabels(clip: "c\(i)", source: "v\(i).mp4", teacher: "fer", classes: ["a", "b", "c"],
                                                       times: [0, 0.24], logits: [[1, 2, 3], [0.5, -1, 2]], framesSampled: 2, framesWithoutFace: 0))
        }
        fuzz("labels", ext: "jsonl", seeds: [Array((lines.joined(separator: "\n") + "\n").utf8)], count: 1000) { _ = try LabelStore.read($0) }
    }

    func testManifests() throws {
        let m = Manifest(clips: (0..<3).map { Clip(id: "c\($0)", speaker: "s\($0 % 2)", audio: "/a/c\($0).wav", video: "/a/c\($0).mp4", label: "happy", split: "train") })
        for ext in ["jsonl", "csv"] {
            let p = FuzzSettings.dir + "/seed-manifest." + ext
            try m.write(p)
            fuzz("manifest-" + ext, ext: ext, seeds: [[UInt8](try Data(contentsOf: URL(fileURLWithPath: p)))], count: 1000) { _ = try Manifest.read($0) }
        }
    }

    func testScoreCSV() {
        let seed = "id,label,happy,sad\na,happy,0.9,0.1\nb,sad,0.2,0.8\n\"c,1\",happy,0.6,0.4\n"
        fuzz("scores", ext: "csv", seeds: [Array(seed.utf8)], count: 1000) { _ = try ScoreTable.read($0) }
    }

    /// A small functional Keras graph in the saved `model_config` form, with weights that fit it.
    static let kerasLayers: [[String: Any]] = {
        func layer(_ cls: String, _ name: String, _ inputs: [String], _ cfg: [String: Any] = [:]) -> [String: Any] {
            var c = cfg; c["name"] = name
            return ["class_name": cls, "name": name, "config": c, "inbound_nodes": inputs.isEmpty ? [] : [inputs.map { [$0, 0, 0, [String: Any]()] }]]
        }
        return [layer("InputLayer", "in", [], ["batch_input_shape": [NSNull(), 8, 8, 1]]),
                layer("Conv2D", "c1", ["in"], ["strides": [1, 1], "padding": "valid", "use_bias": true, "activation": "linear"]),
                layer("BatchNormalization", "bn1", ["c1"], ["epsilon": 0.001]),
                layer("Activation", "r1", ["bn1"], ["activation": "relu"]),
                layer("SeparableConv2D", "s1", ["r1"], ["strides": [1, 1], "padding": "same", "use_bias": false, "activation": "linear"]),
                layer("Add", "add", ["r1", "s1"]),
                layer("MaxPooling2D", "p1", ["add"], ["pool_size": [2, 2], "strides": [2, 2], "padding": "valid"]),
                layer("GlobalAveragePooling2D", "g", ["p1"]),
                layer("Activation", "out", ["g"], ["activation": "softmax"])]
    }()

    static let kerasWeights: [String: [String: Tensor]] = [
        "c1": ["kernel": Tensor(shape: [3, 3, 1, 4], data: noise(36)), "bias": Tensor(shape: [4], data: noise(4))],
        "bn1": ["gamma": Tensor(shape: [4], data: [1, 1.1, 0.9, 1]), "beta": Tensor(shape: [4], data: noise(4)),
                "moving_mean": Tensor(shape: [4], data: noise(4)), "moving_variance": Tensor(shape: [4], data: [1, 0.5, 2, 1])],
        "s1": ["depthwise_kernel": Tensor(shape: [3, 3, 4, 1], data: noise(36)), "pointwise_kernel": Tensor(shape: [1, 1, 4, 4], data: noise(16))],
    ]

    func testKerasModelConfig() throws {
        let json = try JSONSerialization.data(withJSONObject: ["class_name": "Model", "config": ["layers": Self.kerasLayers]], options: [.sortedKeys])
        fuzz("keras-config", ext: "json", seeds: [[UInt8](json)], count: 600) { path in
            let config = try KerasModelFile.parseConfig(try Data(contentsOf: URL(fileURLWithPath: path)), path: path)
            let file = KerasModelFile(path: path, modelConfig: config, kerasVersion: nil, weights: Self.kerasWeights)
            _ = try FaceTeacher(network: try KerasGraphNetwork(layers: try file.layers(), source: path), labels: ["a", "b", "c", "d"], name: "t")
        }
    }

    func testTeacherManifest() throws {
        var blob: [Float] = [], tensors: [[String: Any]] = []
        for (layer, ws) in Self.kerasWeights.sorted(by: { $0.key < $1.key }) {
            for (name, t) in ws.sorted(by: { $0.key < $1.key }) {
                tensors.append(["layer": layer, "name": name, "shape": t.shape, "offset_floats": blob.count]); blob += t.data
            }
        }
        let graph: [[String: Any]] = Self.kerasLayers.map { l in
            ["name": l["name"]!, "class": l["class_name"]!, "config": l["config"]!,
             "inputs": ((l["inbound_nodes"] as! [[Any]]).first ?? []).map { ($0 as! [Any])[0] }]
        }
        let json = try JSONSerialization.data(withJSONObject: ["graph": graph, "tensors": tensors, "labels": ["a", "b", "c", "d"]], options: [.sortedKeys])
        let blobPath = FuzzSettings.dir + "/teacher.bin"
        try Data(blob.withUnsafeBytes(Array.init)).write(to: URL(fileURLWithPath: blobPath))
        fuzz("teacher-manifest", ext: "json", seeds: [[UInt8](json)], count: 600, names: { [$0, blobPath] }) {
            _ = try FaceTeacher.loadManifest(json: $0, blob: blobPath)
        }
    }

    func testHaarXML() {
        let xml = """
        <?xml version="1.0"?>
        <opencv_storage><cascade><stageType>BOOST</stageType><featureType>HAAR</featureType><height>24</height><width>24</width>
        <stageNum>2</stageNum><stages>
        <_><maxWeakCount>2</maxWeakCount><stageThreshold>-1.2</stageThreshold><weakClassifiers>
          <_><internalNodes>0 -1 0 -3.1e-02</internalNodes><leafValues>2.0e-01 -8.0e-01</leafValues></_>
          <_><internalNodes>0 -1 1 1.2e-02</internalNodes><leafValues>-6.0e-01 5.0e-01</leafValues></_></weakClassifiers></_>
        <_><maxWeakCount>1</maxWeakCount><stageThreshold>-0.5</stageThreshold><weakClassifiers>
          <_><internalNodes>0 -1 2 4.0e-03</internalNodes><leafValues>-4.0e-01 7.0e-01</leafValues></_></weakClassifiers></_></stages>
        <features>
          <_><rects><_>6 4 12 9 -1.</_><_>6 7 12 3 3.</_></rects></_>
          <_><rects><_>0 0 24 12 -1.</_><_>0 6 24 6 2.</_></rects></_>
          <_><rects><_>3 3 6 6 -1.</_><_>5 5 2 2 4.</_></rects><tilted>0</tilted></_></features></cascade></opencv_storage>
        """
        fuzz("haar-xml", ext: "xml", seeds: [Array(xml.utf8)], count: 600) { path in
            let cascade = try HaarCascade(contentsOf: path)
            _ = cascade.detect(GrayImage(width: 40, height: 32, pixels: (0..<1280).map { UInt8(truncatingIfNeeded: $0 * 7) }))
        }
    }

    func testPGM() {
        let p5 = Array("P5\n# a comment\n8 6\n255\n".utf8) + (0..<48).map { UInt8($0 * 5) }
        let p2 = Array("P2\n4 3\n15\n0 1 2 3\n4 5 6 7\n8 9 10 15\n".utf8)
        let p16 = Array("P5 3 2 65535\n".utf8) + [UInt8](repeating: 0x80, count: 12)
        fuzz("pgm", ext: "pgm", seeds: [p5, p2, p16], count: 1500) { _ = try ImageIO.read($0) }
    }

    /// PNG and JPEG are decoded in-process by libpng and libjpeg-turbo through the C shim (CImageCodecs); ffmpeg
    /// only makes the seeds.
    func testPNGAndJPEG() throws {
        let pgm = FuzzSettings.dir + "/seed.pgm"
        FileManager.default.createFile(atPath: pgm, contents: Data(Array("P5\n16 12\n255\n".utf8) + (0..<192).map { UInt8($0) }))
        for ext in ["png", "jpg"] {
            let image = FuzzSettings.dir + "/seed." + ext
            guard (try? Subprocess.run("ffmpeg", ["-v", "error", "-y", "-i", pgm, image], forFile: pgm)) != nil,
                  let seed = FileManager.default.contents(atPath: image) else { throw XCTSkip("ffmpeg is not installed: it makes the PNG and JPEG seeds") }
            fuzz(ext, ext: ext, seeds: [[UInt8](seed)], count: 400, hangSeconds: 10) { _ = try ImageIO.read($0) }
        }
    }

    /// A packed store's index.tsv over a real data file: offsets, sample counts and rates are trusted to map
    /// memory, so every clip of an accepted index is read whole.
    func testAudioStoreIndex() throws {
        let store = FuzzSettings.dir + "/store"
        try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: true)
        let data = (0..<3000).flatMap { i in withUnsafeBytes(of: Int16(truncatingIfNeeded: i * 37).littleEndian, Array.init) }
        try Data(data).write(to: URL(fileURLWithPath: store + "/" + AudioStoreFormat.dataName("all", 0)))
        let records = [("a", 0, 1000), ("b", 2000, 1500), ("c", 5000, 500)].map { "\($0.0)\t\(AudioStoreFormat.dataName("all", 0))\t\($0.1)\t\($0.2)\t16000\n" }
        let seed = Array((AudioStoreFormat.header + records.joined()).utf8)
        let index = store + "/" + AudioStoreFormat.indexName
        fuzz("store-index", ext: "tsv", seeds: [seed], count: 1000, names: { _ in [index, store] }) { path in
            try? FileManager.default.removeItem(atPath: index)
            try FileManager.default.copyItem(atPath: path, toPath: index)
            let s = try AudioStore(store)
            for e in 0..<s.count { _ = s.read(e, from: 0, count: s.samples(e)); _ = s.int16(e) }
        }
    }

    func testFaceTrack() {
        let seed = "Identity  : id10001\nFRAME\tX\tY\tW\tH\n000245\t0.0\t10\t40\t40\n000246\t1.5\t11\t41\t40\n000247\t2\t12\t40\t41\n"
        fuzz("face-track", ext: "txt", seeds: [Array(seed.utf8)], count: 800) { _ = try FaceTracker.readVoxCelebTrack($0) }
    }
}
