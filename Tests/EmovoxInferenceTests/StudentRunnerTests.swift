import XCTest
import EmovoxCore
import EmovoxAudio
import EmovoxModels
import EmovoxInference

final class StudentRunnerTests: XCTestCase {
    func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "emovox-inference-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }

    /// Student checkpoints carry their spectrogram version; ones without it (trained before the int16 scale)
    /// are run with version 1, so an old student still sees the normalisation it was trained on.
    func testStudentRunnerHonoursTheCheckpointSpectrogramVersion() throws {
        let d = try tempDir()
        var rng = SeededRNG(seed: 3)
        let model = StudentModel(config: try StudentConfig.named("vggm-small", classes: 3), rng: &rng)
        try StudentCheckpoint.save(model, classes: ["a", "b", "c"], to: d + "/old.safetensors")
        try StudentCheckpoint.save(model, classes: ["a", "b", "c"], extra: ["spectrogram": "2"], to: d + "/new.safetensors")
        try StudentCheckpoint.save(model, classes: ["a", "b", "c"], extra: ["spectrogram": "7"], to: d + "/future.safetensors")
        XCTAssertEqual(try StudentRunner(checkpoint: d + "/old.safetensors").spectrogram.config.inputScale, 1)
        XCTAssertEqual(try StudentRunner(checkpoint: d + "/new.safetensors").spectrogram.config, SpectrogramConfig(bins: 257))
        XCTAssertThrowsError(try StudentRunner(checkpoint: d + "/future.safetensors")) { XCTAssertTrue("\($0)".contains("future.safetensors")) }
    }
}
