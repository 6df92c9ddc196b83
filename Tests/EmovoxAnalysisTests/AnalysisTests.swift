import XCTest
#if canImport(FoundationXML)
import FoundationXML
#endif
import EmovoxCore
import EmovoxData
import EmovoxAudio
import EmovoxModels
import EmovoxLabelling
import EmovoxEval
import EmovoxInference
import EmovoxAnalysis

final class AnalysisTests: XCTestCase {
    func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "emovox-analysis-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }

    /// The report's per-emotion view: confusion matrices of the student and the teacher against the acted labels
    /// per split, per-class recall, the unheard-speaker probe; CSVs agree with the figures' inputs and the SVGs parse.
    func testReportHasConfusionMatricesRecallAndProbe() throws {
        let d = try tempDir(), classes = ["angry", "happy", "neutral"]
        var rng = SeededRNG(seed: 4)
        var clips: [Clip] = [], labels: [ClipTeacherLabels] = []
        for spk in 0..<4 { for k in 0..<9 {
            let id = "s\(spk)-\(k)", acted = ["angry", "happy", "calm"][k % 3], path = "\(d)/\(id).wav"
            try WAVReader.encode16((0..<12_000).map { _ in rng.normal() * 0.05 * Float(1 + k % 3) }, sampleRate: 16000).write(to: URL(fileURLWithPath: path))
            let split = spk >= 2 ? "unheard" : (k < 2 ? "heard" : "train")
            clips.append(Clip(id: id, speaker: "spk\(spk)", audio: path, label: acted, split: split))
            let dominant = (k % 3 + (k == 4 ? 1 : 0)) % 3  // the teacher is right on all but one clip in nine
            var logit: [Float] = [0, 0, 0]; logit[dominant] = 3
            labels.append(ClipTeacherLabels(clip: id, source: "f.jpg", teacher: "t", classes: classes, times: [0], logits: [logit], framesSampled: 1, framesWithoutFace: 0))
        } }
        let model = StudentModel(config: try StudentConfig.named("vggm-small", classes: 3), rng: &rng)
        let result = try Analysis.run(manifest: Manifest(clips: clips), labels: labels, student: StudentRunner(model: model, classes: classes))
        _ = try Analysis.write(result, to: d + "/report", runDir: nil, caveat: nil)

        let rows = CSV.parse(try String(contentsOfFile: d + "/report/confusion.csv", encoding: .utf8)).dropFirst().filter { $0.count == 5 }
        func count(_ source: String, _ split: String) -> [[Int]] {
            classes.map { t in classes.map { p in rows.first { $0[0] == source && $0[1] == split && $0[2] == t && $0[3] == p }.flatMap { Int($0[4]) } ?? -1 } }
        }
        // The teacher's matrix on unheard: 18 clips, acted calm → neutral, one clip in nine moved one class on.
        let teacher = count("teacher", "unheard")
        XCTAssertEqual(teacher.flatMap { $0 }.reduce(0, +), 18)
        XCTAssertEqual(teacher, [[6, 0, 0], [0, 4, 2], [0, 0, 6]])
        XCTAssertEqual(count("student", "train").flatMap { $0 }.reduce(0, +), 14)
        XCTAssertEqual(count("student", "heard").flatMap { $0 }.reduce(0, +), 4)
        let recall = CSV.parse(try String(contentsOfFile: d + "/report/per_class_recall.csv", encoding: .utf8))
        let happy = try XCTUnwrap(recall.first { $0.count == 5 && $0[0] == "teacher" && $0[1] == "unheard" && $0[2] == "happy" })
        XCTAssertEqual(Double(happy[3])!, 4.0 / 6, accuracy: 1e-4)
        XCTAssertEqual(happy[4], "6")

        // The probe: leave-one-speaker-out over the 2 unheard speakers, on the acted classes as named in the corpus.
        let probe = try XCTUnwrap(result.unheardProbe)
        XCTAssertEqual(probe.student.classNames, ["angry", "calm", "happy"])
        XCTAssertEqual(probe.student.items, 18)
        XCTAssertEqual(probe.student.pooled.confusion.flatMap { $0 }.reduce(0, +), 18)
        XCTAssertTrue(rows.contains { $0[0].hasPrefix("probe") && $0[1] == "unheard" })

        for svg in ["confusion_acted.svg", "confusion_probe.svg"] {
            let text = try String(contentsOfFile: d + "/report/" + svg, encoding: .utf8)
            XCTAssertTrue(XMLParser(data: Data(text.utf8)).parse(), "\(svg) is not well-formed")
            XCTAssertEqual(text.components(separatedBy: "class=\"cell\"").count - 1, 9 * (svg == "confusion_acted.svg" ? 6 : 1))  // 3 splits × 2 sources
        }
        let html = try String(contentsOfFile: d + "/report/index.html", encoding: .utf8)
        XCTAssertTrue(html.contains("Per emotion, against the acted labels"))
        XCTAssertTrue(html.contains("teacher · unheard · UA 0.89"))
        XCTAssertTrue(html.contains("Frozen-student probe on the unheard speakers"))
    }
}
