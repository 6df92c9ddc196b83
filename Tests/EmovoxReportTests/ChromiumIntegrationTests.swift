import XCTest
import EmovoxUtilities
@testable import EmovoxReport

/// Integration tier: a real browser (headless Chromium) renders the report page.
final class ChromiumIntegrationTests: XCTestCase {
    func testHTMLReportRendersInChromium() throws {
        let dir = NSTemporaryDirectory() + "emovox-report-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try sampleHTMLReport().write(to: dir + "/index.html")
        guard let browser = ["chromium", "chromium-browser", "google-chrome"].lazy.compactMap(Subprocess.which).first else {
            throw XCTSkip("chromium is not installed: the HTML was written but not rendered (apt-get install chromium)")
        }
        _ = try Subprocess.run(browser, ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1200,1600",
                                          "--screenshot=\(dir)/page.png", "file://\(dir)/index.html"])
        let png = try Data(contentsOf: URL(fileURLWithPath: dir + "/page.png"))
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let width = png[16..<20].reduce(0) { $0 << 8 | Int($1) }, height = png[20..<24].reduce(0) { $0 << 8 | Int($1) }
        XCTAssertEqual(width, 1200); XCTAssertEqual(height, 1600)
        XCTAssertGreaterThan(png.count, 40_000, "a page with figures compresses to more than a blank one")
    }
}
