import XCTest
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio
import EmovoxTraining
@testable import EmovoxDistill

/// The training-run skeleton shared by distill and teacher-train: resume file round trip, configuration check, epoch order.
final class TrainingRunTests: XCTestCase {
    struct State: Codable, Equatable { var epochsDone: Int; var config: DistillationConfig }

    func testResumeFileHoldsWeightsOptimiserAndStateAndReportsFollowIt() throws {
        let d = try tempDir()
        let run = try TrainingRun(directory: d + "/run")
        XCTAssertNil(try run.loadResume(State.self), "a new run has nothing to resume")
        let w = ["conv.weight": Tensor(shape: [2, 2], data: [1, 2, 3, 4])], m = ["conv.weight.momentum": Tensor(shape: [2, 2], data: [0, -1, 0.5, 2])]
        let state = State(epochsDone: 3, config: DistillationConfig())
        var reportsWritten = false
        try run.checkpoint(network: w, optimizer: m, state: state, metadata: ["optimizer": "sgd"]) {
            // The reports come after the resume file, which is complete by then.
            XCTAssertEqual(try run.loadResume(State.self)?.state, state)
            try run.writeState(state)
            try run.writeEpochs(header: "epoch,loss", rows: ["1,0.5", "2,0.25"])
            reportsWritten = true
        }
        XCTAssertTrue(reportsWritten)
        let back = try XCTUnwrap(try run.loadResume(State.self))
        XCTAssertEqual(back.network, w); XCTAssertEqual(back.optimizer, m); XCTAssertEqual(back.state, state)
        XCTAssertEqual(back.metadata["optimizer"], "sgd"); XCTAssertEqual(back.metadata["format"], "emovox-resume-v1")
        XCTAssertEqual(try String(contentsOfFile: run.epochsPath, encoding: .utf8), "epoch,loss\n1,0.5\n2,0.25\n")
        XCTAssertEqual(try JSONDecoder().decode(State.self, from: Data(contentsOf: URL(fileURLWithPath: run.statePath))), state)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: d + "/run").filter { $0.hasPrefix(".") }, [], "no temporaries left")

        // Another safetensors file in the resume file's place is refused, naming it.
        try Safetensors.write(w, to: run.resumePath)
        XCTAssertThrowsError(try run.loadResume(State.self)) { XCTAssertTrue("\($0)".contains(run.resumePath + ": no trainer state"), "\($0)") }
    }

    func testConfigurationCheckNamesTheParametersThatDiffer() throws {
        let a = DistillationConfig()
        XCTAssertNoThrow(try TrainingRun.checkSameConfiguration(recorded: a, current: a, source: "r"))
        var b = a
        b.epochs = 3; b.augmentation = AudioAugmentation()
        XCTAssertThrowsError(try TrainingRun.checkSameConfiguration(recorded: a, current: b, source: "r")) {
            XCTAssertTrue("\($0)".contains("another configuration (augmentation, epochs differ)"), "\($0)")
            XCTAssertFalse("\($0)".contains("--"), "a library error names parameters, not flags: \($0)")
        }
    }

    /// The order is a permutation drawn from (seed, epoch) alone: the same on every call, different per epoch and seed.
    func testShuffledOrderIsAPermutationOfSeedAndEpoch() {
        let o = TrainingRun.shuffledOrder(count: 50, seed: 7, epoch: 2)
        XCTAssertEqual(o.sorted(), Array(0..<50))
        XCTAssertEqual(o, TrainingRun.shuffledOrder(count: 50, seed: 7, epoch: 2))
        XCTAssertNotEqual(o, TrainingRun.shuffledOrder(count: 50, seed: 7, epoch: 3))
        XCTAssertNotEqual(o, TrainingRun.shuffledOrder(count: 50, seed: 8, epoch: 2))
        XCTAssertEqual(TrainingRun.shuffledOrder(count: 0, seed: 1, epoch: 0), [])
    }
}
