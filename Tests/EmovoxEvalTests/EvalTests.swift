import XCTest
import EmovoxCore
@testable import EmovoxEval

final class EvalTests: XCTestCase {
    static let oracle: [String: Any] = {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("sklearn_oracle.json")
        return try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }()

    func testROCCurveAndAUCMatchScikitLearnIncludingTies() {
        for c in Self.oracle["roc"] as! [[String: Any]] {
            let name = c["name"] as! String
            let scores = c["scores"] as! [Double], labels = (c["labels"] as! [Int]).map { $0 == 1 }
            let curve = ROC.curve(scores: scores, positives: labels)!
            let fpr = c["fpr"] as! [Double], tpr = c["tpr"] as! [Double]
            XCTAssertEqual(curve.fpr.count, fpr.count, name)
            for (a, b) in zip(curve.fpr, fpr) { XCTAssertEqual(a, b, accuracy: 1e-12, name) }
            for (a, b) in zip(curve.tpr, tpr) { XCTAssertEqual(a, b, accuracy: 1e-12, name) }
            XCTAssertEqual(curve.thresholds.map { $0.isInfinite ? -1 : $0 }, (c["thresholds"] as! [Any]).map { ($0 as? Double) ?? -1 }, name)
            XCTAssertEqual(ROC.auc(scores: scores, positives: labels)!, c["auc"] as! Double, accuracy: 1e-12, name)
        }
        XCTAssertNil(ROC.auc(scores: [0.1, 0.2], positives: [true, true]))
    }

    func testClassificationMetricsMatchScikitLearn() {
        let m = Self.oracle["metrics"] as! [String: Any]
        let r = ClassificationReport(truth: m["truth"] as! [Int], predicted: m["pred"] as! [Int], classNames: ["a", "b", "c", "d", "e"])
        XCTAssertEqual(r.ua, m["ua"] as! Double, accuracy: 1e-12)
        XCTAssertEqual(r.wa, m["wa"] as! Double, accuracy: 1e-12)
        XCTAssertEqual(r.macroF1, m["macro_f1"] as! Double, accuracy: 1e-12)
        XCTAssertEqual(r.confusion, m["confusion"] as! [[Int]])
    }

    func testLogisticRegressionMatchesScikitLearn() {
        let lr = Self.oracle["logreg"] as! [String: Any]
        let x = lr["x"] as! [[Double]], y = lr["y"] as! [Int]
        for fit in lr["fits"] as! [[String: Any]] {
            var m = LogisticRegression(c: fit["C"] as! Double, classes: 4, dimension: 6)
            m.fit(x: x, y: y, maxIterations: 2000, tolerance: 1e-10)
            let coef = (fit["coef"] as! [[Double]]).flatMap { $0 }
            for (a, b) in zip(m.coef, coef) { XCTAssertEqual(a, b, accuracy: 1e-4) }
            for (a, b) in zip(m.intercept, fit["intercept"] as! [Double]) { XCTAssertEqual(a, b, accuracy: 1e-4) }
            for (p, q) in zip(m.probabilities(Array(x.prefix(10))), fit["proba"] as! [[Double]]) {
                for (a, b) in zip(p, q) { XCTAssertEqual(a, b, accuracy: 1e-5) }
            }
        }
    }

    func testObjectiveGradientByFiniteDifferences() {
        var rng = SeededRNG(seed: 3)
        let x = (0..<20).map { _ in (0..<3).map { _ in Double(rng.normal()) } }, y = (0..<20).map { $0 % 3 }
        let m = LogisticRegression(c: 0.7, classes: 3, dimension: 3)
        let w = (0..<12).map { _ in Double(rng.normal()) * 0.3 }
        let (_, g) = m.objective(w, x: x, y: y)
        for i in w.indices {
            var a = w, b = w; a[i] += 1e-6; b[i] -= 1e-6
            XCTAssertEqual((m.objective(a, x: x, y: y).0 - m.objective(b, x: x, y: y).0) / 2e-6, g[i], accuracy: 1e-5)
        }
    }

    func testSpeakerFoldsNeverShareASpeakerAndProbeBeatsRandomFeatures() throws {
        var rng = SeededRNG(seed: 4)
        var feats: [[Double]] = [], labels: [Int] = [], speakers: [String] = []
        for s in 0..<8 { for i in 0..<30 {
            let c = i % 3
            feats.append((0..<4).map { d in Double(rng.normal()) * 0.5 + (d == c ? 2 : 0) })
            labels.append(c); speakers.append("spk\(s)")
        } }
        for spec in [FoldSpec.speaker(k: 4), .speaker(k: nil)] {
            let fold = spec.assign(speakers: speakers, seed: 1)
            for s in Set(speakers) { XCTAssertEqual(Set(speakers.indices.filter { speakers[$0] == s }.map { fold[$0] }).count, 1) }
            XCTAssertEqual(Set(fold).count, spec == .speaker(k: 4) ? 4 : 8)
        }
        XCTAssertEqual(try FoldSpec("random:10"), .random(k: 10)); XCTAssertThrowsError(try FoldSpec("bogus"))
        let names = ["a", "b", "c"]
        let good = try Probe.run(features: feats, labels: labels, speakers: speakers, classNames: names, folds: .speaker(k: 4), seed: 0)
        let chance = try Probe.run(features: Probe.randomFeatures(count: feats.count, dimension: 4, seed: 9), labels: labels,
                                   speakers: speakers, classNames: names, folds: .speaker(k: 4), seed: 0)
        XCTAssertGreaterThan(good.ua.mean, 0.9)
        XCTAssertLessThan(chance.ua.mean, 0.5)
        XCTAssertEqual(good.pooled.confusion.flatMap { $0 }.reduce(0, +), feats.count)
    }
}
