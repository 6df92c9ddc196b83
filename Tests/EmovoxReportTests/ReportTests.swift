import XCTest
#if canImport(FoundationXML)
import FoundationXML
#endif
import EmovoxCore
import EmovoxUtilities
@testable import EmovoxReport

final class ReportTests: XCTestCase {
    final class Counter: NSObject, XMLParserDelegate {
        var elements: [String: Int] = [:]
        func parser(_ p: XMLParser, didStartElement e: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            elements[e, default: 0] += 1
        }
    }

    func parse(_ svg: String) -> Counter? {
        let c = Counter(), p = XMLParser(data: Data(svg.utf8))
        p.delegate = c
        return p.parse() ? c : nil
    }

    func testROCFiguresAreWellFormedWithCurvesLegendsAndNotes() throws {
        let bySplit = ReportFigures.rocBySplit(sampleSplits()).svg
        let c = try XCTUnwrap(parse(bySplit), "SVG is not well-formed XML")
        XCTAssertEqual(bySplit.components(separatedBy: "class=\"series\"").count - 1, 6)  // 2 curves × 3 panels, none for 'fear'
        XCTAssertEqual(bySplit.components(separatedBy: "class=\"legend\"").count - 1, 6)
        XCTAssertTrue(bySplit.contains("happy (AUC 0.75)"))
        XCTAssertTrue(bySplit.contains("sad &lt;&amp;&gt;"))  // labels are escaped
        XCTAssertGreaterThan(c.elements["text", default: 0], 20)
        let grid = ReportFigures.rocGrid(sampleSplits(), minPositives: 5).svg
        XCTAssertNotNil(parse(grid))
        XCTAssertEqual(grid.components(separatedBy: "class=\"series\"").count - 1, 3)  // only happy has ≥ 5 positives
        XCTAssertEqual(grid.components(separatedBy: "too few positives").count - 1, 6)
    }

    func testCoordinatesMapDataCornersToAxesCorners() {
        let p = LinePlot(title: "t", xLabel: "x", yLabel: "y")
        let (x0, y0) = p.point(0, 0), (x1, y1) = p.point(1, 1)
        XCTAssertEqual(x0, LinePlot.margin.left); XCTAssertEqual(y0, p.height - LinePlot.margin.bottom)
        XCTAssertEqual(x1, p.width - LinePlot.margin.right); XCTAssertEqual(y1, LinePlot.margin.top)
        XCTAssertEqual(LinePlot.ticks(0...1).map { ($0 * 10).rounded() / 10 }, [0, 0.2, 0.4, 0.6, 0.8, 1])
        XCTAssertEqual(LinePlot.ticks(0...37).map { Int($0) }, [0, 10, 20, 30])
    }

    /// One self-contained page (figures inline, no external resources); Chromium renders it in ChromiumIntegrationTests.
    func testHTMLReportIsSelfContained() throws {
        let confusion = sampleConfusion()
        XCTAssertEqual(confusion.recall.map(\.recall), [5.0 / 6, 0.5, nil])
        XCTAssertEqual(confusion.recall.map(\.support), [6, 4, 0])
        XCTAssertNotNil(parse(confusion.svg))
        XCTAssertTrue(confusion.svg.contains(">0.83 (6)<") && confusion.svg.contains(">– (0)<"))
        let html = sampleHTMLReport().document
        XCTAssertFalse(html.contains("src=\""), "no external resources")
        XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 4)
        XCTAssertTrue(html.contains("<td>0.75</td>"))
    }
}

func sampleSplits() -> [(split: String, classes: [ROCSeries])] {
    ["train", "heard", "unheard"].map { s in
        (s, [ROCSeries(name: "happy", fpr: [0, 0.2, 1], tpr: [0, 0.7, 1], auc: 0.75, positives: 10, negatives: 30),
             ROCSeries(name: "sad <&>", fpr: [0, 1], tpr: [0, 1], auc: 0.5, positives: 2, negatives: 38),
             ROCSeries(name: "fear", fpr: [], tpr: [], auc: nil, positives: 0, negatives: 40)])
    }
}

func sampleConfusion() -> ConfusionPlot {
    ConfusionPlot(title: "student · unheard", classNames: ["happy", "sad <&>", "fear"], counts: [[5, 1, 0], [2, 2, 0], [0, 0, 0]])
}

/// A report with every figure kind, a table and a caveat.
func sampleHTMLReport() -> HTMLReport {
    var r = HTMLReport(title: "emovox test report")
    r.caveat("pseudo-paired demo corpus: speech and faces are different people")
    r.table(header: ["class", "AUC"], rows: [["happy", "0.75"], ["sad", "0.50"]])
    r.figure(ReportFigures.rocBySplit(sampleSplits()), caption: "ROC per split")
    r.figure(ReportFigures.lossCurve(epochs: [1, 2, 3], train: [1.9, 1.7, 1.6], heldOut: [1.95, 1.8, nil]), caption: "loss")
    r.figure(ReportFigures.timeline(times: [0, 1, 2], probabilities: [[0.2, 0.8], [0.5, 0.5], [0.9, 0.1]], classes: ["happy", "sad"], title: "t"), caption: "timeline")
    let confusion = sampleConfusion()
    r.figure(Figure(panels: [[confusion, confusion]]), caption: "confusion")
    return r
}
