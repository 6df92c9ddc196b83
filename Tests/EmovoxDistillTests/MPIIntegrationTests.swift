import XCTest
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio
import EmovoxLabelling
@testable import EmovoxDistill

/// Integration tier: the built CLI under `mpirun -np 2` against one process.
final class MPIIntegrationTests: XCTestCase {
    /// The built CLI: beside the test bundle (SwiftPM puts both in the same build folder), else .build/release.
    func emovoxBinary() -> String? {
        let beside = Bundle(for: Self.self).bundleURL.deletingLastPathComponent().appendingPathComponent("emovox").path
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return [beside, root.appendingPathComponent(".build/release/emovox").path].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    func executable(named name: String) -> String? {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    func run(_ tool: String, _ args: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        // Containers often forbid the cross-process memory copy Open MPI's shared-memory transport uses for large
        // messages; plain copies work everywhere.
        p.environment = ProcessInfo.processInfo.environment.merging(["OMPI_MCA_btl_vader_single_copy_mechanism": "none"]) { $1 }
        let pipe = Pipe()
        p.standardOutput = pipe; p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// A tiny corpus: 48 training clips of 4.5 s (tones in noise, longer than a crop so crops move) and 8 held-out
    /// clips, each with two teacher frames.
    func makeCorpus(in dir: String) throws -> (manifest: String, labels: String) {
        var rng = SeededRNG(seed: 7)
        var manifest = "", labels = ""
        let classes = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
        for i in 0..<56 {
            let f = 120 + Float(i % 6) * 40
            let audio = (0..<72_000).map { n in 0.3 * sin(2 * .pi * f * Float(n) / 16_000) + 0.05 * rng.normal() }
            let path = "\(dir)/c\(i).wav"
            try WAVReader.encode16(audio, sampleRate: 16_000).write(to: URL(fileURLWithPath: path))
            let clip: [String: Any] = ["id": "c\(i)", "speaker": "s\(i % 8)", "audio": path, "split": i < 48 ? "train" : "heard"]
            let logits = [(0..<7).map { Float(($0 + i) % 7) * 0.5 }, (0..<7).map { Float(($0 * 3 + i) % 7) * 0.4 }]
            let label: [String: Any] = ["clip": "c\(i)", "source": "synthetic", "teacher": "t", "classes": classes, "times": [0.5, 3.0],
                                        "logits": logits, "maxLogits": zip(logits[0], logits[1]).map { max($0, $1) },
                                        "framesSampled": 2, "framesWithoutFace": 0]
            manifest += String(decoding: try JSONSerialization.data(withJSONObject: clip), as: UTF8.self) + "\n"
            labels += String(decoding: try JSONSerialization.data(withJSONObject: label), as: UTF8.self) + "\n"
        }
        try manifest.write(toFile: dir + "/m.jsonl", atomically: true, encoding: .utf8)
        try labels.write(toFile: dir + "/l.jsonl", atomically: true, encoding: .utf8)
        return (dir + "/m.jsonl", dir + "/l.jsonl")
    }

    /// `mpirun -np 2` with global batch 32 equals one process averaging the gradients of the same two 16-clip
    /// micro-batches (`--micro-batches 2`) to ≤ 1e-5 after 4 steps (48 clips: a batch of 32, then one of 16 split
    /// 8 + 8, per epoch), and both ranks hold bitwise identical weights after every step.
    func testTwoRanksEqualOneProcessWithTwoMicroBatches() throws {
        guard let emovox = emovoxBinary() else { throw XCTSkip("the emovox binary is not built (swift build -c release)") }
        guard let mpirun = executable(named: "mpirun") else { throw XCTSkip("mpirun not found: install openmpi-bin (scripts/setup.sh)") }
        let d = try tempDir()
        let (manifest, labels) = try makeCorpus(in: d)
        let common = ["distill", "--corpus", manifest, "--labels", labels, "--model", "vggm-small", "--epochs", "2", "--batch-size", "32",
                      "--lr-start", "1e-2", "--lr-end", "3e-3", "--threads", "1"]
        let single = try run(emovox, common + ["--out", d + "/single", "--micro-batches", "2", "--weight-checksums", d + "/single/sum"])
        XCTAssertEqual(single.status, 0, single.output)
        let mpi = try run(mpirun, ["--allow-run-as-root", "--oversubscribe", "-np", "2", emovox]
                                  + common + ["--out", d + "/mpi", "--weight-checksums", d + "/mpi/sum"])
        if mpi.output.contains("built without Open MPI") { throw XCTSkip("this emovox was built without Open MPI (EMOVOX_MPI=0 or libopenmpi-dev missing)") }
        XCTAssertEqual(mpi.status, 0, mpi.output)
        XCTAssertTrue(mpi.output.contains("2 rank(s) × 1 micro-batch(es)"), mpi.output)

        // Bitwise identical weights on both ranks after each of the 4 steps (2 epochs × 2 batches), and identical BN
        // running statistics once averaged at the end of each epoch (each rank saw other micro-batches before).
        let sums = try (0..<2).map { try String(contentsOfFile: d + "/mpi/sum.rank\($0)", encoding: .utf8) }
        let lines = sums[0].split(separator: "\n").map { $0.split(separator: ",") }
        XCTAssertEqual(lines.filter { $0[1] != "bn" }.count, 4, sums[0])
        XCTAssertEqual(lines.filter { $0[1] == "bn" }.count, 2, sums[0])
        XCTAssertEqual(sums[0], sums[1])
        XCTAssertFalse(FileManager.default.fileExists(atPath: d + "/single/sum.rank1"))
        XCTAssertEqual(Set(lines.filter { $0[1] != "bn" }.map { $0[2] }).count, 4, "every step changes the weights")

        // The same trainable weights as one process with two micro-batches.
        let a = try Safetensors.read(d + "/single/student.safetensors").tensors
        let b = try Safetensors.read(d + "/mpi/student.safetensors").tensors
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        var worst: Float = 0, compared = 0
        for (name, t) in a where !name.contains("running_") && !name.contains("num_batches") {
            let u = try XCTUnwrap(b[name])
            XCTAssertEqual(t.shape, u.shape, name)
            for i in 0..<t.count { worst = max(worst, abs(t.data[i] - u.data[i])) }
            compared += 1
        }
        XCTAssertGreaterThan(compared, 10)
        XCTAssertLessThanOrEqual(worst, 1e-5, "largest weight difference between 2 ranks and 2 micro-batches")
        // Only rank 0 wrote the log; its train loss matches the single process's.
        let logA = try String(contentsOfFile: d + "/single/epochs.csv", encoding: .utf8).split(separator: "\n").dropFirst()
        let logB = try String(contentsOfFile: d + "/mpi/epochs.csv", encoding: .utf8).split(separator: "\n").dropFirst()
        XCTAssertEqual(logA.count, 2); XCTAssertEqual(logB.count, 2)
        for (x, y) in zip(logA, logB) {
            let lx = Float(x.split(separator: ",")[2])!, ly = Float(y.split(separator: ",")[2])!
            XCTAssertEqual(lx, ly, accuracy: 1e-5)
            XCTAssertFalse(y.split(separator: ",")[3].isEmpty, "held-out loss on rank 0")
        }
    }
}
