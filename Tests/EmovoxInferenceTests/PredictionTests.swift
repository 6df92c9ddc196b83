import XCTest
import EmovoxCore
import EmovoxUtilities
import EmovoxAudio
import EmovoxModels
import EmovoxData
import EmovoxSegmentation
import EmovoxInference

/// `Prediction` cuts each input as its mode says and hands the student exactly that audio: the oracle is the
/// runner scoring the same samples cut by hand from the decoded WAV.
final class PredictionTests: XCTestCase {
    var dir = ""
    var runner: StudentRunner!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "emovox-prediction-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var rng = SeededRNG(seed: 11)
        runner = StudentRunner(model: StudentModel(config: .vggmSmall(classes: 3), rng: &rng), classes: ["a", "b", "c"])
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// `seconds` of a gliding tone in noise, written as 16-bit WAV; returns the samples as decoded.
    func writeTone(_ name: String, seconds: Double, level: Float = 0.3) throws -> [Float] {
        var rng = SeededRNG(seed: 2)
        let x = (0..<Int(seconds * 16000)).map { i -> Float in
            let t = Float(i) / 16000
            return level * (sin(2 * .pi * (150 + 40 * t) * t) + 0.05 * rng.normal())
        }
        try AtomicFile.write(WAVReader.encode16(x, sampleRate: 16000), to: dir + "/" + name)
        return try AudioLoader.load(dir + "/" + name)
    }

    func expectedRow(_ audio: [Float], file: String, id: String? = nil, start: Double, end: Double, logits withLogits: Bool = false) -> Prediction.Row {
        let l = runner.score([audio]).logits[0]
        let p = Softmax.probabilities(l).map(Double.init)
        return Prediction.Row(id: id, file: file, start: start, end: end, label: ["a", "b", "c"][p.indices.max { p[$0] < p[$1] }!],
                              probabilities: p, logits: withLogits ? l : nil)
    }

    /// 5.5 s in 2 s windows every 1.5 s: windows at 0, 1.5 and 3 s, and a last partial one at 4.5 s (1 s of new
    /// audio ≥ half a window) scored on its 1 s alone; the timeline has the window centres.
    func testWindowsScoreEachWindowsAudio() throws {
        let pcm = try writeTone("long.wav", seconds: 5.5)
        let file = dir + "/long.wav"
        let prediction = try Prediction(runner: runner, mode: .windows(seconds: 2, hop: 1.5), inputs: [Prediction.Input(file: file)])
        var report = BatchReport("test"), rows: [Prediction.Row] = []
        let timeline = prediction.run(report: &report) { rows.append($0) }
        let cuts = [(0.0, 2.0), (1.5, 3.5), (3.0, 5.0), (4.5, 5.5)]
        XCTAssertEqual(rows, cuts.map { expectedRow(Array(pcm[Int($0.0 * 16000)..<Int($0.1 * 16000)]), file: file, start: $0.0, end: $0.1) })
        XCTAssertEqual(timeline?.times ?? [], [1.0, 2.5, 4.0, 5.0])
        XCTAssertEqual(timeline?.probabilities ?? [], rows.map { $0.probabilities! })
        XCTAssertEqual(report.done, 1); XCTAssertTrue(report.skipped.isEmpty)
    }

    /// A manifest clip is scored on its [start, end) part with times on the media's time line; a missing file is
    /// skipped and listed while the others are scored; the CSV has the id and logit columns.
    func testWholeClipsAndFilesWithLogitsAndABadInput() throws {
        let pcm = try writeTone("a.wav", seconds: 4)
        let file = dir + "/a.wav"
        let clip = Clip(id: "clip,1", speaker: "s", audio: file, start: 1.0, end: 3.0)
        let inputs = [Prediction.Input(clip: clip), Prediction.Input(file: dir + "/missing.wav"), Prediction.Input(file: file)]
        let prediction = try Prediction(runner: runner, mode: .whole, inputs: inputs, includeLogits: true)
        var report = BatchReport("test"), rows: [Prediction.Row] = []
        report.emit = { _ in }
        prediction.run(report: &report) { rows.append($0) }
        XCTAssertEqual(rows, [expectedRow(Array(pcm[16000..<48000]), file: file, id: "clip,1", start: 1, end: 3, logits: true),
                              expectedRow(pcm, file: file, start: 0, end: 4, logits: true)])
        XCTAssertEqual(report.skipped.map(\.item), [dir + "/missing.wav"])
        XCTAssertEqual(prediction.header, "id,file,start_s,end_s,label,p_a,p_b,p_c,logit_a,logit_b,logit_c")
        let row = Prediction.Row(id: "clip,1", file: "x.wav", start: 1, end: 2.345, label: "b", probabilities: [0.1, 0.25, 0.65], logits: [1, -2, 0.5])
        XCTAssertEqual(prediction.csv(row), "\"clip,1\",x.wav,1.00,2.35,b,0.10000,0.25000,0.65000,1.00000,-2.00000,0.50000")
    }

    /// A silent recording gets one `no-speech` row over its length with empty cells; listed segments keep their
    /// speaker column and are scored on their own audio.
    func testSegmentsFromAListAndASilentRecording() throws {
        let pcm = try writeTone("talk.wav", seconds: 3)
        try AtomicFile.write(WAVReader.encode16([Float](repeating: 0, count: 32000), sampleRate: 16000), to: dir + "/silent.wav")
        try "start,end,speaker\n0.5,1.5,A\n2.0,2.8,\n".write(toFile: dir + "/segs.csv", atomically: true, encoding: .utf8)
        let listed = try Prediction(runner: runner, mode: .segments(.list(path: dir + "/segs.csv")), inputs: [Prediction.Input(file: dir + "/talk.wav")])
        var report = BatchReport("test"), rows: [Prediction.Row] = []
        listed.run(report: &report) { rows.append($0) }
        var first = expectedRow(Array(pcm[8000..<24000]), file: dir + "/talk.wav", start: 0.5, end: 1.5)
        first.speaker = "A"
        XCTAssertEqual(rows, [first, expectedRow(Array(pcm[32000..<44800]), file: dir + "/talk.wav", start: 2.0, end: 2.8)])
        XCTAssertEqual(listed.header, "file,start_s,end_s,speaker,label,p_a,p_b,p_c")

        let vad = try Prediction(runner: runner, mode: .segments(.vad(VADConfig())), inputs: [Prediction.Input(file: dir + "/silent.wav")])
        rows = []
        vad.run(report: &report) { rows.append($0) }
        XCTAssertEqual(rows, [Prediction.Row(file: dir + "/silent.wav", start: 0, end: 2, label: "no-speech")])
        XCTAssertEqual(vad.csv(rows[0]), dir + "/silent.wav,0.00,2.00,no-speech,,,")
    }

    /// Impossible requests are errors that name the parameter (not a command-line flag).
    func testParameterErrors() throws {
        let input = Prediction.Input(file: dir + "/a.wav")
        XCTAssertThrowsError(try Prediction(runner: runner, mode: .windows(seconds: 0, hop: 1), inputs: [input])) {
            XCTAssertTrue("\($0)".contains("window") && !"\($0)".contains("--"), "\($0)")
        }
        let clip = Prediction.Input(clip: Clip(id: "c", speaker: "s", audio: dir + "/a.wav", start: 1, end: 2))
        XCTAssertThrowsError(try Prediction(runner: runner, mode: .segments(.vad(VADConfig())), inputs: [clip])) {
            XCTAssertTrue("\($0)".contains("time range") && !"\($0)".contains("--"), "\($0)")
        }
    }
}
